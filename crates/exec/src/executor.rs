//! The executor: drives auctions against venues.
//!
//! [`drive`] runs one [`Auction`] against one [`Venue`]: it performs each action the state machine emits
//! (one request at a time, after taking a token from the venue's shared [`RateBudget`]), feeds every result
//! back, polls fills and the top of the book, and wakes the auction on its timer. [`Executor`] runs the swaps
//! of a cycle concurrently across markets and venues, tracks every order by client id, and on shutdown
//! cancels what it has working.
//!
//! Time comes from an [`exec::Clock`](super::Clock) and waits use tokio's timer, so tests run in virtual time
//! (`#[tokio::test(start_paused = true)]` with a `TokioClock`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Serialize;
use tokio::sync::watch;

use super::{ClientOrderId, Clock, MarketRules, Venue, VenueError};
use ballast_core::auction::{
    Action, Auction, AuctionError, AuctionParams, Event, Report, Reprice, Schedule,
};
use ballast_core::model::{Side, TimestampMs};

/// A token bucket shared by every auction on one venue: each request takes a token; tokens refill at a steady
/// rate up to a burst. Its fill level is part of the headroom the auctions see, so they stretch their steps
/// before the venue's own limits are hit.
pub struct RateBudget {
    inner: Mutex<Bucket>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_ms: f64,
    tokens: f64,
    at: TimestampMs,
}

impl std::fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateBudget")
            .field("bucket", &self.inner)
            .finish()
    }
}

impl RateBudget {
    /// `capacity` tokens at most, refilled at `per_second`.
    pub fn new(capacity: f64, per_second: f64, clock: Arc<dyn Clock>) -> Self {
        let at = clock.now_ms();
        RateBudget {
            inner: Mutex::new(Bucket {
                capacity: capacity.max(1.0),
                per_ms: per_second.max(1e-6) / 1000.0,
                tokens: capacity.max(1.0),
                at,
            }),
            clock,
        }
    }

    fn refill(b: &mut Bucket, now: TimestampMs) {
        if now > b.at {
            b.tokens = (b.tokens + (now - b.at) as f64 * b.per_ms).min(b.capacity);
            b.at = now;
        }
    }

    /// Share of the bucket that is full (1.0 = full).
    pub fn headroom(&self) -> f64 {
        let mut b = self.inner.lock().expect("budget lock");
        Self::refill(&mut b, self.clock.now_ms());
        b.tokens / b.capacity
    }

    /// Take a token, waiting for one if the bucket is empty.
    pub async fn take(&self) {
        loop {
            let wait_ms = {
                let mut b = self.inner.lock().expect("budget lock");
                Self::refill(&mut b, self.clock.now_ms());
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return;
                }
                ((1.0 - b.tokens) / b.per_ms).ceil().max(1.0) as u64
            };
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        }
    }
}

/// How an auction is driven.
#[derive(Clone, Debug)]
pub struct DriveOptions {
    /// How often fills and the top of the book are polled.
    pub poll: Duration,
    /// After the auction is done, how long to keep polling for fills it has not seen yet.
    pub late_fill_wait: Duration,
}

impl Default for DriveOptions {
    fn default() -> Self {
        DriveOptions {
            poll: Duration::from_millis(500),
            late_fill_wait: Duration::from_secs(5),
        }
    }
}

/// Every order the executor sent, by venue and client id, with its last known state.
#[derive(Debug, Default)]
pub struct OrderTracker {
    orders: Mutex<BTreeMap<(String, ClientOrderId), TrackedOrder>>,
}

/// What is known of one tracked order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackedOrder {
    pub market: String,
    pub intent: String,
    /// Final (filled, cancelled, rejected) as far as the executor knows.
    pub closed: bool,
}

impl OrderTracker {
    fn sent(&self, venue: &str, id: &ClientOrderId, market: &str, intent: &str) {
        let mut m = self.orders.lock().expect("tracker lock");
        m.entry((venue.to_string(), id.clone()))
            .or_insert_with(|| TrackedOrder {
                market: market.to_string(),
                intent: intent.to_string(),
                closed: false,
            });
    }

    fn closed(&self, venue: &str, id: &ClientOrderId) {
        if let Some(o) = self
            .orders
            .lock()
            .expect("tracker lock")
            .get_mut(&(venue.to_string(), id.clone()))
        {
            o.closed = true;
        }
    }

    /// Orders not known to be final, per venue.
    pub fn open(&self) -> Vec<(String, ClientOrderId, TrackedOrder)> {
        self.orders
            .lock()
            .expect("tracker lock")
            .iter()
            .filter(|(_, o)| !o.closed)
            .map(|((v, id), o)| (v.clone(), id.clone(), o.clone()))
            .collect()
    }

    /// Has this client id ever been sent on this venue?
    pub fn contains(&self, venue: &str, id: &ClientOrderId) -> bool {
        self.orders
            .lock()
            .expect("tracker lock")
            .contains_key(&(venue.to_string(), id.clone()))
    }

    pub fn len(&self) -> usize {
        self.orders.lock().expect("tracker lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why an auction could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    #[error("venue {venue} has no market {market:?}")]
    UnknownMarket { venue: String, market: String },
    #[error("no venue named {0:?}")]
    UnknownVenue(String),
    #[error("market {market} on {venue}: {error}")]
    Venue {
        venue: String,
        market: String,
        error: VenueError,
    },
    #[error("market {market} on {venue}: the book is empty, so there is no arrival price")]
    NoReference { venue: String, market: String },
    #[error("auction on {market}: {error}")]
    Auction { market: String, error: AuctionError },
}

/// Progress of a running auction, for live display.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    pub at_ms: TimestampMs,
    pub filled: Decimal,
    pub remaining: Decimal,
    /// The working order's price, if one rests.
    pub price: Option<Decimal>,
    pub schedule_price: Decimal,
    pub done: bool,
}

/// Drive one auction to its end against a venue. `shutdown` turning true cancels what it has working.
#[allow(clippy::too_many_arguments)]
pub async fn drive(
    venue: &dyn Venue,
    clock: &dyn Clock,
    budget: Option<&RateBudget>,
    tracker: Option<&OrderTracker>,
    auction: &mut Auction,
    opts: &DriveOptions,
    mut shutdown: Option<watch::Receiver<bool>>,
    mut progress: impl FnMut(&Progress),
) -> Report {
    let market = auction.market().to_string();
    let intent = auction.report().intent.clone();
    let mut ours: HashSet<ClientOrderId> = HashSet::new();
    let mut fills_since = clock.now_ms() - 1_000;
    let mut cancelling = false;
    let mut late_deadline: Option<TimestampMs> = None;
    // Account and book reads no more often than the venue's rate limit affords.
    let poll = opts.poll.max(venue.read_interval());
    let read_every = venue.read_interval().as_millis() as i64;
    let mut last_read: TimestampMs = TimestampMs::MIN / 2;
    loop {
        if !cancelling && shutdown.as_ref().is_some_and(|s| *s.borrow()) {
            auction.cancel_all(clock.now_ms());
            cancelling = true;
        }
        // Perform every action the auction wants now, one request at a time.
        loop {
            let headroom = venue
                .headroom()
                .fraction
                .min(budget.map(RateBudget::headroom).unwrap_or(1.0));
            let Some(action) = auction.poll_action(clock.now_ms(), headroom) else {
                break;
            };
            if let Some(b) = budget {
                b.take().await;
            }
            let id = action.client_id().clone();
            if matches!(action, Action::Place(_) | Action::Replace { .. }) {
                ours.insert(id.clone());
                if let Some(t) = tracker {
                    t.sent(venue.name(), &id, &market, &intent);
                }
            }
            let event = perform(venue, &action).await;
            if let (
                Some(t),
                Event::Status {
                    status: Some(s), ..
                },
            ) = (tracker, &event)
                && s.state.is_final()
            {
                t.closed(venue.name(), &s.client_id);
            }
            if let (Some(t), Action::Replace { old, .. }, Event::Replaced { .. }) =
                (tracker, &action, &event)
            {
                t.closed(venue.name(), old);
            }
            auction.handle(clock.now_ms(), event);
        }
        let now = clock.now_ms();
        progress(&snapshot(auction, now));
        if auction.is_done() {
            if let (Some(t), Some(w)) = (tracker, auction.working()) {
                t.closed(venue.name(), &w.client_id);
            }
            if auction.report().unseen_fill_qty > Decimal::ZERO {
                let deadline =
                    *late_deadline.get_or_insert(now + opts.late_fill_wait.as_millis() as i64);
                if now < deadline {
                    tokio::time::sleep(poll).await;
                    poll_fills(venue, auction, &ours, &mut fills_since, clock).await;
                    continue;
                }
            }
            if let Some(t) = tracker {
                for id in &ours {
                    t.closed(venue.name(), id);
                }
            }
            return auction.report();
        }
        // Wait for the auction's timer or the next poll, whichever is first; a shutdown wakes us early.
        let wake = auction
            .poll_timeout()
            .map(|t| (t - now).max(0) as u64)
            .unwrap_or(u64::MAX);
        let wait = Duration::from_millis(wake.min(poll.as_millis() as u64));
        match shutdown.as_mut() {
            Some(s) if !cancelling => {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = s.changed() => {}
                }
            }
            _ => tokio::time::sleep(wait).await,
        }
        if clock.now_ms() - last_read >= read_every {
            last_read = clock.now_ms();
            poll_fills(venue, auction, &ours, &mut fills_since, clock).await;
            if !auction.is_ending()
                && let Ok(d) = venue.depth(&market, 1).await
            {
                auction.handle(clock.now_ms(), Event::from_depth(&d));
            }
        }
        auction.handle(clock.now_ms(), Event::Timer);
    }
}

async fn perform(venue: &dyn Venue, action: &Action) -> Event {
    match action {
        Action::Place(req) => Event::from_place(&req.client_id, venue.place(req).await),
        Action::Replace {
            old,
            old_known_filled,
            new,
        } => Event::from_replace(
            old,
            &new.client_id,
            venue.replace(old, *old_known_filled, new).await,
        ),
        Action::Cancel { market, client_id } => {
            Event::from_cancel(client_id, venue.cancel(market, client_id).await)
        }
        Action::Query { market, client_id } => {
            Event::from_query(client_id, venue.order_status(market, client_id).await)
        }
    }
}

async fn poll_fills(
    venue: &dyn Venue,
    auction: &mut Auction,
    ours: &HashSet<ClientOrderId>,
    since: &mut TimestampMs,
    clock: &dyn Clock,
) {
    if ours.is_empty() {
        return;
    }
    if let Ok(fills) = venue.fills_since(*since).await {
        for f in fills {
            let mine = f.client_id.as_ref().is_none_or(|c| ours.contains(c))
                && f.market == auction.market();
            // Keep a little overlap: fills are deduplicated by trade id.
            *since = (*since).max(f.ts - 1_000);
            if mine {
                auction.handle(clock.now_ms(), Event::Fill(f));
            }
        }
    }
}

fn snapshot(a: &Auction, now: TimestampMs) -> Progress {
    Progress {
        at_ms: now,
        filled: a.filled(),
        remaining: a.remaining(),
        price: a.working().map(|w| w.price),
        schedule_price: a.schedule_price(now),
        done: a.is_done(),
    }
}

/// One swap to work in a cycle.
#[derive(Clone, Debug)]
pub struct SwapJob {
    pub venue: String,
    pub market: String,
    pub side: Side,
    /// Base units.
    pub qty: Decimal,
    /// Reference price; `None` takes the arrival mid from the book.
    pub reference: Option<Decimal>,
    pub schedule: Schedule,
    pub reprice: Reprice,
    /// Deterministic intent id (client order ids derive from it).
    pub intent: String,
}

/// Runs the auctions of a cycle concurrently.
pub struct Executor {
    venues: HashMap<String, Arc<dyn Venue>>,
    budgets: HashMap<String, Arc<RateBudget>>,
    rules: Mutex<HashMap<(String, String), MarketRules>>,
    clock: Arc<dyn Clock>,
    pub tracker: Arc<OrderTracker>,
    pub options: DriveOptions,
    shutdown: watch::Sender<bool>,
}

impl Executor {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Executor {
            venues: HashMap::new(),
            budgets: HashMap::new(),
            rules: Mutex::new(HashMap::new()),
            clock,
            tracker: Arc::new(OrderTracker::default()),
            options: DriveOptions::default(),
            shutdown: watch::channel(false).0,
        }
    }

    /// Add a venue with its request budget (burst, per second).
    pub fn add_venue(&mut self, venue: Arc<dyn Venue>, burst: f64, per_second: f64) {
        let name = venue.name().to_string();
        self.budgets.insert(
            name.clone(),
            Arc::new(RateBudget::new(burst, per_second, self.clock.clone())),
        );
        self.venues.insert(name, venue);
    }

    pub fn venue(&self, name: &str) -> Option<&Arc<dyn Venue>> {
        self.venues.get(name)
    }

    /// Market rules, fetched once per venue and cached.
    pub async fn rules(&self, venue: &str, market: &str) -> Result<MarketRules, ExecError> {
        if let Some(r) = self
            .rules
            .lock()
            .expect("rules lock")
            .get(&(venue.to_string(), market.to_string()))
        {
            return Ok(r.clone());
        }
        let v = self
            .venues
            .get(venue)
            .ok_or_else(|| ExecError::UnknownVenue(venue.to_string()))?;
        let all = v.markets().await.map_err(|error| ExecError::Venue {
            venue: venue.to_string(),
            market: market.to_string(),
            error,
        })?;
        let mut cache = self.rules.lock().expect("rules lock");
        for r in all {
            cache.insert((venue.to_string(), r.market.clone()), r);
        }
        cache
            .get(&(venue.to_string(), market.to_string()))
            .cloned()
            .ok_or_else(|| ExecError::UnknownMarket {
                venue: venue.to_string(),
                market: market.to_string(),
            })
    }

    /// Build the auction of a job (arrival mid from the book when no reference is given).
    pub async fn prepare(&self, job: &SwapJob) -> Result<Auction, ExecError> {
        let rules = self.rules(&job.venue, &job.market).await?;
        let venue = self
            .venues
            .get(&job.venue)
            .ok_or_else(|| ExecError::UnknownVenue(job.venue.clone()))?;
        let reference = match job.reference {
            Some(r) => r,
            None => {
                let d = venue
                    .depth(&job.market, 1)
                    .await
                    .map_err(|error| ExecError::Venue {
                        venue: job.venue.clone(),
                        market: job.market.clone(),
                        error,
                    })?;
                d.mid().ok_or_else(|| ExecError::NoReference {
                    venue: job.venue.clone(),
                    market: job.market.clone(),
                })?
            }
        };
        let params = AuctionParams {
            intent: job.intent.clone(),
            side: job.side,
            quantity: job.qty,
            reference,
            start_ms: self.clock.now_ms(),
            schedule: job.schedule.clone(),
            reprice: job.reprice,
        };
        Auction::new(params, rules).map_err(|error| ExecError::Auction {
            market: job.market.clone(),
            error,
        })
    }

    /// Run one job to its end.
    pub async fn run_one(
        &self,
        job: &SwapJob,
        progress: impl FnMut(&Progress),
    ) -> Result<Report, ExecError> {
        let mut auction = self.prepare(job).await?;
        let venue = self
            .venues
            .get(&job.venue)
            .ok_or_else(|| ExecError::UnknownVenue(job.venue.clone()))?;
        let budget = self.budgets.get(&job.venue).cloned();
        Ok(drive(
            venue.as_ref(),
            self.clock.as_ref(),
            budget.as_deref(),
            Some(&self.tracker),
            &mut auction,
            &self.options,
            Some(self.shutdown.subscribe()),
            progress,
        )
        .await)
    }

    /// Run the jobs of a cycle concurrently; results in the order of `jobs`.
    pub async fn run_all(&self, jobs: &[SwapJob]) -> Vec<Result<Report, ExecError>> {
        let futs = jobs.iter().map(|j| self.run_one(j, |_| {}));
        join_all(futs).await
    }

    /// Ask every running auction to cancel what it has working and end.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Cancel, directly on the venues, every tracked order not known to be final (after a shutdown, or
    /// after a crash when the tracker was rebuilt). Returns how many cancels were sent.
    pub async fn cancel_open(&self) -> usize {
        let mut n = 0;
        for (venue, id, o) in self.tracker.open() {
            if let Some(v) = self.venues.get(&venue) {
                n += 1;
                if v.cancel(&o.market, &id).await.is_ok() {
                    self.tracker.closed(&venue, &id);
                }
            }
        }
        n
    }
}

/// Await every future, concurrently, keeping their order (a small join_all without extra dependencies).
async fn join_all<F: std::future::Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future completed"))
        .collect()
}
