//! One PID loop, as a pure function of (gains, state, input).
//!
//! Units: errors, measurements and outputs are normalised (a share of the portfolio value); time is counted in
//! gain periods (`dt = elapsed / gain_period`). The plant of a rebalancer is an integrator (each move adds to
//! the inventory position), so the output is a move per cycle:
//!
//! ```text
//! P = kp_eff * e                 kp_eff = 1 - (1 - kp)^dt    (kp per gain period; dt = 1 reproduces kp)
//! I = I + ki * e * dt            stored as the term, so a change of ki is bumpless
//! D = -kd * d(y)/dt              on the measurement, through a first-order filter with time constant kd/N
//! T                              bumpless-transfer term after a gain change; decays with bumpless_time
//! u = clamp(P + I + D + T)
//! ```
//!
//! Anti-windup: conditional integration (I frozen while the output is saturated in the direction of the
//! error, inside the band, while stale, or while the executor reports it could not act) and back-calculation
//! from the amount actually applied ([`record_applied`]).

use serde::{Deserialize, Serialize};

/// Gains and shaping parameters, in normalised units per gain period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gains {
    pub kp: f64,
    pub ki: f64,
    pub kd: f64,
    /// Derivative filter coefficient N (0 = unfiltered).
    pub d_filter: f64,
    /// Back-calculation tracking time in periods; `None` derives Ti = kp/ki (1 when kp = 0).
    pub tracking_periods: Option<f64>,
    /// Bumpless-transfer time constant in periods.
    pub bumpless_periods: f64,
    /// |I| bound (normalised).
    pub integral_limit: f64,
}

impl Gains {
    /// Effective proportional factor over `dt` periods.
    #[inline]
    pub fn kp_eff(&self, dt: f64) -> f64 {
        if self.kp >= 1.0 {
            1.0
        } else if self.kp <= 0.0 {
            0.0
        } else if dt == 1.0 {
            self.kp
        } else {
            1.0 - (1.0 - self.kp).powf(dt)
        }
    }

    pub(crate) fn tracking(&self) -> f64 {
        match self.tracking_periods {
            Some(t) if t > 0.0 => t,
            _ if self.ki > 0.0 && self.kp > 0.0 => self.kp / self.ki,
            _ => 1.0,
        }
    }
}

/// Persistent state of one loop. Serialisable so a restart continues where it stopped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PidState {
    /// Integral term (already multiplied by ki).
    pub integral: f64,
    /// Filtered derivative term.
    pub d_filtered: f64,
    /// Bumpless-transfer term.
    pub transfer: f64,
    /// Last measurement (normalised), `None` before the first step.
    pub last_measurement: Option<f64>,
    /// Last error (normalised), used for bumpless gain changes.
    pub last_error: f64,
    /// Last dt in periods.
    pub last_dt: f64,
    /// Last commanded output (normalised).
    pub last_command: f64,
    /// Output applied so far against the last command (planner cut, then executor fills).
    pub last_applied: f64,
    /// The last command was cut short by the planner or executor.
    pub limited: bool,
    /// Deadband hysteresis: true while steering back to target after leaving the band.
    pub active: bool,
    /// The direction being steered while active: +1 filling a deficit, -1 drawing down an excess.
    #[serde(default)]
    pub active_dir: i8,
}

/// Inputs of one step.
#[derive(Clone, Copy, Debug)]
pub struct PidInput {
    /// Target minus measurement (normalised).
    pub error: f64,
    /// Measurement (normalised).
    pub measurement: f64,
    /// Elapsed time in gain periods (> 0, already capped).
    pub dt: f64,
    /// Hold the integral (in band, stale, blocked).
    pub freeze: bool,
    /// Output limit (normalised); `f64::INFINITY` for none.
    pub limit: f64,
    /// `g.kp_eff(dt)` when the caller has it (one per cycle for every loop); `None` computes it.
    pub kp_eff: Option<f64>,
}

/// The terms of one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PidTerms {
    pub p: f64,
    pub i: f64,
    pub d: f64,
    pub transfer: f64,
    /// P + I + D + T before the clamp.
    pub unclamped: f64,
    /// Clamped output.
    pub output: f64,
    pub saturated: bool,
    /// The integral did not integrate this step.
    pub integral_frozen: bool,
}

/// Advance one loop by one step. The caller guarantees `dt > 0` and finite inputs.
#[inline]
pub fn step(g: &Gains, s: &mut PidState, input: PidInput) -> PidTerms {
    let PidInput {
        error: e,
        measurement: y,
        dt,
        freeze,
        limit,
        kp_eff,
    } = input;
    let p = kp_eff.unwrap_or_else(|| g.kp_eff(dt)) * e;

    // Derivative on the measurement, filtered.
    let d = match s.last_measurement {
        Some(prev) if g.kd > 0.0 => {
            let raw = -g.kd * (y - prev) / dt;
            let alpha = if g.d_filter > 0.0 {
                let tf = g.kd / g.d_filter;
                dt / (tf + dt)
            } else {
                1.0
            };
            s.d_filtered += alpha * (raw - s.d_filtered);
            s.d_filtered
        }
        _ => {
            s.d_filtered = 0.0;
            0.0
        }
    };

    // Conditional integration: integrate only if it does not push a saturated output further, and not while
    // the last command was cut in the same direction.
    let candidate = (s.integral + g.ki * e * dt).clamp(-g.integral_limit, g.integral_limit);
    let tentative = p + candidate + d + s.transfer;
    let pushes_saturation = tentative.abs() > limit && tentative.signum() == e.signum();
    let limited_same_way = s.limited && s.last_command.signum() == e.signum() && e != 0.0;
    let integral_frozen = freeze || g.ki == 0.0 || pushes_saturation || limited_same_way;
    if !integral_frozen {
        s.integral = candidate;
    }

    let unclamped = p + s.integral + d + s.transfer;
    let output = unclamped.clamp(-limit, limit);
    let saturated = unclamped.abs() > limit;
    let transfer = s.transfer;

    // The bumpless-transfer term fades after it has carried this step (the first step after a gain change
    // sees it in full, so the output does not jump).
    if s.transfer != 0.0 {
        s.transfer *= (-dt / g.bumpless_periods.max(1e-9)).exp();
        if s.transfer.abs() < 1e-12 {
            s.transfer = 0.0;
        }
    }

    s.last_measurement = Some(y);
    s.last_error = e;
    s.last_dt = dt;
    s.last_command = output;
    s.last_applied = output;
    s.limited = false;

    PidTerms {
        p,
        i: s.integral,
        d,
        transfer,
        unclamped,
        output,
        saturated,
        integral_frozen,
    }
}

/// Hold a loop without producing output (in band, stale): track the measurement so the derivative does not
/// kick when it resumes, and keep the integral.
pub fn hold(s: &mut PidState, error: f64, measurement: f64, dt: f64) {
    s.last_measurement = Some(measurement);
    s.last_error = error;
    s.last_dt = dt;
    s.last_command = 0.0;
    s.last_applied = 0.0;
    s.limited = false;
    s.d_filtered = 0.0;
}

/// Back-calculation: the executor (or the planner) applied `applied` of the last command. May be called
/// several times per cycle (planner cut, then fills): each call corrects only the difference from the
/// previous one. Returns the integral correction made.
pub fn record_applied(g: &Gains, inv_tracking: f64, s: &mut PidState, applied: f64) -> f64 {
    let applied = if s.last_command >= 0.0 {
        applied.clamp(0.0, s.last_command)
    } else {
        applied.clamp(s.last_command, 0.0)
    };
    let delta = applied - s.last_applied;
    s.last_applied = applied;
    if (s.last_command - applied).abs() > 1e-12 * s.last_command.abs().max(1e-12) {
        s.limited = true;
    }
    if g.ki == 0.0 || delta == 0.0 {
        return 0.0;
    }
    let beta = (s.last_dt.max(0.0) * inv_tracking).min(1.0);
    let before = s.integral;
    let moved = s.integral + beta * delta;
    // Back-calculation only removes windup: it may bring the integral to zero, never push it past.
    let bounded = if delta < 0.0 {
        moved.max(before.min(0.0))
    } else {
        moved.min(before.max(0.0))
    };
    s.integral = bounded.clamp(-g.integral_limit, g.integral_limit);
    s.integral - before
}

/// Bumpless gain change: the output at the last error and measurement is the same under the new gains; the
/// difference goes into the transfer term, which then fades. Integral is stored as a term, so a change of ki
/// needs nothing.
pub fn change_gains(old: &Gains, new: &Gains, s: &mut PidState) {
    if s.last_measurement.is_none() {
        return;
    }
    let dt = if s.last_dt > 0.0 { s.last_dt } else { 1.0 };
    let p_old = old.kp_eff(dt) * s.last_error;
    let p_new = new.kp_eff(dt) * s.last_error;
    // The filtered D term scales with kd.
    let d_old = s.d_filtered;
    let d_new = if old.kd > 0.0 {
        s.d_filtered * new.kd / old.kd
    } else {
        0.0
    };
    s.d_filtered = d_new;
    s.transfer += (p_old - p_new) + (d_old - d_new);
    s.integral = s.integral.clamp(-new.integral_limit, new.integral_limit);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gains(kp: f64, ki: f64, kd: f64) -> Gains {
        Gains {
            kp,
            ki,
            kd,
            d_filter: 10.0,
            tracking_periods: None,
            bumpless_periods: 1.0,
            integral_limit: 1.0,
        }
    }

    fn input(e: f64, y: f64) -> PidInput {
        PidInput {
            error: e,
            measurement: y,
            dt: 1.0,
            freeze: false,
            limit: f64::INFINITY,
            kp_eff: None,
        }
    }

    #[test]
    fn kp_is_per_period_and_interval_invariant() {
        let g = gains(0.5, 0.0, 0.0);
        assert_eq!(g.kp_eff(1.0), 0.5);
        // Two half-period steps remove the same share of the error as one full step.
        let k = g.kp_eff(0.5);
        assert!(((1.0 - k) * (1.0 - k) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn p_only_output_is_kp_times_error() {
        let g = gains(0.5, 0.0, 0.0);
        let mut s = PidState::default();
        let t = step(&g, &mut s, input(0.25, 0.0));
        assert_eq!(t.output, 0.125);
        assert!(t.integral_frozen);
    }

    #[test]
    fn integral_accumulates_and_freezes_when_saturated() {
        let g = gains(0.1, 0.1, 0.0);
        let mut s = PidState::default();
        let mut inp = input(0.5, 0.0);
        inp.limit = 0.06;
        let t = step(&g, &mut s, inp);
        // P alone (0.05) fits, but P + I (0.10) would exceed the limit in the error's direction: I does
        // not integrate.
        assert!(t.integral_frozen && !t.saturated);
        assert_eq!(s.integral, 0.0);
        inp.limit = 1.0;
        step(&g, &mut s, inp);
        assert!((s.integral - 0.05).abs() < 1e-12);
    }

    #[test]
    fn derivative_is_on_measurement_and_filtered() {
        let g = gains(0.0, 0.0, 1.0);
        let mut s = PidState::default();
        assert_eq!(step(&g, &mut s, input(0.0, 0.0)).d, 0.0);
        // A step in the measurement: the filtered D is a fraction of the raw -1.0.
        let t = step(&g, &mut s, input(0.0, 1.0));
        let alpha = 1.0 / (0.1 + 1.0);
        assert!((t.d + alpha).abs() < 1e-12);
        // A change of the error alone (target move) does not kick D.
        let t2 = step(&g, &mut s, input(5.0, 1.0));
        assert!(t2.d.abs() < t.d.abs());
    }

    #[test]
    fn back_calculation_removes_windup_incrementally() {
        let mut g = gains(0.5, 0.5, 0.0);
        g.tracking_periods = Some(1.0);
        let mut s = PidState::default();
        step(&g, &mut s, input(0.2, 0.0));
        let i0 = s.integral;
        assert!((i0 - 0.1).abs() < 1e-12);
        // Planner applied half, then the executor filled nothing of it.
        let half = s.last_command / 2.0;
        let inv_t = 1.0 / g.tracking();
        let c1 = record_applied(&g, inv_t, &mut s, half);
        let c2 = record_applied(&g, inv_t, &mut s, 0.0);
        assert!(c1 < 0.0, "the planner's cut unwinds the integral");
        assert_eq!(
            c2, 0.0,
            "already at zero: back-calculation never pushes it past"
        );
        assert!(s.integral < i0);
        assert_eq!(s.integral, 0.0);
        assert!(s.limited);
    }

    #[test]
    fn gain_change_is_bumpless() {
        let g1 = gains(0.5, 0.1, 0.0);
        let g2 = gains(0.2, 0.3, 0.0);
        let mut s = PidState::default();
        step(&g1, &mut s, input(0.3, 0.0));
        step(&g1, &mut s, input(0.3, 0.0));
        let before = s.last_command;
        let mut s2 = s.clone();
        change_gains(&g1, &g2, &mut s2);
        // The output for the same error right after the change equals the last one, up to the integral step
        // and the transfer's decay over the step.
        let mut probe = s2.clone();
        probe.transfer *= 1.0; // no decay yet
        let p_new = g2.kp_eff(1.0) * 0.3;
        let at_switch = p_new + probe.integral + probe.transfer;
        assert!(
            (at_switch - before).abs() < 1e-12,
            "{at_switch} vs {before}"
        );
    }
}
