//! [`SimVenue`]: the [`Venue`] interface over a shared [`SimExchange`], trading as one account.
//!
//! Each call waits the request latency (tokio time), then locks the exchange, advances it to the clock's
//! now, applies the request and unlocks (the lock is never held across an await), then waits the response
//! latency before returning. With `#[tokio::test(start_paused = true)]` and a
//! [`TokioClock`](ballast_exec::clock::TokioClock) all of this runs in virtual time.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::config::SimVenueCfg;
use super::exchange::{NewOrder, OrderInfo, OrderRef, SimExchange, SimReject, SimSetupError};
use ballast_core::model::TimestampMs;
use ballast_exec::{
    Balance, ClientOrderId, Clock, Depth, Fill, MarketRules, OrderRequest, OrderStatus, RejectKind,
    TransferStatus, Venue, VenueError, WithdrawRequest,
};

/// Simulated network and processing delays of a venue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// From the call to the moment the exchange applies it.
    pub request_ms: u64,
    /// From the moment the exchange applied it to the call's return.
    pub response_ms: u64,
    /// Each of the two delays is lengthened by a uniform draw in `0..=jitter_ms` (seeded).
    pub jitter_ms: u64,
    /// Fills show in `fills_since` only this long after they happened (a lagging fill feed).
    pub fills_delay_ms: u64,
}

impl Latency {
    /// No delays at all.
    pub const ZERO: Latency = Latency {
        request_ms: 0,
        response_ms: 0,
        jitter_ms: 0,
        fills_delay_ms: 0,
    };

    /// Roughly Hyperliquid from a nearby client: about 0.2 s from request to confirmation.
    pub fn hyperliquid() -> Latency {
        Latency {
            request_ms: 100,
            response_ms: 50,
            jitter_ms: 100,
            fills_delay_ms: 0,
        }
    }

    /// Roughly Binance from a cloud region close to it: tens of milliseconds.
    pub fn binance() -> Latency {
        Latency {
            request_ms: 15,
            response_ms: 10,
            jitter_ms: 20,
            fills_delay_ms: 0,
        }
    }
}

/// A [`Venue`] on a simulated exchange.
pub struct SimVenue {
    ops: SimOps,
    exchange: Arc<Mutex<SimExchange>>,
    clock: Arc<dyn Clock>,
    latency: Latency,
    jitter: Mutex<ChaCha8Rng>,
}

impl SimVenue {
    /// A venue named `name` trading as `account` on `exchange`, with time from `clock`. `seed` drives the
    /// latency jitter.
    pub fn new(
        name: impl Into<String>,
        account: impl Into<String>,
        exchange: Arc<Mutex<SimExchange>>,
        clock: Arc<dyn Clock>,
        latency: Latency,
        seed: u64,
    ) -> SimVenue {
        SimVenue {
            ops: SimOps::new(name, account),
            exchange,
            clock,
            latency,
            jitter: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// A venue on a new exchange built from configuration, starting at the clock's current time (the
    /// exchange's seed also drives the latency jitter).
    pub fn from_cfg(
        name: impl Into<String>,
        cfg: &SimVenueCfg,
        clock: Arc<dyn Clock>,
    ) -> Result<SimVenue, SimSetupError> {
        let exchange = SimExchange::new(&cfg.exchange, clock.now_ms())?;
        Ok(SimVenue::new(
            name,
            cfg.account.clone(),
            Arc::new(Mutex::new(exchange)),
            clock,
            cfg.latency,
            cfg.exchange.seed,
        ))
    }

    /// The exchange behind the venue.
    pub fn exchange(&self) -> &Arc<Mutex<SimExchange>> {
        &self.exchange
    }

    pub fn account(&self) -> &str {
        &self.ops.account
    }

    fn lock(&self) -> MutexGuard<'_, SimExchange> {
        self.exchange.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn wait(&self, base_ms: u64) {
        let jitter = if self.latency.jitter_ms > 0 {
            let mut r = self.jitter.lock().unwrap_or_else(|e| e.into_inner());
            r.random_range(0..=self.latency.jitter_ms)
        } else {
            0
        };
        let ms = base_ms + jitter;
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    /// Wait the request latency, apply `f` to the exchange advanced to now, wait the response latency.
    async fn call<R>(&self, f: impl FnOnce(&mut SimExchange, TimestampMs) -> R) -> R {
        self.wait(self.latency.request_ms).await;
        let r = {
            let now = self.clock.now_ms();
            let mut ex = self.lock();
            ex.advance_to(now);
            let now = ex.now();
            f(&mut ex, now)
        };
        self.wait(self.latency.response_ms).await;
        r
    }

    fn err(&self, e: SimReject) -> VenueError {
        to_venue_error(&self.ops.venue, e)
    }
}

fn cref(id: &ClientOrderId) -> OrderRef {
    OrderRef::Client(id.as_hex().to_string())
}

/// The order operations of the venue interface as synchronous calls on an exchange, trading as one account.
/// [`SimVenue`] wraps them with latency; backtests call them directly in simulated time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOps {
    pub venue: String,
    pub account: String,
}

impl SimOps {
    pub fn new(venue: impl Into<String>, account: impl Into<String>) -> Self {
        SimOps {
            venue: venue.into(),
            account: account.into(),
        }
    }

    fn err(&self, e: SimReject) -> VenueError {
        to_venue_error(&self.venue, e)
    }

    fn status(&self, o: &OrderInfo) -> Result<OrderStatus, VenueError> {
        o.to_status().ok_or_else(|| VenueError::Rejected {
            venue: self.venue.clone(),
            code: None,
            reason: format!("order {} has no client order id of ours", o.id),
            kind: RejectKind::Other,
        })
    }

    fn new_order(o: &OrderRequest) -> NewOrder {
        NewOrder {
            market: o.market.clone(),
            side: o.side,
            price: o.price,
            qty: o.qty,
            tif: o.tif,
            client_id: Some(o.client_id.as_hex().to_string()),
        }
    }

    pub fn place(
        &self,
        ex: &mut SimExchange,
        order: &OrderRequest,
        now: TimestampMs,
    ) -> Result<OrderStatus, VenueError> {
        let placed = ex
            .place(&self.account, Self::new_order(order), now)
            .map_err(|e| self.err(e))?;
        self.status(&placed.order)
    }

    pub fn replace(
        &self,
        ex: &mut SimExchange,
        old: &ClientOrderId,
        old_known_filled: Decimal,
        new: &OrderRequest,
        now: TimestampMs,
    ) -> Result<OrderStatus, VenueError> {
        let r = ex
            .replace(
                &self.account,
                &cref(old),
                Some(old_known_filled),
                Self::new_order(new),
                now,
            )
            .map_err(|e| self.err(e))?;
        match &r.new {
            Some(p) => self.status(&p.order),
            None => Err(VenueError::Rejected {
                venue: self.venue.clone(),
                code: None,
                reason: format!(
                    "order {old} filled {} beyond the {old_known_filled} known; it was cancelled and \
                     nothing was left to place",
                    r.overfill
                ),
                kind: RejectKind::UnknownOrder,
            }),
        }
    }

    pub fn cancel(
        &self,
        ex: &mut SimExchange,
        market: &str,
        id: &ClientOrderId,
        now: TimestampMs,
    ) -> Result<OrderStatus, VenueError> {
        let o = ex
            .cancel(&self.account, Some(market), &cref(id), now)
            .map_err(|e| self.err(e))?;
        self.status(&o)
    }

    pub fn order_status(
        &self,
        ex: &SimExchange,
        market: &str,
        id: &ClientOrderId,
    ) -> Result<Option<OrderStatus>, VenueError> {
        let o = ex
            .order(&self.account, &cref(id))
            .map_err(|e| self.err(e))?;
        Ok(o.filter(|o| o.market == market).and_then(|o| o.to_status()))
    }

    /// Fills visible at `now` (a feed lagging by `delay_ms`), at or after `since`.
    pub fn fills_since(
        &self,
        ex: &SimExchange,
        since: TimestampMs,
        now: TimestampMs,
        delay_ms: TimestampMs,
    ) -> Result<Vec<Fill>, VenueError> {
        ex.fills_since(&self.account, since)
            .map(|fills| {
                fills
                    .iter()
                    .filter(|f| f.ts + delay_ms <= now)
                    .map(|f| f.to_fill())
                    .collect()
            })
            .map_err(|e| self.err(e))
    }
}

/// Map an exchange rejection to the venue interface's error.
pub fn to_venue_error(venue: &str, e: SimReject) -> VenueError {
    let reason = e.to_string();
    let rejected = |kind| VenueError::Rejected {
        venue: venue.to_string(),
        code: None,
        reason: reason.clone(),
        kind,
    };
    match e {
        SimReject::PostOnlyWouldCross { .. } => rejected(RejectKind::PostOnlyWouldCross),
        SimReject::IocNoMatch { .. } => rejected(RejectKind::IocNoMatch),
        SimReject::Rules(_) | SimReject::WithdrawBelowMin { .. } | SimReject::InvalidAmount(_) => {
            rejected(RejectKind::Rules)
        }
        SimReject::UnknownOrder => rejected(RejectKind::UnknownOrder),
        SimReject::DuplicateClientId(_) => rejected(RejectKind::DuplicateClientId),
        SimReject::InsufficientBalance { .. } => VenueError::InsufficientBalance {
            venue: venue.to_string(),
            reason,
        },
        SimReject::UnknownMarket(_)
        | SimReject::UnknownAccount(_)
        | SimReject::UnknownNetwork { .. } => rejected(RejectKind::Other),
    }
}

#[async_trait]
impl Venue for SimVenue {
    fn name(&self) -> &str {
        &self.ops.venue
    }

    async fn markets(&self) -> Result<Vec<MarketRules>, VenueError> {
        Ok(self
            .call(|ex, _| ex.markets().into_iter().cloned().collect())
            .await)
    }

    async fn balances(&self) -> Result<Vec<Balance>, VenueError> {
        self.call(|ex, _| ex.balances(&self.ops.account))
            .await
            .map_err(|e| self.err(e))
    }

    async fn depth(&self, market: &str, levels: usize) -> Result<Depth, VenueError> {
        self.call(|ex, _| ex.depth(market, levels))
            .await
            .map(|d| d.to_depth())
            .map_err(|e| self.err(e))
    }

    async fn place(&self, order: &OrderRequest) -> Result<OrderStatus, VenueError> {
        self.call(|ex, now| self.ops.place(ex, order, now)).await
    }

    async fn replace(
        &self,
        old: &ClientOrderId,
        old_known_filled: Decimal,
        new: &OrderRequest,
    ) -> Result<OrderStatus, VenueError> {
        self.call(|ex, now| self.ops.replace(ex, old, old_known_filled, new, now))
            .await
    }

    async fn cancel(&self, market: &str, id: &ClientOrderId) -> Result<OrderStatus, VenueError> {
        self.call(|ex, now| self.ops.cancel(ex, market, id, now))
            .await
    }

    async fn order_status(
        &self,
        market: &str,
        id: &ClientOrderId,
    ) -> Result<Option<OrderStatus>, VenueError> {
        self.call(|ex, _| self.ops.order_status(ex, market, id))
            .await
    }

    async fn open_orders(&self, market: Option<&str>) -> Result<Vec<OrderStatus>, VenueError> {
        let orders = self
            .call(|ex, _| ex.open_orders(&self.ops.account, market))
            .await
            .map_err(|e| self.err(e))?;
        // Orders placed through other clients without one of our ids are left out.
        Ok(orders.iter().filter_map(OrderInfo::to_status).collect())
    }

    async fn fills_since(&self, since: TimestampMs) -> Result<Vec<Fill>, VenueError> {
        let delay = self.latency.fills_delay_ms as TimestampMs;
        self.call(|ex, now| self.ops.fills_since(ex, since, now, delay))
            .await
    }

    async fn deposit_address(&self, asset: &str, network: &str) -> Result<String, VenueError> {
        self.call(|ex, _| ex.deposit_address(&self.ops.account, asset, network))
            .await
            .map_err(|e| self.err(e))
    }

    async fn withdraw(&self, req: &WithdrawRequest) -> Result<String, VenueError> {
        self.call(|ex, now| {
            ex.withdraw(
                &self.ops.account,
                &req.asset,
                &req.network,
                &req.address,
                req.amount,
                Some(req.client_id.clone()),
                now,
            )
        })
        .await
        .map(|t| t.id)
        .map_err(|e| self.err(e))
    }

    async fn transfers_since(&self, since: TimestampMs) -> Result<Vec<TransferStatus>, VenueError> {
        self.call(|ex, _| ex.transfers_since(&self.ops.account, since))
            .await
            .map(|ts| ts.iter().map(|t| t.to_status()).collect())
            .map_err(|e| self.err(e))
    }
}
