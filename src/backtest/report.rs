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

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use super::recording::Recording;
use super::replay::{FillModel, ReplayOptions, RunResult};
use crate::auction::Schedule;
use crate::config::Config;
use crate::model::TimestampMs;

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

// ---------------------------------------------------------------------------------------------------------
// The side-by-side table

/// One row of the side-by-side table: its label and how to read it from a run.
struct Row {
    label: &'static str,
    value: fn(&RunResult) -> String,
}

const ROWS: [Row; 17] = [
    Row {
        label: "IAE (error x h)",
        value: |r| fmt_num(r.total.iae),
    },
    Row {
        label: "  of which net (no move fixes)",
        value: |r| fmt_num(r.total.iae_net),
    },
    Row {
        label: "ISE (error^2 x h)",
        value: |r| fmt_num(r.total.ise),
    },
    Row {
        label: "ITAE (error x h^2)",
        value: |r| fmt_num(r.total.itae),
    },
    Row {
        label: "max deviation",
        value: |r| fmt_pct(r.total.max_deviation),
    },
    Row {
        label: "time outside band",
        value: |r| fmt_pct(r.total.time_outside_band),
    },
    Row {
        label: "shortfall events",
        value: |r| r.total.shortfall_events.to_string(),
    },
    Row {
        label: "unserved outflow",
        value: |r| fmt_money(r.total.unserved_outflow),
    },
    Row {
        label: "turnover (x mean value)",
        value: |r| format!("{:.3}", r.total.turnover),
    },
    Row {
        label: "moved value",
        value: |r| fmt_money(r.total.moved_value),
    },
    Row {
        label: "fees and costs",
        value: |r| fmt_money(r.total.fees),
    },
    Row {
        label: "implementation shortfall",
        value: |r| fmt_money(r.total.implementation_shortfall),
    },
    Row {
        label: "orders",
        value: |r| r.total.orders.to_string(),
    },
    Row {
        label: "replaces",
        value: |r| r.total.replaces.to_string(),
    },
    Row {
        label: "side flips",
        value: |r| r.total.side_flips.to_string(),
    },
    Row {
        label: "mean overshoot",
        value: |r| fmt_pct(r.total.mean_overshoot),
    },
    Row {
        label: "mean settling time",
        value: |r| {
            r.total
                .mean_settling_hours
                .map(|h| format!("{h:.2} h"))
                .unwrap_or_else(|| "-".into())
        },
    },
];

fn table(results: &[RunResult]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["metric".to_string()];
    header.extend(results.iter().map(|r| r.strategy.name().to_string()));
    let rows = ROWS
        .iter()
        .map(|row| {
            let mut cells = vec![row.label.to_string()];
            cells.extend(results.iter().map(row.value));
            cells
        })
        .collect();
    (header, rows)
}

/// The metrics of every strategy side by side, aligned for a terminal: one row per metric, one column per
/// strategy. Errors are normalised to target; money is in the portfolio's base unit.
pub fn side_by_side(results: &[RunResult]) -> String {
    let (header, rows) = table(results);
    let cols = header.len();
    let mut width = vec![0usize; cols];
    for line in std::iter::once(&header).chain(&rows) {
        for (c, cell) in line.iter().enumerate() {
            width[c] = width[c].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (i, line) in std::iter::once(&header).chain(&rows).enumerate() {
        for (c, cell) in line.iter().enumerate() {
            if c == 0 {
                let _ = write!(out, "{cell:<w$}", w = width[0]);
            } else {
                let _ = write!(out, "  {cell:>w$}", w = width[c]);
            }
        }
        out.push('\n');
        if i == 0 {
            let total: usize = width.iter().sum::<usize>() + 2 * (cols - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

/// The same table in Markdown (for the README).
pub fn side_by_side_markdown(results: &[RunResult]) -> String {
    let (header, rows) = table(results);
    let mut out = format!("| {} |\n|---|", header.join(" | "));
    out.push_str(&"---:|".repeat(header.len() - 1));
    out.push('\n');
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

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

// ---------------------------------------------------------------------------------------------------------
// Plots

/// At most this many points per line in a full-size plot, and in a small one.
const MAX_POINTS: usize = 1200;
const MAX_POINTS_SMALL: usize = 300;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(127, 127, 127),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];
const BAND: RGBColor = RGBColor(120, 160, 210);
const FONT: &str = "sans-serif";

/// The color of the i-th strategy of a report (the same in every plot).
pub fn strategy_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The i-th strategy's color as the SVG files write it (`#1F77B4`).
pub fn strategy_color_hex(i: usize) -> String {
    let c = strategy_color(i);
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// What the plots draw, borrowed from the report.
struct PlotData<'a> {
    names: Vec<String>,
    results: &'a [RunResult],
    title: String,
    subtitle: String,
}

impl<'a> PlotData<'a> {
    fn new(r: &BacktestReport<'a>) -> PlotData<'a> {
        let span = match (r.recording.times.first(), r.recording.times.last()) {
            (Some(a), Some(b)) => format!("{} to {} UTC", fmt_date(*a), fmt_date(*b)),
            _ => "empty recording".into(),
        };
        PlotData {
            names: r
                .config
                .positions
                .iter()
                .map(|p| p.key.to_string())
                .collect(),
            results: r.results,
            title: format!(
                "Backtest of {} (config {})",
                r.config
                    .source
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "the configuration".into()),
                r.config.version()
            ),
            subtitle: format!(
                "{span}, {} snapshots, {} positions, seed {}, {} fill model",
                r.recording.len(),
                r.config.positions.len(),
                r.options.seed,
                match r.options.fill_model {
                    FillModel::Book => "book",
                    FillModel::Fast => "fast",
                }
            ),
        }
    }

    fn has_series(&self) -> bool {
        self.results.iter().any(|r| !r.series.times.is_empty())
    }

    /// The time range over every strategy's series.
    fn time_range(&self) -> TimeAxis {
        let lo = self
            .results
            .iter()
            .filter_map(|r| r.series.times.first())
            .min()
            .copied()
            .unwrap_or(0);
        let hi = self
            .results
            .iter()
            .filter_map(|r| r.series.times.last())
            .max()
            .copied()
            .unwrap_or(lo);
        TimeAxis(lo, hi.max(lo + 1))
    }

    /// The first strategy with a series: its band and target are the ones drawn.
    fn reference(&self) -> Option<&'a RunResult> {
        self.results.iter().find(|r| !r.series.times.is_empty())
    }
}

fn fmt_date(t: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| t.to_string())
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A time axis in unix ms whose ticks fall on round times (minutes, hours, midnights, Mondays, first days
/// of months), in UTC.
#[derive(Clone, Copy, Debug)]
struct TimeAxis(TimestampMs, TimestampMs);

/// Fixed tick steps; longer spans tick on months.
const TICK_STEPS: [i64; 14] = [
    MINUTE,
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    14 * DAY,
    28 * DAY,
];

impl TimeAxis {
    /// The tick step for at most `max` ticks: a fixed step in ms, or a number of months (negative).
    fn step(&self, max: usize) -> i64 {
        let span = self.1 - self.0;
        let max = max.max(1) as i64;
        for s in TICK_STEPS {
            if s < 28 * DAY && span / s <= max {
                return s;
            }
        }
        for months in [1, 2, 3, 6, 12, 24, 60, 120] {
            if span / (30 * DAY * months) <= max {
                return -months;
            }
        }
        -1200
    }

    fn ticks(&self, max: usize) -> Vec<TimestampMs> {
        let (lo, hi) = (self.0, self.1);
        let step = self.step(max);
        let mut out = Vec::new();
        if step > 0 {
            // Weeks start on Mondays (the epoch was a Thursday).
            let offset = if step % (7 * DAY) == 0 { 4 * DAY } else { 0 };
            let mut t = (lo - offset).div_euclid(step) * step + offset;
            if t < lo {
                t += step;
            }
            while t <= hi {
                out.push(t);
                t += step;
            }
        } else {
            use chrono::Datelike;
            let months = -step as i32;
            let Some(d) = chrono::DateTime::from_timestamp_millis(lo) else {
                return out;
            };
            let (mut y, mut m) = (d.year(), d.month0() as i32);
            m -= m % months.min(12);
            while let Some(t) = chrono::NaiveDate::from_ymd_opt(y, m as u32 + 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp_millis())
            {
                if t > hi {
                    break;
                }
                if t >= lo {
                    out.push(t);
                }
                m += months;
                y += m / 12;
                m %= 12;
            }
        }
        out
    }

    /// A tick label precise enough for the step between ticks.
    fn label(&self, t: TimestampMs, max: usize) -> String {
        let Some(d) = chrono::DateTime::from_timestamp_millis(t) else {
            return t.to_string();
        };
        let step = self.step(max);
        let f = if step < 0 {
            "%b %Y"
        } else if step >= DAY {
            "%b %d"
        } else if self.1 - self.0 > DAY {
            "%b %d %H:%M"
        } else {
            "%H:%M"
        };
        d.format(f).to_string()
    }
}

impl Ranged for TimeAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = TimestampMs;

    fn map(&self, value: &TimestampMs, limit: (i32, i32)) -> i32 {
        let f = (*value - self.0) as f64 / (self.1 - self.0).max(1) as f64;
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<TimestampMs> {
        self.ticks(hint.max_num_points())
    }

    fn range(&self) -> std::ops::Range<TimestampMs> {
        self.0..self.1
    }
}

/// Indices of the points to draw: all of them when there are at most `max`, otherwise per bucket the
/// indices of its minimum and maximum (in time order), plus the last point.
fn decimate(n: usize, max: usize, y: impl Fn(usize) -> f64) -> Vec<usize> {
    if n <= max.max(2) {
        return (0..n).collect();
    }
    let buckets = (max / 2).max(1);
    let size = n.div_ceil(buckets);
    let mut out = Vec::with_capacity(2 * buckets + 1);
    let mut start = 0;
    while start < n {
        let end = (start + size).min(n);
        let (mut lo, mut hi) = (start, start);
        let (mut lo_v, mut hi_v) = (y(start), y(start));
        for i in start + 1..end {
            let v = y(i);
            if v < lo_v || lo_v.is_nan() {
                (lo, lo_v) = (i, v);
            }
            if v > hi_v || hi_v.is_nan() {
                (hi, hi_v) = (i, v);
            }
        }
        out.push(lo.min(hi));
        if lo != hi {
            out.push(lo.max(hi));
        }
        start = end;
    }
    if out.last() != Some(&(n - 1)) {
        out.push(n - 1);
    }
    out
}

type Pt = (TimestampMs, f64);

/// A line as (time, y) points, decimated, without non-finite values.
fn line(times: &[TimestampMs], max: usize, y: impl Fn(usize) -> f64) -> Vec<Pt> {
    decimate(times.len(), max, &y)
        .into_iter()
        .map(|i| (times[i], y(i)))
        .filter(|(_, v)| v.is_finite() && v.abs() < 1e300)
        .collect()
}

/// What a plot draws, bottom to top.
enum Layer {
    /// A shaded band between two lines.
    Band { upper: Vec<Pt>, lower: Vec<Pt> },
    /// The target: a dashed black line.
    Target(Vec<Pt>),
    /// A strategy's line (the i-th strategy's color).
    Line {
        label: String,
        strategy: usize,
        width: u32,
        points: Vec<Pt>,
    },
}

impl Layer {
    fn points(&self) -> Box<dyn Iterator<Item = &Pt> + '_> {
        match self {
            Layer::Band { upper, lower } => Box::new(upper.iter().chain(lower)),
            Layer::Target(p) | Layer::Line { points: p, .. } => Box::new(p.iter()),
        }
    }
}

/// A y range covering the layers and the values in `include`, padded; never below 0 when everything is at
/// or above 0.
fn y_range(layers: &[Layer], include: &[f64]) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in layers
        .iter()
        .flat_map(|l| l.points().map(|p| p.1))
        .chain(include.iter().copied())
    {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.06
    } else {
        hi.abs().max(1.0) * 0.1
    };
    let bottom = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    bottom..hi + pad
}

type PlotResult = Result<(), String>;

fn pe<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// Draw into an SVG string of the given size.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> PlotResult,
) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(pe)?;
        draw(&root)?;
        root.present().map_err(pe)?;
    }
    Ok(out)
}

/// Sizes of a panel's text and margins.
#[derive(Clone, Copy)]
struct Look {
    caption: u32,
    label: u32,
    x_labels: usize,
    y_labels: usize,
    max_points: usize,
    /// A legend on the right.
    legend: bool,
    axis_desc: bool,
}

const FULL: Look = Look {
    caption: 20,
    label: 13,
    x_labels: 8,
    y_labels: 8,
    max_points: MAX_POINTS,
    legend: true,
    axis_desc: true,
};

const SMALL: Look = Look {
    caption: 13,
    label: 10,
    x_labels: 4,
    y_labels: 4,
    max_points: MAX_POINTS_SMALL,
    legend: false,
    axis_desc: false,
};

const LEGEND_W: u32 = 150;

/// A time plot: caption, axes with date labels, the layers, and a legend on the right for a full look.
struct Plot<'a> {
    caption: &'a str,
    y_desc: &'a str,
    y_fmt: fn(&f64) -> String,
    /// Values the y axis must show (0 for errors and costs).
    include: &'a [f64],
    layers: Vec<Layer>,
}

impl Plot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        time: TimeAxis,
        look: Look,
    ) -> PlotResult
    where
        DB::ErrorType: 'static,
    {
        let (plot_area, legend_area) = if look.legend {
            let (w, _) = area.dim_in_pixel();
            let (a, b) = area.split_horizontally(w.saturating_sub(LEGEND_W));
            (a, Some(b))
        } else {
            (area.clone(), None)
        };
        let x_fmt = move |t: &TimestampMs| time.label(*t, look.x_labels);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(self.caption, (FONT, look.caption))
            .margin(if look.axis_desc { 12 } else { 6 })
            .x_label_area_size(if look.axis_desc { 40 } else { 20 })
            .y_label_area_size(if look.axis_desc { 70 } else { 44 })
            .build_cartesian_2d(time, y_range(&self.layers, self.include))
            .map_err(pe)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_labels(look.x_labels)
            .y_labels(look.y_labels)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&self.y_fmt)
            .label_style((FONT, look.label))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(212, 212, 212));
        if look.axis_desc {
            mesh.x_desc("time (UTC)")
                .y_desc(self.y_desc)
                .axis_desc_style((FONT, look.label));
        }
        mesh.draw().map_err(pe)?;
        for layer in &self.layers {
            match layer {
                Layer::Band { upper, lower } => {
                    if upper.is_empty() || lower.is_empty() {
                        continue;
                    }
                    let mut poly = upper.clone();
                    poly.extend(lower.iter().rev());
                    chart
                        .draw_series(std::iter::once(Polygon::new(poly, BAND.mix(0.22).filled())))
                        .map_err(pe)?;
                }
                Layer::Target(points) => {
                    chart
                        .draw_series(DashedLineSeries::new(
                            points.iter().copied(),
                            6,
                            4,
                            BLACK.stroke_width(1),
                        ))
                        .map_err(pe)?;
                }
                Layer::Line {
                    strategy,
                    width,
                    points,
                    ..
                } => {
                    chart
                        .draw_series(LineSeries::new(
                            points.iter().copied(),
                            strategy_color(*strategy).stroke_width(*width),
                        ))
                        .map_err(pe)?;
                }
            }
        }
        if let Some(legend) = legend_area {
            self.legend(&legend, look)?;
        }
        Ok(())
    }

    fn legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, look: Look) -> PlotResult
    where
        DB::ErrorType: 'static,
    {
        let mut y = 46;
        for layer in &self.layers {
            match layer {
                Layer::Band { .. } => {
                    area.draw(&Rectangle::new(
                        [(6, y - 5), (30, y + 5)],
                        BAND.mix(0.22).filled(),
                    ))
                    .map_err(pe)?;
                    area.draw(&Text::new("band", (38, y - 7), (FONT, look.label)))
                        .map_err(pe)?;
                }
                Layer::Target(_) => {
                    for x in [6, 16, 26] {
                        area.draw(&PathElement::new(
                            vec![(x, y), (x + 6, y)],
                            BLACK.stroke_width(1),
                        ))
                        .map_err(pe)?;
                    }
                    area.draw(&Text::new("target", (38, y - 7), (FONT, look.label)))
                        .map_err(pe)?;
                }
                Layer::Line {
                    label, strategy, ..
                } => {
                    let c = strategy_color(*strategy);
                    area.draw(&PathElement::new(vec![(6, y), (30, y)], c.stroke_width(3)))
                        .map_err(pe)?;
                    area.draw(&Text::new(label.clone(), (38, y - 7), (FONT, look.label)))
                        .map_err(pe)?;
                }
            }
            y += 20;
        }
        Ok(())
    }
}

fn amount_label(v: &f64) -> String {
    fmt_axis(*v)
}

fn pct_label(v: &f64) -> String {
    format!("{} %", fmt_axis(*v))
}

/// One line per strategy.
fn strategy_lines(
    d: &PlotData,
    look: Look,
    width: u32,
    y: impl Fn(&RunResult, usize) -> f64,
) -> Vec<Layer> {
    d.results
        .iter()
        .enumerate()
        .map(|(i, r)| Layer::Line {
            label: r.strategy.name().to_string(),
            strategy: i,
            width,
            points: line(&r.series.times, look.max_points, |t| y(r, t)),
        })
        .collect()
}

/// The balance value of each strategy against the band and target of position `p`.
fn value_plot<'a>(d: &PlotData, p: usize, look: Look, caption: &'a str) -> Plot<'a> {
    let mut layers = Vec::new();
    if let Some(r) = d.reference() {
        let s = &r.series;
        layers.push(Layer::Band {
            upper: line(&s.times, look.max_points, |i| cell(&s.high, i, p)),
            lower: line(&s.times, look.max_points, |i| cell(&s.low, i, p)),
        });
        layers.push(Layer::Target(line(&s.times, look.max_points, |i| {
            cell(&s.target, i, p)
        })));
    }
    layers.extend(strategy_lines(d, look, 2, |r, i| {
        cell(&r.series.value, i, p)
    }));
    Plot {
        caption,
        y_desc: "value (base units)",
        y_fmt: amount_label,
        include: &[],
        layers,
    }
}

/// `(x - target) / target` in %.
fn pct_of(x: f64, target: f64) -> f64 {
    if target > 0.0 {
        (x - target) / target * 100.0
    } else {
        f64::NAN
    }
}

/// Normalised error `(value - target) / target` in % of position `p`, per strategy, over the band.
fn error_plot<'a>(d: &PlotData, p: usize, look: Look, caption: &'a str) -> Plot<'a> {
    let mut layers = Vec::new();
    if let Some(r) = d.reference() {
        let s = &r.series;
        layers.push(Layer::Band {
            upper: line(&s.times, look.max_points, |i| {
                pct_of(cell(&s.high, i, p), cell(&s.target, i, p))
            }),
            lower: line(&s.times, look.max_points, |i| {
                pct_of(cell(&s.low, i, p), cell(&s.target, i, p))
            }),
        });
    }
    let time = d.time_range();
    layers.push(Layer::Target(vec![(time.0, 0.0), (time.1, 0.0)]));
    layers.extend(strategy_lines(d, look, 1, |r, i| {
        pct_of(cell(&r.series.value, i, p), cell(&r.series.target, i, p))
    }));
    Plot {
        caption,
        y_desc: "error (% of target)",
        y_fmt: pct_label,
        include: &[-1.0, 1.0],
        layers,
    }
}

/// The total normalised error per strategy: `sum |value - target| / max(sum value, sum target)` in %.
fn total_error_plot(d: &PlotData, look: Look) -> Plot<'static> {
    let n = d.names.len();
    let layers = strategy_lines(d, look, 2, |r, i| {
        let s = &r.series;
        let (mut dev, mut v, mut t) = (0.0, 0.0, 0.0);
        for p in 0..n {
            let (vp, tp) = (cell(&s.value, i, p), cell(&s.target, i, p));
            if vp.is_finite() && tp.is_finite() {
                dev += (vp - tp).abs();
                v += vp;
                t += tp;
            }
        }
        let denom = f64::max(v, t);
        if denom > 0.0 {
            dev / denom * 100.0
        } else {
            f64::NAN
        }
    });
    Plot {
        caption: "Total normalised error: sum |value - target| / portfolio value",
        y_desc: "error (% of portfolio)",
        y_fmt: pct_label,
        include: &[0.0],
        layers,
    }
}

/// The cumulative cost per strategy.
fn cost_plot(d: &PlotData, look: Look) -> Plot<'static> {
    Plot {
        caption: "Cumulative cost (fees, spreads, fixed route costs)",
        y_desc: "cost (base units)",
        y_fmt: amount_label,
        include: &[0.0, 1.0],
        layers: strategy_lines(d, look, 2, |r, i| {
            r.series.cumulative_cost.get(i).copied().unwrap_or(f64::NAN)
        }),
    }
}

fn plot_position(d: &PlotData, p: usize) -> Result<String, String> {
    let time = d.time_range();
    let error_caption = format!("{}: normalised error", d.names[p]);
    svg((1200, 780), |root| {
        let (top, bottom) = root.split_vertically(470);
        value_plot(d, p, FULL, &d.names[p]).draw(&top, time, FULL)?;
        error_plot(d, p, FULL, &error_caption).draw(&bottom, time, FULL)
    })
}

/// Columns of a grid of `n` small panels.
fn grid_cols(n: usize) -> usize {
    match n {
        0..=4 => 2,
        5..=9 => 3,
        10..=16 => 4,
        17..=30 => 5,
        _ => 6,
    }
}

const CELL_W: u32 = 330;
const CELL_H: u32 = 210;

fn plot_error(d: &PlotData) -> Result<String, String> {
    let n = d.names.len();
    let cols = grid_cols(n);
    let rows = n.div_ceil(cols);
    let width = (cols as u32 * CELL_W).max(1000);
    let top_h = 420;
    let time = d.time_range();
    svg((width, top_h + rows as u32 * CELL_H), |root| {
        let (top, grid) = root.split_vertically(top_h);
        total_error_plot(d, FULL).draw(&top, time, FULL)?;
        for (p, cell) in grid.split_evenly((rows, cols)).iter().enumerate().take(n) {
            error_plot(d, p, SMALL, &d.names[p]).draw(cell, time, SMALL)?;
        }
        Ok(())
    })
}

fn plot_cost(d: &PlotData) -> Result<String, String> {
    svg((1200, 520), |root| {
        cost_plot(d, FULL).draw(root, d.time_range(), FULL)
    })
}

/// The one-page overview: title, a legend with headline metrics, the per-position grid and the cost curve.
fn plot_overview(d: &PlotData) -> Result<String, String> {
    let n = d.names.len();
    let cols = grid_cols(n);
    let rows = n.div_ceil(cols);
    let width = (cols as u32 * CELL_W).max(1000);
    let legend_h = 96 + 22 * d.results.len() as u32;
    let cost_h = 330;
    let height = legend_h + rows as u32 * CELL_H + cost_h;
    let time = d.time_range();
    svg((width, height), |root| {
        let (head, rest) = root.split_vertically(legend_h);
        let (grid, cost) = rest.split_vertically(rows as u32 * CELL_H);
        head.draw(&Text::new(
            d.title.clone(),
            (16, 10),
            (FONT, 24).into_font().style(FontStyle::Bold),
        ))
        .map_err(pe)?;
        head.draw(&Text::new(d.subtitle.clone(), (16, 42), (FONT, 14)))
            .map_err(pe)?;
        // A small table: strategy, then headline metrics in columns.
        let columns: [(&str, i32); 7] = [
            ("strategy", 48),
            ("IAE", 170),
            ("shortfall events", 260),
            ("turnover", 400),
            ("costs", 490),
            ("orders", 590),
            ("side flips", 670),
        ];
        for (label, x) in columns {
            head.draw(&Text::new(
                label,
                (x, 70),
                (FONT, 13).into_font().style(FontStyle::Bold),
            ))
            .map_err(pe)?;
        }
        for (i, r) in d.results.iter().enumerate() {
            let y = 92 + 22 * i as i32;
            let c = strategy_color(i);
            head.draw(&Rectangle::new([(16, y + 2), (40, y + 12)], c.filled()))
                .map_err(pe)?;
            let t = &r.total;
            let cells = [
                r.strategy.name().to_string(),
                fmt_num(t.iae),
                t.shortfall_events.to_string(),
                format!("{:.2}x", t.turnover),
                fmt_money(t.fees),
                t.orders.to_string(),
                t.side_flips.to_string(),
            ];
            for ((_, x), text) in columns.iter().zip(cells) {
                head.draw(&Text::new(text, (*x, y), (FONT, 14)))
                    .map_err(pe)?;
            }
        }
        for (p, cell) in grid.split_evenly((rows, cols)).iter().enumerate().take(n) {
            value_plot(d, p, SMALL, &d.names[p]).draw(cell, time, SMALL)?;
        }
        let look = Look {
            axis_desc: true,
            ..SMALL
        };
        cost_plot(d, look).draw(&cost, time, look)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_extremes_and_bounds_the_points() {
        let y: Vec<f64> = (0..100_000)
            .map(|i| if i == 54_321 { 1e6 } else { (i % 97) as f64 })
            .collect();
        let idx = decimate(y.len(), 1000, |i| y[i]);
        assert!(idx.len() <= 1001, "{}", idx.len());
        assert!(idx.windows(2).all(|w| w[0] < w[1]), "in time order");
        assert!(idx.contains(&54_321), "the spike is kept");
        assert_eq!(*idx.last().unwrap(), y.len() - 1);
        assert_eq!(decimate(10, 1000, |i| y[i]), (0..10).collect::<Vec<_>>());
    }

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
