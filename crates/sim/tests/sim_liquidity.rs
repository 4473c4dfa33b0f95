//! The liquidity model: determinism under a seed, realistic fill rates by distance from the mid, the walk's
//! volatility, the taker flow, and a mid driven by a recorded path.

mod sim_support;

use rust_decimal::Decimal;

use ballast_core::model::Side::{self, Buy, Sell};
use ballast_exec::TimeInForce;
use ballast_sim::config::mid_path;
use ballast_sim::{MarketCfg, MidSource, OrderRef, PathPoint, SimExchange, SimFill, presets};
use sim_support::{check_invariants, exchange, order};

const MIN: i64 = 60_000;

/// Our orders at the touch and further out, then 30 minutes of market; returns our fills and the final book.
fn session(seed: u64, steps: &[i64]) -> (Vec<SimFill>, String) {
    let mut ex = exchange(vec![presets::binance_usdcusdt()], seed);
    let dp = ex.depth("USDCUSDT", 1).unwrap();
    let (bid, ask) = (dp.bids[0].price, dp.asks[0].price);
    for (i, p) in [(Buy, bid), (Sell, ask)].into_iter().enumerate() {
        let o = order(
            "USDCUSDT",
            p.0,
            &p.1.to_string(),
            "20000",
            TimeInForce::PostOnly,
            None,
        );
        ex.place(["a", "b"][i], o, 1).unwrap();
    }
    for t in steps {
        ex.advance_to(*t);
    }
    check_invariants(&ex);
    let mut fills = ex.fills_since("a", 0).unwrap();
    fills.extend(ex.fills_since("b", 0).unwrap());
    (fills, format!("{:?}", ex.depth("USDCUSDT", 5).unwrap()))
}

#[test]
fn the_same_seed_gives_the_same_market_and_fills_however_time_is_stepped() {
    let end = 30 * MIN;
    let one_go = session(7, &[end]);
    let stepped: Vec<i64> = (1..=1000).map(|i| i * end / 1000).collect();
    let in_steps = session(7, &stepped);
    assert!(
        !one_go.0.is_empty(),
        "the touch orders should trade within 30 minutes"
    );
    assert_eq!(one_go, in_steps);
    let other = session(8, &[end]);
    assert_ne!(one_go, other);
}

/// Fraction of trials in which a resting order `ticks` grid steps behind the touch (0: at the touch) fills
/// completely within `window` ms, and the same for partially.
fn fill_rate(
    market: MarketCfg,
    side: Side,
    ticks: i64,
    qty: &str,
    window: i64,
    trials: u64,
) -> (f64, f64) {
    let name = market.rules.market.clone();
    let (mut full, mut any) = (0, 0);
    for seed in 0..trials {
        let mut ex = exchange(vec![market.clone()], 1000 + seed);
        ex.advance_to(10 * MIN); // let the book settle
        let book = ex.book(&name).unwrap();
        let u = book.units();
        let touch = match side {
            Buy => book.best_bid_units().unwrap(),
            Sell => book.best_ask_units().unwrap(),
        };
        let dir = if side == Buy { -ticks } else { ticks };
        let price = u.price(u.step(touch, dir)).to_string();
        let o = order(&name, side, &price, qty, TimeInForce::PostOnly, Some("x"));
        ex.place("a", o, 10 * MIN).unwrap();
        ex.advance_to(10 * MIN + window);
        let info = ex
            .order("a", &OrderRef::Client("x".into()))
            .unwrap()
            .unwrap();
        full += u64::from(info.filled == info.qty);
        any += u64::from(info.filled > Decimal::ZERO);
        check_invariants(&ex);
    }
    (full as f64 / trials as f64, any as f64 / trials as f64)
}

#[test]
fn a_maker_order_at_the_touch_fills_within_minutes_and_one_far_away_does_not() {
    let trials = 30;
    for (market, qty, far_ticks) in [
        (presets::binance_usdcusdt(), "5000", 15),
        (presets::hyperliquid_usdt0_usdc(), "2000", 150),
    ] {
        let name = market.rules.market.clone();
        for side in [Buy, Sell] {
            let touch = fill_rate(market.clone(), side, 0, qty, 5 * MIN, trials);
            let behind = fill_rate(market.clone(), side, 3, qty, 5 * MIN, trials);
            let far = fill_rate(market.clone(), side, far_ticks, qty, 5 * MIN, trials);
            eprintln!(
                "{name} {side}: touch {touch:?}, 3 ticks behind {behind:?}, {far_ticks} ticks behind {far:?}"
            );
            assert!(
                touch.0 >= 0.7,
                "{name} {side}: touch filled in {:.0}% of trials",
                touch.0 * 100.0
            );
            assert!(
                far.1 <= 0.1,
                "{name} {side}: far order traded in {:.0}% of trials",
                far.1 * 100.0
            );
            assert!(behind.0 < touch.0 || touch.0 == 1.0 && behind.0 <= touch.0);
        }
    }
}

#[test]
fn the_walk_has_the_configured_volatility() {
    let mut m = presets::binance_usdcusdt();
    let l = m.liquidity.as_mut().unwrap();
    l.reversion_half_life_ms = None;
    l.jump_rate_per_hour = 0.0;
    l.volatility_bps = 0.5;
    l.taker_rate_per_s = 0.0;
    let mut ex = exchange(vec![m], 3);
    let mut prev = ex.liquidity("USDCUSDT").unwrap().fair_mid();
    let mut sum_sq = 0.0;
    let n = 6 * 60 * 24; // one day of 10-second returns
    for i in 1..=n {
        ex.advance_to(i * 10_000);
        let mid = ex.liquidity("USDCUSDT").unwrap().fair_mid();
        sum_sq += (mid / prev).ln().powi(2);
        prev = mid;
    }
    let realised_bps = (sum_sq / n as f64).sqrt() * 1e4 / 10f64.sqrt();
    assert!(
        (realised_bps - 0.5).abs() < 0.05,
        "realised {realised_bps} bps per sqrt(s)"
    );
    check_invariants(&ex);
}

#[test]
fn takers_arrive_at_the_configured_rate_and_trade_on_the_book() {
    let mut ex = exchange(vec![presets::hyperliquid_usdt0_usdc()], 11);
    ex.advance_to(3_600_000);
    let s = ex.liquidity("USDT0/USDC").unwrap().stats();
    let want = 0.25 * 3600.0;
    assert!(
        (s.takers as f64 - want).abs() < 4.0 * want.sqrt(),
        "{} takers in an hour, expected about {want}",
        s.takers
    );
    assert!(s.taker_lots > 0 && s.maker_orders > 24);
    assert_eq!(s.steps, 3601);
    assert!(ex.last_price("USDT0/USDC").unwrap().is_some());
    let book = ex.book("USDT0/USDC").unwrap();
    assert!(book.best_bid().unwrap() < book.best_ask().unwrap());
    assert_eq!(book.levels(Buy, 100).len(), 12);
}

#[test]
fn a_recorded_path_drives_the_touch() {
    let path = vec![
        PathPoint {
            ts: 0,
            bid: 0.9998,
            ask: 0.9999,
        },
        PathPoint {
            ts: 60_000,
            bid: 1.0001,
            ask: 1.0003,
        },
        PathPoint {
            ts: 120_000,
            bid: 0.99985,
            ask: 0.99985,
        },
    ];
    let mut m = presets::binance_usdcusdt();
    let l = m.liquidity.as_mut().unwrap();
    l.mid = mid_path(path);
    l.taker_rate_per_s = 0.0;
    let mut ex = exchange(vec![m], 5);
    let touch = |ex: &SimExchange| {
        let b = ex.book("USDCUSDT").unwrap();
        (
            b.best_bid().unwrap().to_string(),
            b.best_ask().unwrap().to_string(),
        )
    };
    assert_eq!(touch(&ex), ("0.9998".into(), "0.9999".into()));
    ex.advance_to(59_999);
    assert_eq!(touch(&ex), ("0.9998".into(), "0.9999".into()));
    ex.advance_to(60_000);
    assert_eq!(touch(&ex), ("1.0001".into(), "1.0003".into()));
    // A mid-only point: the makers quote around it with the configured half spread (0: one tick).
    ex.advance_to(120_000);
    assert_eq!(touch(&ex), ("0.9998".into(), "0.9999".into()));
    assert_eq!(
        ex.fair_mid("USDCUSDT").unwrap().map(|m| m.to_string()),
        Some("0.99985".into())
    );
    // After the last point the path holds.
    ex.advance_to(600_000);
    assert_eq!(touch(&ex), ("0.9998".into(), "0.9999".into()));
    assert!(matches!(
        ex.liquidity("USDCUSDT").unwrap().cfg().mid,
        MidSource::Path(_)
    ));
}

#[test]
fn a_market_that_moves_through_a_resting_order_fills_it_as_maker() {
    // The path jumps up through our ask: the makers' new bids trade with it.
    let path = vec![
        PathPoint {
            ts: 0,
            bid: 0.9999,
            ask: 1.0000,
        },
        PathPoint {
            ts: 10_000,
            bid: 1.0003,
            ask: 1.0004,
        },
    ];
    let mut m = presets::binance_usdcusdt();
    let l = m.liquidity.as_mut().unwrap();
    l.mid = mid_path(path);
    l.taker_rate_per_s = 0.0;
    let mut ex = exchange(vec![m], 5);
    let o = order(
        "USDCUSDT",
        Sell,
        "1.0002",
        "1000",
        TimeInForce::PostOnly,
        Some("s"),
    );
    ex.place("a", o, 1).unwrap();
    ex.advance_to(10_000);
    let fills = ex.fills_since("a", 0).unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].price.to_string(), "1.0002");
    assert_eq!(fills[0].liquidity, ballast_exec::Liquidity::Maker);
    assert_eq!(fills[0].ts, 10_000);
    check_invariants(&ex);
}
