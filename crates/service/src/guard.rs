//! [`GuardedVenue`]: the venue as the service uses it. Every client order id is written to the journal
//! (under the lease fence) before the order or replace that carries it is sent, and an id already in the
//! journal is never sent again, whatever a restarted auction derives. It also counts what the metrics and
//! the consecutive-rejects breaker need.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use async_trait::async_trait;
use rust_decimal::Decimal;

use ballast_core::model::TimestampMs;
use ballast_exec::{
    Balance, ClientOrderId, Clock, Depth, Fill, InternalTransfer, MarketRules, OrderRequest,
    OrderStatus, RateHeadroom, RejectKind, TransferStatus, Venue, VenueError, WithdrawRequest,
};
use ballast_store::{Journal, Stamp};

/// Counters of one venue.
#[derive(Debug, Default)]
pub struct VenueStats {
    pub orders: AtomicU64,
    pub replaces: AtomicU64,
    pub cancels: AtomicU64,
    pub rejects: AtomicU64,
    pub errors: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Fills of our orders folded into legs.
    pub fills: AtomicU64,
    /// Rejections in a row (post-only crossings and IOCs without a match are part of working an order,
    /// not rejections); reset by an accepted request.
    pub consecutive_rejects: AtomicU32,
}

impl VenueStats {
    fn outcome<T>(&self, r: &Result<T, VenueError>) {
        match r {
            Ok(_) => self.consecutive_rejects.store(0, Ordering::Relaxed),
            Err(VenueError::Rejected {
                kind: RejectKind::PostOnlyWouldCross | RejectKind::IocNoMatch,
                ..
            }) => {}
            Err(
                VenueError::Rejected { .. }
                | VenueError::InsufficientBalance { .. }
                | VenueError::Auth { .. },
            ) => {
                self.rejects.fetch_add(1, Ordering::Relaxed);
                self.consecutive_rejects.fetch_add(1, Ordering::Relaxed);
            }
            Err(VenueError::RateLimited { .. }) => {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A venue whose order ids are journaled before they are sent.
pub struct GuardedVenue {
    inner: Arc<dyn Venue>,
    journal: Journal,
    stamp: Stamp,
    clock: Arc<dyn Clock>,
    pub stats: Arc<VenueStats>,
}

impl GuardedVenue {
    pub fn new(
        inner: Arc<dyn Venue>,
        journal: Journal,
        stamp: Stamp,
        clock: Arc<dyn Clock>,
    ) -> Self {
        GuardedVenue {
            inner,
            journal,
            stamp,
            clock,
            stats: Arc::new(VenueStats::default()),
        }
    }

    /// The venue underneath.
    pub fn inner(&self) -> &Arc<dyn Venue> {
        &self.inner
    }

    async fn journal_order(&self, o: &OrderRequest) -> Result<(), VenueError> {
        let venue = self.inner.name().to_string();
        let (id, market, side, price, qty) = (
            o.client_id.as_hex().to_string(),
            o.market.clone(),
            format!("{:?}", o.side).to_lowercase(),
            o.price.to_string(),
            o.qty.to_string(),
        );
        let stamp = self.stamp.clone();
        let now = self.clock.now_ms();
        let v = venue.clone();
        let r = self
            .journal
            .call(move |j| j.record_order(&v, &id, &market, &side, &price, &qty, &stamp, now))
            .await;
        r.map_err(|e| {
            tracing::error!(venue = %venue, client_id = %o.client_id, "order not sent: {e}");
            VenueError::Rejected {
                venue,
                code: None,
                reason: format!("not sent: {e}"),
                kind: RejectKind::DuplicateClientId,
            }
        })
    }
}

#[async_trait]
impl Venue for GuardedVenue {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn markets(&self) -> Result<Vec<MarketRules>, VenueError> {
        self.inner.markets().await
    }

    async fn balances(&self) -> Result<Vec<Balance>, VenueError> {
        self.inner.balances().await
    }

    async fn depth(&self, market: &str, levels: usize) -> Result<Depth, VenueError> {
        self.inner.depth(market, levels).await
    }

    async fn place(&self, order: &OrderRequest) -> Result<OrderStatus, VenueError> {
        self.journal_order(order).await?;
        self.stats.orders.fetch_add(1, Ordering::Relaxed);
        let r = self.inner.place(order).await;
        self.stats.outcome(&r);
        r
    }

    async fn replace(
        &self,
        old: &ClientOrderId,
        old_known_filled: Decimal,
        new: &OrderRequest,
    ) -> Result<OrderStatus, VenueError> {
        self.journal_order(new).await?;
        self.stats.replaces.fetch_add(1, Ordering::Relaxed);
        let r = self.inner.replace(old, old_known_filled, new).await;
        self.stats.outcome(&r);
        r
    }

    async fn cancel(&self, market: &str, id: &ClientOrderId) -> Result<OrderStatus, VenueError> {
        self.stats.cancels.fetch_add(1, Ordering::Relaxed);
        self.inner.cancel(market, id).await
    }

    async fn order_status(
        &self,
        market: &str,
        id: &ClientOrderId,
    ) -> Result<Option<OrderStatus>, VenueError> {
        self.inner.order_status(market, id).await
    }

    async fn open_orders(&self, market: Option<&str>) -> Result<Vec<OrderStatus>, VenueError> {
        self.inner.open_orders(market).await
    }

    async fn fills_since(&self, since: TimestampMs) -> Result<Vec<Fill>, VenueError> {
        self.inner.fills_since(since).await
    }

    fn headroom(&self) -> RateHeadroom {
        self.inner.headroom()
    }

    async fn deposit_address(&self, asset: &str, network: &str) -> Result<String, VenueError> {
        self.inner.deposit_address(asset, network).await
    }

    async fn withdraw(&self, req: &WithdrawRequest) -> Result<String, VenueError> {
        let r = self.inner.withdraw(req).await;
        self.stats.outcome(&r);
        r
    }

    async fn transfers_since(&self, since: TimestampMs) -> Result<Vec<TransferStatus>, VenueError> {
        self.inner.transfers_since(since).await
    }

    fn read_interval(&self) -> std::time::Duration {
        self.inner.read_interval()
    }

    fn funding_account(&self, asset: &str, network: &str) -> bool {
        self.inner.funding_account(asset, network)
    }

    fn transfer_nonce(&self) -> u64 {
        self.inner.transfer_nonce()
    }

    async fn internal_transfer(&self, t: &InternalTransfer) -> Result<(), VenueError> {
        let r = self.inner.internal_transfer(t).await;
        self.stats.outcome(&r);
        r
    }
}
