//! The executor driving Dutch auctions against the simulated venue, in virtual time.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;

use ballast_core::auction::{EndReason, Reprice, Schedule};
use ballast_core::model::Side;
use ballast_exec::clock::TokioClock;
use ballast_exec::executor::{Executor, SwapJob};
use ballast_exec::{Clock, Venue};
use ballast_sim::{AccountCfg, Latency, SimExchange, SimExchangeCfg, SimVenue, presets};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn venue(
    name: &str,
    market: ballast_sim::MarketCfg,
    seed: u64,
    clock: Arc<dyn Clock>,
) -> Arc<SimVenue> {
    let cfg = SimExchangeCfg {
        seed,
        markets: vec![market],
        accounts: vec![AccountCfg {
            name: "me".into(),
            balances: [
                ("USDC", "5000000"),
                ("USDT", "5000000"),
                ("USDT0", "5000000"),
            ]
            .iter()
            .map(|(a, v)| (a.to_string(), d(v)))
            .collect(),
        }],
        networks: vec![],
    };
    let ex = SimExchange::new(&cfg, clock.now_ms()).unwrap();
    Arc::new(SimVenue::new(
        name,
        "me",
        Arc::new(Mutex::new(ex)),
        clock,
        Latency::binance(),
        seed,
    ))
}

fn job(venue: &str, market: &str, side: Side, qty: &str, intent: &str) -> SwapJob {
    SwapJob {
        venue: venue.into(),
        market: market.into(),
        side,
        qty: d(qty),
        reference: None,
        schedule: Schedule::default(),
        reprice: Reprice::Replace,
        intent: intent.into(),
    }
}

#[tokio::test(start_paused = true)]
async fn an_auction_fills_as_maker_and_its_report_reconciles_with_the_venue() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(1_767_225_600_000));
    let v = venue("binance", presets::binance_usdcusdt(), 7, clock.clone());
    let mut ex = Executor::new(clock.clone());
    ex.add_venue(v.clone(), 20.0, 10.0);
    let start = clock.now_ms();
    let report = ex
        .run_one(
            &job("binance", "USDCUSDT", Side::Sell, "20000", "t-1"),
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.end_reason, Some(EndReason::Filled), "{report:#?}");
    assert_eq!(report.filled, d("20000"));
    assert!(report.maker_qty > Decimal::ZERO, "works as a maker first");
    // Never beyond the floor.
    for f in &report.fills {
        assert!(f.price >= report.floor_price);
    }
    // The venue's own record of our fills matches the report exactly.
    let fills = v.fills_since(start).await.unwrap();
    let venue_qty: Decimal = fills.iter().map(|f| f.qty).sum();
    assert_eq!(venue_qty, report.filled);
    assert_eq!(fills.len(), report.fills.len());
    // Nothing left working.
    assert!(v.open_orders(None).await.unwrap().is_empty());
    assert!(ex.tracker.open().is_empty());
}

#[tokio::test(start_paused = true)]
async fn auctions_on_two_venues_run_concurrently() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(1_767_225_600_000));
    let bn = venue("binance", presets::binance_usdcusdt(), 3, clock.clone());
    let hl = venue(
        "hyperliquid",
        presets::hyperliquid_usdt0_usdc(),
        4,
        clock.clone(),
    );
    let mut ex = Executor::new(clock.clone());
    ex.add_venue(bn.clone(), 20.0, 10.0);
    ex.add_venue(hl.clone(), 20.0, 10.0);
    let t0 = tokio::time::Instant::now();
    let jobs = [
        job("binance", "USDCUSDT", Side::Buy, "10000", "c-1"),
        job("hyperliquid", "USDT0/USDC", Side::Sell, "5000", "c-2"),
    ];
    let reports = ex.run_all(&jobs).await;
    let elapsed = t0.elapsed();
    let mut longest = Duration::ZERO;
    for r in &reports {
        let r = r.as_ref().unwrap();
        assert!(r.filled > Decimal::ZERO, "{r:#?}");
        longest = longest.max(Duration::from_millis(
            (r.ended_ms.unwrap() - r.started_ms) as u64,
        ));
    }
    // Concurrent: the cycle takes about as long as its longest auction, not the sum.
    assert!(
        elapsed < longest + Duration::from_secs(10),
        "elapsed {elapsed:?}, longest {longest:?}"
    );
    // Every client id the executor used is distinct and tracked.
    assert!(ex.tracker.len() >= 2);
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_what_is_working() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(1_767_225_600_000));
    // A huge order at a far start: it rests and does not fill quickly.
    let v = venue("binance", presets::binance_usdcusdt(), 9, clock.clone());
    let mut ex = Executor::new(clock.clone());
    ex.add_venue(v.clone(), 20.0, 10.0);
    let ex = Arc::new(ex);
    let mut j = job("binance", "USDCUSDT", Side::Sell, "2000000", "s-1");
    j.schedule.start_bps = d("20");
    j.schedule.duration_ms = 3_600_000;
    j.schedule.deadline_ms = 3_700_000;
    let runner = {
        let ex = ex.clone();
        tokio::spawn(async move { ex.run_one(&j, |_| {}).await })
    };
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        !v.open_orders(None).await.unwrap().is_empty(),
        "an order is working"
    );
    ex.shutdown();
    let report = runner.await.unwrap().unwrap();
    assert_eq!(report.end_reason, Some(EndReason::Canceled));
    assert!(
        v.open_orders(None).await.unwrap().is_empty(),
        "shutdown leaves nothing working"
    );
    assert_eq!(
        ex.cancel_open().await,
        0,
        "nothing left for the fallback cancel"
    );
}

#[tokio::test(start_paused = true)]
async fn a_small_budget_stretches_the_steps() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(1_767_225_600_000));
    let count = |burst: f64, rate: f64| {
        let clock = clock.clone();
        async move {
            let v = venue("binance", presets::binance_usdcusdt(), 11, clock.clone());
            let mut ex = Executor::new(clock.clone());
            ex.add_venue(v, burst, rate);
            let mut j = job("binance", "USDCUSDT", Side::Sell, "3000000", "b-1");
            j.schedule.start_bps = d("15");
            let r = ex.run_one(&j, |_| {}).await.unwrap();
            r.replaces + r.orders_placed
        }
    };
    let generous = count(50.0, 50.0).await;
    let tight = count(1.0, 0.05).await;
    assert!(
        tight < generous,
        "a tight budget sends fewer requests: {tight} vs {generous}"
    );
}
