//! `ballast run --config FILE`: the rebalancing daemon (docs/SERVICE.md).
//!
//! ```text
//! ballast run --config FILE [--http ADDR | --no-http] [--cycles N] [--wait-for-lease]
//! ```
//! Cycles every `[schedule] interval` until SIGINT or SIGTERM, then stops gracefully (exit code 0). Exit code
//! 2 for a bad file, 6 when another daemon holds the journal, 1 for other failures.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::CliError;
use ballast_config::Config;
use ballast_service::daemon::{self, RunOptions};
use ballast_service::{ServiceError, StartOptions};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// Serve the HTTP endpoint here instead of `[service] http_listen` (port 0: any free port).
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// No HTTP endpoint.
    #[arg(long, conflicts_with = "http")]
    pub no_http: bool,
    /// Stop after this many cycles.
    #[arg(long)]
    pub cycles: Option<u64>,
    /// Wait for another daemon's lease on the journal to expire instead of exiting.
    #[arg(long)]
    pub wait_for_lease: bool,
}

/// Exit code when another daemon holds the journal's lease.
pub const EXIT_LEASE_HELD: u8 = 6;

/// Map a service error to the command line's.
pub fn service_error(e: ServiceError) -> CliError {
    match e {
        ServiceError::Config(c) => CliError::Config(c),
        ServiceError::LeaseHeld { .. } => CliError::Exit {
            code: EXIT_LEASE_HELD,
            message: e.to_string(),
        },
        e => CliError::Failed(e.to_string()),
    }
}

/// The service settings of a configuration file, for its log lines (`[service] log_format`, `log_file`);
/// `None` when the file does not load (the command then reports why).
pub fn log_settings(config: &std::path::Path) -> Option<ballast_config::service::ServiceCfg> {
    Config::load(config).ok().map(|c| c.service)
}

pub fn run(a: RunArgs) -> Result<ExitCode, CliError> {
    let cfg = Config::load(&a.config)?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| CliError::io("starting the runtime", e))?;
    let opts = RunOptions {
        http: a.http,
        no_http: a.no_http,
        start: StartOptions {
            wait_for_lease: if a.wait_for_lease {
                cfg.service.lease_ttl + Duration::from_secs(5)
            } else {
                Duration::ZERO
            },
            ..StartOptions::default()
        },
        max_cycles: a.cycles,
    };
    rt.block_on(daemon::run(cfg, opts)).map_err(service_error)?;
    Ok(ExitCode::SUCCESS)
}
