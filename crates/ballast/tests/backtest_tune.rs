//! `ballast tune` end to end, and the quality of the shipped tuned configuration against the baselines.

use std::path::{Path, PathBuf};
use std::process::Command;

use ballast_backtest::recording::{ReadOptions, Recording};
use ballast_backtest::replay::{self, ReplayOptions, Strategy};
use ballast_backtest::tune::Params;
use ballast_config::Config;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ballast"))
}

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn synth(dir: &Path) {
    let out = bin()
        .args([
            "synth",
            "--kind",
            "relayer",
            "--days",
            "3",
            "--positions",
            "6",
        ])
        .args(["--seed", "3", "--out"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tune(dir: &Path, tag: &str) -> serde_json::Value {
    let json = dir.join(format!("{tag}.json"));
    let out = bin()
        .args(["tune", "--budget", "24", "--quiet", "--config"])
        .arg(dir.join("config.toml"))
        .arg("--recording")
        .arg(dir)
        .arg("--out")
        .arg(dir.join(format!("{tag}-snippet.toml")))
        .arg("--write-config")
        .arg(dir.join(format!("{tag}-config.toml")))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn tune_is_deterministic_improves_on_the_start_and_writes_a_valid_config() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(dir);
    let a = tune(dir, "a");
    let b = tune(dir, "b");
    assert_eq!(a["best"], b["best"], "same seeds, same search");
    assert_eq!(a["evaluated"], 24);

    let best = a["best"].as_array().unwrap();
    let j = |c: &serde_json::Value| c["train"]["j"].as_f64().unwrap();
    // Sorted by training score, and the configuration's own parameters are among the evaluated, so the
    // winner is never worse than where the search started.
    assert!(best.windows(2).all(|w| j(&w[0]) <= j(&w[1])));
    assert!(j(&best[0]) <= j(&a["current"]));
    // Every reported candidate is scored on the held-out part.
    assert!(best.iter().all(|c| c["test"]["j"].is_f64()));
    assert!(a["test_snapshots"].as_u64().unwrap() > 0);

    // The written configuration is valid and carries the winner exactly.
    let cfg = Config::load(dir.join("a-config.toml")).unwrap();
    let p = Params::of(&cfg);
    let w = &best[0]["params"];
    assert_eq!(p.kp, w["kp"].as_f64().unwrap());
    assert_eq!(p.ki, w["ki"].as_f64().unwrap());
    assert_eq!(p.deadband_scale, w["deadband_scale"].as_f64().unwrap());
    assert_eq!(u64::from(p.settle_bps), w["settle_bps"].as_u64().unwrap());
    assert_eq!(p.refill_only, w["refill_only"].as_bool().unwrap());
    let snippet = std::fs::read_to_string(dir.join("a-snippet.toml")).unwrap();
    assert!(snippet.contains("[controller]\nkp = "), "{snippet}");
}

#[test]
fn tune_constraints_rank_feasible_candidates_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(dir);
    // Weights that would favour moving a lot, held back by the constraints.
    let mut cfg = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    cfg.push_str(
        "\n[tune]\nw_turnover = 0\nw_cost = 0\nw_shortfall = 0\nw_flips = 0\n\
         max_turnover_vs_threshold = 1.0\nmax_flips = 0\n",
    );
    std::fs::write(dir.join("config.toml"), cfg).unwrap();
    let r = tune(dir, "c");
    let thr = r["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["strategy"] == "threshold")
        .expect("threshold baseline");
    let limit = thr["train"]["turnover"].as_f64().unwrap();
    let best = r["best"].as_array().unwrap();
    let feasible = |c: &serde_json::Value| c["train"]["feasible"].as_bool().unwrap();
    // Feasible candidates first, and each one is within the constraints it was ranked by.
    assert!(feasible(&best[0]), "some candidate meets the constraints");
    let first_infeasible = best.iter().position(|c| !feasible(c)).unwrap_or(best.len());
    assert!(best[first_infeasible..].iter().all(|c| !feasible(c)));
    for c in &best[..first_infeasible] {
        assert!(c["train"]["turnover"].as_f64().unwrap() <= limit + 1e-12);
        assert_eq!(c["train"]["side_flips"], 0);
    }
    // Among the feasible, by J.
    let j = |c: &serde_json::Value| c["train"]["j"].as_f64().unwrap();
    assert!(
        best[..first_infeasible]
            .windows(2)
            .all(|w| j(&w[0]) <= j(&w[1]))
    );
    // The threshold itself is feasible by definition (ratio 1).
    assert!(thr["train"]["feasible"].as_bool().unwrap());
}

#[test]
fn tune_reports_bad_ranges_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(dir);
    let cfg = dir.join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[tune]\nkp = [0.9, 0.2]\n");
    let line = text.lines().count();
    std::fs::write(&cfg, text).unwrap();
    let out = bin()
        .args(["tune", "--quiet", "--config"])
        .arg(&cfg)
        .arg("--recording")
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "config.toml:{line}: tune.kp: [0.9, 0.2]: low must not exceed high"
        )),
        "{err}"
    );
}

/// The shipped tuned configuration (config/relayer.toml, written by `ballast tune` from the shipped
/// recording's config) against the relayer practice (`threshold`) on the shipped recording: no more
/// error, less turnover and cost, fewer shortfalls, no side flips.
#[test]
fn shipped_tuned_config_beats_threshold_on_the_shipped_recording() {
    let rec =
        Recording::read_dir(&root().join("config/data/relayer"), ReadOptions::default()).unwrap();
    let tuned = Config::load(root().join("config/relayer.toml")).unwrap();
    let base = Config::load(root().join("config/data/relayer/config.toml")).unwrap();
    let opts = ReplayOptions::default();
    let ours = replay::run(&tuned, &rec, Strategy::Ballast, &opts)
        .unwrap()
        .total;
    let thr = replay::run(&base, &rec, Strategy::Threshold, &opts)
        .unwrap()
        .total;
    let untuned = replay::run(&base, &rec, Strategy::Ballast, &opts)
        .unwrap()
        .total;
    eprintln!("tuned {ours:?}\nthreshold {thr:?}\nuntuned {untuned:?}");
    // Tuned for the least error at no more turnover than the threshold practice, with no side flips: at least
    // 15 % less IAE (the goal is 30 %; not reached on this recording, see docs/BACKTEST.md).
    assert!(
        ours.iae < 0.85 * thr.iae,
        "IAE {} vs threshold {}",
        ours.iae,
        thr.iae
    );
    assert!(
        ours.turnover <= thr.turnover,
        "turnover {} vs {}",
        ours.turnover,
        thr.turnover
    );
    assert!(ours.fees < thr.fees);
    assert!(ours.shortfall_events < thr.shortfall_events);
    assert_eq!(ours.side_flips, 0);
    assert_eq!(ours.unserved_outflow, 0.0);
    // Tuning matters: the untuned defaults flip sides and fall short more often.
    assert!(untuned.side_flips > 0);
    assert!(ours.shortfall_events < untuned.shortfall_events);
}
