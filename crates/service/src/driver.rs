//! Moving legs along their lifecycle, one step at a time.
//!
//! Each step looks at the leg's stage and at what the world says (a [`WorldView`], plus a chain's status
//! for a deposit), and either waits or applies the next event. Every change is journaled before the step
//! returns, and every irreversible action is preceded by the record that makes a retry idempotent:
//!
//! - deposit: the chain client journals the signed transaction under `leg:{id}:deposit` before broadcasting;
//!   asking again with the same key returns it;
//! - swap: the attempt (and so its intent `{id}:swap:{n}`) is journaled before the auction starts, and
//!   every client order id before it is sent ([`super::guard`]); an attempt interrupted by a crash is folded
//!   in from the venue's records (orders by client id, fills), its working orders cancelled, and the rest is
//!   worked under the next attempt's fresh ids;
//! - withdrawal: its idempotency key, amount and time are journaled before the request; a retry finds a
//!   withdrawal the venue already has (by key, or by amount and time where the venue keeps no key) instead
//!   of asking twice.
//!
//! A venue or chain record that completes a leg (a credited deposit, a withdrawal, an arrival) is claimed in
//! the journal, so it can never complete two legs.

use std::collections::BTreeSet;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::json;

use super::kill::KillState;
use super::observe::{WorldView, arrival_key, expected_arrival};
use super::world::World;
use ballast_chain::{
    self as chain, ChainError, Destination, IntentId, TransferRequest, TxStatus,
    VenueDepositAddress,
};
use ballast_config::Config;
use ballast_core::auction::{EndReason, Report};
use ballast_core::leg::{AccountMove, ArrivalRef, Leg, LegEvent, Stage, SwapProgress};
use ballast_core::model::{Side, TimestampMs, floor_dp};
use ballast_exec::executor::{ExecError, Executor, SwapJob};
use ballast_exec::{
    ClientOrderId, Clock, InternalTransfer, OrderState, TransferKind, TransferState, Venue,
    VenueError, WithdrawRequest,
};
use ballast_store::{Journal, Stamp, StoreError};

/// The auction task of a leg, as the service knows it.
pub enum Task {
    /// No auction runs for this leg in this process.
    None,
    Running,
    Finished(Box<Result<Report, ExecError>>),
}

/// What one step did.
pub struct Outcome {
    pub leg: Leg,
    /// An auction to start.
    pub spawn: Option<SwapJob>,
    /// Something an operator must look at (an expiry, a failure with funds off-chain).
    pub alerts: Vec<String>,
    /// The lease is lost: stop acting.
    pub fatal: Option<String>,
    /// Legs started (return legs), for the counters.
    pub new_legs: usize,
}

/// Everything a step may use.
pub struct Driver<'a> {
    pub cfg: &'a Config,
    pub world: &'a World,
    pub journal: &'a Journal,
    pub stamp: &'a Stamp,
    pub clock: &'a Arc<dyn Clock>,
    pub executor: &'a Arc<Executor>,
    pub kill: KillState,
    /// Venues that get no new swap now (mid too far from the reference).
    pub declined: &'a BTreeSet<String>,
    pub view: &'a WorldView,
}

fn transient(e: &VenueError) -> bool {
    matches!(
        e,
        VenueError::UnknownOutcome { .. }
            | VenueError::Transport { .. }
            | VenueError::RateLimited { .. }
    )
}

fn chain_transient(e: &ChainError) -> bool {
    e.chain_unavailable()
        || matches!(
            e,
            ChainError::FeesAboveCap { .. } | ChainError::FeeCapReached { .. }
        )
}

/// The 32-hex-digit idempotency key of a leg's withdrawal (Binance `withdrawOrderId`).
pub fn withdraw_key(leg_id: &str) -> String {
    ClientOrderId::derive(&format!("{leg_id}:withdraw"), 0)
        .as_hex()
        .to_string()
}

/// Where a move between a venue's accounts stands.
enum Moved {
    Done,
    Wait,
    Fail(String),
}

/// How long the next auction attempt waits after one the venue ended with a rejection.
const REJECTED_ATTEMPT_BACKOFF_MS: i64 = 5_000;
/// How long after a move's first send its ledger record is waited for before the request is sent again.
const MOVE_RESOLVE_MS: i64 = 5_000;
/// How long a move is retried under one nonce before a fresh one (the venue refused or never saw it).
const MOVE_NONCE_MS: i64 = 60_000;

enum Step {
    /// Nothing to do now.
    Wait,
    /// Apply this event (and journal it under `action`).
    Event(LegEvent, serde_json::Value),
    /// The leg changed without a stage change (e.g. a deposit's block learned): journal it.
    Note(&'static str, serde_json::Value),
}

impl Driver<'_> {
    /// Count fills folded into a leg, for the venue's metrics.
    fn count_fills(&self, venue: &str, n: usize) {
        if let Some(v) = self.world.venues.get(venue) {
            v.venue
                .stats
                .fills
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn now(&self) -> TimestampMs {
        self.clock.now_ms()
    }

    async fn save(
        &self,
        leg: &Leg,
        action: &str,
        detail: serde_json::Value,
        new: Vec<Leg>,
    ) -> Result<(), StoreError> {
        let (j, s, now) = (self.journal.clone(), self.stamp.clone(), self.now());
        let (leg, action) = (leg.clone(), action.to_string());
        self.journal
            .call(move |_| j.save_leg_with(&leg, &action, &detail, &new, &s, now))
            .await
    }

    async fn claim(&self, kind: &str, key: &str, leg: &str) -> Result<bool, StoreError> {
        let (j, s, now) = (self.journal.clone(), self.stamp.clone(), self.now());
        let (kind, key, leg) = (kind.to_string(), key.to_string(), leg.to_string());
        self.journal
            .call(move |_| j.claim(&kind, &key, &leg, &s, now))
            .await
    }

    /// The records of `kind` other legs have claimed (`venue:id`, or the arrival key): never this leg's to take.
    fn claimed_by_others(&self, kind: &str, leg: &Leg) -> Result<BTreeSet<String>, StoreError> {
        Ok(self
            .journal
            .claimed(kind)?
            .into_iter()
            .filter(|(_, l)| l != &leg.id)
            .map(|(k, _)| k)
            .collect())
    }

    /// Advance one leg as far as the world allows now.
    pub async fn step(&self, mut leg: Leg, task: Task) -> Outcome {
        let mut out = Outcome {
            leg: leg.clone(),
            spawn: None,
            alerts: Vec::new(),
            fatal: None,
            new_legs: 0,
        };
        let mut task = Some(task);
        // A few transitions may follow one another in one step (e.g. deposited -> swapped for a transfer).
        for _ in 0..4 {
            let before = leg.stage;
            let r = match leg.stage {
                Stage::Expired => self.reconcile_expired(&mut leg, &mut out).await,
                _ => {
                    self.once(&mut leg, task.take().unwrap_or(Task::None), &mut out)
                        .await
                }
            };
            match r {
                Ok(()) => {}
                Err(e) => {
                    if matches!(e, StoreError::Fenced { .. }) {
                        out.fatal = Some(e.to_string());
                    } else {
                        tracing::error!(leg = %leg.id, "journal: {e}");
                        out.alerts.push(format!("leg {}: journal: {e}", leg.id));
                    }
                    out.leg = leg;
                    return out;
                }
            }
            if leg.stage == before || out.spawn.is_some() {
                break;
            }
        }
        // Time to live of the stage (not while the kill switch is what holds the leg).
        let held = !self.kill.may_continue()
            && matches!(
                leg.stage,
                Stage::Deposited | Stage::Swapped | Stage::Auctioning
            );
        if !held && leg.check_expiry(&self.cfg.service.ttls, self.now()) {
            let msg = format!(
                "leg {} expired in {} with its funds at {:?}: {}",
                leg.id,
                leg.stopped_in.map(|s| s.as_str()).unwrap_or("?"),
                leg.funds_at,
                leg.problem.clone().unwrap_or_default()
            );
            tracing::error!(leg = %leg.id, alert = true, "{msg}; it goes to reconciliation");
            out.alerts.push(msg);
            let detail = json!({"stopped_in": leg.stopped_in, "funds_at": leg.funds_at, "problem": leg.problem});
            if let Err(e) = self.save(&leg, "leg.expired", detail, vec![]).await
                && matches!(e, StoreError::Fenced { .. })
            {
                out.fatal = Some(e.to_string());
            }
        }
        out.leg = leg;
        out
    }

    async fn apply(
        &self,
        leg: &mut Leg,
        step: Step,
        new: Vec<Leg>,
        out: &mut Outcome,
    ) -> Result<(), StoreError> {
        match step {
            Step::Wait => Ok(()),
            Step::Note(action, detail) => self.save(leg, action, detail, vec![]).await,
            Step::Event(ev, mut detail) => {
                let now = self.now();
                if let Err(e) = leg.apply(&ev, now) {
                    tracing::error!(leg = %leg.id, "{e}");
                    out.alerts.push(e.to_string());
                    return Ok(());
                }
                if let (Some(obj), Ok(evj)) = (detail.as_object_mut(), serde_json::to_value(&ev)) {
                    obj.insert("event".into(), evj);
                    obj.insert("funds_at".into(), json!(leg.funds_at));
                }
                let action = format!("leg.{}", leg.stage);
                if matches!(leg.stage, Stage::Failed) {
                    let msg = format!(
                        "leg {} failed in {}: {} (funds at {:?})",
                        leg.id,
                        leg.stopped_in.map(|s| s.as_str()).unwrap_or("?"),
                        leg.problem.clone().unwrap_or_default(),
                        leg.funds_at
                    );
                    tracing::warn!(leg = %leg.id, "{msg}");
                    out.alerts.push(msg);
                } else {
                    tracing::info!(leg = %leg.id, venue = %leg.venue, from = %leg.from, to = %leg.to, stage = %leg.stage, "leg moved on");
                }
                out.new_legs += new.len();
                self.save(leg, &action, detail, new).await
            }
        }
    }

    async fn once(&self, leg: &mut Leg, task: Task, out: &mut Outcome) -> Result<(), StoreError> {
        let step = match leg.stage {
            Stage::Planned => self.submit_deposit(leg).await,
            Stage::DepositSubmitted => self.follow_deposit(leg).await,
            Stage::Deposited => {
                let amount = leg.amount_in;
                if leg.swaps() {
                    return match self.ensure_move(leg, true, amount).await? {
                        Moved::Done => self.start_swap(leg, out).await,
                        Moved::Wait => Ok(()),
                        Moved::Fail(reason) => {
                            self.apply(
                                leg,
                                Step::Event(LegEvent::Failed { reason }, json!({})),
                                vec![],
                                out,
                            )
                            .await
                        }
                    };
                }
                Step::Event(
                    LegEvent::Swapped {
                        received: amount,
                        unfilled: Decimal::ZERO,
                    },
                    json!({"note": "same asset: nothing to swap"}),
                )
            }
            Stage::Auctioning => return self.follow_swap(leg, task, out).await,
            Stage::Swapped => self.withdraw(leg).await?,
            Stage::WithdrawSubmitted => self.follow_withdrawal(leg),
            Stage::Withdrawn => self.find_arrival(leg).await?,
            Stage::Done | Stage::Failed | Stage::Expired => Step::Wait,
        };
        self.apply(leg, step, vec![], out).await
    }

    // ---- deposit ------------------------------------------------------------------------------------

    async fn submit_deposit(&self, leg: &mut Leg) -> Step {
        if !self.kill.may_start() {
            return Step::Event(
                LegEvent::Failed {
                    reason: format!("not started: the kill switch is {}", self.kill),
                },
                json!({}),
            );
        }
        let (Some(v), Some(c)) = (
            self.world.venues.get(&leg.venue),
            self.world.chains.get(&leg.from.chain),
        ) else {
            return Step::Event(
                LegEvent::Failed {
                    reason: format!(
                        "venue {} or chain {} is not configured",
                        leg.venue, leg.from.chain
                    ),
                },
                json!({}),
            );
        };
        let network = v.network(&leg.from.chain);
        let addr =
            match VenueDepositAddress::fetch(v.venue.as_ref(), &leg.from.asset, &network).await {
                Ok(a) => a,
                Err(e) if transient(&e) => {
                    tracing::warn!(leg = %leg.id, "deposit address: {e}; retrying");
                    return Step::Wait;
                }
                Err(e) => {
                    return Step::Event(
                        LegEvent::Failed {
                            reason: format!("deposit address: {e}"),
                        },
                        json!({}),
                    );
                }
            };
        let req = TransferRequest {
            key: format!("leg:{}:deposit", leg.id),
            from: Some(c.account),
            asset: leg.from.asset.clone(),
            amount: leg.amount_in,
            to: Destination::VenueDeposit(addr.clone()),
        };
        match c.chain.transfer(&req).await {
            Ok(r) => {
                if let Some(h) = r.status.mined_hash() {
                    leg.deposit_hash = Some(format!("{h:#x}"));
                }
                if let TxStatus::Included { block, .. } | TxStatus::Confirmed { block, .. } =
                    r.status
                {
                    leg.deposit_block = Some(block);
                }
                Step::Event(
                    LegEvent::DepositSubmitted {
                        tx: r.intent_id.to_string(),
                    },
                    json!({"chain": r.chain, "nonce": r.nonce, "to": format!("{:#x}", addr.address()), "amount": leg.amount_in}),
                )
            }
            Err(e) if chain_transient(&e) => {
                tracing::warn!(leg = %leg.id, "deposit: {e}; retrying");
                Step::Wait
            }
            Err(ChainError::Journal { source, .. })
                if matches!(source, StoreError::Fenced { .. }) =>
            {
                tracing::error!(leg = %leg.id, "deposit not sent: {source}");
                Step::Wait
            }
            Err(e) => Step::Event(
                LegEvent::Failed {
                    reason: format!("deposit: {e}"),
                },
                json!({}),
            ),
        }
    }

    async fn follow_deposit(&self, leg: &mut Leg) -> Step {
        let Some(c) = self.world.chains.get(&leg.from.chain) else {
            return Step::Wait;
        };
        let Some(tx) = leg.deposit_tx.clone() else {
            return Step::Wait;
        };
        let r = match chain::advance(c.chain.as_ref(), &IntentId::from_journal(&tx)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(leg = %leg.id, "deposit status: {e}");
                return Step::Wait;
            }
        };
        let mut noted = false;
        if let Some(h) = r.status.mined_hash() {
            let h = format!("{h:#x}");
            if leg.deposit_hash.as_deref() != Some(&h) {
                leg.deposit_hash = Some(h);
                noted = true;
            }
        }
        if let TxStatus::Included { block, .. } | TxStatus::Confirmed { block, .. } = r.status
            && leg.deposit_block != Some(block)
        {
            leg.deposit_block = Some(block);
            noted = true;
        }
        match &r.status {
            TxStatus::Reverted { hash, .. } => {
                return Step::Event(
                    LegEvent::DepositFailed {
                        reason: format!("the deposit transaction {hash:#x} reverted"),
                    },
                    json!({}),
                );
            }
            TxStatus::Dropped { reason } => {
                return Step::Event(
                    LegEvent::DepositFailed {
                        reason: format!("the deposit transaction was dropped: {reason}"),
                    },
                    json!({}),
                );
            }
            TxStatus::Confirmed { .. } => {}
            _ => {
                return if noted {
                    Step::Note(
                        "leg.deposit_mined",
                        json!({"block": leg.deposit_block, "hash": leg.deposit_hash}),
                    )
                } else {
                    Step::Wait
                };
            }
        }
        // Confirmed on chain: has the venue credited it?
        let Some(v) = self.world.venues.get(&leg.venue) else {
            return Step::Wait;
        };
        let Some(view) = self.view.venue(&leg.venue) else {
            return if noted {
                Step::Note("leg.deposit_mined", json!({"block": leg.deposit_block}))
            } else {
                Step::Wait
            };
        };
        let network = v.network(&leg.from.chain);
        let hash = leg.deposit_hash.clone().unwrap_or_default();
        let claimed = self.claimed_by_others("deposit", leg).unwrap_or_default();
        let deposits = view.transfers.iter().filter(|t| {
            t.kind == TransferKind::Deposit
                && t.asset.eq_ignore_ascii_case(&leg.from.asset)
                && !claimed.contains(&format!("{}:{}", leg.venue, t.id))
        });
        let mut found = None;
        for t in deposits {
            let by_hash = t
                .tx_hash
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(&hash));
            let by_amount = t.amount == leg.amount_in
                && t.network.eq_ignore_ascii_case(&network)
                && t.updated_ms >= leg.created_ms - 60_000;
            if by_hash {
                found = Some(t.clone());
                break;
            }
            if by_amount && found.is_none() {
                found = Some(t.clone());
            }
        }
        let Some(t) = found else {
            return if noted {
                Step::Note("leg.deposit_mined", json!({"block": leg.deposit_block}))
            } else {
                Step::Wait
            };
        };
        match &t.state {
            TransferState::Completed => {
                match self
                    .claim("deposit", &format!("{}:{}", leg.venue, t.id), &leg.id)
                    .await
                {
                    Ok(true) => {
                        leg.deposit_id = Some(t.id.clone());
                        Step::Event(
                            LegEvent::Deposited,
                            json!({"venue_deposit": t.id, "amount": t.amount}),
                        )
                    }
                    _ => Step::Wait,
                }
            }
            TransferState::Failed(r) => Step::Event(
                LegEvent::Failed {
                    reason: format!("the venue failed the deposit {}: {r}", t.id),
                },
                json!({}),
            ),
            TransferState::Pending => {
                if noted {
                    Step::Note("leg.deposit_mined", json!({"block": leg.deposit_block}))
                } else {
                    Step::Wait
                }
            }
        }
    }

    // ---- swap ---------------------------------------------------------------------------------------

    async fn start_swap(&self, leg: &mut Leg, out: &mut Outcome) -> Result<(), StoreError> {
        if !self.kill.may_continue() || self.declined.contains(&leg.venue) {
            return Ok(());
        }
        let Some(market) = leg.market.clone() else {
            return self
                .apply(
                    leg,
                    Step::Event(
                        LegEvent::Failed {
                            reason: "a swap leg without a market".into(),
                        },
                        json!({}),
                    ),
                    vec![],
                    out,
                )
                .await;
        };
        let rules = match self.executor.rules(&leg.venue, &market).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(leg = %leg.id, "market rules: {e}; retrying");
                return Ok(());
            }
        };
        let side = if leg.from.asset == rules.base && leg.to.asset == rules.quote {
            Side::Sell
        } else if leg.from.asset == rules.quote && leg.to.asset == rules.base {
            Side::Buy
        } else {
            let reason = format!(
                "market {market} trades {}/{}, not {} for {}",
                rules.base, rules.quote, leg.from.asset, leg.to.asset
            );
            return self
                .apply(
                    leg,
                    Step::Event(LegEvent::Failed { reason }, json!({})),
                    vec![],
                    out,
                )
                .await;
        };
        leg.swap = Some(SwapProgress {
            market,
            side,
            base: rules.base.clone(),
            quote: rules.quote.clone(),
            quantity: Decimal::ZERO,
            attempt: 0,
            open: false,
            started_ms: self.now(),
            filled: Decimal::ZERO,
            notional: Decimal::ZERO,
            fees: Default::default(),
            arrival_price: None,
            not_before_ms: None,
        });
        self.apply(
            leg,
            Step::Event(LegEvent::SwapStarted, json!({"side": side})),
            vec![],
            out,
        )
        .await?;
        self.next_attempt(leg, out).await
    }

    /// Start the next auction attempt for what is left, or finish the swap when nothing tradable is left.
    async fn next_attempt(&self, leg: &mut Leg, out: &mut Outcome) -> Result<(), StoreError> {
        if !self.kill.may_continue() || self.declined.contains(&leg.venue) {
            return Ok(());
        }
        let Some(swap) = leg.swap.clone() else {
            return Ok(());
        };
        if swap.not_before_ms.is_some_and(|t| self.now() < t) {
            return Ok(());
        }
        let rules = match self.executor.rules(&leg.venue, &swap.market).await {
            Ok(r) => r,
            Err(_) => return Ok(()),
        };
        let Some(mid) = self
            .view
            .venue(&leg.venue)
            .and_then(|v| v.mids.get(&swap.market).copied())
        else {
            return Ok(());
        };
        let (spent, _) = swap.outcome();
        let left = leg.amount_in - spent;
        let qty = match swap.side {
            Side::Sell => rules.round_qty(left),
            Side::Buy => {
                let worst = mid
                    * (Decimal::ONE + self.cfg.service.auction.floor_bps / Decimal::from(10_000));
                rules.round_qty(
                    left / (worst * (Decimal::ONE + rules.taker_fee.max(rules.maker_fee))),
                )
            }
        };
        let tradable = qty > Decimal::ZERO
            && qty >= rules.min_qty
            && qty * mid >= rules.min_notional
            && (swap.attempt < 20);
        if !tradable {
            return self.finish_swap(leg, out).await;
        }
        let mut s = swap.clone();
        if s.quantity.is_zero() {
            s.quantity = qty;
            s.arrival_price = Some(mid);
        } else {
            s.attempt += 1;
        }
        s.open = true;
        s.started_ms = self.now();
        let intent = s.intent(&leg.id);
        leg.swap = Some(s.clone());
        // The attempt is journaled before anything is sent under its intent.
        self.save(
            leg,
            "leg.swap_attempt",
            json!({"attempt": s.attempt, "intent": intent, "side": s.side, "qty": qty, "mid": mid}),
            vec![],
        )
        .await?;
        out.spawn = Some(SwapJob {
            venue: leg.venue.clone(),
            market: s.market.clone(),
            side: s.side,
            qty,
            // A buy is sized so that its dearest price (the floor above this mid) spends no more than the
            // leg holds: its schedule hangs off the same mid, or a market that rose since the look would
            // let it commit more than the leg's own funds (and eat into another leg's on a shared account).
            reference: (s.side == Side::Buy).then_some(mid),
            schedule: self.cfg.service.auction.clone(),
            reprice: self.cfg.service.reprice,
            intent,
        });
        Ok(())
    }

    async fn follow_swap(
        &self,
        leg: &mut Leg,
        task: Task,
        out: &mut Outcome,
    ) -> Result<(), StoreError> {
        let Some(mut swap) = leg.swap.clone() else {
            return self.start_swap_fresh(leg, out).await;
        };
        match task {
            Task::Running => Ok(()),
            Task::Finished(r) => {
                let mut canceled = false;
                match *r {
                    Ok(report) => {
                        self.count_fills(&leg.venue, report.fills.len());
                        swap.add_fills(
                            report
                                .fills
                                .iter()
                                .map(|f| (f.price, f.qty, f.fee, f.fee_asset.as_str())),
                        );
                        canceled = matches!(report.end_reason, Some(EndReason::Canceled));
                        // A rejection ended it: the next attempt waits, so a venue that refuses (funds
                        // still held by another order, a rule) is not asked again and again in a burst.
                        swap.not_before_ms =
                            matches!(report.end_reason, Some(EndReason::Rejected { .. }))
                                .then(|| self.now() + REJECTED_ATTEMPT_BACKOFF_MS);
                        tracing::info!(leg = %leg.id, filled = %report.filled, unfilled = %report.unfilled, end = ?report.end_reason, "auction ended");
                    }
                    Err(e) => {
                        tracing::warn!(leg = %leg.id, "auction: {e}");
                    }
                }
                swap.open = false;
                leg.swap = Some(swap.clone());
                self.save(leg, "leg.swap_attempt_done", json!({"attempt": swap.attempt, "filled": swap.filled, "notional": swap.notional}), vec![])
                    .await?;
                if canceled && !self.kill.may_continue() {
                    return Ok(());
                }
                self.next_attempt(leg, out).await
            }
            Task::None if swap.open => {
                // Interrupted (a crash, or a shutdown): fold the attempt in from the venue's own records.
                if !self.fold_interrupted(leg, &mut swap).await {
                    return Ok(());
                }
                swap.open = false;
                leg.swap = Some(swap.clone());
                self.save(leg, "leg.swap_attempt_recovered", json!({"attempt": swap.attempt, "filled": swap.filled, "notional": swap.notional}), vec![])
                    .await?;
                self.next_attempt(leg, out).await
            }
            Task::None => self.next_attempt(leg, out).await,
        }
    }

    async fn start_swap_fresh(&self, leg: &mut Leg, out: &mut Outcome) -> Result<(), StoreError> {
        // Auctioning without a swap record cannot happen through `start_swap`; fail safe.
        self.apply(
            leg,
            Step::Event(
                LegEvent::Failed {
                    reason: "auctioning without a swap record".into(),
                },
                json!({}),
            ),
            vec![],
            out,
        )
        .await
    }

    /// Cancel what an interrupted attempt left working and count what it filled. False when the venue could
    /// not be read (try again later).
    async fn fold_interrupted(&self, leg: &Leg, swap: &mut SwapProgress) -> bool {
        let Some(v) = self.world.venues.get(&leg.venue) else {
            return false;
        };
        let venue = v.venue.inner().clone();
        let intent = swap.intent(&leg.id);
        let mut ids = Vec::new();
        for n in 0u32.. {
            let id = ClientOrderId::derive(&intent, n);
            match self.journal.order_sent(&leg.venue, id.as_hex()) {
                Ok(true) => ids.push(id),
                Ok(false) => break,
                Err(_) => return false,
            }
        }
        let mut executed = Decimal::ZERO;
        let mut by_status_notional = Decimal::ZERO;
        // The venue's own ids of our orders: a venue whose fills do not carry the client id (Hyperliquid's
        // documented fills have only the oid) is matched by them.
        let mut venue_ids: BTreeSet<String> = BTreeSet::new();
        for id in &ids {
            let mut st = match venue.order_status(&swap.market, id).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(leg = %leg.id, "recovering the swap: order {id}: {e}");
                    return false;
                }
            };
            if st.as_ref().is_some_and(|s| s.state == OrderState::Open) {
                match venue.cancel(&swap.market, id).await {
                    Ok(s) => st = Some(s),
                    Err(e) => {
                        tracing::warn!(leg = %leg.id, "recovering the swap: cancel {id}: {e}");
                        return false;
                    }
                }
            }
            if let Some(s) = st {
                executed += s.filled;
                by_status_notional += s.filled * s.avg_price.unwrap_or(s.price);
                venue_ids.insert(s.venue_order_id.clone());
            }
        }
        if executed.is_zero() {
            return true;
        }
        let fills = match venue.fills_since(swap.started_ms - 60_000).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(leg = %leg.id, "recovering the swap: fills: {e}");
                return false;
            }
        };
        let ours: Vec<_> = fills
            .iter()
            .filter(|f| {
                f.market == swap.market
                    && match &f.client_id {
                        Some(c) => ids.contains(c),
                        None => venue_ids.contains(&f.venue_order_id),
                    }
            })
            .collect();
        let seen: Decimal = ours.iter().map(|f| f.qty).sum();
        if seen >= executed {
            self.count_fills(&leg.venue, ours.len());
            swap.add_fills(
                ours.iter()
                    .map(|f| (f.price, f.qty, f.fee, f.fee_asset.as_str())),
            );
        } else {
            // The venue reports executions its fill list does not show (yet): count them at the orders'
            // average price; their fees are unknown.
            // Their fees are not known: count the market's dearest rate, taken from what was received (as
            // both venues charge spot fees by default), so the leg never withdraws more than it holds.
            let rate = match self.executor.rules(&leg.venue, &swap.market).await {
                Ok(r) => r.taker_fee.max(r.maker_fee),
                Err(_) => Decimal::new(1, 3),
            };
            let (fee_asset, fee) = match swap.side {
                Side::Buy => (swap.base.clone(), executed * rate),
                Side::Sell => (swap.quote.clone(), by_status_notional * rate),
            };
            tracing::warn!(leg = %leg.id, %executed, %seen, %fee, "fills not all visible; counting executions at their average price, with the dearest fee");
            swap.filled += executed;
            swap.notional += by_status_notional;
            *swap.fees.entry(fee_asset).or_default() += fee;
        }
        true
    }

    async fn finish_swap(&self, leg: &mut Leg, out: &mut Outcome) -> Result<(), StoreError> {
        let Some(swap) = leg.swap.clone() else {
            return Ok(());
        };
        let (spent, received) = swap.outcome();
        let unfilled = (leg.amount_in - spent).max(Decimal::ZERO);
        let received = received.max(Decimal::ZERO);
        let detail = json!({"filled": swap.filled, "notional": swap.notional, "fees": swap.fees, "attempts": swap.attempt + 1});
        let ev = LegEvent::Swapped { received, unfilled };
        let now = self.now();
        let mut next = leg.clone();
        if next.apply(&ev, now).is_err() {
            return Ok(());
        }
        // The unfilled remainder goes back to the source, unless it is too small to be worth a withdrawal.
        let price = self.cfg.service.price(&leg.from.asset);
        let min_value = self.cfg.controller.min_order_value.max(Decimal::ONE);
        let decimals = self
            .cfg
            .position_index(&leg.from)
            .map(|i| self.cfg.positions[i].decimals)
            .unwrap_or(6);
        let mut new = Vec::new();
        if unfilled * price >= min_value && floor_dp(unfilled, decimals) > Decimal::ZERO {
            next.remainder_in = floor_dp(unfilled, decimals);
            let mut r = Leg::return_of(&next, now);
            r.cycle = leg.cycle;
            r.value = r.amount_in * price;
            new.push(r);
        } else if unfilled > Decimal::ZERO {
            tracing::info!(leg = %leg.id, %unfilled, asset = %leg.from.asset, "unfilled remainder left on the venue (below the minimum order)");
        }
        self.apply(leg, Step::Event(ev, detail), new, out).await
    }

    // ---- moves between the venue's accounts -------------------------------------------------------------

    /// Move `amount` of the leg's asset between the venue's funding and trading accounts (towards trading
    /// before a swap, towards funding before a withdrawal), on venues that keep them apart.
    ///
    /// The request is journaled with its nonce before it is first sent. A lost answer is resolved by the
    /// venue's ledger (a record of the same direction and amount since the first send, claimed so no other
    /// leg takes it); until the record shows, the same request (same nonce) is sent again, which the venue
    /// executes at most once. Only after [`MOVE_NONCE_MS`] with neither an answer nor a record is a fresh
    /// nonce taken.
    async fn ensure_move(
        &self,
        leg: &mut Leg,
        to_trading: bool,
        amount: Decimal,
    ) -> Result<Moved, StoreError> {
        let Some(v) = self.world.venues.get(&leg.venue) else {
            return Ok(Moved::Wait);
        };
        let (asset, chain) = if to_trading {
            (leg.from.asset.clone(), leg.from.chain.clone())
        } else {
            (leg.to.asset.clone(), leg.to.chain.clone())
        };
        if !v.venue.funding_account(&asset, &v.network(&chain)) {
            return Ok(Moved::Done);
        }
        if !self.kill.may_continue() {
            return Ok(Moved::Wait);
        }
        let (kind, what) = if to_trading {
            (TransferKind::ToTrading, "to_trading")
        } else {
            (TransferKind::ToFunding, "to_funding")
        };
        fn slot(l: &mut Leg, to_trading: bool) -> &mut Option<AccountMove> {
            if to_trading {
                &mut l.to_trading
            } else {
                &mut l.to_funding
            }
        }
        let now = self.now();
        let mut m = match slot(leg, to_trading).clone() {
            Some(m) if m.done => return Ok(Moved::Done),
            Some(m) => {
                // Sent before: is it in the ledger?
                if let Some(rec) = self.find_move(leg, kind, &m).await {
                    let mut m = m;
                    m.done = true;
                    m.record = Some(rec.clone());
                    *slot(leg, to_trading) = Some(m);
                    self.save(
                        leg,
                        "leg.moved",
                        json!({"move": what, "record": rec, "amount": amount}),
                        vec![],
                    )
                    .await?;
                    return Ok(Moved::Done);
                }
                if now - m.sent_ms < MOVE_RESOLVE_MS {
                    return Ok(Moved::Wait);
                }
                if now - m.sent_ms >= MOVE_NONCE_MS {
                    // Never executed under that nonce (the ledger would show it): a fresh request.
                    tracing::warn!(leg = %leg.id, nonce = m.nonce, "{what}: no answer and no ledger record; a new request");
                    AccountMove {
                        nonce: v.venue.transfer_nonce(),
                        sent_ms: now,
                        sends: 0,
                        ..m
                    }
                } else {
                    m
                }
            }
            None => AccountMove {
                asset: asset.clone(),
                amount,
                nonce: v.venue.transfer_nonce(),
                sent_ms: now,
                sends: 0,
                done: false,
                record: None,
            },
        };
        // The request (its nonce, and that it is being sent) is on disk before the venue hears of it.
        let first = m.sends == 0;
        m.sends += 1;
        *slot(leg, to_trading) = Some(m.clone());
        self.save(
            leg,
            if first {
                "leg.move_intent"
            } else {
                "leg.move_resend"
            },
            json!({"move": what, "asset": m.asset, "amount": m.amount, "nonce": m.nonce, "sends": m.sends}),
            vec![],
        )
        .await?;
        let req = InternalTransfer {
            asset: m.asset.clone(),
            amount: m.amount,
            to_trading,
            nonce: m.nonce,
        };
        let r = v.venue.internal_transfer(&req).await;
        match r {
            Ok(()) => {
                m.done = true;
                *slot(leg, to_trading) = Some(m.clone());
                self.save(
                    leg,
                    "leg.moved",
                    json!({"move": what, "amount": m.amount, "nonce": m.nonce}),
                    vec![],
                )
                .await?;
                Ok(Moved::Done)
            }
            Err(e) if transient(&e) || !first => {
                // Unknown, or refused on a resend (the nonce may have been spent by the first send):
                // the ledger decides.
                tracing::warn!(leg = %leg.id, "{what}: {e}; resolving against the venue's ledger");
                *slot(leg, to_trading) = Some(m);
                Ok(Moved::Wait)
            }
            Err(e @ VenueError::InsufficientBalance { .. }) => {
                // Refused outright on its first send: nothing moved; the next try is a new request.
                tracing::warn!(leg = %leg.id, "{what}: {e}; retrying");
                *slot(leg, to_trading) = None;
                self.save(
                    leg,
                    "leg.move_refused",
                    json!({"move": what, "nonce": m.nonce, "reason": e.to_string()}),
                    vec![],
                )
                .await?;
                Ok(Moved::Wait)
            }
            Err(e) => Ok(Moved::Fail(format!("{what} refused: {e}"))),
        }
    }

    /// The venue's ledger record of a move sent earlier: same direction and amount, at or after its first
    /// send, not claimed by another leg; claimed for this one.
    async fn find_move(&self, leg: &Leg, kind: TransferKind, m: &AccountMove) -> Option<String> {
        let view = self.view.venue(&leg.venue)?;
        let claimed = self.claimed_by_others("move", leg).ok()?;
        let t = view.transfers.iter().find(|t| {
            t.kind == kind
                && t.amount == m.amount
                && t.asset.eq_ignore_ascii_case(&m.asset)
                && t.updated_ms >= m.sent_ms - 5_000
                && !claimed.contains(&format!("{}:{}", leg.venue, t.id))
        })?;
        let key = format!("{}:{}", leg.venue, t.id);
        match self.claim("move", &key, &leg.id).await {
            Ok(true) => Some(t.id.clone()),
            _ => None,
        }
    }

    // ---- withdrawal ---------------------------------------------------------------------------------

    async fn withdraw(&self, leg: &mut Leg) -> Result<Step, StoreError> {
        if !self.kill.may_continue() {
            return Ok(Step::Wait);
        }
        let (Some(v), Some(c)) = (
            self.world.venues.get(&leg.venue),
            self.world.chains.get(&leg.to.chain),
        ) else {
            return Ok(Step::Wait);
        };
        let network = v.network(&leg.to.chain);
        let key = withdraw_key(&leg.id);
        if leg.withdraw_requested_ms.is_none() {
            let decimals = self
                .cfg
                .position_index(&leg.to)
                .map(|i| self.cfg.positions[i].decimals)
                .unwrap_or(6)
                .min(8);
            let amount = floor_dp(leg.received_out.unwrap_or_default(), decimals);
            if amount <= Decimal::ZERO {
                return Ok(Step::Event(
                    LegEvent::Failed { reason: "the swap filled nothing: nothing to withdraw (the remainder returns to the source)".into() },
                    json!({}),
                ));
            }
            // Funds that sit in the venue's trading account go to its funding account first.
            let in_trading = leg.swaps()
                || leg.starts_on_venue
                || !v
                    .venue
                    .funding_account(&leg.from.asset, &v.network(&leg.from.chain));
            if in_trading && v.venue.funding_account(&leg.to.asset, &network) {
                match self.ensure_move(leg, false, amount).await? {
                    Moved::Done => {}
                    Moved::Wait => return Ok(Step::Wait),
                    Moved::Fail(reason) => {
                        return Ok(Step::Event(LegEvent::Failed { reason }, json!({})));
                    }
                }
            }
            let head = match c.chain.head().await {
                Ok(h) => h.number,
                Err(e) => {
                    tracing::debug!(leg = %leg.id, "destination head: {e}");
                    return Ok(Step::Wait);
                }
            };
            leg.withdraw_key = Some(key.clone());
            leg.withdraw_amount = Some(amount);
            leg.withdraw_requested_ms = Some(self.now());
            leg.dest_from_block = Some(head);
            // The intent is on disk before the venue hears of it.
            self.save(
                leg,
                "leg.withdraw_intent",
                json!({"key": key, "amount": amount, "network": network, "from_block": head}),
                vec![],
            )
            .await?;
        } else if let Some(found) = self.find_withdrawal(leg, &key) {
            return Ok(self.adopt_withdrawal(leg, found).await);
        } else if v.kind == ballast_config::VenueKind::Hyperliquid
            && self.now() - leg.withdraw_requested_ms.unwrap_or(0) < 60_000
        {
            // Hyperliquid keeps no withdrawal key: an earlier request may still show up in its ledger.
            return Ok(Step::Wait);
        }
        let amount = leg.withdraw_amount.unwrap_or_default();
        let address = match c.chain.withdrawal_address(&format!("{:#x}", c.account)) {
            Ok(a) => format!("{a:#x}"),
            Err(e) => {
                return Ok(Step::Event(
                    LegEvent::Failed {
                        reason: format!("withdrawal address: {e}"),
                    },
                    json!({}),
                ));
            }
        };
        let req = WithdrawRequest {
            asset: leg.to.asset.clone(),
            network,
            address,
            amount,
            client_id: key,
        };
        match v.venue.withdraw(&req).await {
            Ok(id) => match self
                .claim("withdrawal", &format!("{}:{id}", leg.venue), &leg.id)
                .await?
            {
                true => Ok(Step::Event(
                    LegEvent::WithdrawSubmitted { id: id.clone() },
                    json!({"amount": amount}),
                )),
                false => {
                    tracing::error!(leg = %leg.id, %id, "the venue returned a withdrawal another leg holds");
                    Ok(Step::Wait)
                }
            },
            Err(e) if transient(&e) || matches!(e, VenueError::InsufficientBalance { .. }) => {
                tracing::warn!(leg = %leg.id, "withdrawal: {e}; retrying");
                Ok(Step::Wait)
            }
            Err(e) => Ok(Step::Event(
                LegEvent::Failed {
                    reason: format!("withdrawal refused: {e}"),
                },
                json!({}),
            )),
        }
    }

    /// A withdrawal the venue already has for this leg: by key, or (venues without keys) by amount and
    /// time, never one another leg claimed.
    fn find_withdrawal(&self, leg: &Leg, key: &str) -> Option<ballast_exec::TransferStatus> {
        let view = self.view.venue(&leg.venue)?;
        let claimed = self.claimed_by_others("withdrawal", leg).ok()?;
        let since = leg.withdraw_requested_ms.unwrap_or(0) - 5_000;
        let amount = leg.withdraw_amount?;
        let cands = view.transfers.iter().filter(|t| {
            t.kind == TransferKind::Withdrawal
                && !claimed.contains(&format!("{}:{}", leg.venue, t.id))
                && t.asset.eq_ignore_ascii_case(&leg.to.asset)
        });
        let mut by_amount = None;
        for t in cands {
            if t.client_id.as_deref() == Some(key) {
                return Some(t.clone());
            }
            if t.client_id.is_none()
                && t.amount == amount
                && t.updated_ms >= since
                && by_amount.is_none()
            {
                by_amount = Some(t.clone());
            }
        }
        by_amount
    }

    async fn adopt_withdrawal(&self, leg: &Leg, t: ballast_exec::TransferStatus) -> Step {
        match self
            .claim("withdrawal", &format!("{}:{}", leg.venue, t.id), &leg.id)
            .await
        {
            Ok(true) => Step::Event(
                LegEvent::WithdrawSubmitted { id: t.id.clone() },
                json!({"adopted": true, "amount": t.amount}),
            ),
            _ => Step::Wait,
        }
    }

    fn follow_withdrawal(&self, leg: &Leg) -> Step {
        let (Some(view), Some(id)) = (self.view.venue(&leg.venue), &leg.withdrawal_id) else {
            return Step::Wait;
        };
        let Some(t) = view
            .transfers
            .iter()
            .find(|t| t.kind == TransferKind::Withdrawal && &t.id == id)
        else {
            return Step::Wait;
        };
        match &t.state {
            TransferState::Completed => Step::Event(
                LegEvent::Withdrawn {
                    tx: t.tx_hash.clone(),
                    fee: t.fee,
                },
                json!({"venue_withdrawal": t.id}),
            ),
            TransferState::Failed(r) => Step::Event(
                LegEvent::Failed {
                    reason: format!("the venue failed withdrawal {id}: {r}"),
                },
                json!({}),
            ),
            TransferState::Pending => Step::Wait,
        }
    }

    async fn find_arrival(&self, leg: &mut Leg) -> Result<Step, StoreError> {
        let Some(view) = self.view.chain(&leg.to.chain) else {
            return Ok(Step::Wait);
        };
        let Some((lo, hi)) = expected_arrival(leg) else {
            return Ok(Step::Wait);
        };
        let claimed = self.claimed_by_others("arrival", leg)?;
        let chain_name = view.snapshot.chain.clone();
        let from = leg.dest_from_block.unwrap_or(0);
        let fits = |a: &&ballast_chain::Arrival| {
            a.confirmed
                && a.asset == leg.to.asset
                && a.block >= from
                && a.amount >= lo
                && a.amount <= hi
                && !claimed.contains(&arrival_key(&chain_name, a))
        };
        let by_hash = leg.withdrawal_tx.as_deref().and_then(|h| {
            view.arrivals
                .iter()
                .filter(fits)
                .find(|a| format!("{:#x}", a.tx_hash).eq_ignore_ascii_case(h))
        });
        let hit = by_hash.or_else(|| {
            view.arrivals
                .iter()
                .filter(fits)
                .min_by_key(|a| (a.block, a.log_index))
        });
        let Some(a) = hit else {
            return Ok(Step::Wait);
        };
        if !self
            .claim("arrival", &arrival_key(&chain_name, a), &leg.id)
            .await?
        {
            return Ok(Step::Wait);
        }
        leg.arrival = Some(ArrivalRef {
            tx_hash: format!("{:#x}", a.tx_hash),
            log_index: a.log_index,
            block: a.block,
        });
        let q = leg.measure(|asset| self.cfg.service.price(asset), self.now());
        leg.quality = Some(q.clone());
        Ok(Step::Event(
            LegEvent::Arrived,
            json!({"tx": format!("{:#x}", a.tx_hash), "block": a.block, "amount": a.amount, "quality": q}),
        ))
    }

    // ---- reconciliation -----------------------------------------------------------------------------

    /// An expired leg: look for the progress it was waiting for; when the world has moved on, reopen it.
    async fn reconcile_expired(&self, leg: &mut Leg, out: &mut Outcome) -> Result<(), StoreError> {
        let Some(stopped) = leg.stopped_in else {
            return Ok(());
        };
        if !matches!(
            stopped,
            Stage::DepositSubmitted | Stage::WithdrawSubmitted | Stage::Withdrawn
        ) {
            return Ok(());
        }
        let mut probe = leg.clone();
        if probe.apply(&LegEvent::Reopened, self.now()).is_err() {
            return Ok(());
        }
        let step = match stopped {
            Stage::DepositSubmitted => self.follow_deposit(&mut probe).await,
            Stage::WithdrawSubmitted => self.follow_withdrawal(&probe),
            _ => self.find_arrival(&mut probe).await?,
        };
        if let Step::Event(ev, detail) = step {
            tracing::warn!(leg = %leg.id, "an expired leg moved on; reopened");
            *leg = probe;
            self.save(leg, "leg.reopened", json!({"stage": leg.stage}), vec![])
                .await?;
            self.apply(leg, Step::Event(ev, detail), vec![], out)
                .await?;
        }
        Ok(())
    }
}
