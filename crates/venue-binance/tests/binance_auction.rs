//! The Dutch-auction executor end to end through the Binance client against the local Binance server, whose
//! market has background liquidity (makers quoting around a random-walk mid, Poisson takers), in real time.

mod binance_common;

use std::sync::Arc;

use ballast_core::auction::{EndReason, Reprice, Schedule};
use ballast_core::model::Side;
use ballast_exec::executor::{Executor, SwapJob};
use ballast_exec::{Clock, SystemClock, Venue};
use ballast_localnet::binance::config::ServerConfig;
use ballast_localnet::binance::spawn;
use binance_common::*;
use rust_decimal::Decimal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auction_runs_end_to_end_on_the_local_server() {
    // The default USDCUSDT market of the server, with its liquidity model.
    let text = server_toml("").replace("liquidity = false\n", "");
    let cfg = ServerConfig::parse("auction.toml", &text).unwrap();
    let server = spawn(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = Arc::new(alice(&server));
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
        venue: "binance".into(),
        market: "USDCUSDT".into(),
        side: Side::Sell,
        qty: d("20000"),
        reference: None,
        schedule,
        reprice: Reprice::Replace,
        intent: "e2e-1".into(),
    };
    let start = server.now_ms();
    let usdc_before = balance(&client, "USDC").await.total;
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
    // It worked as a maker first (placed, then repriced by cancel-replace) before the taker phase.
    assert!(
        report.orders_placed >= 1 && report.replaces >= 1,
        "{report:#?}"
    );
    let replaces = server
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v3/order/cancelReplace" && r.status == 200)
        .count();
    assert!(replaces >= 1);
    // The venue's record agrees with the report: fills, balances, nothing left working.
    let fills = client.fills_since(start).await.unwrap();
    let venue_qty: Decimal = fills.iter().map(|f| f.qty).sum();
    assert_eq!(venue_qty, report.filled);
    assert_eq!(fills.len(), report.fills.len());
    assert_eq!(
        usdc_before - balance(&client, "USDC").await.total,
        d("20000")
    );
    assert!(client.open_orders(None).await.unwrap().is_empty());
    // Every order the executor placed went through the wire with its client id, and none was refused
    // by the server for a reason the client should have caught.
    let refused: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| {
            r.code
                .is_some_and(|c| c == -1013 || c == -1111 || c == -1022 || c == -1021)
        })
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}
