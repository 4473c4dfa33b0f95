//! `ballast tune`: search the controller's gains, deadband, settle tolerance and per-cycle clamp on a
//! recording (train part), score the best on the rest (test part), compare with the baselines, and write the
//! winner as a `[controller]` snippet (and, with `--write-config`, a whole configuration).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use super::backtest_cmd::{ReplayArgs, read_recording};
use super::plan_cmd::write_atomic;
use ballast_backtest::tune;
use ballast_config::Config;

#[derive(Args, Debug)]
pub struct TuneArgs {
    /// The configuration to tune (its `[tune]` section gives the weights and ranges).
    #[arg(long)]
    pub config: PathBuf,
    #[command(flatten)]
    pub replay: ReplayArgs,
    /// Candidates to evaluate (overrides `[tune] budget`).
    #[arg(long)]
    pub budget: Option<usize>,
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

pub fn run(a: TuneArgs) -> Result<ExitCode, CliError> {
    let mut cfg = Config::load(&a.config)?;
    if let Some(b) = a.budget {
        if b == 0 {
            return Err(CliError::Usage("--budget: must be at least 1".into()));
        }
        cfg.tune.budget = b;
    }
    let opts = a.replay.options()?;
    let rec = read_recording(&a.replay.recording, a.replay.skip_bad_rows, a.quiet)?;
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
    write_atomic(&a.out, snippet.as_bytes())?;
    if let Some(path) = &a.write_config {
        let text = std::fs::read_to_string(&a.config)
            .map_err(|e| CliError::io(format!("reading {}", a.config.display()), e))?;
        let out = tune::rewrite_config(&text, &result.best[0].params)
            .map_err(|e| CliError::Failed(format!("{}: {e}", a.config.display())))?;
        write_atomic(path, out.as_bytes())?;
    }
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&result)
            .map_err(|e| CliError::Failed(format!("tune result as JSON: {e}")))?;
        write_atomic(path, text.as_bytes())?;
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
