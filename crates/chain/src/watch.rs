//! Building blocks for the local venue servers' chain side, over any [`Chain`] (so they run on a real
//! local node and on the simulated ledger alike):
//!
//! - [`DepositWatcher`]: watches a chain for ERC20 transfers to a venue's deposit addresses and reports
//!   each one while it gathers confirmations, then once as a credit;
//! - [`Payer`]: pays a withdrawal out of a venue's hot wallet, idempotently by withdrawal id, and reports
//!   the transaction hash.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use alloy::primitives::{Address, B256};
use rust_decimal::Decimal;

use super::{
    Arrival, ArrivalQuery, Chain, ChainError, Destination, IntentId, TransferRequest, TxReport,
};

/// What one poll of a [`DepositWatcher`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepositUpdate {
    /// Seen, still short of the chain's confirmations (reported at every poll until credited).
    pub pending: Vec<Arrival>,
    /// Reached the confirmations in this poll: credit them (each transfer appears here exactly once).
    pub credited: Vec<Arrival>,
}

/// Watches one chain for transfers of some assets to a set of deposit addresses.
pub struct DepositWatcher {
    chain: Arc<dyn Chain>,
    assets: Vec<String>,
    addresses: Vec<Address>,
    /// Next block not yet scanned, per asset.
    scan_from: BTreeMap<String, u64>,
    /// Seen and not yet credited: rescanned from the earliest of them (a reorg may move or drop them).
    unconfirmed: BTreeMap<(B256, u64), u64>,
    credited: HashSet<(B256, u64)>,
}

impl DepositWatcher {
    /// Watch `assets` on `chain` from block `from_block` on.
    pub fn new(chain: Arc<dyn Chain>, assets: Vec<String>, from_block: u64) -> DepositWatcher {
        let scan_from = assets.iter().map(|a| (a.clone(), from_block)).collect();
        DepositWatcher {
            chain,
            assets,
            addresses: Vec::new(),
            scan_from,
            unconfirmed: BTreeMap::new(),
            credited: HashSet::new(),
        }
    }

    /// Add a deposit address.
    pub fn watch(&mut self, address: Address) {
        if !self.addresses.contains(&address) {
            self.addresses.push(address);
        }
    }

    pub fn addresses(&self) -> &[Address] {
        &self.addresses
    }

    /// Scan the new blocks (and the unconfirmed ones again).
    pub async fn poll(&mut self) -> Result<DepositUpdate, ChainError> {
        let mut out = DepositUpdate::default();
        if self.addresses.is_empty() {
            return Ok(out);
        }
        let head = self.chain.head().await?.number;
        let rescan = self.unconfirmed.values().min().copied();
        for asset in self.assets.clone() {
            let from = self.scan_from[&asset];
            let from = rescan.map_or(from, |r| r.min(from));
            if from > head {
                continue;
            }
            let found = self
                .chain
                .arrivals(&ArrivalQuery {
                    asset: asset.clone(),
                    to: self.addresses.clone(),
                    from_block: from,
                    to_block: Some(head),
                })
                .await?;
            for a in found {
                if self.credited.contains(&a.key()) {
                    continue;
                }
                if a.confirmed {
                    self.unconfirmed.remove(&a.key());
                    self.credited.insert(a.key());
                    out.credited.push(a);
                } else {
                    self.unconfirmed.insert(a.key(), a.block);
                    out.pending.push(a);
                }
            }
            self.scan_from.insert(asset, head + 1);
        }
        // Unconfirmed transfers that vanished from the rescanned range were reorged out.
        let seen: HashSet<(B256, u64)> = out.pending.iter().map(Arrival::key).collect();
        self.unconfirmed.retain(|k, _| seen.contains(k));
        Ok(out)
    }
}

/// Pays withdrawals from a venue's hot wallet (a chain client built with
/// [`super::Role::VenuePayer`]; any other client refuses payouts).
pub struct Payer {
    chain: Arc<dyn Chain>,
    from: Option<Address>,
}

impl Payer {
    /// Pay from `from` (the first signing account when `None`).
    pub fn new(chain: Arc<dyn Chain>, from: Option<Address>) -> Payer {
        Payer { chain, from }
    }

    fn key(withdrawal_id: &str) -> String {
        format!("payout:{withdrawal_id}")
    }

    /// Send `amount` of `asset` to `to` for the venue's withdrawal `withdrawal_id`. Calling again with the
    /// same id returns the same transfer (journaled) and never pays twice.
    pub async fn pay(
        &self,
        withdrawal_id: &str,
        asset: &str,
        amount: Decimal,
        to: Address,
    ) -> Result<TxReport, ChainError> {
        self.chain
            .transfer(&TransferRequest {
                key: Self::key(withdrawal_id),
                from: self.from,
                asset: asset.to_string(),
                amount,
                to: Destination::Payout(to),
            })
            .await
    }

    /// Where the payout of `withdrawal_id` stands (advancing it: a stuck payout is replaced).
    pub async fn status(&self, withdrawal_id: &str) -> Result<TxReport, ChainError> {
        let id = IntentId::derive(
            self.chain.name(),
            self.chain.chain_id(),
            &Self::key(withdrawal_id),
        );
        super::advance(self.chain.as_ref(), &id).await
    }
}
