//! The side-by-side comparison printed by `backtest` and `tune`, and the output directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::recording::Recording;
use super::replay::{ReplayOptions, RunResult};
use crate::config::Config;

/// The metrics of each strategy side by side.
pub fn table(results: &[RunResult]) -> String {
    let mut s = String::new();
    let _ = write!(s, "{:<34}", "metric");
    for r in results {
        let _ = write!(s, "{:>14}", r.strategy.name());
    }
    s.push('\n');
    type Row = (&'static str, fn(&RunResult) -> String);
    let rows: &[Row] = &[
        ("IAE (error x h, of target)", |r| {
            format!("{:.2}", r.total.iae)
        }),
        ("ISE", |r| format!("{:.3}", r.total.ise)),
        ("ITAE", |r| format!("{:.1}", r.total.itae)),
        ("max deviation", |r| {
            format!("{:.1}%", r.total.max_deviation * 100.0)
        }),
        ("time outside the band", |r| {
            format!("{:.1}%", r.total.time_outside_band * 100.0)
        }),
        ("shortfall events", |r| r.total.shortfall_events.to_string()),
        ("unserved outflow", |r| {
            format!("{:.0}", r.total.unserved_outflow)
        }),
        ("turnover (x portfolio)", |r| {
            format!("{:.2}", r.total.turnover)
        }),
        ("moved value", |r| format!("{:.0}", r.total.moved_value)),
        ("costs (fees, spreads, fixed)", |r| {
            format!("{:.0}", r.total.fees)
        }),
        ("implementation shortfall", |r| {
            format!("{:.0}", r.total.implementation_shortfall)
        }),
        ("orders", |r| r.total.orders.to_string()),
        ("replaces", |r| r.total.replaces.to_string()),
        ("side flips", |r| r.total.side_flips.to_string()),
        ("mean overshoot", |r| {
            format!("{:.1}%", r.total.mean_overshoot * 100.0)
        }),
        ("mean settling time", |r| {
            r.total
                .mean_settling_hours
                .map(|h| format!("{h:.1} h"))
                .unwrap_or_else(|| "-".into())
        }),
    ];
    for (name, f) in rows {
        let _ = write!(s, "{name:<34}");
        for r in results {
            let _ = write!(s, "{:>14}", f(r));
        }
        s.push('\n');
    }
    s
}

/// Write the results into `dir` (created if missing). Returns the files written.
pub fn write_outputs(
    dir: &Path,
    cfg: &Config,
    rec: &Recording,
    opts: &ReplayOptions,
    results: &[RunResult],
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let report = serde_json::json!({
        "ballast_version": env!("CARGO_PKG_VERSION"),
        "config": cfg.source.display().to_string(),
        "config_digest": cfg.digest,
        "config_version": cfg.version(),
        "seed": opts.seed,
        "fill_model": opts.fill_model,
        "snapshots": rec.len(),
        "results": results,
    });
    let path = dir.join("report.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).expect("report serialises"),
    )?;
    Ok(vec![path])
}
