//! The chain bridge of the local venue servers: connects a venue's account ledger to real (or simulated)
//! chains, so a deposit -> swap -> withdraw leg runs end to end against a local server.
//!
//! Per bridged network (a venue network name such as `ARBITRUM` and the [`Chain`] that carries it):
//!
//! - **Deposits.** A [`DepositWatcher`] watches every account's deposit address; a transfer that reached the
//!   chain's confirmations is credited to the account that owns the address, **exactly once**: the ledger
//!   itself refuses a second credit of the same transfer (`chain:tx_hash:log_index`), so a bridge that is
//!   restarted and scans the same blocks again credits nothing twice.
//! - **Withdrawals.** A withdrawal on a bridged network stays pending on the venue until its payout is final
//!   on the chain. The bridge pays `amount - fee` from the venue's hot wallet through a [`Payer`]
//!   (journaled before broadcast, idempotent by withdrawal id: a restarted bridge finds the journaled
//!   transfer and never pays twice), reports the transaction hash while it confirms, completes the
//!   withdrawal once the payout is confirmed, and fails it (funds back to the account) when the payout
//!   cannot be made (a refused destination, a reverted or dropped transaction).
//!
//! The venue side is the [`VenueLedger`] trait; the local Binance server implements it
//! (`venue::binance::server::Ledger`).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use rust_decimal::Decimal;

use ballast_chain::watch::{DepositWatcher, Payer};
use ballast_chain::{Arrival, Chain, ChainError, TxStatus};

/// A confirmed chain transfer to a deposit address, to credit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainCredit {
    pub account: String,
    pub asset: String,
    /// The venue's network name.
    pub network: String,
    pub amount: Decimal,
    /// `0x`-prefixed transaction hash (what the deposit history shows as `txId`).
    pub tx_hash: String,
    /// Unique per chain transfer: `chain:tx_hash:log_index`.
    pub key: String,
}

/// A withdrawal the venue accepted on a bridged network, to pay out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainPayout {
    /// The venue's withdrawal id.
    pub id: String,
    pub account: String,
    pub asset: String,
    pub network: String,
    pub address: String,
    /// What the chain receives (the withdrawal net of the venue's fee).
    pub amount: Decimal,
}

/// Whose a deposit to a watched address is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DepositOwner {
    /// The account the address belongs to (Binance: one deposit address per account and network).
    Account(String),
    /// The sending address, as `0x` + 40 lowercase hex (Hyperliquid's bridge credits the sender).
    Sender,
}

/// The venue side of a bridge: the server's accounts, deposit addresses and withdrawals.
pub trait VenueLedger: Send + Sync {
    /// The venue's name (in payout keys and logs).
    fn venue(&self) -> &str;
    /// An id of this ledger's life: payout keys include it, so a restarted server whose withdrawal ids
    /// start over never meets an earlier server's payouts in a kept journal.
    fn instance(&self) -> &str;
    /// The deposit addresses to watch on `network` for any of `assets`, and whose a deposit to each is.
    fn deposit_addresses(&self, network: &str, assets: &[String]) -> Vec<(String, DepositOwner)>;
    /// Credit a confirmed deposit (`credit.account` is the owner's account, or the sender's address for
    /// [`DepositOwner::Sender`]). `Ok(Some(deposit id))` the first time, `Ok(None)` when this transfer
    /// (`credit.key`) was already credited.
    fn credit(&self, credit: &ChainCredit) -> Result<Option<String>, String>;
    /// Withdrawals on `network` waiting for their payout.
    fn to_pay(&self, network: &str) -> Vec<ChainPayout>;
    /// The payout of withdrawal `id` was broadcast as `tx_hash`.
    fn sent(&self, id: &str, tx_hash: &str);
    /// The payout of withdrawal `id` is confirmed: complete it. False if it was not pending.
    fn paid(&self, id: &str, tx_hash: &str) -> bool;
    /// The payout of withdrawal `id` cannot be made: fail it, releasing the funds. False if not pending.
    fn failed(&self, id: &str, reason: &str) -> bool;
    /// The first block to scan on `chain`: remembered by the ledger from the first bridge that asked
    /// (`head`), so a restarted bridge scans the same blocks again and misses nothing.
    fn watch_from(&self, chain: &str, head: u64) -> u64;
}

/// One bridged network.
pub struct BridgeChain {
    /// The venue's network name (`ARBITRUM`).
    pub network: String,
    /// The chain, as a client with [`ballast_chain::Role::VenuePayer`] (the venue's hot wallet signs).
    pub chain: Arc<dyn Chain>,
    /// Assets deposited and withdrawn over this network (configured tokens of the chain).
    pub assets: Vec<String>,
    /// The hot wallet paying withdrawals (the chain's first signing account when `None`).
    pub hot_wallet: Option<Address>,
}

struct Link {
    network: String,
    chain: Arc<dyn Chain>,
    assets: Vec<String>,
    payer: Payer,
    watcher: Option<DepositWatcher>,
    owners: BTreeMap<Address, DepositOwner>,
}

/// What one [`Bridge::poll`] did.
#[derive(Clone, Debug, Default)]
pub struct BridgeReport {
    /// Deposits credited in this poll: (deposit id, the chain transfer).
    pub credited: Vec<(String, Arrival)>,
    /// Confirmed transfers the ledger had already credited (a restarted bridge rescanning).
    pub already_credited: usize,
    /// Transfers seen, short of their confirmations.
    pub pending_deposits: usize,
    /// Withdrawals whose payout was broadcast and is confirming: (withdrawal id, hash).
    pub sending: Vec<(String, B256)>,
    /// Withdrawals completed in this poll: (withdrawal id, hash).
    pub paid: Vec<(String, B256)>,
    /// Withdrawals failed in this poll: (withdrawal id, reason).
    pub failed: Vec<(String, String)>,
    /// Problems that are retried at the next poll (a node down, the hot wallet short of funds...).
    pub errors: Vec<String>,
}

/// A payout error that retrying cannot fix.
fn permanent(e: &ChainError) -> bool {
    matches!(
        e,
        ChainError::UnknownAsset { .. }
            | ChainError::BadAmount { .. }
            | ChainError::AmountOverflow { .. }
            | ChainError::DestinationRefused { .. }
            | ChainError::IntentConflict { .. }
    )
}

/// Links a [`VenueLedger`] to its chains.
pub struct Bridge {
    ledger: Arc<dyn VenueLedger>,
    links: Vec<Link>,
}

impl Bridge {
    pub fn new(ledger: Arc<dyn VenueLedger>, chains: Vec<BridgeChain>) -> Bridge {
        let links = chains
            .into_iter()
            .map(|c| Link {
                payer: Payer::new(c.chain.clone(), c.hot_wallet),
                network: c.network,
                chain: c.chain,
                assets: c.assets,
                watcher: None,
                owners: BTreeMap::new(),
            })
            .collect();
        Bridge { ledger, links }
    }

    /// The payout key of a withdrawal (its transfer's idempotency key in the chain journal).
    pub fn payout_key(ledger: &dyn VenueLedger, withdrawal_id: &str) -> String {
        format!(
            "{}:{}:withdrawal:{withdrawal_id}",
            ledger.venue(),
            ledger.instance()
        )
    }

    /// One round over every chain: credit confirmed deposits, advance payouts. A failing chain is
    /// reported in `errors` and does not stop the others.
    pub async fn poll(&mut self) -> BridgeReport {
        let mut out = BridgeReport::default();
        for ix in 0..self.links.len() {
            if let Err(e) = self.deposits(ix, &mut out).await {
                out.errors.push(format!("deposits: {e}"));
            }
            self.payouts(ix, &mut out).await;
        }
        out
    }

    async fn deposits(&mut self, ix: usize, out: &mut BridgeReport) -> Result<(), ChainError> {
        let ledger = self.ledger.clone();
        let link = &mut self.links[ix];
        if link.watcher.is_none() {
            let head = link.chain.head().await?.number;
            let from = ledger.watch_from(link.chain.name(), head);
            link.watcher = Some(DepositWatcher::new(
                link.chain.clone(),
                link.assets.clone(),
                from,
            ));
        }
        let watcher = link.watcher.as_mut().expect("set above");
        for (addr, account) in ledger.deposit_addresses(&link.network, &link.assets) {
            match Address::from_str(&addr) {
                Ok(a) => {
                    watcher.watch(a);
                    link.owners.insert(a, account);
                }
                Err(_) => out.errors.push(format!(
                    "{}: deposit address {addr:?} ({account:?}) is not an EVM address",
                    link.network
                )),
            }
        }
        let update = watcher.poll().await?;
        out.pending_deposits += update.pending.len();
        for a in update.credited {
            let account = match link.owners.get(&a.to) {
                Some(DepositOwner::Account(name)) => name.clone(),
                Some(DepositOwner::Sender) => format!("{:#x}", a.from),
                None => continue,
            };
            let credit = ChainCredit {
                account,
                asset: a.asset.clone(),
                network: link.network.clone(),
                amount: a.amount,
                tx_hash: format!("{:#x}", a.tx_hash),
                key: format!("{}:{:#x}:{}", a.chain, a.tx_hash, a.log_index),
            };
            match ledger.credit(&credit) {
                Ok(Some(id)) => {
                    tracing::info!(venue = ledger.venue(), account = %credit.account, asset = %credit.asset, amount = %credit.amount, tx = %credit.tx_hash, "deposit credited");
                    out.credited.push((id, a));
                }
                Ok(None) => out.already_credited += 1,
                Err(e) => out.errors.push(format!(
                    "crediting {} {} to {}: {e}",
                    credit.amount, credit.asset, credit.account
                )),
            }
        }
        Ok(())
    }

    async fn payouts(&mut self, ix: usize, out: &mut BridgeReport) {
        let ledger = self.ledger.clone();
        let link = &self.links[ix];
        for w in ledger.to_pay(&link.network) {
            if !link.assets.contains(&w.asset) {
                continue;
            }
            let Ok(to) = Address::from_str(&w.address) else {
                let reason = format!("{:?} is not an EVM address", w.address);
                ledger.failed(&w.id, &reason);
                out.failed.push((w.id, reason));
                continue;
            };
            let key = Self::payout_key(ledger.as_ref(), &w.id);
            let report = match link.payer.pay(&key, &w.asset, w.amount, to).await {
                Ok(r) => match r.status {
                    TxStatus::Pending { stuck: true, .. } => link.payer.status(&key).await,
                    _ => Ok(r),
                },
                Err(e) => Err(e),
            };
            match report {
                Ok(r) => match r.status {
                    TxStatus::Confirmed { hash, .. } => {
                        if ledger.paid(&w.id, &format!("{hash:#x}")) {
                            tracing::info!(venue = ledger.venue(), withdrawal = %w.id, tx = %hash, "withdrawal paid out");
                            out.paid.push((w.id, hash));
                        }
                    }
                    TxStatus::Reverted { hash, .. } => {
                        let reason = format!("payout {hash:#x} reverted");
                        ledger.failed(&w.id, &reason);
                        out.failed.push((w.id, reason));
                    }
                    TxStatus::Dropped { reason } => {
                        let reason = format!("payout dropped: {reason}");
                        ledger.failed(&w.id, &reason);
                        out.failed.push((w.id, reason));
                    }
                    TxStatus::Signed { hash }
                    | TxStatus::Pending { hash, .. }
                    | TxStatus::Included { hash, .. } => {
                        ledger.sent(&w.id, &format!("{hash:#x}"));
                        out.sending.push((w.id, hash));
                    }
                },
                Err(e) if permanent(&e) => {
                    let reason = e.to_string();
                    tracing::warn!(venue = ledger.venue(), withdrawal = %w.id, %reason, "withdrawal cannot be paid out");
                    ledger.failed(&w.id, &reason);
                    out.failed.push((w.id, reason));
                }
                Err(e) => out.errors.push(format!("withdrawal {}: {e}", w.id)),
            }
        }
    }

    /// Poll every `every` in a background task until the handle is stopped or dropped.
    pub fn spawn(mut self, every: Duration) -> BridgeHandle {
        let task = tokio::spawn(async move {
            let mut iv = tokio::time::interval(every);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                iv.tick().await;
                let r = self.poll().await;
                for e in &r.errors {
                    tracing::warn!(venue = self.ledger.venue(), "bridge: {e}");
                }
            }
        });
        BridgeHandle { task: Some(task) }
    }
}

/// A bridge polling in the background; dropping the handle stops it.
pub struct BridgeHandle {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl BridgeHandle {
    /// Stop at once, wherever the bridge is (as a crash would: what is journaled stays journaled).
    pub async fn stop(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for BridgeHandle {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// One `[[<venue>.bridge.link]]`: a venue network carried by a configured `[[chain]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkCfg {
    pub network: String,
    pub chain: String,
    /// Where `chain` was given, for errors found once the chains are known.
    pub chain_span: Option<std::ops::Range<usize>>,
    pub chain_path: String,
}

/// A venue server's `[<venue>.bridge]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeCfg {
    /// The journal of the hot wallets' payouts (resolved against the file's directory).
    pub journal: std::path::PathBuf,
    pub poll: Duration,
    pub links: Vec<LinkCfg>,
}

/// Read a `[<venue>.bridge]` table (the caller finishes it). `networks` are the venue's network names:
/// a link to any other is an error at its line.
pub fn read_config(
    o: &mut ballast_reader::Obj,
    d: &mut ballast_reader::Diagnostics,
    networks: &[String],
) -> Option<BridgeCfg> {
    use ballast_reader::FromField;
    let base_dir = std::path::Path::new(d.file())
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let journal: Option<String> = o.req(d, "journal");
    let mut poll = Duration::from_secs(1);
    if let Some(f) = o.field("poll")
        && let Some(p) = Duration::from_field(&f, d)
    {
        if p.is_zero() {
            f.invalid(d, "must be more than 0");
        }
        poll = p;
    }
    let mut links: Vec<LinkCfg> = Vec::new();
    match o.field("link") {
        None => d.error(
            o.span.clone(),
            format!("{}.link", o.path),
            "a bridge needs at least one [[...bridge.link]] (network = \"...\", chain = \"...\")",
        ),
        Some(f) => {
            for mut x in f.objs(d) {
                let network = x.field("network");
                let network_name = network.as_ref().and_then(|f| String::from_field(f, d));
                let chain = x.field("chain");
                let chain_name = chain.as_ref().and_then(|f| String::from_field(f, d));
                match (&network, &network_name) {
                    (None, _) => d.error(x.span.clone(), &x.path, "missing key `network`"),
                    (Some(f), Some(n)) if !networks.contains(n) => f.invalid(
                        d,
                        format!(
                            "no network {n:?} is configured on this venue (it has: {})",
                            networks.join(", ")
                        ),
                    ),
                    (Some(f), Some(n)) if links.iter().any(|l| &l.network == n) => {
                        f.invalid(d, format!("network {n:?} is bridged twice"))
                    }
                    _ => {}
                }
                if chain.is_none() {
                    d.error(x.span.clone(), &x.path, "missing key `chain`");
                }
                if let (Some(n), Some(c), Some(cf)) = (network_name, chain_name, &chain) {
                    links.push(LinkCfg {
                        network: n,
                        chain: c,
                        chain_span: cf.span.clone(),
                        chain_path: cf.path.clone(),
                    });
                }
                x.finish(d);
            }
        }
    }
    Some(BridgeCfg {
        journal: base_dir.join(journal?),
        poll,
        links,
    })
}
