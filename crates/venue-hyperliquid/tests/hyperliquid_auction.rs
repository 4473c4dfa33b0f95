//! The Dutch-auction executor end to end through ballast's Hyperliquid client against the local server,
//! whose USDT0/USDC market has background liquidity (makers quoting around a random-walk mid, Poisson
//! takers), in real time: signing, batchModify repricing, fills and balances all go over the wire.

mod hyperliquid_support;

use std::sync::Arc;

use ballast_core::auction::{EndReason, Reprice, Schedule};
use ballast_core::model::Side;
use ballast_exec::executor::{Executor, SwapJob};
use ballast_exec::{Clock, SystemClock, Venue};
use hyperliquid_support::*;
use rust_decimal::Decimal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auction_runs_end_to_end_on_the_local_server() {
    let k = Keys::new();
    let h = start_server_with("testnet", &k, "", None, true).await;
    let client = Arc::new(client(&h, &k.alice));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut ex = Executor::new(clock.clone());
    ex.add_venue(client.clone(), 20.0, 10.0);

    let schedule = Schedule {
        start_bps: Decimal::ONE,
        floor_bps: Decimal::TEN,
        duration_ms: 8_000,
        step_ms: 500,
        taker_ms: 3_000,
        deadline_ms: 11_000,
        ..Schedule::default()
    };
    let job = SwapJob {
        venue: "hl".into(),
        market: MARKET.into(),
        side: Side::Sell,
        qty: d("20000"),
        reference: None,
        schedule,
        reprice: Reprice::Replace,
        intent: "hl-e2e-1".into(),
    };
    let start = clock.now_ms();
    let before = |bs: &[ballast_exec::Balance], a: &str| {
        bs.iter()
            .find(|b| b.asset == a)
            .map(|b| b.total)
            .unwrap_or_default()
    };
    let b0 = client.balances().await.unwrap();
    let report = ex.run_one(&job, |_| {}).await.unwrap();
    eprintln!(
        "auction: filled {} (maker {}, taker {}), {} orders, {} replaces, shortfall {:?} bps",
        report.filled,
        report.maker_qty,
        report.taker_qty,
        report.orders_placed,
        report.replaces,
        report.shortfall_bps
    );
    assert_eq!(report.end_reason, Some(EndReason::Filled), "{report:#?}");
    assert_eq!(report.filled, d("20000"));
    for f in &report.fills {
        assert!(f.price >= report.floor_price, "{f:?} below the floor");
    }
    assert!(
        report.orders_placed >= 1 && report.replaces >= 1,
        "{report:#?}"
    );
    // The venue's record agrees with the report: fills, balances, nothing left working.
    let fills = client.fills_since(start).await.unwrap();
    assert_eq!(fills.iter().map(|f| f.qty).sum::<Decimal>(), report.filled);
    assert_eq!(fills.len(), report.fills.len());
    let b1 = client.balances().await.unwrap();
    assert_eq!(before(&b0, "USDT0") - before(&b1, "USDT0"), d("20000"));
    let proceeds: Decimal = fills.iter().map(|f| f.price * f.qty - f.fee).sum();
    assert_eq!(before(&b1, "USDC") - before(&b0, "USDC"), proceeds);
    assert!(client.open_orders(None).await.unwrap().is_empty());
    h.with_state(|s| assert!(s.engine.sim().audit().values().all(|a| a.balanced())));
}
