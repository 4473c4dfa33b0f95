//! Execution quality, measured: the same orders on the same seeded simulated markets, worked three ways.
//!
//! - **ballast**: the Dutch auction as a maker first, down its default schedule, with the taker phase at the
//!   floor (`auction::Schedule::default()`), driven by the executor against the simulated venue;
//! - **ioc**: one IOC limit order 1 % through the arrival mid for the whole size (what relayers do today);
//! - **linear**: a linear auction from `+start` to `-end` of the arrival (oracle) price over a fixed window with
//!   no maker logic (what on-chain Dutch auctions do): at each step a solver takes the whole order at the
//!   auction's price as soon as it can resell it on the book at that price or better (net of its taker fee).
//!
//! Each order starts on a fresh exchange built from the same seed after ten minutes of warm-up, so the three
//! strategies face the same market. Costs are in bps of the arrival mid, fees included, positive = cost.

use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use serde::Serialize;

use crate::{AccountCfg, Latency, MarketCfg, NewOrder, SimExchange, SimExchangeCfg, SimVenue};
use ballast_core::auction::{Reprice, Schedule};
use ballast_core::model::{Side, to_f64};
use ballast_exec::clock::TokioClock;
use ballast_exec::executor::{DriveOptions, Executor, SwapJob};
use ballast_exec::{Clock, TimeInForce};

/// The strategies compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Ballast,
    Ioc,
    Linear,
}

impl Strategy {
    pub fn label(self) -> &'static str {
        match self {
            Strategy::Ballast => "ballast auction (maker first)",
            Strategy::Ioc => "IOC 1% through the book",
            Strategy::Linear => "linear auction, no maker logic",
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchSpec {
    /// (label, market) pairs; each market's liquidity model must be on.
    pub markets: Vec<(String, MarketCfg)>,
    /// Order sizes as multiples of the market's touch size (`level_qty`).
    pub size_multiples: Vec<Decimal>,
    /// Seeds per (market, size, side).
    pub seeds: u64,
    /// Ballast's schedule.
    pub schedule: Schedule,
    /// The linear auction's start and end offsets from the oracle, in bps, and its window (ms).
    pub linear_start_bps: f64,
    pub linear_end_bps: f64,
    pub linear_window_ms: i64,
    pub linear_step_ms: i64,
}

impl BenchSpec {
    /// The default comparison: both stable-pair presets, sizes from a fifth of the touch to five touches.
    pub fn standard(seeds: u64) -> BenchSpec {
        use crate::presets;
        let schedule = Schedule::default();
        BenchSpec {
            markets: vec![
                ("binance USDCUSDT".into(), presets::binance_usdcusdt()),
                (
                    "hyperliquid USDT0/USDC".into(),
                    presets::hyperliquid_usdt0_usdc(),
                ),
            ],
            size_multiples: ["0.2", "0.5", "1", "2", "5"]
                .iter()
                .map(|s| s.parse().expect("decimal"))
                .collect(),
            seeds,
            linear_window_ms: schedule.deadline_ms,
            linear_step_ms: schedule.step_ms,
            schedule,
            linear_start_bps: 50.0,
            linear_end_bps: 50.0,
        }
    }
}

/// One order's outcome under one strategy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub strategy: Strategy,
    pub market: String,
    pub side: Side,
    pub qty: Decimal,
    pub seed: u64,
    /// Cost of what filled, bps of the arrival mid, fees included (`None` if nothing filled).
    pub cost_bps: Option<f64>,
    /// Filled share of the quantity.
    pub filled: f64,
    pub time_to_fill_ms: Option<i64>,
    pub requests: u32,
    pub fills: u32,
}

/// Summary per strategy (and market).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub strategy: Strategy,
    pub market: String,
    pub orders: usize,
    pub mean_cost_bps: f64,
    pub p95_cost_bps: f64,
    /// Share of orders completely filled within the window.
    pub fill_rate: f64,
    pub mean_time_to_fill_s: Option<f64>,
    /// Orders and replaces sent per fill received.
    pub requests_per_fill: f64,
}

const WARMUP_MS: i64 = 600_000;
const START_MS: i64 = 1_767_225_600_000;

fn exchange(market: &MarketCfg, seed: u64, qty: Decimal) -> SimExchange {
    let funds = (qty * Decimal::from(3)).max(Decimal::from(1_000_000));
    let cfg = SimExchangeCfg {
        seed,
        markets: vec![market.clone()],
        accounts: vec![AccountCfg {
            name: "me".into(),
            balances: [market.rules.base.clone(), market.rules.quote.clone()]
                .into_iter()
                .map(|a| (a, funds))
                .collect(),
        }],
        networks: vec![],
    };
    let mut ex = SimExchange::new(&cfg, START_MS).expect("valid bench market");
    ex.advance_to(START_MS + WARMUP_MS);
    ex
}

fn cost_bps(side: Side, mid: f64, vwap: f64, fees_quote: f64, notional: f64) -> f64 {
    let px = match side {
        Side::Sell => (mid - vwap) / mid,
        Side::Buy => (vwap - mid) / mid,
    };
    (px + fees_quote / notional) * 10_000.0
}

/// Run every order of the spec under every strategy.
pub fn run(spec: &BenchSpec) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (label, market) in &spec.markets {
        let touch = market
            .liquidity
            .as_ref()
            .map(|l| l.level_qty)
            .unwrap_or(Decimal::from(10_000));
        for m in &spec.size_multiples {
            let qty = market.rules.round_qty(touch * m);
            for side in [Side::Sell, Side::Buy] {
                for seed in 0..spec.seeds {
                    let seed = seed * 7919 + 13;
                    out.push(run_ballast(spec, label, market, side, qty, seed));
                    out.push(run_ioc(label, market, side, qty, seed));
                    out.push(run_linear(spec, label, market, side, qty, seed));
                }
            }
        }
    }
    out
}

fn run_ballast(
    spec: &BenchSpec,
    label: &str,
    market: &MarketCfg,
    side: Side,
    qty: Decimal,
    seed: u64,
) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(START_MS + WARMUP_MS));
        let ex = exchange(market, seed, qty);
        let venue = SimVenue::new(
            "sim",
            "me",
            Arc::new(Mutex::new(ex)),
            clock.clone(),
            Latency::binance(),
            seed,
        );
        let mut exec = Executor::new(clock.clone());
        exec.options = DriveOptions {
            poll: std::time::Duration::from_millis(500),
            ..Default::default()
        };
        exec.add_venue(Arc::new(venue), 20.0, 10.0);
        let job = SwapJob {
            venue: "sim".into(),
            market: market.rules.market.clone(),
            side,
            qty,
            reference: None,
            schedule: spec.schedule.clone(),
            reprice: Reprice::Replace,
            intent: format!("bench-{seed}"),
        };
        let r = exec.run_one(&job, |_| {}).await.expect("bench auction");
        let filled = to_f64(r.filled) / to_f64(qty);
        Outcome {
            strategy: Strategy::Ballast,
            market: label.to_string(),
            side,
            qty,
            seed,
            cost_bps: r.shortfall_bps.map(to_f64),
            filled,
            time_to_fill_ms: r.time_to_fill_ms,
            requests: r.orders_placed + r.replaces,
            fills: r.fills.len() as u32,
        }
    })
}

fn run_ioc(label: &str, market: &MarketCfg, side: Side, qty: Decimal, seed: u64) -> Outcome {
    let mut ex = exchange(market, seed, qty);
    let now = START_MS + WARMUP_MS;
    let mid = ex
        .mid(&market.rules.market)
        .ok()
        .flatten()
        .map(to_f64)
        .unwrap_or(1.0);
    let limit = match side {
        Side::Sell => mid * 0.99,
        Side::Buy => mid * 1.01,
    };
    let toward = ballast_exec::Toward::Aggressive;
    let price = market.rules.round_price(
        ballast_core::model::from_f64(limit).unwrap_or(Decimal::ONE),
        side,
        toward,
    );
    let placed = ex.place(
        "me",
        NewOrder {
            market: market.rules.market.clone(),
            side,
            price,
            qty,
            tif: TimeInForce::Ioc,
            client_id: None,
        },
        now,
    );
    let (mut notional, mut filled, mut fees, mut n) = (0.0, 0.0, 0.0, 0u32);
    if let Ok(p) = placed {
        for f in &p.fills {
            let (px, q) = (to_f64(f.price), to_f64(f.qty));
            notional += px * q;
            filled += q;
            n += 1;
            // Fees are charged in the received asset: base on a buy (valued at the fill price), quote on a sell.
            fees += if f.fee_asset == market.rules.quote {
                to_f64(f.fee)
            } else {
                to_f64(f.fee) * px
            };
        }
    }
    let q = to_f64(qty);
    Outcome {
        strategy: Strategy::Ioc,
        market: label.to_string(),
        side,
        qty,
        seed,
        cost_bps: (filled > 0.0).then(|| cost_bps(side, mid, notional / filled, fees, notional)),
        filled: filled / q,
        time_to_fill_ms: (filled >= q * (1.0 - 1e-9)).then_some(0),
        requests: 1,
        fills: n,
    }
}

fn run_linear(
    spec: &BenchSpec,
    label: &str,
    market: &MarketCfg,
    side: Side,
    qty: Decimal,
    seed: u64,
) -> Outcome {
    let mut ex = exchange(market, seed, qty);
    let t0 = START_MS + WARMUP_MS;
    let mid = ex
        .mid(&market.rules.market)
        .ok()
        .flatten()
        .map(to_f64)
        .unwrap_or(1.0);
    let q = to_f64(qty);
    let taker = to_f64(market.rules.taker_fee);
    let (start, end) = match side {
        Side::Sell => (
            mid * (1.0 + spec.linear_start_bps / 1e4),
            mid * (1.0 - spec.linear_end_bps / 1e4),
        ),
        Side::Buy => (
            mid * (1.0 - spec.linear_start_bps / 1e4),
            mid * (1.0 + spec.linear_end_bps / 1e4),
        ),
    };
    let mut t = 0;
    while t <= spec.linear_window_ms {
        ex.advance_to(t0 + t);
        let p = start + (end - start) * (t as f64 / spec.linear_window_ms as f64);
        // What a solver gets by unloading the whole size on the book now, net of its taker fee.
        if let Ok(depth) = ex.depth(&market.rules.market, 200) {
            let levels = match side {
                Side::Sell => &depth.bids,
                Side::Buy => &depth.asks,
            };
            let mut left = q;
            let mut notional = 0.0;
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
                let profitable = match side {
                    Side::Sell => hedge * (1.0 - taker) >= p,
                    Side::Buy => hedge * (1.0 + taker) <= p,
                };
                if profitable {
                    return Outcome {
                        strategy: Strategy::Linear,
                        market: label.to_string(),
                        side,
                        qty,
                        seed,
                        cost_bps: Some(cost_bps(side, mid, p, 0.0, p * q)),
                        filled: 1.0,
                        time_to_fill_ms: Some(t),
                        requests: 1,
                        fills: 1,
                    };
                }
            }
        }
        t += spec.linear_step_ms;
    }
    Outcome {
        strategy: Strategy::Linear,
        market: label.to_string(),
        side,
        qty,
        seed,
        cost_bps: None,
        filled: 0.0,
        time_to_fill_ms: None,
        requests: 1,
        fills: 0,
    }
}

/// Summaries per (strategy, market), plus one per strategy over all markets (market `all`).
pub fn summarize(outcomes: &[Outcome]) -> Vec<Row> {
    let mut keys: Vec<(Strategy, String)> = Vec::new();
    for o in outcomes {
        for k in [
            (o.strategy, o.market.clone()),
            (o.strategy, "all".to_string()),
        ] {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys.sort();
    keys.into_iter()
        .map(|(s, m)| {
            let sel: Vec<&Outcome> = outcomes
                .iter()
                .filter(|o| o.strategy == s && (m == "all" || o.market == m))
                .collect();
            let mut costs: Vec<f64> = sel.iter().filter_map(|o| o.cost_bps).collect();
            costs.sort_by(f64::total_cmp);
            let mean = if costs.is_empty() {
                f64::NAN
            } else {
                costs.iter().sum::<f64>() / costs.len() as f64
            };
            let p95 = if costs.is_empty() {
                f64::NAN
            } else {
                costs[((costs.len() as f64 * 0.95).ceil() as usize).clamp(1, costs.len()) - 1]
            };
            let full = sel.iter().filter(|o| o.filled >= 1.0 - 1e-9).count();
            let times: Vec<f64> = sel
                .iter()
                .filter(|o| o.filled >= 1.0 - 1e-9)
                .filter_map(|o| o.time_to_fill_ms)
                .map(|t| t as f64 / 1000.0)
                .collect();
            let fills: u32 = sel.iter().map(|o| o.fills).sum();
            let reqs: u32 = sel.iter().map(|o| o.requests).sum();
            Row {
                strategy: s,
                market: m,
                orders: sel.len(),
                mean_cost_bps: mean,
                p95_cost_bps: p95,
                fill_rate: if sel.is_empty() {
                    0.0
                } else {
                    full as f64 / sel.len() as f64
                },
                mean_time_to_fill_s: (!times.is_empty())
                    .then(|| times.iter().sum::<f64>() / times.len() as f64),
                requests_per_fill: if fills == 0 {
                    f64::NAN
                } else {
                    f64::from(reqs) / f64::from(fills)
                },
            }
        })
        .collect()
}

/// The table, as Markdown.
pub fn table(rows: &[Row]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| market | executor | orders | mean cost (bps) | p95 cost (bps) | fill rate | mean time to fill | orders+replaces per fill |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        (a.market == "all")
            .cmp(&(b.market == "all"))
            .then(a.market.cmp(&b.market))
            .then(a.strategy.cmp(&b.strategy))
    });
    for r in sorted {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {:.2} | {:.1}% | {} | {:.2} |",
            r.market,
            r.strategy.label(),
            r.orders,
            r.mean_cost_bps,
            r.p95_cost_bps,
            r.fill_rate * 100.0,
            r.mean_time_to_fill_s
                .map(|t| format!("{t:.1} s"))
                .unwrap_or_else(|| "-".into()),
            r.requests_per_fill
        );
    }
    s
}
