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
        }
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
        p.out
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
        for l in self.legs.iter().filter(|l| !matches!(l.stage, Stage::Done)) {
            let _ = writeln!(
                s,
                "  leg {:<18} {:<11} {} -> {} {:.2} {}{}",
                l.id,
                l.venue,
                l.from,
                l.to,
                to_f64(l.amount),
                l.stage,
                l.problem
                    .as_ref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            );
        }
        s
    }
}
