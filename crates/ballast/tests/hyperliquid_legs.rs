//! Hyperliquid legs in the service, end to end in paper mode (the real client against the local server, the
//! server's own bridges to simulated Arbitrum and HyperEVM):
//!
//! - arbitrum/USDC -> hyperevm/USDT0: bridge deposit (credited to perp), class transfer perp -> spot, the spot
//!   auction buying USDT0, spotSend to USDT0's system address, arrival on HyperEVM;
//! - hyperevm/USDT0 -> arbitrum/USDC: ERC-20 transfer to the system address (credited to spot), the auction
//!   selling USDT0, class transfer spot -> perp, withdraw3, arrival on Arbitrum;
//! - a class transfer whose answer is lost executes once: the retry sends the same nonce, and the ledger
//!   settles it.

mod service_support;

use std::time::Duration;

use ballast_core::leg::{Leg, Stage};
use ballast_localnet::hyperliquid::Fault;
use ballast_service::Service;
use ballast_venue_hyperliquid::info::LedgerDelta;
use rust_decimal::Decimal;
use service_support::*;

/// Arbitrum (USDC) and HyperEVM (USDT0) with one account, a Hyperliquid venue routing between them both
/// ways through the spot market USDT0/USDC; `balances` start off target.
fn config(journal: &std::path::Path, balances: &str) -> String {
    let acct = dev_account();
    let mut s = format!(
        r#"mode = "paper"

[schedule]
interval = "1s"

[controller]
kp = 0.5
ki = 0.0
kd = 0.0
gain_period = "2s"
max_cycle_turnover_bps = 5000
max_order_value = "40000"
min_order_value = "1000"
max_fee_bps = 100
settle_bps = 300

[service]
journal = "{journal}"
token_env = "BALLAST_TEST_TOKEN"
lease_ttl = "5s"
leg_poll = "100ms"
prices = {{ USDC = "1", USDT0 = "1" }}

[service.ttl]
submit = "30s"
deposit = "30s"
swap = "30s"
withdrawal = "30s"
arrival = "30s"

[service.breakers]
max_consecutive_rejects = 5
stale_balance_age = "60s"

[service.auction]
start_bps = 2
floor_bps = 10
duration = "2s"
step = "200ms"
taker = "500ms"

[paper]
seed = 5
balances = {balances}

[[venue]]
name = "hyperliquid"
kind = "hyperliquid"

[[position]]
chain = "arbitrum"
asset = "USDC"
target = "100000"
band_bps = 100
decimals = 6

[[position]]
chain = "hyperevm"
asset = "USDT0"
target = "100000"
band_bps = 100
decimals = 6

[[route]]
venue = "hyperliquid"
from = {{ chain = "arbitrum", asset = "USDC" }}
to = {{ chain = "hyperevm", asset = "USDT0" }}
cost_bps = 3
fixed_cost = "1"
market = "USDT0/USDC"

[[route]]
venue = "hyperliquid"
from = {{ chain = "hyperevm", asset = "USDT0" }}
to = {{ chain = "arbitrum", asset = "USDC" }}
cost_bps = 3
fixed_cost = "1"
market = "USDT0/USDC"
"#,
        journal = journal.display()
    );
    s += &config_text::chain("arbitrum", 42161, "kind = \"sim\"", 1);
    s += &config_text::tokens(&[("USDC", &format!("0x{:040x}", 3), 6)]);
    s += &config_text::account(&acct, "dev_key = 1");
    s += &config_text::chain("hyperevm", 999, "kind = \"sim\"", 1);
    s += &config_text::tokens(&[("USDT0", &format!("0x{:040x}", 0xb8), 6)]);
    s += &config_text::account(&acct, "dev_key = 1");
    s
}

/// The service with arbitrum/USDC 50,000 over its target and hyperevm/USDT0 50,000 under: the legs go
/// arbitrum -> hyperevm.
async fn start_forward(dir: &std::path::Path) -> Service {
    let cfg = config(
        &dir.join("j.db"),
        r#"{ "arbitrum/USDC" = "150000", "hyperevm/USDT0" = "50000" }"#,
    );
    start(&write_config(dir, &cfg)).await
}

async fn chain_balance(svc: &Service, chain: &str, asset: &str) -> Decimal {
    let c = &svc.world.chains[chain];
    let snap = c.chain.balances(None).await.unwrap();
    snap.get(c.account, asset).unwrap_or_default()
}

async fn total(svc: &Service) -> Decimal {
    chain_balance(svc, "arbitrum", "USDC").await + chain_balance(svc, "hyperevm", "USDT0").await
}

/// Plan one cycle, then drive the legs until none is open (at most `limit`). The legs through Hyperliquid.
async fn run_legs(svc: &mut Service, limit: Duration) -> Vec<Leg> {
    svc.cycle().await.unwrap();
    assert!(
        settle(svc, limit).await,
        "legs still open: {:?}",
        svc.journal
            .unsettled_legs()
            .unwrap()
            .iter()
            .map(|l| (l.id.clone(), l.stage, l.problem.clone()))
            .collect::<Vec<_>>()
    );
    svc.journal.all_legs().unwrap()
}

fn actions(svc: &Service, leg: &str) -> Vec<String> {
    svc.journal
        .audit_for(leg)
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect()
}

fn class_transfers(svc: &Service) -> Vec<(Decimal, bool)> {
    let us = svc.world.chains["arbitrum"].account;
    svc.world.paper.as_ref().unwrap().hyperliquid[0].with_state(|s| {
        let mut out = Vec::new();
        let (v, _) = s.info(
            &ballast_venue_hyperliquid::info::InfoRequest::UserNonFundingLedgerUpdates {
                user: ballast_venue_hyperliquid::wire::Addr(us),
                start_time: 0,
                end_time: None,
            },
            s.engine.now(),
        );
        let updates: Vec<ballast_venue_hyperliquid::info::LedgerUpdate> =
            serde_json::from_value(v).unwrap();
        for u in updates {
            if let LedgerDelta::AccountClassTransfer { usdc, to_perp } = u.delta {
                out.push((usdc.0, to_perp));
            }
        }
        out
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usdc_on_arbitrum_becomes_usdt0_on_hyperevm() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = start_forward(dir.path()).await;
    let before = total(&svc).await;
    let legs = run_legs(&mut svc, Duration::from_secs(60)).await;
    let main: Vec<&Leg> = legs.iter().filter(|l| l.to.chain == "hyperevm").collect();
    assert!(!main.is_empty(), "a leg towards HyperEVM was planned");
    for l in &main {
        assert_eq!(l.stage, Stage::Done, "{}: {:?}", l.id, l.problem);
        let m = l.to_trading.as_ref().expect("the deposit moved to spot");
        assert!(m.done && m.amount == l.amount_in, "{m:?}");
        assert!(l.to_funding.is_none(), "USDT0 leaves from spot: {l:?}");
        let a = actions(&svc, &l.id);
        let intent = a.iter().position(|x| x == "leg.move_intent").unwrap();
        let moved = a.iter().position(|x| x == "leg.moved").unwrap();
        let swap = a.iter().position(|x| x == "leg.auctioning").unwrap();
        assert!(intent < moved && moved < swap, "{a:?}");
        let q = l
            .quality
            .as_ref()
            .expect("a completed leg carries its quality");
        assert!(q.lag_ms > 0 && q.slippage_bps.is_some(), "{q:?}");
        assert!(q.cost > Decimal::ZERO && q.fees > Decimal::ZERO, "{q:?}");
    }
    // /status and /metrics count them per venue and route.
    let st = svc.status.read().unwrap().clone();
    let r = st
        .quality
        .routes
        .iter()
        .find(|r| r.venue == "hyperliquid" && r.route == "arbitrum/USDC -> hyperevm/USDT0")
        .expect("the route's quality");
    assert_eq!(r.legs as usize, main.len());
    assert!(
        st.prometheus()
            .contains("ballast_rebalance_lag_seconds_count{venue=\"hyperliquid\",route=\"arbitrum/USDC -> hyperevm/USDT0\"}")
    );
    // Each deposit moved to spot exactly once; a return leg (if any) moved its remainder back to perp.
    let moves = class_transfers(&svc);
    let to_spot: Vec<_> = moves.iter().filter(|(_, p)| !p).collect();
    assert_eq!(to_spot.len(), main.len(), "{moves:?}");
    // Value conserved within fees and the auction's cost.
    let after = total(&svc).await;
    let moved: Decimal = main.iter().map(|l| l.amount_in).sum();
    assert!(
        after <= before && before - after < moved * Decimal::new(2, 3) + Decimal::from(10),
        "before {before}, after {after}, moved {moved}"
    );
    assert!(chain_balance(&svc, "hyperevm", "USDT0").await > Decimal::from(50_000));
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usdt0_on_hyperevm_becomes_usdc_on_arbitrum() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir.path().join("j.db"),
        r#"{ "arbitrum/USDC" = "50000", "hyperevm/USDT0" = "150000" }"#,
    );
    let mut svc = start(&write_config(dir.path(), &cfg)).await;
    let before = total(&svc).await;
    let legs = run_legs(&mut svc, Duration::from_secs(60)).await;
    let main: Vec<&Leg> = legs.iter().filter(|l| l.from.chain == "hyperevm").collect();
    assert!(!main.is_empty());
    for l in &main {
        assert_eq!(l.stage, Stage::Done, "{}: {:?}", l.id, l.problem);
        assert!(l.to_trading.is_none(), "USDT0 is credited to spot: {l:?}");
        let m = l.to_funding.as_ref().expect("the proceeds moved to perp");
        assert!(m.done, "{m:?}");
        assert_eq!(Some(m.amount), l.withdraw_amount, "{l:?}");
        let a = actions(&svc, &l.id);
        let moved = a.iter().position(|x| x == "leg.moved").unwrap();
        let withdraw = a.iter().position(|x| x == "leg.withdraw_intent").unwrap();
        assert!(moved < withdraw, "{a:?}");
    }
    let to_perp = class_transfers(&svc).iter().filter(|(_, p)| *p).count();
    assert!(to_perp >= main.len());
    let after = total(&svc).await;
    let moved: Decimal = main.iter().map(|l| l.amount_in).sum();
    // withdraw3 costs 1 USDC per leg on top of the auction.
    assert!(
        after <= before && before - after < moved * Decimal::new(2, 3) + Decimal::from(10),
        "before {before}, after {after}, moved {moved}"
    );
    assert!(chain_balance(&svc, "arbitrum", "USDC").await > Decimal::from(50_000));
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_transfer_whose_answer_is_lost_executes_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = start_forward(dir.path()).await;
    svc.cycle().await.unwrap();
    // While the deposit confirms, the next /exchange request is the class transfer: it executes and its
    // answer is lost.
    let server = svc.world.paper.as_ref().unwrap().hyperliquid[0].clone();
    let end = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let legs = svc.journal.unsettled_legs().unwrap();
        if legs.iter().any(|l| l.stage == Stage::DepositSubmitted) {
            server.inject(Fault::LoseResponse);
            break;
        }
        assert!(tokio::time::Instant::now() < end, "no deposit submitted");
        rounds(&mut svc, Duration::from_millis(100)).await;
    }
    assert!(settle(&mut svc, Duration::from_secs(60)).await);
    let legs = svc.journal.all_legs().unwrap();
    let l = legs.iter().find(|l| l.to.chain == "hyperevm").unwrap();
    assert_eq!(l.stage, Stage::Done, "{:?}", l.problem);
    let m = l.to_trading.as_ref().unwrap();
    assert!(
        m.done && m.record.is_some(),
        "settled by the ledger record: {m:?}"
    );
    let to_spot: Vec<_> = class_transfers(&svc)
        .into_iter()
        .filter(|(_, p)| !p)
        .collect();
    assert_eq!(to_spot, vec![(l.amount_in, false)], "moved once");
    svc.shutdown().await;
}

/// The venue's answers lost at the two irreversible Hyperliquid steps after the deposit: an order (the
/// auction's first) and the spotSend that withdraws USDT0 to HyperEVM. Each executes once: one withdrawal
/// in the ledger, the leg done, value conserved within fees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_on_an_order_and_on_the_withdrawal_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = start_forward(dir.path()).await;
    let before = total(&svc).await;
    svc.cycle().await.unwrap();
    let server = svc.world.paper.as_ref().unwrap().hyperliquid[0].clone();
    // The auction's first order and the withdrawal's spotSend execute, and their answers are lost.
    server.inject(Fault::LoseResponseTo("order"));
    server.inject(Fault::LoseResponseTo("spotSend"));
    assert!(
        settle(&mut svc, Duration::from_secs(60)).await,
        "legs settle"
    );
    assert_eq!(server.pending_faults(), 0, "both answers were lost");
    let legs = svc.journal.all_legs().unwrap();
    let l = legs.iter().find(|l| l.to.chain == "hyperevm").unwrap();
    assert_eq!(l.stage, Stage::Done, "{:?}", l.problem);
    // One withdrawal in the venue's ledger, the leg's.
    let hl = svc.world.venues["hyperliquid"].venue.inner().clone();
    let withdrawals: Vec<_> = hl
        .transfers_since(0)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.kind == ballast_exec::TransferKind::Withdrawal)
        .collect();
    assert_eq!(withdrawals.len(), 1, "{withdrawals:?}");
    assert_eq!(l.withdrawal_id.as_deref(), Some(withdrawals[0].id.as_str()));
    let after = total(&svc).await;
    assert!(
        after <= before && before - after < l.amount_in * Decimal::new(2, 3) + Decimal::from(10),
        "before {before}, after {after}"
    );
    svc.shutdown().await;
}
