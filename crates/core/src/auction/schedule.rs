//! The price schedule of an auction: where it starts, the floor it never goes beyond, the shape of the descent,
//! and its timing. Everything here is a pure function of its arguments.
//!
//! Prices are expressed against a reference price `r` (the arrival mid or an oracle):
//!
//! ```text
//! sell: start = r * (1 + start_bps / 1e4)    floor = r * (1 - floor_bps / 1e4)
//! buy:  start = r * (1 - start_bps / 1e4)    floor = r * (1 + floor_bps / 1e4)
//! price(t) = start + (floor - start) * progress(min(t / duration, 1))
//! ```
//!
//! `progress` runs from 0 (the start price) to 1 (the floor) and is given by the [`Shape`].

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Side, from_f64, to_f64};

/// At most this many points in a piecewise shape.
pub const MAX_POINTS: usize = 16;

/// Largest accepted |curvature| of an exponential shape (beyond it the curve is a step).
pub const MAX_CURVATURE: f64 = 50.0;

const BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// How the price moves from the start to the floor over the duration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// `progress(x) = x`: the same price change every unit of time (Valence's curve).
    Linear,
    /// `progress(x) = (e^(k x) - 1) / (e^k - 1)`, `k` = `curvature` (0 is linear). A positive `k` stays near the
    /// start price longer and falls faster at the end; a negative `k` falls fast first and flattens toward the
    /// floor.
    Exponential { curvature: f64 },
    /// Piecewise linear through (0, 0), the given points, and (1, 1). Times strictly increase inside (0, 1);
    /// progress is in [0, 1] and never decreases. At most [`MAX_POINTS`] points.
    Piecewise { points: Vec<Point> },
}

/// One knot of a piecewise shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// Fraction of the duration, strictly between 0 and 1.
    pub time: Decimal,
    /// Fraction of the way from the start price to the floor, in [0, 1].
    pub progress: Decimal,
}

/// The schedule of one auction. Times are in milliseconds, relative to the auction's start.
///
/// Timeline: the maker phase follows the curve over `[0, duration_ms)`, then the order rests at the floor; the
/// last `taker_ms` before the deadline (if any) are the taker phase, where the remainder is offered as IOC at
/// the floor once per step; at `deadline_ms` whatever still rests is cancelled and the auction ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Start offset from the reference, in bps on the passive side (a sell starts above the reference).
    /// May be negative (a start through the reference), but never beyond the floor.
    pub start_bps: Decimal,
    /// Floor offset from the reference, in bps through it: the worst acceptable price (a sell never goes below
    /// `r * (1 - floor_bps / 1e4)`). Negative means the floor itself is on the passive side of the reference.
    pub floor_bps: Decimal,
    pub shape: Shape,
    /// Length of the descent from the start price to the floor.
    pub duration_ms: i64,
    /// Nominal interval between steps (reprices). Stretched when the rate budget is low.
    pub step_ms: i64,
    /// Length of the taker phase that ends at the deadline; 0 for none.
    pub taker_ms: i64,
    /// When the auction is over, after its start. At least `duration_ms + taker_ms`.
    pub deadline_ms: i64,
}

impl Default for Schedule {
    /// A starting point for stablecoin pairs: from 2 bps above the reference (for a sell) to a floor 10 bps
    /// through it, linearly over 5 minutes with a step every 2 seconds (above Hyperliquid's p99 ack latency),
    /// then 20 seconds of IOC at the floor.
    fn default() -> Self {
        Schedule {
            start_bps: Decimal::TWO,
            floor_bps: Decimal::TEN,
            shape: Shape::Linear,
            duration_ms: 300_000,
            step_ms: 2_000,
            taker_ms: 20_000,
            deadline_ms: 320_000,
        }
    }
}

/// What is wrong with a schedule.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    #[error("duration must be positive (got {0} ms)")]
    DurationNotPositive(i64),
    #[error("step interval must be positive (got {0} ms)")]
    StepNotPositive(i64),
    #[error("taker phase must not be negative (got {0} ms)")]
    TakerNegative(i64),
    #[error(
        "deadline {deadline_ms} ms is before the end of the schedule ({needed_ms} ms = duration + taker phase)"
    )]
    DeadlineBeforeEnd { deadline_ms: i64, needed_ms: i64 },
    #[error("{field} = {bps} bps is out of range (must be strictly between -10000 and 10000)")]
    BpsOutOfRange { field: &'static str, bps: Decimal },
    #[error(
        "start offset {start_bps} bps is beyond the floor ({floor_bps} bps): the start must be at least as passive as the floor (start_bps >= -floor_bps)"
    )]
    StartBeyondFloor {
        start_bps: Decimal,
        floor_bps: Decimal,
    },
    #[error(
        "exponential curvature {0} must be finite and at most {MAX_CURVATURE} in absolute value"
    )]
    Curvature(f64),
    #[error("piecewise shape has {0} points (at least 1, at most {MAX_POINTS})")]
    PointCount(usize),
    #[error("point {index}: time {time} must be strictly between 0 and 1")]
    PointTime { index: usize, time: Decimal },
    #[error("point {index}: progress {progress} must be between 0 and 1")]
    PointProgress { index: usize, progress: Decimal },
    #[error("point {index}: time {time} does not come after the previous point's {previous}")]
    TimesNotIncreasing {
        index: usize,
        time: Decimal,
        previous: Decimal,
    },
    #[error(
        "point {index}: progress {progress} goes back from the previous point's {previous} (the price would move away from the floor)"
    )]
    ProgressDecreasing {
        index: usize,
        progress: Decimal,
        previous: Decimal,
    },
}

impl Schedule {
    /// Check every rule; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.duration_ms <= 0 {
            return Err(ScheduleError::DurationNotPositive(self.duration_ms));
        }
        if self.step_ms <= 0 {
            return Err(ScheduleError::StepNotPositive(self.step_ms));
        }
        if self.taker_ms < 0 {
            return Err(ScheduleError::TakerNegative(self.taker_ms));
        }
        let needed_ms = self.duration_ms.saturating_add(self.taker_ms);
        if self.deadline_ms < needed_ms {
            return Err(ScheduleError::DeadlineBeforeEnd {
                deadline_ms: self.deadline_ms,
                needed_ms,
            });
        }
        for (field, bps) in [("start_bps", self.start_bps), ("floor_bps", self.floor_bps)] {
            if bps <= -BPS || bps >= BPS {
                return Err(ScheduleError::BpsOutOfRange { field, bps });
            }
        }
        if self.start_bps < -self.floor_bps {
            return Err(ScheduleError::StartBeyondFloor {
                start_bps: self.start_bps,
                floor_bps: self.floor_bps,
            });
        }
        self.shape.validate()
    }

    /// The continuous schedule price `elapsed_ms` after the start, for a reference price (no grid, no book).
    pub fn price_at(&self, side: Side, reference: Decimal, elapsed_ms: i64) -> Decimal {
        curve(
            start_price(side, reference, self.start_bps),
            floor_price(side, reference, self.floor_bps),
            &self.shape,
            elapsed_ms,
            self.duration_ms,
        )
    }
}

impl Shape {
    /// Check the shape's parameters.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        match self {
            Shape::Linear => Ok(()),
            Shape::Exponential { curvature } => {
                if curvature.is_finite() && curvature.abs() <= MAX_CURVATURE {
                    Ok(())
                } else {
                    Err(ScheduleError::Curvature(*curvature))
                }
            }
            Shape::Piecewise { points } => {
                if points.is_empty() || points.len() > MAX_POINTS {
                    return Err(ScheduleError::PointCount(points.len()));
                }
                let mut prev = Point {
                    time: Decimal::ZERO,
                    progress: Decimal::ZERO,
                };
                for (index, p) in points.iter().enumerate() {
                    if p.time <= Decimal::ZERO || p.time >= Decimal::ONE {
                        return Err(ScheduleError::PointTime {
                            index,
                            time: p.time,
                        });
                    }
                    if p.progress < Decimal::ZERO || p.progress > Decimal::ONE {
                        return Err(ScheduleError::PointProgress {
                            index,
                            progress: p.progress,
                        });
                    }
                    if index > 0 && p.time <= prev.time {
                        return Err(ScheduleError::TimesNotIncreasing {
                            index,
                            time: p.time,
                            previous: prev.time,
                        });
                    }
                    if p.progress < prev.progress {
                        return Err(ScheduleError::ProgressDecreasing {
                            index,
                            progress: p.progress,
                            previous: prev.progress,
                        });
                    }
                    prev = *p;
                }
                Ok(())
            }
        }
    }

    /// Progress from the start price (0) to the floor (1) at time fraction `x` (clamped to [0, 1]).
    pub fn progress(&self, x: Decimal) -> Decimal {
        let x = x.clamp(Decimal::ZERO, Decimal::ONE);
        let p = match self {
            Shape::Linear => x,
            Shape::Exponential { curvature } => {
                let k = *curvature;
                if k.abs() < 1e-9 {
                    x
                } else {
                    from_f64((k * to_f64(x)).exp_m1() / k.exp_m1()).unwrap_or(x)
                }
            }
            Shape::Piecewise { points } => {
                let mut lo = Point {
                    time: Decimal::ZERO,
                    progress: Decimal::ZERO,
                };
                let end = Point {
                    time: Decimal::ONE,
                    progress: Decimal::ONE,
                };
                let mut value = Decimal::ONE;
                for hi in points.iter().copied().chain(std::iter::once(end)) {
                    if x <= hi.time {
                        let span = hi.time - lo.time;
                        value = if span.is_zero() {
                            hi.progress
                        } else {
                            lo.progress + (hi.progress - lo.progress) * (x - lo.time) / span
                        };
                        break;
                    }
                    lo = hi;
                }
                value
            }
        };
        p.clamp(Decimal::ZERO, Decimal::ONE)
    }
}

/// The start price: `start_bps` from the reference on the passive side.
pub fn start_price(side: Side, reference: Decimal, start_bps: Decimal) -> Decimal {
    match side {
        Side::Sell => reference * (BPS + start_bps) / BPS,
        Side::Buy => reference * (BPS - start_bps) / BPS,
    }
}

/// The floor: `floor_bps` from the reference through it (the worst acceptable price).
pub fn floor_price(side: Side, reference: Decimal, floor_bps: Decimal) -> Decimal {
    match side {
        Side::Sell => reference * (BPS - floor_bps) / BPS,
        Side::Buy => reference * (BPS + floor_bps) / BPS,
    }
}

/// The continuous curve between a start price and a floor: `start + (floor - start) * progress(t / duration)`,
/// with `t` clamped to `[0, duration]`. Exact for the linear and piecewise shapes.
pub fn curve(
    start: Decimal,
    floor: Decimal,
    shape: &Shape,
    elapsed_ms: i64,
    duration_ms: i64,
) -> Decimal {
    let duration = duration_ms.max(1);
    let t = elapsed_ms.clamp(0, duration);
    if t == 0 {
        return start;
    }
    if t == duration {
        return floor;
    }
    if let Shape::Linear = shape
        && let Some(p) = linear_fast(start, floor, t, duration)
    {
        return p;
    }
    let x = Decimal::from(t) / Decimal::from(duration);
    start + (floor - start) * shape.progress(x)
}

/// The linear curve in integer arithmetic: `start + (floor - start) * t / duration` with one rounding (half
/// away from zero, at 18 decimals or the inputs' scale if finer), for prices whose mantissas fit in 64 bits;
/// `None` otherwise. A step computes it every `step_ms`, so it avoids the general 96-bit division.
fn linear_fast(start: Decimal, floor: Decimal, t: i64, duration: i64) -> Option<Decimal> {
    let scale = start.scale().max(floor.scale());
    let out_scale = scale.max(18);
    let widen = |d: Decimal| -> Option<i128> {
        i128::from(i64::try_from(d.mantissa()).ok()?)
            .checked_mul(10i128.checked_pow(out_scale - d.scale())?)
    };
    let (s, f) = (widen(start)?, widen(floor)?);
    let num = (f - s).checked_mul(i128::from(t))?;
    let d = i128::from(duration);
    let (q, r) = (num / d, num % d);
    // Half away from zero.
    let q = if 2 * r.abs() >= d {
        q + num.signum()
    } else {
        q
    };
    let m = s.checked_add(q)?;
    if out_scale > 28 || m.unsigned_abs() >= 1u128 << 96 {
        return None;
    }
    Some(Decimal::from_i128_with_scale(m, out_scale))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    proptest::proptest! {
        /// The integer linear curve is the exact value rounded once at 18 decimals: within that rounding (and
        /// the general path's own 28-digit rounding) of the general path's result, and exactly the start and
        /// the floor at the ends.
        #[test]
        fn linear_fast_matches_the_general_curve(
            sm in 1i64..10_000_000_000, fm in 1i64..10_000_000_000, ss in 0u32..=10, fs in 0u32..=10,
            t in 0i64..=1_000_000, d in 1i64..=1_000_000,
        ) {
            let (start, floor) = (Decimal::new(sm, ss), Decimal::new(fm, fs));
            let t = t.min(d);
            let fast = curve(start, floor, &Shape::Linear, t, d);
            let x = Decimal::from(t) / Decimal::from(d);
            let general = start + (floor - start) * x;
            // The general path keeps 28 significant digits, so its own error grows with the price.
            let tol = Decimal::new(6, 19) + general.abs() * Decimal::new(2, 27);
            proptest::prop_assert!((fast - general).abs() <= tol, "{fast} vs {general}");
            if t == 0 { proptest::prop_assert_eq!(fast, start); }
            if t == d { proptest::prop_assert_eq!(fast, floor); }
        }
    }

    #[test]
    fn valence_auction_curve() {
        // Oracle 1.5, +/-20 % over 1000 units of time (rebalancers.md section 2).
        let s = Schedule {
            start_bps: d("2000"),
            floor_bps: d("2000"),
            shape: Shape::Linear,
            duration_ms: 1000,
            step_ms: 1,
            taker_ms: 0,
            deadline_ms: 1000,
        };
        s.validate().unwrap();
        let r = d("1.5");
        assert_eq!(s.price_at(Side::Sell, r, 0), d("1.8"));
        assert_eq!(s.price_at(Side::Sell, r, 1000), d("1.2"));
        assert_eq!(s.price_at(Side::Sell, r, 100), d("1.74"));
        assert_eq!(s.price_at(Side::Sell, r, 250), d("1.65"));
        assert_eq!(s.price_at(Side::Sell, r, 500), d("1.5"));
        assert_eq!(s.price_at(Side::Sell, r, 623), d("1.4262"));
        // Beyond the duration it stays at the floor; before the start at the start.
        assert_eq!(s.price_at(Side::Sell, r, 5000), d("1.2"));
        assert_eq!(s.price_at(Side::Sell, r, -5), d("1.8"));
        // The buy mirror: from 1.2 up to 1.8.
        assert_eq!(s.price_at(Side::Buy, r, 0), d("1.2"));
        assert_eq!(s.price_at(Side::Buy, r, 623), d("1.5738"));
        assert_eq!(s.price_at(Side::Buy, r, 1000), d("1.8"));
    }

    #[test]
    fn exponential_bends_the_way_documented() {
        let x = d("0.5");
        let convex = Shape::Exponential { curvature: 3.0 }.progress(x);
        let concave = Shape::Exponential { curvature: -3.0 }.progress(x);
        // (e^1.5 - 1) / (e^3 - 1) = 0.18243...
        assert!((to_f64(convex) - ((1.5f64).exp_m1() / 3f64.exp_m1())).abs() < 1e-12);
        assert!(convex < x && concave > x);
        assert_eq!(Shape::Exponential { curvature: 0.0 }.progress(x), x);
        for k in [-10.0, -1.0, 1.0, 10.0] {
            let s = Shape::Exponential { curvature: k };
            assert_eq!(s.progress(Decimal::ZERO), Decimal::ZERO);
            assert_eq!(s.progress(Decimal::ONE), Decimal::ONE);
            let mut last = Decimal::ZERO;
            for i in 0..=100 {
                let p = s.progress(Decimal::new(i, 2));
                assert!(p >= last, "k={k} not monotone at {i}");
                last = p;
            }
        }
    }

    #[test]
    fn piecewise_interpolates_through_its_points() {
        let s = Shape::Piecewise {
            points: vec![
                Point {
                    time: d("0.5"),
                    progress: d("0.2"),
                },
                Point {
                    time: d("0.8"),
                    progress: d("1"),
                },
            ],
        };
        s.validate().unwrap();
        assert_eq!(s.progress(d("0.25")), d("0.1"));
        assert_eq!(s.progress(d("0.5")), d("0.2"));
        assert_eq!(s.progress(d("0.65")), d("0.6"));
        assert_eq!(s.progress(d("0.9")), d("1"));
        assert_eq!(s.progress(d("1")), d("1"));
    }

    #[test]
    fn validation_names_the_problem() {
        let ok = Schedule::default();
        ok.validate().unwrap();
        let bad = |f: &dyn Fn(&mut Schedule)| {
            let mut s = ok.clone();
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert_eq!(
            bad(&|s| s.duration_ms = 0),
            ScheduleError::DurationNotPositive(0)
        );
        assert_eq!(bad(&|s| s.step_ms = -1), ScheduleError::StepNotPositive(-1));
        assert_eq!(bad(&|s| s.taker_ms = -1), ScheduleError::TakerNegative(-1));
        assert_eq!(
            bad(&|s| s.deadline_ms = 300_000),
            ScheduleError::DeadlineBeforeEnd {
                deadline_ms: 300_000,
                needed_ms: 320_000
            }
        );
        assert!(matches!(
            bad(&|s| s.floor_bps = d("10000")),
            ScheduleError::BpsOutOfRange {
                field: "floor_bps",
                ..
            }
        ));
        let e = bad(&|s| s.start_bps = d("-11"));
        assert!(matches!(e, ScheduleError::StartBeyondFloor { .. }));
        assert!(e.to_string().contains("-11"), "{e}");
        assert_eq!(
            bad(&|s| s.shape = Shape::Exponential {
                curvature: f64::NAN
            })
            .to_string(),
            ScheduleError::Curvature(f64::NAN).to_string()
        );
        let pts = |v: &[(&str, &str)]| Shape::Piecewise {
            points: v
                .iter()
                .map(|(t, p)| Point {
                    time: d(t),
                    progress: d(p),
                })
                .collect(),
        };
        assert_eq!(bad(&|s| s.shape = pts(&[])), ScheduleError::PointCount(0));
        assert_eq!(
            bad(&|s| s.shape = pts(&[("0.5", "0.1"); 17])),
            ScheduleError::PointCount(17)
        );
        assert!(matches!(
            bad(&|s| s.shape = pts(&[("0", "0.1")])),
            ScheduleError::PointTime { index: 0, .. }
        ));
        assert!(matches!(
            bad(&|s| s.shape = pts(&[("0.5", "1.5")])),
            ScheduleError::PointProgress { index: 0, .. }
        ));
        assert!(matches!(
            bad(&|s| s.shape = pts(&[("0.5", "0.1"), ("0.5", "0.2")])),
            ScheduleError::TimesNotIncreasing { index: 1, .. }
        ));
        assert!(matches!(
            bad(&|s| s.shape = pts(&[("0.4", "0.3"), ("0.5", "0.2")])),
            ScheduleError::ProgressDecreasing { index: 1, .. }
        ));
    }
}
