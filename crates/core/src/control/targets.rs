//! Target resolution: absolute amounts or weights of the portfolio value, with the `min_balance` override.
//!
//! Weights resolve against the value of the weighted positions (the whole portfolio when every position is
//! weighted). A weighted position with a `min_balance` whose weight is worth less than that minimum gets, for
//! this cycle, the weight `min(1, min_value / V)`; the other weights shrink to make room, either in proportion
//! to themselves (`w / (1 - w_pinned) * leftover`) or by priority (filled in the order of the configuration
//! until the leftover runs out). Several positions may carry a minimum: they are pinned in configuration order.

// Index loops over parallel slices read best here.
#![allow(clippy::needless_range_loop)]

use crate::params::Redistribution;

/// How one position's target is given, in the units the core computes with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// Units of the asset.
    Amount(f64),
    /// Share of the weighted value (0..=1).
    Weight(f64),
}

/// Scratch and results of one resolution, reused across cycles so resolution allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    /// Target value per position (base units).
    pub value: Vec<f64>,
    /// The effective weight this cycle (for weighted positions).
    pub weight: Vec<f64>,
    /// True where `min_balance` raised the target.
    pub overridden: Vec<bool>,
    /// Value of the weighted positions.
    pub weighted_value: f64,
}

/// Resolve the targets of every position.
///
/// `values` are the measured values (inventory positions times prices); `min_values` the `min_balance` of
/// each position in base units (0 for none); `prices` the price of each position's asset.
pub fn resolve(
    targets: &[Target],
    values: &[f64],
    prices: &[f64],
    min_units: &[f64],
    mode: Redistribution,
    out: &mut Resolved,
) {
    let n = targets.len();
    out.value.clear();
    out.value.resize(n, 0.0);
    out.weight.clear();
    out.weight.resize(n, 0.0);
    out.overridden.clear();
    out.overridden.resize(n, false);

    let mut vw = 0.0;
    let mut any_weight = false;
    let mut any_min_on_weight = false;
    for k in 0..n {
        match targets[k] {
            Target::Weight(w) => {
                vw += values[k];
                any_weight = true;
                out.weight[k] = w;
                any_min_on_weight |= min_units[k] > 0.0;
            }
            Target::Amount(a) => {
                let units = if min_units[k] > a {
                    out.overridden[k] = true;
                    min_units[k]
                } else {
                    a
                };
                out.value[k] = units * prices[k];
            }
        }
    }
    out.weighted_value = vw;
    if !any_weight {
        return;
    }

    if any_min_on_weight && vw > 0.0 {
        // Pin, in configuration order, every weighted position whose minimum is worth more than its weight.
        let mut pinned_total: f64 = 0.0;
        for k in 0..n {
            if let Target::Weight(w) = targets[k] {
                let min_value = min_units[k] * prices[k];
                if min_units[k] > 0.0 && w * vw < min_value {
                    let room = (1.0 - pinned_total).max(0.0);
                    let nw = (min_value / vw).min(1.0).min(room);
                    out.weight[k] = nw;
                    out.overridden[k] = true;
                    pinned_total += nw;
                }
            }
        }
        if pinned_total > 0.0 {
            let leftover = (1.0 - pinned_total).max(0.0);
            match mode {
                Redistribution::Proportional => {
                    let free: f64 = (0..n)
                        .filter(|&k| !out.overridden[k])
                        .filter_map(|k| match targets[k] {
                            Target::Weight(w) => Some(w),
                            _ => None,
                        })
                        .sum();
                    for k in 0..n {
                        if let (Target::Weight(w), false) = (targets[k], out.overridden[k]) {
                            out.weight[k] = if free > 0.0 { w / free * leftover } else { 0.0 };
                        }
                    }
                }
                Redistribution::Priority => {
                    let mut left = leftover;
                    for k in 0..n {
                        if let (Target::Weight(w), false) = (targets[k], out.overridden[k]) {
                            let take = w.min(left);
                            out.weight[k] = take;
                            left -= take;
                        }
                    }
                }
            }
        }
    }

    for k in 0..n {
        if let Target::Weight(_) = targets[k] {
            out.value[k] = out.weight[k] * vw;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(targets: &[Target], values: &[f64], mins: &[f64], mode: Redistribution) -> Resolved {
        let prices = vec![1.0; targets.len()];
        let mut out = Resolved::default();
        resolve(targets, values, &prices, mins, mode, &mut out);
        out
    }

    #[test]
    fn absolute_targets_and_their_minimum() {
        let r = run(
            &[Target::Amount(100.0), Target::Amount(50.0)],
            &[10.0, 10.0],
            &[0.0, 80.0],
            Redistribution::Proportional,
        );
        assert_eq!(r.value, vec![100.0, 80.0]);
        assert_eq!(r.overridden, vec![false, true]);
    }

    #[test]
    fn weights_resolve_against_the_weighted_value() {
        let r = run(
            &[
                Target::Weight(0.75),
                Target::Weight(0.25),
                Target::Amount(10.0),
            ],
            &[1000.0, 0.0, 5.0],
            &[0.0; 3],
            Redistribution::Proportional,
        );
        assert_eq!(r.value, vec![750.0, 250.0, 10.0]);
    }

    #[test]
    fn min_balance_proportional_matches_valence_formula() {
        // V = 1000; A 50 %, B 30 %, C 20 %; C has a minimum worth 400 -> weight 0.4, leftover 0.6 shared 5:3.
        let t = [
            Target::Weight(0.5),
            Target::Weight(0.3),
            Target::Weight(0.2),
        ];
        let r = run(
            &t,
            &[500.0, 300.0, 200.0],
            &[0.0, 0.0, 400.0],
            Redistribution::Proportional,
        );
        assert!((r.weight[2] - 0.4).abs() < 1e-12);
        assert!((r.weight[0] - 0.5 / 0.8 * 0.6).abs() < 1e-12);
        assert!((r.weight[1] - 0.3 / 0.8 * 0.6).abs() < 1e-12);
        assert!((r.weight.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn min_balance_priority_fills_in_configuration_order() {
        let t = [
            Target::Weight(0.5),
            Target::Weight(0.3),
            Target::Weight(0.2),
        ];
        let r = run(
            &t,
            &[500.0, 300.0, 200.0],
            &[0.0, 0.0, 700.0],
            Redistribution::Priority,
        );
        assert!((r.weight[2] - 0.7).abs() < 1e-12);
        assert!((r.weight[0] - 0.3).abs() < 1e-12);
        assert_eq!(r.weight[1], 0.0);
    }

    #[test]
    fn minimum_above_the_portfolio_caps_at_one() {
        let t = [Target::Weight(0.5), Target::Weight(0.5)];
        let r = run(
            &t,
            &[1000.0, 0.0],
            &[2000.0, 0.0],
            Redistribution::Proportional,
        );
        assert_eq!(r.weight, vec![1.0, 0.0]);
        assert_eq!(r.value, vec![1000.0, 0.0]);
    }
}
