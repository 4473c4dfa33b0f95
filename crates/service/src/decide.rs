//! The decision of one cycle, pure: from the legs and one look at the world, measure every position
//! (settled balance plus what is in flight, at consistent blocks), check the breakers and the kill switch,
//! run the engine (controller and planner) and turn its orders into new legs. No I/O, no clock: this is the
//! cycle's own CPU work (`benches/cycle.rs`).

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::kill::{KillState, KillSwitch};
use super::observe::{self, PendingMap, WorldView};
use super::status::{BreakerStatus, PositionStatus};
use ballast_config::Config;
use ballast_core::control::{Observation, StepError};
use ballast_core::engine::{CycleAudit, Engine};
use ballast_core::leg::{Leg, Stage};
use ballast_core::model::{TimestampMs, floor_dp, to_f64};
use ballast_core::plan::PlanContext;

/// What the cycle needs besides the legs and the view.
pub struct Inputs<'a> {
    pub cfg: &'a Config,
    pub seq: u64,
    pub now: TimestampMs,
    pub kill: &'a KillSwitch,
    /// Value of the legs started today (UTC).
    pub moved_today: Decimal,
    /// Base and quote of each (venue, market) the routes use.
    pub markets: &'a BTreeMap<(String, String), (String, String)>,
    /// Arrivals already claimed by legs.
    pub claimed_arrivals: &'a BTreeSet<String>,
    /// Last balances seen per position (used, marked stale, when a chain read fails).
    pub last_balances: &'a BTreeMap<String, Decimal>,
}

/// The cycle's decision.
pub struct Decision {
    pub audit: CycleAudit,
    pub new_legs: Vec<Leg>,
    /// Why no new move starts, if so.
    pub held: Option<String>,
    pub breakers: Vec<BreakerStatus>,
    /// Venues that get no new move (mid too far from the reference).
    pub declined: BTreeSet<String>,
    pub pending: Result<PendingMap, Vec<String>>,
    pub positions: Vec<PositionStatus>,
    /// Balances as measured (for the next cycle's fallback).
    pub balances: BTreeMap<String, Decimal>,
}

/// The deterministic id of a planned leg.
pub fn leg_id(version: &str, seq: u64, index: usize, route: usize, amount: Decimal) -> String {
    let mut h = Sha256::new();
    h.update(version.as_bytes());
    h.update(seq.to_be_bytes());
    h.update((index as u64).to_be_bytes());
    h.update((route as u64).to_be_bytes());
    h.update(amount.to_string().as_bytes());
    format!("c{seq}.{index}-{}", &hex::encode(h.finalize())[..8])
}

/// Decide one cycle.
pub fn decide(
    engine: &mut Engine,
    legs: &[Leg],
    view: &WorldView,
    inp: &Inputs,
) -> Result<Decision, StepError> {
    let cfg = inp.cfg;
    let svc = &cfg.service;
    let pending = observe::pending(legs, view, inp.claimed_arrivals);
    let pend_pos = match &pending {
        Ok(p) => observe::by_position(p),
        Err(_) => BTreeMap::new(),
    };
    // Breakers.
    let mut breakers = Vec::new();
    let mut holds: Vec<String> = Vec::new();
    if inp.kill.state != KillState::Active {
        holds.push(format!(
            "kill switch {} ({}: {})",
            inp.kill.state, inp.kill.by, inp.kill.reason
        ));
    }
    if let Err(f) = &pending {
        holds.push(format!("read failed: {}", f.join("; ")));
    }
    let mut stale_chains = BTreeSet::new();
    let mut stale_detail = Vec::new();
    for (name, c) in &view.chains {
        match c {
            Err(_) => {
                stale_chains.insert(name.clone());
            }
            Ok(v) => {
                if let Some(limit) = svc.breakers.stale_balance_age
                    && v.age_ms > limit.as_millis() as i64
                {
                    stale_chains.insert(name.clone());
                    stale_detail.push(format!(
                        "{name}: block {} is {} s old",
                        v.snapshot.block,
                        v.age_ms / 1000
                    ));
                }
            }
        }
    }
    breakers.push(BreakerStatus {
        name: "stale_balances".into(),
        tripped: !stale_detail.is_empty(),
        detail: stale_detail.join("; "),
    });
    if !stale_detail.is_empty() {
        holds.push(format!("stale balances: {}", stale_detail.join("; ")));
    }
    let (declined, mid_detail) = mid_breaker(cfg, view, inp.markets);
    breakers.push(BreakerStatus {
        name: "mid_deviation".into(),
        tripped: !mid_detail.is_empty(),
        detail: mid_detail.join("; "),
    });
    let daily_left = svc
        .breakers
        .max_daily_value
        .map(|m| (m - inp.moved_today).max(Decimal::ZERO));
    let daily_tripped = daily_left.is_some_and(|l| l.is_zero());
    breakers.push(BreakerStatus {
        name: "daily_value".into(),
        tripped: daily_tripped,
        detail: svc
            .breakers
            .max_daily_value
            .map(|m| format!("{} of {m} moved today", inp.moved_today))
            .unwrap_or_default(),
    });
    if daily_tripped {
        holds.push("the day's value limit is reached".into());
    }

    // Measure.
    let n = cfg.positions.len();
    let mut obs = Observation {
        balances: Vec::with_capacity(n),
        pending: Vec::with_capacity(n),
        prices: Vec::with_capacity(n),
        stale: Vec::with_capacity(n),
    };
    let mut balances = BTreeMap::new();
    for p in &cfg.positions {
        let name = format!("{}/{}", p.key.chain, p.key.asset);
        let (bal, stale) = match view.balance(&p.key) {
            Some(b) if !stale_chains.contains(&p.key.chain) => (b, false),
            Some(b) => (b, true),
            None => (
                inp.last_balances.get(&name).copied().unwrap_or_default(),
                true,
            ),
        };
        balances.insert(name, bal);
        obs.balances.push(bal);
        obs.pending
            .push(pend_pos.get(&p.key).copied().unwrap_or_default());
        obs.prices.push(svc.price(&p.key.asset));
        obs.stale.push(stale);
    }
    // Rebalances in flight per venue (None where the venue could not be read).
    let mut pending_orders = Vec::with_capacity(cfg.venues.len());
    let mut declined_v = Vec::with_capacity(cfg.venues.len());
    for v in &cfg.venues {
        let working = legs
            .iter()
            .filter(|l| l.venue == v.name && !l.stage.is_final())
            .count() as u32;
        pending_orders.push(view.venue(&v.name).map(|_| working));
        declined_v.push(declined.contains(&v.name));
    }
    let held = holds.first().cloned().map(|_| holds.join("; "));
    let ctx = PlanContext {
        pending_orders,
        declined: declined_v,
        hold_all: held.clone(),
    };
    let audit = engine.cycle(inp.now, &obs, &ctx)?;

    // New legs, within the cycle's and the day's value limits.
    let mut new_legs = Vec::new();
    let mut cycle_left = svc.breakers.max_cycle_value;
    let mut day_left = daily_left;
    let mut cut = Vec::new();
    for (i, o) in audit.plan.orders.iter().enumerate() {
        let fits = |left: Option<Decimal>| left.is_none_or(|l| o.value <= l);
        if !fits(cycle_left) || !fits(day_left) {
            cut.push(format!("{} of value {}", i, o.value.round_dp(2)));
            continue;
        }
        cycle_left = cycle_left.map(|l| l - o.value);
        day_left = day_left.map(|l| l - o.value);
        let r = &cfg.routes[o.route];
        let to_dec = cfg.positions[o.to].decimals;
        let expected = floor_dp(o.receive_value / svc.price(&r.to.asset), to_dec);
        let mut leg = Leg::planned(
            leg_id(cfg.version(), inp.seq, i, o.route, o.amount),
            cfg.version().to_string(),
            r.venue.clone(),
            r.from.clone(),
            r.to.clone(),
            r.market.clone(),
            o.amount,
            expected,
            inp.now,
        );
        leg.value = o.value;
        leg.cycle = inp.seq;
        new_legs.push(leg);
    }
    breakers.push(BreakerStatus {
        name: "cycle_value".into(),
        tripped: !cut.is_empty() && cycle_left.is_some(),
        detail: if cut.is_empty() {
            String::new()
        } else {
            format!("orders not started (value limits): {}", cut.join(", "))
        },
    });

    let positions = cfg
        .positions
        .iter()
        .zip(&audit.step.positions)
        .enumerate()
        .map(|(k, (p, a))| PositionStatus {
            chain: p.key.chain.clone(),
            asset: p.key.asset.clone(),
            balance: a.balance,
            pending: a.pending,
            target: a.target,
            error: a.error,
            p: a.p,
            i: a.i,
            d: a.d,
            commanded: a.command,
            applied: audit.plan.routed.get(k).copied().unwrap_or(0.0),
            stale: obs.stale[k],
            hold: a.hold.as_ref().map(|h| h.to_string()),
            why: why_still(engine, &audit, k),
        })
        .collect();
    let _ = to_f64;
    Ok(Decision {
        audit,
        new_legs,
        held,
        breakers,
        declined,
        pending,
        positions,
        balances,
    })
}

/// Venues with a market whose mid is further from the reference price (from `prices`) than the breaker
/// allows, and why.
pub fn mid_breaker(
    cfg: &Config,
    view: &WorldView,
    markets: &BTreeMap<(String, String), (String, String)>,
) -> (BTreeSet<String>, Vec<String>) {
    let mut declined = BTreeSet::new();
    let mut detail = Vec::new();
    let svc = &cfg.service;
    let Some(max_bps) = svc.breakers.max_mid_deviation_bps else {
        return (declined, detail);
    };
    for ((venue, market), (base, quote)) in markets {
        let Some(mid) = view.venue(venue).and_then(|v| v.mids.get(market)) else {
            continue;
        };
        let reference = svc.price(base) / svc.price(quote);
        if reference.is_zero() {
            continue;
        }
        let dev = ((*mid / reference) - Decimal::ONE).abs() * Decimal::from(10_000);
        if dev > Decimal::from(max_bps) {
            declined.insert(venue.clone());
            detail.push(format!(
                "{venue} {market}: mid {mid} is {} bps from the reference {reference}",
                dev.round_dp(1)
            ));
        }
    }
    (declined, detail)
}

/// Value of the legs started since `since` (return legs excepted: they bring a remainder back).
pub fn moved_since(legs: &[Leg], since: TimestampMs) -> Decimal {
    legs.iter()
        .filter(|l| l.created_ms >= since && !l.starts_on_venue)
        .filter(|l| !(l.stage == Stage::Failed && l.stopped_in == Some(Stage::Planned)))
        .map(|l| l.value)
        .sum()
}

/// Why position `k` did not move this cycle although it is outside its band, in words (none when it moved,
/// or when it is in its band or settling inside it): the controller's hold, or the planner's reason.
fn why_still(engine: &Engine, audit: &CycleAudit, k: usize) -> Option<String> {
    use ballast_core::control::Flags;
    use ballast_core::plan::Skipped;
    let routed = audit.plan.routed.get(k).copied().unwrap_or(0.0);
    let a = &audit.step.positions[k];
    if routed != 0.0 || (a.flags.contains(Flags::IN_BAND) && a.command == 0.0) {
        return None;
    }
    if let Some(h) = &a.hold {
        return Some(format!("held: {h}"));
    }
    let skipped = audit.plan.skipped.iter().find(|s| match s {
        Skipped::Deficit { position, .. }
        | Skipped::Excess { position, .. }
        | Skipped::Held { position, .. } => *position == k,
    });
    if let Some(s) = skipped {
        return Some(engine.planner.skip_reason(s, &audit.plan));
    }
    if a.flags.contains(Flags::BELOW_MIN_ORDER) {
        return Some("the move is below min_order_value".into());
    }
    None
}
