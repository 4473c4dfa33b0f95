//! What the service shows: a [`Status`] snapshot updated after every cycle and leg round (served as
//! `/status`), its Prometheus rendering (`/metrics`), and the compact table printed per cycle.

use std::collections::BTreeMap;
use std::fmt::Write;

use rust_decimal::Decimal;
use serde::Serialize;

use super::kill::KillSwitch;
use ballast_core::leg::{FundsAt, Leg, Stage};
use ballast_core::model::{TimestampMs, to_f64};

/// One position after a cycle.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PositionStatus {
    pub chain: String,
    pub asset: String,
    pub balance: Decimal,
    pub pending: Decimal,
    pub target: f64,
    /// Target value minus value, base units.
    pub error: f64,
    pub p: f64,
    pub i: f64,
    pub d: f64,
    /// Commanded move (base units, + receives).
    pub commanded: f64,
    /// What the planner routed of it.
    pub applied: f64,
    pub stale: bool,
    pub hold: Option<String>,
    /// Why nothing was routed for a position outside its band (none when it moved or is in its band).
    pub why: Option<String>,
}

/// One leg, as shown.
#[derive(Clone, Debug, Serialize)]
pub struct LegStatus {
    pub id: String,
    pub venue: String,
    pub from: String,
    pub to: String,
    pub stage: Stage,
    pub funds_at: FundsAt,
    pub amount: Decimal,
    pub value: Decimal,
    pub problem: Option<String>,
    pub since_ms: TimestampMs,
    /// The swap's market, for a leg that swaps.
    pub market: Option<String>,
    /// The swap as it stands, once it started.
    pub auction: Option<AuctionStatus>,
}

/// A leg's swap as shown: where its order works against the reference, and how much is filled.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AuctionStatus {
    pub side: ballast_core::model::Side,
    /// The mid when the swap started (the benchmark of its cost).
    pub reference: Option<Decimal>,
    /// The working order's price (none between orders or after the auction).
    pub price: Option<Decimal>,
    /// Price against the reference in bps, signed so that positive is worse for us (paying more, or
    /// selling for less).
    pub vs_reference_bps: Option<f64>,
    /// Share of the quantity filled, 0..1 (folded attempts plus the running one).
    pub filled_share: f64,
    /// A running auction in this process.
    pub working: bool,
}

impl LegStatus {
    /// With the live progress of its running auction, if any.
    pub fn with_progress(mut self, l: &Leg, p: Option<&ballast_exec::executor::Progress>) -> Self {
        let Some(sw) = &l.swap else {
            return self;
        };
        let filled = sw.filled + p.map(|p| p.filled).unwrap_or_default();
        let share = if sw.quantity.is_zero() {
            0.0
        } else {
            to_f64(filled / sw.quantity).clamp(0.0, 1.0)
        };
        let price = p.and_then(|p| p.price);
        let vs = match (price, sw.arrival_price) {
            (Some(px), Some(r)) if !r.is_zero() => {
                let bps = to_f64((px - r) / r) * 10_000.0;
                Some(match sw.side {
                    ballast_core::model::Side::Buy => bps,
                    ballast_core::model::Side::Sell => -bps,
                })
            }
            _ => None,
        };
        self.auction = Some(AuctionStatus {
            side: sw.side,
            reference: sw.arrival_price,
            price,
            vs_reference_bps: vs,
            filled_share: share,
            working: p.is_some_and(|p| !p.done),
        });
        self
    }
}

impl From<&Leg> for LegStatus {
    fn from(l: &Leg) -> Self {
        LegStatus {
            id: l.id.clone(),
            venue: l.venue.clone(),
            from: l.from.to_string(),
            to: l.to.to_string(),
            stage: l.stage,
            funds_at: l.funds_at,
            amount: l.amount_in,
            value: l.value,
            problem: l.problem.clone(),
            since_ms: l.stage_since_ms,
            market: l.market.clone(),
            auction: None,
        }
    }
}

/// A Prometheus histogram: cumulative buckets, sum and count.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Histogram {
    pub bounds: Vec<f64>,
    /// Observations at or below each bound (not cumulative here; rendered cumulative).
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}

/// Slippage buckets, bps.
const SLIPPAGE_BUCKETS: [f64; 9] = [-5.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];
/// Lag buckets, seconds (up to the 2 h default threshold and beyond).
const LAG_BUCKETS: [f64; 10] = [
    10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 86400.0,
];

/// The execution quality of the rebalances through one venue and route since the daemon started.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RouteQuality {
    pub venue: String,
    /// `from -> to`.
    pub route: String,
    pub legs: u64,
    /// Value moved, base units.
    pub value: Decimal,
    pub fees: Decimal,
    pub cost: Decimal,
    /// Value-weighted cost, bps.
    pub cost_bps: f64,
    pub mean_slippage_bps: Option<f64>,
    pub max_slippage_bps: Option<f64>,
    pub mean_lag_seconds: f64,
    pub max_lag_seconds: f64,
    /// Legs that crossed the slippage threshold, and the lag threshold.
    pub slippage_crossed: u64,
    pub lag_crossed: u64,
    pub slippage_hist: Histogram,
    pub lag_hist: Histogram,
}

/// One completed rebalance, as shown.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RebalanceStatus {
    pub leg: String,
    pub venue: String,
    pub route: String,
    pub value: Decimal,
    pub quality: ballast_core::leg::Quality,
    pub done_ms: TimestampMs,
}

/// Every completed rebalance's quality since the daemon started: per route, and the latest ones.
#[derive(Clone, Debug, Default, Serialize)]
pub struct QualityBoard {
    pub routes: Vec<RouteQuality>,
    pub recent: Vec<RebalanceStatus>,
}

/// How many completed rebalances `/status` lists.
const RECENT: usize = 20;

impl QualityBoard {
    /// Count a completed leg (one that carries its quality); the thresholds it crosses, if any.
    pub fn record(
        &mut self,
        l: &Leg,
        limits: &ballast_config::service::QualityLimits,
        now: TimestampMs,
    ) -> Vec<String> {
        let Some(q) = &l.quality else {
            return Vec::new();
        };
        let route = format!("{} -> {}", l.from, l.to);
        let i = match self
            .routes
            .iter()
            .position(|r| r.venue == l.venue && r.route == route)
        {
            Some(i) => i,
            None => {
                self.routes.push(RouteQuality {
                    venue: l.venue.clone(),
                    route: route.clone(),
                    legs: 0,
                    value: Decimal::ZERO,
                    fees: Decimal::ZERO,
                    cost: Decimal::ZERO,
                    cost_bps: 0.0,
                    mean_slippage_bps: None,
                    max_slippage_bps: None,
                    mean_lag_seconds: 0.0,
                    max_lag_seconds: 0.0,
                    slippage_crossed: 0,
                    lag_crossed: 0,
                    slippage_hist: Histogram::new(&SLIPPAGE_BUCKETS),
                    lag_hist: Histogram::new(&LAG_BUCKETS),
                });
                self.routes.len() - 1
            }
        };
        let r = &mut self.routes[i];
        let lag = q.lag_ms as f64 / 1000.0;
        r.legs += 1;
        r.value += l.value;
        r.fees += q.fees;
        r.cost += q.cost;
        r.cost_bps = if r.value.is_zero() {
            0.0
        } else {
            to_f64(r.cost / r.value) * 10_000.0
        };
        r.lag_hist.observe(lag);
        r.mean_lag_seconds = r.lag_hist.sum / r.lag_hist.count as f64;
        r.max_lag_seconds = r.max_lag_seconds.max(lag);
        let mut crossed = Vec::new();
        if let Some(sl) = q.slippage_bps {
            r.slippage_hist.observe(sl);
            r.mean_slippage_bps = Some(r.slippage_hist.sum / r.slippage_hist.count as f64);
            r.max_slippage_bps = Some(r.max_slippage_bps.map_or(sl, |m| m.max(sl)));
            if sl > limits.max_slippage_bps {
                r.slippage_crossed += 1;
                crossed.push(format!(
                    "leg {} ({} {route}): slippage {sl:.1} bps is above the {} bps threshold",
                    l.id, l.venue, limits.max_slippage_bps
                ));
            }
        }
        if q.lag_ms > limits.max_lag.as_millis() as i64 {
            r.lag_crossed += 1;
            crossed.push(format!(
                "leg {} ({} {route}): lag {} is above the {} threshold",
                l.id,
                l.venue,
                ballast_core::model::format_duration(std::time::Duration::from_millis(
                    q.lag_ms.max(0) as u64
                )),
                ballast_core::model::format_duration(limits.max_lag),
            ));
        }
        self.recent.insert(
            0,
            RebalanceStatus {
                leg: l.id.clone(),
                venue: l.venue.clone(),
                route,
                value: l.value,
                quality: q.clone(),
                done_ms: now,
            },
        );
        self.recent.truncate(RECENT);
        crossed
    }
}

/// A breaker.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BreakerStatus {
    pub name: String,
    pub tripped: bool,
    pub detail: String,
}

/// A venue's health and counters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VenueStatus {
    pub name: String,
    pub ok: bool,
    pub error: Option<String>,
    pub headroom: f64,
    pub orders: u64,
    pub replaces: u64,
    pub cancels: u64,
    pub rejects: u64,
    pub errors: u64,
    pub rate_limited: u64,
    pub fills: u64,
    pub mids: BTreeMap<String, Decimal>,
}

/// A chain's health.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChainStatus {
    pub name: String,
    pub ok: bool,
    pub error: Option<String>,
    pub block: Option<u64>,
    pub age_ms: Option<TimestampMs>,
}

/// Counters since the daemon started.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counters {
    pub cycles: u64,
    pub cycle_errors: u64,
    pub errors: u64,
    pub legs_started: u64,
    pub legs_done: u64,
    pub legs_failed: u64,
    pub legs_expired: u64,
    pub fills: u64,
    pub reloads: u64,
    pub reload_errors: u64,
}

/// The service as the outside sees it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    pub mode: String,
    pub config: String,
    pub config_version: String,
    pub owner: String,
    pub started_ms: TimestampMs,
    pub kill: Option<KillSwitch>,
    pub cycle: u64,
    pub last_cycle_ms: Option<TimestampMs>,
    pub last_cycle_seconds: f64,
    /// The last cycle's CPU work (everything but waiting on venues and chains), seconds.
    pub last_cycle_cpu_seconds: f64,
    pub last_cycle_outcome: String,
    pub held: Option<String>,
    pub portfolio_value: f64,
    pub positions: Vec<PositionStatus>,
    pub legs: Vec<LegStatus>,
    pub breakers: Vec<BreakerStatus>,
    pub venues: Vec<VenueStatus>,
    pub chains: Vec<ChainStatus>,
    pub counters: Counters,
    pub value_moved_today: Decimal,
    /// Execution quality of the rebalances completed since the daemon started.
    pub quality: QualityBoard,
    /// Alerts not yet cleared (expired or failed legs with funds off-chain).
    pub alerts: Vec<String>,
    pub restart_needed: Vec<String>,
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ")
}

struct Prom {
    out: String,
}

impl Prom {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP ballast_{name} {help}");
        let _ = writeln!(self.out, "# TYPE ballast_{name} {kind}");
    }
    fn val(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        let labels = if l.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", l.join(","))
        };
        let v = if v.is_finite() { v } else { 0.0 };
        let _ = writeln!(self.out, "ballast_{name}{labels} {v}");
    }
    fn gauge(&mut self, name: &str, help: &str, rows: &[(Vec<(&str, &str)>, f64)]) {
        self.head(name, "gauge", help);
        for (l, v) in rows {
            self.val(name, l, *v);
        }
    }
    fn counter(&mut self, name: &str, help: &str, rows: &[(Vec<(&str, &str)>, f64)]) {
        self.head(name, "counter", help);
        for (l, v) in rows {
            self.val(name, l, *v);
        }
    }
}

impl Status {
    /// Prometheus text exposition (format 0.0.4).
    pub fn prometheus(&self) -> String {
        let mut p = Prom { out: String::new() };
        let pos = |f: &dyn Fn(&PositionStatus) -> f64| -> Vec<(Vec<(&str, &str)>, f64)> {
            self.positions
                .iter()
                .map(|x| {
                    (
                        vec![("chain", x.chain.as_str()), ("asset", x.asset.as_str())],
                        f(x),
                    )
                })
                .collect()
        };
        p.gauge(
            "position_balance",
            "Settled balance in asset units.",
            &pos(&|x| to_f64(x.balance)),
        );
        p.gauge(
            "position_pending",
            "Signed amount in flight, asset units.",
            &pos(&|x| to_f64(x.pending)),
        );
        p.gauge(
            "position_target",
            "Target in asset units.",
            &pos(&|x| x.target),
        );
        p.gauge(
            "position_error",
            "Target value minus value, base units.",
            &pos(&|x| x.error),
        );
        p.gauge("pid_p", "Proportional term, base units.", &pos(&|x| x.p));
        p.gauge("pid_i", "Integral term, base units.", &pos(&|x| x.i));
        p.gauge("pid_d", "Derivative term, base units.", &pos(&|x| x.d));
        p.gauge(
            "commanded",
            "Commanded move, base units (+ receives).",
            &pos(&|x| x.commanded),
        );
        p.gauge(
            "applied",
            "Move the planner routed, base units.",
            &pos(&|x| x.applied),
        );
        p.gauge(
            "position_stale",
            "1 when the balance is stale or its read failed.",
            &pos(&|x| f64::from(u8::from(x.stale))),
        );
        p.gauge(
            "portfolio_value",
            "Portfolio value, base units.",
            &[(vec![], self.portfolio_value)],
        );
        let v = |f: &dyn Fn(&VenueStatus) -> f64| -> Vec<(Vec<(&str, &str)>, f64)> {
            self.venues
                .iter()
                .map(|x| (vec![("venue", x.name.as_str())], f(x)))
                .collect()
        };
        p.counter("orders_total", "Orders placed.", &v(&|x| x.orders as f64));
        p.counter(
            "replaces_total",
            "Orders repriced.",
            &v(&|x| x.replaces as f64),
        );
        p.counter("cancels_total", "Cancels sent.", &v(&|x| x.cancels as f64));
        p.counter(
            "fills_total",
            "Fills counted by auctions.",
            &v(&|x| x.fills as f64),
        );
        p.counter(
            "rejects_total",
            "Requests the venue refused (post-only crossings excepted).",
            &v(&|x| x.rejects as f64),
        );
        p.counter(
            "venue_errors_total",
            "Venue calls that failed (transport, unknown outcome).",
            &v(&|x| x.errors as f64),
        );
        p.counter(
            "rate_limited_total",
            "Venue calls refused for rate limits.",
            &v(&|x| x.rate_limited as f64),
        );
        p.gauge(
            "rate_limit_headroom",
            "Share of the tightest rate budget left.",
            &v(&|x| x.headroom),
        );
        p.gauge(
            "venue_up",
            "1 when the last read of the venue succeeded.",
            &v(&|x| f64::from(u8::from(x.ok))),
        );
        let mids: Vec<(Vec<(&str, &str)>, f64)> = self
            .venues
            .iter()
            .flat_map(|x| {
                x.mids.iter().map(move |(m, p)| {
                    (
                        vec![("venue", x.name.as_str()), ("market", m.as_str())],
                        to_f64(*p),
                    )
                })
            })
            .collect();
        p.gauge(
            "venue_mid",
            "Mid price of each market the routes use.",
            &mids,
        );
        let c: Vec<(Vec<(&str, &str)>, f64)> = self
            .chains
            .iter()
            .map(|x| (vec![("chain", x.name.as_str())], f64::from(u8::from(x.ok))))
            .collect();
        p.gauge(
            "chain_up",
            "1 when the last balance read of the chain succeeded.",
            &c,
        );
        let age: Vec<(Vec<(&str, &str)>, f64)> = self
            .chains
            .iter()
            .map(|x| {
                (
                    vec![("chain", x.name.as_str())],
                    x.age_ms.unwrap_or(0) as f64 / 1000.0,
                )
            })
            .collect();
        p.gauge(
            "chain_head_age_seconds",
            "Age of the block balances were read at.",
            &age,
        );
        let mut stages: BTreeMap<&str, f64> = BTreeMap::new();
        for s in [
            Stage::Planned,
            Stage::DepositSubmitted,
            Stage::Deposited,
            Stage::Auctioning,
            Stage::Swapped,
            Stage::WithdrawSubmitted,
            Stage::Withdrawn,
            Stage::Failed,
            Stage::Expired,
        ] {
            stages.insert(s.as_str(), 0.0);
        }
        for l in &self.legs {
            *stages.entry(l.stage.as_str()).or_default() += 1.0;
        }
        let st: Vec<(Vec<(&str, &str)>, f64)> = stages
            .iter()
            .map(|(s, n)| (vec![("stage", *s)], *n))
            .collect();
        p.gauge("legs", "Unsettled legs by stage.", &st);
        let k = &self.counters;
        p.counter("cycles_total", "Cycles run.", &[(vec![], k.cycles as f64)]);
        p.counter(
            "cycle_errors_total",
            "Cycles that failed.",
            &[(vec![], k.cycle_errors as f64)],
        );
        p.counter(
            "errors_total",
            "Errors of any kind (reads, steps).",
            &[(vec![], k.errors as f64)],
        );
        p.counter(
            "legs_started_total",
            "Legs started.",
            &[(vec![], k.legs_started as f64)],
        );
        p.counter(
            "legs_done_total",
            "Legs completed.",
            &[(vec![], k.legs_done as f64)],
        );
        p.counter(
            "legs_failed_total",
            "Legs failed.",
            &[(vec![], k.legs_failed as f64)],
        );
        p.counter(
            "legs_expired_total",
            "Legs expired (alerts).",
            &[(vec![], k.legs_expired as f64)],
        );
        p.counter(
            "reloads_total",
            "Configuration reloads applied.",
            &[(vec![], k.reloads as f64)],
        );
        p.counter(
            "reload_errors_total",
            "Configuration reloads refused.",
            &[(vec![], k.reload_errors as f64)],
        );
        p.gauge(
            "cycle_seconds",
            "Duration of the last cycle.",
            &[(vec![], self.last_cycle_seconds)],
        );
        p.gauge(
            "cycle_cpu_seconds",
            "CPU work of the last cycle (network waits excluded).",
            &[(vec![], self.last_cycle_cpu_seconds)],
        );
        p.gauge(
            "value_moved_today",
            "Value of the legs started today (UTC), base units.",
            &[(vec![], to_f64(self.value_moved_today))],
        );
        let b: Vec<(Vec<(&str, &str)>, f64)> = self
            .breakers
            .iter()
            .map(|x| {
                (
                    vec![("breaker", x.name.as_str())],
                    f64::from(u8::from(x.tripped)),
                )
            })
            .collect();
        p.gauge("breaker_tripped", "1 while a breaker holds new moves.", &b);
        let ks = self
            .kill
            .as_ref()
            .map(|k| k.state.as_str())
            .unwrap_or("active");
        let kill: Vec<(Vec<(&str, &str)>, f64)> = ["active", "reduce_only", "halted"]
            .iter()
            .map(|s| (vec![("state", *s)], f64::from(u8::from(*s == ks))))
            .collect();
        p.gauge(
            "kill_switch",
            "The kill switch's state (1 for the current one).",
            &kill,
        );
        p.gauge(
            "alerts",
            "Alerts open (expired or failed legs).",
            &[(vec![], self.alerts.len() as f64)],
        );
        self.quality_metrics(&mut p);
        p.out
    }

    fn quality_metrics(&self, p: &mut Prom) {
        let routes = &self.quality.routes;
        let rows = |f: &dyn Fn(&RouteQuality) -> f64| -> Vec<(Vec<(&str, &str)>, f64)> {
            routes
                .iter()
                .map(|r| {
                    (
                        vec![("venue", r.venue.as_str()), ("route", r.route.as_str())],
                        f(r),
                    )
                })
                .collect()
        };
        p.counter(
            "rebalances_total",
            "Rebalance legs completed, by venue and route.",
            &rows(&|r| r.legs as f64),
        );
        p.counter(
            "rebalance_value_total",
            "Value moved by completed rebalances, base units.",
            &rows(&|r| to_f64(r.value)),
        );
        p.counter(
            "rebalance_fees_total",
            "Venue fees of completed rebalances, base units.",
            &rows(&|r| to_f64(r.fees)),
        );
        p.counter(
            "rebalance_cost_total",
            "Total cost (value sent minus value arrived) of completed rebalances, base units.",
            &rows(&|r| to_f64(r.cost)),
        );
        let mut crossed = Vec::new();
        for r in routes {
            for (kind, n) in [("slippage", r.slippage_crossed), ("lag", r.lag_crossed)] {
                crossed.push((
                    vec![
                        ("venue", r.venue.as_str()),
                        ("route", r.route.as_str()),
                        ("kind", kind),
                    ],
                    n as f64,
                ));
            }
        }
        p.counter(
            "rebalance_threshold_crossed_total",
            "Completed rebalances above the [service.quality] slippage or lag threshold.",
            &crossed,
        );
        type Pick = fn(&RouteQuality) -> &Histogram;
        let hists: [(&str, &str, Pick); 2] = [
            (
                "rebalance_slippage_bps",
                "Swap slippage against the arrival mid, bps (positive is worse).",
                |r| &r.slippage_hist,
            ),
            (
                "rebalance_lag_seconds",
                "From planning to the funds arriving at the destination, seconds.",
                |r| &r.lag_hist,
            ),
        ];
        for (name, help, pick) in hists {
            p.head(name, "histogram", help);
            let (bucket, sum, count) = (
                format!("{name}_bucket"),
                format!("{name}_sum"),
                format!("{name}_count"),
            );
            for r in routes {
                let h = pick(r);
                let labels = [("venue", r.venue.as_str()), ("route", r.route.as_str())];
                let mut cum = 0;
                for (b, c) in h.bounds.iter().zip(&h.counts) {
                    cum += c;
                    let le = b.to_string();
                    p.val(&bucket, &[labels[0], labels[1], ("le", &le)], cum as f64);
                }
                p.val(
                    &bucket,
                    &[labels[0], labels[1], ("le", "+Inf")],
                    h.count as f64,
                );
                p.val(&sum, &labels, h.sum);
                p.val(&count, &labels, h.count as f64);
            }
        }
    }

    /// The compact table printed after each cycle.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let kill = self
            .kill
            .as_ref()
            .map(|k| k.state.as_str())
            .unwrap_or("active");
        let _ = writeln!(
            s,
            "cycle {}  {}  trading: {}  value {:.0}  legs in flight: {}{}",
            self.cycle,
            self.last_cycle_outcome,
            kill,
            self.portfolio_value,
            self.legs.iter().filter(|l| !l.stage.is_final()).count(),
            self.held
                .as_ref()
                .map(|h| format!("  HELD: {h}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "  {:<22} {:>14} {:>12} {:>14} {:>8} {:>12}",
            "position", "balance", "pending", "target", "error%", "move"
        );
        for p in &self.positions {
            let name = format!("{}/{}", p.chain, p.asset);
            let err_pct = if p.target.abs() > 0.0 {
                -100.0 * (to_f64(p.balance + p.pending) - p.target) / p.target
            } else {
                0.0
            };
            let _ = writeln!(
                s,
                "  {:<22} {:>14.2} {:>+12.2} {:>14.2} {:>+7.2}% {:>+12.0}{}",
                name,
                to_f64(p.balance),
                to_f64(p.pending),
                p.target,
                err_pct,
                p.applied,
                match (&p.why, p.stale) {
                    (_, true) => "  stale".to_string(),
                    (Some(w), false) => format!("  {w}"),
                    (None, false) => String::new(),
                }
            );
        }
        for r in self.quality.recent.iter().take(3) {
            let q = &r.quality;
            let _ = writeln!(
                s,
                "  done {:<17} {:<11} {} value {:.0} cost {:.2} ({:+.1} bps){} lag {:.0}s",
                r.leg,
                r.venue,
                r.route,
                to_f64(r.value),
                to_f64(q.cost),
                q.cost_bps,
                q.slippage_bps
                    .map(|b| format!(" slippage {b:+.1} bps"))
                    .unwrap_or_default(),
                q.lag_ms as f64 / 1000.0
            );
        }
        for l in self.legs.iter().filter(|l| !matches!(l.stage, Stage::Done)) {
            let auction = match (&l.auction, &l.market) {
                (Some(a), Some(m)) if l.stage == Stage::Auctioning => {
                    let price = match (a.price, a.vs_reference_bps) {
                        (Some(p), Some(bps)) => format!(" @{p} ({bps:+.1} bps vs ref)"),
                        (Some(p), None) => format!(" @{p}"),
                        _ => String::new(),
                    };
                    format!(
                        "  {m} {}{price} filled {:.0}%",
                        a.side,
                        100.0 * a.filled_share
                    )
                }
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "  leg {:<18} {:<11} {} -> {} {:.2} {}{}{}",
                l.id,
                l.venue,
                l.from,
                l.to,
                to_f64(l.amount),
                l.stage,
                auction,
                l.problem
                    .as_ref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_config::service::QualityLimits;
    use ballast_core::leg::Quality;
    use ballast_core::model::PositionKey;

    fn done(id: &str, venue: &str, slippage: Option<f64>, lag_ms: i64, cost: i64) -> Leg {
        let mut l = Leg::planned(
            id.into(),
            "v".into(),
            venue.into(),
            PositionKey::new("arbitrum", "USDC"),
            PositionKey::new("hyperevm", "USDT0"),
            Some("USDT0/USDC".into()),
            Decimal::from(10_000),
            Decimal::from(9_990),
            0,
        );
        l.value = Decimal::from(10_000);
        l.quality = Some(Quality {
            slippage_bps: slippage,
            fees: Decimal::from(2),
            cost: Decimal::from(cost),
            cost_bps: cost as f64,
            lag_ms,
        });
        l
    }

    #[test]
    fn quality_is_counted_per_route_with_thresholds_and_histograms() {
        let limits = QualityLimits {
            max_slippage_bps: 50.0,
            max_lag: std::time::Duration::from_secs(3600),
        };
        let mut st = Status::default();
        assert!(
            st.quality
                .record(&done("a", "hl", Some(3.0), 30_000, 5), &limits, 1)
                .is_empty()
        );
        let crossed = st
            .quality
            .record(&done("b", "hl", Some(80.0), 7_200_000, 90), &limits, 2);
        assert_eq!(crossed.len(), 2, "{crossed:?}");
        assert!(crossed[0].contains("slippage 80.0 bps is above the 50 bps threshold"));
        assert!(
            crossed[1].contains("lag 2h is above the 1h threshold"),
            "{crossed:?}"
        );
        // A leg without a measured quality (not completed) counts nothing.
        let mut open = done("c", "hl", None, 0, 0);
        open.quality = None;
        assert!(st.quality.record(&open, &limits, 3).is_empty());
        let r = &st.quality.routes[0];
        assert_eq!((r.legs, r.slippage_crossed, r.lag_crossed), (2, 1, 1));
        assert_eq!(r.cost, Decimal::from(95));
        assert!((r.cost_bps - 47.5).abs() < 1e-9);
        assert_eq!(r.max_slippage_bps, Some(80.0));
        assert_eq!(st.quality.recent[0].leg, "b");
        let m = st.prometheus();
        let route = "arbitrum/USDC -> hyperevm/USDT0";
        for line in [
            format!("ballast_rebalances_total{{venue=\"hl\",route=\"{route}\"}} 2"),
            format!(
                "ballast_rebalance_threshold_crossed_total{{venue=\"hl\",route=\"{route}\",kind=\"lag\"}} 1"
            ),
            format!(
                "ballast_rebalance_slippage_bps_bucket{{venue=\"hl\",route=\"{route}\",le=\"5\"}} 1"
            ),
            format!(
                "ballast_rebalance_slippage_bps_bucket{{venue=\"hl\",route=\"{route}\",le=\"+Inf\"}} 2"
            ),
            format!(
                "ballast_rebalance_lag_seconds_bucket{{venue=\"hl\",route=\"{route}\",le=\"30\"}} 1"
            ),
            format!("ballast_rebalance_lag_seconds_sum{{venue=\"hl\",route=\"{route}\"}} 7230"),
            "# TYPE ballast_rebalance_lag_seconds histogram".to_string(),
        ] {
            assert!(m.contains(&line), "missing {line:?} in\n{m}");
        }
        // The table shows the latest completions with their cost and lag.
        let t = st.table();
        assert!(t.contains("done b"), "{t}");
        assert!(
            t.contains("cost 90.00 (+90.0 bps) slippage +80.0 bps lag 7200s"),
            "{t}"
        );
    }
}
