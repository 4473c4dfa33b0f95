//! The liquidity model of one market: a fair mid price, background makers quoting around it, and background
//! takers hitting the book. See `docs/SIMULATOR.md` for the model and its parameters.
//!
//! Everything is a function of the seed and the event times: the model draws from its own ChaCha streams,
//! and its events (a mid step every `step_ms`, taker arrivals) happen at fixed times that do not depend on
//! how often the exchange is advanced. Advancing to `t1` and then to `t2` is the same as advancing to `t2`.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, StandardNormal};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::book::{OrderBook, OrderId, Owner, Tape};
use super::units::{Lots, PriceUnits};
use ballast_core::model::{Side, TimestampMs};
use ballast_exec::TimeInForce;

/// A distribution of order sizes in base units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SizeDist {
    /// `exp(ln(median) + sigma * N(0,1))`.
    LogNormal { median: f64, sigma: f64 },
    /// `min * U^(-1/alpha)`: heavy tailed; the mean is finite for `alpha > 1`.
    Pareto { min: f64, alpha: f64 },
    /// Always the same size.
    Fixed(f64),
}

impl SizeDist {
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        match *self {
            SizeDist::LogNormal { median, sigma } => {
                let z: f64 = rng.sample(StandardNormal);
                median * (sigma * z).exp()
            }
            SizeDist::Pareto { min, alpha } => {
                let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
                min * u.powf(-1.0 / alpha)
            }
            SizeDist::Fixed(x) => x,
        }
    }

    /// The mean size (infinite for a Pareto with `alpha <= 1`).
    pub fn mean(&self) -> f64 {
        match *self {
            SizeDist::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            SizeDist::Pareto { min, alpha } if alpha > 1.0 => min * alpha / (alpha - 1.0),
            SizeDist::Pareto { .. } => f64::INFINITY,
            SizeDist::Fixed(x) => x,
        }
    }
}

/// One point of a recorded price path. For a mid-only path, `bid == ask == mid`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathPoint {
    pub ts: TimestampMs,
    pub bid: f64,
    pub ask: f64,
}

/// Where the fair mid comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum MidSource {
    /// A random walk (with jumps and optional mean reversion) starting at, and reverting to, `start`.
    Walk { start: f64 },
    /// A recorded path (sorted by time): at time t the mid is that of the last point at or before t (the
    /// first point before the path starts). Points with `ask > bid` also set the makers' touch prices.
    Path(Arc<[PathPoint]>),
}

/// Parameters of the liquidity model of one market.
#[derive(Clone, Debug, PartialEq)]
pub struct LiquidityCfg {
    pub mid: MidSource,
    /// Time between two mid updates and maker re-quotes.
    pub step_ms: u64,
    /// Standard deviation of the mid's log return, in bps per square root of a second.
    pub volatility_bps: f64,
    /// Half-life of deviations from the starting mid (none: a pure random walk).
    pub reversion_half_life_ms: Option<u64>,
    /// Mean number of jumps per hour (Poisson).
    pub jump_rate_per_hour: f64,
    /// Mean absolute jump size in bps (exponentially distributed, random sign).
    pub jump_mean_bps: f64,
    /// The makers' best bid and ask sit at least this far from the mid (rounded away from it onto the grid;
    /// 0 gives the tightest spread the grid allows).
    pub half_spread_bps: f64,
    /// Price levels quoted on each side.
    pub levels: u32,
    /// Grid steps between two quoted levels.
    pub level_spacing_ticks: u32,
    /// Size of the best level, in base units.
    pub level_qty: Decimal,
    /// Each level deeper holds this many times the size of the one before.
    pub level_growth: f64,
    /// Each new maker order's size is scaled by a uniform factor in `1 +/- size_jitter`.
    pub size_jitter: f64,
    /// A level whose maker size fell below this share of its target is topped up at the next step (the new
    /// size joins the back of the queue).
    pub refill_below: f64,
    /// Mean taker arrivals per second (Poisson).
    pub taker_rate_per_s: f64,
    /// Taker order sizes in base units.
    pub taker_size: SizeDist,
    /// Largest taker order, in base units.
    pub taker_max_qty: Option<Decimal>,
    /// A taker sweeps the book up to this far from the fair mid (and always at least the opposite touch).
    pub taker_max_slippage_bps: f64,
    /// Share of takers that buy.
    pub taker_buy_share: f64,
}

impl LiquidityCfg {
    /// Problems with these parameters, as `(parameter, message)` pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut check = |ok: bool, key: &'static str, msg: &str| {
            if !ok {
                out.push((key, msg.to_string()));
            }
        };
        match &self.mid {
            MidSource::Walk { start } => {
                check(start.is_finite() && *start > 0.0, "mid", "must be positive")
            }
            MidSource::Path(p) => {
                check(!p.is_empty(), "mid_path", "the path has no points");
                check(
                    p.windows(2).all(|w| w[0].ts <= w[1].ts),
                    "mid_path",
                    "points must be sorted by time",
                );
                check(
                    p.iter().all(|x| x.bid > 0.0 && x.ask >= x.bid),
                    "mid_path",
                    "every point needs 0 < bid <= ask",
                );
            }
        }
        check(self.step_ms > 0, "step", "must be positive");
        check(self.volatility_bps >= 0.0, "volatility_bps", "must be >= 0");
        check(
            self.jump_rate_per_hour >= 0.0,
            "jump_rate_per_hour",
            "must be >= 0",
        );
        check(self.jump_mean_bps >= 0.0, "jump_mean_bps", "must be >= 0");
        check(
            self.half_spread_bps >= 0.0,
            "half_spread_bps",
            "must be >= 0",
        );
        check(
            self.level_spacing_ticks > 0,
            "level_spacing_ticks",
            "must be at least 1",
        );
        check(self.level_qty >= Decimal::ZERO, "level_qty", "must be >= 0");
        check(self.level_growth > 0.0, "level_growth", "must be positive");
        check(
            (0.0..1.0).contains(&self.size_jitter),
            "size_jitter",
            "must be in [0, 1)",
        );
        check(
            (0.0..=1.0).contains(&self.refill_below),
            "refill_below",
            "must be in [0, 1]",
        );
        check(
            self.taker_rate_per_s >= 0.0,
            "taker_rate_per_s",
            "must be >= 0",
        );
        check(
            (0.0..=1.0).contains(&self.taker_buy_share),
            "taker_buy_share",
            "must be in [0, 1]",
        );
        check(
            self.taker_max_slippage_bps >= 0.0,
            "taker_max_slippage_bps",
            "must be >= 0",
        );
        let size_ok = match self.taker_size {
            SizeDist::LogNormal { median, sigma } => median > 0.0 && sigma >= 0.0,
            SizeDist::Pareto { min, alpha } => min > 0.0 && alpha > 0.0,
            SizeDist::Fixed(x) => x > 0.0,
        };
        check(size_ok, "taker_size", "sizes must be positive");
        out
    }
}

/// Counters of what the model did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiquidityStats {
    pub steps: u64,
    pub jumps: u64,
    pub takers: u64,
    /// Lots the takers executed.
    pub taker_lots: u64,
    /// Maker orders placed (new levels and top-ups).
    pub maker_orders: u64,
}

#[derive(Clone, Debug)]
struct Quote {
    price: PriceUnits,
    ids: Vec<OrderId>,
}

/// Background order ids live far above the exchange's own ids.
const BACKGROUND_IDS: OrderId = 1 << 62;

/// The running model of one market.
#[derive(Clone, Debug)]
pub struct LiquidityModel {
    cfg: LiquidityCfg,
    mid_rng: ChaCha8Rng,
    flow_rng: ChaCha8Rng,
    size_rng: ChaCha8Rng,
    anchor: f64,
    /// Log deviation of the mid from the anchor.
    x: f64,
    mid: f64,
    touch: Option<(f64, f64)>,
    path_ix: usize,
    next_step: TimestampMs,
    started: bool,
    /// Next taker arrival, in fractional ms.
    next_taker: f64,
    quotes: [Vec<Quote>; 2],
    next_id: OrderId,
    stats: LiquidityStats,
}

impl LiquidityModel {
    /// A model starting at `start_ms`. `seed` is the exchange's seed and `stream` tells markets apart (the
    /// exchange derives it from the market name, so a market's randomness does not depend on the others).
    pub fn new(cfg: LiquidityCfg, seed: u64, stream: u64, start_ms: TimestampMs) -> Self {
        let rng = |k: u64| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            r.set_stream(stream.wrapping_mul(4).wrapping_add(k));
            r
        };
        let (anchor, touch) = match &cfg.mid {
            MidSource::Walk { start } => (*start, None),
            MidSource::Path(p) => {
                let first = p.first().copied().unwrap_or(PathPoint {
                    ts: start_ms,
                    bid: 1.0,
                    ask: 1.0,
                });
                ((first.bid + first.ask) / 2.0, None)
            }
        };
        let mut m = LiquidityModel {
            mid_rng: rng(0),
            flow_rng: rng(1),
            size_rng: rng(2),
            anchor,
            x: 0.0,
            mid: anchor,
            touch,
            path_ix: 0,
            next_step: start_ms,
            started: false,
            next_taker: f64::INFINITY,
            quotes: [Vec::new(), Vec::new()],
            next_id: BACKGROUND_IDS,
            stats: LiquidityStats::default(),
            cfg,
        };
        if m.cfg.taker_rate_per_s > 0.0 {
            m.next_taker = start_ms as f64 + m.taker_gap_ms();
        }
        m
    }

    pub fn cfg(&self) -> &LiquidityCfg {
        &self.cfg
    }

    /// The fair mid price (the model's, not the book's).
    pub fn fair_mid(&self) -> f64 {
        self.mid
    }

    pub fn stats(&self) -> LiquidityStats {
        self.stats
    }

    /// Time of the next event.
    pub fn next_event(&self) -> TimestampMs {
        let taker = if self.next_taker.is_finite() {
            self.next_taker.floor() as TimestampMs
        } else {
            TimestampMs::MAX
        };
        self.next_step.min(taker)
    }

    /// Run the next event on the book; returns its time. Trades go to the tape for the exchange to settle.
    pub fn run_next(&mut self, book: &mut OrderBook, tape: &mut Tape) -> TimestampMs {
        let t = self.next_event();
        if t == self.next_step {
            self.step(t, book, tape);
            self.next_step = t + self.cfg.step_ms as TimestampMs;
        } else {
            self.taker(book, tape);
            self.next_taker += self.taker_gap_ms();
        }
        t
    }

    fn taker_gap_ms(&mut self) -> f64 {
        let e: f64 = self.flow_rng.sample(Exp1);
        // At least 1 ms apart so time always moves.
        (e / self.cfg.taker_rate_per_s * 1000.0).max(1.0)
    }

    fn step(&mut self, t: TimestampMs, book: &mut OrderBook, tape: &mut Tape) {
        self.stats.steps += 1;
        match &self.cfg.mid {
            MidSource::Walk { .. } => {
                if self.started {
                    self.walk();
                }
                self.mid = self.anchor * self.x.exp();
            }
            MidSource::Path(path) => {
                while self.path_ix + 1 < path.len() && path[self.path_ix + 1].ts <= t {
                    self.path_ix += 1;
                }
                let p = path[self.path_ix];
                self.mid = (p.bid + p.ask) / 2.0;
                self.touch = (p.ask > p.bid).then_some((p.bid, p.ask));
            }
        }
        self.started = true;
        self.requote(book, tape);
    }

    fn walk(&mut self) {
        let c = &self.cfg;
        let dt = c.step_ms as f64 / 1000.0;
        if let Some(h) = c.reversion_half_life_ms {
            let k = std::f64::consts::LN_2 / (h.max(1) as f64 / 1000.0);
            self.x *= (-k * dt).exp();
        }
        let z: f64 = self.mid_rng.sample(StandardNormal);
        self.x += c.volatility_bps * 1e-4 * dt.sqrt() * z;
        let p_jump = 1.0 - (-c.jump_rate_per_hour / 3600.0 * dt).exp();
        if self.mid_rng.random::<f64>() < p_jump {
            let size: f64 = self.mid_rng.sample(Exp1);
            let sign = if self.mid_rng.random::<bool>() {
                1.0
            } else {
                -1.0
            };
            self.x += sign * size * c.jump_mean_bps * 1e-4;
            self.stats.jumps += 1;
        }
    }

    /// The makers' touch prices in units.
    fn touch_units(&self, book: &OrderBook) -> (PriceUnits, PriceUnits) {
        let u = book.units();
        let (b, a) = match self.touch {
            Some((b, a)) => (b, a),
            None => {
                let hs = self.mid * self.cfg.half_spread_bps * 1e-4;
                (self.mid - hs, self.mid + hs)
            }
        };
        let bid = u.from_f64(b, true);
        let mut ask = u.from_f64(a, false);
        if ask <= bid {
            ask = u.next_up(bid);
        }
        (bid, ask)
    }

    fn requote(&mut self, book: &mut OrderBook, tape: &mut Tape) {
        let (bid0, ask0) = self.touch_units(book);
        let spacing = self.cfg.level_spacing_ticks as i64;
        let lot = book.units().lot();
        let base = (self.cfg.level_qty / lot).to_f64().unwrap_or(0.0);
        let mut targets: [Vec<(PriceUnits, f64)>; 2] = [Vec::new(), Vec::new()];
        for (s, touch, dir) in [(0usize, bid0, -1i64), (1, ask0, 1)] {
            let mut p = touch;
            for i in 0..self.cfg.levels {
                if i > 0 {
                    let q = book.units().step(p, dir * spacing);
                    if q == p {
                        break; // the bottom of the grid
                    }
                    p = q;
                }
                targets[s].push((p, base * self.cfg.level_growth.powi(i as i32)));
            }
        }
        // Withdraw quotes at prices that are no longer quoted, on both sides, before adding any: a new quote
        // can then only meet other participants' orders, never the makers' own.
        for (s, t) in targets.iter().enumerate() {
            self.quotes[s].retain(|q| {
                let keep = t.iter().any(|(p, _)| *p == q.price);
                if !keep {
                    for id in &q.ids {
                        book.cancel(*id);
                    }
                }
                keep
            });
        }
        for (s, side) in [(0usize, Side::Buy), (1, Side::Sell)] {
            for &(price, target) in &targets[s] {
                let ix = match self.quotes[s].iter().position(|q| q.price == price) {
                    Some(i) => i,
                    None => {
                        self.quotes[s].push(Quote {
                            price,
                            ids: Vec::new(),
                        });
                        self.quotes[s].len() - 1
                    }
                };
                let q = &mut self.quotes[s][ix];
                let mut alive: Lots = 0;
                q.ids.retain(|id| match book.order(*id) {
                    Some(r) => {
                        alive += r.lots;
                        true
                    }
                    None => false,
                });
                if (alive as f64) >= target * self.cfg.refill_below && alive > 0 {
                    continue;
                }
                let j = self.cfg.size_jitter;
                let factor = if j > 0.0 {
                    1.0 + self.size_rng.random_range(-j..j)
                } else {
                    1.0
                };
                let want = (target * factor).round() as Lots;
                if want <= alive {
                    continue;
                }
                let id = self.next_id;
                self.next_id += 1;
                self.stats.maker_orders += 1;
                let placed = book.place_units(
                    id,
                    Owner::BACKGROUND,
                    side,
                    price,
                    want - alive,
                    TimeInForce::Gtc,
                    tape,
                );
                if matches!(placed, Ok(p) if p.resting > 0) {
                    self.quotes[s][ix].ids.push(id);
                }
            }
        }
    }

    fn taker(&mut self, book: &mut OrderBook, tape: &mut Tape) {
        let c = &self.cfg;
        let buy = self.flow_rng.random::<f64>() < c.taker_buy_share;
        let mut size = c.taker_size.sample(&mut self.flow_rng);
        if let Some(max) = c.taker_max_qty.and_then(|m| m.to_f64()) {
            size = size.min(max);
        }
        self.stats.takers += 1;
        let u = book.units();
        let lot = u.lot().to_f64().unwrap_or(1.0);
        let lots = (size / lot).round().max(1.0) as Lots;
        let slip = c.taker_max_slippage_bps * 1e-4;
        let (side, limit) = if buy {
            let l = u.from_f64(self.mid * (1.0 + slip), false);
            (Side::Buy, book.best_ask_units().map_or(l, |a| l.max(a)))
        } else {
            let l = u.from_f64(self.mid * (1.0 - slip), true);
            (Side::Sell, book.best_bid_units().map_or(l, |b| l.min(b)))
        };
        let id = self.next_id;
        self.next_id += 1;
        if let Ok(p) = book.place_units(
            id,
            Owner::BACKGROUND,
            side,
            limit,
            lots,
            TimeInForce::Ioc,
            tape,
        ) {
            self.stats.taker_lots += p.filled;
        }
    }
}
