//! Gain tuning: search the controller's parameters that minimise
//!
//! ```text
//! J = IAE + w_turnover * turnover + w_cost * cost_bps + w_shortfall * shortfall_events + w_flips * side_flips
//! ```
//!
//! on the first part of a recording (train) and report them on the rest (test), so a choice that only fits
//! the training flows shows up as a worse test score. `cost_bps` is the replay's total cost (fees, spreads,
//! fixed route costs) over the mean portfolio value, in bps. The weights and the search ranges come from the
//! configuration's `[tune]` section ([`ballast_config::tune::TuneCfg`]).
//!
//! The search: the configuration's own parameters, then random candidates over the ranges (three quarters of
//! the budget), then local refinement around the best four in rounds with a shrinking step. Every candidate
//! is a full replay through the same engine, planner and simulated execution as `ballast backtest`, in
//! parallel on all cores (rayon). Deterministic under the `[tune]` seed and the replay seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::recording::Recording;
use super::replay::{self, BacktestError, ReplayOptions, RunResult, Strategy};
use ballast_config::ActOn;
use ballast_config::Config;
use ballast_config::tune::{ActOnSearch, TuneCfg};

/// The tuned parameters of one candidate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Params {
    pub kp: f64,
    pub ki: f64,
    pub kd: f64,
    pub deadband_scale: f64,
    pub settle_bps: u32,
    pub max_cycle_turnover_bps: u32,
    pub steer_past: f64,
    /// Act on deficits only.
    pub refill_only: bool,
    pub integrate_in_band: bool,
}

impl Params {
    /// The parameters a configuration has now.
    pub fn of(cfg: &Config) -> Params {
        let c = &cfg.controller;
        Params {
            kp: c.kp,
            ki: c.ki,
            kd: c.kd,
            deadband_scale: c.deadband_scale,
            settle_bps: c.settle_bps,
            max_cycle_turnover_bps: c.max_cycle_turnover_bps.unwrap_or(10_000),
            steer_past: c.steer_past,
            refill_only: c.act_on == ActOn::Deficits,
            integrate_in_band: c.integrate_in_band,
        }
    }

    /// The configuration with these parameters.
    pub fn apply(&self, cfg: &Config) -> Config {
        let mut c = cfg.clone();
        c.controller.kp = self.kp;
        c.controller.ki = self.ki;
        c.controller.kd = self.kd;
        c.controller.deadband_scale = self.deadband_scale;
        c.controller.settle_bps = self.settle_bps;
        c.controller.max_cycle_turnover_bps = Some(self.max_cycle_turnover_bps);
        c.controller.steer_past = self.steer_past;
        c.controller.act_on = if self.refill_only {
            ActOn::Deficits
        } else {
            ActOn::Both
        };
        c.controller.integrate_in_band = self.integrate_in_band;
        c
    }

    /// Within the ranges, rounded to the precision a config file states them with.
    fn clamp(mut self, t: &TuneCfg) -> Params {
        // Rounded through its decimal text, so it prints as written (0.57, not 0.5700000000000001).
        let r = |x: f64, (lo, hi): (f64, f64), q: f64| {
            let v = ((x.clamp(lo, hi) / q).round() * q).clamp(lo, hi);
            format!("{v:.3}").parse::<f64>().unwrap_or(v)
        };
        self.kp = r(self.kp, t.kp, 1e-3);
        self.ki = r(self.ki, t.ki, 1e-3);
        self.kd = r(self.kd, t.kd, 1e-3);
        self.deadband_scale = r(self.deadband_scale, t.deadband_scale, 1e-2);
        self.settle_bps = r(f64::from(self.settle_bps), t.settle_bps, 1.0) as u32;
        self.max_cycle_turnover_bps = r(
            f64::from(self.max_cycle_turnover_bps),
            t.max_cycle_turnover_bps,
            1.0,
        ) as u32;
        self.steer_past = r(self.steer_past, t.steer_past, 1e-2);
        self.refill_only = match t.act_on {
            ActOnSearch::Both => false,
            ActOnSearch::Deficits => true,
            ActOnSearch::Search => self.refill_only,
        };
        self.integrate_in_band &= t.integrate_in_band;
        self
    }
}

/// A replay's score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Score {
    pub j: f64,
    pub iae: f64,
    pub turnover: f64,
    pub cost_bps: f64,
    pub shortfall_events: u32,
    pub side_flips: u32,
    /// Within the `[tune]` constraints (`max_turnover_vs_threshold`, `max_flips`).
    pub feasible: bool,
}

impl Score {
    /// Score a run; `max_turnover` is the turnover allowed on this part of the recording, if constrained.
    pub fn of(r: &RunResult, t: &TuneCfg, max_turnover: Option<f64>) -> Score {
        let m = &r.total;
        let cost_bps = if m.mean_value > 0.0 {
            m.fees / m.mean_value * 10_000.0
        } else {
            0.0
        };
        let j = m.iae
            + t.w_turnover * m.turnover
            + t.w_cost * cost_bps
            + t.w_shortfall * f64::from(m.shortfall_events)
            + t.w_flips * f64::from(m.side_flips);
        let feasible = max_turnover.is_none_or(|x| m.turnover <= x + 1e-12)
            && t.max_flips.is_none_or(|x| m.side_flips <= x);
        Score {
            j,
            iae: m.iae,
            turnover: m.turnover,
            cost_bps,
            shortfall_events: m.shortfall_events,
            side_flips: m.side_flips,
            feasible,
        }
    }
}

/// One evaluated candidate.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub params: Params,
    pub train: Score,
    /// On the test part (for the best candidates only; `None` without a test part).
    pub test: Option<Score>,
}

/// A baseline scored on both parts.
#[derive(Clone, Debug, Serialize)]
pub struct BaselineScore {
    pub strategy: Strategy,
    pub train: Score,
    pub test: Option<Score>,
}

/// The outcome of a search.
#[derive(Clone, Debug, Serialize)]
pub struct TuneResult {
    /// The best candidates by training score, best first (the winner is the first).
    pub best: Vec<Candidate>,
    /// The configuration's own parameters.
    pub current: Candidate,
    pub baselines: Vec<BaselineScore>,
    pub evaluated: usize,
    /// Training is `[start, split)`, testing `[split, end]` (unix ms).
    pub split_ms: i64,
    pub train_snapshots: usize,
    pub test_snapshots: usize,
}

/// How many of the best candidates are scored on the test part and reported.
pub const REPORTED: usize = 8;

/// Search. `progress(done, total)` is called as candidates finish (from worker threads).
pub fn tune(
    cfg: &Config,
    rec: &Recording,
    opts: &ReplayOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<TuneResult, BacktestError> {
    let t = &cfg.tune;
    if rec.len() < 4 {
        return Err(BacktestError::TooShort);
    }
    let (start, end) = (rec.times[0], *rec.times.last().expect("non-empty"));
    let split_ms = start + ((end - start) as f64 * t.train_share).round() as i64;
    let train = if t.train_share < 1.0 {
        rec.slice(start, split_ms)
    } else {
        rec.clone()
    };
    let test = (t.train_share < 1.0).then(|| rec.slice(split_ms, end + 1));
    let test = test.filter(|r| r.len() >= 2);
    if train.len() < 2 {
        return Err(BacktestError::TooShort);
    }
    // Converted once for every candidate (and checked against the configuration before anything runs).
    let train_p = replay::Prepared::new(cfg, &train)?;
    let test_p = match &test {
        Some(t) => Some(replay::Prepared::new(cfg, t)?),
        None => None,
    };

    // The baselines first: the threshold's turnover bounds the candidates' when constrained.
    let baseline_runs = [Strategy::Threshold, Strategy::POnly, Strategy::None]
        .par_iter()
        .map(|s| {
            let tr = replay::run_prepared(cfg, &train_p, *s, opts)?;
            let te = match &test_p {
                Some(test) => Some(replay::run_prepared(cfg, test, *s, opts)?),
                None => None,
            };
            Ok((*s, tr, te))
        })
        .collect::<Result<Vec<_>, BacktestError>>()?;
    let limit = |threshold: &RunResult| {
        t.max_turnover_vs_threshold
            .map(|k| k * threshold.total.turnover)
    };
    let (train_limit, test_limit) = match baseline_runs.first() {
        Some((_, tr, te)) => (limit(tr), te.as_ref().and_then(limit)),
        None => (None, None),
    };
    let baselines: Vec<BaselineScore> = baseline_runs
        .iter()
        .map(|(s, tr, te)| BaselineScore {
            strategy: *s,
            train: Score::of(tr, t, train_limit),
            test: te.as_ref().map(|te| Score::of(te, t, test_limit)),
        })
        .collect();

    let budget = t.budget.max(1);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let eval = |ps: &[Params]| -> Result<Vec<Candidate>, BacktestError> {
        ps.par_iter()
            .map(|p| {
                let r = replay::run_prepared(&p.apply(cfg), &train_p, Strategy::Ballast, opts)?;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(n, budget);
                Ok(Candidate {
                    params: *p,
                    train: Score::of(&r, t, train_limit),
                    test: None,
                })
            })
            .collect()
    };

    let mut rng = ChaCha8Rng::seed_from_u64(t.seed);
    let current = Params::of(cfg).clamp(t);
    let n_random = if budget <= 4 {
        budget
    } else {
        (budget * 3 / 4).max(1)
    };
    let mut batch = vec![current];
    while batch.len() < n_random {
        batch.push(random(&mut rng, t));
    }
    let mut all = eval(&batch)?;
    // Local refinement around the best four, step shrinking every round.
    let rounds = 4;
    let mut left = budget.saturating_sub(all.len());
    let mut step = 0.15;
    for round in 0..rounds {
        if left == 0 {
            break;
        }
        let n = if round + 1 == rounds {
            left
        } else {
            (left / (rounds - round)).max(1)
        };
        sort(&mut all);
        let parents: Vec<Params> = all.iter().take(4).map(|c| c.params).collect();
        let mut batch = Vec::with_capacity(n);
        for k in 0..n {
            batch.push(perturb(&mut rng, &parents[k % parents.len()], t, step));
        }
        all.extend(eval(&batch)?);
        left -= n;
        step *= 0.5;
    }
    let evaluated = all.len();
    sort(&mut all);
    // Distinct best candidates.
    let mut best: Vec<Candidate> = Vec::new();
    for c in all.iter() {
        if best.len() == REPORTED {
            break;
        }
        if !best.iter().any(|b| b.params == c.params) {
            best.push(c.clone());
        }
    }
    let current_train = all
        .iter()
        .find(|c| c.params == current)
        .cloned()
        .expect("the current parameters are evaluated first");
    let mut to_test: Vec<Params> = best.iter().map(|c| c.params).collect();
    to_test.push(current);
    let test_scores: Vec<Option<Score>> = match &test_p {
        Some(test) => to_test
            .par_iter()
            .map(|p| {
                replay::run_prepared(&p.apply(cfg), test, Strategy::Ballast, opts)
                    .map(|r| Some(Score::of(&r, t, test_limit)))
            })
            .collect::<Result<_, _>>()?,
        None => vec![None; to_test.len()],
    };
    for (c, s) in best.iter_mut().zip(&test_scores) {
        c.test = *s;
    }
    let current = Candidate {
        test: *test_scores.last().expect("current"),
        ..current_train
    };
    Ok(TuneResult {
        best,
        current,
        baselines,
        evaluated,
        split_ms,
        train_snapshots: train.len(),
        test_snapshots: test.as_ref().map_or(0, Recording::len),
    })
}

/// Feasible before infeasible, then best (lowest J) first; ties by parameters so the order is deterministic.
fn sort(all: &mut [Candidate]) {
    all.sort_by(|a, b| {
        b.train
            .feasible
            .cmp(&a.train.feasible)
            .then(a.train.j.total_cmp(&b.train.j))
            .then(a.params.kp.total_cmp(&b.params.kp))
            .then(a.params.ki.total_cmp(&b.params.ki))
            .then(a.params.kd.total_cmp(&b.params.kd))
            .then(a.params.deadband_scale.total_cmp(&b.params.deadband_scale))
            .then(a.params.settle_bps.cmp(&b.params.settle_bps))
            .then(
                a.params
                    .max_cycle_turnover_bps
                    .cmp(&b.params.max_cycle_turnover_bps),
            )
            .then(a.params.steer_past.total_cmp(&b.params.steer_past))
            .then(a.params.refill_only.cmp(&b.params.refill_only))
            .then(a.params.integrate_in_band.cmp(&b.params.integrate_in_band))
    });
}

fn uniform(rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)) -> f64 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}

/// Small values are as interesting as large ones for I and D: sample them on a squared scale.
fn squared(rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)) -> f64 {
    let u: f64 = rng.random();
    lo + (hi - lo) * u * u
}

/// Log-uniform (caps span orders of magnitude).
fn log_uniform(rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)) -> f64 {
    let lo_l = lo.max(1.0).ln();
    let hi_l = hi.max(1.0).ln();
    if hi_l > lo_l {
        rng.random_range(lo_l..=hi_l).exp()
    } else {
        lo
    }
}

fn random(rng: &mut ChaCha8Rng, t: &TuneCfg) -> Params {
    Params {
        kp: uniform(rng, t.kp),
        ki: squared(rng, t.ki),
        kd: squared(rng, t.kd),
        deadband_scale: uniform(rng, t.deadband_scale),
        settle_bps: uniform(rng, t.settle_bps).round() as u32,
        max_cycle_turnover_bps: log_uniform(rng, t.max_cycle_turnover_bps).round() as u32,
        steer_past: uniform(rng, t.steer_past),
        refill_only: rng.random_bool(0.5),
        integrate_in_band: rng.random_bool(0.5),
    }
    .clamp(t)
}

/// A neighbour: every parameter moved by a normal step of `step` times its range.
fn perturb(rng: &mut ChaCha8Rng, p: &Params, t: &TuneCfg, step: f64) -> Params {
    use rand_distr::{Distribution, Normal};
    let n = Normal::new(0.0, 1.0).expect("valid");
    let mut mv = |x: f64, (lo, hi): (f64, f64)| x + n.sample(rng) * step * (hi - lo);
    let cap = f64::from(p.max_cycle_turnover_bps).max(1.0).ln();
    let cap_range = (
        t.max_cycle_turnover_bps.0.max(1.0).ln(),
        t.max_cycle_turnover_bps.1.max(1.0).ln(),
    );
    Params {
        kp: mv(p.kp, t.kp),
        ki: mv(p.ki, t.ki),
        kd: mv(p.kd, t.kd),
        deadband_scale: mv(p.deadband_scale, t.deadband_scale),
        settle_bps: mv(f64::from(p.settle_bps), t.settle_bps).max(0.0).round() as u32,
        max_cycle_turnover_bps: mv(cap, cap_range).exp().round() as u32,
        steer_past: mv(p.steer_past, t.steer_past),
        refill_only: p.refill_only ^ rng.random_bool(0.1),
        integrate_in_band: p.integrate_in_band ^ rng.random_bool(0.1),
    }
    .clamp(t)
}

/// The winner as a `[controller]` snippet to paste into the configuration.
pub fn snippet(cfg: &Config, r: &TuneResult) -> String {
    use std::fmt::Write as _;
    let w = &r.best[0];
    let p = w.params;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Tuned by `ballast tune` on {} (config version {}), {} candidates.",
        cfg.source.display(),
        cfg.version(),
        r.evaluated
    );
    let _ = writeln!(
        s,
        "# Train J {:.3} (IAE {:.3}, turnover {:.3}, cost {:.2} bps, {} shortfalls, {} side flips).",
        w.train.j,
        w.train.iae,
        w.train.turnover,
        w.train.cost_bps,
        w.train.shortfall_events,
        w.train.side_flips
    );
    if !w.train.feasible {
        let _ = writeln!(
            s,
            "# No candidate met the [tune] constraints (max_turnover_vs_threshold, max_flips): this is the best \
             of the infeasible ones."
        );
    }
    if let Some(te) = w.test {
        let _ = writeln!(
            s,
            "# Test  J {:.3} (IAE {:.3}, turnover {:.3}, cost {:.2} bps, {} shortfalls, {} side flips).",
            te.j, te.iae, te.turnover, te.cost_bps, te.shortfall_events, te.side_flips
        );
    }
    let _ = writeln!(s, "[controller]");
    let _ = writeln!(s, "kp = {}", p.kp);
    let _ = writeln!(s, "ki = {}", p.ki);
    let _ = writeln!(s, "kd = {}", p.kd);
    let _ = writeln!(s, "deadband_scale = {}", p.deadband_scale);
    let _ = writeln!(s, "settle_bps = {}", p.settle_bps);
    let _ = writeln!(s, "max_cycle_turnover_bps = {}", p.max_cycle_turnover_bps);
    let _ = writeln!(s, "steer_past = {}", p.steer_past);
    let _ = writeln!(
        s,
        "act_on = \"{}\"",
        if p.refill_only { "deficits" } else { "both" }
    );
    let _ = writeln!(s, "integrate_in_band = {}", p.integrate_in_band);
    s
}

/// The configuration file's text with the winner's parameters written into `[controller]` (comments and
/// everything else kept).
pub fn rewrite_config(text: &str, p: &Params) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let c = doc
        .get_mut("controller")
        .and_then(|i| i.as_table_like_mut())
        .ok_or("no [controller] table")?;
    c.insert("kp", toml_edit::value(p.kp));
    c.insert("ki", toml_edit::value(p.ki));
    c.insert("kd", toml_edit::value(p.kd));
    c.insert("deadband_scale", toml_edit::value(p.deadband_scale));
    c.insert("settle_bps", toml_edit::value(i64::from(p.settle_bps)));
    c.insert(
        "max_cycle_turnover_bps",
        toml_edit::value(i64::from(p.max_cycle_turnover_bps)),
    );
    c.insert("steer_past", toml_edit::value(p.steer_past));
    c.insert(
        "act_on",
        toml_edit::value(if p.refill_only { "deficits" } else { "both" }),
    );
    c.insert("integrate_in_band", toml_edit::value(p.integrate_in_band));
    Ok(doc.to_string())
}

/// The result as a table for the terminal.
pub fn table(r: &TuneResult) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<10} {:>6} {:>6} {:>6} {:>5} {:>6} {:>6} {:>5} {:>4} | {:>8} {:>8} {:>7} {:>8} {:>6} {:>5}",
        "",
        "kp",
        "ki",
        "kd",
        "band",
        "settle",
        "cap",
        "past",
        "act",
        "train J",
        "test J",
        "IAE",
        "turnover",
        "short",
        "flips"
    );
    let row = |s: &mut String, name: &str, p: Option<&Params>, tr: &Score, te: Option<&Score>| {
        let (a, b, c, d, e, f, g, h) = match p {
            Some(p) => (
                format!("{:.3}", p.kp),
                format!("{:.3}", p.ki),
                format!("{:.3}", p.kd),
                format!("{:.2}", p.deadband_scale),
                p.settle_bps.to_string(),
                p.max_cycle_turnover_bps.to_string(),
                format!("{:.2}", p.steer_past),
                format!(
                    "{}{}",
                    if p.refill_only { "R" } else { "B" },
                    if p.integrate_in_band { "i" } else { "" }
                ),
            ),
            None => Default::default(),
        };
        let shown = te.unwrap_or(tr);
        let name = if tr.feasible {
            name.to_string()
        } else {
            format!("{name}*")
        };
        let _ = writeln!(
            s,
            "{name:<10} {a:>6} {b:>6} {c:>6} {d:>5} {e:>6} {f:>6} {g:>5} {h:>4} | {:>8.3} {:>8} {:>7.3} {:>8.3} {:>6} {:>5}",
            tr.j,
            te.map_or("-".to_string(), |x| format!("{:.3}", x.j)),
            shown.iae,
            shown.turnover,
            shown.shortfall_events,
            shown.side_flips
        );
    };
    for (i, c) in r.best.iter().enumerate() {
        let name = if i == 0 {
            "winner".to_string()
        } else {
            format!("#{}", i + 1)
        };
        row(&mut s, &name, Some(&c.params), &c.train, c.test.as_ref());
    }
    row(
        &mut s,
        "current",
        Some(&r.current.params),
        &r.current.train,
        r.current.test.as_ref(),
    );
    for b in &r.baselines {
        row(&mut s, b.strategy.name(), None, &b.train, b.test.as_ref());
    }
    let _ = writeln!(
        s,
        "(IAE, turnover, shortfalls and flips on the test part when there is one; * outside the [tune] constraints; {} candidates; train {} snapshots, test {})",
        r.evaluated, r.train_snapshots, r.test_snapshots
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_and_perturbed_candidates_stay_in_range() {
        let t = TuneCfg::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..2000 {
            let p = random(&mut rng, &t);
            let q = perturb(&mut rng, &p, &t, 0.5);
            for x in [p, q] {
                assert!((t.kp.0..=t.kp.1).contains(&x.kp));
                assert!((t.ki.0..=t.ki.1).contains(&x.ki));
                assert!((t.kd.0..=t.kd.1).contains(&x.kd));
                assert!((t.deadband_scale.0..=t.deadband_scale.1).contains(&x.deadband_scale));
                assert!(f64::from(x.settle_bps) <= t.settle_bps.1);
                let cap = f64::from(x.max_cycle_turnover_bps);
                assert!((t.max_cycle_turnover_bps.0..=t.max_cycle_turnover_bps.1).contains(&cap));
            }
        }
    }

    #[test]
    fn pinned_ranges_pin() {
        let t = TuneCfg {
            kd: (0.0, 0.0),
            deadband_scale: (0.5, 0.5),
            ..TuneCfg::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..200 {
            let q = random(&mut rng, &t);
            let p = perturb(&mut rng, &q, &t, 0.3);
            assert_eq!(p.kd, 0.0);
            assert_eq!(p.deadband_scale, 0.5);
        }
    }

    #[test]
    fn rewrite_keeps_the_rest() {
        let text = "# top\n[controller]\nkp = 0.5 # old\nmin_order_value = \"1\"\n[[position]]\nchain = \"a\"\n";
        let p = Params {
            kp: 0.25,
            ki: 0.1,
            kd: 0.0,
            deadband_scale: 0.4,
            settle_bps: 300,
            max_cycle_turnover_bps: 700,
            steer_past: 0.5,
            refill_only: true,
            integrate_in_band: false,
        };
        let out = rewrite_config(text, &p).unwrap();
        assert!(out.starts_with("# top\n[controller]\nkp = 0.25"));
        assert!(out.contains("min_order_value = \"1\""));
        assert!(out.contains("deadband_scale = 0.4"));
        assert!(out.contains("max_cycle_turnover_bps = 700"));
        assert!(out.contains("[[position]]\nchain = \"a\""));
    }
}
