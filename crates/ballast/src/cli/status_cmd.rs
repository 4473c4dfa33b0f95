//! `ballast status`, `ballast halt`, `ballast resume`: talk to the running daemon over its HTTP endpoint.
//!
//! ```text
//! ballast status --config FILE [--url URL] [--json]
//! ballast halt   --config FILE [--reason TEXT] [--url URL]
//! ballast resume --config FILE [--reduce-only] [--reason TEXT] [--url URL]
//! ```
//! `halt` and `resume` send the bearer token from the environment variable `[service] token_env` (or
//! `BALLAST_TOKEN`). The token is never printed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use ballast_config::Config;

/// Where the daemon listens and the token to act with.
pub struct Endpoint {
    pub base: String,
    pub token: Option<String>,
}

impl Endpoint {
    pub fn new(cfg: &Config, url: Option<&str>) -> Endpoint {
        let base = match url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let a = cfg.service.http_listen;
                let host = if a.ip().is_unspecified() {
                    "127.0.0.1".to_string()
                } else {
                    a.ip().to_string()
                };
                format!("http://{host}:{}", a.port())
            }
        };
        let var = cfg
            .service
            .token_env
            .clone()
            .unwrap_or_else(|| "BALLAST_TOKEN".into());
        let token = std::env::var(var).ok().filter(|t| !t.trim().is_empty());
        Endpoint { base, token }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .expect("an HTTP client")
}

/// GET a path: (status, body).
pub async fn get(ep: &Endpoint, path: &str) -> Result<(u16, String), String> {
    // A public endpoint (`http_public`) answers only requests with the token; a loopback one ignores it.
    let mut req = client().get(format!("{}{path}", ep.base));
    if let Some(t) = &ep.token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.map_err(|e| e.without_url().to_string())?;
    let code = r.status().as_u16();
    Ok((code, r.text().await.map_err(|e| e.to_string())?))
}

async fn post(ep: &Endpoint, path: &str, reason: Option<&str>) -> Result<(u16, String), String> {
    let mut req = client().post(format!("{}{path}", ep.base));
    if let Some(r) = reason {
        req = req.query(&[("reason", r)]);
    }
    if let Some(t) = &ep.token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.map_err(|e| e.without_url().to_string())?;
    let code = r.status().as_u16();
    Ok((code, r.text().await.map_err(|e| e.to_string())?))
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[arg(long)]
    pub config: PathBuf,
    /// The daemon's endpoint (default: `[service] http_listen`).
    #[arg(long)]
    pub url: Option<String>,
    /// Print the whole status as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct HaltArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub url: Option<String>,
    /// Why (recorded in the journal).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub url: Option<String>,
    /// Resume in reduce-only: finish working legs, start none.
    #[arg(long)]
    pub reduce_only: bool,
    #[arg(long)]
    pub reason: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("starting the runtime", e))
}

fn unreachable(ep: &Endpoint, e: String) -> CliError {
    CliError::Failed(format!("no daemon answers at {}: {e}", ep.base))
}

pub fn status(a: StatusArgs) -> Result<ExitCode, CliError> {
    let cfg = Config::load(&a.config)?;
    let ep = Endpoint::new(&cfg, a.url.as_deref());
    let (code, body) = runtime()?
        .block_on(get(&ep, "/status"))
        .map_err(|e| unreachable(&ep, e))?;
    if code != 200 {
        return Err(CliError::Failed(format!(
            "status: HTTP {code}: {}",
            body.trim()
        )));
    }
    if a.json {
        print!("{body}");
        return Ok(ExitCode::SUCCESS);
    }
    let s: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| CliError::Failed(format!("status: {e}")))?;
    let kill = &s["kill"];
    println!(
        "mode {}  version {}  cycle {}  {}",
        s["mode"].as_str().unwrap_or("?"),
        s["config_version"].as_str().unwrap_or("?"),
        s["cycle"],
        s["last_cycle_outcome"].as_str().unwrap_or("")
    );
    println!(
        "kill switch: {} ({} by {})",
        kill["state"].as_str().unwrap_or("?"),
        kill["reason"].as_str().unwrap_or(""),
        kill["by"].as_str().unwrap_or("")
    );
    if let Some(legs) = s["legs"].as_array() {
        println!("legs unsettled: {}", legs.len());
        for l in legs {
            println!(
                "  {} {} {} -> {} {} {}",
                l["id"].as_str().unwrap_or(""),
                l["venue"].as_str().unwrap_or(""),
                l["from"].as_str().unwrap_or(""),
                l["to"].as_str().unwrap_or(""),
                l["amount"].as_str().unwrap_or(""),
                l["stage"].as_str().unwrap_or("")
            );
        }
    }
    if let Some(routes) = s["quality"]["routes"].as_array()
        && !routes.is_empty()
    {
        println!("rebalances completed since start (execution quality):");
        for r in routes {
            let f = |k: &str| {
                r[k].as_f64()
                    .map(|v| format!("{v:.1}"))
                    .unwrap_or("-".into())
            };
            println!(
                "  {} {}: {} legs, value {}, fees {}, cost {} ({} bps), slippage mean {} max {} bps, lag mean {}s max {}s, over threshold: slippage {} lag {}",
                r["venue"].as_str().unwrap_or(""),
                r["route"].as_str().unwrap_or(""),
                r["legs"],
                r["value"].as_str().unwrap_or("0"),
                r["fees"].as_str().unwrap_or("0"),
                r["cost"].as_str().unwrap_or("0"),
                f("cost_bps"),
                f("mean_slippage_bps"),
                f("max_slippage_bps"),
                f("mean_lag_seconds"),
                f("max_lag_seconds"),
                r["slippage_crossed"],
                r["lag_crossed"],
            );
        }
    }
    if let Some(alerts) = s["alerts"].as_array() {
        for a in alerts {
            println!("alert: {}", a.as_str().unwrap_or(""));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn act(
    config: &std::path::Path,
    url: Option<&str>,
    path: &str,
    reason: Option<&str>,
) -> Result<ExitCode, CliError> {
    let cfg = Config::load(config)?;
    let ep = Endpoint::new(&cfg, url);
    if ep.token.is_none() {
        return Err(CliError::Usage(format!(
            "no token: set the environment variable {} (named by [service] token_env) to the daemon's token",
            cfg.service.token_env.as_deref().unwrap_or("BALLAST_TOKEN")
        )));
    }
    let (code, body) = runtime()?
        .block_on(post(&ep, path, reason))
        .map_err(|e| unreachable(&ep, e))?;
    if code != 200 {
        return Err(CliError::Failed(format!(
            "{path}: HTTP {code}: {}",
            body.trim()
        )));
    }
    print!("{body}");
    Ok(ExitCode::SUCCESS)
}

pub fn halt(a: HaltArgs) -> Result<ExitCode, CliError> {
    act(&a.config, a.url.as_deref(), "/halt", a.reason.as_deref())
}

pub fn resume(a: ResumeArgs) -> Result<ExitCode, CliError> {
    let path = if a.reduce_only {
        "/reduce-only"
    } else {
        "/resume"
    };
    act(&a.config, a.url.as_deref(), path, a.reason.as_deref())
}
