//! Property tests: the auction against a model venue inside the test. The model honours what the auction
//! sends (an order never fills beyond its open quantity; a replace applies the `Venue::replace` contract;
//! post-only orders that would cross are rejected) and injects what real venues do: rate limits, unreachable
//! venues, unknown outcomes, HTTP-409-style half-done replaces. Every event it produces is delivered late,
//! out of order and sometimes twice. The market under it is a random walk with jumps.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::tests::d;
use super::*;
use crate::order::{Liquidity, PriceGrid};

/// The markets the auction is run on: (rules, reference price, Hyperliquid-style venue behaviour).
fn market(kind: u8) -> (MarketRules, Decimal, bool) {
    let rules = |grid, lot: &str, min_qty: &str, min_notional: &str| MarketRules {
        market: "M".into(),
        base: "B".into(),
        quote: "Q".into(),
        grid,
        lot: d(lot),
        min_qty: d(min_qty),
        max_qty: Decimal::ZERO,
        min_notional: d(min_notional),
        maker_fee: d("0.0001"),
        taker_fee: d("0.0004"),
    };
    let sig = |max_decimals| PriceGrid::SigFigs {
        sig_figs: 5,
        max_decimals,
    };
    let tick = |t: &str| PriceGrid::Tick { tick: d(t) };
    match kind % 4 {
        // Hyperliquid stablecoin spot (szDecimals 2): 5 significant figures, a power of ten at 1.
        0 => (rules(sig(6), "0.01", "0", "10"), d("1.0000"), true),
        // Hyperliquid small-priced spot (szDecimals 0).
        1 => (rules(sig(8), "1", "0", "10"), d("0.012345"), true),
        // Binance USDCUSDT.
        2 => (rules(tick("0.0001"), "1", "1", "5"), d("0.9999"), false),
        // Binance ETHUSDC.
        _ => (
            rules(tick("0.01"), "0.0001", "0.0001", "5"),
            d("2500.00"),
            false,
        ),
    }
}

#[derive(Clone, Copy, Debug)]
struct Chaos {
    max_delay: i64,
    dup: f64,
    rate_limit: f64,
    transport: f64,
    unknown: f64,
    low_budget: f64,
}

#[derive(Clone, Debug)]
struct MOrder {
    req: OrderRequest,
    venue_id: String,
    qty: Decimal,
    filled: Decimal,
    open: bool,
}

/// The model venue.
struct Model {
    rules: MarketRules,
    side: Side,
    hyperliquid: bool,
    orders: HashMap<ClientOrderId, MOrder>,
    mid: Decimal,
    bid: Decimal,
    ask: Decimal,
    trades: u64,
    fills: Vec<Fill>,
    queue: Vec<(i64, u64, Event)>,
    seq: u64,
    rng: ChaCha8Rng,
    chaos: Chaos,
    /// Chance per tick that a taker reaches an order resting at the touch.
    touch_fill: f64,
}

impl Model {
    fn new(
        rules: MarketRules,
        side: Side,
        mid: Decimal,
        hyperliquid: bool,
        seed: u64,
        chaos: Chaos,
    ) -> Self {
        let mut m = Model {
            rules,
            side,
            hyperliquid,
            orders: HashMap::new(),
            mid,
            bid: mid,
            ask: mid,
            trades: 0,
            fills: Vec::new(),
            queue: Vec::new(),
            seq: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            chaos,
            touch_fill: [0.002, 0.02, 0.1][(seed % 3) as usize],
        };
        m.quote();
        m
    }

    fn quote(&mut self) {
        let half = self.mid / d("20000");
        self.bid = self
            .rules
            .round_price(self.mid - half, Side::Buy, Toward::Passive);
        self.ask = self
            .rules
            .round_price(self.mid + half, Side::Sell, Toward::Passive);
        if self.ask <= self.bid {
            self.ask = self.rules.next_price(self.bid, true);
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random_bool(p.min(1.0))
    }

    /// Deliver `ev` after a random delay; sometimes a second copy later.
    fn send(&mut self, t: i64, ev: Event) {
        let delay = self.rng.random_range(0..=self.chaos.max_delay);
        if self.chance(self.chaos.dup) {
            let later = self.rng.random_range(0..=3 * self.chaos.max_delay);
            self.seq += 1;
            self.queue.push((t + delay + later, self.seq, ev.clone()));
        }
        self.seq += 1;
        self.queue.push((t + delay, self.seq, ev));
    }

    fn next_due(&self) -> Option<i64> {
        self.queue.iter().map(|e| e.0).min()
    }

    fn pop_due(&mut self, t: i64) -> Option<Event> {
        let (k, _) = self
            .queue
            .iter()
            .enumerate()
            .filter(|(_, e)| e.0 <= t)
            .min_by_key(|(_, e)| (e.0, e.1))?;
        Some(self.queue.swap_remove(k).2)
    }

    fn status(&self, id: &ClientOrderId) -> Option<OrderStatus> {
        let o = self.orders.get(id)?;
        Some(OrderStatus {
            client_id: id.clone(),
            venue_order_id: o.venue_id.clone(),
            market: o.req.market.clone(),
            side: o.req.side,
            price: o.req.price,
            qty: o.qty,
            filled: o.filled,
            avg_price: None,
            state: if o.open {
                OrderState::Open
            } else if o.filled >= o.qty {
                OrderState::Filled
            } else {
                OrderState::Canceled
            },
            updated_ms: 0,
        })
    }

    fn open_count(&self) -> usize {
        self.orders.values().filter(|o| o.open).count()
    }

    fn total_filled(&self) -> Decimal {
        self.fills.iter().map(|f| f.qty).sum()
    }

    fn crosses(&self, price: Decimal) -> bool {
        match self.side {
            Side::Sell => price <= self.bid,
            Side::Buy => price >= self.ask,
        }
    }

    fn fill(&mut self, t: i64, id: &ClientOrderId, qty: Decimal, price: Decimal, liq: Liquidity) {
        let o = self.orders.get_mut(id).unwrap();
        assert!(
            o.filled + qty <= o.qty,
            "the model never fills beyond an order"
        );
        o.filled += qty;
        let full = o.filled >= o.qty;
        if full {
            o.open = false;
        }
        let venue_order_id = o.venue_id.clone();
        self.trades += 1;
        let rate = match liq {
            Liquidity::Maker => self.rules.maker_fee,
            Liquidity::Taker => self.rules.taker_fee,
        };
        // Fees in the asset received: quote for a sell, base for a buy.
        let (fee, fee_asset) = match self.side {
            Side::Sell => (price * qty * rate, self.rules.quote.clone()),
            Side::Buy => (qty * rate, self.rules.base.clone()),
        };
        let f = Fill {
            trade_id: format!("T{}", self.trades),
            // Some fill feeds carry only the venue's order id.
            client_id: (!self.chance(0.2)).then(|| id.clone()),
            venue_order_id,
            market: self.rules.market.clone(),
            side: self.side,
            price,
            qty,
            fee,
            fee_asset,
            liquidity: liq,
            ts: t,
        };
        self.fills.push(f.clone());
        self.send(t, Event::Fill(f));
        if full && self.chance(0.5) {
            self.send(
                t,
                Event::Closed {
                    client_id: id.clone(),
                    filled: Some(self.orders[id].filled),
                },
            );
        }
    }

    /// A random part of `open`, on the lot, at least one lot.
    fn part(&mut self, open: Decimal) -> Decimal {
        let share = Decimal::from(self.rng.random_range(10..=100)) / Decimal::ONE_HUNDRED;
        self.rules
            .round_qty(open * share)
            .max(self.rules.lot)
            .min(open)
    }

    /// Market time passes: the mid walks (with occasional jumps), the book top is published, and resting
    /// orders fill when the market reaches them or a taker arrives.
    fn tick(&mut self, t: i64) {
        let bps = if self.chance(0.01) {
            self.rng.random_range(-30..=30)
        } else if self.chance(0.3) {
            self.rng.random_range(-2..=2)
        } else {
            0
        };
        self.mid += self.mid * Decimal::from(bps) / d("20000");
        self.quote();
        if self.chance(0.5) {
            let ev = Event::Book {
                best_bid: Some(self.bid),
                best_ask: Some(self.ask),
            };
            self.send(t, ev);
        }
        let resting: Vec<(ClientOrderId, Decimal, Decimal)> = self
            .orders
            .iter()
            .filter(|(_, o)| o.open)
            .map(|(id, o)| (id.clone(), o.req.price, o.qty - o.filled))
            .collect();
        for (id, price, open) in resting {
            let (touch, through) = match self.side {
                Side::Sell => (price <= self.ask, price <= self.bid),
                Side::Buy => (price >= self.bid, price >= self.ask),
            };
            let qty = if through {
                Some(open)
            } else if touch && self.chance(self.touch_fill) {
                Some(self.part(open))
            } else {
                None
            };
            if let Some(q) = qty {
                self.fill(t, &id, q, price, Liquidity::Maker);
            }
        }
    }

    fn headroom(&mut self) -> f64 {
        if self.chance(self.chaos.low_budget) {
            [0.0, 0.2, 0.4][self.rng.random_range(0..3)]
        } else {
            1.0
        }
    }

    fn venue_error(&mut self) -> Option<(VenueError, bool)> {
        let v = || "model".to_string();
        if self.chance(self.chaos.rate_limit) {
            let retry_after_ms = self.chance(0.5).then(|| self.rng.random_range(0..500u64));
            Some((
                VenueError::RateLimited {
                    venue: v(),
                    retry_after_ms,
                    reason: "429".into(),
                },
                false,
            ))
        } else if self.chance(self.chaos.transport) {
            Some((
                VenueError::Transport {
                    venue: v(),
                    reason: "refused".into(),
                },
                false,
            ))
        } else if self.chance(self.chaos.unknown) {
            // The request may or may not have happened.
            let happened = self.chance(0.5);
            Some((
                VenueError::UnknownOutcome {
                    venue: v(),
                    reason: "timeout".into(),
                },
                happened,
            ))
        } else {
            None
        }
    }

    fn reject(kind: RejectKind) -> VenueError {
        VenueError::Rejected {
            venue: "model".into(),
            code: None,
            reason: format!("{kind:?}"),
            kind,
        }
    }

    /// Put a new order on the book (or match it, for an IOC). Returns its status, or the rejection.
    fn open(
        &mut self,
        t: i64,
        req: &OrderRequest,
        qty: Decimal,
    ) -> Result<OrderStatus, VenueError> {
        assert!(
            !self.orders.contains_key(&req.client_id),
            "client id {} used twice",
            req.client_id
        );
        if req.tif == TimeInForce::PostOnly && self.crosses(req.price) {
            return Err(Self::reject(RejectKind::PostOnlyWouldCross));
        }
        let venue_id = format!("V{}", self.seq);
        self.seq += 1;
        self.orders.insert(
            req.client_id.clone(),
            MOrder {
                req: req.clone(),
                venue_id: venue_id.clone(),
                qty,
                filled: Decimal::ZERO,
                open: true,
            },
        );
        if self.chance(0.5) {
            self.send(
                t,
                Event::Ack {
                    client_id: req.client_id.clone(),
                    venue_order_id: venue_id,
                },
            );
        }
        if req.tif == TimeInForce::Ioc {
            if self.crosses(req.price) {
                let depth = self.part(qty);
                let at = match self.side {
                    Side::Sell => self.bid,
                    Side::Buy => self.ask,
                };
                self.fill(t, &req.client_id, depth, at, Liquidity::Taker);
            }
            let o = self.orders.get_mut(&req.client_id).unwrap();
            o.open = false;
            if o.filled.is_zero() && self.hyperliquid {
                return Err(Self::reject(RejectKind::IocNoMatch));
            }
        }
        Ok(self.status(&req.client_id).unwrap())
    }

    /// Carry out one action and send its result (exactly one result event, maybe duplicated).
    fn exec(&mut self, t: i64, action: &Action) {
        let chaos = self.venue_error();
        let result = match action {
            Action::Place(req) => {
                let r = match &chaos {
                    Some((e, false)) => Err(e.clone()),
                    _ => self.open(t, req, req.qty),
                };
                let r = match chaos {
                    Some((e, true)) => Err(e),
                    _ => r,
                };
                Event::from_place(&req.client_id, r)
            }
            Action::Replace {
                old,
                old_known_filled,
                new,
            } => {
                let r = match &chaos {
                    Some((e, false)) => Err(e.clone()),
                    _ => self.replace(t, old, *old_known_filled, new),
                };
                let r = match chaos {
                    Some((e, true)) => Err(e),
                    _ => r,
                };
                Event::from_replace(old, &new.client_id, r)
            }
            Action::Cancel { client_id, .. } => {
                let r = match &chaos {
                    Some((e, false)) => Err(e.clone()),
                    _ => self.cancel(t, client_id),
                };
                let r = match chaos {
                    Some((e, true)) => Err(e),
                    _ => r,
                };
                Event::from_cancel(client_id, r)
            }
            Action::Query { client_id, .. } => {
                let r = match chaos {
                    Some((e, _)) => Err(e),
                    None => Ok(self.status(client_id)),
                };
                Event::from_query(client_id, r)
            }
        };
        self.send(t, result);
    }

    fn cancel(&mut self, t: i64, id: &ClientOrderId) -> Result<OrderStatus, VenueError> {
        match self.orders.get_mut(id) {
            Some(o) if o.open => {
                o.open = false;
                let filled = o.filled;
                if self.chance(0.3) {
                    let filled = self.chance(0.5).then_some(filled);
                    let ev = Event::Closed {
                        client_id: id.clone(),
                        filled,
                    };
                    self.send(t, ev);
                }
                Ok(self.status(id).unwrap())
            }
            _ => Err(Self::reject(RejectKind::UnknownOrder)),
        }
    }

    /// The `Venue::replace` contract: the old order must be open; it is cancelled; the new one is reduced by
    /// what the old one filled beyond `known`.
    fn replace(
        &mut self,
        t: i64,
        old: &ClientOrderId,
        known: Decimal,
        new: &OrderRequest,
    ) -> Result<OrderStatus, VenueError> {
        if !self.orders.get(old).is_some_and(|o| o.open) {
            return Err(Self::reject(RejectKind::UnknownOrder));
        }
        if new.tif == TimeInForce::PostOnly && self.crosses(new.price) {
            if self.hyperliquid {
                // The modify fails and the old order stays.
                return Err(Self::reject(RejectKind::PostOnlyWouldCross));
            }
            // Binance cancelReplace STOP_ON_FAILURE, HTTP 409: cancelled, new order refused.
            self.cancel(t, old)?;
            return Err(Self::reject(RejectKind::PostOnlyWouldCross));
        }
        let o = self.orders.get_mut(old).unwrap();
        o.open = false;
        let excess = (o.filled - known).max(Decimal::ZERO);
        let qty = (new.qty - excess).max(Decimal::ZERO);
        if qty.is_zero() {
            // Nothing left to place.
            self.orders.insert(
                new.client_id.clone(),
                MOrder {
                    req: new.clone(),
                    venue_id: {
                        self.seq += 1;
                        format!("V{}", self.seq)
                    },
                    qty,
                    filled: Decimal::ZERO,
                    open: false,
                },
            );
            return Ok(self.status(&new.client_id).unwrap());
        }
        match self.open(t, new, qty) {
            Err(e) if new.tif == TimeInForce::Ioc => {
                // The IOC found nothing; the old order is gone.
                Err(e)
            }
            r => r,
        }
    }
}

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    market: u8,
    sell: bool,
    notional: u32,
    start_bps: i64,
    floor_bps: i64,
    shape: u8,
    curvature: f64,
    duration_ms: i64,
    step_ms: i64,
    taker_ms: i64,
    slack_ms: i64,
    cancel_place: bool,
    chaos: u8,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        (any::<u64>(), 0u8..4, any::<bool>(), 15u32..20_000),
        (0i64..25, 3i64..60, 0u8..3, -6.0f64..6.0),
        (5_000i64..60_000, 300i64..5_000, 0i64..3, 0i64..8_000),
        (any::<bool>(), 0u8..3),
    )
        .prop_map(
            |(
                (seed, market, sell, notional),
                (start_bps, floor_bps, shape, curvature),
                (duration_ms, step_ms, taker, slack_ms),
                (cancel_place, chaos),
            )| Case {
                seed,
                market,
                sell,
                notional,
                start_bps,
                floor_bps,
                shape,
                curvature,
                duration_ms,
                step_ms,
                taker_ms: taker * 2_000,
                slack_ms,
                cancel_place,
                chaos,
            },
        )
}

fn shape(case: &Case) -> Shape {
    match case.shape {
        0 => Shape::Linear,
        1 => Shape::Exponential {
            curvature: case.curvature,
        },
        _ => {
            // A few random knots, made valid.
            let mut rng = ChaCha8Rng::seed_from_u64(case.seed ^ 0x5eed);
            let n = rng.random_range(1..=6);
            let mut times: Vec<i64> = (0..n).map(|_| rng.random_range(1..100)).collect();
            let mut progress: Vec<i64> = (0..n).map(|_| rng.random_range(0..=100)).collect();
            times.sort();
            times.dedup();
            progress.sort();
            Shape::Piecewise {
                points: times
                    .iter()
                    .zip(progress)
                    .map(|(t, p)| Point {
                        time: Decimal::new(*t, 2),
                        progress: Decimal::new(p, 2),
                    })
                    .collect(),
            }
        }
    }
}

const T0: i64 = 1_700_000_000_000;
/// Market time step of the model.
const TICK_MS: i64 = 100;
/// However events are delayed and requests refused, the auction is over this long after its deadline.
const GRACE_MS: i64 = 60_000;

fn run(case: Case) -> Result<(), TestCaseError> {
    let (rules, reference, hyperliquid) = market(case.market);
    let side = if case.sell { Side::Sell } else { Side::Buy };
    let chaos = match case.chaos {
        0 => Chaos {
            max_delay: 50,
            dup: 0.0,
            rate_limit: 0.0,
            transport: 0.0,
            unknown: 0.0,
            low_budget: 0.0,
        },
        1 => Chaos {
            max_delay: 300,
            dup: 0.3,
            rate_limit: 0.05,
            transport: 0.03,
            unknown: 0.05,
            low_budget: 0.1,
        },
        _ => Chaos {
            max_delay: 800,
            dup: 0.5,
            rate_limit: 0.1,
            transport: 0.1,
            unknown: 0.15,
            low_budget: 0.3,
        },
    };
    let quantity = rules.round_qty(Decimal::from(case.notional) / reference);
    let schedule = Schedule {
        start_bps: Decimal::from(case.start_bps),
        floor_bps: Decimal::from(case.floor_bps),
        shape: shape(&case),
        duration_ms: case.duration_ms,
        step_ms: case.step_ms,
        taker_ms: case.taker_ms,
        deadline_ms: case.duration_ms + case.taker_ms + case.slack_ms,
    };
    let params = AuctionParams {
        intent: format!("prop-{}", case.seed),
        side,
        quantity,
        reference,
        start_ms: T0,
        schedule,
        reprice: if case.cancel_place {
            Reprice::CancelThenPlace
        } else {
            Reprice::Replace
        },
    };
    let mut a = match Auction::new(params, rules.clone()) {
        Ok(a) => a,
        Err(AuctionError::BelowMinimum { .. }) => return Ok(()),
        Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
    };
    let floor = a.report().floor_price;
    let beyond_floor = |p: Decimal| match side {
        Side::Sell => p < floor,
        Side::Buy => p > floor,
    };
    let deadline = a.deadline_ms();
    let mut m = Model::new(
        rules.clone(),
        side,
        reference,
        hyperliquid,
        case.seed,
        chaos,
    );
    let mut t = T0 - 1_000;
    let mut next_tick = t;
    let mut ids = HashSet::new();
    #[allow(clippy::disallowed_methods)] // a test switch for tracing, not core behaviour
    let trace = std::env::var_os("AUCTION_TRACE").is_some();
    let mut reference_seen = reference;
    loop {
        while let Some(ev) = m.pop_due(t) {
            if trace {
                eprintln!("{t} <- {ev:?}");
            }
            a.handle(t, ev);
            prop_assert!(a.filled() <= quantity);
            // Re-anchoring moves the reference only in the user's favour.
            let r = a.reference();
            match side {
                Side::Sell => prop_assert!(r >= reference_seen, "reference fell to {r}"),
                Side::Buy => prop_assert!(r <= reference_seen, "reference rose to {r}"),
            }
            reference_seen = r;
        }
        if t >= next_tick && !a.is_done() {
            m.tick(t);
            next_tick = t + TICK_MS;
        }
        loop {
            let headroom = m.headroom();
            let Some(action) = a.poll_action(t, headroom) else {
                break;
            };
            if let Action::Place(req) | Action::Replace { new: req, .. } = &action {
                prop_assert!(t < deadline, "order sent at {t}, deadline {deadline}");
                prop_assert!(t >= T0, "order sent before the start");
                prop_assert!(rules.price_on_grid(req.price), "{} off the grid", req.price);
                prop_assert!(
                    !beyond_floor(req.price),
                    "{} beyond the floor {floor}",
                    req.price
                );
                prop_assert!(rules.check(req.price, req.qty).is_ok(), "{req:?}");
                prop_assert!(req.side == side && req.qty <= quantity);
                prop_assert!(ids.insert(req.client_id.clone()), "id reused");
                if req.tif == TimeInForce::Ioc {
                    prop_assert_eq!(req.price, a.floor_on_grid(), "IOC only at the floor");
                }
            }
            if trace {
                eprintln!("{t} -> {action:?}");
            }
            m.exec(t, &action);
            prop_assert!(m.open_count() <= 1, "two orders rest at once");
            prop_assert!(
                m.total_filled() <= quantity,
                "the venue filled beyond the quantity"
            );
        }
        if a.is_done() && m.queue.is_empty() {
            break;
        }
        prop_assert!(
            t <= deadline + GRACE_MS,
            "not done {} ms after the deadline; last decisions: {:#?}; queue {:?}; poll_timeout {:?}",
            t - deadline,
            &a.audit()[a.audit().len().saturating_sub(12)..],
            m.queue.iter().map(|e| e.0 - t).collect::<Vec<_>>(),
            a.poll_timeout()
        );
        let mut nt = next_tick.min(m.next_due().unwrap_or(i64::MAX));
        if let Some(p) = a.poll_timeout() {
            nt = nt.min(p);
        }
        t = nt.max(t + 1);
    }

    let rep = a.report();
    #[allow(clippy::disallowed_methods)] // a test switch for statistics, not core behaviour
    let stats = std::env::var_os("AUCTION_STATS").is_some();
    if stats {
        eprintln!(
            "STATS t {} market {} chaos {} filled {}/{} taker {} reason {:?} steps {} replaces {} reanchors {} dup {}",
            rep.ended_ms.unwrap() - T0,
            case.market,
            case.chaos,
            rep.filled,
            quantity,
            rep.taker_qty,
            rep.end_reason,
            rep.steps,
            rep.replaces,
            rep.reanchors,
            rep.duplicate_fills
        );
    }
    // It ended by its deadline: nothing rests, and it was over within the grace after the deadline.
    prop_assert_eq!(m.open_count(), 0, "an order still rests after the end");
    prop_assert!(rep.ended_ms.unwrap() <= deadline + GRACE_MS);
    prop_assert!(rep.end_reason.is_some());
    prop_assert_eq!(rep.floor_price, floor, "the floor moved");
    // The report reconciles with the unique fills the venue made.
    let truth: Decimal = m.total_filled();
    prop_assert!(truth <= quantity);
    prop_assert_eq!(rep.filled, truth);
    prop_assert_eq!(rep.unfilled, quantity - truth);
    prop_assert_eq!(rep.overfill, Decimal::ZERO);
    prop_assert_eq!(rep.unseen_fill_qty, Decimal::ZERO);
    prop_assert_eq!(rep.maker_qty + rep.taker_qty, rep.filled);
    let mine: HashMap<&str, &FillRecord> =
        rep.fills.iter().map(|f| (f.trade_id.as_str(), f)).collect();
    prop_assert_eq!(mine.len(), rep.fills.len(), "a trade counted twice");
    prop_assert_eq!(mine.len(), m.fills.len());
    let (mut notional, mut fees) = (Decimal::ZERO, Decimal::ZERO);
    for f in &m.fills {
        let r = mine.get(f.trade_id.as_str());
        prop_assert!(r.is_some(), "fill {} missing", f.trade_id);
        let r = r.unwrap();
        prop_assert_eq!((r.qty, r.price, r.fee), (f.qty, f.price, f.fee));
        prop_assert!(
            !beyond_floor(f.price),
            "filled at {} beyond the floor",
            f.price
        );
        notional += f.price * f.qty;
        fees += if f.fee_asset == rules.quote {
            f.fee
        } else {
            f.fee * f.price
        };
    }
    prop_assert_eq!(rep.notional, notional);
    prop_assert_eq!(rep.fees_quote, fees);
    if truth > Decimal::ZERO {
        prop_assert_eq!(rep.vwap, Some(notional / truth));
    }
    prop_assert!(rep.skipped_steps <= rep.steps);
    match &rep.end_reason {
        Some(EndReason::Filled) => prop_assert_eq!(rep.filled, quantity),
        Some(EndReason::Deadline) => prop_assert!(rep.ended_ms.unwrap() >= deadline),
        Some(EndReason::BelowMinimum { remainder }) => {
            prop_assert_eq!(*remainder, quantity - truth)
        }
        other => prop_assert!(false, "unexpected end {other:?}"),
    }
    Ok(())
}

proptest! {
    // 400 cases, or more with PROPTEST_CASES.
    #![proptest_config(ProptestConfig { cases: ProptestConfig::default().cases.max(400), ..ProptestConfig::default() })]

    #[test]
    fn prop_auction_against_a_model_venue(case in cases()) {
        run(case)?;
    }
}
