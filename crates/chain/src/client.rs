//! [`ChainClient`]: the [`Chain`] implementation over any [`Rpc`], where the rules live.
//!
//! Sending, step by step (each step survives a crash after it):
//! 1. validate the asset, the amount (exact at the token's decimals) and the destination (typed rules);
//! 2. derive the intent id from the caller's key; an intent already journaled is returned, never re-sent;
//! 3. under the account's lock, pick the nonce: the node's pending count, or past the journal's highest
//!    live nonce for the account if that is higher (a journaled transaction the node lost keeps its nonce);
//! 4. fees: priority = min(node suggestion, cap), max fee = min(2 x base fee + priority, cap); refuse to
//!    send while the base fee is above the cap; gas = estimate x 1.2;
//! 5. sign locally; write intent + first candidate (hash, raw bytes, fees) to the journal in one
//!    transaction; then broadcast and mark it broadcast.
//!
//! A restart calls [`Chain::recover`]: every open intent is looked up by its candidates' receipts; one that
//! the node does not know is rebroadcast from its journaled bytes (same hash, so it can only ever be mined
//! once).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use async_trait::async_trait;
use rust_decimal::Decimal;

use super::abi::transfer_calldata;
use super::rpc::{Rpc, RpcError, SendError};
use super::{
    AccountBalance, Arrival, ArrivalQuery, BalanceSnapshot, Chain, ChainError, ChainHealth,
    Destination, Head, IntentId, TokenCheck, TransferRequest, TxReport, TxStatus, from_raw, to_raw,
};
use ballast_config::Config;
use ballast_config::chains::{ChainCfg, parse_address};
use ballast_exec::Clock;
use ballast_store::txlog::Stamp;
use ballast_store::{
    Fence, IntentState, Journal, NewTxIntent, StoreError, TxCandidate, TxIntentRecord,
};

/// What the client sends for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// ballast's own accounts: deposits to configured venues and transfers between own accounts.
    Treasury,
    /// A venue's hot wallet (local venue servers): may also pay out to any address.
    VenuePayer,
}

/// What a chain client needs besides its chain's configuration.
#[derive(Clone)]
pub struct ChainContext {
    pub journal: Journal,
    pub clock: Arc<dyn Clock>,
    /// Names of the configured venues: deposits go only to these.
    pub venues: BTreeSet<String>,
    /// `Config::version()`, stamped on every journal record.
    pub config_version: String,
    /// Who writes to the journal (daemon id).
    pub actor: String,
    /// The journal lease's fence, checked with every new intent and candidate.
    pub fence: Option<Fence>,
    pub role: Role,
}

impl ChainContext {
    /// The context of ballast's own chains under a configuration.
    pub fn from_config(
        cfg: &Config,
        journal: Journal,
        clock: Arc<dyn Clock>,
        actor: impl Into<String>,
    ) -> ChainContext {
        ChainContext {
            journal,
            clock,
            venues: cfg.venues.iter().map(|v| v.name.clone()).collect(),
            config_version: cfg.version().to_string(),
            actor: actor.into(),
            fence: None,
            role: Role::Treasury,
        }
    }
}

/// A point in a send where a test can stop the process (a crash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendStage {
    /// The candidate is in the journal, not broadcast.
    Journaled { intent: IntentId, seq: u32 },
    /// The candidate was handed to the node, the outcome not yet looked at.
    Broadcast { intent: IntentId, seq: u32 },
}

/// Called at each [`SendStage`] (tests make it abort the process or panic).
pub type Failpoint = Arc<dyn Fn(&SendStage) + Send + Sync>;

/// A chain: its configuration, a node, the keys of its accounts and the journal.
pub struct ChainClient<R: Rpc> {
    cfg: ChainCfg,
    rpc: Arc<R>,
    ctx: ChainContext,
    stamp: Stamp,
    signers: BTreeMap<Address, PrivateKeySigner>,
    locks: Mutex<HashMap<Address, Arc<tokio::sync::Mutex<()>>>>,
    health: Mutex<ChainHealth>,
    failpoint: Option<Failpoint>,
}

const GWEI: u128 = 1_000_000_000;

fn gwei_to_wei(g: Decimal) -> u128 {
    (g * Decimal::from(GWEI))
        .trunc()
        .to_string()
        .parse()
        .unwrap_or(0)
}

/// `x` raised by `bps`, rounded up.
fn bump(x: u128, bps: u32) -> u128 {
    x.saturating_mul(10_000 + u128::from(bps)).div_ceil(10_000)
}

fn hash_str(h: &B256) -> String {
    format!("{h:#x}")
}

fn addr_str(a: &Address) -> String {
    a.to_checksum(None)
}

impl<R: Rpc> ChainClient<R> {
    /// A client with the given signers (each must be one of the configured accounts).
    pub fn new(
        cfg: ChainCfg,
        rpc: Arc<R>,
        ctx: ChainContext,
        signers: impl IntoIterator<Item = PrivateKeySigner>,
    ) -> Result<Self, ChainError> {
        let mut map = BTreeMap::new();
        for s in signers {
            if !cfg.accounts.iter().any(|a| a.address == s.address()) {
                return Err(ChainError::Key {
                    chain: cfg.name.clone(),
                    account: s.address().to_string(),
                    reason: "not a configured account of this chain".into(),
                });
            }
            map.insert(s.address(), s);
        }
        let stamp = Stamp {
            actor: ctx.actor.clone(),
            config_version: ctx.config_version.clone(),
            fence: ctx.fence.clone(),
        };
        Ok(ChainClient {
            cfg,
            rpc,
            ctx,
            stamp,
            signers: map,
            locks: Mutex::new(HashMap::new()),
            health: Mutex::new(ChainHealth::default()),
            failpoint: None,
        })
    }

    /// Open a client on a node: checks that the node serves the configured chain id and that every token's
    /// `decimals()` matches the configuration (an error names the chain, the token and both values).
    pub async fn open(
        cfg: &ChainCfg,
        rpc: Arc<R>,
        ctx: ChainContext,
        signers: impl IntoIterator<Item = PrivateKeySigner>,
    ) -> Result<Self, ChainError> {
        let actual = rpc.chain_id().await.map_err(|e| ChainError::Rpc {
            chain: cfg.name.clone(),
            reason: e.to_string(),
        })?;
        if actual != cfg.chain_id {
            return Err(ChainError::WrongChainId {
                chain: cfg.name.clone(),
                configured: cfg.chain_id,
                actual,
            });
        }
        rpc.check().await.map_err(|e| ChainError::Rpc {
            chain: cfg.name.clone(),
            reason: e.to_string(),
        })?;
        let client = ChainClient::new(cfg.clone(), rpc, ctx, signers)?;
        client.check_tokens().await?;
        Ok(client)
    }

    /// [`ChainClient::open`] with the keys the configuration names (environment variables read with
    /// `env`, keystores, development keys on simulated chains).
    pub async fn open_configured(
        cfg: &ChainCfg,
        rpc: Arc<R>,
        ctx: ChainContext,
        env: super::keys::EnvLookup<'_>,
    ) -> Result<Self, ChainError> {
        let signers = super::keys::load(cfg, env)?;
        Self::open(cfg, rpc, ctx, signers.into_values()).await
    }

    /// Call `f` at each send stage (crash tests).
    pub fn set_failpoint(&mut self, f: Failpoint) {
        self.failpoint = Some(f);
    }

    /// Writes after this carry the new lease fence.
    pub fn set_fence(&mut self, fence: Option<Fence>) {
        self.stamp.fence = fence.clone();
        self.ctx.fence = fence;
    }

    pub fn config(&self) -> &ChainCfg {
        &self.cfg
    }

    /// The node (or ledger) underneath.
    pub fn rpc(&self) -> &Arc<R> {
        &self.rpc
    }

    pub fn journal(&self) -> &Journal {
        &self.ctx.journal
    }

    fn now(&self) -> i64 {
        self.ctx.clock.now_ms()
    }

    fn fail(&self, stage: SendStage) {
        if let Some(f) = &self.failpoint {
            f(&stage);
        }
    }

    /// Map a node answer to a chain error, keeping the health record.
    fn track<T>(&self, r: Result<T, RpcError>) -> Result<T, ChainError> {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        match r {
            Ok(v) => {
                h.last_ok_ms = Some(self.ctx.clock.now_ms());
                h.error = None;
                Ok(v)
            }
            Err(RpcError::Reverted(reason)) => {
                h.last_ok_ms = Some(self.ctx.clock.now_ms());
                h.error = None;
                Err(ChainError::WouldRevert {
                    chain: self.cfg.name.clone(),
                    reason,
                })
            }
            Err(e) => {
                h.error = Some(e.to_string());
                Err(ChainError::Rpc {
                    chain: self.cfg.name.clone(),
                    reason: e.to_string(),
                })
            }
        }
    }

    fn jerr(&self, source: StoreError) -> ChainError {
        ChainError::Journal {
            chain: self.cfg.name.clone(),
            source,
        }
    }

    async fn journal_call<T, F>(&self, f: F) -> Result<T, ChainError>
    where
        T: Send + 'static,
        F: FnOnce(&Journal, &Stamp) -> Result<T, StoreError> + Send + 'static,
    {
        let stamp = self.stamp.clone();
        self.ctx
            .journal
            .call(move |j| f(j, &stamp))
            .await
            .map_err(|e| self.jerr(e))
    }

    async fn load(&self, id: &IntentId) -> Result<TxIntentRecord, ChainError> {
        let key = id.as_str().to_string();
        let rec = self.journal_call(move |j, _| j.tx_intent(&key)).await?;
        match rec {
            Some(r) if r.intent.chain == self.cfg.name => Ok(r),
            _ => Err(ChainError::UnknownIntent {
                chain: self.cfg.name.clone(),
                intent_id: id.to_string(),
            }),
        }
    }

    async fn head_unchecked(&self) -> Result<Head, ChainError> {
        let h = self.track(self.rpc.head().await)?;
        self.health.lock().unwrap_or_else(|p| p.into_inner()).head = Some(h.number);
        Ok(h)
    }

    fn account_lock(&self, a: Address) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(a)
            .or_default()
            .clone()
    }

    /// Token address (None: native) and decimals of an asset.
    fn asset(&self, asset: &str) -> Result<(Option<Address>, u32), ChainError> {
        if asset == self.cfg.native_asset {
            return Ok((None, 18));
        }
        self.cfg
            .token(asset)
            .map(|t| (Some(t.address), u32::from(t.decimals)))
            .ok_or_else(|| ChainError::UnknownAsset {
                chain: self.cfg.name.clone(),
                asset: asset.to_string(),
            })
    }

    fn refuse(&self, address: Address, reason: impl Into<String>) -> ChainError {
        ChainError::DestinationRefused {
            chain: self.cfg.name.clone(),
            address: address.to_string(),
            reason: reason.into(),
        }
    }

    /// The recipient, the purpose and the venue of a destination, or why it is refused.
    fn check_destination(
        &self,
        to: &Destination,
        asset: &str,
    ) -> Result<(Address, Option<String>), ChainError> {
        let addr = to.address();
        if addr == Address::ZERO {
            return Err(self.refuse(addr, "the zero address"));
        }
        if self.cfg.tokens.iter().any(|t| t.address == addr) {
            return Err(self.refuse(addr, "a token contract, not a wallet"));
        }
        match to {
            Destination::VenueDeposit(v) => {
                if !self.ctx.venues.contains(v.venue()) {
                    return Err(ChainError::UnknownVenue {
                        chain: self.cfg.name.clone(),
                        venue: v.venue().to_string(),
                    });
                }
                if v.asset() != asset {
                    return Err(self.refuse(
                        addr,
                        format!(
                            "{} returned this address for {}, not for {asset}",
                            v.venue(),
                            v.asset()
                        ),
                    ));
                }
                Ok((addr, Some(v.venue().to_string())))
            }
            Destination::Own(a) => {
                let ours = self.cfg.accounts.iter().any(|x| x.address == *a)
                    || self.cfg.withdrawal_allowlist.contains(a);
                if !ours {
                    return Err(self.refuse(
                        addr,
                        "not one of this chain's accounts nor on its withdrawal allow-list",
                    ));
                }
                Ok((addr, None))
            }
            Destination::Payout(_) => {
                if self.ctx.role != Role::VenuePayer {
                    return Err(self.refuse(
                        addr,
                        "payouts to arbitrary addresses are only for a venue's hot wallet",
                    ));
                }
                Ok((addr, None))
            }
        }
    }

    fn report(&self, rec: &TxIntentRecord, status: TxStatus) -> TxReport {
        TxReport {
            intent_id: IntentId::from_journal(&rec.intent.intent_id),
            chain: rec.intent.chain.clone(),
            from: rec.intent.from.parse().unwrap_or(Address::ZERO),
            nonce: rec.intent.nonce,
            to: rec.intent.to.parse().unwrap_or(Address::ZERO),
            asset: rec.intent.asset.clone(),
            amount: rec.intent.amount,
            candidates: rec
                .candidates
                .iter()
                .filter_map(|c| B256::from_str(&c.hash).ok())
                .collect(),
            status,
        }
    }

    fn parse_hash(&self, s: &str) -> Result<B256, ChainError> {
        B256::from_str(s).map_err(|e| {
            self.jerr(StoreError::Corrupt {
                what: format!("hash {s}"),
                reason: e.to_string(),
            })
        })
    }

    fn caps(&self) -> (u128, u128) {
        (
            gwei_to_wei(self.cfg.max_fee_gwei),
            gwei_to_wei(self.cfg.max_priority_fee_gwei),
        )
    }

    fn sign(
        &self,
        signer: &PrivateKeySigner,
        mut tx: TxEip1559,
    ) -> Result<(B256, Vec<u8>), ChainError> {
        let sig = signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| ChainError::Key {
                chain: self.cfg.name.clone(),
                account: signer.address().to_string(),
                reason: format!("signing failed: {e}"),
            })?;
        let env = TxEnvelope::from(tx.into_signed(sig));
        Ok((*env.tx_hash(), env.encoded_2718()))
    }

    /// Hand a journaled candidate to the node and record that it was. `first`: no candidate of the intent
    /// has reached a node yet, so a refusal drops the intent (and frees its nonce).
    async fn broadcast(
        &self,
        rec: &TxIntentRecord,
        cand: &TxCandidate,
        first: bool,
    ) -> Result<(), ChainError> {
        let outcome = self.rpc.send_raw(&cand.raw).await;
        let id = rec.intent.intent_id.clone();
        match outcome {
            Ok(()) | Err(SendError::AlreadyKnown) => {
                self.track::<()>(Ok(()))?;
                let hash = cand.hash.clone();
                let now = self.now();
                self.journal_call(move |j, s| j.mark_tx_broadcast(&id, &hash, s, now))
                    .await
            }
            // One of the candidates (or something else) used the nonce: `status` sorts it out.
            Err(SendError::NonceTooLow(_)) => Ok(()),
            Err(SendError::Unknown(reason)) => self.track(Err(RpcError::Unavailable(reason))),
            Err(e @ (SendError::Underpriced(_) | SendError::Rejected(_))) => {
                self.track::<()>(Ok(()))?;
                let reason = e.to_string();
                if first {
                    let now = self.now();
                    let r = reason.clone();
                    self.journal_call(move |j, s| {
                        j.finish_tx_intent(&id, IntentState::Dropped, None, Some(&r), s, now)
                    })
                    .await?;
                }
                Err(ChainError::Refused {
                    chain: self.cfg.name.clone(),
                    reason,
                })
            }
        }
    }

    /// Record an outcome and return its status.
    async fn finish(
        &self,
        rec: &TxIntentRecord,
        state: IntentState,
        mined: Option<(B256, u64)>,
        reason: Option<String>,
    ) -> Result<TxStatus, ChainError> {
        let id = rec.intent.intent_id.clone();
        let now = self.now();
        let m = mined.map(|(h, b)| (hash_str(&h), b));
        let r = reason.clone();
        self.journal_call(move |j, s| {
            j.finish_tx_intent(
                &id,
                state,
                m.as_ref().map(|(h, b)| (h.as_str(), *b)),
                r.as_deref(),
                s,
                now,
            )
        })
        .await?;
        Ok(match (state, mined) {
            (IntentState::Confirmed, Some((hash, block))) => TxStatus::Confirmed { hash, block },
            (IntentState::Reverted, Some((hash, block))) => TxStatus::Reverted { hash, block },
            _ => TxStatus::Dropped {
                reason: reason.unwrap_or_default(),
            },
        })
    }

    /// The receipt of any candidate, newest first.
    async fn mined(
        &self,
        rec: &TxIntentRecord,
    ) -> Result<Option<(B256, super::rpc::Receipt)>, ChainError> {
        for c in rec.candidates.iter().rev() {
            let h = self.parse_hash(&c.hash)?;
            if let Some(r) = self.track(self.rpc.receipt(h).await)? {
                return Ok(Some((h, r)));
            }
        }
        Ok(None)
    }

    async fn status_of(&self, rec: &TxIntentRecord) -> Result<TxStatus, ChainError> {
        match rec.state {
            IntentState::Confirmed | IntentState::Reverted => {
                let hash = self.parse_hash(rec.mined_hash.as_deref().unwrap_or_default())?;
                let block = rec.mined_block.unwrap_or_default();
                return Ok(if rec.state == IntentState::Confirmed {
                    TxStatus::Confirmed { hash, block }
                } else {
                    TxStatus::Reverted { hash, block }
                });
            }
            IntentState::Dropped => {
                return Ok(TxStatus::Dropped {
                    reason: rec.outcome_reason.clone().unwrap_or_default(),
                });
            }
            IntentState::Signed | IntentState::Broadcast => {}
        }
        let head = self.head_unchecked().await?;
        let mut found = self.mined(rec).await?;
        if found.is_none() {
            let from: Address = rec.intent.from.parse().map_err(|_| {
                self.jerr(StoreError::Corrupt {
                    what: format!("from address of {}", rec.intent.intent_id),
                    reason: rec.intent.from.clone(),
                })
            })?;
            let mined_nonce = self.track(self.rpc.nonce(from, false).await)?;
            if mined_nonce > rec.intent.nonce {
                // The nonce is used. Look once more (a receipt may have just appeared), else ours lost.
                found = self.mined(rec).await?;
                if found.is_none() {
                    let reason = format!(
                        "nonce {} of {} was used by a transaction that is not one of the {} journaled candidates",
                        rec.intent.nonce,
                        rec.intent.from,
                        rec.candidates.len()
                    );
                    tracing::error!(chain = %self.cfg.name, intent = %rec.intent.intent_id, "{reason}");
                    return self
                        .finish(rec, IntentState::Dropped, None, Some(reason))
                        .await;
                }
            }
        }
        if let Some((hash, r)) = found {
            let confirmations = head.number.saturating_sub(r.block) + 1;
            if confirmations >= self.cfg.confirmations {
                let state = if r.success {
                    IntentState::Confirmed
                } else {
                    IntentState::Reverted
                };
                return self.finish(rec, state, Some((hash, r.block)), None).await;
            }
            return Ok(TxStatus::Included {
                hash,
                block: r.block,
                confirmations,
            });
        }
        let latest = rec.latest();
        let hash = self.parse_hash(&latest.hash)?;
        let unsent = rec.state == IntentState::Signed;
        if unsent || !self.track(self.rpc.known(hash).await)? {
            tracing::info!(chain = %self.cfg.name, intent = %rec.intent.intent_id, %hash, "rebroadcasting the journaled transaction");
            match self.broadcast(rec, latest, unsent).await {
                Ok(()) => {}
                Err(ChainError::Refused { .. }) if unsent => {
                    let rec = self
                        .load(&IntentId::from_journal(&rec.intent.intent_id))
                        .await?;
                    return Ok(TxStatus::Dropped {
                        reason: rec.outcome_reason.unwrap_or_default(),
                    });
                }
                Err(ChainError::Refused { reason, .. }) => {
                    tracing::warn!(chain = %self.cfg.name, intent = %rec.intent.intent_id, "rebroadcast refused: {reason}");
                }
                Err(e) => return Err(e),
            }
        }
        let since_ms = latest.broadcast_ms.unwrap_or(latest.created_ms);
        let age = self.now() - since_ms;
        let below_base = head.base_fee.is_some_and(|b| latest.max_fee_per_gas < b);
        Ok(TxStatus::Pending {
            hash,
            since_ms,
            stuck: below_base || age >= self.cfg.replace_after.as_millis() as i64,
        })
    }

    fn same_request(
        &self,
        rec: &TxIntentRecord,
        req: &TransferRequest,
        to: Address,
    ) -> Result<(), ChainError> {
        let mut diff = Vec::new();
        if rec.intent.asset != req.asset {
            diff.push(format!("asset {} vs {}", rec.intent.asset, req.asset));
        }
        if rec.intent.amount != req.amount {
            diff.push(format!("amount {} vs {}", rec.intent.amount, req.amount));
        }
        if rec.intent.to != addr_str(&to) {
            diff.push(format!("to {} vs {}", rec.intent.to, to));
        }
        if let Some(f) = req.from
            && rec.intent.from != addr_str(&f)
        {
            diff.push(format!("from {} vs {}", rec.intent.from, f));
        }
        if diff.is_empty() {
            Ok(())
        } else {
            Err(ChainError::IntentConflict {
                chain: self.cfg.name.clone(),
                intent_id: rec.intent.intent_id.clone(),
                diff: diff.join(", "),
            })
        }
    }

    async fn existing(&self, id: &IntentId) -> Result<Option<TxIntentRecord>, ChainError> {
        let key = id.as_str().to_string();
        self.journal_call(move |j, _| j.tx_intent(&key)).await
    }

    /// Broadcast the journaled, never-broadcast intents of an account (a crash before broadcast), so the
    /// nonces below a new one are all on their way.
    async fn send_unsent(&self, from: Address) -> Result<(), ChainError> {
        let chain = self.cfg.name.clone();
        let open = self
            .journal_call(move |j, _| j.open_tx_intents(&chain))
            .await?;
        let from = addr_str(&from);
        for rec in open
            .iter()
            .filter(|r| r.intent.from == from && r.state == IntentState::Signed)
        {
            match self.broadcast(rec, rec.latest(), true).await {
                Ok(()) | Err(ChainError::Refused { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn head_fresh(&self, h: Head) -> Result<Head, ChainError> {
        if let Some(limit) = self.cfg.stale_after {
            let age = self.now() - h.timestamp_ms;
            if age > limit.as_millis() as i64 {
                let e = ChainError::Stale {
                    chain: self.cfg.name.clone(),
                    block: h.number,
                    age_ms: age,
                    limit_ms: limit.as_millis() as i64,
                };
                self.health.lock().unwrap_or_else(|p| p.into_inner()).error = Some(e.to_string());
                return Err(e);
            }
        }
        Ok(h)
    }

    async fn send_new(
        &self,
        id: &IntentId,
        req: &TransferRequest,
        from: Address,
        to: Address,
        venue: Option<String>,
    ) -> Result<TxReport, ChainError> {
        let signer = self.signers.get(&from).ok_or(ChainError::NoSigner {
            chain: self.cfg.name.clone(),
            account: from,
        })?;
        let (token, decimals) = self.asset(&req.asset)?;
        let raw_amount = to_raw(req.amount, decimals).ok_or_else(|| ChainError::BadAmount {
            chain: self.cfg.name.clone(),
            asset: req.asset.clone(),
            amount: req.amount,
            decimals,
        })?;
        self.send_unsent(from).await?;
        let head = self.head_fresh(self.head_unchecked().await?)?;
        let pending = self.track(self.rpc.nonce(from, true).await)?;
        let (cid, f) = (self.cfg.chain_id, addr_str(&from));
        let journal_next = self
            .journal_call(move |j, _| j.max_tx_nonce(cid, &f))
            .await?
            .map(|n| n + 1)
            .unwrap_or(0);
        let nonce = pending.max(journal_next);
        let (cap, prio_cap) = self.caps();
        let base = head.base_fee.unwrap_or(0);
        if base >= cap {
            return Err(ChainError::FeesAboveCap {
                chain: self.cfg.name.clone(),
                base_fee: base,
                cap,
            });
        }
        let prio = self.track(self.rpc.priority_fee().await)?.min(prio_cap);
        let max_fee = base.saturating_mul(2).saturating_add(prio).min(cap);
        let prio = prio.min(max_fee);
        let (tx_to, value, input) = match token {
            Some(t) => (t, U256::ZERO, transfer_calldata(to, raw_amount)),
            None => (to, raw_amount, Bytes::new()),
        };
        let gas = self.track(
            self.rpc
                .estimate_gas(from, tx_to, input.clone(), value)
                .await,
        )?;
        let gas_limit = gas.saturating_mul(6).div_ceil(5);
        let tx = TxEip1559 {
            chain_id: self.cfg.chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: prio,
            to: TxKind::Call(tx_to),
            value,
            access_list: Default::default(),
            input,
        };
        let (hash, raw) = self.sign(signer, tx)?;
        let now = self.now();
        let cand = TxCandidate {
            hash: hash_str(&hash),
            seq: 0,
            raw,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: prio,
            gas_limit,
            created_ms: now,
            broadcast_ms: None,
        };
        let intent = NewTxIntent {
            intent_id: id.to_string(),
            intent_key: req.key.clone(),
            chain: self.cfg.name.clone(),
            chain_id: self.cfg.chain_id,
            from: addr_str(&from),
            nonce,
            asset: req.asset.clone(),
            token: token.map(|t| addr_str(&t)),
            to: addr_str(&to),
            amount: req.amount,
            amount_raw: raw_amount.to_string(),
            purpose: req.to.purpose().to_string(),
            venue,
            config_version: self.ctx.config_version.clone(),
        };
        let (i2, c2) = (intent.clone(), cand.clone());
        self.journal_call(move |j, s| j.record_tx_intent(&i2, &c2, s, now))
            .await?;
        tracing::info!(chain = %self.cfg.name, intent = %id, %hash, nonce, "transfer signed and journaled");
        self.fail(SendStage::Journaled {
            intent: id.clone(),
            seq: 0,
        });
        let rec = self.load(id).await?;
        self.broadcast(&rec, &cand, true).await?;
        self.fail(SendStage::Broadcast {
            intent: id.clone(),
            seq: 0,
        });
        let rec = self.load(id).await?;
        let status = self.status_of(&rec).await?;
        Ok(self.report(&rec, status))
    }

    async fn replace_locked(&self, id: &IntentId) -> Result<TxReport, ChainError> {
        let rec = self.load(id).await?;
        let status = self.status_of(&rec).await?;
        if !matches!(status, TxStatus::Pending { .. }) {
            let rec = self.load(id).await?;
            return Ok(self.report(&rec, status));
        }
        let rec = self.load(id).await?;
        let from: Address = rec.intent.from.parse().unwrap_or(Address::ZERO);
        let signer = self.signers.get(&from).ok_or(ChainError::NoSigner {
            chain: self.cfg.name.clone(),
            account: from,
        })?;
        let old = rec.latest();
        let head = self.head_unchecked().await?;
        let (cap, prio_cap) = self.caps();
        let min_prio = bump(old.max_priority_fee_per_gas, self.cfg.fee_bump_bps);
        let min_fee = bump(old.max_fee_per_gas, self.cfg.fee_bump_bps);
        let suggested = self.track(self.rpc.priority_fee().await)?.min(prio_cap);
        let prio = min_prio.max(suggested).min(prio_cap);
        let fee = min_fee
            .max(
                head.base_fee
                    .unwrap_or(0)
                    .saturating_mul(2)
                    .saturating_add(prio),
            )
            .min(cap);
        if prio < min_prio || fee < min_fee {
            return Err(ChainError::FeeCapReached {
                chain: self.cfg.name.clone(),
                intent_id: id.to_string(),
                needed: min_fee,
                needed_priority: min_prio,
                cap,
                priority_cap: prio_cap,
            });
        }
        let env = TxEnvelope::decode_2718(&mut old.raw.as_slice()).map_err(|e| {
            self.jerr(StoreError::Corrupt {
                what: format!("raw transaction {}", old.hash),
                reason: e.to_string(),
            })
        })?;
        let TxEnvelope::Eip1559(signed) = env else {
            return Err(self.jerr(StoreError::Corrupt {
                what: format!("raw transaction {}", old.hash),
                reason: "not an EIP-1559 transaction".into(),
            }));
        };
        let mut tx = signed.tx().clone();
        tx.max_fee_per_gas = fee;
        tx.max_priority_fee_per_gas = prio;
        let (hash, raw) = self.sign(signer, tx)?;
        let now = self.now();
        let seq = rec.candidates.len() as u32;
        let cand = TxCandidate {
            hash: hash_str(&hash),
            seq,
            raw,
            max_fee_per_gas: fee,
            max_priority_fee_per_gas: prio,
            gas_limit: old.gas_limit,
            created_ms: now,
            broadcast_ms: None,
        };
        let (key, c2) = (id.to_string(), cand.clone());
        self.journal_call(move |j, s| j.add_tx_candidate(&key, &c2, s, now))
            .await?;
        tracing::info!(chain = %self.cfg.name, intent = %id, %hash, seq, max_fee = fee, priority_fee = prio, "replacement signed and journaled");
        self.fail(SendStage::Journaled {
            intent: id.clone(),
            seq,
        });
        self.broadcast(&rec, &cand, false).await?;
        self.fail(SendStage::Broadcast {
            intent: id.clone(),
            seq,
        });
        let rec = self.load(id).await?;
        let status = self.status_of(&rec).await?;
        Ok(self.report(&rec, status))
    }
}

#[async_trait]
impl<R: Rpc> Chain for ChainClient<R> {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn chain_id(&self) -> u64 {
        self.cfg.chain_id
    }

    fn confirmations(&self) -> u64 {
        self.cfg.confirmations
    }

    fn health(&self) -> ChainHealth {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn head(&self) -> Result<Head, ChainError> {
        let h = self.head_unchecked().await?;
        self.head_fresh(h)
    }

    async fn balances(&self, at: Option<u64>) -> Result<BalanceSnapshot, ChainError> {
        let head = self.head().await?;
        let (block, block_time_ms) = match at {
            None => (head.number, head.timestamp_ms),
            Some(n) => {
                let h = self
                    .track(self.rpc.block(n).await)?
                    .ok_or_else(|| ChainError::Rpc {
                        chain: self.cfg.name.clone(),
                        reason: format!("block {n} is not known (head {})", head.number),
                    })?;
                (n, h.timestamp_ms)
            }
        };
        let natives: Vec<Address> = self.cfg.accounts.iter().map(|a| a.address).collect();
        let pairs: Vec<(Address, Address, &str, u32)> = self
            .cfg
            .tokens
            .iter()
            .flat_map(|t| {
                natives
                    .iter()
                    .map(move |a| (t.address, *a, t.asset.as_str(), u32::from(t.decimals)))
            })
            .collect();
        let token_pairs: Vec<(Address, Address)> = pairs.iter().map(|p| (p.0, p.1)).collect();
        let values = self.track(self.rpc.balances(block, &natives, &token_pairs).await)?;
        if values.len() != natives.len() + pairs.len() {
            return self.track(Err(RpcError::Invalid(format!(
                "{} balances for {} requested",
                values.len(),
                natives.len() + pairs.len()
            ))));
        }
        let mut balances = Vec::with_capacity(values.len());
        let entries = natives
            .iter()
            .map(|a| (*a, self.cfg.native_asset.as_str(), 18))
            .chain(pairs.iter().map(|p| (p.1, p.2, p.3)));
        for ((account, asset, decimals), raw) in entries.zip(values) {
            let amount = from_raw(raw, decimals).ok_or_else(|| ChainError::AmountOverflow {
                chain: self.cfg.name.clone(),
                asset: asset.to_string(),
                raw,
            })?;
            balances.push(AccountBalance {
                account,
                asset: asset.to_string(),
                amount,
                raw,
            });
        }
        Ok(BalanceSnapshot {
            chain: self.cfg.name.clone(),
            block,
            block_time_ms,
            balances,
        })
    }

    async fn check_tokens(&self) -> Result<Vec<TokenCheck>, ChainError> {
        let mut out = Vec::new();
        for t in &self.cfg.tokens {
            let onchain = self.track(self.rpc.decimals(t.address).await)?;
            if onchain != t.decimals {
                return Err(ChainError::DecimalsMismatch {
                    chain: self.cfg.name.clone(),
                    asset: t.asset.clone(),
                    token: t.address,
                    configured: t.decimals,
                    onchain,
                });
            }
            out.push(TokenCheck {
                asset: t.asset.clone(),
                token: t.address,
                decimals: onchain,
            });
        }
        Ok(out)
    }

    async fn transfer(&self, req: &TransferRequest) -> Result<TxReport, ChainError> {
        let id = IntentId::derive(&self.cfg.name, self.cfg.chain_id, &req.key);
        self.asset(&req.asset)?;
        let (to, venue) = self.check_destination(&req.to, &req.asset)?;
        if let Some(rec) = self.existing(&id).await? {
            self.same_request(&rec, req, to)?;
            let status = self.status_of(&rec).await?;
            let rec = self.load(&id).await?;
            return Ok(self.report(&rec, status));
        }
        let from = match req.from {
            Some(f) => f,
            None => *self.signers.keys().next().ok_or(ChainError::NoSigner {
                chain: self.cfg.name.clone(),
                account: Address::ZERO,
            })?,
        };
        let lock = self.account_lock(from);
        let _guard = lock.lock().await;
        // A concurrent call with the same key may have sent it while we waited.
        if let Some(rec) = self.existing(&id).await? {
            self.same_request(&rec, req, to)?;
            let status = self.status_of(&rec).await?;
            let rec = self.load(&id).await?;
            return Ok(self.report(&rec, status));
        }
        self.send_new(&id, req, from, to, venue).await
    }

    async fn status(&self, intent: &IntentId) -> Result<TxReport, ChainError> {
        let rec = self.load(intent).await?;
        let status = self.status_of(&rec).await?;
        let rec = self.load(intent).await?;
        Ok(self.report(&rec, status))
    }

    async fn replace(&self, intent: &IntentId) -> Result<TxReport, ChainError> {
        let rec = self.load(intent).await?;
        let from: Address = rec.intent.from.parse().unwrap_or(Address::ZERO);
        let lock = self.account_lock(from);
        let _guard = lock.lock().await;
        self.replace_locked(intent).await
    }

    async fn recover(&self) -> Result<Vec<TxReport>, ChainError> {
        let chain = self.cfg.name.clone();
        let open = self
            .journal_call(move |j, _| j.open_tx_intents(&chain))
            .await?;
        let mut out = Vec::with_capacity(open.len());
        for rec in open {
            let id = IntentId::from_journal(&rec.intent.intent_id);
            out.push(self.status(&id).await?);
        }
        Ok(out)
    }

    async fn arrivals(&self, q: &ArrivalQuery) -> Result<Vec<Arrival>, ChainError> {
        let (token, decimals) = match self.asset(&q.asset)? {
            (Some(t), d) => (t, d),
            (None, _) => {
                return Err(ChainError::UnknownAsset {
                    chain: self.cfg.name.clone(),
                    asset: format!("{} (arrivals are watched for tokens only)", q.asset),
                });
            }
        };
        let head = self.head_unchecked().await?;
        let last = q.to_block.unwrap_or(head.number).min(head.number);
        let mut out = Vec::new();
        let mut start = q.from_block;
        while start <= last {
            let end = last.min(start.saturating_add(self.cfg.max_log_blocks - 1));
            let logs = self.track(self.rpc.transfer_logs(token, &q.to, start, end).await)?;
            for l in logs {
                let confirmations = head.number.saturating_sub(l.block) + 1;
                let amount =
                    from_raw(l.value, decimals).ok_or_else(|| ChainError::AmountOverflow {
                        chain: self.cfg.name.clone(),
                        asset: q.asset.clone(),
                        raw: l.value,
                    })?;
                out.push(Arrival {
                    chain: self.cfg.name.clone(),
                    tx_hash: l.tx_hash,
                    log_index: l.log_index,
                    block: l.block,
                    block_time_ms: l.block_time_ms,
                    asset: q.asset.clone(),
                    token,
                    from: l.from,
                    to: l.to,
                    amount,
                    confirmations,
                    confirmed: confirmations >= self.cfg.confirmations,
                });
            }
            start = end + 1;
        }
        out.sort_by_key(|a| (a.block, a.log_index));
        Ok(out)
    }

    fn withdrawal_address(&self, address: &str) -> Result<Address, ChainError> {
        let a = parse_address(address).map_err(|e| ChainError::DestinationRefused {
            chain: self.cfg.name.clone(),
            address: address.to_string(),
            reason: e,
        })?;
        if self.cfg.withdrawal_allowlist.contains(&a) {
            Ok(a)
        } else {
            Err(self.refuse(a, "not on the withdrawal allow-list"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_arithmetic() {
        assert_eq!(gwei_to_wei(Decimal::new(15, 1)), 1_500_000_000);
        assert_eq!(gwei_to_wei(Decimal::new(1, 9)), 1);
        assert_eq!(bump(100, 1250), 113);
        assert_eq!(bump(1_000_000_000, 1000), 1_100_000_000);
    }
}
