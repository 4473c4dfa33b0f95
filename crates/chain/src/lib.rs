//! Chains: balances, transfers and arrivals on EVM chains, behind one [`Chain`] interface.
//!
//! Two implementations share every rule that matters for money:
//! - [`EvmChain`]: a real node over JSON-RPC (alloy);
//! - [`SimChain`]: an in-process ledger ([`sim::SimLedger`]) that accepts the same signed transactions,
//!   with blocks, fees, nonces, a mempool with replacement rules and receipts after N blocks, driven by an
//!   [`ballast_exec::Clock`] (paper mode, the demo, tests).
//!
//! Both are a [`ChainClient`] over a low-level [`rpc::Rpc`], so signing, nonce management, the journal
//! discipline and replacement are one piece of code:
//!
//! 1. the transaction is signed locally;
//! 2. its hash, raw bytes, nonce and intent are written to the journal (`store::txlog`), under a
//!    deterministic intent id, **before** it is broadcast;
//! 3. it is broadcast; a restart rebroadcasts the identical bytes (same hash) or finds the receipt;
//! 4. a stuck transaction is replaced at the same nonce with bumped fees within the configured cap, the
//!    replacement journaled first; whichever candidate is mined wins.
//!
//! Destinations are typed: a deposit goes only to an address a configured venue returned
//! ([`VenueDepositAddress`]), other transfers only to our own accounts or the allow-list, and venue payouts
//! only from a client built for a venue's hot wallet ([`Role::VenuePayer`]).

pub mod abi;
pub mod client;
pub mod evm;
pub mod keys;
pub mod rpc;
mod sim;
pub mod watch;

use std::collections::HashSet;
use std::fmt;

use alloy::primitives::{Address, B256, U256};
use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};

use ballast_core::model::TimestampMs;
use ballast_exec::{Venue, VenueError};
use ballast_store::StoreError;

pub use client::{ChainClient, ChainContext, Role, SendStage};
pub use evm::{EvmChain, EvmRpc};
pub use sim::{SimChain, SimLedger, SimParams};

/// Everything a chain operation can fail with. Each names the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The node could not be reached or answered with an error (transport, timeout, 5xx). The chain is
    /// unavailable: no new moves from it until it answers again.
    #[error("chain {chain}: RPC failed: {reason}")]
    Rpc { chain: String, reason: String },
    /// The node answers but its head is too old.
    #[error("chain {chain}: stale: head block {block} is {age_ms} ms old (limit {limit_ms} ms)")]
    Stale {
        chain: String,
        block: u64,
        age_ms: i64,
        limit_ms: i64,
    },
    #[error("chain {chain}: the node is chain id {actual}, the configuration says {configured}")]
    WrongChainId {
        chain: String,
        configured: u64,
        actual: u64,
    },
    #[error(
        "chain {chain}: token {asset} at {token}: decimals() is {onchain} on chain, the configuration says {configured}"
    )]
    DecimalsMismatch {
        chain: String,
        asset: String,
        token: Address,
        configured: u8,
        onchain: u8,
    },
    #[error("chain {chain}: asset {asset} is not configured on this chain")]
    UnknownAsset { chain: String, asset: String },
    #[error(
        "chain {chain}: amount {amount} {asset} is not a positive amount with at most {decimals} decimals"
    )]
    BadAmount {
        chain: String,
        asset: String,
        amount: Decimal,
        decimals: u32,
    },
    #[error("chain {chain}: a raw amount of {raw} {asset} does not fit a decimal")]
    AmountOverflow {
        chain: String,
        asset: String,
        raw: U256,
    },
    #[error("chain {chain}: account {account} has no signing key")]
    NoSigner { chain: String, account: Address },
    /// A key could not be loaded. Never contains the key.
    #[error("chain {chain}: signing key of {account}: {reason}")]
    Key {
        chain: String,
        account: String,
        reason: String,
    },
    #[error("chain {chain}: deposit refused: venue {venue:?} is not in the configuration")]
    UnknownVenue { chain: String, venue: String },
    #[error("chain {chain}: destination {address} refused: {reason}")]
    DestinationRefused {
        chain: String,
        address: String,
        reason: String,
    },
    #[error("chain {chain}: intent {intent_id} exists with other parameters ({diff})")]
    IntentConflict {
        chain: String,
        intent_id: String,
        diff: String,
    },
    #[error(
        "chain {chain}: the base fee {base_fee} wei is above the cap of {cap} wei; not sending"
    )]
    FeesAboveCap {
        chain: String,
        base_fee: u128,
        cap: u128,
    },
    #[error(
        "chain {chain}: cannot replace {intent_id}: a replacement needs max fee {needed} wei and priority fee {needed_priority} wei, the caps are {cap} and {priority_cap} wei"
    )]
    FeeCapReached {
        chain: String,
        intent_id: String,
        needed: u128,
        needed_priority: u128,
        cap: u128,
        priority_cap: u128,
    },
    /// The node refused the transaction for good (it did not happen).
    #[error("chain {chain}: the node refused the transaction: {reason}")]
    Refused { chain: String, reason: String },
    #[error("chain {chain}: the transfer would revert: {reason}")]
    WouldRevert { chain: String, reason: String },
    #[error("chain {chain}: unknown intent {intent_id}")]
    UnknownIntent { chain: String, intent_id: String },
    #[error("chain {chain}: {source}")]
    Journal {
        chain: String,
        #[source]
        source: StoreError,
    },
}

impl ChainError {
    /// The chain the error is about.
    pub fn chain(&self) -> &str {
        match self {
            ChainError::Rpc { chain, .. }
            | ChainError::Stale { chain, .. }
            | ChainError::WrongChainId { chain, .. }
            | ChainError::DecimalsMismatch { chain, .. }
            | ChainError::UnknownAsset { chain, .. }
            | ChainError::BadAmount { chain, .. }
            | ChainError::AmountOverflow { chain, .. }
            | ChainError::NoSigner { chain, .. }
            | ChainError::Key { chain, .. }
            | ChainError::UnknownVenue { chain, .. }
            | ChainError::DestinationRefused { chain, .. }
            | ChainError::IntentConflict { chain, .. }
            | ChainError::FeesAboveCap { chain, .. }
            | ChainError::FeeCapReached { chain, .. }
            | ChainError::Refused { chain, .. }
            | ChainError::WouldRevert { chain, .. }
            | ChainError::UnknownIntent { chain, .. }
            | ChainError::Journal { chain, .. } => chain,
        }
    }

    /// The chain cannot be trusted right now (failing, stale or the wrong chain): block new moves from it.
    pub fn chain_unavailable(&self) -> bool {
        matches!(
            self,
            ChainError::Rpc { .. } | ChainError::Stale { .. } | ChainError::WrongChainId { .. }
        )
    }
}

/// A block head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Head {
    pub number: u64,
    pub timestamp_ms: TimestampMs,
    /// Base fee of this block (EIP-1559), wei.
    pub base_fee: Option<u128>,
}

/// What the client last saw of its chain, for the service to block moves from a failing chain.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ChainHealth {
    /// Time of the last successful node answer.
    pub last_ok_ms: Option<TimestampMs>,
    /// The last head seen.
    pub head: Option<u64>,
    /// Set while the last call failed; cleared by the next success.
    pub error: Option<String>,
}

impl ChainHealth {
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.last_ok_ms.is_some()
    }
}

/// One balance in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountBalance {
    pub account: Address,
    pub asset: String,
    pub amount: Decimal,
    #[serde(skip)]
    pub raw: U256,
}

/// Balances of every configured account, native and tokens, all read at one block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BalanceSnapshot {
    pub chain: String,
    pub block: u64,
    pub block_time_ms: TimestampMs,
    pub balances: Vec<AccountBalance>,
}

impl BalanceSnapshot {
    pub fn get(&self, account: Address, asset: &str) -> Option<Decimal> {
        self.balances
            .iter()
            .find(|b| b.account == account && b.asset == asset)
            .map(|b| b.amount)
    }

    /// Sum over our accounts.
    pub fn total(&self, asset: &str) -> Decimal {
        self.balances
            .iter()
            .filter(|b| b.asset == asset)
            .map(|b| b.amount)
            .sum()
    }
}

/// A token's decimals as read from its contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenCheck {
    pub asset: String,
    pub token: Address,
    pub decimals: u8,
}

/// A deposit address a venue returned for an asset and network. It can only be made by asking a venue
/// ([`VenueDepositAddress::fetch`]), so a deposit can never go to an address typed in or computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VenueDepositAddress {
    venue: String,
    asset: String,
    network: String,
    address: Address,
}

impl VenueDepositAddress {
    /// Ask `venue` for its deposit address; the answer must be a well-formed, non-zero EVM address.
    pub async fn fetch(
        venue: &dyn Venue,
        asset: &str,
        network: &str,
    ) -> Result<VenueDepositAddress, VenueError> {
        let text = venue.deposit_address(asset, network).await?;
        let address = ballast_config::chains::parse_address(&text)
            .ok()
            .filter(|a| *a != Address::ZERO)
            .ok_or_else(|| VenueError::Rejected {
                venue: venue.name().to_string(),
                code: None,
                reason: format!(
                    "deposit address {text:?} for {asset} on {network} is not a valid EVM address"
                ),
                kind: ballast_exec::RejectKind::Other,
            })?;
        Ok(VenueDepositAddress {
            venue: venue.name().to_string(),
            asset: asset.to_string(),
            network: network.to_string(),
            address,
        })
    }

    pub fn venue(&self) -> &str {
        &self.venue
    }
    pub fn asset(&self) -> &str {
        &self.asset
    }
    pub fn network(&self) -> &str {
        &self.network
    }
    pub fn address(&self) -> Address {
        self.address
    }
}

/// Where a transfer goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A deposit address a configured venue returned.
    VenueDeposit(VenueDepositAddress),
    /// One of our accounts on this chain, or an address on its withdrawal allow-list.
    Own(Address),
    /// A payout from a venue's hot wallet to a customer (local venue servers); only a client built with
    /// [`Role::VenuePayer`] accepts it.
    Payout(Address),
}

impl Destination {
    pub fn address(&self) -> Address {
        match self {
            Destination::VenueDeposit(v) => v.address,
            Destination::Own(a) | Destination::Payout(a) => *a,
        }
    }

    fn purpose(&self) -> &'static str {
        match self {
            Destination::VenueDeposit(_) => "venue_deposit",
            Destination::Own(_) => "own",
            Destination::Payout(_) => "payout",
        }
    }
}

/// A transfer to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRequest {
    /// The caller's deterministic key for this transfer (e.g. `leg:42:deposit`). The same key always names
    /// the same transfer: asking again returns it instead of sending a second one.
    pub key: String,
    /// Sending account; the first signing account when `None`.
    pub from: Option<Address>,
    pub asset: String,
    /// In asset units; at most the asset's decimals.
    pub amount: Decimal,
    pub to: Destination,
}

/// The deterministic id of a transfer intent on a chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct IntentId(String);

impl IntentId {
    /// Derive the id from the chain and the caller's key.
    pub fn derive(chain: &str, chain_id: u64, key: &str) -> IntentId {
        let mut h = Sha256::new();
        h.update(b"ballast/tx-intent/v1\0");
        h.update(chain.as_bytes());
        h.update([0]);
        h.update(chain_id.to_be_bytes());
        h.update(key.as_bytes());
        IntentId(format!("tx-{}", hex::encode(&h.finalize()[..16])))
    }

    pub fn from_journal(s: impl Into<String>) -> IntentId {
        IntentId(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a transfer stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TxStatus {
    /// Signed and journaled, not (known to be) broadcast yet.
    Signed { hash: B256 },
    /// Broadcast, not mined. `stuck` once it has waited longer than `replace_after`.
    Pending {
        hash: B256,
        since_ms: TimestampMs,
        stuck: bool,
    },
    /// Mined, waiting for confirmations.
    Included {
        hash: B256,
        block: u64,
        confirmations: u64,
    },
    /// Mined, succeeded, confirmed: the funds moved.
    Confirmed { hash: B256, block: u64 },
    /// Mined and reverted: the nonce is used, the funds did not move.
    Reverted { hash: B256, block: u64 },
    /// None of the candidates can be mined any more (the node refused it, or the nonce was used by another
    /// transaction). The funds did not move.
    Dropped { reason: String },
}

impl TxStatus {
    /// Still in flight.
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            TxStatus::Signed { .. } | TxStatus::Pending { .. } | TxStatus::Included { .. }
        )
    }

    /// The candidate that was mined, if any.
    pub fn mined_hash(&self) -> Option<B256> {
        match self {
            TxStatus::Included { hash, .. }
            | TxStatus::Confirmed { hash, .. }
            | TxStatus::Reverted { hash, .. } => Some(*hash),
            _ => None,
        }
    }
}

/// A transfer intent and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TxReport {
    pub intent_id: IntentId,
    pub chain: String,
    pub from: Address,
    pub nonce: u64,
    pub to: Address,
    pub asset: String,
    pub amount: Decimal,
    /// Every signed candidate, first to latest.
    pub candidates: Vec<B256>,
    pub status: TxStatus,
}

/// An ERC20 Transfer to one of the watched addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Arrival {
    pub chain: String,
    pub tx_hash: B256,
    pub log_index: u64,
    pub block: u64,
    pub block_time_ms: Option<TimestampMs>,
    pub asset: String,
    pub token: Address,
    pub from: Address,
    pub to: Address,
    pub amount: Decimal,
    /// Blocks on top of the including block, itself counted.
    pub confirmations: u64,
    /// `confirmations` reached the chain's requirement.
    pub confirmed: bool,
}

impl Arrival {
    /// Unique per transfer event.
    pub fn key(&self) -> (B256, u64) {
        (self.tx_hash, self.log_index)
    }
}

/// Which transfers to look for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrivalQuery {
    pub asset: String,
    /// Recipients.
    pub to: Vec<Address>,
    pub from_block: u64,
    /// Up to the head when `None`.
    pub to_block: Option<u64>,
}

/// What an expected incoming transfer looks like (a withdrawal from a venue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedArrival {
    /// The transaction hash, when the venue reported it.
    pub tx_hash: Option<B256>,
    pub to: Address,
    /// Accepted amount range (the venue's fee may be taken from the amount).
    pub min_amount: Decimal,
    pub max_amount: Decimal,
    /// Block window: transfers before `from_block` are older than the request.
    pub from_block: u64,
    /// Time window on block timestamps, when known.
    pub not_before_ms: Option<TimestampMs>,
    pub not_after_ms: Option<TimestampMs>,
}

/// The arrival that completes `expected`, never one already claimed by another expectation: by tx hash
/// when known, otherwise the earliest transfer to the address within the amount range and the windows.
/// Only confirmed arrivals count.
pub fn match_arrival<'a>(
    expected: &ExpectedArrival,
    arrivals: &'a [Arrival],
    claimed: &HashSet<(B256, u64)>,
) -> Option<&'a Arrival> {
    let fits = |a: &&Arrival| {
        a.confirmed
            && a.to == expected.to
            && !claimed.contains(&a.key())
            && a.amount >= expected.min_amount
            && a.amount <= expected.max_amount
            && a.block >= expected.from_block
    };
    if let Some(h) = expected.tx_hash {
        return arrivals.iter().filter(fits).find(|a| a.tx_hash == h);
    }
    arrivals
        .iter()
        .filter(fits)
        .filter(|a| match (a.block_time_ms, expected.not_before_ms) {
            (Some(t), Some(lo)) => t >= lo,
            _ => true,
        })
        .filter(|a| match (a.block_time_ms, expected.not_after_ms) {
            (Some(t), Some(hi)) => t <= hi,
            _ => true,
        })
        .min_by_key(|a| (a.block, a.log_index))
}

/// The chain interface the service uses.
#[async_trait]
pub trait Chain: Send + Sync {
    /// The configured chain name.
    fn name(&self) -> &str;
    fn chain_id(&self) -> u64;
    /// Confirmations a transfer needs.
    fn confirmations(&self) -> u64;
    /// What the client last saw of the node.
    fn health(&self) -> ChainHealth;

    /// The head block; `Stale` when older than the configured limit.
    async fn head(&self) -> Result<Head, ChainError>;

    /// Native and token balances of every configured account, read at one block: `at`, or the head.
    async fn balances(&self, at: Option<u64>) -> Result<BalanceSnapshot, ChainError>;

    /// Read every token's `decimals()` and compare with the configuration.
    async fn check_tokens(&self) -> Result<Vec<TokenCheck>, ChainError>;

    /// Sign, journal, then broadcast a transfer. Idempotent by `req.key`: the same key returns the
    /// journaled transfer and never sends a second one.
    async fn transfer(&self, req: &TransferRequest) -> Result<TxReport, ChainError>;

    /// Where a transfer stands: looks up receipts of every candidate, records the outcome once it has the
    /// confirmations, and rebroadcasts the latest candidate when the node does not know it.
    async fn status(&self, intent: &IntentId) -> Result<TxReport, ChainError>;

    /// Replace a pending transfer with a fee-bumped one at the same nonce (journaled first), within the
    /// caps. A transfer that is no longer pending is returned as it is.
    async fn replace(&self, intent: &IntentId) -> Result<TxReport, ChainError>;

    /// On start: the status of every journaled transfer still open on this chain (rebroadcasting what a
    /// crash left unsent).
    async fn recover(&self) -> Result<Vec<TxReport>, ChainError>;

    /// ERC20 transfers of `q.asset` to `q.to` in the block range, with their confirmations.
    async fn arrivals(&self, q: &ArrivalQuery) -> Result<Vec<Arrival>, ChainError>;

    /// Check an address a venue may be asked to withdraw to: it must be on this chain's allow-list.
    fn withdrawal_address(&self, address: &str) -> Result<Address, ChainError>;
}

/// A configured chain, connected.
pub struct Connected {
    pub chain: std::sync::Arc<dyn Chain>,
    /// The simulated ledger behind a `kind = "sim"` chain (to fund it in paper mode and the demo).
    pub ledger: Option<std::sync::Arc<SimLedger>>,
}

/// Connect a `[[chain]]` section: a JSON-RPC node for `kind = "evm"`, a new simulated ledger on `ctx`'s
/// clock for `kind = "sim"`. Keys come from the configuration (`env` reads the environment variables).
pub async fn connect(
    cfg: &ballast_config::chains::ChainCfg,
    ctx: ChainContext,
    env: keys::EnvLookup<'_>,
) -> Result<Connected, ChainError> {
    use ballast_config::chains::ChainKind;
    Ok(match cfg.kind {
        ChainKind::Evm => Connected {
            chain: std::sync::Arc::new(EvmChain::connect(cfg, ctx, env).await?),
            ledger: None,
        },
        ChainKind::Sim => {
            let ledger = SimLedger::for_chain(cfg, ctx.clock.clone());
            let chain = ChainClient::open_configured(cfg, ledger.clone(), ctx, env).await?;
            Connected {
                chain: std::sync::Arc::new(chain),
                ledger: Some(ledger),
            }
        }
    })
}

/// One step of a transfer's life: the status, and a replacement once it is stuck.
pub async fn advance(chain: &dyn Chain, intent: &IntentId) -> Result<TxReport, ChainError> {
    let r = chain.status(intent).await?;
    match r.status {
        TxStatus::Pending { stuck: true, .. } => chain.replace(intent).await,
        _ => Ok(r),
    }
}

/// Amount in asset units to the token's smallest unit. `None` when negative, zero or too precise.
pub fn to_raw(amount: Decimal, decimals: u32) -> Option<U256> {
    if amount <= Decimal::ZERO {
        return None;
    }
    let n = amount.normalize();
    if n.scale() > decimals {
        return None;
    }
    let mantissa = U256::from(n.mantissa().unsigned_abs());
    Some(mantissa * U256::from(10u8).pow(U256::from(decimals - n.scale())))
}

/// The smallest unit back to asset units. `None` when it does not fit a decimal (above 2^96 units).
pub fn from_raw(raw: U256, decimals: u32) -> Option<Decimal> {
    let m: u128 = raw.try_into().ok()?;
    if decimals > 28 {
        return None;
    }
    Decimal::try_from_i128_with_scale(i128::try_from(m).ok()?, decimals)
        .ok()
        .map(|d| d.normalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn raw_amounts_are_exact() {
        assert_eq!(
            to_raw(Decimal::new(1_5, 1), 6),
            Some(U256::from(1_500_000u64))
        );
        assert_eq!(to_raw(Decimal::new(1, 6), 6), Some(U256::from(1u64)));
        assert_eq!(to_raw(Decimal::new(1, 7), 6), None);
        assert_eq!(
            to_raw(Decimal::new(10_000_000, 7), 6),
            Some(U256::from(1_000_000u64))
        );
        assert_eq!(to_raw(Decimal::ZERO, 6), None);
        assert_eq!(to_raw(Decimal::new(-1, 0), 6), None);
        assert_eq!(
            to_raw(Decimal::from(1000), 18),
            Some(U256::from(10u8).pow(U256::from(21u8)))
        );
        assert_eq!(
            from_raw(U256::from(1_500_000u64), 6),
            Some(Decimal::new(15, 1))
        );
        assert_eq!(from_raw(U256::MAX, 18), None);
    }

    proptest! {
        #[test]
        fn raw_round_trips(m in 1u64..1_000_000_000_000_000, scale in 0u32..=18, extra in 0u32..=10) {
            let d = Decimal::new(m as i64, scale);
            let decimals = scale + extra;
            let raw = to_raw(d, decimals).unwrap();
            prop_assert_eq!(from_raw(raw, decimals), Some(d.normalize()));
        }
    }

    #[tokio::test]
    async fn a_simulated_chain_connects_from_its_config_with_dev_keys() {
        let dev = ballast_config::chains::dev_signer(3).address();
        let src = format!(
            r#"
[controller]
min_order_value = "1"
[[position]]
chain = "paper"
asset = "USDC"
target = "1"
[[chain]]
name = "paper"
kind = "sim"
chain_id = 777
[[chain.token]]
asset = "USDC"
address = "0x00000000000000000000000000000000000000aa"
decimals = 6
[[chain.account]]
address = "{dev}"
dev_key = 3
[[chain.account]]
address = "0x00000000000000000000000000000000000000bb"
"#
        );
        let cfg = ballast_config::Config::parse("paper.toml", &src).unwrap();
        let clock = ballast_exec::ManualClock::new(0);
        let ctx = ChainContext::from_config(
            &cfg,
            ballast_store::Journal::open_in_memory().unwrap(),
            std::sync::Arc::new(clock.clone()),
            "test",
        );
        let c = connect(&cfg.chains[0], ctx, &|_| None).await.unwrap();
        let ledger = c.ledger.unwrap();
        ledger.set_native(dev, U256::from(10u64).pow(U256::from(18u8)));
        ledger.mint(
            cfg.chains[0].tokens[0].address,
            dev,
            U256::from(5_000_000u64),
        );
        let other = cfg.chains[0].accounts[1].address;
        let r = c
            .chain
            .transfer(&TransferRequest {
                key: "k".into(),
                from: None,
                asset: "USDC".into(),
                amount: Decimal::new(15, 1),
                to: Destination::Own(other),
            })
            .await
            .unwrap();
        assert_eq!(r.from, dev);
        clock.advance(10_000);
        assert!(matches!(
            c.chain.status(&r.intent_id).await.unwrap().status,
            TxStatus::Confirmed { .. }
        ));
        let b = c.chain.balances(None).await.unwrap();
        assert_eq!(b.get(other, "USDC"), Some(Decimal::new(15, 1)));
    }

    #[test]
    fn intent_ids_depend_on_chain_and_key() {
        let a = IntentId::derive("arb", 42161, "leg:1:deposit");
        assert_eq!(a, IntentId::derive("arb", 42161, "leg:1:deposit"));
        assert_ne!(a, IntentId::derive("arb", 42161, "leg:2:deposit"));
        assert_ne!(a, IntentId::derive("op", 42161, "leg:1:deposit"));
        assert_ne!(a, IntentId::derive("arb", 10, "leg:1:deposit"));
        assert_eq!(a.as_str().len(), 35);
    }

    fn arrival(hash: u8, log: u64, block: u64, amount: i64, confirmed: bool) -> Arrival {
        Arrival {
            chain: "op".into(),
            tx_hash: B256::repeat_byte(hash),
            log_index: log,
            block,
            block_time_ms: Some(block as i64 * 1000),
            asset: "USDT".into(),
            token: Address::repeat_byte(9),
            from: Address::repeat_byte(1),
            to: Address::repeat_byte(2),
            amount: Decimal::from(amount),
            confirmations: if confirmed { 5 } else { 1 },
            confirmed,
        }
    }

    #[test]
    fn arrivals_match_by_hash_else_by_amount_and_window_once() {
        let arrivals = vec![
            arrival(1, 0, 10, 100, true),
            arrival(2, 0, 20, 99, true),
            arrival(3, 0, 30, 99, false),
            arrival(4, 1, 25, 99, true),
        ];
        let mut exp = ExpectedArrival {
            tx_hash: None,
            to: Address::repeat_byte(2),
            min_amount: Decimal::from(98),
            max_amount: Decimal::from(99),
            from_block: 15,
            not_before_ms: None,
            not_after_ms: None,
        };
        let mut claimed = HashSet::new();
        let a = match_arrival(&exp, &arrivals, &claimed).unwrap();
        assert_eq!(
            a.tx_hash,
            B256::repeat_byte(2),
            "earliest fitting, not the old one"
        );
        claimed.insert(a.key());
        let b = match_arrival(&exp, &arrivals, &claimed).unwrap();
        assert_eq!(b.tx_hash, B256::repeat_byte(4));
        claimed.insert(b.key());
        assert!(
            match_arrival(&exp, &arrivals, &claimed).is_none(),
            "the unconfirmed one does not count"
        );
        exp.tx_hash = Some(B256::repeat_byte(1));
        assert!(
            match_arrival(&exp, &arrivals, &HashSet::new()).is_none(),
            "by hash, still within the amount range and block window"
        );
        exp.from_block = 0;
        exp.max_amount = Decimal::from(100);
        assert_eq!(
            match_arrival(&exp, &arrivals, &HashSet::new())
                .unwrap()
                .block,
            10
        );
        exp.tx_hash = None;
        exp.not_before_ms = Some(21_000);
        exp.not_after_ms = Some(24_000);
        assert!(match_arrival(&exp, &arrivals, &HashSet::new()).is_none());
    }
}
