//! `SimVenue` through the `Venue` trait, in tokio's virtual time: latency, order lifecycle, error mapping,
//! the replace contract, fills from the liquidity model, and transfers.

mod sim_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::time::{Instant, sleep};

use ballast_core::model::Side::{self, Buy, Sell};
use ballast_exec::clock::TokioClock;
use ballast_exec::{
    ClientOrderId, Liquidity, OrderRequest, OrderState, RejectKind, TimeInForce, TransferKind,
    TransferState, Venue, VenueError, WithdrawRequest,
};
use ballast_sim::{Latency, SimExchange, SimVenue, presets};
use sim_support::{d, exchange, gtc, quiet_binance};

fn venue(ex: SimExchange, account: &str, latency: Latency) -> (SimVenue, Arc<Mutex<SimExchange>>) {
    let shared = Arc::new(Mutex::new(ex));
    let v = SimVenue::new(
        "sim",
        account,
        shared.clone(),
        Arc::new(TokioClock::new(0)),
        latency,
        1,
    );
    (v, shared)
}

fn req(side: Side, price: &str, qty: &str, tif: TimeInForce, n: u32) -> OrderRequest {
    OrderRequest {
        market: "USDCUSDT".into(),
        side,
        price: d(price),
        qty: d(qty),
        tif,
        client_id: ClientOrderId::derive("test", n),
    }
}

fn kind(e: &VenueError) -> Option<RejectKind> {
    match e {
        VenueError::Rejected { kind, .. } => Some(*kind),
        _ => None,
    }
}

const SLOW: Latency = Latency {
    request_ms: 100,
    response_ms: 50,
    jitter_ms: 0,
    fills_delay_ms: 0,
};

#[tokio::test(start_paused = true)]
async fn an_order_lives_and_dies_through_the_interface_with_latency() {
    let (v, _) = venue(exchange(vec![quiet_binance()], 1), "a", SLOW);
    let t0 = Instant::now();
    let o = req(Buy, "0.9998", "1000", TimeInForce::PostOnly, 0);
    let st = v.place(&o).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(150));
    assert_eq!(st.client_id, o.client_id);
    assert_eq!(st.state, OrderState::Open);
    assert_eq!(st.updated_ms, 100, "applied after the request latency");
    assert_eq!((st.qty, st.filled, st.avg_price), (d("1000"), d("0"), None));
    let balances = v.balances().await.unwrap();
    let usdt = balances.iter().find(|b| b.asset == "USDT").unwrap();
    assert_eq!((usdt.held, usdt.available()), (d("999.8"), d("999000.2")));
    let open = v.open_orders(Some("USDCUSDT")).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].venue_order_id, st.venue_order_id);
    let seen = v
        .order_status("USDCUSDT", &o.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, st);
    assert_eq!(
        v.order_status("USDT0/USDC", &o.client_id).await.unwrap(),
        None
    );
    let gone = v.cancel("USDCUSDT", &o.client_id).await.unwrap();
    assert_eq!(gone.state, OrderState::Canceled);
    assert_eq!(gone.updated_ms, 100 + 150 * 5, "five calls later");
    let again = v.cancel("USDCUSDT", &o.client_id).await.unwrap_err();
    assert_eq!(kind(&again), Some(RejectKind::UnknownOrder), "{again:?}");
    assert!(v.open_orders(None).await.unwrap().is_empty());
    let closed = v
        .order_status("USDCUSDT", &o.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.state, OrderState::Canceled);
    assert_eq!(
        v.order_status("USDCUSDT", &ClientOrderId::derive("never", 0))
            .await
            .unwrap(),
        None
    );
    let depth = v.depth("USDCUSDT", 5).await.unwrap();
    assert!(depth.bids.is_empty() && depth.asks.is_empty());
    assert_eq!(v.markets().await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn refusals_map_to_the_interface_errors() {
    let (v, ex) = venue(exchange(vec![quiet_binance()], 1), "a", Latency::ZERO);
    ex.lock()
        .unwrap()
        .place("b", gtc(Sell, "1.0001", "100"), 0)
        .unwrap();
    let post = v
        .place(&req(Buy, "1.0001", "10", TimeInForce::PostOnly, 1))
        .await
        .unwrap_err();
    assert!(post.did_not_happen());
    assert!(post.to_string().contains("1.0001"), "{post}");
    assert_eq!(kind(&post), Some(RejectKind::PostOnlyWouldCross));
    let ioc = v
        .place(&req(Buy, "1.0000", "10", TimeInForce::Ioc, 2))
        .await
        .unwrap_err();
    assert_eq!(kind(&ioc), Some(RejectKind::IocNoMatch));
    let grid = v
        .place(&req(Buy, "1.00001", "10", TimeInForce::Gtc, 3))
        .await
        .unwrap_err();
    assert_eq!(kind(&grid), Some(RejectKind::Rules));
    let money = v
        .place(&req(Buy, "1.0000", "2000000", TimeInForce::Gtc, 4))
        .await
        .unwrap_err();
    assert!(
        matches!(money, VenueError::InsufficientBalance { .. }),
        "{money:?}"
    );
    v.place(&req(Buy, "0.9990", "10", TimeInForce::Gtc, 5))
        .await
        .unwrap();
    let dup = v
        .place(&req(Buy, "0.9991", "10", TimeInForce::Gtc, 5))
        .await
        .unwrap_err();
    assert_eq!(kind(&dup), Some(RejectKind::DuplicateClientId));
    let mut other = req(Buy, "1", "10", TimeInForce::Gtc, 6);
    other.market = "ETHBTC".into();
    assert_eq!(
        kind(&v.place(&other).await.unwrap_err()),
        Some(RejectKind::Other)
    );
    // A partly filled IOC: the rest is cancelled, the status says so.
    let part = v
        .place(&req(Buy, "1.0001", "150", TimeInForce::Ioc, 7))
        .await
        .unwrap();
    assert_eq!(
        (part.state, part.filled, part.avg_price),
        (OrderState::Canceled, d("100"), Some(d("1.0001")))
    );
    let fills = v.fills_since(0).await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].client_id, Some(ClientOrderId::derive("test", 7)));
    assert_eq!(
        (
            fills[0].liquidity,
            fills[0].fee,
            fills[0].fee_asset.as_str()
        ),
        (Liquidity::Taker, d("0.01"), "USDC")
    );
}

#[tokio::test(start_paused = true)]
async fn replace_follows_the_interface_contract() {
    let (v, ex) = venue(exchange(vec![quiet_binance()], 1), "a", Latency::ZERO);
    let first = req(Sell, "1.0003", "1000", TimeInForce::PostOnly, 0);
    v.place(&first).await.unwrap();
    // 250 fill that the caller has not seen yet.
    ex.lock()
        .unwrap()
        .place("b", gtc(Buy, "1.0003", "250"), 0)
        .unwrap();
    let second = req(Sell, "1.0002", "1000", TimeInForce::PostOnly, 1);
    let st = v
        .replace(&first.client_id, Decimal::ZERO, &second)
        .await
        .unwrap();
    assert_eq!(st.client_id, second.client_id);
    assert_eq!((st.qty, st.state.clone()), (d("750"), OrderState::Open));
    let old = v
        .order_status("USDCUSDT", &first.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((old.state, old.filled), (OrderState::Canceled, d("250")));
    // The old order is closed now: replacing it again places nothing.
    let third = req(Sell, "1.0001", "750", TimeInForce::PostOnly, 2);
    let e = v
        .replace(&first.client_id, d("250"), &third)
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(RejectKind::UnknownOrder), "{e:?}");
    assert_eq!(
        v.order_status("USDCUSDT", &third.client_id).await.unwrap(),
        None
    );
    // The second order fills all but 2 before the caller's replace arrives: 2 are below the minimum
    // notional, so nothing is placed and the second order is cancelled.
    ex.lock()
        .unwrap()
        .place("b", gtc(Buy, "1.0002", "748"), 0)
        .unwrap();
    let e = v
        .replace(&second.client_id, Decimal::ZERO, &third)
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(RejectKind::UnknownOrder), "{e:?}");
    assert!(e.to_string().contains("nothing was left to place"), "{e}");
    let second_now = v
        .order_status("USDCUSDT", &second.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (second_now.state, second_now.filled),
        (OrderState::Canceled, d("748"))
    );
    assert_eq!(
        v.order_status("USDCUSDT", &third.client_id).await.unwrap(),
        None
    );
    let total: Decimal = v.fills_since(0).await.unwrap().iter().map(|f| f.qty).sum();
    assert_eq!(total, d("998"), "never more than intended");
}

#[tokio::test(start_paused = true)]
async fn resting_orders_fill_from_the_background_flow_as_time_passes() {
    let lat = Latency {
        fills_delay_ms: 2_000,
        ..Latency::binance()
    };
    let (v, _) = venue(exchange(vec![presets::binance_usdcusdt()], 42), "a", lat);
    let depth = v.depth("USDCUSDT", 1).await.unwrap();
    let ask = depth.best_ask().unwrap();
    let o = OrderRequest {
        price: ask,
        ..req(Sell, "1", "3000", TimeInForce::PostOnly, 0)
    };
    v.place(&o).await.unwrap();
    let t0 = Instant::now();
    let mut fills = Vec::new();
    while fills.is_empty() && t0.elapsed() < Duration::from_secs(1800) {
        sleep(Duration::from_secs(5)).await;
        fills = v.fills_since(0).await.unwrap();
    }
    assert!(
        !fills.is_empty(),
        "an order at the touch fills within 30 minutes"
    );
    let f = &fills[0];
    assert_eq!((f.liquidity, f.price), (Liquidity::Maker, ask));
    assert_eq!(f.fee, Decimal::ZERO, "Binance preset: no maker fee");
    let st = v
        .order_status("USDCUSDT", &o.client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(st.filled > Decimal::ZERO);
    let usdt = v
        .balances()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.asset == "USDT")
        .unwrap();
    assert!(usdt.total > d("1000000"));
}

#[tokio::test(start_paused = true)]
async fn the_fill_feed_lags_by_the_configured_delay() {
    let lat = Latency {
        fills_delay_ms: 3_000,
        ..Latency::ZERO
    };
    let (v, ex) = venue(exchange(vec![quiet_binance()], 1), "a", lat);
    v.place(&req(Sell, "1.0001", "100", TimeInForce::Gtc, 0))
        .await
        .unwrap();
    ex.lock()
        .unwrap()
        .place("b", gtc(Buy, "1.0001", "100"), 0)
        .unwrap();
    assert!(v.fills_since(0).await.unwrap().is_empty());
    sleep(Duration::from_millis(2_999)).await;
    assert!(v.fills_since(0).await.unwrap().is_empty());
    sleep(Duration::from_millis(1)).await;
    assert_eq!(v.fills_since(0).await.unwrap().len(), 1);
    // order_status is not delayed.
    let st = v
        .order_status("USDCUSDT", &ClientOrderId::derive("test", 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.state, OrderState::Filled);
}

#[tokio::test(start_paused = true)]
async fn withdrawals_and_deposits_through_the_interface() {
    let (v, ex) = venue(exchange(vec![quiet_binance()], 1), "a", Latency::ZERO);
    let addr = v.deposit_address("USDC", "ARBITRUM").await.unwrap();
    assert!(addr.starts_with("0x"));
    assert!(v.deposit_address("USDC", "SOL").await.is_err());
    let w = WithdrawRequest {
        asset: "USDC".into(),
        network: "ARBITRUM".into(),
        address: "0x00000000000000000000000000000000000000aa".into(),
        amount: d("500"),
        client_id: "rebalance-7".into(),
    };
    let id = v.withdraw(&w).await.unwrap();
    assert_eq!(v.withdraw(&w).await.unwrap(), id, "idempotent by client id");
    ex.lock()
        .unwrap()
        .deposit("a", "USDC", "ARBITRUM", d("20"), None, 0)
        .unwrap();
    let pending = v.transfers_since(0).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|t| t.state == TransferState::Pending));
    sleep(Duration::from_secs(300)).await;
    let done = v.transfers_since(0).await.unwrap();
    let wd = done
        .iter()
        .find(|t| t.kind == TransferKind::Withdrawal)
        .unwrap();
    assert_eq!(
        (wd.state.clone(), wd.fee, wd.client_id.as_deref()),
        (TransferState::Completed, d("1"), Some("rebalance-7"))
    );
    let usdc = v
        .balances()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.asset == "USDC")
        .unwrap();
    assert_eq!((usdc.total, usdc.held), (d("999520"), d("0")));
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_the_exchange() {
    let (v, ex) = venue(
        exchange(vec![quiet_binance()], 1),
        "a",
        Latency::hyperliquid(),
    );
    let v = Arc::new(v);
    let mut tasks = Vec::new();
    for i in 0..20u32 {
        let v = v.clone();
        tasks.push(tokio::spawn(async move {
            let price = format!("0.99{:02}", 50 + i);
            v.place(&req(Buy, &price, "10", TimeInForce::Gtc, 100 + i))
                .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().state, OrderState::Open);
    }
    assert_eq!(v.open_orders(None).await.unwrap().len(), 20);
    sim_support::check_invariants(&ex.lock().unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_venue_is_built_from_its_configuration() {
    use ballast_sim::{SimExchangeCfg, SimVenueCfg};
    let cfg = SimVenueCfg {
        exchange: SimExchangeCfg {
            seed: 9,
            markets: vec![presets::hyperliquid_usdt0_usdc()],
            accounts: sim_support::accounts(),
            networks: vec![],
        },
        account: "b".into(),
        latency: Latency::hyperliquid(),
    };
    let start = 1_700_000_000_000;
    let v = SimVenue::from_cfg("hl-sim", &cfg, Arc::new(TokioClock::new(start))).unwrap();
    assert_eq!((v.name(), v.account()), ("hl-sim", "b"));
    let depth = v.depth("USDT0/USDC", 3).await.unwrap();
    assert_eq!((depth.bids.len(), depth.asks.len()), (3, 3));
    assert!(
        depth.ts >= start + 100,
        "the exchange starts at the clock's time: {}",
        depth.ts
    );
    let markets = v.markets().await.unwrap();
    assert_eq!(markets[0].min_notional, d("10"));
}
