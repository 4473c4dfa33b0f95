//! `ballast backtest`: replay a recording through the same portfolio computer, planner, auction and
//! simulated venues as the live job, side by side with the baselines.

use clap::builder::TypedValueParser as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::CliError;
use ballast_backtest::recording::{ReadOptions, Recording};
use ballast_backtest::replay::{self, FillModel, ReplayOptions, RunResult, Strategy};
use ballast_backtest::report;
use ballast_config::Config;
use ballast_core::model::parse_duration;

/// The recording and the simulated execution, shared by `backtest` and `tune`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Directory with balances.csv[.gz] (and optionally prices.csv, market.csv).
    #[arg(long)]
    pub recording: PathBuf,
    /// `fast` (fill probabilities from the liquidity model) or `book` (the full simulated order book).
    #[arg(long, default_value_t = FillModel::Fast, value_parser = clap::builder::PossibleValuesParser::new(FillModel::NAMES.iter().map(|(n, _)| *n)).map(|s| s.parse::<FillModel>().expect("a listed name")))]
    pub fill_model: FillModel,
    /// Seed of the simulated markets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// From leaving the source chain to being credited on the venue.
    #[arg(long, default_value = "5m")]
    pub deposit_delay: String,
    /// From the end of a swap to the arrival on the destination chain.
    #[arg(long, default_value = "5m")]
    pub withdraw_delay: String,
    /// Skip and count bad rows of the recording instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
}

impl ReplayArgs {
    /// The replay options these flags give.
    pub fn options(&self) -> Result<ReplayOptions, CliError> {
        options(
            self.fill_model,
            self.seed,
            &self.deposit_delay,
            &self.withdraw_delay,
        )
    }
}

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// The configuration to test.
    #[arg(long)]
    pub config: PathBuf,
    #[command(flatten)]
    pub replay: ReplayArgs,
    /// Strategies to replay, comma separated: ballast, none, threshold, p-only.
    #[arg(long, default_value = "ballast,none,threshold,p-only")]
    pub strategies: String,
    /// Write report.json, series.csv and SVG plots here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar and no table (for scripts; the exit code and --out still work).
    #[arg(long)]
    pub quiet: bool,
}

/// Parse a comma-separated list of strategies.
pub fn parse_strategies(s: &str) -> Result<Vec<Strategy>, CliError> {
    let mut out = Vec::new();
    for name in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let st = Strategy::ALL
            .into_iter()
            .find(|x| x.name() == name)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "--strategies: unknown strategy {name:?} (ballast, none, threshold, p-only)"
                ))
            })?;
        if !out.contains(&st) {
            out.push(st);
        }
    }
    if out.is_empty() {
        return Err(CliError::Usage(
            "--strategies: give at least one strategy".into(),
        ));
    }
    Ok(out)
}

pub fn options(
    fill: FillModel,
    seed: u64,
    deposit: &str,
    withdraw: &str,
) -> Result<ReplayOptions, CliError> {
    let ms = |flag: &str, v: &str| {
        parse_duration(v)
            .map(|d| d.as_millis() as i64)
            .map_err(|e| CliError::Usage(format!("--{flag}: {e}")))
    };
    Ok(ReplayOptions {
        fill_model: fill,
        seed,
        deposit_delay_ms: ms("deposit-delay", deposit)?,
        withdraw_delay_ms: ms("withdraw-delay", withdraw)?,
        ..Default::default()
    })
}

pub fn read_recording(
    dir: &std::path::Path,
    skip_bad_rows: bool,
    quiet: bool,
) -> Result<Recording, CliError> {
    let rec = Recording::read_dir(dir, ReadOptions { skip_bad_rows }).map_err(|e| {
        CliError::Input(crate::inputs::InputError {
            file: e.file,
            line: (e.line > 0).then_some(e.line),
            column: (e.column > 0).then_some(e.column),
            message: e.message,
        })
    })?;
    if rec.skipped_rows > 0 && !quiet {
        eprintln!("skipped {} bad rows of the recording", rec.skipped_rows);
    }
    Ok(rec)
}

pub fn run(a: BacktestArgs) -> Result<ExitCode, CliError> {
    let cfg = Config::load(&a.config)?;
    let strategies = parse_strategies(&a.strategies)?;
    let opts = a.replay.options()?;
    // Quiet inside: the count of skipped rows is printed once the progress bar is gone.
    let rec = with_progress(a.quiet, 0, "reading the recording", |_| {
        read_recording(&a.replay.recording, a.replay.skip_bad_rows, true)
    })?;
    if rec.skipped_rows > 0 && !a.quiet {
        eprintln!("skipped {} bad rows of the recording", rec.skipped_rows);
    }
    let started = std::time::Instant::now();
    let results: Vec<RunResult> =
        with_progress(a.quiet, strategies.len() as u64, "replaying", |bar| {
            use rayon::prelude::*;
            // Converted once, shared by every strategy.
            let prep = replay::Prepared::new(&cfg, &rec)?;
            strategies
                .par_iter()
                .map(|s| {
                    let r = replay::run_prepared(&cfg, &prep, *s, &opts);
                    bar.set_message(format!("{} done", s.name()));
                    bar.inc(1);
                    r
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| CliError::Failed(format!("backtest: {e}")))?;
    if !a.quiet {
        println!(
            "{} snapshots, {} positions, {} to {}, fill model {:?}, seed {}, {:.1} s\n",
            rec.len(),
            cfg.positions.len(),
            chrono::DateTime::from_timestamp_millis(rec.times[0])
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            chrono::DateTime::from_timestamp_millis(*rec.times.last().expect("non-empty"))
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            a.replay.fill_model,
            a.replay.seed,
            started.elapsed().as_secs_f64()
        );
        print!("{}", report::side_by_side(&results));
    }
    if let Some(dir) = &a.out {
        let report = report::BacktestReport {
            config: &cfg,
            recording: &rec,
            options: &opts,
            results: &results,
        };
        let files = with_progress(a.quiet, 0, "writing the report", |_| {
            report::write_dir(dir, &report)
        })
        .map_err(|e| CliError::Failed(format!("writing the report: {e}")))?;
        if !a.quiet {
            println!("\nwrote {} files into {}", files.len(), dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `work` with a progress bar on stderr that appears only when the work takes more than a second, stderr
/// is a terminal and `quiet` is off; cleared when the work ends. `len` counts steps (0: a spinner only).
pub fn with_progress<T>(
    quiet: bool,
    len: u64,
    what: &str,
    work: impl FnOnce(&indicatif::ProgressBar) -> T,
) -> T {
    let bar = indicatif::ProgressBar::with_draw_target(
        (len > 0).then_some(len),
        indicatif::ProgressDrawTarget::hidden(),
    );
    let template = if len > 0 {
        format!("{{spinner}} {what} {{pos}}/{{len}} [{{elapsed}}] {{msg}}")
    } else {
        format!("{{spinner}} {what} [{{elapsed}}]")
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let show = !quiet && std::io::stderr().is_terminal();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let out = std::thread::scope(|scope| {
        if show {
            let bar = bar.clone();
            scope.spawn(move || {
                if wait.recv_timeout(Duration::from_secs(1))
                    == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                {
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
            });
        }
        let out = work(&bar);
        drop(done);
        out
    });
    bar.finish_and_clear();
    out
}
