//! The report of a backtest: files in one directory ([`write_dir`]) and the side-by-side table for stdout
//! ([`side_by_side`], [`side_by_side_markdown`]).
//!
//! Files written by [`write_dir`]:
//!
//! - `report.json`: ballast's version; the configuration's path, SHA-256 digest and version; the seed, the
//!   fill model and every replay option; the recording's span (directory, first and last snapshot time,
//!   snapshots, positions, skipped rows, priced assets, market-data series); then, per strategy, its totals,
//!   its per-position metrics, its execution statistics and its cycle count (the fields of
//!   [`RunResult`], [`super::metrics::TotalMetrics`], [`super::metrics::PositionMetrics`] and
//!   [`super::replay::SwapStats`], under their Rust names).
//! - `series.csv`: the time series every strategy kept, in long form, one row per (time, strategy,
//!   position):
//!
//!   ```text
//!   ts,strategy,position,value,target,band_low,band_high,cumulative_cost
//!   2026-01-01T00:00:00Z,ballast,ethereum/USDC,2000000,2000000,1500000,2500000,0
//!   ```
//!
//!   `ts` is RFC 3339 (UTC); `value` is the settled balance's value, `target` the target value, and
//!   `band_low`/`band_high` the band, all in base units; `cumulative_cost` is the strategy's cost (fees,
//!   spreads, fixed route costs) since the start, in base units, the same on every position row of a time.
//!   An unbounded band edge is left empty. The sampling interval is the replay's `series_every_ms`.
//! - `overview.svg`: one page: the title (configuration version, span, seed, fill model), a legend with
//!   each strategy's headline metrics, a grid of small per-position plots (balance value per strategy over
//!   the band and target) and the cumulative cost per strategy.
//! - `position-NN-CHAIN-ASSET.svg` per position: the balance value of every strategy against the target
//!   and its band, and below it the normalised error `(value - target) / target` in %.
//! - `error.svg`: the total normalised error per strategy, `sum |value - target| / max(sum value,
//!   sum target)` in %, and below it the normalised error of each position.
//! - `cost.svg`: the cumulative cost per strategy.
//!
//! The band and target drawn are the first strategy's (identical for absolute targets; weight targets
//! follow that strategy's portfolio value). Plots of long series are decimated to a bounded number of points
//! per line, keeping each bucket's minimum and maximum so spikes stay visible; the CSV keeps every sample.
//! No plot is drawn, and the CSV has only its header, when the replay kept no time series.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::recording::Recording;
use crate::replay::{FillModel, ReplayOptions, RunResult};
use ballast_config::Config;
use ballast_core::auction::Schedule;
use ballast_core::model::TimestampMs;

mod plots;
mod table;

use plots::{PlotData, plot_cost, plot_error, plot_overview, plot_position};
pub use plots::{strategy_color, strategy_color_hex};
pub use table::{side_by_side, side_by_side_markdown};

/// What a report is made of.
pub struct BacktestReport<'a> {
    pub config: &'a Config,
    pub recording: &'a Recording,
    pub options: &'a ReplayOptions,
    pub results: &'a [RunResult],
}

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: cannot draw the plot: {message}", path.display())]
    Plot { path: PathBuf, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write `report.json`, `series.csv` and the SVG plots into `dir` (created if missing). Returns the files
/// written, in that order.
pub fn write_dir(dir: &Path, r: &BacktestReport) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut written = Vec::new();

    let path = dir.join("report.json");
    let json =
        serde_json::to_vec_pretty(&ReportJson::new(r)).map_err(|source| ReportError::Json {
            path: path.clone(),
            source,
        })?;
    std::fs::write(&path, json).map_err(io_err(&path))?;
    written.push(path);

    let path = dir.join("series.csv");
    write_series_csv(&path, r)?;
    written.push(path);

    let data = PlotData::new(r);
    if data.has_series() {
        let mut emit = |name: String, svg: Result<String, String>| {
            let path = dir.join(name);
            let svg = svg.map_err(|message| ReportError::Plot {
                path: path.clone(),
                message,
            })?;
            std::fs::write(&path, svg).map_err(io_err(&path))?;
            written.push(path);
            Ok::<(), ReportError>(())
        };
        emit("overview.svg".into(), plot_overview(&data))?;
        for (p, name) in data.names.iter().enumerate() {
            emit(position_file_name(p, name), plot_position(&data, p))?;
        }
        emit("error.svg".into(), plot_error(&data))?;
        emit("cost.svg".into(), plot_cost(&data))?;
    }
    Ok(written)
}

/// `position-03-arbitrum-usdc.svg`: numbered in configuration order (so names never collide), lowercase,
/// anything but letters and digits replaced by `-`.
pub fn position_file_name(index: usize, name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    format!("position-{:02}-{}.svg", index + 1, slug.trim_matches('-'))
}

// ---------------------------------------------------------------------------------------------------------
// report.json

#[derive(Serialize)]
struct ReportJson<'a> {
    ballast_version: &'static str,
    config: ConfigInfo<'a>,
    seed: u64,
    fill_model: FillModel,
    options: OptionsInfo<'a>,
    recording: RecordingInfo,
    strategies: &'a [RunResult],
}

#[derive(Serialize)]
struct ConfigInfo<'a> {
    path: String,
    digest: &'a str,
    version: &'a str,
    positions: Vec<String>,
    cycle_interval_ms: u128,
}

#[derive(Serialize)]
struct OptionsInfo<'a> {
    deposit_delay_ms: i64,
    withdraw_delay_ms: i64,
    poll_ms: i64,
    latency_ms: i64,
    series_every_ms: i64,
    schedule: &'a Schedule,
    linear_bps: [f64; 2],
}

#[derive(Serialize)]
struct RecordingInfo {
    dir: String,
    first_ms: Option<TimestampMs>,
    first: Option<String>,
    last_ms: Option<TimestampMs>,
    last: Option<String>,
    hours: f64,
    snapshots: usize,
    positions: Vec<String>,
    skipped_rows: u64,
    priced_assets: Vec<String>,
    market_series: Vec<String>,
}

impl<'a> ReportJson<'a> {
    fn new(r: &BacktestReport<'a>) -> ReportJson<'a> {
        let rec = r.recording;
        let first = rec.times.first().copied();
        let last = rec.times.last().copied();
        let mut priced: Vec<String> = rec.prices.keys().cloned().collect();
        priced.sort();
        let mut markets: Vec<String> = rec.market.keys().map(|(v, m)| format!("{v}/{m}")).collect();
        markets.sort();
        let o = r.options;
        ReportJson {
            ballast_version: env!("CARGO_PKG_VERSION"),
            config: ConfigInfo {
                path: r.config.source.display().to_string(),
                digest: &r.config.digest,
                version: r.config.version(),
                positions: r
                    .config
                    .positions
                    .iter()
                    .map(|p| p.key.to_string())
                    .collect(),
                cycle_interval_ms: r.config.schedule.interval.as_millis(),
            },
            seed: o.seed,
            fill_model: o.fill_model,
            options: OptionsInfo {
                deposit_delay_ms: o.deposit_delay_ms,
                withdraw_delay_ms: o.withdraw_delay_ms,
                poll_ms: o.poll_ms,
                latency_ms: o.latency_ms,
                series_every_ms: o.series_every_ms,
                schedule: &o.schedule,
                linear_bps: [o.linear_bps.0, o.linear_bps.1],
            },
            recording: RecordingInfo {
                dir: rec.dir.display().to_string(),
                first_ms: first,
                first: first.map(rfc3339),
                last_ms: last,
                last: last.map(rfc3339),
                hours: match (first, last) {
                    (Some(a), Some(b)) => (b - a) as f64 / 3_600_000.0,
                    _ => 0.0,
                },
                snapshots: rec.len(),
                positions: rec.positions.iter().map(|p| p.to_string()).collect(),
                skipped_rows: rec.skipped_rows,
                priced_assets: priced,
                market_series: markets,
            },
            strategies: r.results,
        }
    }
}

fn rfc3339(t: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| t.to_string())
}

// ---------------------------------------------------------------------------------------------------------
// series.csv

/// The header of `series.csv`.
pub const SERIES_HEADER: [&str; 8] = [
    "ts",
    "strategy",
    "position",
    "value",
    "target",
    "band_low",
    "band_high",
    "cumulative_cost",
];

fn write_series_csv(path: &Path, r: &BacktestReport) -> Result<(), ReportError> {
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
    let csv_err = |e: csv::Error| ReportError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    w.write_record(SERIES_HEADER).map_err(csv_err)?;
    let names: Vec<String> = r
        .config
        .positions
        .iter()
        .map(|p| p.key.to_string())
        .collect();
    let mut num = String::with_capacity(32);
    for res in r.results {
        let s = &res.series;
        let strategy = res.strategy.name();
        for (t_i, t) in s.times.iter().enumerate() {
            let ts = rfc3339(*t);
            let cost = s.cumulative_cost.get(t_i).copied().unwrap_or(f64::NAN);
            for (p, name) in names.iter().enumerate() {
                w.write_field(&ts).map_err(csv_err)?;
                w.write_field(strategy).map_err(csv_err)?;
                w.write_field(name).map_err(csv_err)?;
                for x in [
                    cell(&s.value, t_i, p),
                    cell(&s.target, t_i, p),
                    cell(&s.low, t_i, p),
                    cell(&s.high, t_i, p),
                    cost,
                ] {
                    num.clear();
                    fmt_csv_number(&mut num, x);
                    w.write_field(&num).map_err(csv_err)?;
                }
                w.write_record(None::<&[u8]>).map_err(csv_err)?;
            }
        }
    }
    let mut inner = w.into_inner().map_err(|e| ReportError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    inner.flush().map_err(io_err(path))
}

fn cell(m: &[Vec<f64>], t: usize, p: usize) -> f64 {
    m.get(t)
        .and_then(|row| row.get(p))
        .copied()
        .unwrap_or(f64::NAN)
}

/// A value in base units with at most 6 decimals, trailing zeros cut; empty when not finite (an unbounded
/// band edge).
fn fmt_csv_number(out: &mut String, x: f64) {
    if !x.is_finite() || x.abs() >= f64::MAX / 2.0 {
        return;
    }
    let start = out.len();
    let _ = write!(out, "{x:.6}");
    while out.ends_with('0') {
        out.pop();
    }
    if out.ends_with('.') {
        out.pop();
    }
    if &out[start..] == "-0" {
        out.truncate(start);
        out.push('0');
    }
}

// Number formatting shared by the table and the plots.

/// A number with about four significant digits, thousands separated.
fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a >= 1000.0 {
        fmt_money(x)
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

fn fmt_pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2} %", x * 100.0)
    } else {
        "-".into()
    }
}

/// A base-unit amount: whole units with thousands separators (cents below 100).
fn fmt_money(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x.abs() < 100.0 {
        return format!("{x:.2}");
    }
    let s = format!("{:.0}", x.abs());
    let mut out = String::with_capacity(s.len() + s.len() / 3 + 1);
    if x < 0.0 {
        out.push('-');
    }
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A compact axis label: 1.5M, 250k, 12.5.
fn fmt_axis(x: f64) -> String {
    let a = x.abs();
    let (v, unit) = if a >= 1e9 {
        (x / 1e9, "G")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let s = if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_for_people_and_csv() {
        assert_eq!(fmt_money(1_234_567.4), "1,234,567");
        assert_eq!(fmt_money(-1234.0), "-1,234");
        assert_eq!(fmt_money(12.345), "12.35");
        assert_eq!(fmt_axis(1_500_000.0), "1.5M");
        assert_eq!(fmt_axis(250_000.0), "250k");
        assert_eq!(fmt_axis(0.5), "0.5");
        let mut s = String::new();
        fmt_csv_number(&mut s, 2_000_000.0);
        assert_eq!(s, "2000000");
        s.clear();
        fmt_csv_number(&mut s, 0.1 + 0.2);
        assert_eq!(s, "0.3");
        s.clear();
        fmt_csv_number(&mut s, f64::MAX);
        assert_eq!(s, "");
        s.clear();
        fmt_csv_number(&mut s, -0.0000001);
        assert_eq!(s, "0");
    }

    #[test]
    fn position_files_are_numbered_slugs() {
        assert_eq!(
            position_file_name(2, "arbitrum/USDC"),
            "position-03-arbitrum-usdc.svg"
        );
        assert_eq!(position_file_name(0, "a b//c"), "position-01-a-b-c.svg");
    }
}
