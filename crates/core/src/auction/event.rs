//! What the auction asks the driver to do ([`Action`]) and what the driver tells it ([`Event`]), with the
//! mapping from each `Venue` call's result to exactly one event.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::order::{ClientOrderId, Depth, Fill, OrderRequest, OrderStatus, VenueError};

/// A request for the venue. At most one is outstanding at a time: after an action, the auction emits nothing
/// more until that action's result event arrives (see [`Event`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Place a new order: `Venue::place(&request)`; feed [`Event::from_place`].
    Place(OrderRequest),
    /// Replace the resting order `old` with `new`: `Venue::replace(&old, old_known_filled, &new)`; feed
    /// [`Event::from_replace`]. The venue reduces `new` by any fill of `old` beyond `old_known_filled`.
    Replace {
        old: ClientOrderId,
        old_known_filled: Decimal,
        new: OrderRequest,
    },
    /// Cancel an order: `Venue::cancel(&market, &client_id)`; feed [`Event::from_cancel`].
    Cancel {
        market: String,
        client_id: ClientOrderId,
    },
    /// Ask the venue for an order's state (to resolve an unknown outcome, or an order that ended with no
    /// executed quantity known): `Venue::order_status(&market, &client_id)`; feed [`Event::from_query`].
    /// A query that fails with a transient error may be retried by the driver, or reported as
    /// [`Event::Failed`] (the auction asks again later).
    Query {
        market: String,
        client_id: ClientOrderId,
    },
}

impl Action {
    /// The client id this action is about (the new order's for a replace).
    pub fn client_id(&self) -> &ClientOrderId {
        match self {
            Action::Place(r) => &r.client_id,
            Action::Replace { new, .. } => &new.client_id,
            Action::Cancel { client_id, .. } | Action::Query { client_id, .. } => client_id,
        }
    }
}

/// Something the auction learns. Request results (one per [`Action`], mandatory) and stream updates (fills,
/// order updates, book tops, timers: optional, any order, duplicates allowed) share this type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The order is accepted and resting (an order-update stream's "new", or a place that returned open).
    Ack {
        client_id: ClientOrderId,
        venue_order_id: String,
    },
    /// The order is final (cancelled by us, expired as IOC, cancelled by the venue, or completely filled), with
    /// the venue's executed quantity when known. With `None`, the auction queries the venue before it relies
    /// on the order's fills.
    Closed {
        client_id: ClientOrderId,
        filled: Option<Decimal>,
    },
    /// The venue's view of one order: the answer to a place, a cancel or a query. `None`: the venue has never
    /// seen the order.
    Status {
        client_id: ClientOrderId,
        status: Option<OrderStatus>,
    },
    /// A place, cancel or query for this order failed with this error (rejections carry the venue's
    /// [`crate::order::RejectKind`] and reason). `UnknownOutcome` is fine: the auction resolves it by querying.
    Failed {
        client_id: ClientOrderId,
        error: VenueError,
    },
    /// A replace succeeded: `old` is gone and `new` is on the book (or already final), as `status` says.
    /// `status.qty` must be the new order's quantity after any reduction the venue applied for fills of `old`
    /// beyond `old_known_filled`: the auction infers `old`'s final executed quantity from it.
    Replaced {
        old: ClientOrderId,
        new: ClientOrderId,
        status: OrderStatus,
    },
    /// A replace failed; `new` was not placed. `Rejected { kind: UnknownOrder }` means `old` was no longer open.
    /// For other rejections `old` may or may not have been cancelled (Binance's HTTP 409 "cancelled, new order
    /// failed"): the auction queries it. Rate limits and transport errors leave `old` as it was.
    ReplaceFailed {
        old: ClientOrderId,
        new: ClientOrderId,
        error: VenueError,
    },
    /// One execution (from `Venue::fills_since` or a user stream). Deduplicated by `trade_id`.
    Fill(Fill),
    /// The top of the book.
    Book {
        best_bid: Option<Decimal>,
        best_ask: Option<Decimal>,
    },
    /// Time passed (the time asked for by `poll_timeout`, or any other).
    Timer,
}

impl Event {
    /// The event for the result of `Venue::place` of the order `client_id`.
    pub fn from_place(client_id: &ClientOrderId, result: Result<OrderStatus, VenueError>) -> Event {
        match result {
            Ok(status) => Event::Status {
                client_id: client_id.clone(),
                status: Some(status),
            },
            Err(error) => Event::Failed {
                client_id: client_id.clone(),
                error,
            },
        }
    }

    /// The event for the result of `Venue::replace(old, _, new)`.
    pub fn from_replace(
        old: &ClientOrderId,
        new: &ClientOrderId,
        result: Result<OrderStatus, VenueError>,
    ) -> Event {
        match result {
            Ok(status) => Event::Replaced {
                old: old.clone(),
                new: new.clone(),
                status,
            },
            Err(error) => Event::ReplaceFailed {
                old: old.clone(),
                new: new.clone(),
                error,
            },
        }
    }

    /// The event for the result of `Venue::cancel` of `client_id`.
    pub fn from_cancel(
        client_id: &ClientOrderId,
        result: Result<OrderStatus, VenueError>,
    ) -> Event {
        Event::from_place(client_id, result)
    }

    /// The event for the result of `Venue::order_status` of `client_id`.
    pub fn from_query(
        client_id: &ClientOrderId,
        result: Result<Option<OrderStatus>, VenueError>,
    ) -> Event {
        match result {
            Ok(status) => Event::Status {
                client_id: client_id.clone(),
                status,
            },
            Err(error) => Event::Failed {
                client_id: client_id.clone(),
                error,
            },
        }
    }

    /// The book-top event for a depth snapshot.
    pub fn from_depth(depth: &Depth) -> Event {
        Event::Book {
            best_bid: depth.best_bid(),
            best_ask: depth.best_ask(),
        }
    }
}
