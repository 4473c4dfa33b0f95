//! Executing swaps in simulated time, for backtests: the same auction state machine as the live executor,
//! driven synchronously against a model of the venue.
//!
//! Two venue models:
//! - [`BookVenue`] (`book` fill model): the full simulated exchange (order book, makers, takers) of
//!   `venue::sim`, through the same [`SimOps`] the simulated venue uses;
//! - [`FastVenue`] (`fast` fill model): no book, the same liquidity model in closed form. The mid follows the
//!   model's random walk; the book is the makers' quoted levels around it; takers arrive as the model's Poisson
//!   process and fill a resting order when they are larger than the liquidity ahead of it; a mid moving through
//!   the order fills it. It needs no matching engine, so year-long backtests stay fast. `tests/backtest_fill_models.rs`
//!   checks it against the book model.
//!
//! Three ways to execute a swap, shared with `auction-bench`: ballast's Dutch auction ([`work_auction`]), an
//! immediate IOC through the book ([`work_ioc`]) and a linear auction without maker logic ([`work_linear`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rust_decimal::Decimal;

use ballast_core::auction::{Action, Auction, AuctionParams, Event, Reprice, Schedule};
use ballast_core::model::{Side, TimestampMs, dec_dp, from_f64, to_f64};
use ballast_exec::{
    ClientOrderId, Depth, Fill, Level, Liquidity, MarketRules, OrderState, OrderStatus, RejectKind,
    TimeInForce, Toward, VenueError,
};
use ballast_sim::{LiquidityCfg, MidSource, SimExchange, SimOps};

/// A venue the synchronous driver can work orders on, in simulated time.
pub trait ModelVenue {
    /// Perform one request at `now`.
    fn perform(&mut self, action: &Action, now: TimestampMs) -> Event;
    /// Advance to `now`; return our fills that happened since the last call.
    fn advance(&mut self, now: TimestampMs) -> Vec<Fill>;
    /// The book's top `levels` levels.
    fn depth(&self, levels: usize) -> Depth;
    /// The best bid and ask (what the auction watches every step): `depth(1)`'s, without building it.
    fn top(&self) -> (Option<Decimal>, Option<Decimal>) {
        let d = self.depth(1);
        (d.best_bid(), d.best_ask())
    }
    fn rules(&self) -> &MarketRules;
}

/// Outcome of one executed swap.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SwapOutcome {
    /// Base units filled.
    pub filled: Decimal,
    /// Quote units exchanged (price x qty summed).
    pub notional: Decimal,
    /// Fees in quote units (base-asset fees valued at the fill price).
    pub fees_quote: Decimal,
    /// Cost in bps of the arrival mid, fees included (positive = cost); `None` when nothing filled.
    pub cost_bps: Option<f64>,
    pub arrival: Decimal,
    pub end_ms: TimestampMs,
    pub requests: u32,
    pub replaces: u32,
    pub fills: u32,
}

fn outcome_from_fills(
    side: Side,
    arrival: Decimal,
    fills: &[Fill],
    quote: &str,
    end_ms: TimestampMs,
    requests: u32,
) -> SwapOutcome {
    let mut o = SwapOutcome {
        arrival,
        end_ms,
        requests,
        ..Default::default()
    };
    for f in fills {
        o.filled += f.qty;
        o.notional += f.qty * f.price;
        o.fees_quote += if f.fee_asset == quote {
            f.fee
        } else {
            f.fee * f.price
        };
        o.fills += 1;
    }
    o.cost_bps = cost_bps(side, arrival, o.filled, o.notional, o.fees_quote);
    o
}

/// Cost in bps of `arrival` for `filled` at `notional` with `fees` (quote units), positive = cost.
pub fn cost_bps(
    side: Side,
    arrival: Decimal,
    filled: Decimal,
    notional: Decimal,
    fees: Decimal,
) -> Option<f64> {
    if filled <= Decimal::ZERO || arrival <= Decimal::ZERO {
        return None;
    }
    let (a, q, n, f) = (
        to_f64(arrival),
        to_f64(filled),
        to_f64(notional),
        to_f64(fees),
    );
    let vwap = n / q;
    let px = match side {
        Side::Sell => (a - vwap) / a,
        Side::Buy => (vwap - a) / a,
    };
    Some((px + f / n) * 10_000.0)
}

/// Work a Dutch auction to its end on a model venue. Requests take `latency_ms`; fills and the book are
/// polled every `poll_ms`.
#[allow(clippy::too_many_arguments)]
pub fn work_auction(
    venue: &mut dyn ModelVenue,
    side: Side,
    qty: Decimal,
    schedule: &Schedule,
    intent: &str,
    start: TimestampMs,
    poll_ms: i64,
    latency_ms: i64,
) -> Result<(SwapOutcome, ballast_core::auction::Report), ballast_core::auction::AuctionError> {
    venue.advance(start);
    let depth = venue.depth(1);
    let arrival = depth.mid().unwrap_or(Decimal::ONE);
    let params = AuctionParams {
        intent: intent.to_string(),
        side,
        quantity: qty,
        reference: arrival,
        start_ms: start,
        schedule: schedule.clone(),
        reprice: Reprice::Replace,
    };
    let mut a = Auction::new(params, venue.rules().clone())?;
    a.handle(start, Event::from_depth(&depth));
    let mut now = start;
    let mut requests = 0;
    let hard_end = start + schedule.deadline_ms + 120_000;
    loop {
        while let Some(action) = a.poll_action(now, 1.0) {
            now += latency_ms;
            for f in venue.advance(now) {
                a.handle(now, Event::Fill(f));
            }
            if matches!(action, Action::Place(_) | Action::Replace { .. }) {
                requests += 1;
            }
            let ev = venue.perform(&action, now);
            a.handle(now, ev);
        }
        if a.is_done() || now > hard_end {
            break;
        }
        let next = a
            .poll_timeout()
            .map(|t| t.max(now + 1))
            .unwrap_or(now + poll_ms)
            .min(now + poll_ms);
        now = next;
        for f in venue.advance(now) {
            a.handle(now, Event::Fill(f));
        }
        let (best_bid, best_ask) = venue.top();
        a.handle(now, Event::Book { best_bid, best_ask });
        a.handle(now, Event::Timer);
    }
    // Late fills (a fill racing the final cancel).
    for f in venue.advance(now + poll_ms) {
        a.handle(now + poll_ms, Event::Fill(f));
    }
    let r = a.report();
    let mut o = SwapOutcome {
        filled: r.filled,
        notional: r.notional,
        fees_quote: r.fees_quote,
        arrival,
        end_ms: r.ended_ms.unwrap_or(now),
        requests,
        replaces: r.replaces,
        fills: r.fills.len() as u32,
        cost_bps: None,
    };
    o.cost_bps = cost_bps(side, arrival, o.filled, o.notional, o.fees_quote);
    Ok((o, r))
}

/// One IOC limit order `through_bps` through the arrival mid for the whole size (a "market" order).
pub fn work_ioc(
    venue: &mut dyn ModelVenue,
    side: Side,
    qty: Decimal,
    through_bps: f64,
    intent: &str,
    start: TimestampMs,
) -> SwapOutcome {
    venue.advance(start);
    let arrival = venue.depth(1).mid().unwrap_or(Decimal::ONE);
    let a = to_f64(arrival);
    let limit = match side {
        Side::Sell => a * (1.0 - through_bps / 1e4),
        Side::Buy => a * (1.0 + through_bps / 1e4),
    };
    let rules = venue.rules().clone();
    let price = rules.round_price(from_f64(limit).unwrap_or(arrival), side, Toward::Aggressive);
    let id = ClientOrderId::derive(intent, 0);
    let req = ballast_exec::OrderRequest {
        market: rules.market.clone(),
        side,
        price,
        qty: rules.round_qty(qty),
        tif: TimeInForce::Ioc,
        client_id: id,
    };
    let _ = venue.perform(&Action::Place(req), start);
    let fills = venue.advance(start);
    outcome_from_fills(side, arrival, &fills, &rules.quote, start, 1)
}

/// A linear auction from `start_bps` above to `end_bps` below the oracle (arrival mid) over `window_ms`,
/// stepping every `step_ms`, with no maker logic: a solver takes the whole size at the auction's price as soon
/// as it can resell it on the book at that price or better, net of its taker fee.
#[allow(clippy::too_many_arguments)]
pub fn work_linear(
    venue: &mut dyn ModelVenue,
    side: Side,
    qty: Decimal,
    start_bps: f64,
    end_bps: f64,
    window_ms: i64,
    step_ms: i64,
    start: TimestampMs,
) -> SwapOutcome {
    venue.advance(start);
    let arrival = venue.depth(1).mid().unwrap_or(Decimal::ONE);
    let (a, q) = (to_f64(arrival), to_f64(qty));
    let taker = to_f64(venue.rules().taker_fee);
    let (p0, p1) = match side {
        Side::Sell => (a * (1.0 + start_bps / 1e4), a * (1.0 - end_bps / 1e4)),
        Side::Buy => (a * (1.0 - start_bps / 1e4), a * (1.0 + end_bps / 1e4)),
    };
    let mut t = 0;
    while t <= window_ms {
        venue.advance(start + t);
        let p = p0 + (p1 - p0) * (t as f64 / window_ms as f64);
        let d = venue.depth(200);
        let levels = match side {
            Side::Sell => &d.bids,
            Side::Buy => &d.asks,
        };
        let (mut left, mut notional) = (q, 0.0);
        for l in levels {
            let take = left.min(to_f64(l.qty));
            notional += take * to_f64(l.price);
            left -= take;
            if left <= 0.0 {
                break;
            }
        }
        if left <= 1e-9 {
            let hedge = notional / q;
            let ok = match side {
                Side::Sell => hedge * (1.0 - taker) >= p,
                Side::Buy => hedge * (1.0 + taker) <= p,
            };
            if ok {
                let px = dec_dp(p, 10);
                return SwapOutcome {
                    filled: qty,
                    notional: px * qty,
                    fees_quote: Decimal::ZERO,
                    cost_bps: cost_bps(side, arrival, qty, px * qty, Decimal::ZERO),
                    arrival,
                    end_ms: start + t,
                    requests: 1,
                    replaces: 0,
                    fills: 1,
                };
            }
        }
        t += step_ms;
    }
    SwapOutcome {
        arrival,
        end_ms: start + window_ms,
        requests: 1,
        ..Default::default()
    }
}

/// The `book` fill model: a simulated exchange and the account the backtest trades as.
pub struct BookVenue<'a> {
    pub ex: &'a mut SimExchange,
    ops: SimOps,
    market: String,
    rules: MarketRules,
    since: TimestampMs,
    seen: std::collections::HashSet<String>,
}

impl<'a> BookVenue<'a> {
    pub fn new(ex: &'a mut SimExchange, account: &str, market: &str) -> Option<Self> {
        let rules = ex.market_rules(market)?.clone();
        let since = ex.now();
        Some(BookVenue {
            ex,
            ops: SimOps::new("sim", account),
            market: market.to_string(),
            rules,
            since,
            seen: Default::default(),
        })
    }
}

impl ModelVenue for BookVenue<'_> {
    fn perform(&mut self, action: &Action, now: TimestampMs) -> Event {
        self.ex.advance_to(now);
        let now = self.ex.now();
        match action {
            Action::Place(req) => {
                Event::from_place(&req.client_id, self.ops.place(self.ex, req, now))
            }
            Action::Replace {
                old,
                old_known_filled,
                new,
            } => Event::from_replace(
                old,
                &new.client_id,
                self.ops.replace(self.ex, old, *old_known_filled, new, now),
            ),
            Action::Cancel { market, client_id } => {
                Event::from_cancel(client_id, self.ops.cancel(self.ex, market, client_id, now))
            }
            Action::Query { market, client_id } => {
                Event::from_query(client_id, self.ops.order_status(self.ex, market, client_id))
            }
        }
    }

    fn advance(&mut self, now: TimestampMs) -> Vec<Fill> {
        self.ex.advance_to(now);
        let now = self.ex.now();
        let fills = self
            .ops
            .fills_since(self.ex, self.since, now, 0)
            .unwrap_or_default();
        self.since = now;
        fills
            .into_iter()
            .filter(|f| f.market == self.market && self.seen.insert(f.trade_id.clone()))
            .collect()
    }

    fn depth(&self, levels: usize) -> Depth {
        self.ex
            .depth(&self.market, levels)
            .map(|d| d.to_depth())
            .unwrap_or_default()
    }

    fn rules(&self) -> &MarketRules {
        &self.rules
    }
}

/// The `fast` fill model: the liquidity model in closed form, without an order book.
pub struct FastVenue {
    rules: MarketRules,
    liq: LiquidityCfg,
    rng: ChaCha8Rng,
    /// Log deviation of the mid from its start.
    x: f64,
    mid0: f64,
    /// `mid0 * exp(x)`, worked out when first asked for after `x` moved (NaN until then).
    mid: std::cell::Cell<f64>,
    /// Makers' size per level from the touch outward.
    level_qtys: Vec<f64>,
    /// A recorded quote path (`MidSource::Path`) and the point in force; its quotes set the touch.
    path: Option<(std::sync::Arc<[ballast_sim::PathPoint]>, usize)>,
    touch_override: Option<(f64, f64)>,
    now: TimestampMs,
    /// Time of the last model step.
    stepped: TimestampMs,
    order: Option<Resting>,
    closed: Vec<OrderStatus>,
    fills: Vec<Fill>,
    trade: u64,
    oid: u64,
    tick: f64,
}

#[derive(Clone, Debug)]
struct Resting {
    id: ClientOrderId,
    oid: u64,
    side: Side,
    price: Decimal,
    qty: Decimal,
    filled: Decimal,
    /// Makers' liquidity still queued ahead of the order at its own price (it joined the back of the queue;
    /// takers deplete it, and makers refilling the level queue behind the order).
    queue_at: f64,
}

/// The makers' size at level `i` from the touch outward.
fn level_qty_of(liq: &LiquidityCfg, i: u32) -> f64 {
    to_f64(liq.level_qty) * liq.level_growth.powi(i as i32)
}

impl FastVenue {
    /// A fast model of a market with its liquidity configuration, starting at `start` (seeded).
    pub fn new(rules: MarketRules, liq: LiquidityCfg, seed: u64, start: TimestampMs) -> FastVenue {
        // A recorded path: the point in force at `start` (the first one before the path begins).
        let path = match &liq.mid {
            MidSource::Path(p) if !p.is_empty() => {
                let ix = p.partition_point(|x| x.ts <= start).saturating_sub(1);
                Some((p.clone(), ix))
            }
            _ => None,
        };
        let point = path.as_ref().map(|(p, ix)| p[*ix]);
        let mid0 = match (&liq.mid, point) {
            (_, Some(p)) => (p.bid + p.ask) / 2.0,
            (MidSource::Walk { start }, None) => *start,
            (MidSource::Path(_), None) => 1.0,
        };
        let touch_override = point.filter(|p| p.ask > p.bid).map(|p| (p.bid, p.ask));
        // The grid step at the starting mid (one tick above the price at or below it).
        let at = rules.round_price(
            from_f64(mid0).unwrap_or(Decimal::ONE),
            Side::Buy,
            Toward::Passive,
        );
        let tick = to_f64(rules.next_price(at, true) - at).abs().max(1e-12);
        let level_qtys = (0..liq.levels).map(|i| level_qty_of(&liq, i)).collect();
        FastVenue {
            rules,
            liq,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xfa57),
            x: 0.0,
            mid0,
            mid: std::cell::Cell::new(mid0),
            level_qtys,
            path,
            touch_override,
            now: start,
            stepped: start,
            order: None,
            closed: Vec::new(),
            fills: Vec::new(),
            trade: 0,
            oid: 0,
            tick,
        }
    }

    fn mid(&self) -> f64 {
        let m = self.mid.get();
        if !m.is_nan() {
            return m;
        }
        let m = self.mid0 * self.x.exp();
        self.mid.set(m);
        m
    }

    /// Move the log deviation of the mid to `x`.
    fn set_x(&mut self, x: f64) {
        self.x = x;
        self.mid.set(f64::NAN);
    }

    fn touch(&self) -> (f64, f64) {
        self.touch_at(self.mid())
    }

    /// The touch for a mid of `m` (a step computes its mid once); a recorded quote's own bid and ask.
    fn touch_at(&self, m: f64) -> (f64, f64) {
        if let Some(t) = self.touch_override {
            return t;
        }
        let hs = m * self.liq.half_spread_bps / 1e4;
        let bid = ((m - hs) / self.tick).floor() * self.tick;
        let mut ask = ((m + hs) / self.tick).ceil() * self.tick;
        if ask <= bid {
            ask = bid + self.tick;
        }
        (bid, ask)
    }

    fn level_qty(&self, i: u32) -> f64 {
        self.level_qtys
            .get(i as usize)
            .copied()
            .unwrap_or_else(|| level_qty_of(&self.liq, i))
    }

    /// The makers' liquidity on a side strictly better than `price`, and their size at `price` itself.
    fn ahead(&self, side: Side, price: f64) -> (f64, f64) {
        let (bid, ask) = self.touch();
        let spacing = self.tick * f64::from(self.liq.level_spacing_ticks.max(1));
        let (mut front, mut at) = (0.0, 0.0);
        for i in 0..self.liq.levels {
            let lp = match side {
                Side::Sell => ask + spacing * f64::from(i),
                Side::Buy => bid - spacing * f64::from(i),
            };
            let d = match side {
                Side::Sell => price - lp,
                Side::Buy => lp - price,
            };
            if d > self.tick * 0.5 {
                front += self.level_qty(i);
            } else if d.abs() <= self.tick * 0.5 {
                at += self.level_qty(i);
            }
        }
        (front, at)
    }

    fn sample_taker(&mut self) -> f64 {
        let s = self.liq.taker_size.sample(&mut self.rng);
        self.liq
            .taker_max_qty
            .map(|m| s.min(to_f64(m)))
            .unwrap_or(s)
    }

    fn fill_resting(&mut self, qty: f64, at: TimestampMs) {
        let Some(o) = self.order.as_mut() else { return };
        let left = to_f64(o.qty - o.filled);
        let q = self.rules.round_qty(dec_dp(qty.min(left), 8));
        if q <= Decimal::ZERO {
            return;
        }
        let q = if to_f64(o.qty - o.filled - q) < to_f64(self.rules.lot) {
            o.qty - o.filled
        } else {
            q
        };
        o.filled += q;
        self.trade += 1;
        let (received_asset, received) = match o.side {
            Side::Buy => (self.rules.base.clone(), q),
            Side::Sell => (self.rules.quote.clone(), q * o.price),
        };
        self.fills.push(Fill {
            trade_id: format!("f{}", self.trade),
            client_id: Some(o.id.clone()),
            venue_order_id: o.oid.to_string(),
            market: self.rules.market.clone(),
            side: o.side,
            price: o.price,
            qty: q,
            fee: received * self.rules.maker_fee,
            fee_asset: received_asset,
            liquidity: Liquidity::Maker,
            ts: at,
        });
        if o.filled >= o.qty {
            let done = self.status_of(self.order.as_ref().expect("resting"), OrderState::Filled);
            self.closed.push(done);
            self.order = None;
        }
    }

    fn status_of(&self, o: &Resting, state: OrderState) -> OrderStatus {
        OrderStatus {
            client_id: o.id.clone(),
            venue_order_id: o.oid.to_string(),
            market: self.rules.market.clone(),
            side: o.side,
            price: o.price,
            qty: o.qty,
            filled: o.filled,
            avg_price: (o.filled > Decimal::ZERO).then_some(o.price),
            state,
            updated_ms: self.now,
        }
    }

    fn reject(&self, kind: RejectKind, reason: &str) -> VenueError {
        VenueError::Rejected {
            venue: "fast".into(),
            code: None,
            reason: reason.into(),
            kind,
        }
    }

    /// A new order: post-only rests (or is refused when it would cross), IOC sweeps the modelled levels.
    fn place(&mut self, req: &ballast_exec::OrderRequest) -> Result<OrderStatus, VenueError> {
        if let Err(v) = self.rules.check(req.price, req.qty) {
            return Err(self.reject(RejectKind::Rules, &v.to_string()));
        }
        let (bid, ask) = self.touch();
        let p = to_f64(req.price);
        self.oid += 1;
        let crosses = match req.side {
            Side::Sell => p <= bid + self.tick * 0.25,
            Side::Buy => p >= ask - self.tick * 0.25,
        };
        match req.tif {
            TimeInForce::PostOnly | TimeInForce::Gtc
                if crosses && req.tif == TimeInForce::PostOnly =>
            {
                Err(self.reject(
                    RejectKind::PostOnlyWouldCross,
                    "post-only order would cross",
                ))
            }
            TimeInForce::Ioc => {
                let mut o = Resting {
                    id: req.client_id.clone(),
                    oid: self.oid,
                    side: req.side,
                    price: req.price,
                    qty: req.qty,
                    filled: Decimal::ZERO,
                    queue_at: 0.0,
                };
                let spacing = self.tick * f64::from(self.liq.level_spacing_ticks.max(1));
                let mut left = to_f64(req.qty);
                for i in 0..self.liq.levels {
                    let lp = match req.side {
                        Side::Buy => ask + spacing * f64::from(i),
                        Side::Sell => bid - spacing * f64::from(i),
                    };
                    let reachable = match req.side {
                        Side::Buy => lp <= p + 1e-12,
                        Side::Sell => lp >= p - 1e-12,
                    };
                    if !reachable || left <= 0.0 {
                        break;
                    }
                    let take = left.min(self.level_qty(i));
                    left -= take;
                    let q = self.rules.round_qty(dec_dp(take, 8));
                    if q <= Decimal::ZERO {
                        continue;
                    }
                    let px = dec_dp(lp, 10);
                    o.filled += q;
                    self.trade += 1;
                    let (asset, received) = match req.side {
                        Side::Buy => (self.rules.base.clone(), q),
                        Side::Sell => (self.rules.quote.clone(), q * px),
                    };
                    self.fills.push(Fill {
                        trade_id: format!("f{}", self.trade),
                        client_id: Some(req.client_id.clone()),
                        venue_order_id: o.oid.to_string(),
                        market: self.rules.market.clone(),
                        side: req.side,
                        price: px,
                        qty: q,
                        fee: received * self.rules.taker_fee,
                        fee_asset: asset,
                        liquidity: Liquidity::Taker,
                        ts: self.now,
                    });
                }
                if o.filled.is_zero() {
                    return Err(self.reject(RejectKind::IocNoMatch, "IOC could not match"));
                }
                let st = self.status_of(
                    &o,
                    if o.filled >= o.qty {
                        OrderState::Filled
                    } else {
                        OrderState::Canceled
                    },
                );
                self.closed.push(st.clone());
                Ok(st)
            }
            _ => {
                let o = Resting {
                    id: req.client_id.clone(),
                    oid: self.oid,
                    side: req.side,
                    price: req.price,
                    qty: req.qty,
                    filled: Decimal::ZERO,
                    queue_at: 0.0,
                };
                let mut o = o;
                o.queue_at = self.ahead(req.side, p).1;
                let st = self.status_of(&o, OrderState::Open);
                self.order = Some(o);
                Ok(st)
            }
        }
    }

    fn find_closed(&self, id: &ClientOrderId) -> Option<OrderStatus> {
        self.closed
            .iter()
            .rev()
            .find(|s| &s.client_id == id)
            .cloned()
    }
}

impl ModelVenue for FastVenue {
    fn perform(&mut self, action: &Action, now: TimestampMs) -> Event {
        self.advance_model(now);
        match action {
            Action::Place(req) => Event::from_place(&req.client_id, self.place(req)),
            Action::Replace {
                old,
                old_known_filled,
                new,
            } => {
                let r = match self.order.take() {
                    Some(o) if &o.id == old => {
                        let extra = o.filled - *old_known_filled;
                        let old_closed = self.status_of(&o, OrderState::Canceled);
                        self.closed.push(old_closed);
                        let mut req = new.clone();
                        if extra > Decimal::ZERO {
                            req.qty = self.rules.round_qty(req.qty - extra);
                        }
                        if req.qty <= Decimal::ZERO {
                            Err(self.reject(RejectKind::UnknownOrder, "nothing left to place"))
                        } else {
                            self.place(&req)
                        }
                    }
                    other => {
                        self.order = other;
                        Err(self.reject(RejectKind::UnknownOrder, "order not open"))
                    }
                };
                Event::from_replace(old, &new.client_id, r)
            }
            Action::Cancel { client_id, .. } => {
                let r = match self.order.take() {
                    Some(o) if &o.id == client_id => {
                        let st = self.status_of(&o, OrderState::Canceled);
                        self.closed.push(st.clone());
                        Ok(st)
                    }
                    other => {
                        self.order = other;
                        self.find_closed(client_id)
                            .ok_or_else(|| self.reject(RejectKind::UnknownOrder, "unknown order"))
                    }
                };
                Event::from_cancel(client_id, r)
            }
            Action::Query { client_id, .. } => {
                let st = match &self.order {
                    Some(o) if &o.id == client_id => Some(self.status_of(o, OrderState::Open)),
                    _ => self.find_closed(client_id),
                };
                Event::from_query(client_id, Ok(st))
            }
        }
    }

    fn advance(&mut self, now: TimestampMs) -> Vec<Fill> {
        self.advance_model(now);
        std::mem::take(&mut self.fills)
    }

    fn top(&self) -> (Option<Decimal>, Option<Decimal>) {
        if self.liq.levels == 0 {
            return (None, None);
        }
        let (bid, ask) = self.touch();
        (Some(dec_dp(bid, 10)), Some(dec_dp(ask, 10)))
    }

    fn depth(&self, levels: usize) -> Depth {
        let (bid, ask) = self.touch();
        let spacing = self.tick * f64::from(self.liq.level_spacing_ticks.max(1));
        let n = levels.min(self.liq.levels as usize) as u32;
        let lvl = |p: f64, i: u32| Level {
            price: dec_dp(p, 10),
            qty: dec_dp(self.level_qty(i), 6),
        };
        Depth {
            bids: (0..n)
                .map(|i| lvl(bid - spacing * f64::from(i), i))
                .collect(),
            asks: (0..n)
                .map(|i| lvl(ask + spacing * f64::from(i), i))
                .collect(),
            ts: self.now,
        }
    }

    fn rules(&self) -> &MarketRules {
        &self.rules
    }
}

impl FastVenue {
    /// Run the model forward to `now` in the liquidity model's steps.
    fn advance_model(&mut self, now: TimestampMs) {
        let step = self.liq.step_ms.max(1) as i64;
        let vol = self.liq.volatility_bps / 1e4 * (step as f64 / 1000.0).sqrt();
        let normal = Normal::new(0.0, vol.max(1e-12)).expect("normal");
        let decay = self
            .liq
            .reversion_half_life_ms
            .map(|h| (-(step as f64) * std::f64::consts::LN_2 / h as f64).exp())
            .unwrap_or(1.0);
        let jump_p = 1.0 - (-self.liq.jump_rate_per_hour * step as f64 / 3_600_000.0).exp();
        let taker_per_step = self.liq.taker_rate_per_s * step as f64 / 1000.0;
        while self.stepped + step <= now {
            self.stepped += step;
            self.now = self.stepped;
            // The mid moves.
            if let Some((path, ix)) = self.path.as_mut() {
                // The recorded quotes move the market, not the random walk.
                while *ix + 1 < path.len() && path[*ix + 1].ts <= self.stepped {
                    *ix += 1;
                }
                let p = path[*ix];
                self.mid.set((p.bid + p.ask) / 2.0);
                self.touch_override = (p.ask > p.bid).then_some((p.bid, p.ask));
            } else {
                let mut x = self.x * decay + normal.sample(&mut self.rng);
                if jump_p > 0.0 && self.rng.random_bool(jump_p.min(1.0)) {
                    let size = -self.liq.jump_mean_bps / 1e4
                        * self.rng.random_range(f64::EPSILON..1.0f64).ln();
                    x += if self.rng.random_bool(0.5) {
                        size
                    } else {
                        -size
                    };
                }
                self.set_x(x);
            }
            let Some((side, price)) = self.order.as_ref().map(|o| (o.side, o.price)) else {
                continue;
            };
            let p = to_f64(price);
            let m = self.mid();
            let (bid, ask) = self.touch_at(m);
            // The market moved through the order: the makers' new quotes trade with it.
            let through = match side {
                Side::Sell => bid >= p - self.tick * 0.25,
                Side::Buy => ask <= p + self.tick * 0.25,
            };
            if through {
                self.fill_resting(f64::MAX, self.now);
                continue;
            }
            // Takers on the order's side arrive and eat the liquidity ahead of it.
            let mut arrivals = 0;
            let mut acc = 0.0;
            loop {
                acc += -self.rng.random_range(f64::EPSILON..1.0f64).ln();
                if acc > taker_per_step {
                    break;
                }
                arrivals += 1;
            }
            let max_slip = self.liq.taker_max_slippage_bps / 1e4 * m;
            for _ in 0..arrivals {
                let buy = self
                    .rng
                    .random_bool(self.liq.taker_buy_share.clamp(0.0, 1.0));
                let hits_us = matches!((side, buy), (Side::Sell, true) | (Side::Buy, false));
                if !hits_us {
                    continue;
                }
                let reachable = match side {
                    Side::Sell => p <= (m + max_slip).max(ask),
                    Side::Buy => p >= (m - max_slip).min(bid),
                };
                if !reachable {
                    continue;
                }
                // A taker eats the better levels first (makers refill those), then the queue ahead of the order
                // at its price (which only shrinks: refills queue behind it), then the order itself.
                let mut size = self.sample_taker() - self.ahead(side, p).0;
                if size <= 0.0 {
                    continue;
                }
                if let Some(r) = self.order.as_mut() {
                    let eaten = size.min(r.queue_at);
                    r.queue_at -= eaten;
                    size -= eaten;
                }
                if size > 0.0 {
                    self.fill_resting(size, self.now);
                }
                if self.order.is_none() {
                    break;
                }
            }
        }
        self.now = self.now.max(now);
    }
}
