//! The chain client against a real local EVM node (hardhat, installed and started by the test harness)
//! and against the simulated ledger: each test body runs on both (`on_both!`).
//!
//! Without Node.js/npm the hardhat variants print `SKIPPED` and return (set `BALLAST_REQUIRE_DEVNET=1` to
//! make that a failure).

mod chain_support;

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, keccak256};
use alloy::signers::local::PrivateKeySigner;
use ballast_chain::client::{Failpoint, SendStage};
use ballast_chain::watch::{DepositWatcher, Payer};
use ballast_chain::{
    ArrivalQuery, Chain, ChainError, Destination, ExpectedArrival, IntentId, Role, TransferRequest,
    TxStatus, match_arrival,
};
use ballast_store::IntentState;
use chain_support::{DepositOnlyVenue, Net, Opts, deposit_address};
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn random_address() -> Address {
    PrivateKeySigner::random().address()
}

fn own(net: &Net, key: &str, amount: &str) -> TransferRequest {
    TransferRequest {
        key: key.into(),
        from: None,
        asset: "USDC".into(),
        amount: dec(amount),
        to: Destination::Own(net.other),
    }
}

// ---------------------------------------------------------------------------------------------------------

/// Balances of every account are read at one block: reading an old block again gives exactly its
/// balances, every block's snapshot is consistent (our two accounts always hold the total), also while
/// transfers are mined concurrently with the reads.
async fn balances_at_one_block(net: Net) {
    let us = net.us.address();
    net.mint("USDC", us, "1000").await;
    net.mint("DAI", us, "5.5").await;
    net.mine(1).await;
    let chain = net.client(net.journal()).await;
    let s1 = chain.balances(None).await.unwrap();
    assert_eq!(s1.chain, net.name);
    assert_eq!(s1.balances.len(), 6, "2 accounts x (ETH, USDC, DAI)");
    assert_eq!(s1.get(us, "USDC"), Some(dec("1000")));
    assert_eq!(s1.get(us, "DAI"), Some(dec("5.5")));
    assert_eq!(s1.get(net.other, "USDC"), Some(Decimal::ZERO));
    assert!(s1.get(us, "ETH").unwrap() > dec("999"));

    // Transfers between our accounts in later blocks, while another task keeps reading snapshots.
    let reader = {
        let chain = chain.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..25 {
                let s = chain.balances(None).await.unwrap();
                seen.push((s.block, s.total("USDC"), s.get(us, "USDC").unwrap()));
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    for i in 0..3 {
        let r = chain
            .transfer(&own(&net, &format!("bal-{i}"), "100"))
            .await
            .unwrap();
        assert!(matches!(
            net.settle(chain.as_ref(), &r.intent_id).await.status,
            TxStatus::Confirmed { .. }
        ));
    }
    for (block, total, _) in reader.await.unwrap() {
        assert_eq!(total, dec("1000"), "snapshot at block {block} mixes blocks");
    }
    let s2 = chain.balances(None).await.unwrap();
    assert!(s2.block > s1.block);
    assert_eq!(s2.get(us, "USDC"), Some(dec("700")));
    assert_eq!(s2.get(net.other, "USDC"), Some(dec("300")));
    assert!(
        s2.get(us, "ETH").unwrap() < s1.get(us, "ETH").unwrap(),
        "gas was paid"
    );

    // The old block again: exactly the old snapshot.
    let again = chain.balances(Some(s1.block)).await.unwrap();
    assert_eq!(again, s1);
    // Every block in between holds the total between our two accounts.
    let mut moved = HashSet::new();
    for b in s1.block..=s2.block {
        let s = chain.balances(Some(b)).await.unwrap();
        assert_eq!(s.block, b);
        assert_eq!(s.total("USDC"), dec("1000"), "block {b}");
        moved.insert(s.get(us, "USDC").unwrap());
    }
    assert_eq!(
        moved.len(),
        4,
        "1000, 900, 800 and 700 were each seen at some block"
    );
}

on_both!(
    balances_pinned,
    balances_at_one_block,
    "arbitrum",
    Opts::new(31001)
);
on_both!(
    balances_multicall,
    balances_at_one_block,
    "arbitrum",
    Opts {
        multicall: true,
        ..Opts::new(31001)
    }
);

// ---------------------------------------------------------------------------------------------------------

/// Token decimals are read from the contracts and a mismatch with the configuration is refused, naming
/// the chain, the token and both values.
async fn decimals_are_checked(net: Net) {
    let mut cfg = net.chain_cfg().clone();
    cfg.tokens[1].decimals = 6;
    match net
        .client_with(&cfg, net.journal(), Role::Treasury, None)
        .await
    {
        Err(e @ ChainError::DecimalsMismatch { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains(&net.name)
                    && m.contains("DAI")
                    && m.contains("is 18 on chain")
                    && m.contains("says 6"),
                "{m}"
            );
        }
        Err(e) => panic!("expected a decimals mismatch, got {e}"),
        Ok(_) => panic!("expected a decimals mismatch"),
    }
    // A node serving another chain id is refused too.
    let mut wrong = net.chain_cfg().clone();
    wrong.chain_id += 1;
    match net
        .client_with(&wrong, net.journal(), Role::Treasury, None)
        .await
    {
        Err(ChainError::WrongChainId {
            configured, actual, ..
        }) => {
            assert_eq!(configured, net.chain_cfg().chain_id + 1);
            assert_eq!(actual, net.chain_cfg().chain_id);
        }
        Err(e) => panic!("expected a wrong chain id, got {e}"),
        Ok(_) => panic!("expected a wrong chain id"),
    }
    // A multicall address without a contract is refused on a real node.
    if !net.is_sim() {
        let mut no_code = net.chain_cfg().clone();
        no_code.multicall = Some(random_address());
        match net
            .client_with(&no_code, net.journal(), Role::Treasury, None)
            .await
        {
            Err(ChainError::Rpc { reason, .. }) => {
                assert!(reason.contains("holds no contract"), "{reason}")
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a multicall address without code was accepted"),
        }
    }
    let chain = net.client(net.journal()).await;
    let checks = chain.check_tokens().await.unwrap();
    assert_eq!(
        checks
            .iter()
            .map(|c| (c.asset.as_str(), c.decimals))
            .collect::<Vec<_>>(),
        vec![("USDC", 6), ("DAI", 18)]
    );
}

on_both!(decimals, decimals_are_checked, "arbitrum", Opts::new(31001));

// ---------------------------------------------------------------------------------------------------------

/// A deposit to a venue is signed, journaled, broadcast, confirmed after the chain's confirmations, and
/// asking again with the same key never sends a second one.
async fn transfer_confirmed_and_journaled(net: Net) {
    let us = net.us.address();
    net.mint("USDC", us, "1000").await;
    let journal = net.journal();
    let chain = net.client(journal.clone()).await;
    let venue_addr = random_address();
    let req = TransferRequest {
        key: "leg:1:deposit".into(),
        from: None,
        asset: "USDC".into(),
        amount: dec("250.5"),
        to: Destination::VenueDeposit(deposit_address("binance", venue_addr, "USDC").await),
    };
    // A transfer the token would refuse is caught by the gas estimate and never journaled.
    let too_much = TransferRequest {
        key: "leg:0:deposit".into(),
        amount: dec("1000.000001"),
        ..req.clone()
    };
    assert!(matches!(
        chain.transfer(&too_much).await,
        Err(ChainError::WouldRevert { .. })
    ));
    let r = chain.transfer(&req).await.unwrap();
    assert_eq!(r.nonce, 0);
    assert_eq!(r.candidates.len(), 1);
    assert!(r.status.is_open(), "{:?}", r.status);
    let id = r.intent_id.clone();
    assert_eq!(
        id,
        IntentId::derive(&net.name, net.chain_cfg().chain_id, "leg:1:deposit")
    );
    let fin = net.settle(chain.as_ref(), &id).await;
    let TxStatus::Confirmed { hash, block } = fin.status else {
        panic!("{:?}", fin.status)
    };
    assert_eq!(hash, r.candidates[0]);
    assert_eq!(net.balance("USDC", venue_addr).await, dec("250.5"));
    assert_eq!(net.balance("USDC", us).await, dec("749.5"));

    // The journal holds the signed bytes (whose hash is the mined one) and the whole story.
    let rec = journal.tx_intent(id.as_str()).unwrap().unwrap();
    assert_eq!(rec.state, IntentState::Confirmed);
    assert_eq!(
        rec.mined_hash.as_deref(),
        Some(format!("{hash:#x}").as_str())
    );
    assert_eq!(rec.mined_block, Some(block));
    assert_eq!(keccak256(&rec.candidates[0].raw), hash);
    assert_eq!(rec.intent.venue.as_deref(), Some("binance"));
    assert_eq!(rec.intent.purpose, "venue_deposit");
    assert_eq!(rec.intent.amount_raw, "250500000");
    assert_eq!(rec.intent.config_version, net.config.version());
    let audit = journal.audit_for(id.as_str()).unwrap();
    assert_eq!(
        audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
        vec!["tx.signed", "tx.broadcast", "tx.confirmed"]
    );
    assert!(
        audit
            .iter()
            .all(|a| a.config_version == net.config.version())
    );
    journal.integrity_check().unwrap();

    // Idempotent: the same key returns the same transfer, nothing is sent again.
    let again = chain.transfer(&req).await.unwrap();
    assert_eq!(again.intent_id, id);
    assert_eq!(again.status, TxStatus::Confirmed { hash, block });
    net.mine(3).await;
    assert_eq!(net.balance("USDC", venue_addr).await, dec("250.5"));
    // The same key with other parameters is a conflict, not a new transfer.
    let changed = TransferRequest {
        amount: dec("251"),
        ..req.clone()
    };
    assert!(matches!(
        chain.transfer(&changed).await,
        Err(ChainError::IntentConflict { .. })
    ));
    // The next transfer takes the next nonce.
    let next = chain.transfer(&own(&net, "leg:2:own", "1")).await.unwrap();
    assert_eq!(next.nonce, 1);
    net.settle(chain.as_ref(), &next.intent_id).await;
}

on_both!(
    transfer_journaled,
    transfer_confirmed_and_journaled,
    "arbitrum",
    Opts::new(31001)
);

// ---------------------------------------------------------------------------------------------------------

/// A transaction stuck under a base fee spike is replaced at the same nonce with bumped fees, journaled
/// first, until the fee cap stops further bumps; the last replacement is mined, the funds move once.
async fn stuck_transaction_replaced(net: Net) {
    let us = net.us.address();
    net.mint("USDC", us, "100").await;
    let journal = net.journal();
    let chain = net.client(journal.clone()).await;
    let venue_addr = random_address();
    net.hold_blocks().await;
    let req = TransferRequest {
        key: "leg:7:deposit".into(),
        from: None,
        asset: "USDC".into(),
        amount: dec("40"),
        to: Destination::VenueDeposit(deposit_address("binance", venue_addr, "USDC").await),
    };
    let r = chain.transfer(&req).await.unwrap();
    assert!(
        matches!(r.status, TxStatus::Pending { stuck: false, .. }),
        "{:?}",
        r.status
    );
    let id = r.intent_id.clone();
    let first = journal.tx_intent(id.as_str()).unwrap().unwrap().candidates[0].clone();
    // The base fee jumps above what the transaction pays: the next block leaves it out.
    net.set_base_fee(first.max_fee_per_gas * 3).await;
    net.mine(1).await;
    let s = chain.status(&id).await.unwrap();
    assert!(
        matches!(s.status, TxStatus::Pending { stuck: true, .. }),
        "{:?}",
        s.status
    );
    assert_eq!(net.balance("USDC", venue_addr).await, Decimal::ZERO);

    // Replace until the cap refuses another bump.
    let cap = 100_000_000_000u128;
    let prio_cap = 5_000_000_000u128;
    let mut last = first.clone();
    let mut replacements = 0;
    loop {
        match chain.replace(&id).await {
            Ok(r) => {
                assert!(
                    matches!(r.status, TxStatus::Pending { .. }),
                    "{:?}",
                    r.status
                );
                let rec = journal.tx_intent(id.as_str()).unwrap().unwrap();
                let c = rec.latest().clone();
                assert_eq!(c.seq, last.seq + 1);
                assert!(
                    c.max_fee_per_gas * 10 >= last.max_fee_per_gas * 11,
                    "+10% at least"
                );
                assert!(c.max_priority_fee_per_gas * 10 >= last.max_priority_fee_per_gas * 11);
                assert!(c.max_fee_per_gas <= cap && c.max_priority_fee_per_gas <= prio_cap);
                assert_eq!(c.gas_limit, first.gas_limit);
                assert_eq!(r.nonce, 0, "same nonce");
                last = c;
                replacements += 1;
                assert!(replacements < 60, "the cap never stopped the bumps");
            }
            Err(ChainError::FeeCapReached { cap: c, .. }) => {
                assert_eq!(c, cap);
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(replacements >= 2, "{replacements}");
    net.mine(1).await;
    let fin = net.settle(chain.as_ref(), &id).await;
    let TxStatus::Confirmed { hash, .. } = fin.status else {
        panic!("{:?}", fin.status)
    };
    assert_eq!(format!("{hash:#x}"), last.hash, "the last replacement won");
    assert_eq!(fin.candidates.len(), replacements + 1);
    assert_eq!(net.balance("USDC", venue_addr).await, dec("40"));
    assert_eq!(net.balance("USDC", us).await, dec("60"));
    let actions: Vec<String> = journal
        .audit_for(id.as_str())
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "tx.replacement_signed")
            .count(),
        replacements
    );
    assert_eq!(actions.last().map(String::as_str), Some("tx.confirmed"));
    journal.integrity_check().unwrap();
    net.release_blocks().await;
}

on_both!(
    stuck_replaced,
    stuck_transaction_replaced,
    "arbitrum",
    Opts {
        own_node: true,
        ..Opts::new(31002)
    }
);

// ---------------------------------------------------------------------------------------------------------

/// Only venue-returned deposit addresses of configured venues, own accounts and the allow-list are
/// destinations; payouts only from a venue's hot wallet.
async fn destinations_are_enforced(net: Net) {
    let us = net.us.address();
    net.mint("USDC", us, "10").await;
    let journal = net.journal();
    let chain = net.client(journal.clone()).await;
    let stranger = random_address();
    let send = |key: &str, asset: &str, to: Destination| TransferRequest {
        key: key.into(),
        from: None,
        asset: asset.into(),
        amount: dec("1"),
        to,
    };
    let unknown_venue = deposit_address("kraken", stranger, "USDC").await;
    match chain
        .transfer(&send("a", "USDC", Destination::VenueDeposit(unknown_venue)))
        .await
    {
        Err(ChainError::UnknownVenue { venue, chain: c }) => {
            assert_eq!(venue, "kraken");
            assert_eq!(c, net.name);
        }
        other => panic!("{other:?}"),
    }
    let for_dai = deposit_address("binance", stranger, "DAI").await;
    assert!(matches!(
        chain
            .transfer(&send("b", "USDC", Destination::VenueDeposit(for_dai)))
            .await,
        Err(ChainError::DestinationRefused { .. })
    ));
    for (key, to) in [
        ("c", Destination::Own(stranger)),
        ("d", Destination::Payout(stranger)),
        ("e", Destination::Own(net.usdc)),
    ] {
        match chain.transfer(&send(key, "USDC", to.clone())).await {
            Err(ChainError::DestinationRefused { address, .. }) => {
                assert_eq!(address, to.address().to_string())
            }
            other => panic!("{to:?}: {other:?}"),
        }
    }
    assert!(matches!(
        chain
            .transfer(&send("f", "WBTC", Destination::Own(net.other)))
            .await,
        Err(ChainError::UnknownAsset { .. })
    ));
    assert!(matches!(
        chain
            .transfer(&TransferRequest {
                amount: dec("0.0000001"),
                ..send("g", "USDC", Destination::Own(net.other))
            })
            .await,
        Err(ChainError::BadAmount { .. })
    ));
    // A venue answering something that is not an address gives no deposit address at all.
    let junk = DepositOnlyVenue {
        name: "binance".into(),
        address: "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh".into(),
    };
    assert!(
        ballast_chain::VenueDepositAddress::fetch(&junk, "USDC", "LOCAL")
            .await
            .is_err()
    );
    // Nothing refused reached the journal.
    assert!(journal.open_tx_intents(&net.name).unwrap().is_empty());
    assert!(journal.audit_since(0, 100).unwrap().is_empty());
    // Our other account is a fine destination.
    let ok = chain
        .transfer(&send("h", "USDC", Destination::Own(net.other)))
        .await
        .unwrap();
    net.settle(chain.as_ref(), &ok.intent_id).await;
    assert_eq!(net.balance("USDC", net.other).await, dec("1"));
    // Withdrawals from venues only to the allow-list (our accounts by default).
    assert_eq!(
        chain.withdrawal_address(&net.other.to_string()).unwrap(),
        net.other
    );
    assert!(matches!(
        chain.withdrawal_address(&stranger.to_string()),
        Err(ChainError::DestinationRefused { .. })
    ));
    assert!(chain.withdrawal_address("0x1234").is_err());
}

on_both!(
    destinations,
    destinations_are_enforced,
    "arbitrum",
    Opts::new(31001)
);

// ---------------------------------------------------------------------------------------------------------

/// A failing node is reported per chain with a typed error, and the health record says so.
async fn failing_rpc_is_reported(net: Net) {
    let chain = net.client(net.journal()).await;
    chain.balances(None).await.unwrap();
    assert!(chain.health().ok());
    match &net.backend {
        chain_support::Backend::Hardhat(node) => node.stop(),
        chain_support::Backend::Sim { ledger, .. } => {
            ledger.set_failing(Some("connection refused".into()))
        }
    }
    let e = chain.balances(None).await.unwrap_err();
    assert!(e.chain_unavailable(), "{e}");
    assert_eq!(e.chain(), net.name);
    assert!(matches!(e, ChainError::Rpc { .. }));
    assert!(!chain.health().ok());
    let e = chain.transfer(&own(&net, "x", "1")).await.unwrap_err();
    assert!(e.chain_unavailable(), "{e}");
    if let chain_support::Backend::Sim { ledger, clock } = &net.backend {
        ledger.set_failing(None);
        chain.balances(None).await.unwrap();
        assert!(chain.health().ok());
        // A head older than `stale_after` is stale: no new moves from this chain.
        let mut cfg = net.chain_cfg().clone();
        cfg.stale_after = Some(Duration::from_secs(10));
        let strict = net
            .client_with(&cfg, net.journal(), Role::Treasury, None)
            .await
            .unwrap();
        strict.head().await.unwrap();
        ledger.pause();
        clock.advance(60_000);
        match strict.balances(None).await {
            Err(e @ ChainError::Stale { .. }) => assert!(e.chain_unavailable()),
            other => panic!("{other:?}"),
        }
        assert!(!strict.health().ok());
    }
}

on_both!(
    failing_rpc,
    failing_rpc_is_reported,
    "arbitrum",
    Opts {
        own_node: true,
        ..Opts::new(31003)
    }
);

// ---------------------------------------------------------------------------------------------------------

/// Across two chains: our deposit on chain A is seen and credited once by a venue's deposit watcher;
/// the venue's payer pays a withdrawal on chain B, which our side detects as an arrival matched by hash
/// and by amount, once confirmed.
async fn arrivals_across_two_chains(a: Net, b: Net) {
    // Chain A: our deposit to the venue.
    let venue_dep = random_address();
    a.mint("USDC", a.us.address(), "500").await;
    let chain_a = a.client(a.journal()).await;
    let start_a = chain_a.head().await.unwrap().number + 1;
    let mut watcher = DepositWatcher::new(chain_a.clone(), vec!["USDC".into()], start_a);
    watcher.watch(venue_dep);
    let dep = TransferRequest {
        key: "leg:9:deposit".into(),
        from: None,
        asset: "USDC".into(),
        amount: dec("100"),
        to: Destination::VenueDeposit(deposit_address("binance", venue_dep, "USDC").await),
    };
    let r = chain_a.transfer(&dep).await.unwrap();
    let mut credited = Vec::new();
    let mut saw_pending = false;
    for _ in 0..10 {
        let u = watcher.poll().await.unwrap();
        saw_pending |= !u.pending.is_empty();
        credited.extend(u.credited);
        if !credited.is_empty() {
            break;
        }
        a.mine(1).await;
    }
    assert!(saw_pending, "seen before it was confirmed");
    assert_eq!(credited.len(), 1);
    let c = &credited[0];
    assert_eq!(c.tx_hash, r.candidates[0]);
    assert_eq!(c.amount, dec("100"));
    assert_eq!(c.to, venue_dep);
    assert!(c.confirmations >= 2 && c.confirmed);
    a.mine(2).await;
    assert!(
        watcher.poll().await.unwrap().credited.is_empty(),
        "credited once"
    );

    // Chain B: the venue pays a withdrawal out of its hot wallet (b.us) to our account (b.other).
    b.mint("DAI", b.us.address(), "1000").await;
    let venue_chain = b
        .client_with(b.chain_cfg(), b.journal(), Role::VenuePayer, None)
        .await
        .unwrap();
    let payer = Payer::new(venue_chain, None);
    let ours_dir = tempfile::tempdir().unwrap();
    let ours = b
        .client(ballast_store::Journal::open(ours_dir.path().join("ours.db")).unwrap())
        .await;
    let dest = ours.withdrawal_address(&b.other.to_string()).unwrap();
    let from_block = ours.head().await.unwrap().number + 1;
    let paid = payer.pay("wd-1", "DAI", dec("99.5"), dest).await.unwrap();
    let hash = paid.candidates[0];
    let mut expected = ExpectedArrival {
        tx_hash: None,
        to: dest,
        min_amount: dec("99"),
        max_amount: dec("99.5"),
        from_block,
        not_before_ms: None,
        not_after_ms: None,
    };
    let query = ArrivalQuery {
        asset: "DAI".into(),
        to: vec![dest],
        from_block,
        to_block: None,
    };
    let claimed = HashSet::new();
    let mut matched = None;
    for _ in 0..10 {
        let arrivals = ours.arrivals(&query).await.unwrap();
        if let Some(m) = match_arrival(&expected, &arrivals, &claimed) {
            matched = Some(m.clone());
            break;
        }
        b.mine(1).await;
    }
    let m = matched.expect("the withdrawal arrived");
    assert_eq!(m.tx_hash, hash);
    assert_eq!(m.amount, dec("99.5"));
    assert_eq!(m.from, b.us.address());
    assert!(m.confirmations >= 2);
    expected.tx_hash = Some(hash);
    let arrivals = ours.arrivals(&query).await.unwrap();
    assert_eq!(
        match_arrival(&expected, &arrivals, &claimed).map(|a| a.key()),
        Some(m.key())
    );
    // Paying the same withdrawal again pays nothing more.
    let again = payer.pay("wd-1", "DAI", dec("99.5"), dest).await.unwrap();
    assert_eq!(again.intent_id, paid.intent_id);
    assert!(matches!(
        payer.status("wd-1").await.unwrap().status,
        TxStatus::Confirmed { .. }
    ));
    b.mine(2).await;
    assert_eq!(b.balance("DAI", dest).await, dec("99.5"));
    assert_eq!(ours.arrivals(&query).await.unwrap().len(), 1);
    // A treasury client does not pay out to arbitrary addresses.
    assert!(matches!(
        Payer::new(ours.clone(), None)
            .pay("wd-2", "DAI", dec("1"), random_address())
            .await,
        Err(ChainError::DestinationRefused { .. })
    ));
}

mod cross_chain {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hardhat() {
        let Some(a) = Net::hardhat("arbitrum", Opts::new(31011)).await else {
            return;
        };
        let Some(b) = Net::hardhat("optimism", Opts::new(31012)).await else {
            return;
        };
        arrivals_across_two_chains(a, b).await;
    }

    #[tokio::test]
    async fn sim() {
        arrivals_across_two_chains(
            Net::sim("arbitrum", Opts::new(31011)),
            Net::sim("optimism", Opts::new(31012)),
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------------------------
// Crashes. On hardhat the crash is a real process death: the test re-runs this binary as a child
// (`crash_child`), which connects with the key from its environment and calls `std::process::abort()` from
// the failpoint; the parent then recovers from the journal. On the simulator the failpoint panics inside the
// task running the transfer, which drops the client mid-way; the ledger and the journal live on.

fn stage_matches(stage: &str, s: &SendStage) -> bool {
    matches!(
        (stage, s),
        ("journaled", SendStage::Journaled { .. }) | ("broadcast", SendStage::Broadcast { .. })
    )
}

fn crash_request(key: &str, to: ballast_chain::VenueDepositAddress) -> TransferRequest {
    TransferRequest {
        key: key.into(),
        from: None,
        asset: "USDC".into(),
        amount: dec("120"),
        to: Destination::VenueDeposit(to),
    }
}

/// The child half of the hardhat crash tests: runs only when started by `crash_and_recover`.
#[tokio::test]
#[ignore = "run as a child process by the crash tests"]
async fn crash_child() {
    let (Ok(stage), Ok(config), Ok(journal), Ok(to), Ok(key)) = (
        std::env::var("BALLAST_CRASH_STAGE"),
        std::env::var("BALLAST_CRASH_CONFIG"),
        std::env::var("BALLAST_CRASH_JOURNAL"),
        std::env::var("BALLAST_CRASH_TO"),
        std::env::var("BALLAST_CRASH_REQ"),
    ) else {
        eprintln!("crash_child: not started by a crash test; nothing to do");
        return;
    };
    let config = ballast_config::Config::load(&config).unwrap();
    let journal = ballast_store::Journal::open(&journal).unwrap();
    let ctx = ballast_chain::ChainContext::from_config(
        &config,
        journal,
        Arc::new(ballast_exec::SystemClock),
        "crash-child",
    );
    let mut chain =
        ballast_chain::EvmChain::connect(&config.chains[0], ctx, &ballast_chain::keys::process_env)
            .await
            .unwrap();
    chain.set_failpoint(Arc::new(move |s: &SendStage| {
        if stage_matches(&stage, s) {
            std::process::abort();
        }
    }));
    let to = deposit_address("binance", to.parse().unwrap(), "USDC").await;
    let r = chain.transfer(&crash_request(&key, to)).await;
    eprintln!("crash_child: the failpoint was not reached: {r:?}");
    std::process::exit(3);
}

async fn crash(net: &Net, stage: &'static str, key: &str, to: Address) {
    match &net.backend {
        chain_support::Backend::Hardhat(_) => {
            use std::os::unix::process::ExitStatusExt;
            let config = net.dir.path().join("chain.toml");
            chain_support::write_config(net, &config);
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--ignored", "--exact", "crash_child", "--nocapture"])
                .env("BALLAST_CRASH_STAGE", stage)
                .env("BALLAST_CRASH_CONFIG", &config)
                .env("BALLAST_CRASH_JOURNAL", net.journal_path())
                .env("BALLAST_CRASH_TO", to.to_string())
                .env("BALLAST_CRASH_REQ", key)
                .env("BALLAST_CRASH_KEY", hex::encode(net.us.to_bytes()))
                .output()
                .unwrap();
            assert_eq!(
                out.status.signal(),
                Some(6),
                "the child must die by abort() at {stage}: {:?}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        chain_support::Backend::Sim { .. } => {
            let fp: Failpoint = Arc::new(move |s: &SendStage| {
                if stage_matches(stage, s) {
                    panic!("simulated crash at {stage}");
                }
            });
            let chain = net
                .client_with(net.chain_cfg(), net.journal(), Role::Treasury, Some(fp))
                .await
                .unwrap();
            let req = crash_request(key, deposit_address("binance", to, "USDC").await);
            let joined = tokio::spawn(async move { chain.transfer(&req).await }).await;
            assert!(
                joined.as_ref().is_err_and(|e| e.is_panic()),
                "the transfer must die at {stage}: {joined:?}"
            );
        }
    }
}

async fn crash_and_recover(net: Net, stage: &'static str) {
    let us = net.us.address();
    net.mint("USDC", us, "300").await;
    let venue_addr = random_address();
    let key = format!("crash:{stage}");
    crash(&net, stage, &key, venue_addr).await;

    let journal = net.journal();
    let id = IntentId::derive(&net.name, net.chain_cfg().chain_id, &key);
    let rec = journal
        .tx_intent(id.as_str())
        .unwrap()
        .expect("journaled before the crash");
    let hash = rec.candidates[0].hash.clone();
    match stage {
        "journaled" => {
            assert_eq!(rec.state, IntentState::Signed);
            net.mine(2).await;
            assert_eq!(
                net.balance("USDC", venue_addr).await,
                Decimal::ZERO,
                "nothing was sent before the crash"
            );
        }
        _ => assert_eq!(rec.state, IntentState::Broadcast),
    }

    // Restart: recover from the journal.
    let chain = net.client(journal.clone()).await;
    let reports = chain.recover().await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].intent_id, id);
    let fin = net.settle(chain.as_ref(), &id).await;
    let TxStatus::Confirmed { hash: mined, .. } = fin.status else {
        panic!("{:?}", fin.status)
    };
    assert_eq!(
        format!("{mined:#x}"),
        hash,
        "the journaled transaction was mined"
    );
    // Retrying the same transfer after the restart sends nothing.
    let again = chain
        .transfer(&crash_request(
            &key,
            deposit_address("binance", venue_addr, "USDC").await,
        ))
        .await
        .unwrap();
    assert_eq!(again.intent_id, id);
    assert!(chain.recover().await.unwrap().is_empty());
    net.mine(3).await;
    assert_eq!(
        net.balance("USDC", venue_addr).await,
        dec("120"),
        "the recipient was paid exactly once"
    );
    assert_eq!(net.balance("USDC", us).await, dec("180"));
    journal.integrity_check().unwrap();
    // The account's next transfer uses the next nonce: no gap, no reuse.
    let next = chain
        .transfer(&own(&net, "after-crash", "1"))
        .await
        .unwrap();
    assert_eq!(next.nonce, 1);
}

async fn crash_after_journal(net: Net) {
    crash_and_recover(net, "journaled").await;
}

async fn crash_after_broadcast(net: Net) {
    crash_and_recover(net, "broadcast").await;
}

on_both!(
    crash_between_journal_and_broadcast,
    crash_after_journal,
    "arbitrum",
    Opts::new(31001)
);
on_both!(
    crash_between_broadcast_and_receipt,
    crash_after_broadcast,
    "arbitrum",
    Opts::new(31001)
);

// ---------------------------------------------------------------------------------------------------------

/// The native asset moves too, and gas is paid on top.
async fn native_transfer(net: Net) {
    let journal = net.journal();
    let chain = net.client(journal.clone()).await;
    let before = chain.balances(None).await.unwrap();
    let r = chain
        .transfer(&TransferRequest {
            key: "gas-topup".into(),
            from: None,
            asset: "ETH".into(),
            amount: dec("0.5"),
            to: Destination::Own(net.other),
        })
        .await
        .unwrap();
    assert!(matches!(
        net.settle(chain.as_ref(), &r.intent_id).await.status,
        TxStatus::Confirmed { .. }
    ));
    let after = chain.balances(None).await.unwrap();
    assert_eq!(after.get(net.other, "ETH"), Some(dec("0.5")));
    let spent =
        before.get(net.us.address(), "ETH").unwrap() - after.get(net.us.address(), "ETH").unwrap();
    assert!(
        spent > dec("0.5") && spent < dec("0.51"),
        "0.5 plus gas: {spent}"
    );
    let rec = journal.tx_intent(r.intent_id.as_str()).unwrap().unwrap();
    assert_eq!(rec.intent.token, None);
    assert_eq!(rec.intent.amount_raw, "500000000000000000");
}

on_both!(native, native_transfer, "arbitrum", Opts::new(31001));

/// Two transfers that together spend more than the balance: the second is either refused up front (the
/// node estimates on the pending state) or mined and reverted; the recipient is paid once, the nonce is
/// never reused.
async fn overspend_moves_once(net: Net) {
    let us = net.us.address();
    net.mint("USDC", us, "100").await;
    let journal = net.journal();
    let chain = net.client(journal.clone()).await;
    let venue_addr = random_address();
    let dep = deposit_address("binance", venue_addr, "USDC").await;
    let req = |key: &str| TransferRequest {
        key: key.into(),
        from: None,
        asset: "USDC".into(),
        amount: dec("80"),
        to: Destination::VenueDeposit(dep.clone()),
    };
    net.hold_blocks().await;
    let first = chain.transfer(&req("over:1")).await.unwrap();
    let second = chain.transfer(&req("over:2")).await;
    net.release_blocks().await;
    net.mine(1).await;
    let f = net.settle(chain.as_ref(), &first.intent_id).await;
    assert!(
        matches!(f.status, TxStatus::Confirmed { .. }),
        "{:?}",
        f.status
    );
    match second {
        Err(ChainError::WouldRevert { .. }) => {
            assert!(
                journal
                    .tx_intent(
                        IntentId::derive(&net.name, net.chain_cfg().chain_id, "over:2").as_str()
                    )
                    .unwrap()
                    .is_none()
            );
        }
        Ok(r) => {
            assert_eq!(r.nonce, first.nonce + 1);
            let s = net.settle(chain.as_ref(), &r.intent_id).await;
            assert!(
                matches!(s.status, TxStatus::Reverted { .. }),
                "{:?}",
                s.status
            );
            let rec = journal.tx_intent(r.intent_id.as_str()).unwrap().unwrap();
            assert_eq!(rec.state, IntentState::Reverted);
        }
        Err(e) => panic!("{e}"),
    }
    assert_eq!(net.balance("USDC", venue_addr).await, dec("80"));
    assert_eq!(net.balance("USDC", us).await, dec("20"));
    let next = chain.transfer(&own(&net, "over:3", "20")).await.unwrap();
    assert_eq!(
        net.settle(chain.as_ref(), &next.intent_id).await.nonce,
        next.nonce
    );
    assert_eq!(net.balance("USDC", us).await, dec("0"));
    journal.integrity_check().unwrap();
}

on_both!(
    overspend,
    overspend_moves_once,
    "arbitrum",
    Opts {
        own_node: true,
        ..Opts::new(31004)
    }
);

/// A client whose journal lease was taken over cannot start a transfer: the fence is checked in the same
/// transaction that would journal it, so nothing is journaled or broadcast.
#[tokio::test]
async fn a_fenced_client_sends_nothing() {
    let net = Net::sim("arbitrum", Opts::new(31001));
    net.mint("USDC", net.us.address(), "10").await;
    let journal = net.journal();
    let old = journal
        .acquire_lease(
            "daemon",
            "old",
            "0123456789ab",
            10_000,
            chain_support::START_MS,
        )
        .unwrap();
    let mut ctx = net.context(journal.clone(), Role::Treasury);
    ctx.fence = Some(old.fence());
    let chain = ballast_chain::ChainClient::open(
        net.chain_cfg(),
        match &net.backend {
            chain_support::Backend::Sim { ledger, .. } => ledger.clone(),
            chain_support::Backend::Hardhat(_) => unreachable!(),
        },
        ctx,
        [net.us.clone()],
    )
    .await
    .unwrap();
    let r = chain.transfer(&own(&net, "fenced:1", "1")).await.unwrap();
    net.settle(&chain, &r.intent_id).await;
    // Another daemon takes the lease over after the expiry.
    net.wait(Duration::from_secs(11)).await;
    journal
        .acquire_lease(
            "daemon",
            "new",
            "0123456789ab",
            10_000,
            chain_support::START_MS + 11_000,
        )
        .unwrap();
    match chain.transfer(&own(&net, "fenced:2", "1")).await {
        Err(ChainError::Journal {
            source: ballast_store::StoreError::Fenced { .. },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let id = IntentId::derive(&net.name, net.chain_cfg().chain_id, "fenced:2");
    assert!(journal.tx_intent(id.as_str()).unwrap().is_none());
    net.mine(5).await;
    assert_eq!(net.balance("USDC", net.other).await, dec("1"));
    if let chain_support::Backend::Sim { ledger, .. } = &net.backend {
        assert_eq!(ledger.pool_len(), 0);
    }
}
