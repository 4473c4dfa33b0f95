//! The outside world as the service sees it: the configured venues (through [`GuardedVenue`]) and chains,
//! connected for live mode ([`World::connect_live`]) or for paper mode ([`super::paper`]: the real clients
//! against local venue servers started in-process, and simulated chains wired to them).

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::primitives::Address;

use super::guard::GuardedVenue;
use ballast_chain::{self as chain, Chain, ChainContext, ChainError, SimLedger};
use ballast_config::chains::ChainCfg;
use ballast_config::{Config, VenueCfg, VenueKind, VenueSettings};
use ballast_exec::{Clock, Venue};
use ballast_store::{Journal, Stamp};
use ballast_venue_binance::BinanceClient;
use ballast_venue_hyperliquid::HyperliquidClient;

/// A configured venue, connected.
pub struct VenueLink {
    pub name: String,
    pub kind: VenueKind,
    pub venue: Arc<GuardedVenue>,
    /// ballast chain name -> the venue's network name.
    pub networks: BTreeMap<String, String>,
    /// The last look at the venue (when, whether it read the transfers, what it saw): reused while younger
    /// than the venue's read interval, so a fast leg poll stays within the venue's rate limit.
    pub last_view: std::sync::Mutex<Option<(i64, bool, super::observe::VenueView)>>,
}

impl VenueLink {
    /// A configured venue's client, wrapped for the service (see [`guard`]).
    pub fn guarded(
        v: &VenueCfg,
        client: Arc<dyn Venue>,
        networks: BTreeMap<String, String>,
        journal: &Journal,
        stamp: &Stamp,
        clock: &Arc<dyn Clock>,
    ) -> VenueLink {
        VenueLink {
            name: v.name.clone(),
            kind: v.kind,
            venue: guard(client, journal, stamp, clock),
            networks,
            last_view: std::sync::Mutex::new(None),
        }
    }

    /// The venue's network name for a chain: the configured mapping, else the chain name in capitals.
    pub fn network(&self, chain: &str) -> String {
        self.networks
            .get(chain)
            .cloned()
            .unwrap_or_else(|| chain.to_ascii_uppercase())
    }
}

/// A configured chain, connected.
pub struct ChainLink {
    pub chain: Arc<dyn Chain>,
    pub cfg: ChainCfg,
    /// Our account on it: deposits leave from it and withdrawals are sent to it (the first signing account).
    pub account: Address,
    /// The simulated ledger behind a paper chain.
    pub ledger: Option<Arc<SimLedger>>,
}

/// Venues and chains.
pub struct World {
    pub venues: BTreeMap<String, VenueLink>,
    pub chains: BTreeMap<String, ChainLink>,
    /// Paper mode's servers, bridges and flows (dropping it stops them).
    pub paper: Option<super::paper::PaperWorld>,
}

/// Why the world could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("{0}")]
    Chain(Box<ChainError>),
    #[error("venue {venue}: {reason}")]
    Venue { venue: String, reason: String },
    #[error("paper mode: {0}")]
    Paper(String),
}

impl From<ChainError> for WorldError {
    fn from(e: ChainError) -> Self {
        WorldError::Chain(Box::new(e))
    }
}

/// The first signing account of a chain.
pub fn our_account(c: &ChainCfg) -> Result<Address, WorldError> {
    c.signing_accounts()
        .next()
        .map(|a| a.address)
        .ok_or_else(|| {
            WorldError::Chain(Box::new(ChainError::NoSigner {
                chain: c.name.clone(),
                account: "(none configured)".parse().unwrap_or(Address::ZERO),
            }))
        })
}

/// The chain context of our own accounts under the lease.
pub fn chain_context(
    cfg: &Config,
    journal: &Journal,
    clock: &Arc<dyn Clock>,
    stamp: &Stamp,
) -> ChainContext {
    let mut ctx = ChainContext::from_config(cfg, journal.clone(), clock.clone(), &stamp.actor);
    ctx.fence = stamp.fence.clone();
    ctx
}

/// Wrap a venue client for the service.
pub fn guard(
    v: Arc<dyn Venue>,
    journal: &Journal,
    stamp: &Stamp,
    clock: &Arc<dyn Clock>,
) -> Arc<GuardedVenue> {
    Arc::new(GuardedVenue::new(
        v,
        journal.clone(),
        stamp.clone(),
        clock.clone(),
    ))
}

impl World {
    /// Live mode: the venues' real endpoints with their keys from the environment, and the configured
    /// chains (JSON-RPC nodes).
    pub async fn connect_live(
        cfg: &Config,
        journal: &Journal,
        clock: Arc<dyn Clock>,
        stamp: &Stamp,
    ) -> Result<World, WorldError> {
        let mut chains = BTreeMap::new();
        for c in &cfg.chains {
            let ctx = chain_context(cfg, journal, &clock, stamp);
            let conn = chain::connect(c, ctx, &chain::keys::process_env).await?;
            chains.insert(
                c.name.clone(),
                ChainLink {
                    chain: conn.chain,
                    cfg: c.clone(),
                    account: our_account(c)?,
                    ledger: conn.ledger,
                },
            );
        }
        let mut venues = BTreeMap::new();
        for v in &cfg.venues {
            let err = |reason: String| WorldError::Venue {
                venue: v.name.clone(),
                reason,
            };
            let (client, networks): (Arc<dyn Venue>, BTreeMap<String, String>) = match &v.settings {
                VenueSettings::Binance(s) => (
                    Arc::new(
                        BinanceClient::from_settings(&v.name, s)
                            .map_err(|e| err(e.to_string()))?
                            .with_clock(clock.clone()),
                    ),
                    s.networks.clone(),
                ),
                VenueSettings::Hyperliquid(s) => {
                    let live = s.live.as_ref().ok_or_else(|| {
                        err("no live connection configured (`network`, `key_env`)".into())
                    })?;
                    (
                        Arc::new(
                            HyperliquidClient::from_settings(v.name.clone(), live)
                                .map_err(|e| err(e.to_string()))?
                                .with_clock(clock.clone())
                                .with_shared_reads(std::time::Duration::from_secs(3)),
                        ),
                        BTreeMap::new(),
                    )
                }
                VenueSettings::Sim(_) => {
                    return Err(err("simulated venues are not traded by the service".into()));
                }
            };
            venues.insert(
                v.name.clone(),
                VenueLink::guarded(v, client, networks, journal, stamp, &clock),
            );
        }
        Ok(World {
            venues,
            chains,
            paper: None,
        })
    }
}
