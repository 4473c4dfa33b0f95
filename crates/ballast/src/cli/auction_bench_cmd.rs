//! `ballast auction-bench`: execution quality of ballast's auction against an immediate IOC and a linear
//! auction without maker logic, on the same seeded simulated markets and the same orders.

use std::process::ExitCode;

use clap::Args;

use super::CliError;
use ballast_sim::quality::{self, BenchSpec};

#[derive(Args, Debug)]
pub struct AuctionBenchArgs {
    /// Seeds per (market, size, side).
    #[arg(long, default_value_t = 10)]
    pub seeds: u64,
    /// Print every outcome as JSON lines instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: AuctionBenchArgs) -> Result<ExitCode, CliError> {
    if a.seeds == 0 {
        return Err(CliError::Usage("--seeds must be at least 1".into()));
    }
    let spec = BenchSpec::standard(a.seeds);
    let outcomes = quality::run(&spec);
    if a.json {
        for o in &outcomes {
            println!("{}", serde_json::to_string(o).expect("json"));
        }
    } else {
        let rows = quality::summarize(&outcomes);
        println!(
            "{} orders per executor: sizes {:?} x the touch size, buy and sell, {} seeds, on each market.\n",
            outcomes.len() / 3,
            spec.size_multiples
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>(),
            spec.seeds
        );
        print!("{}", quality::table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}
