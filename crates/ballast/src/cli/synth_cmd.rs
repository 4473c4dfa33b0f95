//! `ballast synth`: write a synthetic recording (balances, prices and a matching config) for tests and demos.

use clap::builder::TypedValueParser as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use ballast_backtest::synth::{self, Kind, SynthSpec};

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// What to simulate: a cross-chain relayer's stablecoins, or a treasury with payments and price drift.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Kind::NAMES.iter().map(|(n, _)| *n)).map(|s| s.parse::<Kind>().expect("a listed name")))]
    pub kind: Kind,
    /// Length of the recording in days.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Number of positions.
    #[arg(long, default_value_t = 10)]
    pub positions: usize,
    /// Random seed: the same seed gives the same recording.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Minutes between snapshots.
    #[arg(long, default_value_t = 1)]
    pub step_minutes: u32,
    /// Start time (RFC 3339 or unix ms); default 2026-01-01T00:00:00Z.
    #[arg(long)]
    pub start: Option<String>,
    /// Write balances.csv.gz instead of balances.csv.
    #[arg(long)]
    pub gzip: bool,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: SynthArgs) -> Result<ExitCode, CliError> {
    if a.days == 0 || a.positions < 2 || a.step_minutes == 0 {
        return Err(CliError::Usage(
            "--days and --step-minutes must be at least 1, --positions at least 2".into(),
        ));
    }
    let mut spec = SynthSpec {
        kind: a.kind,
        days: a.days,
        positions: a.positions,
        seed: a.seed,
        step_minutes: a.step_minutes,
        gzip: a.gzip,
        ..Default::default()
    };
    if let Some(s) = &a.start {
        spec.start =
            super::plan_cmd::parse_time(s).map_err(|m| CliError::Usage(format!("--start: {m}")))?;
    }
    let sum = synth::write(&spec, &a.out)
        .map_err(|e| CliError::io(format!("writing {}", a.out.display()), e))?;
    println!(
        "wrote {} rows ({} snapshots x {} positions) to {}: balances, prices.csv and config.toml",
        sum.rows,
        sum.snapshots,
        sum.positions.len(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
