//! Tracking and cost metrics of a replay.
//!
//! Errors are normalised per position by its target value (by the portfolio value when the target is 0), and
//! in total by the portfolio value. Integrals are over time in hours:
//!
//! - IAE = sum |e| dt, ISE = sum e^2 dt;
//! - ITAE = sum t |e| dt, where t (hours) is the time since the current disturbance began (a disturbance begins
//!   when the position leaves its band), so ITAE weighs slow recoveries, not the length of the run;
//! - max deviation, share of time outside the band;
//! - shortfall events: a position below its low band, or empty, when an outflow came (and the value of
//!   outflows that could not be served at all);
//! - turnover (value moved / mean portfolio value), fees, implementation shortfall, orders and replaces;
//! - side flips: the controller commanding a position the opposite way of its previous commanded move within
//!   24 hours (churn; being the counterparty of another position's move does not count);
//! - per disturbance: overshoot (the largest error on the other side of target before the next disturbance,
//!   as a share of target) and settling time (hours until back inside the band).

use serde::Serialize;

/// Accumulates the metrics of one run.
#[derive(Clone, Debug)]
pub struct Tracker {
    pos: Vec<PosAcc>,
    total: TotalAcc,
    start: i64,
    last: Option<i64>,
    /// A reversal of commanded direction within this window is a side flip.
    pub flip_window_ms: i64,
}

#[derive(Clone, Debug, Default)]
struct PosAcc {
    iae: f64,
    ise: f64,
    itae: f64,
    max_dev: f64,
    time: f64,
    outside: f64,
    shortfalls: u32,
    unserved: f64,
    sent: f64,
    received: f64,
    fees: f64,
    last_dir: i8,
    last_dir_at: i64,
    flips: u32,
    // Disturbance tracking.
    in_episode: bool,
    episode_start: i64,
    episode_sign: f64,
    settled: bool,
    peak_overshoot: f64,
    overshoots: Vec<f64>,
    settling_h: Vec<f64>,
    was_low_on_outflow: bool,
}

#[derive(Clone, Debug, Default)]
struct TotalAcc {
    iae: f64,
    iae_net: f64,
    ise: f64,
    itae_like: f64,
    value_time: f64,
    time: f64,
    orders: u64,
    fees: f64,
    turnover_value: f64,
}

/// One position's sample at a time.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub value: f64,
    pub target_value: f64,
    pub band_low: f64,
    pub band_high: f64,
}

/// Final per-position metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PositionMetrics {
    pub position: String,
    pub iae: f64,
    pub ise: f64,
    pub itae: f64,
    pub max_deviation: f64,
    pub time_outside_band: f64,
    pub shortfall_events: u32,
    pub unserved_outflow: f64,
    pub sent: f64,
    pub received: f64,
    pub fees: f64,
    pub side_flips: u32,
    pub disturbances: u32,
    pub mean_overshoot: f64,
    pub max_overshoot: f64,
    pub mean_settling_hours: Option<f64>,
    pub unsettled: u32,
}

/// Final totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TotalMetrics {
    pub iae: f64,
    /// The part of `iae` no moves among the positions can remove: the integral of |sum of (value - target)|
    /// over the portfolio value. Moves conserve the sum, so while every position is short (or every one long)
    /// the total error is at this floor. `iae - iae_net` is what rebalancing can act on.
    pub iae_net: f64,
    pub ise: f64,
    pub itae: f64,
    pub max_deviation: f64,
    pub time_outside_band: f64,
    pub shortfall_events: u32,
    pub unserved_outflow: f64,
    /// Value moved by the rebalancer divided by the mean portfolio value.
    pub turnover: f64,
    /// Mean portfolio value over the run, in base units.
    pub mean_value: f64,
    pub moved_value: f64,
    pub fees: f64,
    /// Implementation shortfall vs arrival price, in base units (fees included).
    pub implementation_shortfall: f64,
    pub orders: u64,
    pub replaces: u64,
    pub side_flips: u32,
    pub mean_overshoot: f64,
    pub mean_settling_hours: Option<f64>,
    pub hours: f64,
}

impl Tracker {
    pub fn new(positions: usize, start: i64) -> Tracker {
        Tracker {
            pos: vec![PosAcc::default(); positions],
            total: TotalAcc::default(),
            start,
            last: None,
            flip_window_ms: 24 * 3_600_000,
        }
    }

    /// Record every position at time `t` (ms). `samples[p]` is position p's value, target and band.
    pub fn sample(&mut self, t: i64, samples: &[Sample], portfolio_value: f64) {
        let dt_h = match self.last {
            Some(l) if t > l => (t - l) as f64 / 3_600_000.0,
            Some(_) => return,
            None => 0.0,
        };
        self.last = Some(t);
        let mut abs_sum = 0.0;
        let mut net_sum = 0.0;
        let mut sq_sum = 0.0;
        for (p, s) in samples.iter().enumerate() {
            let a = &mut self.pos[p];
            let denom = if s.target_value > 0.0 {
                s.target_value
            } else {
                portfolio_value.max(1e-9)
            };
            let e = (s.value - s.target_value) / denom;
            let outside = s.value < s.band_low || s.value > s.band_high;
            a.iae += e.abs() * dt_h;
            a.ise += e * e * dt_h;
            a.max_dev = a.max_dev.max(e.abs());
            a.time += dt_h;
            if outside {
                a.outside += dt_h;
            }
            // Disturbances: leaving the band starts one; the next one closes it.
            if outside && (!a.in_episode || a.settled) {
                if a.in_episode {
                    a.overshoots.push(a.peak_overshoot);
                }
                a.in_episode = true;
                a.episode_start = t;
                a.episode_sign = e.signum();
                a.settled = false;
                a.peak_overshoot = 0.0;
            }
            if a.in_episode {
                let since_h = (t - a.episode_start) as f64 / 3_600_000.0;
                a.itae += since_h * e.abs() * dt_h;
                if !a.settled && !outside {
                    a.settled = true;
                    a.settling_h.push(since_h);
                }
                if e.signum() == -a.episode_sign && e != 0.0 {
                    a.peak_overshoot = a.peak_overshoot.max(e.abs());
                }
            }
            a.was_low_on_outflow = s.value < s.band_low || s.value <= 0.0;
            abs_sum += (s.value - s.target_value).abs();
            net_sum += s.value - s.target_value;
            sq_sum += (s.value - s.target_value) * (s.value - s.target_value);
        }
        let v = portfolio_value.max(1e-9);
        self.total.iae += abs_sum / v * dt_h;
        self.total.iae_net += net_sum.abs() / v * dt_h;
        self.total.ise += sq_sum / (v * v) * dt_h;
        self.total.itae_like += (t - self.start) as f64 / 3_600_000.0 * abs_sum / v * dt_h;
        self.total.value_time += portfolio_value * dt_h;
        self.total.time += dt_h;
    }

    /// An exogenous outflow of `requested` hit position `p`, of which `served` could be paid.
    pub fn outflow(&mut self, p: usize, requested: f64, served: f64) {
        let a = &mut self.pos[p];
        if requested <= 0.0 {
            return;
        }
        if a.was_low_on_outflow || served + 1e-9 < requested {
            a.shortfalls += 1;
        }
        a.unserved += (requested - served).max(0.0);
    }

    /// A move sent `value` from `from` to `to` (received `value - fee`) at time `t`. `commanded` says, for
    /// each end, whether the controller commanded the move for that position (rather than using it as the
    /// counterparty of a move commanded at the other end, which only brings it toward its target). A side
    /// flip is a commanded move in the opposite direction of the position's previous commanded move within
    /// the flip window: the controller pushing a position one way and then pulling it back.
    pub fn moved(
        &mut self,
        t: i64,
        from: usize,
        to: usize,
        value: f64,
        fee: f64,
        commanded: (bool, bool),
    ) {
        self.total.turnover_value += value;
        self.total.fees += fee;
        self.total.orders += 1;
        for (p, dir, active) in [(from, -1i8, commanded.0), (to, 1i8, commanded.1)] {
            let a = &mut self.pos[p];
            if active {
                if a.last_dir != 0 && a.last_dir != dir && t - a.last_dir_at <= self.flip_window_ms
                {
                    a.flips += 1;
                }
                a.last_dir = dir;
                a.last_dir_at = t;
            }
            if dir < 0 {
                a.sent += value;
            } else {
                a.received += value - fee;
            }
        }
        self.pos[from].fees += fee;
    }

    /// Final metrics; the execution figures (implementation shortfall, replaces) come from the executor's
    /// own statistics.
    pub fn finish(
        &self,
        names: &[String],
        implementation_shortfall: f64,
        replaces: u64,
    ) -> (Vec<PositionMetrics>, TotalMetrics) {
        let mut per = Vec::with_capacity(self.pos.len());
        let mut all_over = Vec::new();
        let mut all_settle = Vec::new();
        let mut tot_outside = 0.0;
        let mut tot_time = 0.0;
        let mut shortfalls = 0;
        let mut unserved = 0.0;
        let mut flips = 0;
        let mut max_dev: f64 = 0.0;
        for (a, name) in self.pos.iter().zip(names) {
            let mut overs = a.overshoots.clone();
            if a.in_episode {
                overs.push(a.peak_overshoot);
            }
            let unsettled = u32::from(a.in_episode && !a.settled);
            let mean = |v: &[f64]| {
                if v.is_empty() {
                    0.0
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            };
            per.push(PositionMetrics {
                position: name.clone(),
                iae: a.iae,
                ise: a.ise,
                itae: a.itae,
                max_deviation: a.max_dev,
                time_outside_band: if a.time > 0.0 {
                    a.outside / a.time
                } else {
                    0.0
                },
                shortfall_events: a.shortfalls,
                unserved_outflow: a.unserved,
                sent: a.sent,
                received: a.received,
                fees: a.fees,
                side_flips: a.flips,
                disturbances: overs.len() as u32,
                mean_overshoot: mean(&overs),
                max_overshoot: overs.iter().cloned().fold(0.0, f64::max),
                mean_settling_hours: (!a.settling_h.is_empty()).then(|| mean(&a.settling_h)),
                unsettled,
            });
            all_over.extend(overs);
            all_settle.extend(a.settling_h.iter().copied());
            tot_outside += a.outside;
            tot_time += a.time;
            shortfalls += a.shortfalls;
            unserved += a.unserved;
            flips += a.flips;
            max_dev = max_dev.max(a.max_dev);
        }
        let mean_v = if self.total.time > 0.0 {
            self.total.value_time / self.total.time
        } else {
            0.0
        };
        let total = TotalMetrics {
            iae: self.total.iae,
            iae_net: self.total.iae_net,
            ise: self.total.ise,
            itae: self.total.itae_like,
            max_deviation: max_dev,
            time_outside_band: if tot_time > 0.0 {
                tot_outside / tot_time
            } else {
                0.0
            },
            shortfall_events: shortfalls,
            unserved_outflow: unserved,
            turnover: if mean_v > 0.0 {
                self.total.turnover_value / mean_v
            } else {
                0.0
            },
            mean_value: mean_v,
            moved_value: self.total.turnover_value,
            fees: self.total.fees,
            implementation_shortfall,
            orders: self.total.orders,
            replaces,
            side_flips: flips,
            mean_overshoot: if all_over.is_empty() {
                0.0
            } else {
                all_over.iter().sum::<f64>() / all_over.len() as f64
            },
            mean_settling_hours: (!all_settle.is_empty())
                .then(|| all_settle.iter().sum::<f64>() / all_settle.len() as f64),
            hours: self.total.time,
        };
        (per, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn s(value: f64) -> Sample {
        Sample {
            value,
            target_value: 100.0,
            band_low: 90.0,
            band_high: 110.0,
        }
    }

    #[test]
    fn integrals_of_a_known_error_path() {
        let mut t = Tracker::new(1, 0);
        // 0 error for an hour, then 20 % below target for two hours, then back.
        for (k, v) in [100.0, 100.0, 80.0, 80.0, 100.0].iter().enumerate() {
            t.sample(k as i64 * H, &[s(*v)], 100.0);
        }
        let (p, tot) = t.finish(&["a".into()], 0.0, 0);
        // Error is sampled at the end of each interval (right-hand rule).
        assert!((p[0].iae - 0.4).abs() < 1e-12, "{}", p[0].iae);
        assert!((p[0].ise - 0.08).abs() < 1e-12);
        assert!((p[0].max_deviation - 0.2).abs() < 1e-12);
        assert!((p[0].time_outside_band - 0.5).abs() < 1e-12);
        assert_eq!(p[0].disturbances, 1);
        assert_eq!(p[0].mean_settling_hours, Some(2.0));
        assert!((tot.iae - 0.4).abs() < 1e-12);
        // One position: nothing to rebalance against, all of its error is net.
        assert!((tot.iae_net - 0.4).abs() < 1e-12);
        assert_eq!(tot.hours, 4.0);
    }

    #[test]
    fn net_iae_is_the_part_no_move_among_positions_removes() {
        let mut t = Tracker::new(2, 0);
        // a 20 short while b is 20 long: all of it can be moved away (net 0); then both short by 10: none can.
        for (k, (a, b)) in [(100.0, 100.0), (80.0, 120.0), (90.0, 90.0)]
            .iter()
            .enumerate()
        {
            t.sample(k as i64 * H, &[s(*a), s(*b)], 200.0);
        }
        let (_, tot) = t.finish(&["a".into(), "b".into()], 0.0, 0);
        assert!(
            (tot.iae - (40.0 + 20.0) / 200.0).abs() < 1e-12,
            "{}",
            tot.iae
        );
        assert!(
            (tot.iae_net - 20.0 / 200.0).abs() < 1e-12,
            "{}",
            tot.iae_net
        );
    }

    #[test]
    fn overshoot_and_side_flips() {
        let mut t = Tracker::new(2, 0);
        for (k, v) in [100.0, 80.0, 105.0, 115.0, 100.0].iter().enumerate() {
            t.sample(k as i64 * H, &[s(*v), s(100.0)], 200.0);
        }
        t.moved(0, 1, 0, 30.0, 0.1, (true, true));
        t.moved(H, 0, 1, 10.0, 0.1, (true, true));
        // A counterparty use does not flip, nor does a reversal a day later.
        t.moved(2 * H, 1, 0, 10.0, 0.1, (false, false));
        t.moved(30 * H, 1, 0, 10.0, 0.1, (true, true));
        let (p, tot) = t.finish(&["a".into(), "b".into()], 0.0, 0);
        // Two disturbances: below (80), which overshot to +5 % on the way back, and above (115), which
        // settled without crossing.
        assert_eq!(p[0].disturbances, 2);
        assert!((p[0].max_overshoot - 0.05).abs() < 1e-12, "{:?}", p[0]);
        assert!((p[0].mean_overshoot - 0.025).abs() < 1e-12);
        assert_eq!(p[0].side_flips, 1);
        assert_eq!(p[1].side_flips, 1);
        assert_eq!(tot.orders, 4);
        assert!((tot.fees - 0.4).abs() < 1e-12);
    }

    #[test]
    fn shortfalls_count_outflows_that_found_the_position_low_or_empty() {
        let mut t = Tracker::new(1, 0);
        t.sample(0, &[s(100.0)], 100.0);
        t.outflow(0, 10.0, 10.0);
        t.sample(H, &[s(85.0)], 100.0);
        t.outflow(0, 10.0, 10.0);
        t.sample(2 * H, &[s(5.0)], 100.0);
        t.outflow(0, 10.0, 5.0);
        let (p, _) = t.finish(&["a".into()], 0.0, 0);
        assert_eq!(p[0].shortfall_events, 2);
        assert_eq!(p[0].unserved_outflow, 5.0);
    }
}
