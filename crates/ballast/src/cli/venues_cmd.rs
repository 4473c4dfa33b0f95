//! `ballast venues serve --config FILE`: run the local venue servers (loopback, simulated exchange behind
//! the venues' real wire protocols) until interrupted.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::CliError;
use ballast_localnet::serve::{self, LocalVenues};

#[derive(Subcommand, Debug)]
pub enum VenuesCommand {
    /// Start the local venue servers described in FILE (see config/local-venues.toml) and print where they
    /// listen. Stops on ctrl-c.
    Serve {
        /// The local venues file.
        #[arg(long)]
        config: PathBuf,
    },
}

pub fn run(cmd: VenuesCommand) -> Result<ExitCode, CliError> {
    match cmd {
        VenuesCommand::Serve { config } => {
            let cfg = LocalVenues::load(&config)?;
            let rt = tokio::runtime::Runtime::new()
                .map_err(|e| CliError::io("starting the async runtime", e))?;
            rt.block_on(async {
                let running = serve::start(&cfg)
                    .await
                    .map_err(|e| CliError::Failed(e.to_string()))?;
                for line in running.describe(&cfg) {
                    println!("{line}");
                }
                println!("serving; ctrl-c to stop");
                tokio::signal::ctrl_c()
                    .await
                    .map_err(|e| CliError::io("waiting for ctrl-c", e))?;
                running.shutdown().await;
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}
