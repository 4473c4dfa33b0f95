//! Paper mode links each local venue server to the simulated chains with the server's own bridge (the one
//! `ballast venues serve` runs). The Hyperliquid path, which no shipped route drives: USDC sent from our
//! Arbitrum account to the bridge address is credited to our perp balance once confirmed, and a withdraw3
//! is paid out on Arbitrum from the venue's hot wallet, net of its 1 USDC fee, exactly once.

mod service_support;

use std::time::Duration;

use ballast_chain::{Destination, TransferRequest, VenueDepositAddress};
use ballast_exec::{TransferKind, TransferState, WithdrawRequest};
use ballast_service::Service;
use rust_decimal::Decimal;
use service_support::*;

/// The demo configuration (paper mode, Hyperliquid and Binance, five simulated chains) without its
/// recorded flows, so that only the test moves the Arbitrum balance, and with its journal in `dir`.
fn demo_without_flows(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
        "/config/demo.toml"
    ))
    .unwrap()
    .lines()
    .filter(|l| !l.starts_with("flows ") && !l.starts_with("flow_step "))
    .map(|l| {
        if l.starts_with("journal = ") {
            format!("journal = {:?}", dir.join("j.db").display().to_string())
        } else {
            l.to_string()
        }
    })
    .collect::<Vec<_>>()
    .join("\n");
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("flows")) && text.contains("j.db"),
        "config/demo.toml changed shape: its flows and journal lines are no longer found"
    );
    write_config(dir, &text)
}

async fn arbitrum_usdc(svc: &Service) -> Decimal {
    let arb = &svc.world.chains["arbitrum"];
    let snap = arb.chain.balances(None).await.unwrap();
    snap.get(arb.account, "USDC").unwrap_or_default()
}

/// Our perp USDC on the local Hyperliquid server (what bridge deposits credit and withdraw3 draws from).
fn perp_usdc(svc: &Service) -> Decimal {
    let us = svc.world.chains["arbitrum"].account;
    svc.world.paper.as_ref().unwrap().hyperliquid[0].with_state(|s| s.perp_usdc(&us))
}

/// Poll `f` every 100 ms until it holds, for at most 20 s.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(tokio::time::Instant::now() < end, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyperliquid_deposits_and_withdrawals_cross_the_paper_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let svc = start(&demo_without_flows(dir.path())).await;
    let hl = svc.world.venues["hyperliquid"].venue.inner().clone();
    let arb = &svc.world.chains["arbitrum"];
    let chain_before = arbitrum_usdc(&svc).await;
    let perp_before = perp_usdc(&svc);

    // Deposit: 5,000 USDC to the bridge address the venue names.
    let to = VenueDepositAddress::fetch(hl.as_ref(), "USDC", "ARBITRUM")
        .await
        .unwrap();
    let amount = Decimal::from(5_000);
    arb.chain
        .transfer(&TransferRequest {
            key: "test:hl-deposit".into(),
            from: None,
            asset: "USDC".into(),
            amount,
            to: Destination::VenueDeposit(to),
        })
        .await
        .unwrap();
    eventually(
        "the deposit is credited to the sender's perp USDC",
        || async { perp_usdc(&svc) == perp_before + amount },
    )
    .await;
    assert_eq!(arbitrum_usdc(&svc).await, chain_before - amount);

    // Withdrawal: 2,000 USDC back to our own account; the chain receives 1,999.
    let id = hl
        .withdraw(&WithdrawRequest {
            asset: "USDC".into(),
            network: "ARBITRUM".into(),
            address: format!("{:#x}", arb.account),
            amount: Decimal::from(2_000),
            client_id: "test:hl-withdraw".into(),
        })
        .await
        .unwrap();
    let expected = chain_before - amount + Decimal::from(1_999);
    eventually("the withdrawal is paid out on Arbitrum", || async {
        arbitrum_usdc(&svc).await == expected
    })
    .await;
    assert_eq!(perp_usdc(&svc), perp_before + Decimal::from(3_000));
    let w = hl
        .transfers_since(0)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.kind == TransferKind::Withdrawal && t.id == id)
        .expect("the withdrawal is in the venue's ledger");
    assert_eq!(w.state, TransferState::Completed);

    // Paid once: later polls of the bridge send nothing more.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(arbitrum_usdc(&svc).await, expected);
}
