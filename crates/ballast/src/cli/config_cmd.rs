//! `ballast config check FILE`: validate a configuration and print every problem, or `ok` and a summary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::CliError;
use ballast_config::Config;

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate a configuration file: every problem with its line, or `ok` and a one-line summary.
    Check {
        /// The configuration file.
        file: PathBuf,
    },
}

pub fn run(cmd: ConfigCommand) -> Result<ExitCode, CliError> {
    match cmd {
        ConfigCommand::Check { file } => {
            let cfg = Config::load(&file)?;
            println!("ok: {}", cfg.summary());
            Ok(ExitCode::SUCCESS)
        }
    }
}
