//! `ballast tune`: search the controller's gains, deadband, settle tolerance and per-cycle clamp on a
//! recording (train part), score the best on the rest (test part), compare with the baselines, and write the
//! winner as a `[controller]` snippet (and, with `--write-config`, a whole configuration).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use super::backtest_cmd::{options, read_recording};
use crate::backtest::replay::FillModel;
use crate::backtest::tune;
use crate::config::Config;

#[derive(Args, Debug)]
pub struct TuneArgs {
    /// The configuration to tune (its `[tune]` section gives the weights and ranges).
    #[arg(long)]
    pub config: PathBuf,
    /// Directory with balances.csv[.gz] (and optionally prices.csv, market.csv).
    #[arg(long)]
    pub recording: PathBuf,
    /// Candidates to evaluate (overrides `[tune] budget`).
    #[arg(long)]
    pub budget: Option<usize>,
    /// `fast` (default, for many runs) or `book`.
    #[arg(long, value_enum, default_value_t = FillModel::Fast)]
    pub fill_model: FillModel,
    /// Seed of the simulated markets (the search's own seed is `[tune] seed`).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "5m")]
    pub deposit_delay: String,
    #[arg(long, default_value = "5m")]
    pub withdraw_delay: String,
    /// Skip and count bad rows of the recording instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Where the winner's `[controller]` snippet goes.
    #[arg(long, default_value = "tuned.toml")]
    pub out: PathBuf,
    /// Also write the whole configuration with the winner's parameters here (comments kept).
    #[arg(long)]
    pub write_config: Option<PathBuf>,
    /// Also write every reported candidate and baseline as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress bar and no table.
    #[arg(long)]
    pub quiet: bool,
}

fn write(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|source| CliError::Io {
        context: format!("writing {}", path.display()),
        source,
    })
}

pub fn run(a: TuneArgs) -> Result<ExitCode, CliError> {
    let mut cfg = Config::load(&a.config)?;
    if let Some(b) = a.budget {
        if b == 0 {
            return Err(CliError::Usage("--budget: must be at least 1".into()));
        }
        cfg.tune.budget = b;
    }
    let opts = options(a.fill_model, a.seed, &a.deposit_delay, &a.withdraw_delay)?;
    let rec = read_recording(&a.recording, a.skip_bad_rows, a.quiet)?;
    let bar = (!a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let pb = indicatif::ProgressBar::new(cfg.tune.budget as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} candidates [{elapsed} < {eta}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let started = std::time::Instant::now();
    let progress = |done: usize, _total: usize| {
        if let Some(pb) = &bar {
            pb.set_position(done as u64);
        }
    };
    let result = tune::tune(&cfg, &rec, &opts, &progress)
        .map_err(|e| CliError::Failed(format!("tune: {e}")))?;
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let snippet = tune::snippet(&cfg, &result);
    write(&a.out, &snippet)?;
    if let Some(path) = &a.write_config {
        let text = std::fs::read_to_string(&a.config).map_err(|source| CliError::Io {
            context: format!("reading {}", a.config.display()),
            source,
        })?;
        let out = tune::rewrite_config(&text, &result.best[0].params)
            .map_err(|e| CliError::Failed(format!("{}: {e}", a.config.display())))?;
        write(path, &out)?;
    }
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&result)
            .map_err(|e| CliError::Failed(format!("tune result as JSON: {e}")))?;
        write(path, &text)?;
    }
    if !a.quiet {
        println!(
            "{} candidates in {:.1} s, J = IAE + {} x turnover + {} x cost_bps + {} x shortfalls + {} x flips\n",
            result.evaluated,
            started.elapsed().as_secs_f64(),
            cfg.tune.w_turnover,
            cfg.tune.w_cost,
            cfg.tune.w_shortfall,
            cfg.tune.w_flips
        );
        print!("{}", tune::table(&result));
        println!("\nwrote the winner to {}", a.out.display());
        if let Some(p) = &a.write_config {
            println!("wrote the tuned configuration to {}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
