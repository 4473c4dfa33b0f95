//! The lifecycle of one rebalance leg, as an explicit state machine.
//!
//! A move from (chain A, asset X) to (chain B, asset Y) through a venue is:
//!
//! ```text
//! planned -> deposit submitted -> deposited -> auctioning -> swapped -> withdraw submitted -> withdrawn -> done
//!                                     \____ (same asset: no swap) ____/
//! ```
//!
//! plus `failed` and `expired`. Every state says where the funds are. Transitions are checked: an event that
//! does not fit the current state is refused with a typed error, never applied silently. Each stage has its own
//! time to live; an expired leg keeps its funds' location, goes to reconciliation and raises an alert — its
//! funds are never forgotten, and they keep counting as pending until someone settles them.
//!
//! Pure: no I/O, times passed in.

use std::fmt;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{PositionKey, Side, TimestampMs};

/// Where a leg is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Planned,
    DepositSubmitted,
    Deposited,
    Auctioning,
    Swapped,
    WithdrawSubmitted,
    Withdrawn,
    Done,
    Failed,
    Expired,
}

impl Stage {
    pub fn is_final(self) -> bool {
        matches!(self, Stage::Done | Stage::Failed | Stage::Expired)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Planned => "planned",
            Stage::DepositSubmitted => "deposit_submitted",
            Stage::Deposited => "deposited",
            Stage::Auctioning => "auctioning",
            Stage::Swapped => "swapped",
            Stage::WithdrawSubmitted => "withdraw_submitted",
            Stage::Withdrawn => "withdrawn",
            Stage::Done => "done",
            Stage::Failed => "failed",
            Stage::Expired => "expired",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the funds of a leg are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundsAt {
    /// Still on the source chain (nothing sent yet).
    SourceChain,
    /// Sent from the source chain, not yet credited by the venue.
    ToVenue,
    /// On the venue (before, during or after the swap).
    Venue,
    /// Withdrawn by the venue, not yet seen arriving.
    ToDestination,
    /// Arrived.
    DestinationChain,
}

/// Time to live of each stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ttls {
    /// From planned until the deposit transaction is submitted.
    pub submit: Duration,
    /// From submitted until the venue credits the deposit.
    pub deposit: Duration,
    /// From deposited until the swap ends.
    pub swap: Duration,
    /// From swapped until the venue pays the withdrawal out.
    pub withdrawal: Duration,
    /// From withdrawn until the arrival is seen with enough confirmations.
    pub arrival: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Ttls {
            submit: Duration::from_secs(10 * 60),
            deposit: Duration::from_secs(2 * 3600),
            swap: Duration::from_secs(3600),
            withdrawal: Duration::from_secs(6 * 3600),
            arrival: Duration::from_secs(24 * 3600),
        }
    }
}

impl Ttls {
    /// The time to live of a stage (`None` for final stages).
    pub fn of(&self, s: Stage) -> Option<Duration> {
        match s {
            Stage::Planned => Some(self.submit),
            Stage::DepositSubmitted => Some(self.deposit),
            Stage::Deposited | Stage::Auctioning => Some(self.swap),
            Stage::Swapped | Stage::WithdrawSubmitted => Some(self.withdrawal),
            Stage::Withdrawn => Some(self.arrival),
            Stage::Done | Stage::Failed | Stage::Expired => None,
        }
    }
}

/// One leg.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Leg {
    /// Deterministic id: the same plan gives the same id, so a retry is idempotent.
    pub id: String,
    /// Version of the configuration that planned it.
    pub config_version: String,
    pub venue: String,
    pub from: PositionKey,
    pub to: PositionKey,
    /// The venue market of the swap (`None` for a same-asset move).
    pub market: Option<String>,
    /// Source units sent.
    pub amount_in: Decimal,
    /// Destination units expected (planner's estimate, after costs).
    pub expected_out: Decimal,
    /// Destination units obtained by the swap (or moved, for a same-asset leg), before the withdrawal fee.
    pub received_out: Option<Decimal>,
    /// Source units left unswapped on the venue (returned to the source chain).
    pub remainder_in: Decimal,
    /// Withdrawal fee charged, in destination units.
    pub withdrawal_fee: Decimal,
    pub stage: Stage,
    pub funds_at: FundsAt,
    pub deposit_tx: Option<String>,
    pub withdrawal_id: Option<String>,
    pub withdrawal_tx: Option<String>,
    pub created_ms: TimestampMs,
    pub stage_since_ms: TimestampMs,
    /// Why it failed or expired.
    pub problem: Option<String>,
    /// The stage it was in when it failed or expired.
    pub stopped_in: Option<Stage>,
    /// The funds started on the venue (a return leg): nothing to debit on a source chain.
    #[serde(default)]
    pub starts_on_venue: bool,
    /// Value (base units) the planner moved with this leg.
    #[serde(default)]
    pub value: Decimal,
    /// The cycle that planned it.
    #[serde(default)]
    pub cycle: u64,
    /// The block that mined the deposit: source balances read at or after it already show it.
    #[serde(default)]
    pub deposit_block: Option<u64>,
    /// The mined deposit transaction's hash.
    #[serde(default)]
    pub deposit_hash: Option<String>,
    /// The venue's record of the credited deposit (claimed by this leg only).
    #[serde(default)]
    pub deposit_id: Option<String>,
    /// The swap on the venue, once it started.
    #[serde(default)]
    pub swap: Option<SwapProgress>,
    /// The withdrawal's idempotency key, journaled before the withdrawal is requested.
    #[serde(default)]
    pub withdraw_key: Option<String>,
    /// The amount the withdrawal asks for (destination units, on the asset's decimals).
    #[serde(default)]
    pub withdraw_amount: Option<Decimal>,
    /// When the withdrawal was (first) requested.
    #[serde(default)]
    pub withdraw_requested_ms: Option<TimestampMs>,
    /// The destination chain's head when the withdrawal was requested: the arrival is at or after it.
    #[serde(default)]
    pub dest_from_block: Option<u64>,
    /// The arrival that completed the leg.
    #[serde(default)]
    pub arrival: Option<ArrivalRef>,
    /// The move of the deposit from the venue's funding account to its trading account, before the swap
    /// (venues that keep the two apart: Hyperliquid's perp -> spot).
    #[serde(default)]
    pub to_trading: Option<AccountMove>,
    /// The move from the trading account to the funding account, before the withdrawal.
    #[serde(default)]
    pub to_funding: Option<AccountMove>,
    /// How well the leg was executed, once its funds arrived.
    #[serde(default)]
    pub quality: Option<Quality>,
}

/// The execution quality of a completed leg, in the portfolio's base units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// The swap's average price against the mid when it started, in bps; positive is worse for us (paid
    /// more, or sold for less). `None` for a same-asset move.
    pub slippage_bps: Option<f64>,
    /// Venue fees: the swap's fees and the withdrawal fee.
    pub fees: Decimal,
    /// Everything the leg cost: the value that left the source minus the value that arrived (fees and
    /// slippage included; an unfilled remainder returns in its own leg and is not counted here).
    pub cost: Decimal,
    /// The cost in bps of the value moved.
    pub cost_bps: f64,
    /// From planning to the funds arriving at the destination.
    pub lag_ms: i64,
}

impl Leg {
    /// The execution quality of the leg as it stands, `price` valuing an asset in base units.
    pub fn measure(&self, price: impl Fn(&str) -> Decimal, now: TimestampMs) -> Quality {
        let p_in = price(&self.from.asset);
        let p_out = price(&self.to.asset);
        let mut fees = self.withdrawal_fee * p_out;
        let mut slippage_bps = None;
        if let Some(sw) = &self.swap {
            for (asset, f) in &sw.fees {
                fees += *f * price(asset);
            }
            if let (Some(r), false) = (sw.arrival_price, sw.filled.is_zero())
                && !r.is_zero()
            {
                let avg = sw.notional / sw.filled;
                let bps = crate::model::to_f64((avg - r) / r) * 10_000.0;
                slippage_bps = Some(match sw.side {
                    Side::Buy => bps,
                    Side::Sell => -bps,
                });
            }
        }
        let sent = (self.amount_in - self.remainder_in).max(Decimal::ZERO);
        let got = self
            .withdraw_amount
            .or(self.received_out)
            .unwrap_or_default()
            - self.withdrawal_fee;
        let value_in = sent * p_in;
        let cost = value_in - got.max(Decimal::ZERO) * p_out;
        let cost_bps = if value_in.is_zero() {
            0.0
        } else {
            crate::model::to_f64(cost / value_in) * 10_000.0
        };
        Quality {
            slippage_bps,
            fees,
            cost,
            cost_bps,
            lag_ms: now - self.created_ms,
        }
    }
}

/// A move between a venue's own accounts, journaled (with its nonce) before the first request, so a retry
/// after a lost answer sends the very same request, which the venue executes at most once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountMove {
    pub asset: String,
    pub amount: Decimal,
    /// The nonce of the signed request.
    pub nonce: u64,
    /// When this nonce was first sent.
    pub sent_ms: TimestampMs,
    /// Requests sent under this nonce.
    pub sends: u32,
    /// The venue confirmed it (by its answer, or by its ledger record `record`).
    pub done: bool,
    #[serde(default)]
    pub record: Option<String>,
}

/// The on-chain transfer that completed a leg.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalRef {
    pub tx_hash: String,
    pub log_index: u64,
    pub block: u64,
}

/// The swap of a leg on its venue, worked in one or more auction attempts. Each attempt has its own intent
/// (`{leg}:swap:{attempt}`), so client order ids never repeat across attempts; an attempt interrupted by a
/// crash or a halt is folded in from the venue's own records before the next one starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwapProgress {
    pub market: String,
    pub side: Side,
    /// Base and quote assets of the market (venue names).
    pub base: String,
    pub quote: String,
    /// Base quantity to trade in total.
    pub quantity: Decimal,
    /// The current (or last) attempt.
    pub attempt: u32,
    /// The current attempt was started and not folded in yet.
    pub open: bool,
    /// Start of the current attempt.
    pub started_ms: TimestampMs,
    /// Base quantity filled by the folded attempts.
    pub filled: Decimal,
    /// Quote notional (price x qty) of those fills.
    pub notional: Decimal,
    /// Fees of those fills, per asset.
    pub fees: std::collections::BTreeMap<String, Decimal>,
    /// The reference price when the first attempt started (the benchmark of the swap's cost).
    pub arrival_price: Option<Decimal>,
    /// No new attempt before this (after an attempt the venue ended with a rejection).
    #[serde(default)]
    pub not_before_ms: Option<TimestampMs>,
}

impl SwapProgress {
    /// The intent of the current attempt (client order ids derive from it).
    pub fn intent(&self, leg: &str) -> String {
        format!("{leg}:swap:{}", self.attempt)
    }

    /// Base quantity still to trade.
    pub fn remaining(&self) -> Decimal {
        (self.quantity - self.filled).max(Decimal::ZERO)
    }

    fn fee(&self, asset: &str) -> Decimal {
        self.fees.get(asset).copied().unwrap_or_default()
    }

    /// Source units spent and destination units received so far, net of fees. A sell gives base for
    /// quote, a buy quote for base.
    pub fn outcome(&self) -> (Decimal, Decimal) {
        match self.side {
            Side::Sell => (
                self.filled + self.fee(&self.base),
                self.notional - self.fee(&self.quote),
            ),
            Side::Buy => (
                self.notional + self.fee(&self.quote),
                self.filled - self.fee(&self.base),
            ),
        }
    }

    /// Count fills (price, qty, fee, fee asset) of an attempt.
    pub fn add_fills<'a>(
        &mut self,
        fills: impl IntoIterator<Item = (Decimal, Decimal, Decimal, &'a str)>,
    ) {
        for (price, qty, fee, fee_asset) in fills {
            self.filled += qty;
            self.notional += price * qty;
            if !fee.is_zero() {
                *self.fees.entry(fee_asset.to_string()).or_default() += fee;
            }
        }
    }
}

/// What happened to a leg.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LegEvent {
    /// The deposit transaction was signed, journaled and broadcast.
    DepositSubmitted { tx: String },
    /// The venue credited the deposit.
    Deposited,
    /// The swap started working on the venue.
    SwapStarted,
    /// The swap ended: `received` destination units, `unfilled` source units left.
    Swapped {
        received: Decimal,
        unfilled: Decimal,
    },
    /// The withdrawal was requested at the venue.
    WithdrawSubmitted { id: String },
    /// The venue paid the withdrawal out.
    Withdrawn { tx: Option<String>, fee: Decimal },
    /// The funds arrived on the destination with enough confirmations.
    Arrived,
    /// Something failed irrecoverably at this stage (the funds stay where they are).
    Failed { reason: String },
    /// The deposit transaction can never be mined (dropped, or reverted): the funds never left the source.
    DepositFailed { reason: String },
    /// Reconciliation saw an expired leg move on: it goes back to the stage it expired in.
    Reopened,
}

/// An event that does not fit the leg's state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("leg {leg}: {event} is not possible in stage {stage}")]
pub struct TransitionError {
    pub leg: String,
    pub stage: Stage,
    pub event: String,
}

impl Leg {
    /// A new planned leg.
    #[allow(clippy::too_many_arguments)]
    pub fn planned(
        id: String,
        config_version: String,
        venue: String,
        from: PositionKey,
        to: PositionKey,
        market: Option<String>,
        amount_in: Decimal,
        expected_out: Decimal,
        now: TimestampMs,
    ) -> Leg {
        Leg {
            id,
            config_version,
            venue,
            from,
            to,
            market,
            amount_in,
            expected_out,
            received_out: None,
            remainder_in: Decimal::ZERO,
            withdrawal_fee: Decimal::ZERO,
            stage: Stage::Planned,
            funds_at: FundsAt::SourceChain,
            deposit_tx: None,
            withdrawal_id: None,
            withdrawal_tx: None,
            created_ms: now,
            stage_since_ms: now,
            problem: None,
            stopped_in: None,
            starts_on_venue: false,
            value: Decimal::ZERO,
            cycle: 0,
            deposit_block: None,
            deposit_hash: None,
            deposit_id: None,
            swap: None,
            withdraw_key: None,
            withdraw_amount: None,
            withdraw_requested_ms: None,
            dest_from_block: None,
            arrival: None,
            to_trading: None,
            to_funding: None,
            quality: None,
        }
    }

    /// The leg that brings a swap's unfilled remainder back from the venue to the source chain. It starts with
    /// the funds on the venue, ready to be withdrawn.
    pub fn return_of(parent: &Leg, now: TimestampMs) -> Leg {
        let mut l = Leg::planned(
            format!("{}-return", parent.id),
            parent.config_version.clone(),
            parent.venue.clone(),
            parent.from.clone(),
            parent.from.clone(),
            None,
            parent.remainder_in,
            parent.remainder_in,
            now,
        );
        l.stage = Stage::Swapped;
        l.funds_at = FundsAt::Venue;
        l.received_out = Some(parent.remainder_in);
        l.starts_on_venue = true;
        l
    }

    /// The amount the withdrawal asks for, once decided.
    pub fn withdraw_amount(&self) -> Option<Decimal> {
        self.withdraw_amount
    }

    /// Is a swap part of this leg?
    pub fn swaps(&self) -> bool {
        self.from.asset != self.to.asset
    }

    /// Apply an event.
    pub fn apply(&mut self, ev: &LegEvent, now: TimestampMs) -> Result<(), TransitionError> {
        use LegEvent as E;
        use Stage as S;
        let (stage, funds) = match (self.stage, ev) {
            (S::Planned, E::DepositSubmitted { tx }) => {
                self.deposit_tx = Some(tx.clone());
                (S::DepositSubmitted, FundsAt::ToVenue)
            }
            (S::DepositSubmitted, E::Deposited) => (S::Deposited, FundsAt::Venue),
            (S::Deposited, E::SwapStarted) if self.swaps() => (S::Auctioning, FundsAt::Venue),
            (S::Auctioning, E::Swapped { received, unfilled }) => {
                self.received_out = Some(*received);
                self.remainder_in = *unfilled;
                (S::Swapped, FundsAt::Venue)
            }
            // A same-asset leg moves on from the deposit straight to the withdrawal.
            (S::Deposited, E::Swapped { received, unfilled }) if !self.swaps() => {
                self.received_out = Some(*received);
                self.remainder_in = *unfilled;
                (S::Swapped, FundsAt::Venue)
            }
            (S::Swapped, E::WithdrawSubmitted { id }) => {
                self.withdrawal_id = Some(id.clone());
                (S::WithdrawSubmitted, FundsAt::Venue)
            }
            (S::WithdrawSubmitted, E::Withdrawn { tx, fee }) => {
                self.withdrawal_tx = tx.clone();
                self.withdrawal_fee = *fee;
                (S::Withdrawn, FundsAt::ToDestination)
            }
            (S::Withdrawn, E::Arrived) => (S::Done, FundsAt::DestinationChain),
            (s, E::Failed { reason }) if !s.is_final() => {
                self.problem = Some(reason.clone());
                self.stopped_in = Some(s);
                (S::Failed, self.funds_at)
            }
            (S::DepositSubmitted, E::DepositFailed { reason }) => {
                self.problem = Some(reason.clone());
                self.stopped_in = Some(S::DepositSubmitted);
                (S::Failed, FundsAt::SourceChain)
            }
            (S::Expired, E::Reopened) if self.stopped_in.is_some() => {
                let back = self.stopped_in.take().expect("checked");
                self.problem = None;
                (back, self.funds_at)
            }
            (s, e) => {
                return Err(TransitionError {
                    leg: self.id.clone(),
                    stage: s,
                    event: event_name(e).to_string(),
                });
            }
        };
        self.stage = stage;
        self.funds_at = funds;
        self.stage_since_ms = now;
        Ok(())
    }

    /// Expire the leg if its stage outlived its time to live. Returns true when it expired now.
    pub fn check_expiry(&mut self, ttls: &Ttls, now: TimestampMs) -> bool {
        let Some(ttl) = ttls.of(self.stage) else {
            return false;
        };
        if now - self.stage_since_ms > ttl.as_millis() as i64 {
            self.problem = Some(format!(
                "stage {} outlived its time to live of {}",
                self.stage,
                crate::model::format_duration(ttl)
            ));
            self.stopped_in = Some(self.stage);
            self.stage = Stage::Expired;
            self.stage_since_ms = now;
            true
        } else {
            false
        }
    }

    /// This leg's signed contribution to the pending amounts of positions, in asset units.
    ///
    /// `source_left` says whether the source chain's balance (as read) already reflects the deposit
    /// transaction; `arrived` whether the destination's balance already reflects the arrival. Until the source
    /// balance shows the deposit, the source is debited here; until the destination balance shows the arrival,
    /// the destination is credited. Failed and expired legs keep counting where their funds are headed, so
    /// nothing is forgotten before a reconciliation settles them.
    pub fn pending(&self, source_left: bool, arrived: bool) -> [(PositionKey, Decimal); 2] {
        let stopped = self.stopped_in.unwrap_or(self.stage);
        let effective = if matches!(self.stage, Stage::Failed | Stage::Expired) {
            stopped
        } else {
            self.stage
        };
        let mut src = Decimal::ZERO;
        let mut dst = Decimal::ZERO;
        if effective == Stage::Planned
            || (self.funds_at == FundsAt::SourceChain && !self.starts_on_venue)
        {
            // Nothing sent: no pending either way.
            return [(self.from.clone(), src), (self.to.clone(), dst)];
        }
        if !source_left && !self.starts_on_venue && effective >= Stage::DepositSubmitted {
            src -= self.amount_in;
        }
        if !arrived && effective != Stage::Done {
            dst += match self.received_out {
                Some(r) => r - self.withdrawal_fee,
                None => self.expected_out,
            };
        }
        [(self.from.clone(), src), (self.to.clone(), dst)]
    }
}

fn event_name(e: &LegEvent) -> &'static str {
    match e {
        LegEvent::DepositSubmitted { .. } => "deposit_submitted",
        LegEvent::Deposited => "deposited",
        LegEvent::SwapStarted => "swap_started",
        LegEvent::Swapped { .. } => "swapped",
        LegEvent::WithdrawSubmitted { .. } => "withdraw_submitted",
        LegEvent::Withdrawn { .. } => "withdrawn",
        LegEvent::Arrived => "arrived",
        LegEvent::Failed { .. } => "failed",
        LegEvent::DepositFailed { .. } => "deposit_failed",
        LegEvent::Reopened => "reopened",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(swap: bool) -> Leg {
        Leg::planned(
            "leg-1".into(),
            "abcdef012345".into(),
            "binance".into(),
            PositionKey::new("base", "USDC"),
            PositionKey::new("arbitrum", if swap { "USDT" } else { "USDC" }),
            swap.then(|| "USDCUSDT".to_string()),
            Decimal::from(1000),
            Decimal::from(998),
            0,
        )
    }

    #[test]
    fn a_swap_leg_walks_every_stage_and_says_where_the_funds_are() {
        let mut l = leg(true);
        let steps = [
            (
                LegEvent::DepositSubmitted { tx: "0xabc".into() },
                Stage::DepositSubmitted,
                FundsAt::ToVenue,
            ),
            (LegEvent::Deposited, Stage::Deposited, FundsAt::Venue),
            (LegEvent::SwapStarted, Stage::Auctioning, FundsAt::Venue),
            (
                LegEvent::Swapped {
                    received: Decimal::from(999),
                    unfilled: Decimal::ZERO,
                },
                Stage::Swapped,
                FundsAt::Venue,
            ),
            (
                LegEvent::WithdrawSubmitted { id: "w1".into() },
                Stage::WithdrawSubmitted,
                FundsAt::Venue,
            ),
            (
                LegEvent::Withdrawn {
                    tx: Some("0xdef".into()),
                    fee: Decimal::ONE,
                },
                Stage::Withdrawn,
                FundsAt::ToDestination,
            ),
            (LegEvent::Arrived, Stage::Done, FundsAt::DestinationChain),
        ];
        for (i, (ev, stage, funds)) in steps.into_iter().enumerate() {
            l.apply(&ev, i as i64).unwrap();
            assert_eq!((l.stage, l.funds_at), (stage, funds));
        }
        assert_eq!(l.received_out, Some(Decimal::from(999)));
    }

    #[test]
    fn quality_counts_slippage_fees_cost_and_lag() {
        let mut l = leg(true);
        l.created_ms = 1_000;
        let mut sw = SwapProgress {
            market: "USDCUSDT".into(),
            side: Side::Sell,
            base: "USDC".into(),
            quote: "USDT".into(),
            quantity: Decimal::from(1000),
            attempt: 0,
            open: false,
            started_ms: 0,
            filled: Decimal::ZERO,
            notional: Decimal::ZERO,
            fees: Default::default(),
            arrival_price: Some(Decimal::ONE),
            not_before_ms: None,
        };
        // Sold 1000 USDC at 0.999 (10 bps below the arrival mid), 0.4 USDT fee.
        sw.add_fills([(
            Decimal::new(999, 3),
            Decimal::from(1000),
            Decimal::new(4, 1),
            "USDT",
        )]);
        l.swap = Some(sw);
        l.received_out = Some(Decimal::new(9986, 1));
        l.withdraw_amount = Some(Decimal::new(9986, 1));
        l.withdrawal_fee = Decimal::ONE;
        let q = l.measure(|_| Decimal::ONE, 61_000);
        assert!((q.slippage_bps.unwrap() - 10.0).abs() < 1e-9, "{q:?}");
        assert_eq!(q.fees, Decimal::new(14, 1));
        // 1000 left, 997.6 arrived.
        assert_eq!(q.cost, Decimal::new(24, 1));
        assert!((q.cost_bps - 24.0).abs() < 1e-9);
        assert_eq!(q.lag_ms, 60_000);
        // A buy above the mid is slippage too; a same-asset move has none.
        let mut b = l.clone();
        let s = b.swap.as_mut().unwrap();
        s.side = Side::Buy;
        assert!((b.measure(|_| Decimal::ONE, 0).slippage_bps.unwrap() + 10.0).abs() < 1e-9);
        let t = leg(false);
        assert_eq!(t.measure(|_| Decimal::ONE, 0).slippage_bps, None);
    }

    #[test]
    fn events_out_of_order_are_refused() {
        let mut l = leg(true);
        let e = l.apply(&LegEvent::Deposited, 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "leg leg-1: deposited is not possible in stage planned"
        );
        l.apply(&LegEvent::DepositSubmitted { tx: "0x1".into() }, 1)
            .unwrap();
        assert!(
            l.apply(&LegEvent::DepositSubmitted { tx: "0x1".into() }, 2)
                .is_err(),
            "no double submit"
        );
        // A same-asset leg has no swap stage.
        let mut t = leg(false);
        t.apply(&LegEvent::DepositSubmitted { tx: "0x1".into() }, 1)
            .unwrap();
        t.apply(&LegEvent::Deposited, 2).unwrap();
        assert!(t.apply(&LegEvent::SwapStarted, 3).is_err());
        t.apply(
            &LegEvent::Swapped {
                received: Decimal::from(1000),
                unfilled: Decimal::ZERO,
            },
            3,
        )
        .unwrap();
        assert_eq!(t.stage, Stage::Swapped);
    }

    #[test]
    fn each_stage_expires_on_its_own_ttl_and_keeps_its_funds() {
        let ttls = Ttls::default();
        let mut l = leg(true);
        l.apply(&LegEvent::DepositSubmitted { tx: "0x1".into() }, 0)
            .unwrap();
        assert!(!l.check_expiry(&ttls, 3600 * 1000));
        assert!(l.check_expiry(&ttls, 2 * 3600 * 1000 + 1));
        assert_eq!(l.stage, Stage::Expired);
        assert_eq!(l.stopped_in, Some(Stage::DepositSubmitted));
        assert_eq!(l.funds_at, FundsAt::ToVenue);
        assert!(
            l.problem
                .as_ref()
                .unwrap()
                .contains("deposit_submitted outlived its time to live of 2h")
        );
        // An expired leg still counts: its funds are headed for the destination.
        let p = l.pending(true, false);
        assert_eq!(p[1].1, Decimal::from(998));
    }

    #[test]
    fn pending_never_counts_twice_across_a_block_boundary() {
        let mut l = leg(true);
        // Planned: nothing moved.
        assert_eq!(
            l.pending(false, false)[0].1 + l.pending(false, false)[1].1,
            Decimal::ZERO
        );
        l.apply(&LegEvent::DepositSubmitted { tx: "0x1".into() }, 1)
            .unwrap();
        // Balance read before the deposit was mined: source still shows the funds, so debit it here.
        let before = l.pending(false, false);
        assert_eq!(
            (before[0].1, before[1].1),
            (Decimal::from(-1000), Decimal::from(998))
        );
        // After it was mined: the source balance already dropped; only the destination credit remains.
        let after = l.pending(true, false);
        assert_eq!(
            (after[0].1, after[1].1),
            (Decimal::ZERO, Decimal::from(998))
        );
        for e in [
            LegEvent::Deposited,
            LegEvent::SwapStarted,
            LegEvent::Swapped {
                received: Decimal::from(600),
                unfilled: Decimal::from(400),
            },
            LegEvent::WithdrawSubmitted { id: "w".into() },
            LegEvent::Withdrawn {
                tx: None,
                fee: Decimal::ONE,
            },
        ] {
            l.apply(&e, 2).unwrap();
        }
        // Swap filled 600 (599 after the fee); the 400 left heads back in a return leg.
        let p = l.pending(true, false);
        assert_eq!((p[0].1, p[1].1), (Decimal::ZERO, Decimal::from(599)));
        let r = Leg::return_of(&l, 2);
        assert_eq!(
            (r.stage, r.funds_at, r.from.clone()),
            (Stage::Swapped, FundsAt::Venue, l.from.clone())
        );
        let rp = r.pending(false, false);
        assert_eq!(
            rp[0].1 + rp[1].1,
            Decimal::from(400),
            "the remainder counts once, for the source"
        );
        // Arrived and visible in the destination balance: nothing pending for the destination.
        l.apply(&LegEvent::Arrived, 3).unwrap();
        assert_eq!(l.pending(true, true)[1].1, Decimal::ZERO);
    }
}
