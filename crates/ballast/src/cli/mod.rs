//! The command line: argument parsing and the user-facing commands. Each command lives in its own file and
//! returns a typed [`CliError`]; [`main`] maps it to a message on stderr and an exit code.

mod auction_bench_cmd;
mod backtest_cmd;
mod config_cmd;
mod once_cmd;
mod order_cmd;
mod pending_cmd;
mod plan_cmd;
mod record_cmd;
mod run_cmd;
mod status_cmd;
mod synth_cmd;
mod tune_cmd;
mod venues_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::inputs::InputError;
use ballast_config::ConfigErrors;
use ballast_core::control::StepError;

#[derive(Parser, Debug)]
#[command(
    name = "ballast",
    version,
    about = "Keeps every (chain, asset) inventory position at its target."
)]
pub struct Cli {
    /// Log filter (tracing env-filter syntax), e.g. `info` or `ballast=debug`. Also read from BALLAST_LOG.
    #[arg(long, global = true)]
    pub log: Option<String>,
    /// Log as JSON lines instead of readable text.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: config_cmd::ConfigCommand,
    },
    /// Dry run: one controller + planner step on given balances, printed as JSON (or a table).
    Plan(plan_cmd::PlanArgs),
    /// Local venue servers that speak the venues' wire protocols.
    Venues {
        #[command(subcommand)]
        command: venues_cmd::VenuesCommand,
    },
    /// Write a synthetic recording (relayer or treasury) with a matching config.
    Synth(synth_cmd::SynthArgs),
    /// A one-time order worked through the Dutch auction (live progress, final report as JSON).
    Order(Box<order_cmd::OrderArgs>),
    /// Execution quality: ballast's auction vs an immediate IOC vs a linear auction, on simulated markets.
    AuctionBench(auction_bench_cmd::AuctionBenchArgs),
    /// The rebalancing daemon: a cycle every interval until SIGINT/SIGTERM (docs/SERVICE.md).
    Run(run_cmd::RunArgs),
    /// One cycle, for cron or a systemd timer; the exit code says what happened.
    Once(once_cmd::OnceArgs),
    /// Everything in flight as signed `{chain: {asset: amount}}` JSON; all or nothing.
    Pending(pending_cmd::PendingArgs),
    /// The running daemon's state.
    Status(status_cmd::StatusArgs),
    /// Halt the running daemon: cancel working orders, start nothing.
    Halt(status_cmd::HaltArgs),
    /// Resume the running daemon (or put it in reduce-only).
    Resume(status_cmd::ResumeArgs),
    /// Replay a recording against the configuration and the baselines (none, threshold, p-only).
    Backtest(Box<backtest_cmd::BacktestArgs>),
    /// Search gains, deadband and clamp on a recording (train/test split) and write the winner.
    Tune(Box<tune_cmd::TuneArgs>),
    /// Poll the configured venues and chains and append their balances to a recording.
    Record(record_cmd::RecordArgs),
}

/// Errors of the command line, each with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    Input(#[from] InputError),
    #[error("{0}")]
    Usage(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Step(#[from] StepError),
    #[error("{0}")]
    Failed(String),
    /// A failure with its own exit code (e.g. 6: another daemon holds the journal).
    #[error("{message}")]
    Exit { code: u8, message: String },
}

impl CliError {
    /// 2 for anything the user must fix in a file or argument, 1 for failures at run time.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Input(_) | CliError::Usage(_) => 2,
            CliError::Exit { code, .. } => *code,
            _ => 1,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CliError::Io {
            context: context.into(),
            source,
        }
    }
}

fn init_tracing(cli: &Cli) {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    let filter = cli
        .log
        .clone()
        .or_else(|| std::env::var("BALLAST_LOG").ok())
        .unwrap_or_else(|| "info".to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The service's own settings for its log lines, when the command runs it (a bad file is reported by the
    // command itself).
    let service = match &cli.command {
        Command::Run(a) => run_cmd::log_settings(&a.config),
        Command::Once(a) => run_cmd::log_settings(&a.config),
        _ => None,
    };
    let json = cli.log_json
        || service
            .as_ref()
            .is_some_and(|s| s.log_format == ballast_config::service::LogFormat::Json);
    let file = service
        .and_then(|s| s.log_file)
        .and_then(|path| match open_log(&path) {
            Ok(f) => {
                eprintln!("ballast: log lines go to {}", path.display());
                Some(f)
            }
            Err(e) => {
                eprintln!(
                    "ballast: cannot write the log file {} ({e}); logging to stderr",
                    path.display()
                );
                None
            }
        });
    let to_file = file.is_some();
    let writer = match file {
        Some(f) => BoxMakeWriter::new(f),
        None => BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(!to_file);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The log file, appended to (its directory created), readable by its owner only.
fn open_log(path: &std::path::Path) -> std::io::Result<std::sync::Arc<std::fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    Ok(std::sync::Arc::new(f))
}

/// Run the command line and return the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Dispatch a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Config { command } => config_cmd::run(command),
        Command::Plan(args) => plan_cmd::run(args),
        Command::Venues { command } => venues_cmd::run(command),
        Command::Synth(args) => synth_cmd::run(args),
        Command::Order(args) => order_cmd::run(*args),
        Command::AuctionBench(args) => auction_bench_cmd::run(args),
        Command::Run(args) => run_cmd::run(args),
        Command::Once(args) => once_cmd::run(args),
        Command::Pending(args) => pending_cmd::run(args),
        Command::Status(args) => status_cmd::status(args),
        Command::Halt(args) => status_cmd::halt(args),
        Command::Resume(args) => status_cmd::resume(args),
        Command::Backtest(args) => backtest_cmd::run(*args),
        Command::Tune(args) => tune_cmd::run(*args),
        Command::Record(args) => record_cmd::run(args),
    }
}
