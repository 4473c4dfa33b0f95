//! Helpers shared by the `sim_*` integration tests.
#![allow(dead_code)]

use std::str::FromStr;

use rust_decimal::Decimal;

use ballast_core::model::Side;
use ballast_exec::TimeInForce;
use ballast_sim::{
    AccountCfg, MarketCfg, NetworkCfg, NewOrder, SimExchange, SimExchangeCfg, presets,
};

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub fn account(name: &str, balances: &[(&str, &str)]) -> AccountCfg {
    AccountCfg {
        name: name.to_string(),
        balances: balances
            .iter()
            .map(|(a, v)| (a.to_string(), d(v)))
            .collect(),
    }
}

/// The Binance `USDCUSDT` preset without background liquidity: the book holds only the accounts' orders.
pub fn quiet_binance() -> MarketCfg {
    MarketCfg {
        liquidity: None,
        ..presets::binance_usdcusdt()
    }
}

/// The Hyperliquid `USDT0/USDC` preset without background liquidity.
pub fn quiet_hyperliquid() -> MarketCfg {
    MarketCfg {
        liquidity: None,
        ..presets::hyperliquid_usdt0_usdc()
    }
}

/// Accounts `a` and `b` with 1,000,000 of each asset of both presets.
pub fn accounts() -> Vec<AccountCfg> {
    let all = [
        ("USDC", "1000000"),
        ("USDT", "1000000"),
        ("USDT0", "1000000"),
    ];
    vec![account("a", &all), account("b", &all)]
}

pub fn networks() -> Vec<NetworkCfg> {
    vec![NetworkCfg {
        asset: "USDC".into(),
        network: "ARBITRUM".into(),
        withdraw_fee: d("1"),
        withdraw_min: d("5"),
        withdraw_delay_ms: 300_000,
        deposit_delay_ms: 60_000,
    }]
}

pub fn exchange(markets: Vec<MarketCfg>, seed: u64) -> SimExchange {
    SimExchange::new(
        &SimExchangeCfg {
            seed,
            markets,
            accounts: accounts(),
            networks: networks(),
        },
        0,
    )
    .unwrap()
}

pub fn order(
    market: &str,
    side: Side,
    price: &str,
    qty: &str,
    tif: TimeInForce,
    client_id: Option<&str>,
) -> NewOrder {
    NewOrder {
        market: market.into(),
        side,
        price: d(price),
        qty: d(qty),
        tif,
        client_id: client_id.map(str::to_string),
    }
}

/// An order on Binance `USDCUSDT` with a client id.
pub fn bn(side: Side, price: &str, qty: &str, tif: TimeInForce, client_id: &str) -> NewOrder {
    order("USDCUSDT", side, price, qty, tif, Some(client_id))
}

/// A GTC order on Binance `USDCUSDT`.
pub fn gtc(side: Side, price: &str, qty: &str) -> NewOrder {
    order("USDCUSDT", side, price, qty, TimeInForce::Gtc, None)
}

/// Asserts every conservation and hold invariant of the exchange.
pub fn check_invariants(ex: &SimExchange) {
    for (asset, a) in ex.audit() {
        assert!(a.balanced(), "{asset} is not conserved: {a:?}");
    }
    for name in ex.accounts() {
        let holds = ex.holds_recomputed(name).unwrap();
        for b in ex.balances(name).unwrap() {
            assert!(
                b.held >= Decimal::ZERO,
                "{name} {}: negative hold {b:?}",
                b.asset
            );
            assert!(
                b.held <= b.total,
                "{name} {}: hold above total {b:?}",
                b.asset
            );
            assert_eq!(
                holds.get(&b.asset).copied().unwrap_or_default(),
                b.held,
                "{name} {}: held differs from its orders and withdrawals",
                b.asset
            );
        }
    }
    for rules in ex.markets() {
        let book = ex.book(&rules.market).unwrap();
        if let (Some(b), Some(a)) = (book.best_bid(), book.best_ask()) {
            assert!(b < a, "{} is crossed: {b} >= {a}", rules.market);
        }
    }
}
