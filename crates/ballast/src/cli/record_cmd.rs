//! `ballast record`: poll the configured venues and chains and append their balances to a recording (see
//! [`ballast_backtest::record`] and docs/BACKTEST.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::CliError;
use ballast_backtest::record::{self, RecordDir, RecordOptions, Sources, format_ts};
use ballast_config::Config;
use ballast_core::model::parse_duration;
use ballast_exec::{Clock, SystemClock};

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The configuration whose venues and chains are polled (read-only: no key is loaded).
    #[arg(long)]
    pub config: PathBuf,
    /// The recording directory (created when missing; an existing recording is resumed).
    #[arg(long)]
    pub out: PathBuf,
    /// Time between snapshots (after the first, they fall on multiples of it).
    #[arg(long, default_value = "60s")]
    pub every: String,
    /// Stop after this many snapshots (default: until Ctrl-C or SIGTERM).
    #[arg(long)]
    pub count: Option<u64>,
    /// Longest wait for one venue or chain in a poll.
    #[arg(long, default_value = "20s")]
    pub timeout: String,
    /// Only errors on stderr (no line per snapshot).
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: RecordArgs) -> Result<ExitCode, CliError> {
    let cfg = Config::load(&a.config)?;
    let dur = |flag: &str, v: &str| {
        parse_duration(v).map_err(|e| CliError::Usage(format!("--{flag}: {e}")))
    };
    let opts = RecordOptions {
        every: dur("every", &a.every)?,
        count: a.count,
        timeout: dur("timeout", &a.timeout)?,
    };
    if opts.every.is_zero() {
        return Err(CliError::Usage("--every must be positive".into()));
    }
    let mut dir = RecordDir::open(&a.out).map_err(|e| CliError::Failed(e.to_string()))?;
    let quiet = a.quiet;
    for f in [&dir.balances, &dir.prices, &dir.market] {
        if f.repaired_bytes > 0 {
            eprintln!(
                "{}: cut a torn last line ({} bytes) left by an interrupted write",
                f.path().display(),
                f.repaired_bytes
            );
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::io("starting the runtime", e))?;
    let stats = rt.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let sources = Sources::from_config(&cfg, clock.clone())
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?;
        if !quiet {
            for s in &sources.skipped {
                eprintln!("not recorded: {s}");
            }
            eprintln!(
                "recording {} venues and {} chains into {} every {}{}",
                sources.venues.len(),
                sources.chains.len(),
                a.out.display(),
                a.every,
                dir.last_ts()
                    .map(|t| format!(", resuming after {}", format_ts(t)))
                    .unwrap_or_default()
            );
        }
        record::run(
            &mut dir,
            &sources,
            &opts,
            clock.as_ref(),
            shutdown(),
            |snap, written| {
                for e in &snap.errors {
                    eprintln!("{}: {e}", format_ts(snap.ts));
                }
                if !quiet {
                    eprintln!(
                        "{}: {} balances, {} quotes{}",
                        format_ts(snap.ts),
                        snap.balances.len(),
                        snap.quotes.len(),
                        if written == 0 && !snap.balances.is_empty() {
                            " (not written: the recording already has a later snapshot)"
                        } else {
                            ""
                        }
                    );
                }
            },
        )
        .await
        .map_err(|e| CliError::Failed(e.to_string()))
    })?;
    if !quiet {
        eprintln!(
            "stopped: {} snapshots, {} balance rows written",
            stats.snapshots, stats.rows
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
