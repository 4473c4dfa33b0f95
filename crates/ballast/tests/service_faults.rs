//! Faults injected by the local Binance servers of paper mode while the service works: 429, 5xx and
//! timeouts after acceptance, dropped connections (on orders and on withdrawals), the partial fills of the
//! auctions, and one venue down for a while. The service keeps running, holds new moves while a read
//! fails, keeps driving the legs of the other venue, and afterwards nothing is doubled: every withdrawal
//! belongs to one leg, every order the venue saw was journaled first, and the value is conserved within
//! fees.

mod service_support;

use std::collections::BTreeMap;
use std::time::Duration;

use ballast_core::leg::Stage;
use ballast_exec::TransferKind;
use ballast_localnet::binance::FaultKind;
use ballast_service::{CycleOutcome, KillState, Service};
use rust_decimal::Decimal;
use service_support::*;

async fn total_value(svc: &mut Service) -> Decimal {
    // Chains: the measured balances of the last cycle.
    let st = svc.status.read().unwrap().clone();
    let mut total: Decimal = st.positions.iter().map(|p| p.balance).sum();
    // Venues: whatever sits on the accounts (unfilled remainders, fees).
    for v in svc.world.venues.values() {
        for b in v.venue.inner().balances().await.unwrap() {
            total += b.total;
        }
    }
    total
}

fn stage_rank(s: Stage) -> u8 {
    s as u8
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_one_venue_double_nothing_and_the_other_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let path = write_config(dir.path(), &paper_config(&journal, "0.5", ""));
    let mut svc = start(&path).await;
    let initial = Decimal::from(800_000);
    {
        let pw = svc.world.paper.as_ref().unwrap();
        let a = pw.binance[0].faults();
        a.inject(
            "POST /api/v3/order",
            FaultKind::RateLimit {
                retry_after: Duration::from_millis(300),
            },
            1,
        );
        a.inject(
            "POST /api/v3/order",
            FaultKind::ServerError {
                status: 502,
                executed: true,
            },
            1,
        );
        a.inject(
            "POST /api/v3/order",
            FaultKind::Timeout { executed: true },
            1,
        );
        a.inject("POST /api/v3/order", FaultKind::Drop { executed: true }, 1);
        a.inject(
            "POST /sapi/v1/capital/withdraw/apply",
            FaultKind::Timeout { executed: true },
            1,
        );
        a.inject(
            "POST /sapi/v1/capital/withdraw/apply",
            FaultKind::Drop { executed: true },
            1,
        );
        let b = pw.binance[1].faults();
        b.inject("POST /api/v3/order", FaultKind::Drop { executed: false }, 1);
        b.inject(
            "POST /sapi/v1/capital/withdraw/apply",
            FaultKind::ServerError {
                status: 500,
                executed: true,
            },
            1,
        );
    }
    // Work for a while under the faults.
    for _ in 0..8 {
        let o = svc.cycle().await.expect("the service keeps running");
        assert!(!matches!(o, CycleOutcome::HeldByKillSwitch(_)), "{o:?}");
        rounds(&mut svc, Duration::from_millis(900)).await;
    }
    assert!(
        !svc.journal.all_legs().unwrap().is_empty(),
        "legs were started"
    );

    // Venue bn_b down: every request fails. New moves are held (pending cannot be read in full), the legs
    // of bn_a keep moving.
    svc.cycle().await.unwrap();
    let before: BTreeMap<String, Stage> = svc
        .journal
        .unsettled_legs()
        .unwrap()
        .into_iter()
        .filter(|l| l.venue == "bn_a" && !l.stage.is_final())
        .map(|l| (l.id, l.stage))
        .collect();
    svc.world.paper.as_ref().unwrap().binance[1]
        .faults()
        .inject(
            "*",
            FaultKind::ServerError {
                status: 503,
                executed: false,
            },
            1_000_000,
        );
    let mut degraded = 0;
    for _ in 0..6 {
        let o = svc
            .cycle()
            .await
            .expect("the service keeps running with a venue down");
        if matches!(o, CycleOutcome::Degraded(ref r) if r.contains("bn_b")) {
            degraded += 1;
        }
        rounds(&mut svc, Duration::from_millis(900)).await;
    }
    assert!(
        degraded >= 5,
        "new moves are held while bn_b cannot be read ({degraded} of 6)"
    );
    let after: BTreeMap<String, Stage> = svc
        .journal
        .all_legs()
        .unwrap()
        .into_iter()
        .map(|l| (l.id, l.stage))
        .collect();
    let moved = before
        .iter()
        .filter(|(id, s)| stage_rank(after[*id]) > stage_rank(**s))
        .count();
    assert!(
        before.is_empty() || moved > 0,
        "legs on bn_a advanced while bn_b was down: {before:?} -> {after:?}"
    );
    svc.world.paper.as_ref().unwrap().binance[1]
        .faults()
        .clear();

    // Let everything settle without new moves.
    svc.set_kill(KillState::ReduceOnly, "test: settle", "test")
        .unwrap();
    let settled = settle(&mut svc, Duration::from_secs(90)).await;
    let legs = svc.journal.all_legs().unwrap();
    assert!(
        settled,
        "every leg reached an end: {:?}",
        legs.iter()
            .map(|l| (&l.id, l.stage, &l.problem))
            .collect::<Vec<_>>()
    );
    svc.journal.check_service_invariants().unwrap();
    for (i, v) in svc.world.paper.as_ref().unwrap().binance.iter().enumerate() {
        assert!(
            v.faults().pending().is_empty(),
            "venue {i}: every injected fault was met: {:?}",
            v.faults().pending()
        );
    }
    let swaps = legs.iter().filter(|l| l.swap.is_some()).count();
    assert!(swaps >= 1, "swaps ran through the faults");
    let done = legs.iter().filter(|l| l.stage == Stage::Done).count();
    eprintln!(
        "legs: {} ({done} done), bn_a in flight at the outage: {}, advanced: {moved}, degraded cycles: {degraded}; faults left: {:?} {:?}",
        legs.len(),
        before.len(),
        svc.world.paper.as_ref().unwrap().binance[0]
            .faults()
            .pending(),
        svc.world.paper.as_ref().unwrap().binance[1]
            .faults()
            .pending(),
    );
    assert!(done >= 2, "legs completed despite the faults: {done}");

    // Nothing doubled: one withdrawal per leg, each leg's own.
    for (name, v) in &svc.world.venues {
        let transfers = v.venue.inner().transfers_since(0).await.unwrap();
        let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
        for t in transfers
            .iter()
            .filter(|t| t.kind == TransferKind::Withdrawal)
        {
            let key = t
                .client_id
                .clone()
                .expect("every withdrawal carries the leg's key");
            *per_key.entry(key).or_default() += 1;
        }
        for (k, n) in &per_key {
            assert_eq!(*n, 1, "{name}: withdrawal {k} was made {n} times");
        }
        let with_withdrawal = legs
            .iter()
            .filter(|l| &l.venue == name && l.withdrawal_id.is_some())
            .count();
        assert_eq!(
            per_key.len(),
            with_withdrawal,
            "{name}: withdrawals vs legs"
        );
        // Every order the venue executed was journaled before it was sent.
        for f in v.venue.inner().fills_since(0).await.unwrap() {
            let id = f.client_id.expect("our orders carry client ids");
            assert!(
                svc.journal.order_sent(name, id.as_hex()).unwrap(),
                "{name}: a fill of {id}, an order the journal never saw"
            );
        }
    }
    let sent = svc.journal.sent_orders().unwrap();
    let mut ids: Vec<_> = sent.iter().map(|o| (&o.venue, &o.client_id)).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), sent.len(), "no client order id used twice");

    // Value conserved within fees (1 per withdrawal, trading fees, the USDC/USDT spread).
    tokio::time::sleep(Duration::from_millis(300)).await;
    svc.cycle().await.unwrap();
    let total = total_value(&mut svc).await;
    let withdrawals = legs.iter().filter(|l| l.withdrawal_id.is_some()).count();
    let moved: Decimal = legs.iter().map(|l| l.value).sum();
    let allowance = Decimal::from(withdrawals as u64) + moved * Decimal::new(5, 3);
    assert!(
        total <= initial + Decimal::ONE,
        "value appeared from nowhere (a doubled withdrawal?): {total} > {initial}"
    );
    assert!(
        initial - total <= allowance,
        "value lost beyond fees: {initial} -> {total} (allowance {allowance})"
    );
    svc.shutdown().await;
}
