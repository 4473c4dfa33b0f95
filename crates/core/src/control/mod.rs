//! The portfolio computer: per-position PID loops on the inventory position, against resolved targets.
//!
//! Pure: no I/O, no clock, no randomness. [`PortfolioComputer::step`] takes the time and the observation and
//! returns an audit record per position that says what it commands and, when it commands nothing, why.

pub mod pid;
pub mod targets;

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{PositionKey, TimestampMs, to_f64};
use crate::params::{BandSpec, Redistribution};
pub use pid::{Gains, PidState, PidTerms};
pub use targets::Target;

/// One position as the core sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionSpec {
    pub key: PositionKey,
    pub target: Target,
    pub band: Option<BandSpec>,
    /// `min_balance` in asset units (0 for none).
    pub min_units: f64,
    pub tier: u8,
    pub decimals: u32,
}

/// Controller parameters in the units the core computes with.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlParams {
    pub gains: Gains,
    pub gain_period_ms: f64,
    pub interval_ms: f64,
    pub max_dt_ms: f64,
    pub min_order_value: f64,
    /// Per-position output clamp in base units (infinity for none).
    pub max_move_value: f64,
    pub settle_bps: f64,
    /// The band the controller acts on is the position's band scaled by this around the target.
    pub deadband_scale: f64,
    /// Act on deficits only (excesses are held and serve as counterparties).
    pub deficits_only: bool,
    /// Keep integrating the error while a position is held in its band.
    pub integrate_in_band: bool,
    /// A move that starts outside the band steers past the target by this share of the band's far half
    /// (0: to the target).
    pub steer_past: f64,
    pub mode: Redistribution,
}

/// What the caller measured this cycle, per position (in configuration order).
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// Settled balance in asset units.
    pub balances: Vec<Decimal>,
    /// Signed amounts in flight (transfers, working orders) in asset units.
    pub pending: Vec<Decimal>,
    /// Price of the asset in base units.
    pub prices: Vec<Decimal>,
    /// The balance is older than allowed (or its read failed).
    pub stale: Vec<bool>,
}

/// Flags of one position's step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(u16);

impl Flags {
    pub const SATURATED: Flags = Flags(1);
    pub const IN_BAND: Flags = Flags(1 << 1);
    pub const STALE: Flags = Flags(1 << 2);
    pub const INTEGRAL_FROZEN: Flags = Flags(1 << 3);
    pub const MIN_BALANCE: Flags = Flags(1 << 4);
    pub const BELOW_MIN_ORDER: Flags = Flags(1 << 5);
    pub const LEFT_BAND: Flags = Flags(1 << 6);
    pub const BAD_DATA: Flags = Flags(1 << 7);
    pub const CUT: Flags = Flags(1 << 8);
    const NAMES: [(Flags, &'static str); 9] = [
        (Flags::SATURATED, "saturated"),
        (Flags::IN_BAND, "in_band"),
        (Flags::STALE, "stale"),
        (Flags::INTEGRAL_FROZEN, "integral_frozen"),
        (Flags::MIN_BALANCE, "min_balance"),
        (Flags::BELOW_MIN_ORDER, "below_min_order"),
        (Flags::LEFT_BAND, "left_band"),
        (Flags::BAD_DATA, "bad_data"),
        (Flags::CUT, "cut"),
    ];

    pub fn contains(self, f: Flags) -> bool {
        self.0 & f.0 == f.0
    }
    pub fn set(&mut self, f: Flags) {
        self.0 |= f.0;
    }
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// Why a position commands no move.
#[derive(Clone, Debug, PartialEq)]
pub enum Hold {
    /// Inside its band (not yet left it, or settled back to target).
    InBand { low: f64, high: f64 },
    /// Settled: the error is within the settle tolerance.
    Settled { tolerance: f64 },
    /// The move is smaller than `min_order_value`.
    BelowMinOrder { value: f64, min: f64 },
    /// The balance is stale or its read failed.
    Stale,
    /// The controller acts on deficits only (`act_on = "deficits"`) and this position is above target, or its
    /// command points down (an integral or derivative term outweighing a deficit).
    RefillOnly,
    /// The inputs are not usable numbers.
    BadData(&'static str),
    /// The portfolio is worth nothing, so nothing can be sized.
    EmptyPortfolio,
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hold::InBand { low, high } => {
                write!(f, "inside its band [{low:.2}, {high:.2}] (value)")
            }
            Hold::Settled { tolerance } => {
                write!(f, "settled: error within {tolerance:.2} of target")
            }
            Hold::BelowMinOrder { value, min } => {
                write!(f, "move of {value:.2} is below min_order_value {min}")
            }
            Hold::RefillOnly => f.write_str(
                "the controller only refills deficits (act_on = \"deficits\"): no move down",
            ),
            Hold::Stale => f.write_str("balance is stale: holding, integral frozen"),
            Hold::BadData(what) => write!(f, "bad data: {what}"),
            Hold::EmptyPortfolio => f.write_str("portfolio value is zero: nothing to size against"),
        }
    }
}

/// The audit record of one position's step.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionAudit {
    pub balance: Decimal,
    pub pending: Decimal,
    pub price: Decimal,
    /// Inventory position (balance + pending) in units.
    pub measurement: f64,
    /// Inventory position value in base units.
    pub value: f64,
    /// Value the position holds settled (balance less amounts committed out of it), in base units: what it
    /// can send now.
    pub settled_value: f64,
    /// Target in units and in value.
    pub target: f64,
    pub target_value: f64,
    /// Target value minus value (positive: the position needs more).
    pub error: f64,
    /// The PID terms, in base units (normalised terms times the portfolio value).
    pub p: f64,
    pub i: f64,
    pub d: f64,
    /// Commanded move in base units: positive receives, negative sends. 0 when holding.
    pub command: f64,
    pub flags: Flags,
    pub hold: Option<Hold>,
}

/// The audit of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepAudit {
    pub ts: TimestampMs,
    /// Elapsed time in gain periods (after the cap).
    pub dt: f64,
    /// Portfolio value (base units).
    pub portfolio_value: f64,
    pub positions: Vec<PositionAudit>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    #[error("time did not advance: step at {now} ms is not after the previous step at {last} ms")]
    TimeNotAdvancing { now: TimestampMs, last: TimestampMs },
    #[error("observation has {got} {what} for {expected} positions")]
    Shape {
        what: &'static str,
        got: usize,
        expected: usize,
    },
}

/// Serialisable controller state: per position (by `chain/asset`), plus the time of the last step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ControllerState {
    pub last_ts: Option<TimestampMs>,
    /// Normaliser of the last step (portfolio value, or the sum of absolute targets if larger).
    pub last_value: f64,
    pub positions: BTreeMap<String, PidState>,
}

/// The portfolio computer.
#[derive(Clone, Debug)]
pub struct PortfolioComputer {
    specs: Vec<PositionSpec>,
    params: ControlParams,
    states: Vec<PidState>,
    last_ts: Option<TimestampMs>,
    last_value: f64,
    // Scratch reused across steps.
    values: Vec<f64>,
    prices: Vec<f64>,
    units: Vec<f64>,
    settled: Vec<f64>,
    mins: Vec<f64>,
    targets: Vec<Target>,
    resolved: targets::Resolved,
    /// `kp_eff(dt)` of the current step (the same for every loop).
    kp_eff: f64,
    /// `1 / v` of the current step's normaliser.
    inv_value: f64,
}

impl PortfolioComputer {
    pub fn new(specs: Vec<PositionSpec>, params: ControlParams) -> Self {
        let n = specs.len();
        let targets = specs.iter().map(|s| s.target).collect();
        let mins = specs.iter().map(|s| s.min_units).collect();
        PortfolioComputer {
            specs,
            params,
            states: vec![PidState::default(); n],
            last_ts: None,
            last_value: 0.0,
            kp_eff: 0.0,
            inv_value: 0.0,
            values: vec![0.0; n],
            prices: vec![0.0; n],
            units: vec![0.0; n],
            settled: vec![0.0; n],
            mins,
            targets,
            resolved: targets::Resolved::default(),
        }
    }

    pub fn specs(&self) -> &[PositionSpec] {
        &self.specs
    }

    pub fn params(&self) -> &ControlParams {
        &self.params
    }

    pub fn states(&self) -> &[PidState] {
        &self.states
    }

    /// Export the state for persistence.
    pub fn export_state(&self) -> ControllerState {
        ControllerState {
            last_ts: self.last_ts,
            last_value: self.last_value,
            positions: self
                .specs
                .iter()
                .zip(&self.states)
                .map(|(s, st)| (s.key.to_string(), st.clone()))
                .collect(),
        }
    }

    /// Restore a persisted state. Positions are matched by `chain/asset`; new positions start fresh and
    /// positions no longer configured are dropped.
    pub fn import_state(&mut self, state: &ControllerState) {
        self.last_ts = state.last_ts;
        self.last_value = state.last_value;
        for (spec, st) in self.specs.iter().zip(self.states.iter_mut()) {
            *st = state
                .positions
                .get(&spec.key.to_string())
                .cloned()
                .unwrap_or_default();
        }
    }

    /// Apply new parameters (a config reload). Gain changes are bumpless.
    pub fn set_params(&mut self, params: ControlParams) {
        if params.gains != self.params.gains {
            for st in &mut self.states {
                pid::change_gains(&self.params.gains, &params.gains, st);
            }
        }
        self.params = params;
    }

    /// Replace the positions (targets, bands, tiers may change on reload). State is kept by position key.
    pub fn set_specs(&mut self, specs: Vec<PositionSpec>) {
        let old: BTreeMap<PositionKey, PidState> = self
            .specs
            .iter()
            .cloned()
            .map(|s| s.key)
            .zip(self.states.drain(..))
            .collect();
        self.states = specs
            .iter()
            .map(|s| old.get(&s.key).cloned().unwrap_or_default())
            .collect();
        let n = specs.len();
        self.targets = specs.iter().map(|s| s.target).collect();
        self.mins = specs.iter().map(|s| s.min_units).collect();
        self.values.resize(n, 0.0);
        self.prices.resize(n, 0.0);
        self.units.resize(n, 0.0);
        self.settled.resize(n, 0.0);
        self.specs = specs;
    }

    /// One control step at time `now`.
    pub fn step(&mut self, now: TimestampMs, obs: &Observation) -> Result<StepAudit, StepError> {
        let n = self.specs.len();
        for (what, got) in [
            ("balances", obs.balances.len()),
            ("pending amounts", obs.pending.len()),
            ("prices", obs.prices.len()),
            ("stale flags", obs.stale.len()),
        ] {
            if got != n {
                return Err(StepError::Shape {
                    what,
                    got,
                    expected: n,
                });
            }
        }
        let dt_ms = match self.last_ts {
            None => self.params.interval_ms,
            Some(last) if now <= last => return Err(StepError::TimeNotAdvancing { now, last }),
            Some(last) => ((now - last) as f64).min(self.params.max_dt_ms),
        };
        let dt = dt_ms / self.params.gain_period_ms;
        self.kp_eff = self.params.gains.kp_eff(dt);

        let mut portfolio_value = 0.0;
        for k in 0..n {
            let (balance, pending) = (to_f64(obs.balances[k]), to_f64(obs.pending[k]));
            let units = balance + pending;
            let price = to_f64(obs.prices[k]);
            self.settled[k] = (balance + pending.min(0.0)) * price;
            self.units[k] = units;
            self.prices[k] = price;
            let v = units * price;
            self.values[k] = v;
            if v.is_finite() && price > 0.0 {
                portfolio_value += v;
            }
        }
        targets::resolve(
            &self.targets,
            &self.values,
            &self.prices,
            &self.mins,
            self.params.mode,
            &mut self.resolved,
        );

        // Errors are normalised by the portfolio value, or by the sum of the absolute targets when that is
        // larger (an empty position with an absolute target still has an error to size).
        let mut scale = portfolio_value;
        let mut abs_targets = 0.0;
        for k in 0..n {
            if let Target::Amount(_) = self.targets[k] {
                abs_targets += self.resolved.value[k];
            }
        }
        if abs_targets.is_finite() && abs_targets > scale {
            scale = abs_targets;
        }

        self.inv_value = 1.0 / scale;
        let mut positions = Vec::with_capacity(n);
        for k in 0..n {
            positions.push(self.step_one(k, obs, dt, scale));
        }
        self.last_ts = Some(now);
        self.last_value = scale;
        Ok(StepAudit {
            ts: now,
            dt,
            portfolio_value,
            positions,
        })
    }

    /// Hold a position without output. With `integrate_in_band` the integral keeps integrating the error
    /// (bounded by `integral_limit_bps`), so it learns a persistent drift between the moves and the next
    /// move carries it (a drained position is refilled past its target by what the drift takes until the
    /// next refill: the error's mean, not its last value, goes to zero). Otherwise the integral is frozen.
    fn hold_integrating(&mut self, k: usize, e: f64, y: f64, dt: f64, audit: &mut PositionAudit) {
        let g = &self.params.gains;
        let st = &mut self.states[k];
        if self.params.integrate_in_band && g.ki > 0.0 {
            st.integral = (st.integral + g.ki * e * dt).clamp(-g.integral_limit, g.integral_limit);
        } else {
            audit.flags.set(Flags::INTEGRAL_FROZEN);
        }
        pid::hold(st, e, y, dt);
    }

    /// One position's step; `v` is the normaliser.
    fn step_one(&mut self, k: usize, obs: &Observation, dt: f64, v: f64) -> PositionAudit {
        let spec = &self.specs[k];
        let price = self.prices[k];
        let value = self.values[k];
        let target_value = self.resolved.value[k];
        let target = if price > 0.0 {
            target_value / price
        } else {
            f64::NAN
        };
        let error = target_value - value;
        let mut audit = PositionAudit {
            balance: obs.balances[k],
            pending: obs.pending[k],
            price: obs.prices[k],
            measurement: self.units[k],
            value,
            settled_value: self.settled[k],
            target,
            target_value,
            error,
            p: 0.0,
            i: 0.0,
            d: 0.0,
            command: 0.0,
            flags: Flags::default(),
            hold: None,
        };
        if self.resolved.overridden[k] {
            audit.flags.set(Flags::MIN_BALANCE);
        }
        let st = &mut self.states[k];

        let bad = if price.is_nan() || price <= 0.0 || price.is_infinite() {
            Some("price is missing, zero or not a number")
        } else if !value.is_finite() {
            Some("balance is not a number")
        } else {
            None
        };
        if let Some(what) = bad {
            audit.flags.set(Flags::BAD_DATA);
            audit.flags.set(Flags::INTEGRAL_FROZEN);
            audit.hold = Some(Hold::BadData(what));
            audit.i = st.integral * v;
            return audit;
        }
        if v.is_nan() || v <= 0.0 {
            audit.flags.set(Flags::INTEGRAL_FROZEN);
            audit.hold = Some(Hold::EmptyPortfolio);
            return audit;
        }
        // One division per step (`inv_v`), multiplications per position: a division's latency is a visible
        // share of a large cycle.
        let inv_v = self.inv_value;
        let mut e = error * inv_v;
        let y = value * inv_v;
        audit.i = st.integral * v;

        if obs.stale[k] {
            audit.flags.set(Flags::STALE);
            audit.flags.set(Flags::INTEGRAL_FROZEN);
            audit.hold = Some(Hold::Stale);
            pid::hold(st, e, y, dt);
            return audit;
        }

        // Deadband with hysteresis: act once outside the band, steer to target, stop when settled.
        let min_order = self.params.min_order_value;
        let tolerance = (self.params.settle_bps / 10_000.0 * target_value.abs()).max(min_order);
        if self.params.deficits_only && error < 0.0 {
            st.active = false;
            audit.hold = Some(Hold::RefillOnly);
            self.hold_integrating(k, e, y, dt, &mut audit);
            audit.i = self.states[k].integral * v;
            return audit;
        }
        if let Some(band) = spec.band {
            let scale = self.params.deadband_scale;
            let (low, high) = match band {
                BandSpec::Absolute { low, high } => (
                    target_value - scale * (target_value - to_f64(low) * price),
                    target_value + scale * (to_f64(high) * price - target_value),
                ),
                BandSpec::Relative { bps } => {
                    let w = scale * f64::from(bps) / 10_000.0 * target_value;
                    (target_value - w, target_value + w)
                }
            };
            let outside = value < low || value > high;
            if !st.active && outside {
                st.active = true;
                st.active_dir = if error > 0.0 { 1 } else { -1 };
                audit.flags.set(Flags::LEFT_BAND);
            }
            if st.active {
                // Steer to the aim: the target, or past it by `steer_past` of the band's far half.
                let dir = f64::from(st.active_dir);
                let far_half = if dir > 0.0 {
                    high - target_value
                } else {
                    target_value - low
                };
                let aimed = error + dir * self.params.steer_past * far_half.max(0.0);
                if dir * aimed <= tolerance {
                    st.active = false;
                } else {
                    e = aimed * inv_v;
                }
            }
            if !st.active {
                audit.flags.set(Flags::IN_BAND);
                audit.hold = Some(if outside {
                    Hold::Settled { tolerance }
                } else {
                    Hold::InBand { low, high }
                });
                self.hold_integrating(k, e, y, dt, &mut audit);
                audit.i = self.states[k].integral * v;
                return audit;
            }
        }

        let integral_before = st.integral;
        let limit = self.params.max_move_value * inv_v;
        let terms = pid::step(
            &self.params.gains,
            st,
            pid::PidInput {
                error: e,
                measurement: y,
                dt,
                freeze: false,
                limit,
                kp_eff: Some(self.kp_eff),
            },
        );
        let command = terms.output * v;
        audit.p = terms.p * v;
        audit.d = terms.d * v;
        let not_made = if self.params.deficits_only && command < 0.0 {
            // Refill only: a position below target is never drawn down, whatever the integral or the
            // derivative say (that would be a side flip).
            Some(Hold::RefillOnly)
        } else {
            if terms.saturated {
                audit.flags.set(Flags::SATURATED);
            }
            if terms.integral_frozen {
                audit.flags.set(Flags::INTEGRAL_FROZEN);
            }
            if command.abs() < min_order || command == 0.0 {
                audit.flags.set(Flags::BELOW_MIN_ORDER);
                Some(if spec.band.is_none() && error.abs() <= tolerance {
                    Hold::Settled { tolerance }
                } else {
                    Hold::BelowMinOrder {
                        value: command.abs(),
                        min: min_order,
                    }
                })
            } else {
                None
            }
        };
        if let Some(hold) = not_made {
            // The move will not be made: the integral must not wind up on it.
            st.integral = integral_before;
            st.last_command = 0.0;
            st.last_applied = 0.0;
            audit.flags.set(Flags::INTEGRAL_FROZEN);
            audit.i = st.integral * v;
            audit.hold = Some(hold);
            return audit;
        }
        audit.i = st.integral * v;
        audit.command = command;
        audit
    }

    /// Report what was applied of each position's last command, in base units (signed like the command):
    /// first the planner's routed amounts, later the executor's fills. Back-calculation uses the difference.
    pub fn record_applied(&mut self, applied: &[f64]) {
        let v = self.last_value;
        if v.is_nan() || v <= 0.0 {
            return;
        }
        let inv_v = 1.0 / v;
        let inv_tracking = 1.0 / self.params.gains.tracking();
        for (st, a) in self.states.iter_mut().zip(applied) {
            if st.last_command != 0.0 {
                pid::record_applied(&self.params.gains, inv_tracking, st, a * inv_v);
            }
        }
    }
}

#[cfg(test)]
mod tests;
