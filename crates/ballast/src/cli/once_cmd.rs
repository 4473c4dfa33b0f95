//! `ballast once --config FILE`: one cycle, for cron or a systemd timer. The exit code says what happened:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | the cycle ran: measured, planned, started what it planned and advanced the legs in flight |
//! | 1 | it could not run (a chain or venue could not be connected, the journal failed) |
//! | 2 | the configuration is invalid (every problem printed with its line) |
//! | 3 | held by the kill switch (reduce-only or halted): no new move started |
//! | 4 | degraded: a venue or chain read failed, balances are stale or a breaker holds: no new move started |
//! | 5 | a leg needs an operator: it expired or failed with its funds off-chain (see the alerts) |
//! | 6 | another daemon holds the journal's lease |

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use super::run_cmd::service_error;
use ballast_config::Config;
use ballast_service::daemon;
use ballast_service::{CycleOutcome, StartOptions};

#[derive(Args, Debug)]
pub struct OnceArgs {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
}

pub const EXIT_HELD: u8 = 3;
pub const EXIT_DEGRADED: u8 = 4;
pub const EXIT_ALERT: u8 = 5;

pub fn run(a: OnceArgs) -> Result<ExitCode, CliError> {
    let cfg = Config::load(&a.config)?;
    let progress = cfg.service.progress;
    let rt = tokio::runtime::Runtime::new().map_err(|e| CliError::io("starting the runtime", e))?;
    let r = rt
        .block_on(daemon::once(cfg, StartOptions::default()))
        .map_err(service_error)?;
    if progress {
        println!("{}", r.table);
    }
    for a in &r.alerts {
        eprintln!("alert: {a}");
    }
    let code = if !r.alerts.is_empty() {
        EXIT_ALERT
    } else {
        match &r.outcome {
            CycleOutcome::Ok { .. } => 0,
            CycleOutcome::HeldByKillSwitch(why) => {
                eprintln!("held: {why}");
                EXIT_HELD
            }
            CycleOutcome::Degraded(why) => {
                eprintln!("degraded: {why}");
                EXIT_DEGRADED
            }
        }
    };
    Ok(ExitCode::from(code))
}
