//! The chain side of the local venue servers: what a real venue does with its hot wallets, over any
//! [`Chain`] (a simulated ledger in paper mode, a hardhat node in tests).
//!
//! - Binance: every transfer to the account's deposit address on a network is credited once it has its
//!   confirmations (`ServerHandle::deposit`, with the transaction hash); every withdrawal the server pays
//!   out is sent from the venue's hot wallet on the network's chain (`amount - fee`), idempotently by
//!   withdrawal id.
//! - Hyperliquid: USDC sent to the bridge contract on Arbitrum is credited to the sender's perp balance;
//!   every accepted `withdraw3` is paid from the hot wallet to its destination (`amount - fee`).
//!
//! [`Bridge::run`] polls until its handle is dropped; failures (a chain down) are logged and retried, a
//! payout is never sent twice (the payer journals it under the withdrawal id).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use rust_decimal::Decimal;

use crate::chain::watch::{DepositWatcher, Payer};
use crate::chain::{Chain, ChainError};
use crate::venue::binance::server::ServerHandle as BnHandle;
use crate::venue::hyperliquid::server::ServerHandle as HlHandle;

/// One network of a Binance server, wired to a chain.
pub struct BinanceNetwork {
    /// The venue's network name (e.g. `ARBITRUM`).
    pub network: String,
    /// Assets of the network that are deposited and withdrawn.
    pub assets: Vec<String>,
    /// Our side: the chain as the venue sees it (any client; only read).
    pub chain: Arc<dyn Chain>,
    /// The venue's hot wallet on that chain (a client with `Role::VenuePayer`).
    pub payer: Arc<dyn Chain>,
}

/// The Hyperliquid bridge on Arbitrum.
pub struct HyperliquidBridge {
    pub bridge_address: Address,
    pub chain: Arc<dyn Chain>,
    pub payer: Arc<dyn Chain>,
}

/// What a bridge moves between a venue server and chains.
pub enum Bridge {
    Binance {
        server: Arc<BnHandle>,
        account: String,
        networks: Vec<BinanceNetwork>,
    },
    Hyperliquid {
        server: Arc<HlHandle>,
        bridge: HyperliquidBridge,
    },
}

/// A payout still to send (or to retry).
#[derive(Clone, Debug)]
struct Due {
    id: String,
    chain: usize,
    asset: String,
    amount: Decimal,
    to: Address,
}

async fn pay(payers: &[Payer], due: &Due) -> Result<(), ChainError> {
    payers[due.chain]
        .pay(&due.id, &due.asset, due.amount, due.to)
        .await
        .map(|_| ())
}

impl Bridge {
    /// Poll the chains and the server every `every` until the returned task is aborted.
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move { self.run(every).await })
    }

    /// The polling loop.
    pub async fn run(self, every: Duration) {
        match self {
            Bridge::Binance {
                server,
                account,
                networks,
            } => run_binance(server, account, networks, every).await,
            Bridge::Hyperliquid { server, bridge } => run_hyperliquid(server, bridge, every).await,
        }
    }
}

async fn watcher_from_head(chain: Arc<dyn Chain>, assets: Vec<String>) -> DepositWatcher {
    // Start at the current head (retrying while the chain is down): earlier blocks hold no deposits of
    // this venue's run.
    loop {
        match chain.head().await {
            Ok(h) => return DepositWatcher::new(chain, assets, h.number),
            Err(e) => {
                tracing::warn!("venue bridge: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn run_binance(
    server: Arc<BnHandle>,
    account: String,
    networks: Vec<BinanceNetwork>,
    every: Duration,
) {
    let mut watchers = Vec::new();
    let mut payers = Vec::new();
    for n in &networks {
        let mut w = watcher_from_head(n.chain.clone(), n.assets.clone()).await;
        let addrs: BTreeSet<String> = n
            .assets
            .iter()
            .filter_map(|a| {
                server.with_exchange(|ex| ex.deposit_address(&account, a, &n.network).ok())
            })
            .collect();
        for a in addrs {
            if let Ok(addr) = a.parse::<Address>() {
                w.watch(addr);
            }
        }
        watchers.push(w);
        payers.push(Payer::new(n.payer.clone(), None));
    }
    let by_network: BTreeMap<String, usize> = networks
        .iter()
        .enumerate()
        .map(|(i, n)| (n.network.clone(), i))
        .collect();
    let mut payouts = server.payouts();
    let mut due: VecDeque<Due> = VecDeque::new();
    let mut iv = tokio::time::interval(every);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        iv.tick().await;
        for (i, w) in watchers.iter_mut().enumerate() {
            match w.poll().await {
                Ok(u) => {
                    for a in u.credited {
                        let r = server.deposit(
                            &account,
                            &a.asset,
                            &networks[i].network,
                            a.amount,
                            Some(format!("{:#x}", a.tx_hash)),
                        );
                        match r {
                            Ok(id) => {
                                tracing::debug!(venue = "binance", deposit = %id, amount = %a.amount, asset = %a.asset, "deposit seen on chain, crediting")
                            }
                            Err(e) => {
                                tracing::warn!(venue = "binance", "deposit not credited: {}", e.msg)
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!("binance bridge: {e}"),
            }
        }
        loop {
            match payouts.try_recv() {
                Ok(p) => match by_network.get(&p.network) {
                    Some(&chain) => due.push_back(Due {
                        id: format!("binance-{}", p.id),
                        chain,
                        asset: p.asset.clone(),
                        amount: p.amount - p.fee,
                        to: p.address.parse().unwrap_or(Address::ZERO),
                    }),
                    None => tracing::warn!(
                        network = %p.network,
                        "binance bridge: withdrawal to a network without a chain; not paid"
                    ),
                },
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                    tracing::error!("binance bridge: {n} payouts missed")
                }
                Err(_) => break,
            }
        }
        pay_due(&payers, &mut due).await;
    }
}

async fn pay_due(payers: &[Payer], due: &mut VecDeque<Due>) {
    let mut retry = VecDeque::new();
    while let Some(d) = due.pop_front() {
        match pay(payers, &d).await {
            Ok(()) => {
                tracing::debug!(payout = %d.id, amount = %d.amount, asset = %d.asset, "withdrawal paid out")
            }
            Err(e) if e.chain_unavailable() || matches!(e, ChainError::FeesAboveCap { .. }) => {
                retry.push_back(d)
            }
            Err(e) => tracing::error!(payout = %d.id, "withdrawal payout failed: {e}"),
        }
    }
    *due = retry;
}

async fn run_hyperliquid(server: Arc<HlHandle>, b: HyperliquidBridge, every: Duration) {
    let mut w = watcher_from_head(b.chain.clone(), vec!["USDC".into()]).await;
    w.watch(b.bridge_address);
    let payers = vec![Payer::new(b.payer.clone(), None)];
    let mut seen: BTreeSet<u64> = BTreeSet::new();
    let mut due: VecDeque<Due> = VecDeque::new();
    let mut iv = tokio::time::interval(every);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        iv.tick().await;
        match w.poll().await {
            Ok(u) => {
                for a in u.credited {
                    server.deposit(a.from, a.amount);
                }
            }
            Err(e) => tracing::debug!("hyperliquid bridge: {e}"),
        }
        for wd in server.withdrawals() {
            if seen.insert(wd.nonce) {
                due.push_back(Due {
                    id: format!("hyperliquid-{:#x}-{}", wd.user, wd.nonce),
                    chain: 0,
                    asset: "USDC".into(),
                    amount: wd.amount - wd.fee,
                    to: wd.destination,
                });
            }
        }
        pay_due(&payers, &mut due).await;
    }
}
