//! What an auction reports: its fills and their cost against the arrival price, why it ended, and the audit
//! trail of every decision it made or declined to make.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Side, TimestampMs};
use crate::order::{ClientOrderId, Liquidity, TimeInForce, VenueError};

/// Why an auction ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum EndReason {
    /// The whole quantity is filled (as far as the venue's reports go).
    Filled,
    /// The deadline passed with a remainder unfilled.
    Deadline,
    /// The remainder is below the market's minimum (lot, minimum size, or minimum value at the floor price).
    BelowMinimum { remainder: Decimal },
    /// The venue refused an order in a way that retrying cannot fix (rules, balance, authentication...).
    Rejected { error: VenueError },
    /// The caller cancelled it (`Auction::cancel_all`).
    Canceled,
}

/// One counted execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillRecord {
    pub trade_id: String,
    pub client_id: ClientOrderId,
    pub price: Decimal,
    /// The counted quantity (for an overfill record: the part not counted).
    pub qty: Decimal,
    /// The fee for `qty` (pro rata when only part of a venue fill was counted), in `fee_asset`.
    pub fee: Decimal,
    pub fee_asset: String,
    pub liquidity: Liquidity,
    /// When the auction learned of it.
    pub at_ms: TimestampMs,
}

/// The end-of-auction report (also available while it runs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub intent: String,
    pub market: String,
    pub side: Side,
    /// The quantity asked for, base units.
    pub quantity: Decimal,
    /// The reference price at the start: the benchmark of the implementation shortfall.
    pub arrival_price: Decimal,
    /// The reference after any re-anchoring (equal to the arrival price when none happened).
    pub final_reference: Decimal,
    /// The worst acceptable price (exact, before rounding onto the grid).
    pub floor_price: Decimal,
    /// Counted fills, in the order they were learned.
    pub fills: Vec<FillRecord>,
    /// Sum of the counted fills: what the executor hands to the controller.
    pub filled: Decimal,
    /// `quantity - filled`: what goes back to the next cycle.
    pub unfilled: Decimal,
    pub maker_qty: Decimal,
    pub taker_qty: Decimal,
    /// Sum of price x qty over the counted fills, quote units.
    pub notional: Decimal,
    /// Volume-weighted average fill price.
    pub vwap: Option<Decimal>,
    /// Fees in the quote asset (fees charged in the base asset converted at their fill price).
    pub fees_quote: Decimal,
    /// Fees charged in other assets (e.g. BNB), per asset: not in the shortfall.
    pub other_fees: Vec<(String, Decimal)>,
    /// Implementation shortfall vs the arrival price, fees included, in bps of the filled quantity's arrival
    /// value. Positive is a cost: a sell that received less than `filled x arrival` net of fees, or a buy
    /// that paid more. The unfilled remainder is not in it (it is reported as `unfilled`).
    pub shortfall_bps: Option<Decimal>,
    /// Executed quantity the venue reported (order states, replace reductions) that no fill event has
    /// shown yet. Not counted in `filled`; non-zero means fills are still to come.
    pub unseen_fill_qty: Decimal,
    /// Quantity venues reported filled beyond the order or the auction's quantity: never counted.
    pub overfill: Decimal,
    pub overfills: Vec<FillRecord>,
    /// Fill events dropped because their trade id was already counted.
    pub duplicate_fills: u32,
    /// Scheduled steps taken (including skipped ones).
    pub steps: u32,
    /// Steps skipped because the price rounded to the one already resting.
    pub skipped_steps: u32,
    /// Reprices (replace, or cancel then place).
    pub replaces: u32,
    /// Orders sent (new client ids: places and replacements).
    pub orders_placed: u32,
    /// Post-only rejections that re-anchored the schedule.
    pub reanchors: u32,
    pub started_ms: TimestampMs,
    pub ended_ms: Option<TimestampMs>,
    /// From the start to the fill that completed the quantity.
    pub time_to_fill_ms: Option<i64>,
    /// The outcome: `Filled` whenever the whole quantity filled (even if the auction was stopping for another
    /// reason when the last fills came), the remainder of `BelowMinimum` as finally unfilled. `None` while it
    /// runs. `Auction::end_reason` gives the reason as decided.
    pub end_reason: Option<EndReason>,
}

/// One decision of the auction, with its time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at_ms: TimestampMs,
    pub decision: Decision,
}

/// What the auction decided, or declined to do, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// A new order.
    Placed {
        client_id: ClientOrderId,
        price: Decimal,
        qty: Decimal,
        tif: TimeInForce,
        /// The schedule price before the book and the grid moved it.
        schedule_price: Decimal,
    },
    /// A resting order moved to a new price (by replace, or by a cancel that a place will follow).
    Repriced {
        old: ClientOrderId,
        new: Option<ClientOrderId>,
        from: Decimal,
        to: Decimal,
        qty: Decimal,
        tif: TimeInForce,
    },
    /// The step's price rounds to the price already resting: no request.
    SkippedUnchanged { price: Decimal },
    /// The remainder is too small in value at this price (a buy below its floor); waiting for a better price.
    BelowMinNotionalAtPrice { price: Decimal, qty: Decimal },
    /// The rate budget is low: the step waits until `until`.
    Stretched {
        headroom: f64,
        factor: f64,
        until: TimestampMs,
    },
    /// The rate budget is exhausted: no step before `until`.
    BudgetExhausted { until: TimestampMs },
    /// A post-only order would have crossed at `rejected_price`: the reference moves to `to` (only in the
    /// user's favour; `to == from` when it did not move) and the next order stays beyond the crossing price.
    Reanchored {
        rejected_price: Decimal,
        from: Decimal,
        to: Decimal,
    },
    /// A request was refused for a while (rate limit, unreachable venue): nothing before `until`.
    RetryLater { until: TimestampMs, error: String },
    /// The venue cannot replace orders: repricing falls back to cancel, then place.
    FallbackToCancelPlace { error: String },
    /// Asking the venue for an order's state.
    Query {
        client_id: ClientOrderId,
        why: String,
    },
    /// Cancelling an order.
    Cancel {
        client_id: ClientOrderId,
        why: String,
    },
    /// The auction is ending.
    Ending { reason: EndReason },
    /// Every order is final: the auction is over.
    Done,
    /// The venue cannot say what an order executed (it no longer knows it, or refuses status queries): it is
    /// settled as having executed `qty` (all of it, if it ever existed), so that quantity is never placed twice.
    AssumedExecuted {
        client_id: ClientOrderId,
        qty: Decimal,
        why: String,
    },
    /// An event that changed nothing (stale, duplicate, or about an order that is not ours).
    Ignored { what: String },
    /// A fill beyond the order's or the auction's quantity (never counted as filled).
    Overfill { trade_id: String, qty: Decimal },
}
