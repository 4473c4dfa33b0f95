//! The daemon loop (`ballast run`) and the single cycle (`ballast once`).
//!
//! One task runs everything that acts, so nothing overlaps: a cycle every `[schedule] interval`, a leg round
//! every `[service] leg_poll`, the lease renewed every third of its time to live, the configuration file
//! watched (and SIGHUP), and the HTTP endpoint's commands. SIGINT or SIGTERM stops it gracefully: no new
//! orders, working orders cancelled, auctions folded into their legs, the journal checkpointed, the lease
//! released.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::core::{CycleOutcome, Service, ServiceError, StartOptions};
use super::http::{self, Command, HttpState};
use ballast_config::Config;
use ballast_exec::{Clock, SystemClock};

/// How `run` is started.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Listen here instead of `[service] http_listen`.
    pub http: Option<SocketAddr>,
    /// No HTTP endpoint at all.
    pub no_http: bool,
    pub start: StartOptions,
    /// Stop after this many cycles (tests, demos); none: until a signal.
    pub max_cycles: Option<u64>,
}

fn file_stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The token of the mutating HTTP calls, from the configured environment variable.
pub fn http_token(cfg: &Config) -> Option<String> {
    let var = cfg.service.token_env.as_ref()?;
    std::env::var(var).ok().filter(|t| !t.trim().is_empty())
}

fn log_reload(
    svc: &Service,
    r: Result<super::ReloadReport, ballast_config::ConfigErrors>,
) -> Result<super::ReloadReport, String> {
    match r {
        Ok(rep) => {
            if rep.applied {
                tracing::info!(from = %rep.from, to = %rep.to, "configuration reloaded (gains bumpless)");
                for what in &rep.restart_needed {
                    tracing::warn!(
                        "configuration: {what} changed: this needs a restart and was not applied"
                    );
                }
            }
            Ok(rep)
        }
        Err(e) => {
            for p in &e.0 {
                tracing::error!(
                    "configuration reload refused, the running configuration stays: {p}"
                );
            }
            let mut st = svc.status.write().unwrap_or_else(|p| p.into_inner());
            st.counters.reload_errors += 1;
            Err(e.to_string())
        }
    }
}

fn print_progress(svc: &Service) {
    if svc.cfg.service.progress {
        let t = svc.status.read().unwrap_or_else(|p| p.into_inner()).table();
        println!("{t}");
    }
}

/// Run the daemon until SIGINT/SIGTERM (or `max_cycles`).
pub async fn run(cfg: Config, opts: RunOptions) -> Result<(), ServiceError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut svc = Service::start(cfg, clock.clone(), opts.start.clone()).await?;
    let (tx, mut rx) = mpsc::channel::<Command>(16);
    let mut http_task = None;
    if !opts.no_http {
        let listen = opts.http.unwrap_or(svc.cfg.service.http_listen);
        let token = http_token(&svc.cfg);
        if token.is_none() {
            tracing::info!("no HTTP token configured: /halt, /resume and /reload are refused");
        }
        if let Some(why) = svc.cfg.service.listen_refusal(listen) {
            return Err(ServiceError::Other(format!("the HTTP endpoint: {why}")));
        }
        if svc.cfg.service.http_public && token.is_none() {
            return Err(ServiceError::Other(
                "[service] http_public = true needs the token: set the environment variable named by [service] token_env".into(),
            ));
        }
        let state = HttpState {
            status: svc.status.clone(),
            pending: svc.pending.clone(),
            public: svc.cfg.service.http_public,
            cmds: tx.clone(),
            token,
            interval: svc.cfg.schedule.interval,
            clock: clock.clone(),
        };
        match http::serve(listen, state).await {
            Ok((addr, task)) => {
                tracing::info!(%addr, "http endpoint: /metrics /healthz /status /pending");
                eprintln!(
                    "ballast: http endpoint on http://{addr} (/metrics /healthz /status /pending)"
                );
                http_task = Some(task);
            }
            Err(e) => {
                svc.shutdown().await;
                return Err(ServiceError::Other(format!(
                    "cannot listen on {listen}: {e}"
                )));
            }
        }
    }
    let mut cycle_iv = tokio::time::interval(svc.cfg.schedule.interval);
    cycle_iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut legs_iv = tokio::time::interval(svc.cfg.service.leg_poll);
    legs_iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    legs_iv.tick().await;
    let mut lease_iv = tokio::time::interval(svc.cfg.service.lease_ttl / 3);
    lease_iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut watch_iv = tokio::time::interval(Duration::from_secs(1));
    let mut file = file_stamp(&svc.cfg.source);
    let mut interval = svc.cfg.schedule.interval;
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| ServiceError::Other(format!("SIGHUP handler: {e}")))?;
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| ServiceError::Other(format!("SIGTERM handler: {e}")))?;
    // One SIGINT stream for the whole run: a signal that arrives while the loop body runs (a cycle, a leg
    // round, an HTTP command) is kept until the next turn, where a fresh `ctrl_c()` per turn lost it.
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| ServiceError::Other(format!("SIGINT handler: {e}")))?;
    let mut cycles = 0u64;
    let result = loop {
        #[cfg(unix)]
        let hup_fut = hup.recv();
        #[cfg(not(unix))]
        let hup_fut = std::future::pending::<Option<()>>();
        #[cfg(unix)]
        let int_fut = int.recv();
        #[cfg(not(unix))]
        let int_fut = async { tokio::signal::ctrl_c().await.ok() };
        #[cfg(unix)]
        let term_fut = term.recv();
        #[cfg(not(unix))]
        let term_fut = std::future::pending::<Option<()>>();
        tokio::select! {
            biased;
            _ = int_fut => {
                tracing::info!("SIGINT: stopping");
                break Ok(());
            }
            _ = term_fut => {
                tracing::info!("SIGTERM: stopping");
                break Ok(());
            }
            _ = lease_iv.tick() => {
                if let Err(e) = svc.renew_lease() {
                    tracing::error!("{e}: stopping at once");
                    break Err(e);
                }
            }
            _ = cycle_iv.tick() => {
                match svc.cycle().await {
                    Ok(o) => {
                        if let CycleOutcome::Degraded(r) = &o {
                            tracing::warn!("cycle held: {r}");
                        }
                    }
                    Err(e @ ServiceError::LeaseLost(_)) => break Err(e),
                    Err(e) => {
                        tracing::error!("cycle failed: {e}");
                        svc.status.write().unwrap_or_else(|p| p.into_inner()).counters.cycle_errors += 1;
                    }
                }
                print_progress(&svc);
                cycles += 1;
                if opts.max_cycles.is_some_and(|m| cycles >= m) {
                    break Ok(());
                }
            }
            _ = legs_iv.tick() => {
                match svc.round().await {
                    Ok(()) => {}
                    Err(e @ ServiceError::LeaseLost(_)) => break Err(e),
                    Err(e) => tracing::error!("leg round failed: {e}"),
                }
            }
            _ = watch_iv.tick() => {
                let now = file_stamp(&svc.cfg.source);
                if now != file {
                    file = now;
                    tracing::info!(file = %svc.cfg.source.display(), "configuration file changed: reloading");
                    let r = svc.reload();
                    let _ = log_reload(&svc, r);
                }
            }
            _ = hup_fut => {
                tracing::info!("SIGHUP: reloading the configuration");
                file = file_stamp(&svc.cfg.source);
                let r = svc.reload();
                let _ = log_reload(&svc, r);
            }
            Some(cmd) = rx.recv() => match cmd {
                Command::Kill { state, reason, by, reply } => {
                    let r = svc.set_kill(state, &reason, &by).map(|_| svc.kill_switch().clone()).map_err(|e| e.to_string());
                    let _ = reply.send(r);
                }
                Command::Reload { reply } => {
                    file = file_stamp(&svc.cfg.source);
                    let r = svc.reload();
                    let _ = reply.send(log_reload(&svc, r));
                }
            },
        }
        if svc.cfg.schedule.interval != interval {
            interval = svc.cfg.schedule.interval;
            cycle_iv = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            cycle_iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
    };
    if let Some(t) = http_task {
        t.abort();
    }
    svc.shutdown().await;
    result
}

/// What `once` ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnceResult {
    pub outcome: CycleOutcome,
    /// Alerts raised (expired legs, failures with funds off-chain).
    pub alerts: Vec<String>,
    pub table: String,
}

/// One cycle: recover, measure, plan, start legs, drive the auctions it started to their end, stop.
pub async fn once(cfg: Config, start: StartOptions) -> Result<OnceResult, ServiceError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut svc = Service::start(cfg, clock, start).await?;
    let r = svc.cycle().await;
    let r = match r {
        Ok(outcome) => {
            // Auctions cannot outlive the process: let them finish (within their schedule), fold them in.
            let deadline = Duration::from_millis(svc.cfg.service.auction.deadline_ms.max(0) as u64)
                + Duration::from_secs(30);
            svc.settle_auctions(deadline).await;
            Ok(outcome)
        }
        Err(e) => Err(e),
    };
    let table = svc.status.read().unwrap_or_else(|p| p.into_inner()).table();
    let alerts = svc.alerts().to_vec();
    svc.shutdown().await;
    r.map(|outcome| OnceResult {
        outcome,
        alerts,
        table,
    })
}
