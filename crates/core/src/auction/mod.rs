//! The Dutch auction: one order worked as a maker down a price schedule with a hard floor, as a pure state
//! machine.
//!
//! Sans-IO, like `quinn-proto`: no I/O, no clock, no randomness. The driver (the executor's async loop, or a
//! backtest's synchronous loop) passes the time into every call and carries requests to a venue:
//!
//! ```text
//! loop {
//!     while let Some(action) = auction.poll_action(now, headroom) { send it; feed its result with handle() }
//!     if auction.is_done() { break }
//!     wait for an event (fill, order update, book, result) or until auction.poll_timeout()
//!     auction.handle(now, event)      // Event::Timer when the timeout fired
//! }
//! let report = auction.report();
//! ```
//!
//! At most one request is outstanding at a time: after an [`Action`] the auction emits nothing more until the
//! result event of that action arrives ([`Event::from_place`], [`Event::from_replace`], [`Event::from_cancel`],
//! [`Event::from_query`] map each `Venue` call's result to exactly one event). Fills, order updates and book
//! tops may arrive at any time, in any order, more than once.
//!
//! See `docs/AUCTION.md` for the schedule, the pricing rules and the event contract.

mod event;
mod report;
pub mod schedule;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Side, TimestampMs};
use crate::order::{
    ClientOrderId, Fill, MarketRules, OrderRequest, OrderState, OrderStatus, RejectKind,
    RuleViolation, TimeInForce, Toward, VenueError,
};

pub use event::{Action, Event};
pub use report::{AuditRecord, Decision, EndReason, FillRecord, Report};
pub use schedule::{Point, Schedule, ScheduleError, Shape};

/// Below this rate-budget headroom the step interval stretches: `interval x LOW_HEADROOM / headroom`.
pub const LOW_HEADROOM: f64 = 0.5;
/// The headroom used for the stretch when it is lower (the stretch is at most `LOW_HEADROOM / MIN_HEADROOM`,
/// 10x). At a headroom of 0 no step is taken.
pub const MIN_HEADROOM: f64 = 0.05;
/// The first wait after a refused request when the venue gives no retry time; it doubles with each failure in
/// a row, up to one step interval.
pub const RETRY_BASE_MS: i64 = 250;
/// At most this many fills waiting for their venue order id to be learned (the oldest are dropped).
const MAX_ORPHANS: usize = 1024;

/// How a resting order is moved to a new price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reprice {
    /// One `Venue::replace` request (cancel-replace or modify).
    #[default]
    Replace,
    /// Cancel, wait for the confirmation, then place: two requests, for venues without a safe replace.
    CancelThenPlace,
}

/// What to auction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuctionParams {
    /// The intent this auction serves; client order ids are `ClientOrderId::derive(intent, n)` for n = 0, 1,
    /// ..., so a restarted auction with the same intent re-derives the same ids.
    pub intent: String,
    pub side: Side,
    /// Base units.
    pub quantity: Decimal,
    /// The reference price (arrival mid or an oracle): the schedule's anchor and the shortfall's benchmark.
    pub reference: Decimal,
    pub start_ms: TimestampMs,
    pub schedule: Schedule,
    pub reprice: Reprice,
}

/// Why an auction cannot be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AuctionError {
    #[error("schedule: {0}")]
    Schedule(#[from] ScheduleError),
    #[error("the intent id is empty (client order ids are derived from it)")]
    EmptyIntent,
    #[error("quantity {0} is not positive")]
    QuantityNotPositive(Decimal),
    #[error("reference price {0} is not positive")]
    ReferenceNotPositive(Decimal),
    #[error(
        "the floor price {floor} rounds to {rounded} on the grid of {market}: no order can be priced"
    )]
    FloorOffGrid {
        market: String,
        floor: Decimal,
        rounded: Decimal,
    },
    #[error(
        "quantity {quantity} is below the minimum of {market} at the floor price {floor}: {violation}"
    )]
    BelowMinimum {
        market: String,
        quantity: Decimal,
        floor: Decimal,
        violation: RuleViolation,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OState {
    /// Request in flight, no answer yet.
    Sent,
    /// Resting on the book (possibly partly filled).
    Open,
    /// Final.
    Closed,
    /// May or may not exist: to be queried.
    Unknown,
}

#[derive(Clone, Debug)]
struct Order {
    id: ClientOrderId,
    venue_id: Option<String>,
    price: Decimal,
    /// Quantity as sent.
    sent_qty: Decimal,
    /// Quantity the venue holds: as sent, less any reduction the venue applied on a replace.
    qty: Decimal,
    tif: TimeInForce,
    state: OState,
    /// Counted fills (unique trade ids).
    seen: Decimal,
    /// Executed quantity the venue reported, or a replace's reduction implies: a lower bound.
    reported: Decimal,
    /// `reported` (or `seen`) is the order's final executed quantity.
    final_known: bool,
    /// For the new order of a replace: the old order and the `old_known_filled` sent with it.
    replaces: Option<(usize, Decimal)>,
    /// Queried once to learn its venue id (for fills that carry only that).
    id_queried: bool,
    /// The venue is known to have had this order (acknowledged, filled, reported, or given a venue id).
    existed: bool,
}

impl Order {
    /// What the order executed, as far as anything tells.
    fn known(&self) -> Decimal {
        self.seen.max(self.reported)
    }
    fn wants_id(&self) -> bool {
        self.venue_id.is_none() && !self.id_queried && self.reported > self.seen
    }
    fn settled(&self) -> bool {
        self.state == OState::Closed && self.final_known
    }
    fn unresolved(&self) -> bool {
        match self.state {
            OState::Unknown => true,
            OState::Closed => !self.final_known,
            OState::Sent | OState::Open => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InFlight {
    Place(usize),
    Replace { old: usize, new: usize },
    Cancel(usize),
    Query(usize),
}

enum Sendable {
    Yes,
    BelowMinimum,
    NotAtThisPrice,
}

/// A working order, for progress displays and the executor's inventory position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Working {
    pub client_id: ClientOrderId,
    pub price: Decimal,
    pub qty: Decimal,
    pub filled: Decimal,
    pub tif: TimeInForce,
}

/// One Dutch auction. See the module documentation for the driving loop.
#[derive(Clone, Debug)]
pub struct Auction {
    intent: String,
    side: Side,
    quantity: Decimal,
    rules: MarketRules,
    schedule: Schedule,
    reprice: Reprice,
    start_ms: TimestampMs,
    deadline_at: TimestampMs,
    taker_at: Option<TimestampMs>,
    arrival: Decimal,
    reference: Decimal,
    start_price: Decimal,
    floor: Decimal,
    floor_grid: Decimal,
    best_bid: Option<Decimal>,
    best_ask: Option<Decimal>,
    /// From a post-only rejection: the other side's best was at least this good.
    cross_bound: Option<Decimal>,
    orders: Vec<Order>,
    /// Order index by the first 64 bits of the client id (verified on lookup).
    index: HashMap<u64, usize, BuildHasherDefault<IdKeyHasher>>,
    /// The id of the next order, derived ahead of the step that sends it (off the step's latency).
    next_id: Option<ClientOrderId>,
    /// The last remainder and its order size (rounded to the lot, capped): sized again only when it changes.
    sized: (Decimal, Decimal, bool),
    /// Every order before this index is settled.
    settled_prefix: usize,
    /// Sum of `known()` over all orders.
    known_total: Decimal,
    /// Sum of counted fills.
    counted: Decimal,
    in_flight: Option<InFlight>,
    seq: u32,
    now: TimestampMs,
    next_step_at: TimestampMs,
    last_step_at: Option<TimestampMs>,
    deferred_until: Option<TimestampMs>,
    retry_at: Option<TimestampMs>,
    /// Requests refused in a row (rate limits, unreachable venue): the backoff grows with it.
    failures: u32,
    /// Act at the next poll without waiting for the step (after a cancel-for-reprice, a post-only rejection,
    /// a refused request).
    act_now: bool,
    ending: Option<EndReason>,
    done: bool,
    ended_at: Option<TimestampMs>,
    filled_at: Option<TimestampMs>,
    trade_ids: HashSet<String>,
    /// Fills that carry only a venue order id not known yet: counted once an order turns out to have it.
    orphans: Vec<Fill>,
    /// Orders that may have to be queried for their venue id (see `Order::wants_id`).
    want_id: Vec<usize>,
    fills: Vec<FillRecord>,
    overfills: Vec<FillRecord>,
    duplicate_fills: u32,
    steps: u32,
    skipped: u32,
    replaces: u32,
    placed: u32,
    reanchors: u32,
    audit: Vec<AuditRecord>,
}

impl Auction {
    /// Validate the parameters against the market's rules and build the auction. Nothing is sent before the
    /// first `poll_action` at or after `start_ms`.
    pub fn new(params: AuctionParams, rules: MarketRules) -> Result<Auction, AuctionError> {
        params.schedule.validate()?;
        if params.intent.is_empty() {
            return Err(AuctionError::EmptyIntent);
        }
        if params.quantity <= Decimal::ZERO {
            return Err(AuctionError::QuantityNotPositive(params.quantity));
        }
        if params.reference <= Decimal::ZERO {
            return Err(AuctionError::ReferenceNotPositive(params.reference));
        }
        let side = params.side;
        let s = &params.schedule;
        let floor = schedule::floor_price(side, params.reference, s.floor_bps);
        let floor_grid = rules.round_price(floor, side, Toward::Passive);
        if floor_grid <= Decimal::ZERO {
            return Err(AuctionError::FloorOffGrid {
                market: rules.market.clone(),
                floor,
                rounded: floor_grid,
            });
        }
        let first = rules.round_qty(cap(&rules, params.quantity));
        if let Err(violation) = rules.check(floor_grid, first) {
            return Err(AuctionError::BelowMinimum {
                market: rules.market.clone(),
                quantity: params.quantity,
                floor: floor_grid,
                violation,
            });
        }
        let start_ms = params.start_ms;
        let first_id = ClientOrderId::derive(&params.intent, 0);
        Ok(Auction {
            intent: params.intent,
            side,
            quantity: params.quantity,
            start_price: schedule::start_price(side, params.reference, s.start_bps),
            deadline_at: start_ms + s.deadline_ms,
            taker_at: (s.taker_ms > 0).then_some(start_ms + s.deadline_ms - s.taker_ms),
            schedule: params.schedule,
            rules,
            reprice: params.reprice,
            start_ms,
            arrival: params.reference,
            reference: params.reference,
            floor,
            floor_grid,
            best_bid: None,
            best_ask: None,
            cross_bound: None,
            orders: Vec::new(),
            index: HashMap::default(),
            next_id: Some(first_id),
            sized: (Decimal::MIN, Decimal::ZERO, true),
            settled_prefix: 0,
            known_total: Decimal::ZERO,
            counted: Decimal::ZERO,
            in_flight: None,
            seq: 0,
            now: start_ms,
            next_step_at: start_ms,
            last_step_at: None,
            deferred_until: None,
            retry_at: None,
            failures: 0,
            act_now: false,
            ending: None,
            done: false,
            ended_at: None,
            filled_at: None,
            trade_ids: HashSet::new(),
            orphans: Vec::new(),
            want_id: Vec::new(),
            fills: Vec::new(),
            overfills: Vec::new(),
            duplicate_fills: 0,
            steps: 0,
            skipped: 0,
            replaces: 0,
            placed: 0,
            reanchors: 0,
            audit: Vec::new(),
        })
    }

    // ----- driving -----

    /// The next request to send, if any. `headroom` is the rate budget left (0..1, e.g.
    /// `Venue::headroom().fraction`): below [`LOW_HEADROOM`] the step interval stretches, at 0 no step is
    /// taken (cancels and queries still go). Call it again after every event until it returns `None`.
    #[must_use]
    pub fn poll_action(&mut self, now: TimestampMs, headroom: f64) -> Option<Action> {
        self.now = self.now.max(now);
        if self.done {
            return None;
        }
        if self.ending.is_none() && now >= self.deadline_at {
            self.begin_end(now, EndReason::Deadline);
        }
        if self.in_flight.is_some() {
            return None;
        }
        if let Some(t) = self.retry_at {
            if now < t {
                return None;
            }
            self.retry_at = None;
        }
        if let Some(i) = self.first_unresolved() {
            return Some(self.query(now, i));
        }
        if self.ending.is_some() {
            if let Some(i) = self.first_resting() {
                return Some(self.cancel(now, i, "the auction is ending"));
            }
            self.finish(now);
            return None;
        }
        if now < self.start_ms {
            return None;
        }
        let live = self.first_resting();
        if live.is_none() {
            let left = self.quantity - self.known_total;
            let end = if left <= Decimal::ZERO {
                Some(EndReason::Filled)
            } else if self.remainder_below_minimum(left) {
                Some(EndReason::BelowMinimum { remainder: left })
            } else {
                None
            };
            if let Some(reason) = end {
                self.begin_end(now, reason);
                self.finish(now);
                return None;
            }
        }
        if let Some(i) = live
            && self.last_resting() != Some(i)
        {
            return Some(self.cancel(now, i, "a newer order is working"));
        }
        self.step(now, headroom, live)
    }

    /// Feed one event. Any order, any number of times: stale and duplicated events change nothing.
    pub fn handle(&mut self, now: TimestampMs, event: Event) {
        self.now = self.now.max(now);
        let before = (self.in_flight, self.retry_at);
        self.on_event(now, event);
        if before.0.is_some() && self.in_flight.is_none() && self.retry_at == before.1 {
            // A request was answered without a retry: the failure streak is over.
            self.failures = 0;
        }
        while self
            .orders
            .get(self.settled_prefix)
            .is_some_and(Order::settled)
        {
            self.settled_prefix += 1;
        }
        if self.next_id.is_none() && self.ending.is_none() {
            self.next_id = Some(ClientOrderId::derive(&self.intent, self.seq));
        }
    }

    fn on_event(&mut self, now: TimestampMs, event: Event) {
        match event {
            Event::Timer => {}
            Event::Book { best_bid, best_ask } => {
                self.best_bid = best_bid;
                self.best_ask = best_ask;
                self.cross_bound = None;
            }
            Event::Fill(fill) => self.on_fill(now, fill),
            Event::Ack {
                client_id,
                venue_order_id,
            } => {
                let Some(i) = self.lookup(now, &client_id, "ack") else {
                    return;
                };
                self.learn_venue_id(now, i, &venue_order_id);
                let o = &mut self.orders[i];
                if matches!(o.state, OState::Sent | OState::Unknown) {
                    o.state = OState::Open;
                }
                if self.in_flight == Some(InFlight::Place(i)) {
                    self.in_flight = None;
                }
            }
            Event::Closed { client_id, filled } => {
                let Some(i) = self.lookup(now, &client_id, "close") else {
                    return;
                };
                self.close(i, filled);
                match self.in_flight {
                    Some(InFlight::Place(j) | InFlight::Cancel(j)) if j == i => {
                        self.in_flight = None
                    }
                    Some(InFlight::Query(j)) if j == i && self.orders[i].final_known => {
                        self.in_flight = None
                    }
                    _ => {}
                }
            }
            Event::Status { client_id, status } => {
                if let Some(i) = self.lookup(now, &client_id, "status") {
                    self.on_status(now, i, status);
                }
            }
            Event::Failed { client_id, error } => {
                if let Some(i) = self.lookup(now, &client_id, "failure") {
                    self.on_failed(now, i, error);
                }
            }
            Event::Replaced { old, new, status } => self.on_replaced(now, &old, &new, status),
            Event::ReplaceFailed { old, new, error } => {
                self.on_replace_failed(now, &old, &new, error)
            }
        }
    }

    /// When the auction next needs a [`Event::Timer`] (then call `poll_action`), or `None` when only an event
    /// can move it (a request is in flight) or it is done. A time at or before now means "poll now".
    pub fn poll_timeout(&self) -> Option<TimestampMs> {
        if self.done || self.in_flight.is_some() {
            return None;
        }
        if let Some(r) = self.retry_at {
            return Some(r);
        }
        if self.ending.is_some() || self.first_unresolved().is_some() {
            return Some(self.now);
        }
        if self
            .last_resting()
            .is_some_and(|i| self.orders[i].tif == TimeInForce::Ioc)
        {
            // Waiting for the IOC's result; only the deadline could change that.
            return Some(self.deadline_at);
        }
        let step = match (self.deferred_until, self.act_now) {
            (Some(d), _) => d,
            (None, true) => self.now,
            (None, false) => self.due().max(self.start_ms),
        };
        Some(step.min(self.deadline_at))
    }

    /// Stop: cancel what is working and end (reason [`EndReason::Canceled`]) once the venue confirms. Keep
    /// polling and feeding events until `is_done`.
    pub fn cancel_all(&mut self, now: TimestampMs) {
        self.now = self.now.max(now);
        self.begin_end(now, EndReason::Canceled);
    }

    // ----- state -----

    /// Every order is final and the auction is over.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The auction has decided to end (it may still be cancelling).
    pub fn is_ending(&self) -> bool {
        self.ending.is_some()
    }

    pub fn end_reason(&self) -> Option<&EndReason> {
        self.ending.as_ref()
    }

    /// Counted fills, base units (unique trade ids, never above the quantity).
    pub fn filled(&self) -> Decimal {
        self.counted
    }

    /// `quantity - filled()`.
    pub fn remaining(&self) -> Decimal {
        self.quantity - self.counted
    }

    pub fn quantity(&self) -> Decimal {
        self.quantity
    }

    pub fn side(&self) -> Side {
        self.side
    }

    pub fn market(&self) -> &str {
        &self.rules.market
    }

    pub fn deadline_ms(&self) -> TimestampMs {
        self.deadline_at
    }

    /// The reference price now (the arrival price, moved only by re-anchoring in the user's favour).
    pub fn reference(&self) -> Decimal {
        self.reference
    }

    /// The floor on the venue grid (rounded toward the passive side): no order is ever priced beyond it.
    pub fn floor_on_grid(&self) -> Decimal {
        self.floor_grid
    }

    /// The continuous schedule price at `now` (before the book and the grid).
    pub fn schedule_price(&self, now: TimestampMs) -> Decimal {
        schedule::curve(
            self.start_price,
            self.floor,
            &self.schedule.shape,
            now - self.start_ms,
            self.schedule.duration_ms,
        )
    }

    /// The price a maker step at `now` would quote: the schedule price, never beyond the floor, kept passive
    /// against the last known book, rounded onto the grid toward the passive side.
    pub fn quote_price(&self, now: TimestampMs) -> Decimal {
        self.maker_price(self.schedule_price(now))
    }

    /// The order working now (resting or being placed), if any.
    pub fn working(&self) -> Option<Working> {
        let o = &self.orders[self.last_resting()?];
        Some(Working {
            client_id: o.id.clone(),
            price: o.price,
            qty: o.qty,
            filled: o.known(),
            tif: o.tif,
        })
    }

    /// The audit trail so far.
    pub fn audit(&self) -> &[AuditRecord] {
        &self.audit
    }

    /// Take the audit trail recorded since the last call (for logging as the auction runs).
    pub fn take_audit(&mut self) -> Vec<AuditRecord> {
        std::mem::take(&mut self.audit)
    }

    /// The report: final once `is_done`, a snapshot before.
    pub fn report(&self) -> Report {
        let mut notional = Decimal::ZERO;
        let mut fees_quote = Decimal::ZERO;
        let mut other_fees: Vec<(String, Decimal)> = Vec::new();
        let (mut maker_qty, mut taker_qty) = (Decimal::ZERO, Decimal::ZERO);
        for f in &self.fills {
            notional += f.price * f.qty;
            match f.liquidity {
                crate::order::Liquidity::Maker => maker_qty += f.qty,
                crate::order::Liquidity::Taker => taker_qty += f.qty,
            }
            if f.fee_asset == self.rules.quote {
                fees_quote += f.fee;
            } else if f.fee_asset == self.rules.base {
                fees_quote += f.fee * f.price;
            } else if let Some(e) = other_fees.iter_mut().find(|(a, _)| *a == f.fee_asset) {
                e.1 += f.fee;
            } else {
                other_fees.push((f.fee_asset.clone(), f.fee));
            }
        }
        let filled = self.counted;
        let (vwap, shortfall_bps) = if filled > Decimal::ZERO {
            let arrival_value = filled * self.arrival;
            let cost = match self.side {
                Side::Sell => arrival_value - (notional - fees_quote),
                Side::Buy => notional + fees_quote - arrival_value,
            };
            (
                Some(notional / filled),
                Some((cost / arrival_value * Decimal::from(10_000)).round_dp(6)),
            )
        } else {
            (None, None)
        };
        let unseen = self
            .orders
            .iter()
            .map(|o| (o.reported - o.seen).max(Decimal::ZERO))
            .sum();
        Report {
            intent: self.intent.clone(),
            market: self.rules.market.clone(),
            side: self.side,
            quantity: self.quantity,
            arrival_price: self.arrival,
            final_reference: self.reference,
            floor_price: self.floor,
            fills: self.fills.clone(),
            filled,
            unfilled: self.quantity - filled,
            maker_qty,
            taker_qty,
            notional,
            vwap,
            fees_quote,
            other_fees,
            shortfall_bps,
            unseen_fill_qty: unseen,
            overfill: self.overfills.iter().map(|f| f.qty).sum(),
            overfills: self.overfills.clone(),
            duplicate_fills: self.duplicate_fills,
            steps: self.steps,
            skipped_steps: self.skipped,
            replaces: self.replaces,
            orders_placed: self.placed,
            reanchors: self.reanchors,
            started_ms: self.start_ms,
            ended_ms: self.ended_at,
            time_to_fill_ms: self.filled_at.map(|t| t - self.start_ms),
            end_reason: self.ending.as_ref().map(|r| match r {
                // The outcome, not the moment of decision: a cancel may race the last fills.
                _ if filled >= self.quantity => EndReason::Filled,
                EndReason::BelowMinimum { .. } => EndReason::BelowMinimum {
                    remainder: self.quantity - filled,
                },
                other => other.clone(),
            }),
        }
    }

    // ----- the step -----

    fn step(&mut self, now: TimestampMs, headroom: f64, live: Option<usize>) -> Option<Action> {
        if let Some(i) = live
            && self.orders[i].tif == TimeInForce::Ioc
        {
            // An IOC ends by itself; its result closes it.
            return None;
        }
        if !self.act_now && now < self.due() {
            return None;
        }
        let fresh_deferral = self.deferred_until.is_none_or(|d| now >= d);
        if headroom.is_nan() || headroom <= 0.0 {
            let until = now + self.schedule.step_ms;
            if fresh_deferral {
                self.record(now, Decision::BudgetExhausted { until });
            }
            self.deferred_until = Some(until);
            return None;
        }
        if !self.act_now
            && headroom < LOW_HEADROOM
            && let Some(last) = self.last_step_at
        {
            let factor = LOW_HEADROOM / headroom.max(MIN_HEADROOM);
            let until = last + (self.schedule.step_ms as f64 * factor).ceil() as i64;
            if now < until {
                if fresh_deferral {
                    self.record(
                        now,
                        Decision::Stretched {
                            headroom,
                            factor,
                            until,
                        },
                    );
                }
                self.deferred_until = Some(until);
                return None;
            }
        }
        self.deferred_until = None;
        let scheduled = !self.act_now;
        self.act_now = false;
        if scheduled {
            self.steps += 1;
            self.last_step_at = Some(now);
            self.next_step_at = now + self.schedule.step_ms;
            // A crossing price learned from a rejection holds for the re-place only: the market may have
            // moved back since, and a new step tries the schedule again.
            self.cross_bound = None;
        }

        let taker = self.taker_at.is_some_and(|t| now >= t);
        let (price, tif, schedule_price) = if taker {
            (self.floor_grid, TimeInForce::Ioc, self.floor)
        } else {
            let sp = self.schedule_price(now);
            (self.maker_price(sp), TimeInForce::PostOnly, sp)
        };
        let left = self.quantity - self.known_total;
        let sized = self.order_size(left);
        let qty = sized.0;
        if let Some(i) = live {
            let o = &self.orders[i];
            if left <= Decimal::ZERO {
                self.begin_end(now, EndReason::Filled);
                return Some(self.cancel(now, i, "the quantity is reached"));
            }
            if tif == TimeInForce::PostOnly && o.tif == tif && o.price == price {
                if scheduled {
                    self.skipped += 1;
                }
                self.record(now, Decision::SkippedUnchanged { price });
                return None;
            }
        }
        match self.sendable(price, sized) {
            Sendable::Yes => Some(match live {
                None => self.place(now, price, qty, tif, schedule_price),
                Some(i) => self.reprice(now, i, price, qty, tif),
            }),
            Sendable::NotAtThisPrice => {
                self.record(now, Decision::BelowMinNotionalAtPrice { price, qty });
                None
            }
            Sendable::BelowMinimum => {
                self.begin_end(now, EndReason::BelowMinimum { remainder: left });
                match live {
                    Some(i) => {
                        Some(self.cancel(now, i, "the remainder is below the market minimum"))
                    }
                    None => self.poll_action(now, headroom),
                }
            }
        }
    }

    /// When the next scheduled step is due: every `step_ms`, and at the start of the taker phase.
    fn due(&self) -> TimestampMs {
        match self.taker_at {
            Some(t) if self.last_step_at.is_none_or(|l| l < t) => self.next_step_at.min(t),
            _ => self.next_step_at,
        }
    }

    fn maker_price(&self, schedule_price: Decimal) -> Decimal {
        let r = &self.rules;
        let p = match self.side {
            // Above the best bid, rounding up already lands at least one grid step above it.
            Side::Sell => {
                let p = schedule_price.max(self.floor);
                match self.opposite_best() {
                    Some(b) if p <= b => r.next_price(b, true),
                    _ => p,
                }
            }
            Side::Buy => {
                let p = schedule_price.min(self.floor);
                match self.opposite_best() {
                    Some(a) if p >= a => r.next_price(a, false),
                    _ => p,
                }
            }
        };
        let p = r.round_price(p, self.side, Toward::Passive);
        // A buy far below a coarse grid may round to zero: quote the smallest price (still within the floor,
        // which rounds to a positive price).
        if self.side == Side::Buy && p <= Decimal::ZERO {
            r.next_price(Decimal::ZERO, true)
        } else {
            p
        }
    }

    /// The best price on the other side of the book, as far as we know: the last book top, or a crossing
    /// price learned from a post-only rejection since.
    fn opposite_best(&self) -> Option<Decimal> {
        let book = match self.side {
            Side::Sell => self.best_bid,
            Side::Buy => self.best_ask,
        };
        match (book, self.cross_bound) {
            (Some(b), Some(c)) => Some(match self.side {
                Side::Sell => b.max(c),
                Side::Buy => b.min(c),
            }),
            (b, c) => b.or(c),
        }
    }

    /// The size of an order for a remainder (rounded down to the lot, capped at the market's maximum), and
    /// whether it is too small to trade at all: below the lot, the minimum size, or the minimum value at the
    /// floor price. Worked out again only when the remainder changes.
    fn order_size(&mut self, left: Decimal) -> (Decimal, bool) {
        if self.sized.0 != left {
            let r = &self.rules;
            let qty = r.round_qty(cap(r, left));
            let below =
                qty <= Decimal::ZERO || qty < r.min_qty || qty * self.floor_grid < r.min_notional;
            self.sized = (left, qty, below);
        }
        (self.sized.1, self.sized.2)
    }

    fn remainder_below_minimum(&mut self, left: Decimal) -> bool {
        self.order_size(left).1
    }

    fn sendable(&self, price: Decimal, (qty, below_minimum): (Decimal, bool)) -> Sendable {
        if below_minimum {
            Sendable::BelowMinimum
        } else if self.side == Side::Buy && qty * price < self.rules.min_notional {
            // A sell is never priced below the floor, where the value was checked; a buy is, on its way up.
            Sendable::NotAtThisPrice
        } else {
            debug_assert!(self.rules.check(price, qty).is_ok(), "{price} x {qty}");
            Sendable::Yes
        }
    }

    // ----- requests -----

    fn new_order(
        &mut self,
        price: Decimal,
        qty: Decimal,
        tif: TimeInForce,
        replaces: Option<(usize, Decimal)>,
    ) -> usize {
        let id = self
            .next_id
            .take()
            .unwrap_or_else(|| ClientOrderId::derive(&self.intent, self.seq));
        self.seq += 1;
        self.placed += 1;
        let i = self.orders.len();
        // On the astronomically unlikely clash of 64-bit keys the first order keeps the slot and the other is
        // found by `find`'s scan.
        self.index.entry(id_key(&id)).or_insert(i);
        self.orders.push(Order {
            id,
            venue_id: None,
            price,
            sent_qty: qty,
            qty,
            tif,
            state: OState::Sent,
            seen: Decimal::ZERO,
            reported: Decimal::ZERO,
            final_known: false,
            replaces,
            id_queried: false,
            existed: false,
        });
        i
    }

    fn request(&self, i: usize) -> OrderRequest {
        let o = &self.orders[i];
        OrderRequest {
            market: self.rules.market.clone(),
            side: self.side,
            price: o.price,
            qty: o.sent_qty,
            tif: o.tif,
            client_id: o.id.clone(),
        }
    }

    fn place(
        &mut self,
        now: TimestampMs,
        price: Decimal,
        qty: Decimal,
        tif: TimeInForce,
        schedule_price: Decimal,
    ) -> Action {
        let i = self.new_order(price, qty, tif, None);
        self.in_flight = Some(InFlight::Place(i));
        let req = self.request(i);
        self.record(
            now,
            Decision::Placed {
                client_id: req.client_id.clone(),
                price,
                qty,
                tif,
                schedule_price,
            },
        );
        Action::Place(req)
    }

    fn reprice(
        &mut self,
        now: TimestampMs,
        i: usize,
        price: Decimal,
        qty: Decimal,
        tif: TimeInForce,
    ) -> Action {
        self.replaces += 1;
        let from = self.orders[i].price;
        match self.reprice {
            Reprice::Replace => {
                let known = self.orders[i].known();
                let n = self.new_order(price, qty, tif, Some((i, known)));
                self.in_flight = Some(InFlight::Replace { old: i, new: n });
                let new = self.request(n);
                let old = self.orders[i].id.clone();
                self.record(
                    now,
                    Decision::Repriced {
                        old: old.clone(),
                        new: Some(new.client_id.clone()),
                        from,
                        to: price,
                        qty,
                        tif,
                    },
                );
                Action::Replace {
                    old,
                    old_known_filled: known,
                    new,
                }
            }
            Reprice::CancelThenPlace => {
                self.record(
                    now,
                    Decision::Repriced {
                        old: self.orders[i].id.clone(),
                        new: None,
                        from,
                        to: price,
                        qty,
                        tif,
                    },
                );
                self.act_now = true;
                self.cancel(now, i, "reprice: cancel, then place")
            }
        }
    }

    fn cancel(&mut self, now: TimestampMs, i: usize, why: &str) -> Action {
        self.in_flight = Some(InFlight::Cancel(i));
        let client_id = self.orders[i].id.clone();
        self.record(
            now,
            Decision::Cancel {
                client_id: client_id.clone(),
                why: why.to_string(),
            },
        );
        Action::Cancel {
            market: self.rules.market.clone(),
            client_id,
        }
    }

    fn query(&mut self, now: TimestampMs, i: usize) -> Action {
        self.in_flight = Some(InFlight::Query(i));
        let o = &self.orders[i];
        let why = if o.state == OState::Unknown {
            "the outcome of a request is unknown"
        } else if o.settled() {
            "fills wait for this order's venue id"
        } else {
            "the order ended with no executed quantity known"
        };

        let client_id = o.id.clone();
        self.record(
            now,
            Decision::Query {
                client_id: client_id.clone(),
                why: why.to_string(),
            },
        );
        Action::Query {
            market: self.rules.market.clone(),
            client_id,
        }
    }

    // ----- events -----

    /// The order with this client id.
    fn find(&self, id: &ClientOrderId) -> Option<usize> {
        match self.index.get(&id_key(id)) {
            Some(&i) if self.orders[i].id == *id => Some(i),
            Some(_) => self.orders.iter().rposition(|o| o.id == *id),
            None => None,
        }
    }

    fn lookup(&mut self, now: TimestampMs, id: &ClientOrderId, what: &str) -> Option<usize> {
        let i = self.find(id);
        if i.is_none() {
            self.record(
                now,
                Decision::Ignored {
                    what: format!("{what} for {id}, not an order of this auction"),
                },
            );
        }
        i
    }

    /// Change an order and keep `known_total` in step.
    fn update(&mut self, i: usize, f: impl FnOnce(&mut Order)) {
        let o = &mut self.orders[i];
        let before = o.known();
        f(o);
        if o.state == OState::Open || o.known() > Decimal::ZERO {
            o.existed = true;
        }
        if o.wants_id() && !self.want_id.contains(&i) {
            self.want_id.push(i);
        }
        if o.state == OState::Closed && o.seen >= o.qty {
            o.final_known = true;
        }
        if !o.settled() && i < self.settled_prefix {
            // Reopened by the venue's word: scan from it again.
            self.settled_prefix = i;
        }
        self.known_total += o.known() - before;
    }

    fn close(&mut self, i: usize, filled: Option<Decimal>) {
        self.update(i, |o| {
            o.state = OState::Closed;
            if let Some(f) = filled {
                o.reported = o.reported.max(f);
                o.final_known = true;
            }
        });
    }

    fn on_fill(&mut self, now: TimestampMs, f: Fill) {
        let i = if f.market != self.rules.market {
            None
        } else if let Some(c) = &f.client_id {
            self.find(c)
        } else {
            self.orders
                .iter()
                .rposition(|o| o.venue_id.as_deref() == Some(f.venue_order_id.as_str()))
        };
        if i.is_none()
            && f.client_id.is_none()
            && f.market == self.rules.market
            && !self.trade_ids.contains(&f.trade_id)
        {
            // Only a venue order id we have not learned yet: keep it until an order turns out to have it.
            if self.orphans.len() >= MAX_ORPHANS {
                self.orphans.remove(0);
            }
            self.orphans.push(f);
            return;
        }
        let Some(i) = i.filter(|_| f.qty > Decimal::ZERO) else {
            self.record(
                now,
                Decision::Ignored {
                    what: format!("fill {} is not for an order of this auction", f.trade_id),
                },
            );
            return;
        };
        if self.trade_ids.contains(&f.trade_id) {
            self.duplicate_fills += 1;
            return;
        }
        self.trade_ids.insert(f.trade_id.clone());
        let o = &self.orders[i];
        let room = (o.sent_qty - o.seen)
            .min(self.quantity - self.counted)
            .max(Decimal::ZERO);
        let take = f.qty.min(room);
        let excess = f.qty - take;
        let record = |qty: Decimal| FillRecord {
            trade_id: f.trade_id.clone(),
            client_id: o.id.clone(),
            price: f.price,
            qty,
            fee: if qty == f.qty {
                f.fee
            } else {
                f.fee * qty / f.qty
            },
            fee_asset: f.fee_asset.clone(),
            liquidity: f.liquidity,
            at_ms: now,
        };
        let (counted, over) = (
            (take > Decimal::ZERO).then(|| record(take)),
            (excess > Decimal::ZERO).then(|| record(excess)),
        );
        if let Some(r) = counted {
            self.fills.push(r);
            self.counted += take;
            self.update(i, |o| {
                o.seen += take;
                if o.seen >= o.qty {
                    o.state = OState::Closed;
                }
            });
            if self.counted >= self.quantity && self.filled_at.is_none() {
                self.filled_at = Some(now);
            }
        }
        if let Some(r) = over {
            self.record(
                now,
                Decision::Overfill {
                    trade_id: r.trade_id.clone(),
                    qty: excess,
                },
            );
            self.overfills.push(r);
        }
    }

    /// Remember an order's venue id, and count the fills that were waiting for it.
    fn learn_venue_id(&mut self, now: TimestampMs, i: usize, venue_order_id: &str) {
        self.orders[i].existed = true;
        if self.orders[i].venue_id.is_some() || venue_order_id.is_empty() {
            return;
        }
        self.orders[i].venue_id = Some(venue_order_id.to_string());
        if self
            .orphans
            .iter()
            .any(|f| f.venue_order_id == venue_order_id)
        {
            let (mine, rest) = std::mem::take(&mut self.orphans)
                .into_iter()
                .partition(|f| f.venue_order_id == venue_order_id);
            self.orphans = rest;
            for f in mine {
                self.on_fill(now, f);
            }
        }
    }

    fn on_status(&mut self, now: TimestampMs, i: usize, status: Option<OrderStatus>) {
        let answering = matches!(self.in_flight,
            Some(InFlight::Place(j) | InFlight::Cancel(j) | InFlight::Query(j)) if j == i);
        let querying = self.in_flight == Some(InFlight::Query(i));
        let placing = self.in_flight == Some(InFlight::Place(i));
        if querying {
            // Answered: whatever it says, its venue id is as known as it will be.
            self.orders[i].id_queried = true;
        }
        let Some(st) = status else {
            // The venue has never seen this order.
            let o = &self.orders[i];
            if !answering && !matches!(o.state, OState::Sent | OState::Unknown) {
                self.record(
                    now,
                    Decision::Ignored {
                        what: format!("stale \"unknown order\" status for {}", o.id),
                    },
                );
                return;
            }
            if answering {
                self.in_flight = None;
            }
            if o.existed {
                // It was there (acknowledged, filled...): the venue no longer tells what it executed.
                self.settle_unknowable(now, i, "the venue no longer knows the order");
            } else {
                // Never placed: the quantity is free again.
                self.update(i, |o| {
                    o.state = OState::Closed;
                    o.final_known = true;
                });
                self.act_now = true;
            }
            return;
        };
        self.learn_venue_id(now, i, &st.venue_order_id);
        if querying && self.orders[i].state == OState::Unknown {
            // The venue's view of an order whose request had no clear answer (or that an earlier run of this
            // intent placed under the same id) is the truth: adopt its price and size.
            self.update(i, |o| {
                o.price = st.price;
                o.qty = st.qty;
                o.sent_qty = st.qty;
            });
        }
        match &st.state {
            OrderState::Rejected(reason) => {
                self.close(i, Some(st.filled));
                if answering {
                    self.in_flight = None;
                }
                if placing {
                    let error = VenueError::Rejected {
                        venue: self.rules.market.clone(),
                        code: None,
                        reason: reason.clone(),
                        kind: RejectKind::Other,
                    };
                    self.place_refused(now, i, error);
                } else if querying {
                    self.act_now = true;
                }
            }
            OrderState::Filled | OrderState::Canceled => {
                self.close(i, Some(st.filled));
                if answering {
                    self.in_flight = None;
                }
            }
            OrderState::Open => {
                self.update(i, |o| {
                    if matches!(o.state, OState::Sent | OState::Unknown)
                        || (querying && o.state == OState::Closed)
                    {
                        o.state = OState::Open;
                        o.final_known = false;
                    }
                    o.reported = o.reported.max(st.filled);
                });
                if placing || querying {
                    self.in_flight = None;
                }
            }
        }
    }

    fn on_failed(&mut self, now: TimestampMs, i: usize, error: VenueError) {
        match self.in_flight {
            Some(InFlight::Place(j)) if j == i => {
                self.in_flight = None;
                self.place_refused(now, i, error);
            }
            Some(InFlight::Cancel(j)) if j == i => {
                self.in_flight = None;
                self.cancel_refused(now, i, error);
            }
            Some(InFlight::Query(j)) if j == i => {
                self.in_flight = None;
                self.query_refused(now, i, error);
            }
            _ => self.record(
                now,
                Decision::Ignored {
                    what: format!("stale failure for {}: {error}", self.orders[i].id),
                },
            ),
        }
    }

    fn place_refused(&mut self, now: TimestampMs, i: usize, error: VenueError) {
        match &error {
            // Unknown outcome, or the id is already in use (by this order, or one an earlier run of this
            // intent placed): ask the venue what it is.
            VenueError::UnknownOutcome { .. }
            | VenueError::Rejected {
                kind: RejectKind::DuplicateClientId,
                ..
            } => self.update(i, |o| o.state = OState::Unknown),
            VenueError::RateLimited { retry_after_ms, .. } => {
                self.close(i, Some(Decimal::ZERO));
                self.retry(now, *retry_after_ms, &error);
                self.act_now = true;
            }
            VenueError::Transport { .. } => {
                self.close(i, Some(Decimal::ZERO));
                self.retry(now, None, &error);
                self.act_now = true;
            }
            VenueError::Rejected {
                kind: RejectKind::PostOnlyWouldCross,
                ..
            } => {
                self.close(i, Some(Decimal::ZERO));
                self.reanchor(now, self.orders[i].price);
            }
            VenueError::Rejected {
                kind: RejectKind::IocNoMatch,
                ..
            } => self.close(i, Some(Decimal::ZERO)),
            _ => {
                self.close(i, Some(Decimal::ZERO));
                self.begin_end(now, EndReason::Rejected { error });
            }
        }
    }

    fn cancel_refused(&mut self, now: TimestampMs, i: usize, error: VenueError) {
        match &error {
            VenueError::RateLimited { retry_after_ms, .. } => {
                self.retry(now, *retry_after_ms, &error)
            }
            VenueError::Transport { .. } => self.retry(now, None, &error),
            VenueError::Rejected {
                kind: RejectKind::UnknownOrder,
                ..
            } => self.close(i, None),
            _ => self.update(i, |o| {
                if o.state != OState::Closed {
                    o.state = OState::Unknown
                }
            }),
        }
    }

    fn query_refused(&mut self, now: TimestampMs, i: usize, error: VenueError) {
        match &error {
            VenueError::RateLimited { retry_after_ms, .. } => {
                self.retry(now, *retry_after_ms, &error)
            }
            VenueError::Auth { .. } | VenueError::Unsupported { .. } => {
                self.settle_unknowable(now, i, "the venue does not answer status queries");
                self.begin_end(now, EndReason::Rejected { error });
            }
            // Transient, or (a status query is not rejected) a stale answer to an earlier request: ask again.
            _ => self.retry(now, None, &error),
        }
    }

    /// The venue will not tell what this order executed. If it ever existed, assume it filled completely, so
    /// its quantity is never placed a second time (an underfill goes back to the next cycle; an overfill could
    /// not be undone); otherwise it never traded.
    fn settle_unknowable(&mut self, now: TimestampMs, i: usize, why: &str) {
        self.update(i, |o| {
            if o.existed {
                o.reported = o.reported.max(o.qty);
            }
            o.state = OState::Closed;
            o.final_known = true;
        });
        self.record(
            now,
            Decision::AssumedExecuted {
                client_id: self.orders[i].id.clone(),
                qty: self.orders[i].known(),
                why: why.to_string(),
            },
        );
    }

    fn on_replaced(
        &mut self,
        now: TimestampMs,
        old: &ClientOrderId,
        new: &ClientOrderId,
        st: OrderStatus,
    ) {
        let Some((o, n)) = self.replace_answered(now, old, new) else {
            return;
        };
        let known_at_send = self.orders[n].replaces.map_or(Decimal::ZERO, |r| r.1);
        let sent = self.orders[n].sent_qty;
        let effective = st.qty.clamp(Decimal::ZERO, sent);
        let reduction = sent - effective;
        self.learn_venue_id(now, n, &st.venue_order_id);
        self.update(n, |order| {
            order.qty = effective;
            order.reported = order.reported.max(st.filled);
            if matches!(order.state, OState::Sent | OState::Unknown) {
                order.state = OState::Open;
            }
        });
        if st.state.is_final() || effective <= Decimal::ZERO {
            self.close(n, Some(st.filled));
        }
        // The venue reduced the new order by exactly what the old one filled beyond what we knew, unless that
        // excess swallowed the new order whole (then it is only a lower bound).
        self.update(o, |order| {
            order.reported = order.reported.max(known_at_send + reduction);
            order.state = OState::Closed;
            if reduction < sent {
                order.final_known = true;
            }
        });
    }

    /// The replace `old -> new` is the request in flight: it is answered now. Otherwise the result is stale.
    fn replace_answered(
        &mut self,
        now: TimestampMs,
        old: &ClientOrderId,
        new: &ClientOrderId,
    ) -> Option<(usize, usize)> {
        let pair = self.find(old).zip(self.find(new));
        match pair {
            Some((o, n)) if self.in_flight == Some(InFlight::Replace { old: o, new: n }) => {
                self.in_flight = None;
                Some((o, n))
            }
            _ => {
                self.record(
                    now,
                    Decision::Ignored {
                        what: format!("stale replace result {old} -> {new}"),
                    },
                );
                None
            }
        }
    }

    fn on_replace_failed(
        &mut self,
        now: TimestampMs,
        old: &ClientOrderId,
        new: &ClientOrderId,
        error: VenueError,
    ) {
        let Some((o, n)) = self.replace_answered(now, old, new) else {
            return;
        };
        let old_maybe_gone = |a: &mut Self| {
            a.update(o, |order| {
                if order.state != OState::Closed {
                    order.state = OState::Unknown
                }
            })
        };
        if matches!(
            error,
            VenueError::UnknownOutcome { .. }
                | VenueError::Rejected {
                    kind: RejectKind::DuplicateClientId,
                    ..
                }
        ) {
            self.update(n, |order| order.state = OState::Unknown);
            old_maybe_gone(self);
            return;
        }
        self.close(n, Some(Decimal::ZERO));
        match &error {
            VenueError::RateLimited { retry_after_ms, .. } => {
                self.retry(now, *retry_after_ms, &error);
                self.act_now = true;
            }
            VenueError::Transport { .. } => {
                self.retry(now, None, &error);
                self.act_now = true;
            }
            VenueError::Unsupported { .. } => {
                self.reprice = Reprice::CancelThenPlace;
                self.act_now = true;
                self.record(
                    now,
                    Decision::FallbackToCancelPlace {
                        error: error.to_string(),
                    },
                );
            }
            VenueError::Auth { .. } => self.begin_end(now, EndReason::Rejected { error }),
            VenueError::Rejected {
                kind: RejectKind::UnknownOrder,
                ..
            } => {
                self.close(o, None);
                self.act_now = true;
            }
            VenueError::Rejected {
                kind: RejectKind::PostOnlyWouldCross,
                ..
            } => {
                old_maybe_gone(self);
                self.reanchor(now, self.orders[n].price);
            }
            VenueError::Rejected {
                kind: RejectKind::IocNoMatch,
                ..
            } => old_maybe_gone(self),
            _ => {
                old_maybe_gone(self);
                self.begin_end(now, EndReason::Rejected { error });
            }
        }
    }

    /// A post-only order at `price` would have crossed: the other side's best is at least that good. The
    /// reference moves to it only in the user's favour; the floor never moves; the next order is placed at
    /// once, beyond the crossing price.
    fn reanchor(&mut self, now: TimestampMs, price: Decimal) {
        let from = self.reference;
        let to = match self.side {
            Side::Sell => from.max(price),
            Side::Buy => from.min(price),
        };
        if to != from {
            self.reference = to;
            self.start_price = schedule::start_price(self.side, to, self.schedule.start_bps);
        }
        self.cross_bound = Some(match (self.side, self.cross_bound) {
            (Side::Sell, Some(c)) => c.max(price),
            (Side::Buy, Some(c)) => c.min(price),
            (_, None) => price,
        });
        self.reanchors += 1;
        self.act_now = true;
        self.record(
            now,
            Decision::Reanchored {
                rejected_price: price,
                from,
                to,
            },
        );
    }

    /// Nothing is sent before the venue's `retry_after_ms`, or else an exponential backoff from
    /// [`RETRY_BASE_MS`] that doubles with each failure in a row, up to one step interval.
    fn retry(&mut self, now: TimestampMs, after_ms: Option<u64>, error: &VenueError) {
        self.failures = self.failures.saturating_add(1);
        let backoff = (RETRY_BASE_MS << (self.failures - 1).min(16))
            .min(self.schedule.step_ms.max(RETRY_BASE_MS));
        let wait = after_ms.map_or(backoff, |ms| ms.min(i64::MAX as u64) as i64);
        let until = now + wait.max(1);
        self.retry_at = Some(until);
        self.record(
            now,
            Decision::RetryLater {
                until,
                error: error.to_string(),
            },
        );
    }

    // ----- bookkeeping -----

    fn first_unresolved(&self) -> Option<usize> {
        (self.settled_prefix..self.orders.len())
            .find(|&i| {
                let o = &self.orders[i];
                o.unresolved() || (o.state == OState::Sent && self.in_flight.is_none())
            })
            .or_else(|| {
                // An order that executed more than its fills have shown, whose venue id we never learned:
                // its missing fills may name only that id. Its status tells it (once).
                self.want_id
                    .iter()
                    .copied()
                    .find(|&i| self.orders[i].wants_id())
            })
    }

    fn first_resting(&self) -> Option<usize> {
        (self.settled_prefix..self.orders.len())
            .find(|&i| matches!(self.orders[i].state, OState::Sent | OState::Open))
    }

    fn last_resting(&self) -> Option<usize> {
        (self.settled_prefix..self.orders.len())
            .rev()
            .find(|&i| matches!(self.orders[i].state, OState::Sent | OState::Open))
    }

    fn begin_end(&mut self, now: TimestampMs, reason: EndReason) {
        if self.ending.is_none() {
            self.record(
                now,
                Decision::Ending {
                    reason: reason.clone(),
                },
            );
            self.ending = Some(reason);
        }
    }

    fn finish(&mut self, now: TimestampMs) {
        self.done = true;
        self.ended_at = Some(now);
        self.record(now, Decision::Done);
    }

    fn record(&mut self, at_ms: TimestampMs, decision: Decision) {
        self.audit.push(AuditRecord { at_ms, decision });
    }
}

/// A client id's first 64 bits, as a map key.
fn id_key(id: &ClientOrderId) -> u64 {
    id.as_hex().bytes().take(16).fold(0, |k, b| {
        (k << 4) | (b as char).to_digit(16).unwrap_or(0) as u64
    })
}

/// Client ids are the leading bytes of a SHA-256: their 64-bit key is already uniformly spread, so the index
/// hashes it by identity.
#[derive(Default)]
struct IdKeyHasher(u64);

impl Hasher for IdKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, k: u64) {
        self.0 = k;
    }
}

/// The largest quantity one order may carry.
fn cap(rules: &MarketRules, qty: Decimal) -> Decimal {
    if rules.max_qty > Decimal::ZERO {
        qty.min(rules.max_qty)
    } else {
        qty
    }
}
