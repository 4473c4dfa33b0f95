//! Tests of the portfolio computer: step response, anti-windup, bumpless changes, deadband, clamps, dt.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::model::from_f64;
use crate::params::BandSpec;

const HOUR: i64 = 3_600_000;

fn params(kp: f64, ki: f64, kd: f64) -> ControlParams {
    ControlParams {
        gains: Gains {
            kp,
            ki,
            kd,
            d_filter: 10.0,
            tracking_periods: None,
            bumpless_periods: 1.0,
            integral_limit: 1.0,
        },
        gain_period_ms: HOUR as f64,
        interval_ms: HOUR as f64,
        max_dt_ms: 10.0 * HOUR as f64,
        min_order_value: 1.0,
        max_move_value: f64::INFINITY,
        settle_bps: 0.0,
        deadband_scale: 1.0,
        deficits_only: false,
        integrate_in_band: false,
        steer_past: 0.0,
        mode: Redistribution::Proportional,
    }
}

fn spec(chain: &str, target: f64) -> PositionSpec {
    PositionSpec {
        key: PositionKey::new(chain, "USDC"),
        target: Target::Amount(target),
        band: None,
        min_units: 0.0,
        tier: 0,
        decimals: 6,
    }
}

fn obs(balances: &[f64]) -> Observation {
    Observation {
        balances: balances.iter().map(|b| from_f64(*b).unwrap()).collect(),
        pending: vec![Decimal::ZERO; balances.len()],
        prices: vec![Decimal::ONE; balances.len()],
        stale: vec![false; balances.len()],
    }
}

/// Closed loop on one position against an infinite reservoir: each command is applied in full.
fn simulate(c: &mut PortfolioComputer, start: f64, steps: usize, dt_ms: i64) -> Vec<f64> {
    let mut b = start;
    let mut path = vec![b];
    for k in 0..steps {
        let a = c.step((k as i64 + 1) * dt_ms, &obs(&[b])).unwrap();
        let u = a.positions[0].command;
        c.record_applied(&[u]);
        b += u;
        path.push(b);
    }
    path
}

#[test]
fn step_response_converges_without_overshoot_on_default_gains() {
    // The shipped default: kp 0.5, ki 0, kd 0.
    let mut c = PortfolioComputer::new(vec![spec("a", 1000.0)], params(0.5, 0.0, 0.0));
    let path = simulate(&mut c, 0.0, 20, HOUR);
    assert!(
        path.iter().all(|b| *b <= 1000.0 + 1e-9),
        "overshoot: {path:?}"
    );
    // It stops once the next move (kp * error) would be below min_order_value (1): within 2 of target.
    assert!(
        (1000.0 - path.last().unwrap()).abs() <= 2.0 + 1e-9,
        "did not converge: {path:?}"
    );
    // Monotone approach.
    assert!(path.windows(2).all(|w| w[1] >= w[0]));
}

#[test]
fn pi_removes_the_steady_state_error_of_a_constant_drain() {
    // 20/h drains from the position. P alone settles below target; PI brings it back.
    let run = |ki: f64| {
        let mut c = PortfolioComputer::new(vec![spec("a", 1000.0)], params(0.5, ki, 0.0));
        let mut b = 1000.0;
        for k in 0..200 {
            let a = c.step((k + 1) * HOUR, &obs(&[b])).unwrap();
            let u = a.positions[0].command;
            c.record_applied(&[u]);
            b += u - 20.0;
        }
        1000.0 - b
    };
    let p_only = run(0.0);
    let pi = run(0.2);
    assert!(p_only > 15.0, "P-only keeps an offset: {p_only}");
    assert!(pi.abs() < 1.0, "PI removes it: {pi}");
}

#[test]
fn changing_the_interval_keeps_the_loops_behaviour() {
    // Same gains per hour; cycles every hour vs every 15 minutes: after 6 hours the same share is left.
    let mut hourly = PortfolioComputer::new(vec![spec("a", 1000.0)], params(0.5, 0.0, 0.0));
    let mut quarter = PortfolioComputer::new(vec![spec("a", 1000.0)], {
        let mut p = params(0.5, 0.0, 0.0);
        p.interval_ms = (HOUR / 4) as f64;
        p.min_order_value = 0.0;
        p
    });
    let h = simulate(&mut hourly, 0.0, 6, HOUR);
    let q = simulate(&mut quarter, 0.0, 24, HOUR / 4);
    let (eh, eq) = (1000.0 - h[6], 1000.0 - q[24]);
    assert!((eh - eq).abs() < 1.0, "hourly {eh} vs quarter-hourly {eq}");
}

#[test]
fn integral_is_bounded_under_saturation() {
    let mut p = params(0.1, 0.5, 0.0);
    p.max_move_value = 10.0;
    let mut c = PortfolioComputer::new(vec![spec("a", 1_000_000.0), spec("b", 0.0)], p);
    // The executor never manages to move anything: the error persists for 500 cycles.
    for k in 0..500 {
        let a = c.step((k + 1) * HOUR, &obs(&[0.0, 1_000_000.0])).unwrap();
        assert!(a.positions[0].command.abs() <= 10.0 + 1e-9);
        c.record_applied(&[0.0, 0.0]);
    }
    let i = c.states()[0].integral;
    assert!(i.abs() <= 1.0, "integral {i} beyond its limit");
    // Saturated the whole time: the integral never started integrating.
    assert!(i.abs() < 1e-9, "integral wound up to {i}");
}

#[test]
fn a_gain_change_does_not_jump_the_output() {
    let mut c = PortfolioComputer::new(vec![spec("a", 1000.0)], params(0.5, 0.1, 0.0));
    c.step(HOUR, &obs(&[600.0])).unwrap();
    c.record_applied(&[0.0]);
    let before = c.step(2 * HOUR, &obs(&[600.0])).unwrap().positions[0].command;
    c.record_applied(&[0.0]);
    let mut changed = c.clone();
    changed.set_params(params(0.9, 0.1, 0.0));
    // The next cycle, same measurement: the output continues from where it was.
    let mut unchanged = c.clone();
    let t = 3 * HOUR;
    let a = changed.step(t, &obs(&[600.0])).unwrap().positions[0].command;
    let b = unchanged.step(t, &obs(&[600.0])).unwrap().positions[0].command;
    assert!(
        (a - b).abs() < 1e-6,
        "output jumped from {b} to {a} (previous cycle {before})"
    );
    // And the new gains take over as the transfer term fades.
    let later = changed.step(20 * HOUR, &obs(&[600.0])).unwrap().positions[0].clone();
    assert!(later.p > 0.85 * 400.0, "new kp in force: {}", later.p);
}

#[test]
fn no_move_inside_the_band_and_hysteresis() {
    let mut s = spec("a", 1000.0);
    s.band = Some(BandSpec::Absolute {
        low: Decimal::from(900),
        high: Decimal::from(1100),
    });
    let mut c = PortfolioComputer::new(vec![s], params(1.0, 0.3, 0.0));
    // Inside: nothing, integral frozen.
    let a = c.step(HOUR, &obs(&[950.0])).unwrap();
    assert_eq!(a.positions[0].command, 0.0);
    assert!(a.positions[0].flags.contains(Flags::IN_BAND));
    assert!(matches!(a.positions[0].hold, Some(Hold::InBand { .. })));
    assert_eq!(c.states()[0].integral, 0.0);
    // Leaves the band: steer all the way to target, not just back into the band.
    let a = c.step(2 * HOUR, &obs(&[850.0])).unwrap();
    assert!(a.positions[0].flags.contains(Flags::LEFT_BAND));
    assert!(a.positions[0].command >= 150.0 - 1e-9);
    // Back inside but not at target yet: still active (hysteresis), keeps steering.
    let a = c.step(3 * HOUR, &obs(&[950.0])).unwrap();
    assert!(a.positions[0].command > 0.0);
    // At target: settles, then holds inside the band again.
    let a = c.step(4 * HOUR, &obs(&[1000.0])).unwrap();
    assert_eq!(a.positions[0].command, 0.0);
    let a = c.step(5 * HOUR, &obs(&[960.0])).unwrap();
    assert_eq!(a.positions[0].command, 0.0);
}

#[test]
fn stale_positions_hold_and_say_why() {
    let mut c = PortfolioComputer::new(
        vec![spec("a", 1000.0), spec("b", 1000.0)],
        params(0.5, 0.2, 0.0),
    );
    let mut o = obs(&[500.0, 1500.0]);
    o.stale[0] = true;
    let a = c.step(HOUR, &o).unwrap();
    assert_eq!(a.positions[0].command, 0.0);
    assert_eq!(a.positions[0].hold, Some(Hold::Stale));
    assert!(a.positions[1].command < 0.0, "other positions keep working");
    assert_eq!(c.states()[0].integral, 0.0);
}

#[test]
fn bad_numbers_hold_instead_of_trading() {
    let mut c = PortfolioComputer::new(
        vec![spec("a", 1000.0), spec("b", 1000.0)],
        params(0.5, 0.0, 0.0),
    );
    let mut o = obs(&[500.0, 1500.0]);
    o.prices[0] = Decimal::ZERO;
    let a = c.step(HOUR, &o).unwrap();
    assert_eq!(a.positions[0].command, 0.0);
    assert!(a.positions[0].flags.contains(Flags::BAD_DATA));
}

#[test]
fn dt_edge_cases() {
    let mut c = PortfolioComputer::new(vec![spec("a", 1000.0)], params(0.5, 0.1, 0.0));
    // First step: dt is one interval.
    let a = c.step(10 * HOUR, &obs(&[0.0])).unwrap();
    assert_eq!(a.dt, 1.0);
    // Same time or backwards: refused, state unchanged.
    let before = c.export_state();
    assert!(matches!(
        c.step(10 * HOUR, &obs(&[0.0])),
        Err(StepError::TimeNotAdvancing { .. })
    ));
    assert!(matches!(
        c.step(9 * HOUR, &obs(&[0.0])),
        Err(StepError::TimeNotAdvancing { .. })
    ));
    assert_eq!(c.export_state(), before);
    // After a day of downtime: capped at max_dt (10 intervals), no giant integral jump.
    let a = c.step(34 * HOUR, &obs(&[0.0])).unwrap();
    assert_eq!(a.dt, 10.0);
    assert!(c.states()[0].integral <= 1.0);
    // Shape mismatch is refused.
    assert!(matches!(
        c.step(35 * HOUR, &obs(&[0.0, 1.0])),
        Err(StepError::Shape { .. })
    ));
}

#[test]
fn moves_below_min_order_are_not_made_and_do_not_wind_up() {
    let mut p = params(0.5, 0.1, 0.0);
    p.min_order_value = 100.0;
    let mut c = PortfolioComputer::new(vec![spec("a", 1000.0)], p);
    for k in 0..50 {
        // Error 150 (above the minimum), but P + I = 75 + 15 is below it.
        let a = c.step((k + 1) * HOUR, &obs(&[850.0])).unwrap();
        assert_eq!(a.positions[0].command, 0.0);
        assert!(
            matches!(a.positions[0].hold, Some(Hold::BelowMinOrder { .. })),
            "{:?}",
            a.positions[0].hold
        );
    }
    assert_eq!(
        c.states()[0].integral,
        0.0,
        "the integral must not fire periodically"
    );
}

#[test]
fn state_round_trips_and_continues() {
    let mut a = PortfolioComputer::new(
        vec![spec("a", 1000.0), spec("b", 500.0)],
        params(0.5, 0.2, 0.1),
    );
    a.step(HOUR, &obs(&[100.0, 900.0])).unwrap();
    a.record_applied(&[0.0, 0.0]);
    let json = serde_json::to_string(&a.export_state()).unwrap();
    let mut b = PortfolioComputer::new(
        vec![spec("b", 500.0), spec("a", 1000.0)],
        a.params().clone(),
    );
    b.import_state(&serde_json::from_str(&json).unwrap());
    let ra = a.step(2 * HOUR, &obs(&[150.0, 850.0])).unwrap();
    let rb = b.step(2 * HOUR, &obs(&[850.0, 150.0])).unwrap();
    assert_eq!(ra.positions[0].command, rb.positions[1].command);
    assert_eq!(ra.positions[1].command, rb.positions[0].command);
}

#[test]
fn pending_amounts_count_in_the_measurement() {
    let mut c = PortfolioComputer::new(vec![spec("a", 1000.0)], params(1.0, 0.0, 0.0));
    let mut o = obs(&[400.0]);
    o.pending[0] = Decimal::from(600);
    let a = c.step(HOUR, &o).unwrap();
    assert_eq!(
        a.positions[0].command, 0.0,
        "the move in flight already covers the gap"
    );
}

proptest! {
    /// `act_on = "deficits"`: whatever the path and gains, no command points down, and a position above
    /// target is held (the integral and derivative of a drained, then refilled, position cannot flip it).
    #[test]
    fn refill_only_never_commands_down(
        path in proptest::collection::vec(0.0f64..3000.0, 2..40),
        kp in 0.05f64..1.0, ki in 0.0f64..1.0, kd in 0.0f64..1.0,
    ) {
        let mut p = params(kp, ki, kd);
        p.deficits_only = true;
        let mut c = PortfolioComputer::new(vec![spec("a", 1000.0), spec("b", 1000.0)], p);
        for (i, b) in path.iter().enumerate() {
            let a = c.step((i as i64 + 1) * HOUR, &obs(&[*b, 1000.0])).unwrap();
            let pos = &a.positions[0];
            prop_assert!(pos.command >= 0.0, "step {i}: command {} at balance {b}", pos.command);
            if pos.command == 0.0 && pos.error < 0.0 {
                prop_assert_eq!(pos.hold.clone(), Some(Hold::RefillOnly));
            }
            c.record_applied(&[pos.command, 0.0]);
        }
    }

    #[test]
    fn prop_output_never_beyond_the_clamp(
        kp in 0.0f64..=1.0, ki in 0.0f64..2.0, kd in 0.0f64..2.0,
        clamp in 1.0f64..10_000.0,
        balances in proptest::collection::vec(0.0f64..100_000.0, 1..40),
    ) {
        let mut p = params(kp, ki, kd);
        p.max_move_value = clamp;
        let specs: Vec<_> = (0..3).map(|i| spec(&format!("c{i}"), 10_000.0)).collect();
        let mut c = PortfolioComputer::new(specs, p);
        for (k, b) in balances.iter().enumerate() {
            let a = c.step((k as i64 + 1) * HOUR, &obs(&[*b, 20_000.0 - b.min(20_000.0), 10_000.0])).unwrap();
            for pos in &a.positions {
                prop_assert!(pos.command.abs() <= clamp * (1.0 + 1e-12));
                prop_assert!(pos.command.is_finite());
            }
            c.record_applied(&[0.0, 0.0, 0.0]);
        }
    }

    #[test]
    fn prop_no_move_inside_the_band(b in 900.0f64..=1100.0, kp in 0.0f64..=1.0, ki in 0.0f64..1.0) {
        let mut s = spec("a", 1000.0);
        s.band = Some(BandSpec::Absolute { low: Decimal::from(900), high: Decimal::from(1100) });
        let mut c = PortfolioComputer::new(vec![s], params(kp, ki, 0.0));
        let a = c.step(HOUR, &obs(&[b])).unwrap();
        prop_assert_eq!(a.positions[0].command, 0.0);
        prop_assert_eq!(c.states()[0].integral, 0.0);
    }

    #[test]
    fn prop_zero_error_and_zero_integral_give_zero_output(kp in 0.0f64..=1.0, ki in 0.0f64..1.0, target in 1.0f64..1e7) {
        let mut c = PortfolioComputer::new(vec![spec("a", target)], params(kp, ki, 0.0));
        let a = c.step(HOUR, &obs(&[target])).unwrap();
        prop_assert_eq!(a.positions[0].command, 0.0);
    }

    #[test]
    fn prop_integral_monotone_until_clamp_under_constant_error(ki in 0.01f64..1.0) {
        let mut p = params(0.0, ki, 0.0);
        p.min_order_value = 0.0;
        let mut c = PortfolioComputer::new(vec![spec("a", 1000.0), spec("b", 1000.0)], p);
        let mut last = 0.0;
        for k in 0..30 {
            c.step((k + 1) * HOUR, &obs(&[500.0, 1500.0])).unwrap();
            let i = c.states()[0].integral;
            prop_assert!(i >= last - 1e-15);
            prop_assert!(i <= 1.0 + 1e-12);
            last = i;
            // Report everything applied: no back-calculation.
            let cmd = c.states().iter().map(|s| s.last_command * 2000.0).collect::<Vec<_>>();
            c.record_applied(&cmd);
        }
    }

    #[test]
    fn prop_dt_never_nonpositive_or_beyond_the_cap(gaps in proptest::collection::vec(1i64..100 * HOUR, 1..20)) {
        let mut c = PortfolioComputer::new(vec![spec("a", 1000.0)], params(0.5, 0.1, 0.1));
        let mut t = 0;
        for g in gaps {
            t += g;
            let a = c.step(t, &obs(&[700.0])).unwrap();
            prop_assert!(a.dt > 0.0 && a.dt <= 10.0);
        }
    }
}
