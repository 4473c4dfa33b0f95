//! `ballast pending --config FILE`: the signed `{chain: {asset: amount}}` of everything in flight, as JSON on
//! standard output (what an inventory client adds to its balances). All or nothing: when any venue or chain
//! read fails, the command names them and exits with 1, never printing a partial sum.
//!
//! The running daemon answers (`GET /pending` on its endpoint). With no daemon reachable, a live
//! configuration is read directly (journal, chains, venues); paper mode's world lives inside its daemon.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::CliError;
use super::status_cmd::{Endpoint, get};
use ballast_chain::{ChainError, IntentId, TxStatus};
use ballast_config::Config;
use ballast_config::service::Mode;
use ballast_core::leg::{FundsAt, Stage};
use ballast_exec::{Clock, SystemClock};
use ballast_service::observe;
use ballast_service::world::World;
use ballast_store::{Journal, Stamp};

#[derive(Args, Debug)]
pub struct PendingArgs {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// The daemon's endpoint (default: `[service] http_listen`).
    #[arg(long)]
    pub url: Option<String>,
}

async fn direct(cfg: &Config) -> Result<observe::PendingMap, Vec<String>> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let journal = Journal::open(&cfg.service.journal).map_err(|e| vec![e.to_string()])?;
    let stamp = Stamp {
        actor: "ballast-pending".into(),
        config_version: cfg.version().into(),
        fence: None,
    };
    let world = World::connect_live(cfg, &journal, clock.clone(), &stamp)
        .await
        .map_err(|e| vec![e.to_string()])?;
    let mut legs = journal.unsettled_legs().map_err(|e| vec![e.to_string()])?;
    let markets = std::collections::BTreeMap::new();
    let view = observe::observe(&world, &legs, &markets, clock.now_ms()).await;
    // A daemon killed between broadcasting a deposit and recording it leaves a planned leg whose deposit
    // intent is in the chain journal: that money is in flight. Its intent id is derived from the leg.
    for l in legs.iter_mut().filter(|l| l.stage == Stage::Planned) {
        let Some(c) = world.chains.get(&l.from.chain) else {
            continue;
        };
        let id = IntentId::derive(
            c.chain.name(),
            c.chain.chain_id(),
            &format!("leg:{}:deposit", l.id),
        );
        match c.chain.status(&id).await {
            Ok(_) => {
                l.stage = Stage::DepositSubmitted;
                l.funds_at = FundsAt::ToVenue;
                l.deposit_tx = Some(id.as_str().to_string());
            }
            Err(ChainError::UnknownIntent { .. }) => {}
            Err(e) => return Err(vec![format!("chain {}: {e}", c.chain.name())]),
        }
    }
    // Deposits the daemon may not have seen mined yet: their block decides whether the source balance
    // already shows them.
    for l in legs
        .iter_mut()
        .filter(|l| l.stage == Stage::DepositSubmitted && l.deposit_block.is_none())
    {
        let (Some(c), Some(tx)) = (world.chains.get(&l.from.chain), &l.deposit_tx) else {
            continue;
        };
        match c.chain.status(&IntentId::from_journal(tx)).await {
            Ok(r) => {
                if let TxStatus::Included { block, .. } | TxStatus::Confirmed { block, .. } =
                    r.status
                {
                    l.deposit_block = Some(block);
                }
            }
            Err(e) => return Err(vec![format!("chain {}: {e}", c.chain.name())]),
        }
    }
    let claimed = journal
        .claimed("arrival")
        .map_err(|e| vec![e.to_string()])?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    observe::pending(&legs, &view, &claimed)
}

pub fn run(a: PendingArgs) -> Result<ExitCode, CliError> {
    let cfg = Config::load(&a.config)?;
    let ep = Endpoint::new(&cfg, a.url.as_deref());
    let rt = tokio::runtime::Runtime::new().map_err(|e| CliError::io("starting the runtime", e))?;
    rt.block_on(async {
        match get(&ep, "/pending").await {
            Ok((200, body)) => {
                print!("{body}");
                Ok(ExitCode::SUCCESS)
            }
            Ok((_, body)) => Err(CliError::Failed(format!(
                "pending amounts unavailable (no partial sum is given): {}",
                body.trim()
            ))),
            Err(_) if cfg.service.mode == Mode::Live => match direct(&cfg).await {
                Ok(p) => {
                    println!("{}", serde_json::to_string_pretty(&p).unwrap_or_default());
                    Ok(ExitCode::SUCCESS)
                }
                Err(failed) => Err(CliError::Failed(format!(
                    "pending amounts unavailable (no partial sum is given): {}",
                    failed.join("; ")
                ))),
            },
            Err(e) => Err(CliError::Failed(format!(
                "no daemon answers at {} ({e}); in paper mode the simulated venues and chains live inside the daemon: start `ballast run --config {}` first",
                ep.base,
                a.config.display()
            ))),
        }
    })
}
