//! `ballast backtest`: replay a recording through the same portfolio computer, planner, auction and
//! simulated venues as the live job, side by side with the baselines.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::CliError;
use crate::backtest::recording::{ReadOptions, Recording};
use crate::backtest::replay::{self, FillModel, ReplayOptions, RunResult, Strategy};
use crate::config::Config;
use crate::model::parse_duration;

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// The configuration to test.
    #[arg(long)]
    pub config: PathBuf,
    /// Directory with balances.csv[.gz] (and optionally prices.csv, market.csv).
    #[arg(long)]
    pub recording: PathBuf,
    /// `fast` (fill probabilities from the liquidity model) or `book` (the full simulated order book).
    #[arg(long, value_enum, default_value_t = FillModel::Fast)]
    pub fill_model: FillModel,
    /// Seed of the simulated markets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Strategies to replay, comma separated: ballast, none, threshold, p-only.
    #[arg(long, default_value = "ballast,none,threshold,p-only")]
    pub strategies: String,
    /// From leaving the source chain to being credited on the venue.
    #[arg(long, default_value = "5m")]
    pub deposit_delay: String,
    /// From the end of a swap to the arrival on the destination chain.
    #[arg(long, default_value = "5m")]
    pub withdraw_delay: String,
    /// Skip and count bad rows of the recording instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
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
    let opts = options(a.fill_model, a.seed, &a.deposit_delay, &a.withdraw_delay)?;
    let rec = read_recording(&a.recording, a.skip_bad_rows, a.quiet)?;
    let bar = (!a.quiet).then(|| {
        let pb = indicatif::ProgressBar::new(strategies.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} replaying {pos}/{len} strategies [{elapsed}] {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        // Shown only when the run takes more than a second.
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        pb
    });
    let started = std::time::Instant::now();
    let results: Vec<RunResult> = {
        use rayon::prelude::*;
        let shown = std::sync::atomic::AtomicBool::new(false);
        strategies
            .par_iter()
            .map(|s| {
                let r = replay::run(&cfg, &rec, *s, &opts);
                if let Some(pb) = &bar {
                    if !shown.swap(true, std::sync::atomic::Ordering::Relaxed)
                        && started.elapsed() > Duration::from_secs(1)
                    {
                        pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    }
                    pb.set_message(s.name());
                    pb.inc(1);
                }
                r
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CliError::Failed(format!("backtest: {e}")))?
    };
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
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
            a.fill_model,
            a.seed,
            started.elapsed().as_secs_f64()
        );
        print!("{}", crate::backtest::summary::table(&results));
    }
    if let Some(dir) = &a.out {
        let files = crate::backtest::summary::write_outputs(dir, &cfg, &rec, &opts, &results)
            .map_err(|e| CliError::Failed(format!("writing {}: {e}", dir.display())))?;
        if !a.quiet {
            println!(
                "\nwrote {}",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
