//! Execution: the one venue interface that live venues, the local wire-protocol servers' clients and the
//! simulator all implement, the clocks, and the async executor that works an auction against a venue.
//!
//! The order vocabulary (requests, statuses, errors, market rules) is `ballast_core::order`, re-exported here
//! so a venue adapter needs one import path.

pub mod clock;
pub mod executor;

use async_trait::async_trait;
use ballast_core::model::TimestampMs;
use rust_decimal::Decimal;

pub use ballast_core::order::*;
pub use clock::{Clock, ManualClock, SystemClock};

/// The venue interface. Implemented by the Hyperliquid and Binance clients and by the simulator, so the
/// executor, the service and the backtests run against any of them unchanged.
#[async_trait]
pub trait Venue: Send + Sync {
    /// The configured venue name.
    fn name(&self) -> &str;

    /// Rules of every market this venue trades (or the configured subset).
    async fn markets(&self) -> Result<Vec<MarketRules>, VenueError>;

    /// Balances of the account.
    async fn balances(&self) -> Result<Vec<Balance>, VenueError>;

    /// Top `levels` of a market's book.
    async fn depth(&self, market: &str, levels: usize) -> Result<Depth, VenueError>;

    /// Place a new order.
    async fn place(&self, order: &OrderRequest) -> Result<OrderStatus, VenueError>;

    /// Replace a resting order (cancel-replace or modify) with `new`, which carries its own client id.
    ///
    /// `old_known_filled` is how much of the old order the caller has seen filled. If the old order filled
    /// more than that before it was cancelled, the implementation reduces the new order by the difference
    /// (at once, or with a follow-up amend), so a replace never lets the two orders together exceed what the
    /// caller intended. If the old order is no longer open, the replace fails with
    /// `Rejected { kind: UnknownOrder }` and nothing new is placed.
    async fn replace(
        &self,
        old: &ClientOrderId,
        old_known_filled: Decimal,
        new: &OrderRequest,
    ) -> Result<OrderStatus, VenueError>;

    /// Cancel an order; returns its final status.
    async fn cancel(&self, market: &str, id: &ClientOrderId) -> Result<OrderStatus, VenueError>;

    /// The status of an order by client id; `None` when the venue has never seen it.
    async fn order_status(
        &self,
        market: &str,
        id: &ClientOrderId,
    ) -> Result<Option<OrderStatus>, VenueError>;

    /// Open orders, on one market or all.
    async fn open_orders(&self, market: Option<&str>) -> Result<Vec<OrderStatus>, VenueError>;

    /// Fills at or after `since` (ms).
    async fn fills_since(&self, since: TimestampMs) -> Result<Vec<Fill>, VenueError>;

    /// Current rate-limit headroom.
    fn headroom(&self) -> RateHeadroom {
        RateHeadroom {
            fraction: 1.0,
            retry_after_ms: None,
        }
    }

    /// The shortest interval between repeated reads of the account (fills, transfers) and of a book that
    /// the venue's rate limit affords while other work goes on; callers that poll keep to it.
    fn read_interval(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// The address to deposit `asset` to over `network`.
    async fn deposit_address(&self, asset: &str, network: &str) -> Result<String, VenueError> {
        let _ = (asset, network);
        Err(VenueError::Unsupported {
            venue: self.name().to_string(),
            what: "deposits".into(),
        })
    }

    /// Request a withdrawal; returns the venue's withdrawal id.
    async fn withdraw(&self, req: &WithdrawRequest) -> Result<String, VenueError> {
        let _ = req;
        Err(VenueError::Unsupported {
            venue: self.name().to_string(),
            what: "withdrawals".into(),
        })
    }

    /// Does `asset` deposited over `network` land in (and withdrawn over it draw from) a funding account
    /// apart from the trading account? Then the funds move between the two with
    /// [`Venue::internal_transfer`] before a swap and before a withdrawal. Hyperliquid: USDC over the
    /// Arbitrum bridge lives in the perp account, and spot trades from spot.
    fn funding_account(&self, asset: &str, network: &str) -> bool {
        let _ = (asset, network);
        false
    }

    /// A fresh nonce for an [`InternalTransfer`], never handed out before by this client.
    fn transfer_nonce(&self) -> u64 {
        0
    }

    /// Move funds between the venue's own accounts. Sending the same request (same nonce) again is safe:
    /// it executes at most once. Confirm an unknown outcome in [`Venue::transfers_since`]
    /// ([`TransferKind::ToTrading`] / [`TransferKind::ToFunding`] records).
    async fn internal_transfer(&self, t: &InternalTransfer) -> Result<(), VenueError> {
        let _ = t;
        Err(VenueError::Unsupported {
            venue: self.name().to_string(),
            what: "moves between accounts".into(),
        })
    }

    /// Deposits and withdrawals at or after `since` (ms).
    async fn transfers_since(&self, since: TimestampMs) -> Result<Vec<TransferStatus>, VenueError> {
        let _ = since;
        Err(VenueError::Unsupported {
            venue: self.name().to_string(),
            what: "transfer history".into(),
        })
    }
}
