//! `[tune]`: the objective and search space of `ballast tune`.
//!
//! ```toml
//! [tune]
//! w_turnover = 10.0         # J = IAE + w_turnover * turnover + w_cost * cost_bps
//! w_cost = 0.05             #     + w_shortfall * shortfall events + w_flips * side flips
//! w_shortfall = 0.01
//! w_flips = 0.5
//! max_turnover_vs_threshold = 1.0  # optional constraint: no more turnover than the threshold baseline
//! max_flips = 0             # optional constraint: at most this many side flips
//! budget = 256              # candidates evaluated (random search, then local refinement)
//! train_share = 0.7         # the first 70 % of the recording trains, the rest tests
//! seed = 1
//! kp = [0.05, 1.0]          # search ranges; a range of one value pins the parameter
//! ki = [0.0, 0.5]
//! kd = [0.0, 0.5]
//! deadband_scale = [0.2, 1.0]
//! settle_bps = [0, 2500]
//! max_cycle_turnover_bps = [100, 10000]
//! steer_past = [0.0, 1.0]
//! act_on = "search"        # or pin it: "both" | "deficits"
//! integrate_in_band = true  # may the search turn it on
//! ```

use super::reader::{Diagnostics, Field, FromField, Obj, choice};

/// The tuning objective and search space.
#[derive(Clone, Debug, PartialEq)]
pub struct TuneCfg {
    pub w_turnover: f64,
    pub w_cost: f64,
    pub w_shortfall: f64,
    pub w_flips: f64,
    /// Constraint: a candidate moving more than this multiple of the `threshold` baseline's turnover (on the
    /// same part of the recording) is infeasible; infeasible candidates rank after every feasible one.
    pub max_turnover_vs_threshold: Option<f64>,
    /// Constraint: at most this many side flips.
    pub max_flips: Option<u32>,
    pub budget: usize,
    pub train_share: f64,
    pub seed: u64,
    pub kp: (f64, f64),
    pub ki: (f64, f64),
    pub kd: (f64, f64),
    pub deadband_scale: (f64, f64),
    pub settle_bps: (f64, f64),
    pub max_cycle_turnover_bps: (f64, f64),
    pub steer_past: (f64, f64),
    /// Whether `act_on` is searched or pinned.
    pub act_on: ActOnSearch,
    /// Whether `integrate_in_band` may be turned on.
    pub integrate_in_band: bool,
}

/// The `act_on` choices the search may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActOnSearch {
    Search,
    Both,
    Deficits,
}

impl Default for TuneCfg {
    fn default() -> Self {
        TuneCfg {
            w_turnover: 10.0,
            w_cost: 0.05,
            w_shortfall: 0.01,
            w_flips: 0.5,
            max_turnover_vs_threshold: None,
            max_flips: None,
            budget: 256,
            train_share: 0.7,
            seed: 1,
            kp: (0.05, 1.0),
            ki: (0.0, 0.5),
            kd: (0.0, 0.5),
            deadband_scale: (0.2, 1.0),
            settle_bps: (0.0, 2500.0),
            max_cycle_turnover_bps: (100.0, 10_000.0),
            steer_past: (0.0, 1.0),
            act_on: ActOnSearch::Search,
            integrate_in_band: true,
        }
    }
}

/// Read `[tune]` (all keys optional).
pub fn read(root: &mut Obj, d: &mut Diagnostics) -> TuneCfg {
    let mut t = TuneCfg::default();
    let Some(mut o) = root.obj(d, "tune") else {
        return t;
    };
    for (key, slot) in [
        ("w_turnover", &mut t.w_turnover),
        ("w_cost", &mut t.w_cost),
        ("w_shortfall", &mut t.w_shortfall),
        ("w_flips", &mut t.w_flips),
    ] {
        if let Some(f) = o.field(key)
            && let Some(v) = f64::from_field(&f, d)
        {
            if v < 0.0 || !v.is_finite() {
                f.invalid(d, format!("{v} is negative (weights are >= 0)"));
            } else {
                *slot = v;
            }
        }
    }
    if let Some(f) = o.field("max_turnover_vs_threshold")
        && let Some(v) = f64::from_field(&f, d)
    {
        if v <= 0.0 || !v.is_finite() {
            f.invalid(d, format!("{v} is not a positive multiple"));
        } else {
            t.max_turnover_vs_threshold = Some(v);
        }
    }
    if let Some(f) = o.field("max_flips")
        && let Some(v) = u32::from_field(&f, d)
    {
        t.max_flips = Some(v);
    }
    if let Some(f) = o.field("budget")
        && let Some(v) = u32::from_field(&f, d)
    {
        if v == 0 || v > 1_000_000 {
            f.invalid(d, format!("{v} is not in 1..=1000000"));
        } else {
            t.budget = v as usize;
        }
    }
    t.train_share = super::share_field(&mut o, d, "train_share", t.train_share, false);
    if let Some(f) = o.field("seed")
        && let Some(v) = u64::from_field(&f, d)
    {
        t.seed = v;
    }
    for (key, slot, lo, hi) in [
        ("kp", &mut t.kp, 0.0, 1.0),
        ("ki", &mut t.ki, 0.0, 100.0),
        ("kd", &mut t.kd, 0.0, 100.0),
        ("deadband_scale", &mut t.deadband_scale, 1e-6, 1.0),
        ("settle_bps", &mut t.settle_bps, 0.0, 10_000.0),
        (
            "max_cycle_turnover_bps",
            &mut t.max_cycle_turnover_bps,
            1.0,
            10_000.0,
        ),
        ("steer_past", &mut t.steer_past, 0.0, 1.0),
    ] {
        if let Some(f) = o.field(key)
            && let Some(r) = range(&f, d, lo, hi)
        {
            *slot = r;
        }
    }
    if let Some(f) = o.field("act_on") {
        t.act_on = choice(
            &f,
            d,
            &[
                ("search", ActOnSearch::Search),
                ("both", ActOnSearch::Both),
                ("deficits", ActOnSearch::Deficits),
            ],
        )
        .unwrap_or(ActOnSearch::Search);
    }
    t.integrate_in_band = o.or(d, "integrate_in_band", true);
    o.finish(d);
    t
}

/// `[low, high]` (or one number, a pinned value) within `[lo, hi]`.
fn range(f: &Field, d: &mut Diagnostics, lo: f64, hi: f64) -> Option<(f64, f64)> {
    use toml_edit::Value;
    let num = |v: &Value| match v {
        Value::Float(x) => Some(*x.value()),
        Value::Integer(i) => Some(*i.value() as f64),
        _ => None,
    };
    let (a, b) = match f.value() {
        Some(Value::Array(arr)) if arr.len() == 2 => match (num(arr.get(0)?), num(arr.get(1)?)) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                f.wrong_type(d, "[low, high] numbers");
                return None;
            }
        },
        Some(v) if num(v).is_some() => {
            let x = num(v).expect("checked");
            (x, x)
        }
        _ => {
            f.wrong_type(d, "a number or [low, high]");
            return None;
        }
    };
    if !(a.is_finite() && b.is_finite()) || a > b {
        f.invalid(d, format!("[{a}, {b}]: low must not exceed high"));
        return None;
    }
    if a < lo || b > hi {
        f.invalid(d, format!("[{a}, {b}] is outside [{lo}, {hi}]"));
        return None;
    }
    Some((a, b))
}

#[cfg(test)]
mod tests {
    use crate::Config;

    const BASE: &str = "[controller]\nkp = 0.5\nmin_order_value = \"10\"\n[[position]]\nchain = \"a\"\nasset = \"USDC\"\ntarget = \"100\"\n";

    #[test]
    fn defaults_and_values() {
        let c = Config::parse("t.toml", BASE).unwrap();
        assert_eq!(c.tune, super::TuneCfg::default());
        let c = Config::parse(
            "t.toml",
            &format!(
                "{BASE}[tune]\nw_turnover = 2\nbudget = 64\nkp = [0.1, 0.9]\nkd = 0\n\
                 max_turnover_vs_threshold = 1.5\nmax_flips = 0\n"
            ),
        )
        .unwrap();
        assert_eq!(c.tune.max_turnover_vs_threshold, Some(1.5));
        assert_eq!(c.tune.max_flips, Some(0));
        assert_eq!(c.tune.w_turnover, 2.0);
        assert_eq!(c.tune.budget, 64);
        assert_eq!(c.tune.kp, (0.1, 0.9));
        assert_eq!(c.tune.kd, (0.0, 0.0));
    }

    #[test]
    fn every_error_with_its_line() {
        let e = Config::parse(
            "t.toml",
            &format!(
                "{BASE}[tune]\nw_cost = -1\nkp = [0.9, 0.1]\nki = [0, 200]\nbudget = 0\nwhat = 1\n\
                 max_turnover_vs_threshold = 0\nmax_flips = -1\n"
            ),
        )
        .unwrap_err()
        .to_string();
        for want in [
            "t.toml:9: tune.w_cost: -1 is negative",
            "t.toml:10: tune.kp: [0.9, 0.1]: low must not exceed high",
            "t.toml:11: tune.ki: [0, 200] is outside [0, 100]",
            "t.toml:12: tune.budget: 0 is not in 1..=1000000",
            "t.toml:13: tune.what: unknown key",
            "t.toml:14: tune.max_turnover_vs_threshold: 0 is not a positive multiple",
            "t.toml:15: tune.max_flips:",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }
}
