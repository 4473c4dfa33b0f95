//! The planner: turns the portfolio computer's commands into routed orders at least cost.
//!
//! Pure: no I/O. The problem is a transport problem: positions commanding a negative move are sources (their
//! excess), positions commanding a positive move are sinks (their deficit), and the configured routes are the
//! allowed edges, each with a cost `cost_bps * value + fixed_cost`. It is solved in priority order:
//!
//! 1. deficits are served higher tier first, then larger value first (values, not raw units: 0.5 WETH short
//!    at 2000 outranks 500 USDC short);
//! 2. for each deficit the candidate routes are ranked source tier first (lower tier = preferred source),
//!    then by estimated cost rate at the size it would move, then by the larger remaining excess;
//! 3. each order is the minimum of the remaining deficit (grossed up for the route's cost), the source's
//!    remaining excess, what the source holds settled, `max_order_value` and what is left of the cycle's
//!    turnover cap, so one excess is never spent twice;
//! 4. a route whose estimated cost exceeds `max_fee_bps` of the moved value, whose venue declined or is at
//!    its pending-order limit, is skipped and the next one tried; with no match there is no order, and a
//!    reason;
//! 5. amounts are in the source asset's units, rounded down to its decimals; the residual stays in the error.
//!
//! What is sent equals what is received plus the estimated cost. Whatever part of a command could not be
//! routed (no counterparty, caps, fee cap) is returned per position in [`Plan::routed`], so the controller's
//! anti-windup sees the cut.

use rust_decimal::Decimal;

use crate::control::{Hold, PositionSpec, StepAudit};
use crate::model::{PositionKey, floor_dp, to_f64};
use crate::params::Rounding;

/// A route as the planner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteSpec {
    pub venue: usize,
    pub from: usize,
    pub to: usize,
    pub cost_bps: Decimal,
    pub fixed_cost: Decimal,
    pub market: Option<String>,
    cost_rate: f64,
    cost_rate_d: Decimal,
    fixed: f64,
}

impl RouteSpec {
    pub fn new(
        venue: usize,
        from: usize,
        to: usize,
        cost_bps: Decimal,
        fixed_cost: Decimal,
        market: Option<String>,
    ) -> Self {
        RouteSpec {
            venue,
            from,
            to,
            cost_bps,
            fixed_cost,
            market,
            cost_rate: to_f64(cost_bps) / 10_000.0,
            cost_rate_d: cost_bps / Decimal::from(10_000),
            fixed: to_f64(fixed_cost),
        }
    }

    /// Estimated cost of moving `value` (base units).
    pub fn cost(&self, value: f64) -> f64 {
        self.cost_rate * value + self.fixed
    }
}

/// Limits applied by the planner.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanParams {
    pub min_order_value: f64,
    pub max_order_value: f64,
    /// Share of the portfolio value that may move per cycle (1.0 = 100 %).
    pub max_cycle_turnover: Option<f64>,
    pub max_fee_rate: f64,
    pub rounding: Rounding,
}

/// Per-cycle facts about the venues, supplied by the caller.
#[derive(Clone, Debug, Default)]
pub struct PlanContext {
    /// Rebalances in flight per venue; `None` where the read failed.
    pub pending_orders: Vec<Option<u32>>,
    /// Venues that declined (down, halted, rejecting): their routes are skipped.
    pub declined: Vec<bool>,
    /// When set, no new move starts (kill switch, fail-closed pending read), with this reason.
    pub hold_all: Option<String>,
}

/// One routed order.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedOrder {
    pub route: usize,
    pub from: usize,
    pub to: usize,
    pub venue: usize,
    /// Amount sent, in the source asset's units (rounded down to its decimals).
    pub amount: Decimal,
    /// Value sent (base units).
    pub value: Decimal,
    /// Estimated cost (base units).
    pub est_cost: Decimal,
    /// Value expected at the destination: value - est_cost.
    pub receive_value: Decimal,
    /// The source (destination) is held by the controller and serves only as the counterparty of a
    /// commanded move at the other end.
    pub from_held: bool,
    pub to_held: bool,
}

/// Something the planner did not do, and why. Structured, so planning allocates no text; render with
/// [`Planner::skip_what`] and [`Planner::skip_reason`].
#[derive(Clone, Debug, PartialEq)]
pub enum Skipped {
    /// A deficit (or the rest of one) that was not served.
    Deficit {
        position: usize,
        /// Value left unserved.
        left: f64,
        /// Value served by orders this cycle.
        served: f64,
        /// The routes tried and why each was not taken: a range of [`Plan::misses`].
        misses: std::ops::Range<u32>,
    },
    /// An excess (or the rest of one) that was not sent.
    Excess {
        position: usize,
        unsent: f64,
        cause: ExcessCause,
    },
    /// A command not acted on because no new move may start this cycle.
    Held { position: usize, command: f64 },
}

/// Why an excess was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExcessCause {
    TurnoverCap,
    NothingSettled,
    NoRouteOut,
    NoDeficit,
}

/// The planner's answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub orders: Vec<PlannedOrder>,
    /// Applied move per position in base units (signed like the commands): feed to the controller.
    pub routed: Vec<f64>,
    pub skipped: Vec<Skipped>,
    /// Route misses referenced by [`Skipped::Deficit`].
    pub misses: Vec<(usize, RouteMiss)>,
    /// Set when no new move could start (kill switch, failed pending read), with the reason.
    pub held: Option<String>,
}

/// The planner for one configuration.
#[derive(Clone, Debug)]
pub struct Planner {
    pub keys: Vec<PositionKey>,
    pub tiers: Vec<u8>,
    pub decimals: Vec<u32>,
    pub routes: Vec<RouteSpec>,
    pub venues: Vec<String>,
    pub venue_limits: Vec<u32>,
    pub params: PlanParams,
    /// Routes into each position: `into_routes[into_start[d]..into_start[d + 1]]`, contiguous, with the
    /// fields the route scan reads.
    into_start: Vec<u32>,
    into_routes: Vec<HotRoute>,
    // Scratch reused across cycles.
    order: Vec<usize>,
    /// Per position: what it can still send this cycle.
    src: Vec<Source>,
    deficit: Vec<f64>,
    route_used: Vec<bool>,
    misses: Vec<(usize, RouteMiss)>,
    has_route_out: Vec<bool>,
    passive_order: Vec<usize>,
    /// Scratch: packed priority keys for sorting.
    sort_keys: Vec<u128>,
}

/// A route into a position, as the scan reads it.
#[derive(Clone, Copy, Debug)]
struct HotRoute {
    index: u32,
    from: u32,
    venue: u32,
    cost_rate: f64,
    fixed: f64,
    /// `1 / (1 - cost_rate)`: what must be sent for one unit to arrive (before the fixed cost).
    gross_factor: f64,
}

/// A position as a source this cycle.
#[derive(Clone, Copy, Debug, Default)]
struct Source {
    /// What it may still send (base units): its commanded excess, or, held, its distance above target.
    excess: f64,
    /// What it holds settled (base units).
    available: f64,
    tier: u8,
    /// Held by the controller: only the counterparty of a commanded move.
    passive: bool,
    /// Its price, exact and as f64 (set when it has something to send), so that building an order reads
    /// nothing else of the step.
    price: Decimal,
    price_f: f64,
}

/// How a candidate source ranks: (source tier, held rather than commanded, cost rate, -remaining excess);
/// lower is better.
type SourceRank = (u8, bool, f64, f64);

/// Why a candidate route was not taken (collected to explain an unserved deficit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RouteMiss {
    NoExcess,
    Declined,
    PendingLimit(u32),
    PendingUnknown,
    FeeCap { bps: f64 },
    BelowMin { value: f64 },
    Used,
    Budget,
}

impl Planner {
    pub fn new(
        specs: &[PositionSpec],
        routes: Vec<RouteSpec>,
        venues: Vec<(String, u32)>,
        params: PlanParams,
    ) -> Self {
        let n = specs.len();
        let mut into = vec![Vec::new(); n];
        let mut has_route_out = vec![false; n];
        for (i, r) in routes.iter().enumerate() {
            into[r.to].push(i);
            has_route_out[r.from] = true;
        }
        let mut into_start = Vec::with_capacity(n + 1);
        let mut into_routes = Vec::with_capacity(routes.len());
        for list in &into {
            into_start.push(into_routes.len() as u32);
            into_routes.extend(list.iter().map(|&i| {
                let r = &routes[i];
                HotRoute {
                    index: i as u32,
                    from: r.from as u32,
                    venue: r.venue as u32,
                    cost_rate: r.cost_rate,
                    fixed: r.fixed,
                    gross_factor: 1.0 / (1.0 - r.cost_rate).max(1e-9),
                }
            }));
        }
        into_start.push(into_routes.len() as u32);
        Planner {
            keys: specs.iter().map(|s| s.key.clone()).collect(),
            tiers: specs.iter().map(|s| s.tier).collect(),
            decimals: specs.iter().map(|s| s.decimals).collect(),
            route_used: vec![false; routes.len()],
            routes,
            venue_limits: venues.iter().map(|v| v.1).collect(),
            venues: venues.into_iter().map(|v| v.0).collect(),
            params,
            into_start,
            into_routes,
            order: Vec::with_capacity(n),
            src: specs
                .iter()
                .map(|s| Source {
                    tier: s.tier,
                    ..Source::default()
                })
                .collect(),
            deficit: vec![0.0; n],
            misses: Vec::new(),
            has_route_out,
            passive_order: Vec::new(),
            sort_keys: Vec::new(),
        }
    }

    /// Route the commands of one step.
    pub fn plan(&mut self, step: &StepAudit, ctx: &PlanContext) -> Plan {
        let n = self.keys.len();
        // Sized for the usual case up front: growing these vectors is a visible share of a large cycle.
        // Every order closes a deficit, a source or a route, so the acting positions bound the usual count.
        let acting = step.positions.iter().filter(|p| p.command != 0.0).count();
        let mut plan = Plan {
            orders: Vec::with_capacity(acting.max(4)),
            routed: vec![0.0; n],
            skipped: Vec::with_capacity(acting.max(4)),
            misses: Vec::with_capacity(n),
            held: None,
        };
        let eps = 1e-9 * step.portfolio_value.abs().max(1.0);

        if let Some(reason) = &ctx.hold_all {
            for (k, p) in step.positions.iter().enumerate() {
                if p.command != 0.0 {
                    plan.skipped.push(Skipped::Held {
                        position: k,
                        command: p.command,
                    });
                }
            }
            plan.held = Some(reason.clone());
            return plan;
        }

        // Active sides are what the controller commands. A position it holds inside its band (or below the
        // minimum order) can still be the counterparty of an active side, up to its distance from target:
        // a deficit may draw on a held position above target, an excess may fill a held position below
        // target. Two held positions are never paired, so nothing moves inside the bands on its own.
        self.order.clear();
        let mut passive_deficits = std::mem::take(&mut self.passive_order);
        passive_deficits.clear();
        for (k, p) in step.positions.iter().enumerate() {
            let held = p.command == 0.0
                && matches!(
                    p.hold,
                    Some(
                        Hold::InBand { .. }
                            | Hold::Settled { .. }
                            | Hold::BelowMinOrder { .. }
                            | Hold::RefillOnly
                    )
                );
            let src = &mut self.src[k];
            src.passive = held;
            if held {
                src.excess = (-p.error).max(0.0);
                self.deficit[k] = p.error.max(0.0);
                if p.error > 0.0 {
                    passive_deficits.push(k);
                }
            } else {
                src.excess = (-p.command).max(0.0);
                self.deficit[k] = p.command.max(0.0);
                if p.command > 0.0 {
                    self.order.push(k);
                }
            }
            src.available = if src.excess > 0.0 {
                src.price = p.price;
                src.price_f = to_f64(p.price);
                // What the source can send: its balance less what is already committed out of it.
                p.settled_value.max(0.0)
            } else {
                0.0
            };
        }
        // Priority: higher tier first, then larger deficit, then lower index. Packed into one integer key per
        // position (the bits of a non-negative f64 order like its value), so the sort compares integers.
        let (src, deficit) = (&self.src, &self.deficit);
        let key = |k: usize| -> u128 {
            let d = deficit[k].max(0.0) + 0.0; // -0.0 and NaN become 0.0
            (u128::from(u8::MAX - src[k].tier) << 96)
                | (u128::from(u64::MAX - d.to_bits()) << 32)
                | k as u128
        };
        let keys = &mut self.sort_keys;
        for list in [&mut self.order, &mut passive_deficits] {
            keys.clear();
            keys.extend(list.iter().map(|&k| key(k)));
            keys.sort_unstable();
            list.clear();
            list.extend(keys.iter().map(|x| (*x as u32) as usize));
        }
        let active_count = self.order.len();
        self.order.extend_from_slice(&passive_deficits);
        self.passive_order = passive_deficits;
        self.route_used.iter_mut().for_each(|u| *u = false);
        let mut venue_count = [0u32; 16];
        let mut venue_count_vec;
        let venue_count: &mut [u32] = if self.venues.len() <= 16 {
            &mut venue_count[..self.venues.len()]
        } else {
            venue_count_vec = vec![0u32; self.venues.len()];
            &mut venue_count_vec
        };
        for (v, c) in venue_count.iter_mut().enumerate() {
            *c = ctx.pending_orders.get(v).copied().flatten().unwrap_or(0);
        }
        // What blocks a venue for the whole cycle, checked once rather than per route.
        let venue_block = |v: usize| -> Option<RouteMiss> {
            if ctx.declined.get(v).copied().unwrap_or(false) {
                Some(RouteMiss::Declined)
            } else if ctx.pending_orders.get(v).is_some_and(|c| c.is_none()) {
                Some(RouteMiss::PendingUnknown)
            } else {
                None
            }
        };
        let mut blocked_small = [None; 16];
        let blocked_vec: Vec<Option<RouteMiss>>;
        let blocked: &[Option<RouteMiss>] = if self.venues.len() <= 16 {
            for (v, b) in blocked_small.iter_mut().enumerate().take(self.venues.len()) {
                *b = venue_block(v);
            }
            &blocked_small[..self.venues.len()]
        } else {
            blocked_vec = (0..self.venues.len()).map(venue_block).collect();
            &blocked_vec
        };
        let mut budget = self
            .params
            .max_cycle_turnover
            .map(|t| t * step.portfolio_value)
            .unwrap_or(f64::INFINITY);
        let p = self.params.clone();

        for oi in 0..self.order.len() {
            let d = self.order[oi];
            let d_passive = oi >= active_count;
            self.misses.clear();
            if budget <= eps {
                if d_passive {
                    break;
                }
                // The cycle's cap is used up: every remaining deficit waits, without trying its routes.
                let at = plan.misses.len() as u32;
                plan.misses.push((usize::MAX, RouteMiss::Budget));
                plan.skipped.push(Skipped::Deficit {
                    position: d,
                    left: self.deficit[d],
                    served: 0.0,
                    misses: at..at + 1,
                });
                continue;
            }
            loop {
                let need = self.deficit[d];
                if need <= eps {
                    break;
                }
                let mut best: Option<(HotRoute, f64, SourceRank)> = None;
                let span = self.into_start[d] as usize..self.into_start[d + 1] as usize;
                for r in &self.into_routes[span] {
                    let (ri, s, venue) = (r.index as usize, r.from as usize, r.venue as usize);
                    let src = &self.src[s];
                    if d_passive && src.passive {
                        continue;
                    }
                    let miss = if src.excess <= eps || src.available <= eps {
                        Some(RouteMiss::NoExcess)
                    } else if let Some(m) = blocked[venue] {
                        Some(m)
                    } else if venue_count[venue] >= self.venue_limits[venue] {
                        Some(RouteMiss::PendingLimit(self.venue_limits[venue]))
                    } else if self.route_used[ri] {
                        Some(RouteMiss::Used)
                    } else if budget <= eps {
                        Some(RouteMiss::Budget)
                    } else {
                        None
                    };
                    match miss {
                        // An empty source or a route already taken says nothing about why a deficit is left
                        // unserved: not recorded.
                        Some(RouteMiss::NoExcess | RouteMiss::Used) => continue,
                        Some(m) => {
                            self.misses.push((ri, m));
                            continue;
                        }
                        None => {}
                    }
                    // Multiplications and at most one division per candidate: the scan runs for every
                    // route into every deficit, and a division's latency shows at a thousand positions.
                    let gross = (need + r.fixed) * r.gross_factor;
                    let send = min4(
                        gross,
                        src.excess,
                        src.available,
                        p.max_order_value.min(budget),
                    );
                    if send < p.min_order_value || send <= eps {
                        self.misses.push((ri, RouteMiss::BelowMin { value: send }));
                        continue;
                    }
                    let rate = if r.fixed == 0.0 {
                        r.cost_rate
                    } else {
                        r.cost_rate + r.fixed / send
                    };
                    if rate > p.max_fee_rate + 1e-12 {
                        self.misses.push((
                            ri,
                            RouteMiss::FeeCap {
                                bps: rate * 10_000.0,
                            },
                        ));
                        continue;
                    }
                    // Lower source tier first, commanded sources before held ones, then cheaper, then larger.
                    let key = (src.tier, src.passive, rate, -src.excess);
                    let better = match &best {
                        None => true,
                        Some((_, _, bk)) => {
                            (key.0, key.1) < (bk.0, bk.1)
                                || ((key.0, key.1) == (bk.0, bk.1)
                                    && (key.2 < bk.2 || (key.2 == bk.2 && key.3 < bk.3)))
                        }
                    };
                    if better {
                        best = Some((*r, send, key));
                    }
                }
                let Some((r, send, _)) = best else { break };
                let ri = r.index as usize;
                self.route_used[ri] = true;
                match self.emit(&r, d, send) {
                    Some((o, sent, recv)) => {
                        let s = o.from;
                        self.src[s].excess -= sent;
                        self.src[s].available -= sent;
                        self.deficit[d] -= recv;
                        budget -= sent;
                        venue_count[o.venue] += 1;
                        plan.routed[s] -= sent;
                        plan.routed[d] += recv;
                        plan.orders.push(o);
                    }
                    None => self.misses.push((ri, RouteMiss::BelowMin { value: send })),
                }
            }
            let left = self.deficit[d];
            if left > eps && !d_passive {
                let served = step.positions[d].command - left;
                let at = plan.misses.len() as u32;
                plan.misses.extend_from_slice(&self.misses);
                let misses = at..plan.misses.len() as u32;
                plan.skipped.push(Skipped::Deficit {
                    position: d,
                    left,
                    served,
                    misses,
                });
            }
        }

        // Excess that found no deficit: say so; the controller sees the cut.
        for k in 0..n {
            if step.positions[k].command < 0.0 && !self.src[k].passive {
                let unsent = self.src[k].excess;
                if unsent > eps && unsent >= self.params.min_order_value {
                    let cause = if budget <= eps {
                        ExcessCause::TurnoverCap
                    } else if self.src[k].available <= eps {
                        ExcessCause::NothingSettled
                    } else if !self.has_route_out[k] {
                        ExcessCause::NoRouteOut
                    } else {
                        ExcessCause::NoDeficit
                    };
                    plan.skipped.push(Skipped::Excess {
                        position: k,
                        unsent,
                        cause,
                    });
                }
            }
        }
        plan
    }

    /// Build the order for `send` value on route `ri`, rounding the amount to the source's decimals.
    /// Returns the order and its sent and received values in f64.
    fn emit(&self, r: &HotRoute, to: usize, send: f64) -> Option<(PlannedOrder, f64, f64)> {
        let from = r.from as usize;
        let (price_d, price) = (self.src[from].price, self.src[from].price_f);
        if price <= 0.0 || !price.is_finite() {
            return None;
        }
        let dp = self.decimals[from];
        let units = send / price;
        let amount = match self.params.rounding {
            Rounding::Down => floor_units(units, dp)?,
            Rounding::Up => {
                // Up, but never beyond what the source may send.
                let up = ceil_units(units, dp)?;
                let cap = floor_units(self.src[from].available / price, dp)?;
                up.min(cap.max(floor_units(units, dp)?))
            }
        };
        if amount.is_zero() || amount.is_sign_negative() {
            return None;
        }
        // An estimate: computed in f64 and stated to 8 decimals (exact decimal arithmetic here would round a
        // product of up to 30 digits every order).
        // The value and the received value in i128 when they fit (`Exact`), as `Decimal` otherwise: the same
        // results either way.
        let exact = exact_value(amount, price_d);
        let (value, sent) = match exact {
            Some(v) => (v.decimal(), v.to_f64()),
            None => {
                let value = amount * price_d;
                (value, to_f64(value))
            }
        };
        let est_cost = crate::model::dec_dp(sent * r.cost_rate + r.fixed, 8);
        let (receive_value, recv) = match exact.and_then(|v| v.minus(est_cost)) {
            Some(rv) => (rv.decimal(), rv.to_f64()),
            None => {
                let rv = value - est_cost;
                (rv, to_f64(rv))
            }
        };
        if recv <= 0.0 || sent < self.params.min_order_value {
            return None;
        }
        let o = PlannedOrder {
            route: r.index as usize,
            from,
            to,
            venue: r.venue as usize,
            amount,
            value,
            est_cost,
            receive_value,
            from_held: self.src[from].passive,
            to_held: self.src[to].passive,
        };
        Some((o, sent, recv))
    }

    /// What a skip is about, e.g. `deficit of 1200.00 on arbitrum/USDC`.
    pub fn skip_what(&self, s: &Skipped) -> String {
        let (k, value) = match s {
            Skipped::Deficit { position, left, .. } => (*position, *left),
            Skipped::Excess {
                position, unsent, ..
            } => (*position, -*unsent),
            Skipped::Held { position, command } => (*position, *command),
        };
        if value >= 0.0 {
            format!("deficit of {value:.2} on {}", self.keys[k])
        } else {
            format!("excess of {:.2} on {}", -value, self.keys[k])
        }
    }

    /// Why it was skipped, in words.
    pub fn skip_reason(&self, s: &Skipped, plan: &Plan) -> String {
        match s {
            Skipped::Held { .. } => format!(
                "no new move: {}",
                plan.held.as_deref().unwrap_or("moves are held")
            ),
            Skipped::Excess { cause, .. } => match cause {
                ExcessCause::TurnoverCap => {
                    "the cycle's turnover cap (max_cycle_turnover_bps) is used up".into()
                }
                ExcessCause::NothingSettled => {
                    "nothing settled to send (balance committed to moves in flight)".into()
                }
                ExcessCause::NoRouteOut => "no route leaves this position".into(),
                ExcessCause::NoDeficit => "no deficit to receive it over an allowed route".into(),
            },
            Skipped::Deficit {
                position,
                served,
                misses,
                ..
            } => {
                if self.into_start[*position] == self.into_start[*position + 1] {
                    return "no route leads to this position".into();
                }
                let mut parts: Vec<String> = Vec::new();
                let range = misses.start as usize..misses.end as usize;
                for &(ri, m) in &plan.misses[range] {
                    if m == RouteMiss::Budget {
                        let text = "the cycle's turnover cap (max_cycle_turnover_bps) is used up"
                            .to_string();
                        if !parts.contains(&text) {
                            parts.push(text);
                        }
                        continue;
                    }
                    let r = &self.routes[ri];
                    let label = format!("{} via {}", self.keys[r.from], self.venues[r.venue]);
                    let text = match m {
                        RouteMiss::NoExcess | RouteMiss::Used => continue,
                        RouteMiss::Declined => format!("{label}: venue declined"),
                        RouteMiss::PendingLimit(l) => {
                            format!("{label}: venue at its pending-order limit ({l})")
                        }
                        RouteMiss::PendingUnknown => {
                            format!("{label}: venue's pending orders could not be read")
                        }
                        RouteMiss::FeeCap { bps } => format!(
                            "{label}: estimated cost {bps:.1} bps is above max_fee_bps {:.0}",
                            self.params.max_fee_rate * 10_000.0
                        ),
                        RouteMiss::BelowMin { value } => {
                            format!("{label}: {value:.2} is below min_order_value")
                        }
                        RouteMiss::Budget => {
                            "the cycle's turnover cap (max_cycle_turnover_bps) is used up"
                                .to_string()
                        }
                    };
                    if !parts.contains(&text) {
                        parts.push(text);
                    }
                }
                let head = if *served > 0.0 {
                    format!("{served:.2} served; ")
                } else {
                    String::new()
                };
                if parts.is_empty() {
                    format!("{head}no position with an excess has a route here")
                } else {
                    format!("{head}{}", parts.join("; "))
                }
            }
        }
    }
}

/// The least of four numbers, none NaN (`f64::min`'s NaN handling costs several instructions each).
#[inline]
fn min4(a: f64, b: f64, c: f64, d: f64) -> f64 {
    let lo = |x: f64, y: f64| if y < x { y } else { x };
    lo(lo(a, b), lo(c, d))
}

/// An exact decimal as an i128 mantissa and a scale, for the order's arithmetic without the general
/// `Decimal` operations (which handle 96-bit operands and scales past 28 on every call).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Exact {
    m: i128,
    scale: u32,
}

/// 2^96: a `Decimal` mantissa is below it.
const DEC_LIMIT: u128 = 1 << 96;

impl Exact {
    fn decimal(self) -> Decimal {
        Decimal::from_i128_with_scale(self.m, self.scale)
    }

    /// The same as `to_f64(self.decimal())`.
    fn to_f64(self) -> f64 {
        crate::model::mantissa_to_f64(self.m, self.scale)
    }

    /// `self - d` at the larger scale, as `Decimal` subtraction gives it; `None` when that does not fit
    /// (the caller then uses `Decimal`).
    fn minus(self, d: Decimal) -> Option<Exact> {
        let (dm, ds) = (d.mantissa(), d.scale());
        let (a, b, scale) = if ds <= self.scale {
            (
                self.m,
                dm.checked_mul(10i128.checked_pow(self.scale - ds)?)?,
                self.scale,
            )
        } else {
            (
                self.m.checked_mul(10i128.checked_pow(ds - self.scale)?)?,
                dm,
                ds,
            )
        };
        let m = a.checked_sub(b)?;
        (m.unsigned_abs() < DEC_LIMIT).then_some(Exact { m, scale })
    }
}

/// `a * b` exactly, as `Decimal` multiplication gives it when the product's scale is at most 28 and its
/// mantissa fits; `None` otherwise (the caller then uses `Decimal`).
fn exact_value(a: Decimal, b: Decimal) -> Option<Exact> {
    let scale = a.scale() + b.scale();
    if scale > 28 {
        return None;
    }
    let (x, y) = (
        i64::try_from(a.mantissa()).ok()?,
        i64::try_from(b.mantissa()).ok()?,
    );
    let m = i128::from(x) * i128::from(y);
    (m.unsigned_abs() < DEC_LIMIT).then_some(Exact { m, scale })
}

/// `x` rounded down to `dp` decimals, as an exact decimal. The float product is nudged by one part in 10^12
/// so that float noise (99.99999999999999 for an exact 100) does not lose a unit of the last decimal.
fn floor_units(x: f64, dp: u32) -> Option<Decimal> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let m = x * crate::model::pow10_f64(dp) * (1.0 + 1e-12);
    if m < 9.0e15 {
        // x >= 0: truncation is the floor (and cheaper than `f64::floor`, a library call on baseline x86-64).
        Some(Decimal::new(m as i64, dp))
    } else {
        Some(floor_dp(crate::model::from_f64(x)?, dp))
    }
}

/// `x` rounded up to `dp` decimals (see [`floor_units`]).
fn ceil_units(x: f64, dp: u32) -> Option<Decimal> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let m = x * crate::model::pow10_f64(dp) * (1.0 - 1e-12);
    if m < 9.0e15 {
        let t = m as i64;
        Some(Decimal::new(if (t as f64) < m { t + 1 } else { t }, dp))
    } else {
        Some(
            crate::model::from_f64(x)?
                .round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::AwayFromZero),
        )
    }
}

#[cfg(test)]
mod tests;
