//! The local Hyperliquid server linked to chains ([`crate::bridge`]):
//!
//! - `ARBITRUM`: USDC sent to the bridge address is credited to the *sender's* perp USDC once confirmed (as
//!   Hyperliquid's bridge does), exactly once per chain transfer; every accepted `withdraw3` is paid out from
//!   the hot wallet (`amount - fee` to its destination), once per (user, nonce). A payout that cannot be
//!   made is refunded to the user's perp USDC.
//! - `HYPEREVM`: a linked spot token (spotMeta `evmContract`) sent to its system address (`0x20…index`) is
//!   credited to the sender's spot balance; every `spotSend` to a system address is paid out to the sender's
//!   own HyperEVM address. On the real chain the system address itself transfers the ERC-20; here the hot
//!   wallet pays, so the arrival comes from another sender (ballast matches arrivals by token, amount and
//!   block, never by sender). A payout that cannot be made is refunded to the user's spot balance.
//!
//! Hyperliquid's ledger shows no chain transaction hash for withdrawals, so nothing is reported back.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use alloy::primitives::Address;
use rust_decimal::Decimal;

use super::{Shared, lock};
use crate::bridge::{
    Bridge, BridgeChain, BridgeHandle, ChainCredit, ChainPayout, DepositOwner, VenueLedger,
};

/// The network of the USDC bridge.
pub const NETWORK: &str = "ARBITRUM";
/// HyperEVM: linked spot tokens cross through their system addresses.
pub const EVM_NETWORK: &str = ballast_venue_hyperliquid::wallet::EVM_NETWORK;

/// What the server remembers of its chain side (lives as long as the server).
pub(super) struct ChainSide {
    instance: String,
    credited: HashSet<String>,
    /// Withdrawals (user, nonce) whose payout is done or given up.
    settled: HashSet<(Address, u64)>,
    /// HyperEVM sends (ledger sequence) whose payout is done or given up.
    evm_settled: HashSet<u64>,
    watch_from: BTreeMap<String, u64>,
}

impl ChainSide {
    pub(super) fn new() -> ChainSide {
        ChainSide {
            instance: format!("{:016x}", rand::random::<u64>()),
            credited: HashSet::new(),
            settled: HashSet::new(),
            evm_settled: HashSet::new(),
            watch_from: BTreeMap::new(),
        }
    }
}

/// The local Hyperliquid server's accounts as a chain bridge sees them.
pub struct HlLedger {
    shared: Arc<Shared>,
    bridge_address: Address,
    instance: String,
}

impl HlLedger {
    pub(super) fn new(shared: Arc<Shared>, bridge_address: Address) -> HlLedger {
        let instance = lock(&shared.chain).instance.clone();
        HlLedger {
            shared,
            bridge_address,
            instance,
        }
    }

    fn withdrawal_id(user: &Address, nonce: u64) -> String {
        format!("{user:#x}:{nonce}")
    }

    fn evm_seq(id: &str) -> Option<u64> {
        id.strip_prefix("evm:")?.parse().ok()
    }

    fn parse_id(id: &str) -> Option<(Address, u64)> {
        let (u, n) = id.split_once(':')?;
        Some((u.parse().ok()?, n.parse().ok()?))
    }
}

impl VenueLedger for HlLedger {
    fn venue(&self) -> &str {
        "hyperliquid"
    }

    fn instance(&self) -> &str {
        &self.instance
    }

    fn deposit_addresses(&self, network: &str, assets: &[String]) -> Vec<(String, DepositOwner)> {
        if network == EVM_NETWORK {
            let st = lock(&self.shared.state);
            return assets
                .iter()
                .filter_map(|a| st.engine.evm_link(a))
                .map(|(index, _)| {
                    let system = ballast_venue_hyperliquid::wallet::system_address(index);
                    (format!("{system:#x}"), DepositOwner::Sender)
                })
                .collect();
        }
        if network == NETWORK && assets.iter().any(|a| a == "USDC") {
            vec![(format!("{:#x}", self.bridge_address), DepositOwner::Sender)]
        } else {
            Vec::new()
        }
    }

    fn credit(&self, c: &ChainCredit) -> Result<Option<String>, String> {
        if c.network == EVM_NETWORK {
            let from: Address = c
                .account
                .parse()
                .map_err(|_| format!("{:?} is not an address", c.account))?;
            if lock(&self.shared.chain).credited.contains(&c.key) {
                return Ok(None);
            }
            let now = self.shared.clock.now_ms();
            lock(&self.shared.state).evm_credit(from, &c.asset, c.amount, now)?;
            lock(&self.shared.chain).credited.insert(c.key.clone());
            return Ok(Some(c.key.clone()));
        }
        if c.asset != "USDC" {
            return Err(format!("the bridge takes only USDC, not {}", c.asset));
        }
        let from: Address = c
            .account
            .parse()
            .map_err(|_| format!("{:?} is not an address", c.account))?;
        if !lock(&self.shared.chain).credited.insert(c.key.clone()) {
            return Ok(None);
        }
        let now = self.shared.clock.now_ms();
        lock(&self.shared.state).deposit(from, c.amount, now);
        Ok(Some(c.key.clone()))
    }

    fn to_pay(&self, network: &str) -> Vec<ChainPayout> {
        if network == EVM_NETWORK {
            let settled = lock(&self.shared.chain).evm_settled.clone();
            return lock(&self.shared.state)
                .evm_sends
                .iter()
                .filter(|e| !settled.contains(&e.seq))
                .map(|e| ChainPayout {
                    id: format!("evm:{}", e.seq),
                    account: format!("{:#x}", e.user),
                    asset: e.token.clone(),
                    network: EVM_NETWORK.into(),
                    address: format!("{:#x}", e.user),
                    amount: e.amount,
                })
                .collect();
        }
        if network != NETWORK {
            return Vec::new();
        }
        let settled = lock(&self.shared.chain).settled.clone();
        lock(&self.shared.state)
            .withdrawals
            .iter()
            .filter(|w| !settled.contains(&(w.user, w.nonce)))
            .map(|w| ChainPayout {
                id: Self::withdrawal_id(&w.user, w.nonce),
                account: format!("{:#x}", w.user),
                asset: "USDC".into(),
                network: NETWORK.into(),
                address: format!("{:#x}", w.destination),
                amount: w.amount - w.fee,
            })
            .collect()
    }

    fn sent(&self, _id: &str, _tx_hash: &str) {}

    fn paid(&self, id: &str, _tx_hash: &str) -> bool {
        if let Some(seq) = Self::evm_seq(id) {
            return lock(&self.shared.chain).evm_settled.insert(seq);
        }
        Self::parse_id(id).is_some_and(|k| lock(&self.shared.chain).settled.insert(k))
    }

    fn failed(&self, id: &str, reason: &str) -> bool {
        if let Some(seq) = Self::evm_seq(id) {
            if !lock(&self.shared.chain).evm_settled.insert(seq) {
                return false;
            }
            let mut st = lock(&self.shared.state);
            let Some(e) = st.evm_sends.iter().find(|e| e.seq == seq).cloned() else {
                return false;
            };
            let _ = st.evm_credit(e.user, &e.token, e.amount, self.shared.clock.now_ms());
            tracing::warn!(send = %id, %reason, "HyperEVM send refunded: the payout cannot be made");
            return true;
        }
        let Some((user, nonce)) = Self::parse_id(id) else {
            return false;
        };
        if !lock(&self.shared.chain).settled.insert((user, nonce)) {
            return false;
        }
        let mut st = lock(&self.shared.state);
        let amount: Decimal = st
            .withdrawals
            .iter()
            .find(|w| w.user == user && w.nonce == nonce)
            .map_or(Decimal::ZERO, |w| w.amount);
        if let Some(u) = st.users.get_mut(&user) {
            u.perp += amount;
        }
        tracing::warn!(withdrawal = %id, %reason, "hyperliquid withdrawal refunded: the payout cannot be made");
        true
    }

    fn watch_from(&self, chain: &str, head: u64) -> u64 {
        *lock(&self.shared.chain)
            .watch_from
            .entry(chain.to_string())
            .or_insert(head)
    }
}

impl super::ServerHandle {
    /// The server's accounts for a chain bridge; deposits go to `bridge_address` on the `ARBITRUM` link.
    pub fn ledger(&self, bridge_address: Address) -> Arc<HlLedger> {
        Arc::new(HlLedger::new(self.shared.clone(), bridge_address))
    }

    /// Link the server to its chain (a [`BridgeChain`] with network `ARBITRUM`): deposits to
    /// `bridge_address` are credited to their sender, withdrawals are paid out. Polls every `every` until
    /// the handle is stopped or dropped.
    pub fn bridge(
        &self,
        bridge_address: Address,
        chains: Vec<BridgeChain>,
        every: std::time::Duration,
    ) -> BridgeHandle {
        Bridge::new(self.ledger(bridge_address), chains).spawn(every)
    }
}
