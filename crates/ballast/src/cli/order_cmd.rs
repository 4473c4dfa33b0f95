//! `ballast order`: a one-time order worked through the Dutch auction, with live progress on the terminal and
//! the final report as JSON on stdout.
//!
//! On a simulated venue (a `kind = "sim"` venue, or a Hyperliquid/Binance venue in paper mode) the auction
//! runs in virtual time by default, so a five-minute schedule completes in a moment; `--realtime` runs it at
//! wall-clock pace.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use rust_decimal::Decimal;

use super::CliError;
use ballast_config::Config;
use ballast_core::auction::{Reprice, Schedule, Shape};
use ballast_core::model::{Side, canonical, parse_duration};
use ballast_exec::clock::TokioClock;
use ballast_exec::executor::{Executor, Progress, SwapJob};
use ballast_exec::{Clock, SystemClock};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum RepriceArg {
    /// One request per step (cancel-replace / modify).
    Replace,
    /// Cancel, wait for the confirmation, then place.
    CancelPlace,
}

#[derive(Args, Debug)]
pub struct OrderArgs {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// A `[[venue]]` name from the configuration.
    #[arg(long)]
    pub venue: String,
    /// The venue's market, e.g. `USDCUSDT` or `USDT0/USDC`.
    #[arg(long)]
    pub market: String,
    /// buy or sell.
    #[arg(long)]
    pub side: String,
    /// Quantity in base units.
    #[arg(long)]
    pub amount: String,
    /// Reference price (default: the arrival mid).
    #[arg(long)]
    pub reference: Option<String>,
    /// Start offset in bps on the passive side of the reference.
    #[arg(long)]
    pub start_bps: Option<String>,
    /// Floor offset in bps: the worst acceptable price through the reference.
    #[arg(long)]
    pub floor_bps: Option<String>,
    /// Shape of the schedule: `linear`, or `exp:CURVATURE` (e.g. `exp:3`).
    #[arg(long)]
    pub shape: Option<String>,
    /// Length of the maker phase, e.g. `5m`.
    #[arg(long)]
    pub duration: Option<String>,
    /// Step interval, e.g. `2s`.
    #[arg(long)]
    pub step: Option<String>,
    /// Length of the taker phase (IOC at the floor) at the end; `0s` for none.
    #[arg(long)]
    pub taker: Option<String>,
    /// Hard deadline after the start (default: duration + taker).
    #[arg(long)]
    pub deadline: Option<String>,
    #[arg(long, value_enum, default_value_t = RepriceArg::Replace)]
    pub reprice: RepriceArg,
    /// On a simulated venue, run at wall-clock pace instead of virtual time.
    #[arg(long)]
    pub realtime: bool,
    /// Seed of a paper venue's simulated market.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

fn dec(flag: &str, s: &str) -> Result<Decimal, CliError> {
    Decimal::from_str(s.trim())
        .map_err(|_| CliError::Usage(format!("--{flag}: {s:?} is not a decimal number")))
}

fn dur_ms(flag: &str, s: &str) -> Result<i64, CliError> {
    parse_duration(s)
        .map(|d| d.as_millis() as i64)
        .map_err(|e| CliError::Usage(format!("--{flag}: {e}")))
}

/// The schedule given on the command line, over the defaults.
pub fn schedule_from_args(a: &OrderArgs) -> Result<Schedule, CliError> {
    let mut s = Schedule::default();
    if let Some(v) = &a.start_bps {
        s.start_bps = dec("start-bps", v)?;
    }
    if let Some(v) = &a.floor_bps {
        s.floor_bps = dec("floor-bps", v)?;
    }
    if let Some(v) = &a.shape {
        s.shape = match v.as_str() {
            "linear" => Shape::Linear,
            x if x.starts_with("exp:") => Shape::Exponential {
                curvature: x[4..].parse().map_err(|_| {
                    CliError::Usage(format!("--shape: {x:?}: expected exp:CURVATURE"))
                })?,
            },
            x => {
                return Err(CliError::Usage(format!(
                    "--shape: {x:?} is not linear or exp:CURVATURE"
                )));
            }
        };
    }
    let explicit_deadline = a.deadline.is_some();
    if let Some(v) = &a.duration {
        s.duration_ms = dur_ms("duration", v)?;
    }
    if let Some(v) = &a.step {
        s.step_ms = dur_ms("step", v)?;
    }
    if let Some(v) = &a.taker {
        s.taker_ms = dur_ms("taker", v)?;
    }
    s.deadline_ms = match &a.deadline {
        Some(v) => dur_ms("deadline", v)?,
        None => s.duration_ms + s.taker_ms,
    };
    s.validate().map_err(|e| {
        let hint = if explicit_deadline {
            ""
        } else {
            " (the deadline defaults to duration + taker)"
        };
        CliError::Usage(format!("schedule: {e}{hint}"))
    })?;
    Ok(s)
}

pub fn run(a: OrderArgs) -> Result<ExitCode, CliError> {
    let cfg = Config::load(&a.config)?;
    let v = cfg.venue(&a.venue).ok_or_else(|| {
        let names: Vec<&str> = cfg.venues.iter().map(|v| v.name.as_str()).collect();
        CliError::Usage(format!(
            "--venue: no venue {:?} in {} (declared: {})",
            a.venue,
            a.config.display(),
            names.join(", ")
        ))
    })?;
    let side = Side::from_str(&a.side).map_err(|e| CliError::Usage(format!("--side: {e}")))?;
    let qty = dec("amount", &a.amount)?;
    if qty <= Decimal::ZERO {
        return Err(CliError::Usage("--amount must be positive".into()));
    }
    let reference = a
        .reference
        .as_deref()
        .map(|r| dec("reference", r))
        .transpose()?;
    let schedule = schedule_from_args(&a)?;
    let virtual_time = !a.realtime;
    let rt = if virtual_time {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
    .map_err(|e| CliError::io("starting the runtime", e))?;
    let venue_cfg = v.clone();
    let report = rt.block_on(async move {
        let clock: Arc<dyn Clock> = if virtual_time {
            Arc::new(TokioClock::new(SystemClock.now_ms()))
        } else {
            Arc::new(SystemClock)
        };
        let venue = crate::paper_venue::paper_venue(&venue_cfg, clock.clone(), a.seed)
            .map_err(|e| CliError::Failed(format!("venue {}: {e}", venue_cfg.name)))?;
        let mut ex = Executor::new(clock.clone());
        ex.add_venue(Arc::new(venue), 20.0, 10.0);
        let job = SwapJob {
            venue: venue_cfg.name.clone(),
            market: a.market.clone(),
            side,
            qty,
            reference,
            schedule,
            reprice: match a.reprice {
                RepriceArg::Replace => Reprice::Replace,
                RepriceArg::CancelPlace => Reprice::CancelThenPlace,
            },
            intent: format!("order-{}-{}-{}", venue_cfg.name, a.market, clock.now_ms()),
        };
        let start = clock.now_ms();
        let mut last: Option<(Decimal, Option<Decimal>)> = None;
        let quiet = a.quiet;
        let report = ex
            .run_one(&job, |p: &Progress| {
                if quiet {
                    return;
                }
                let key = (p.filled, p.price);
                if last.as_ref() != Some(&key) || p.done {
                    last = Some(key);
                    let pct = if qty > Decimal::ZERO {
                        p.filled / qty * Decimal::ONE_HUNDRED
                    } else {
                        Decimal::ZERO
                    };
                    eprintln!(
                        "t+{:>6.1}s  quote {:>10}  schedule {:>10}  filled {:>14} / {} ({}%){}",
                        (p.at_ms - start) as f64 / 1000.0,
                        p.price.map(canonical).unwrap_or_else(|| "-".into()),
                        canonical(p.schedule_price.round_dp(6)),
                        canonical(p.filled),
                        canonical(qty),
                        canonical(pct.round_dp(1)),
                        if p.done { "  done" } else { "" }
                    );
                }
            })
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?;
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok::<_, CliError>(report)
    })?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("report serialises")
    );
    Ok(ExitCode::SUCCESS)
}
