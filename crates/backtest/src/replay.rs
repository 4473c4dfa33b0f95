//! Counterfactual replay of a recording.
//!
//! The exogenous flows are the recorded balance changes between consecutive snapshots (a recording made
//! without ballast acting). They are applied, minute by minute, to a simulated portfolio that starts at the
//! first snapshot and that a strategy controls:
//!
//! - every `schedule.interval` the strategy's portfolio computer and planner run on the simulated balances
//!   plus what is in flight (the same [`Engine`] as the live job);
//! - each order becomes a leg: the amount leaves the source chain, reaches the venue after the deposit delay,
//!   is swapped there (when the assets differ) through the strategy's execution against the simulated market
//!   (fees, partial fills, unfilled remainders), and the proceeds (less the route's fixed cost) arrive on the
//!   destination after the withdrawal delay; an unfilled remainder returns to the source;
//! - an outflow larger than the simulated balance empties it and counts as a shortfall.
//!
//! Strategies, all on the same flows and the same markets: `ballast` (the configuration as given, auctions
//! as a maker first), `none` (never moves), `threshold` (refill to target when below the band in one market
//! order: kp 1 per cycle, IOC 1 % through the book: the relayer practice), `p-only` (Kp 0.5 per cycle, no I
//! or D, a per-cycle cap, a linear auction without maker logic: the on-chain practice).
//!
//! Deterministic under the seed.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::execution::{self, BookVenue, FastVenue, ModelVenue, SwapOutcome};
use super::metrics::{PositionMetrics, Sample, TotalMetrics, Tracker};
use super::recording::Recording;
use ballast_config::{BandSpec, Config, TargetSpec, VenueKind, VenueSettings};
use ballast_core::auction::Schedule;
use ballast_core::control::{Observation, targets};
use ballast_core::model::{Side, TimestampMs, to_f64};
use ballast_core::plan::PlanContext;
use ballast_exec::MarketRules;
use ballast_sim::{MarketCfg, MidSource, PathPoint, SimExchange, SimExchangeCfg, presets};

/// Which fill model executes swaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FillModel {
    /// The full simulated order book (exact, slower: for runs of days or weeks).
    Book,
    /// Fill probabilities per auction step from the same liquidity model (for long runs).
    Fast,
}

crate::named_enum!(FillModel { "book" => FillModel::Book, "fast" => FillModel::Fast });

/// A strategy replayed on the recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Ballast,
    None,
    Threshold,
    POnly,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::Ballast,
        Strategy::None,
        Strategy::Threshold,
        Strategy::POnly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Ballast => "ballast",
            Strategy::None => "none",
            Strategy::Threshold => "threshold",
            Strategy::POnly => "p-only",
        }
    }
}

/// Replay settings.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    pub fill_model: FillModel,
    pub seed: u64,
    /// From leaving the source chain to being credited on the venue.
    pub deposit_delay_ms: i64,
    /// From the end of the swap to the arrival on the destination chain.
    pub withdraw_delay_ms: i64,
    /// Auction polling and request latency in the simulated executions.
    pub poll_ms: i64,
    pub latency_ms: i64,
    /// Keep a time series sampled every this many ms (0: none).
    pub series_every_ms: i64,
    /// The auction schedule of the `ballast` strategy.
    pub schedule: Schedule,
    /// The `p-only` strategy's linear auction: start and end offsets from the oracle, in bps.
    pub linear_bps: (f64, f64),
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            fill_model: FillModel::Fast,
            seed: 1,
            deposit_delay_ms: 5 * 60_000,
            withdraw_delay_ms: 5 * 60_000,
            poll_ms: 2_000,
            latency_ms: 50,
            series_every_ms: 15 * 60_000,
            schedule: Schedule::default(),
            linear_bps: (50.0, 50.0),
        }
    }
}

/// Why a replay could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BacktestError {
    #[error("the recording has no balances for {0}, which the configuration declares")]
    MissingPosition(String),
    #[error("the recording has fewer than two snapshots")]
    TooShort,
    /// A route whose market does not trade its two assets.
    #[error("route {0}: its market does not swap the two assets")]
    BadMarket(String),
    #[error("venue {0}: {1}")]
    Venue(String, String),
}

/// A time series of one run (for the CSV and the plots).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TimeSeries {
    pub times: Vec<TimestampMs>,
    /// `balance[t][p]` in base units (value).
    pub value: Vec<Vec<f64>>,
    pub target: Vec<Vec<f64>>,
    pub low: Vec<Vec<f64>>,
    pub high: Vec<Vec<f64>>,
    /// Cumulative cost (fees, spreads, fixed costs) in base units.
    pub cumulative_cost: Vec<f64>,
}

/// Execution statistics of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SwapStats {
    pub legs: u64,
    pub swaps: u64,
    pub swapped_value: f64,
    /// Implementation shortfall of the swaps vs the arrival mid, base units (fees included).
    pub shortfall_value: f64,
    pub requests: u64,
    pub replaces: u64,
    /// Base units left unswapped and sent back.
    pub unfilled_value: f64,
}

/// The result of one strategy's replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunResult {
    pub strategy: Strategy,
    pub positions: Vec<PositionMetrics>,
    pub total: TotalMetrics,
    pub swaps: SwapStats,
    pub cycles: u64,
    #[serde(skip)]
    pub series: TimeSeries,
}

#[derive(Clone, Debug)]
enum LegState {
    /// On its way to the venue; arrives at `at`.
    ToVenue { at: TimestampMs },
    /// Swapped (or not); arrives on the destination at `at`.
    Withdrawing {
        at: TimestampMs,
        received: f64,
        remainder: f64,
    },
}

#[derive(Clone, Debug)]
struct Leg {
    from: usize,
    to: usize,
    route: usize,
    amount: f64,
    sent_value: f64,
    expected: f64,
    /// Whether the controller commanded the move at each end (false: a held counterparty).
    commanded: (bool, bool),
    state: LegState,
}

/// A swap market of a route: the venue's market and which side the source asset is on.
#[derive(Clone, Debug)]
struct SwapMarket {
    venue: usize,
    market: String,
    side: Side,
}

/// Per-venue execution models.
struct Markets {
    /// Book model: one exchange per venue, persistent for the whole run.
    exchanges: Vec<Option<SimExchange>>,
    /// Market configurations per venue (rules and liquidity), for the fast model.
    configs: Vec<HashMap<String, MarketCfg>>,
    fill: FillModel,
    seed: u64,
    swaps: u64,
}

const BOOK_ACCOUNT: &str = "backtest";

/// Recorded quotes per (venue, market), as the liquidity model reads them.
pub type QuotePaths = HashMap<(String, String), std::sync::Arc<[PathPoint]>>;

/// The simulated market standing in for a venue of this kind (its stablecoin pair).
fn default_market(kind: VenueKind) -> MarketCfg {
    match kind {
        VenueKind::Hyperliquid => presets::hyperliquid_usdt0_usdc(),
        _ => presets::binance_usdcusdt(),
    }
}

/// The liquidity model of a market configured without one.
fn default_liquidity(kind: VenueKind) -> ballast_sim::LiquidityCfg {
    default_market(kind).liquidity.expect("preset liquidity")
}

impl Markets {
    fn new(
        cfg: &Config,
        fill: FillModel,
        seed: u64,
        start: TimestampMs,
        paths: &QuotePaths,
    ) -> Result<Markets, BacktestError> {
        let mut exchanges = Vec::new();
        let mut configs = Vec::new();
        for v in &cfg.venues {
            let mut markets: Vec<MarketCfg> = match &v.settings {
                VenueSettings::Sim(s) => s.exchange.markets.clone(),
                _ => vec![default_market(v.kind)],
            };
            // Recorded quotes replace the modelled mid (and set the touch) of their market.
            for m in &mut markets {
                if let Some(path) = paths.get(&(v.name.clone(), m.rules.market.clone())) {
                    let mut liq = m
                        .liquidity
                        .clone()
                        .unwrap_or_else(|| default_liquidity(v.kind));
                    liq.mid = MidSource::Path(path.clone());
                    m.liquidity = Some(liq);
                }
            }
            configs.push(
                markets
                    .iter()
                    .map(|m| (m.rules.market.clone(), m.clone()))
                    .collect(),
            );
            if fill == FillModel::Book {
                let mut assets: Vec<String> = Vec::new();
                for m in &markets {
                    for a in [&m.rules.base, &m.rules.quote] {
                        if !assets.contains(a) {
                            assets.push(a.clone());
                        }
                    }
                }
                let ex_cfg = SimExchangeCfg {
                    seed: seed ^ (exchanges.len() as u64 + 1).wrapping_mul(0x9e37_79b9),
                    markets,
                    accounts: vec![ballast_sim::AccountCfg {
                        name: BOOK_ACCOUNT.into(),
                        balances: assets
                            .into_iter()
                            .map(|a| (a, Decimal::from(10_000_000_000i64)))
                            .collect(),
                    }],
                    networks: vec![],
                };
                let ex = SimExchange::new(&ex_cfg, start)
                    .map_err(|e| BacktestError::Venue(v.name.clone(), e.to_string()))?;
                exchanges.push(Some(ex));
            } else {
                exchanges.push(None);
            }
        }
        Ok(Markets {
            exchanges,
            configs,
            fill,
            seed,
            swaps: 0,
        })
    }

    fn rules(&self, venue: usize, market: &str) -> Option<&MarketRules> {
        self.configs.get(venue)?.get(market).map(|m| &m.rules)
    }

    /// Execute a swap of `qty` base units on a market starting at `start`, the way a strategy does.
    fn execute(
        &mut self,
        sm: &SwapMarket,
        qty: Decimal,
        start: TimestampMs,
        how: &Execution,
        opts: &ReplayOptions,
    ) -> SwapOutcome {
        self.swaps += 1;
        let intent = format!("bt-{}-{}", self.seed, self.swaps);
        let run = |v: &mut dyn ModelVenue| match how {
            Execution::Auction(s) => execution::work_auction(
                v,
                sm.side,
                qty,
                s,
                &intent,
                start,
                opts.poll_ms,
                opts.latency_ms,
            )
            .map(|(o, _)| o)
            .unwrap_or_default(),
            Execution::Ioc => execution::work_ioc(v, sm.side, qty, 100.0, &intent, start),
            Execution::Linear(a, b) => execution::work_linear(
                v,
                sm.side,
                qty,
                *a,
                *b,
                opts.schedule.deadline_ms,
                opts.schedule.step_ms,
                start,
            ),
        };
        match self.fill {
            FillModel::Book => {
                let ex = self.exchanges[sm.venue]
                    .as_mut()
                    .expect("book model has exchanges");
                let mut v = BookVenue::new(ex, BOOK_ACCOUNT, &sm.market).expect("known market");
                run(&mut v)
            }
            FillModel::Fast => {
                let m = &self.configs[sm.venue][&sm.market];
                let liq = m
                    .liquidity
                    .clone()
                    .unwrap_or_else(|| default_liquidity(VenueKind::Sim));
                let mut v = FastVenue::new(
                    m.rules.clone(),
                    liq,
                    self.seed.wrapping_mul(31).wrapping_add(self.swaps),
                    start,
                );
                run(&mut v)
            }
        }
    }
}

/// How a strategy executes its swaps.
#[derive(Clone, Debug)]
enum Execution {
    Auction(Schedule),
    Ioc,
    Linear(f64, f64),
}

/// The configuration a strategy runs with.
fn strategy_config(cfg: &Config, s: Strategy) -> Config {
    let mut c = cfg.clone();
    match s {
        Strategy::Ballast | Strategy::None => {}
        Strategy::Threshold => {
            // Refill to target at once when below the band; nothing else.
            c.controller.kp = 1.0;
            c.controller.ki = 0.0;
            c.controller.kd = 0.0;
            c.controller.settle_bps = 0;
            c.controller.deadband_scale = 1.0;
            c.controller.act_on = ballast_config::ActOn::Deficits;
            c.controller.integrate_in_band = false;
            c.controller.steer_past = 0.0;
            c.controller.max_cycle_turnover_bps = None;
        }
        Strategy::POnly => {
            // Valence's loop: Kp 0.5 per cycle, no I or D, a per-cycle cap.
            c.controller.kp = 0.5;
            c.controller.ki = 0.0;
            c.controller.kd = 0.0;
            c.controller.gain_period = c.schedule.interval;
            c.controller.deadband_scale = 1.0;
            c.controller.act_on = ballast_config::ActOn::Both;
            c.controller.integrate_in_band = false;
            c.controller.steer_past = 0.0;
            c.controller.max_cycle_turnover_bps =
                Some(c.controller.max_cycle_turnover_bps.unwrap_or(1000));
        }
    }
    c
}

/// Find the side of a route's swap on its market: the source asset is the base (sell) or the quote (buy).
/// Asset names match exactly or by prefix (`USDT` trades as `USDT0` on Hyperliquid).
fn swap_side(rules: &MarketRules, from: &str, to: &str) -> Option<Side> {
    let is = |venue_asset: &str, ours: &str| {
        venue_asset == ours || venue_asset.starts_with(ours) || ours.starts_with(venue_asset)
    };
    if is(&rules.base, from) && is(&rules.quote, to) {
        Some(Side::Sell)
    } else if is(&rules.quote, from) && is(&rules.base, to) {
        Some(Side::Buy)
    } else {
        None
    }
}

/// A recording converted once for the replays of one configuration: balances (in the configuration's
/// position order) and prices as f64 per snapshot, shared by every strategy and tuning candidate.
pub struct Prepared<'a> {
    pub rec: &'a Recording,
    /// The recording's `market.csv` quotes, converted once.
    pub paths: QuotePaths,
    n: usize,
    /// `bal[t * n + p]`.
    bal: Vec<f64>,
    /// `price[t * n + p]`; empty when the recording has no prices for any position (all at 1).
    price: Vec<f64>,
}

impl<'a> Prepared<'a> {
    pub fn new(cfg: &Config, rec: &'a Recording) -> Result<Prepared<'a>, BacktestError> {
        if rec.len() < 2 {
            return Err(BacktestError::TooShort);
        }
        let n = cfg.positions.len();
        let cols: Vec<usize> = cfg
            .positions
            .iter()
            .map(|p| {
                rec.position_index(&p.key)
                    .ok_or_else(|| BacktestError::MissingPosition(p.key.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let mut bal = Vec::with_capacity(rec.len() * n);
        for t in 0..rec.len() {
            let row = rec.row(t);
            bal.extend(cols.iter().map(|c| to_f64(row[*c])));
        }
        let series: Vec<Option<&super::recording::Series>> = cfg
            .positions
            .iter()
            .map(|p| rec.prices.get(&p.key.asset))
            .collect();
        let mut price = Vec::new();
        if series.iter().any(Option::is_some) {
            price.reserve(rec.len() * n);
            // One cursor per series: the point in force at each snapshot (the first before it starts).
            let mut cursor = vec![0usize; n];
            for &now in &rec.times {
                for (p, s) in series.iter().enumerate() {
                    price.push(match s {
                        None => 1.0,
                        Some(s) if s.values.is_empty() => 1.0,
                        Some(s) => {
                            let c = &mut cursor[p];
                            while *c + 1 < s.times.len() && s.times[*c + 1] <= now {
                                *c += 1;
                            }
                            to_f64(s.values[*c])
                        }
                    });
                }
            }
        }
        let paths = rec
            .market
            .iter()
            .filter_map(|(k, q)| {
                let mut points: Vec<PathPoint> = (0..q.times.len())
                    .map(|i| PathPoint {
                        ts: q.times[i],
                        bid: to_f64(q.bid[i]),
                        ask: to_f64(q.ask[i]),
                    })
                    .filter(|p| p.bid > 0.0 && p.ask >= p.bid)
                    .collect();
                points.sort_by_key(|p| p.ts);
                (!points.is_empty()).then(|| (k.clone(), points.into()))
            })
            .collect();
        Ok(Prepared {
            rec,
            paths,
            n,
            bal,
            price,
        })
    }

    fn bal(&self, t: usize) -> &[f64] {
        &self.bal[t * self.n..(t + 1) * self.n]
    }

    fn prices(&self, t: usize) -> Option<&[f64]> {
        (!self.price.is_empty()).then(|| &self.price[t * self.n..(t + 1) * self.n])
    }
}

/// Replay one strategy.
pub fn run(
    cfg: &Config,
    rec: &Recording,
    strategy: Strategy,
    opts: &ReplayOptions,
) -> Result<RunResult, BacktestError> {
    run_prepared(cfg, &Prepared::new(cfg, rec)?, strategy, opts)
}

/// Replay one strategy on a prepared recording (`prep` must be prepared for `cfg`'s positions).
pub fn run_prepared(
    cfg: &Config,
    prep: &Prepared,
    strategy: Strategy,
    opts: &ReplayOptions,
) -> Result<RunResult, BacktestError> {
    let rec = prep.rec;
    let n = cfg.positions.len();
    assert_eq!(n, prep.n, "prepared for another configuration");
    let scfg = strategy_config(cfg, strategy);
    let mut engine = ballast_config::adapt::engine(&scfg);
    let start = rec.times[0];
    let mut markets = Markets::new(cfg, opts.fill_model, opts.seed, start, &prep.paths)?;
    // Swap markets per route.
    let mut swap_markets: Vec<Option<SwapMarket>> = Vec::with_capacity(cfg.routes.len());
    for r in &cfg.routes {
        let venue = cfg
            .venues
            .iter()
            .position(|v| v.name == r.venue)
            .expect("validated");
        if r.from.asset == r.to.asset {
            swap_markets.push(None);
            continue;
        }
        let market = r
            .market
            .clone()
            .or_else(|| markets.configs[venue].keys().next().cloned())
            .unwrap_or_default();
        let side = markets
            .rules(venue, &market)
            .and_then(|rules| swap_side(rules, &r.from.asset, &r.to.asset));
        match side {
            Some(side) => swap_markets.push(Some(SwapMarket {
                venue,
                market,
                side,
            })),
            None => {
                return Err(BacktestError::BadMarket(format!(
                    "{} -> {} via {} on market {market:?} ({} for {})",
                    r.from, r.to, r.venue, r.from.asset, r.to.asset
                )));
            }
        }
    }
    let how = match strategy {
        Strategy::Ballast | Strategy::None => Execution::Auction(opts.schedule.clone()),
        Strategy::Threshold => Execution::Ioc,
        Strategy::POnly => Execution::Linear(opts.linear_bps.0, opts.linear_bps.1),
    };

    // Exogenous flows in f64, precomputed once; balances in f64 during the replay.
    let mut bal: Vec<f64> = prep.bal(0).to_vec();
    let mut prices: Vec<f64> = prep.prices(0).map_or_else(|| vec![1.0; n], <[f64]>::to_vec);
    let decimals: Vec<u32> = cfg.positions.iter().map(|p| p.decimals).collect();
    let mut legs: Vec<Leg> = Vec::new();
    let mut tracker = Tracker::new(n, start);
    let mut stats = SwapStats::default();
    let mut series = TimeSeries::default();
    let mut cum_cost = 0.0;
    let interval = cfg.schedule.interval.as_millis() as i64;
    let mut next_cycle = start;
    let mut next_series = start;
    let mut cycles = 0u64;
    let ctx = PlanContext {
        pending_orders: vec![Some(0); cfg.venues.len()],
        declined: vec![false; cfg.venues.len()],
        hold_all: None,
    };
    let mut pending = vec![0.0; n];
    let mut samples = vec![
        Sample {
            value: 0.0,
            target_value: 0.0,
            band_low: 0.0,
            band_high: f64::INFINITY
        };
        n
    ];
    let target_specs: Vec<targets::Target> =
        engine.computer.specs().iter().map(|s| s.target).collect();
    let mins: Vec<f64> = engine
        .computer
        .specs()
        .iter()
        .map(|s| s.min_units)
        .collect();
    let mut resolved = targets::Resolved::default();
    let mut values = vec![0.0; n];

    for t_i in 0..rec.len() {
        let now = rec.times[t_i];
        if t_i > 0 {
            let (prev, cur) = (prep.bal(t_i - 1), prep.bal(t_i));
            for p in 0..n {
                let flow = cur[p] - prev[p];
                if flow < 0.0 {
                    let served = (-flow).min(bal[p].max(0.0));
                    tracker.outflow(p, -flow, served);
                    bal[p] -= served;
                } else if flow > 0.0 {
                    bal[p] += flow;
                }
            }
            if let Some(px) = prep.prices(t_i) {
                prices.copy_from_slice(px);
            }
        }
        // Legs move on.
        let mut i = 0;
        while i < legs.len() {
            match legs[i].state.clone() {
                LegState::ToVenue { at } if at <= now => {
                    let l = legs[i].clone();
                    let (received, remainder, end) = match &swap_markets[l.route] {
                        None => (l.amount, 0.0, at),
                        Some(sm) => {
                            let ref_price = prices[l.to] / prices[l.from].max(1e-12);
                            let rules = markets
                                .rules(sm.venue, &sm.market)
                                .expect("known market")
                                .clone();
                            // Base quantity of the swap: the amount itself when selling base, or what the
                            // quote amount buys at the reference.
                            let qty_f = match sm.side {
                                Side::Sell => l.amount,
                                Side::Buy => l.amount / ref_price.max(1e-12),
                            };
                            let qty = rules.round_qty(ballast_core::model::dec_dp(qty_f, 8));
                            let value_quote = ballast_core::model::dec_dp(
                                match sm.side {
                                    Side::Sell => qty_f / ref_price.max(1e-12),
                                    Side::Buy => qty_f * ref_price,
                                },
                                6,
                            );
                            if qty <= Decimal::ZERO
                                || qty < rules.min_qty
                                || value_quote < rules.min_notional
                            {
                                (0.0, l.amount, at)
                            } else {
                                let o = markets.execute(sm, qty, at, &how, opts);
                                stats.swaps += 1;
                                stats.requests += u64::from(o.requests);
                                stats.replaces += u64::from(o.replaces);
                                let (filled, notional, fees) =
                                    (to_f64(o.filled), to_f64(o.notional), to_f64(o.fees_quote));
                                let (recv, rem) = match sm.side {
                                    // Sold base for quote: quote received net of quote fees.
                                    Side::Sell => (notional - fees, l.amount - filled),
                                    // Bought base with quote: base received net of fees (valued in quote).
                                    Side::Buy => (
                                        filled - fees / (notional / filled.max(1e-12)).max(1e-12),
                                        l.amount - notional,
                                    ),
                                };
                                let quote_pos = match sm.side {
                                    Side::Sell => l.to,
                                    Side::Buy => l.from,
                                };
                                stats.swapped_value += notional * prices[quote_pos];
                                if let Some(c) = o.cost_bps {
                                    stats.shortfall_value += c / 1e4 * notional * prices[quote_pos];
                                }
                                (recv.max(0.0), rem.max(0.0), o.end_ms.max(at))
                            }
                        }
                    };
                    stats.unfilled_value += remainder * prices[l.from];
                    legs[i].state = LegState::Withdrawing {
                        at: end + opts.withdraw_delay_ms,
                        received,
                        remainder,
                    };
                    i += 1;
                }
                LegState::Withdrawing {
                    at,
                    received,
                    remainder,
                } if at <= now => {
                    let l = legs.swap_remove(i);
                    let fixed = to_f64(cfg.routes[l.route].fixed_cost) / prices[l.to].max(1e-12);
                    let arrived = (received - fixed).max(0.0);
                    bal[l.to] += arrived;
                    bal[l.from] += remainder;
                    let received_value = arrived * prices[l.to] + remainder * prices[l.from];
                    let cost = (l.sent_value - received_value).max(0.0);
                    cum_cost += cost;
                    tracker.moved(
                        now,
                        l.from,
                        l.to,
                        l.sent_value - remainder * prices[l.from],
                        cost,
                        l.commanded,
                    );
                }
                _ => i += 1,
            }
        }
        // Pending amounts (in flight) for the measurement.
        pending.iter_mut().for_each(|x| *x = 0.0);
        for l in &legs {
            match l.state {
                LegState::ToVenue { .. } => pending[l.to] += l.expected,
                LegState::Withdrawing {
                    received,
                    remainder,
                    ..
                } => {
                    pending[l.to] += received;
                    pending[l.from] += remainder;
                }
            }
        }
        // A cycle of the strategy.
        if now >= next_cycle {
            next_cycle += interval * ((now - next_cycle) / interval + 1);
            cycles += 1;
            if strategy != Strategy::None {
                let obs = Observation {
                    balances: bal
                        .iter()
                        .zip(&decimals)
                        .map(|(b, d)| units(*b, *d))
                        .collect(),
                    pending: pending
                        .iter()
                        .zip(&decimals)
                        .map(|(x, d)| units(*x, *d))
                        .collect(),
                    prices: prices
                        .iter()
                        .map(|p| ballast_core::model::dec_dp(*p, 10))
                        .collect(),
                    stale: vec![false; n],
                };
                if let Ok(audit) = engine.cycle(now, &obs, &ctx) {
                    for o in &audit.plan.orders {
                        let amount = to_f64(o.amount).min(bal[o.from].max(0.0));
                        if amount <= 0.0 {
                            continue;
                        }
                        bal[o.from] -= amount;
                        stats.legs += 1;
                        legs.push(Leg {
                            from: o.from,
                            to: o.to,
                            route: o.route,
                            amount,
                            sent_value: amount * prices[o.from],
                            expected: to_f64(o.receive_value) / prices[o.to].max(1e-12),
                            commanded: (!o.from_held, !o.to_held),
                            state: LegState::ToVenue {
                                at: now + opts.deposit_delay_ms,
                            },
                        });
                    }
                    // Refresh the targets used by the metrics.
                    for (p, pa) in audit.step.positions.iter().enumerate() {
                        samples[p].target_value = pa.target_value;
                    }
                }
            }
            if strategy == Strategy::None || cycles == 1 {
                for p in 0..n {
                    values[p] = (bal[p] + pending[p]) * prices[p];
                }
                targets::resolve(
                    &target_specs,
                    &values,
                    &prices,
                    &mins,
                    scfg.controller.min_balance_mode,
                    &mut resolved,
                );
                for (p, s) in samples.iter_mut().enumerate() {
                    if strategy == Strategy::None || s.target_value == 0.0 {
                        s.target_value = resolved.value[p];
                    }
                }
            }
            for (p, s) in samples.iter_mut().enumerate() {
                let (lo, hi) = band_values(
                    &cfg.positions[p].band,
                    &cfg.positions[p].target,
                    s.target_value,
                    prices[p],
                );
                s.band_low = lo;
                s.band_high = hi;
            }
        }
        // Metrics on what is really there (settled balances).
        let mut v_total = 0.0;
        for p in 0..n {
            samples[p].value = bal[p] * prices[p];
            v_total += (bal[p] + pending[p]) * prices[p];
        }
        tracker.sample(now, &samples, v_total);
        if opts.series_every_ms > 0 && now >= next_series {
            next_series += opts.series_every_ms * ((now - next_series) / opts.series_every_ms + 1);
            series.times.push(now);
            series.value.push(samples.iter().map(|s| s.value).collect());
            series
                .target
                .push(samples.iter().map(|s| s.target_value).collect());
            series
                .low
                .push(samples.iter().map(|s| s.band_low).collect());
            series
                .high
                .push(samples.iter().map(|s| s.band_high.min(f64::MAX)).collect());
            series.cumulative_cost.push(cum_cost);
        }
    }
    let names: Vec<String> = cfg.positions.iter().map(|p| p.key.to_string()).collect();
    let (positions, total) = tracker.finish(&names, stats.shortfall_value, stats.replaces);
    Ok(RunResult {
        strategy,
        positions,
        total,
        swaps: stats,
        cycles,
        series,
    })
}

/// Units rounded to the asset's decimals (fast: integer arithmetic).
fn units(x: f64, decimals: u32) -> Decimal {
    let dp = decimals.min(9);
    let m = (x.max(-9.0e17) * 10f64.powi(dp as i32)).round();
    if m.abs() < 9.0e18 {
        Decimal::new(m as i64, dp)
    } else {
        ballast_core::model::from_f64(x).unwrap_or_default()
    }
}

fn band_values(
    band: &Option<BandSpec>,
    target: &TargetSpec,
    target_value: f64,
    price: f64,
) -> (f64, f64) {
    match (band, target) {
        (Some(BandSpec::Absolute { low, high }), _) => {
            (to_f64(*low) * price, to_f64(*high) * price)
        }
        (Some(BandSpec::Relative { bps }), _) => {
            let w = f64::from(*bps) / 10_000.0 * target_value;
            (target_value - w, target_value + w)
        }
        (None, _) => (target_value, target_value),
    }
}

/// Replay several strategies, in parallel on all cores.
pub fn run_many(
    cfg: &Config,
    rec: &Recording,
    strategies: &[Strategy],
    opts: &ReplayOptions,
) -> Result<Vec<RunResult>, BacktestError> {
    use rayon::prelude::*;
    let prep = Prepared::new(cfg, rec)?;
    strategies
        .par_iter()
        .map(|s| run_prepared(cfg, &prep, *s, opts))
        .collect()
}
