//! `ballast plan`: a dry run of one controller + planner step on balances from files.
//!
//! ```text
//! ballast plan --config FILE --balances FILE [--prices FILE] [--pending FILE] [--state FILE] [--format json|table]
//! ```
//! With `--state`, the controller state is read from the file (if it exists) and written back, so repeated
//! calls step the loop. The step's time is now, or `--now` (RFC 3339 or unix ms) for reproducible runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::CliError;
use crate::inputs::{self, InputError};
use ballast_config::Config;
use ballast_core::control::{ControllerState, Observation};
use ballast_core::engine::{CycleAudit, Engine};
use ballast_core::model::{PositionKey, TimestampMs, canonical, from_f64};
use ballast_core::plan::PlanContext;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Json,
    Table,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// Balances: CSV `chain,asset,balance` or JSON `{chain: {asset: amount}}`.
    #[arg(long)]
    pub balances: PathBuf,
    /// Prices: CSV `asset,price` in base units per unit (assets not listed are worth 1).
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// Pending amounts in flight: JSON `{chain: {asset: signed amount}}`.
    #[arg(long)]
    pub pending: Option<PathBuf>,
    /// Controller state file: read if present, written after the step.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Time of the step (RFC 3339 or unix ms); default now.
    #[arg(long)]
    pub now: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// Parse a time given as unix milliseconds or RFC 3339.
pub fn parse_time(s: &str) -> Result<TimestampMs, String> {
    if let Ok(ms) = s.trim().parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("{s:?} is neither unix milliseconds nor an RFC 3339 time: {e}"))
}

/// Build the observation for a configuration from balance, price and pending maps.
pub fn observation(
    cfg: &Config,
    balances: &BTreeMap<PositionKey, Decimal>,
    balances_file: &Path,
    prices: &BTreeMap<String, Decimal>,
    pending: &BTreeMap<PositionKey, Decimal>,
    pending_file: Option<&Path>,
) -> Result<Observation, InputError> {
    let cfg_name = cfg.source.display().to_string();
    for (file, map, what) in [
        (Some(balances_file), balances, "balance"),
        (pending_file, pending, "pending amount"),
    ] {
        if let Some(unknown) = map.keys().find(|k| cfg.position_index(k).is_none()) {
            return Err(InputError {
                file: file.map(|f| f.display().to_string()).unwrap_or_default(),
                line: None,
                column: None,
                message: format!(
                    "{what} for {unknown}, which is not a configured position in {cfg_name}"
                ),
            });
        }
    }
    let mut obs = Observation::default();
    for p in &cfg.positions {
        let Some(b) = balances.get(&p.key) else {
            return Err(InputError {
                file: balances_file.display().to_string(),
                line: None,
                column: None,
                message: format!(
                    "no balance for {} (configured at {cfg_name}:{})",
                    p.key, p.line
                ),
            });
        };
        obs.balances.push(*b);
        obs.pending
            .push(pending.get(&p.key).copied().unwrap_or_default());
        obs.prices
            .push(prices.get(&p.key.asset).copied().unwrap_or(Decimal::ONE));
        obs.stale.push(false);
    }
    Ok(obs)
}

pub fn run(args: PlanArgs) -> Result<ExitCode, CliError> {
    let cfg = Config::load(&args.config)?;
    let balances = inputs::read_balances(&args.balances)?;
    let prices = match &args.prices {
        Some(p) => inputs::read_prices(p)?,
        None => BTreeMap::new(),
    };
    let pending = match &args.pending {
        Some(p) => inputs::read_pending(p)?,
        None => BTreeMap::new(),
    };
    let obs = observation(
        &cfg,
        &balances,
        &args.balances,
        &prices,
        &pending,
        args.pending.as_deref(),
    )?;
    let now = match &args.now {
        Some(s) => parse_time(s).map_err(|m| CliError::Usage(format!("--now: {m}")))?,
        None => chrono::Utc::now().timestamp_millis(),
    };

    let mut engine = ballast_config::adapt::engine(&cfg);
    if let Some(path) = &args.state
        && path.exists()
    {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::io(format!("reading {}", path.display()), e))?;
        let state: ControllerState = serde_json::from_str(&text).map_err(|e| {
            CliError::Input(InputError {
                file: path.display().to_string(),
                line: Some(e.line() as u64),
                column: Some(e.column() as u64),
                message: format!("not a controller state file: {e}"),
            })
        })?;
        engine.import_state(&state);
    }
    let ctx = PlanContext {
        pending_orders: vec![Some(0); cfg.venues.len()],
        declined: vec![false; cfg.venues.len()],
        hold_all: None,
    };
    let audit = engine.cycle(now, &obs, &ctx)?;
    if let Some(path) = &args.state {
        let text = serde_json::to_string_pretty(&engine.export_state()).expect("state serialises");
        write_atomic(path, text.as_bytes())?;
    }
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&cfg, &engine, &audit)).expect("json")
        ),
        Format::Table => print!("{}", to_table(&cfg, &engine, &audit)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Write a file through a temporary sibling and a rename, so a crash never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .map_err(|e| CliError::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| CliError::io(format!("writing {}", path.display()), e))
}

/// A value in base units as a decimal string (6 decimal places at most).
pub fn money(x: f64) -> String {
    from_f64(x)
        .map(|d| canonical(d.round_dp(6)))
        .unwrap_or_else(|| "NaN".into())
}

fn units(x: f64, decimals: u32) -> String {
    from_f64(x)
        .map(|d| canonical(d.round_dp(decimals)))
        .unwrap_or_else(|| "NaN".into())
}

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The plan JSON document (schema in the README).
pub fn to_json(cfg: &Config, engine: &Engine, audit: &CycleAudit) -> Value {
    let specs = engine.computer.specs();
    let positions: Vec<Value> = audit
        .step
        .positions
        .iter()
        .zip(specs)
        .map(|(p, s)| {
            json!({
                "chain": s.key.chain,
                "asset": s.key.asset,
                "balance": canonical(p.balance),
                "pending": canonical(p.pending),
                "value": money(p.value),
                "target": units(p.target, s.decimals),
                "target_value": money(p.target_value),
                "error": money(p.error),
                "p": num(p.p),
                "i": num(p.i),
                "d": num(p.d),
                "command": money(p.command),
                "flags": p.flags.names(),
                "reason": p.hold.as_ref().map(|h| h.to_string()),
            })
        })
        .collect();
    let orders: Vec<Value> = audit
        .plan
        .orders
        .iter()
        .map(|o| {
            let (from, to) = (&specs[o.from].key, &specs[o.to].key);
            json!({
                "from": {"chain": from.chain, "asset": from.asset},
                "to": {"chain": to.chain, "asset": to.asset},
                "venue": cfg.venues[o.venue].name,
                "amount": canonical(o.amount),
                "value": canonical(o.value),
                "est_cost": canonical(o.est_cost),
            })
        })
        .collect();
    let skipped: Vec<Value> = audit
        .plan
        .skipped
        .iter()
        .map(|s| json!({"what": engine.planner.skip_what(s), "reason": engine.planner.skip_reason(s, &audit.plan)}))
        .collect();
    json!({"positions": positions, "orders": orders, "skipped": skipped})
}

/// A readable table of the same content.
pub fn to_table(cfg: &Config, engine: &Engine, audit: &CycleAudit) -> String {
    use std::fmt::Write;
    let specs = engine.computer.specs();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "portfolio value {} {} | dt {:.3} gain periods",
        money(audit.step.portfolio_value),
        cfg.portfolio.base,
        audit.step.dt
    );
    let _ = writeln!(
        s,
        "{:<24} {:>14} {:>12} {:>14} {:>14} {:>12} {:>12}  reason",
        "position", "balance", "pending", "target", "error", "p+i+d", "command"
    );
    for (p, spec) in audit.step.positions.iter().zip(specs) {
        let _ = writeln!(
            s,
            "{:<24} {:>14} {:>12} {:>14} {:>14} {:>12.2} {:>12}  {}",
            spec.key.to_string(),
            canonical(p.balance.round_dp(2)),
            canonical(p.pending.round_dp(2)),
            units(p.target, 2),
            money((p.error * 100.0).round() / 100.0),
            p.p + p.i + p.d,
            money((p.command * 100.0).round() / 100.0),
            p.hold.as_ref().map(|h| h.to_string()).unwrap_or_default()
        );
    }
    let _ = writeln!(s, "\norders:");
    if audit.plan.orders.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for o in &audit.plan.orders {
        let _ = writeln!(
            s,
            "  {} -> {} via {}: {} {} (value {}, est. cost {})",
            specs[o.from].key,
            specs[o.to].key,
            cfg.venues[o.venue].name,
            canonical(o.amount),
            specs[o.from].key.asset,
            canonical(o.value),
            canonical(o.est_cost)
        );
    }
    if !audit.plan.skipped.is_empty() {
        let _ = writeln!(s, "\nskipped:");
        for k in &audit.plan.skipped {
            let _ = writeln!(
                s,
                "  {}: {}",
                engine.planner.skip_what(k),
                engine.planner.skip_reason(k, &audit.plan)
            );
        }
    }
    s
}
