//! The local venue servers, started together from one TOML file (`ballast venues serve --config FILE`):
//! a `[hyperliquid]` section for the local Hyperliquid server and a `[binance]` section for the local Binance
//! server. Each section is read by its venue's module with the span-keeping reader, so every problem has its
//! line. The formats are documented in `docs/HYPERLIQUID.md` and `docs/BINANCE.md`;
//! `config/local-venues.toml` is an example.

use std::path::{Path, PathBuf};

use crate::binance as bn_server;
use crate::binance::config::{self as bn_cfg, ServerConfig as BnServerCfg};
use crate::bridge::{BridgeCfg, BridgeChain, BridgeHandle};
use crate::hyperliquid::{self as hl_server, HlServerCfg, ServerHandle};
use ballast_chain::{self as chain, ChainContext, ChainError, Role};
use ballast_config::chains::{self as chain_cfg, ChainCfg};
use ballast_config::{self as config, ConfigErrors};
use ballast_exec::SystemClock;
use ballast_reader::{Diagnostics, Obj};
use ballast_store::{Journal, StoreError};

/// What the file configures.
#[derive(Clone, Debug)]
pub struct LocalVenues {
    pub source: PathBuf,
    pub hyperliquid: Option<HlServerCfg>,
    pub binance: Option<BnServerCfg>,
    /// `[[chain]]` sections (same keys as in the main configuration): the chains the servers' bridges
    /// credit deposits from and pay withdrawals out on; the account with a key is the venue's hot wallet.
    pub chains: Vec<ChainCfg>,
}

/// Every link of a bridge names a configured chain that has a hot wallet (an account with a key).
fn check_links(bridge: &BridgeCfg, chains: &[ChainCfg], d: &mut Diagnostics) {
    for l in &bridge.links {
        match chains.iter().find(|c| c.name == l.chain) {
            None => {
                let names: Vec<&str> = chains.iter().map(|c| c.name.as_str()).collect();
                d.error(
                    l.chain_span.clone(),
                    &l.chain_path,
                    format!(
                        "no [[chain]] named {:?} in this file (chains: {})",
                        l.chain,
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                );
            }
            Some(c) if c.signing_accounts().next().is_none() => d.error(
                l.chain_span.clone(),
                &l.chain_path,
                format!(
                    "chain {:?} (line {}) has no account with a key: the venue's hot wallet pays withdrawals out",
                    c.name, c.line
                ),
            ),
            Some(_) => {}
        }
    }
}

impl LocalVenues {
    /// Read and validate a local venues file.
    pub fn load(path: impl AsRef<Path>) -> Result<LocalVenues, ConfigErrors> {
        let path = path.as_ref();
        Self::parse(path, &config::read_text(path)?)
    }

    /// Validate the text of a local venues file; `path` names it in messages.
    pub fn parse(path: impl AsRef<Path>, src: &str) -> Result<LocalVenues, ConfigErrors> {
        let path = path.as_ref();
        config::parse_toml(path, src, |doc, d| {
            let mut root = Obj::root(doc);
            let hyperliquid = match root.obj(d, "hyperliquid") {
                Some(mut o) => {
                    let c = hl_server::config::read(&mut o, d);
                    o.finish(d);
                    c
                }
                None => None,
            };
            let binance = match root.obj(d, "binance") {
                Some(mut o) => {
                    let c = bn_cfg::read(&mut o, d);
                    o.finish(d);
                    c
                }
                None => None,
            };
            let chains = chain_cfg::read(&mut root, d);
            if let Some(b) = binance.as_ref().and_then(|b| b.bridge.as_ref()) {
                check_links(b, &chains, d);
            }
            if let Some((b, _)) = hyperliquid.as_ref().and_then(|h| h.bridge.as_ref()) {
                check_links(b, &chains, d);
            }
            root.finish(d);
            if !d.has_errors() && hyperliquid.is_none() && binance.is_none() {
                d.error(
                    Some(0..0),
                    "",
                    "no venue configured: add a [hyperliquid] or a [binance] section",
                );
            }
            Some(LocalVenues {
                source: path.to_path_buf(),
                hyperliquid,
                binance,
                chains,
            })
        })
    }
}

/// The servers started from a [`LocalVenues`]; dropping it stops them.
pub struct Running {
    pub hyperliquid: Option<ServerHandle>,
    pub binance: Option<bn_server::ServerHandle>,
    /// The Binance server's chain bridge, with one line per link for `describe`.
    pub binance_bridge: Option<(BridgeHandle, Vec<String>)>,
    /// The Hyperliquid server's chain bridge, likewise.
    pub hyperliquid_bridge: Option<(BridgeHandle, Vec<String>)>,
}

impl Running {
    /// Lines saying where each server listens and what it serves.
    pub fn describe(&self, cfg: &LocalVenues) -> Vec<String> {
        let mut out = Vec::new();
        if let (Some(c), Some(h)) = (&cfg.hyperliquid, &self.hyperliquid) {
            out.extend(describe_hyperliquid(c, h));
        }
        if let (Some(c), Some(h)) = (&cfg.binance, &self.binance) {
            out.extend(bn_server::describe(c, h));
        }
        for (_, lines) in self.hyperliquid_bridge.iter().chain(&self.binance_bridge) {
            out.extend(lines.iter().cloned());
        }
        out
    }

    /// Stop every server.
    pub async fn shutdown(self) {
        for (b, _) in self
            .binance_bridge
            .into_iter()
            .chain(self.hyperliquid_bridge)
        {
            b.stop().await;
        }
        if let Some(h) = self.hyperliquid {
            h.shutdown().await;
        }
        if let Some(h) = self.binance {
            h.shutdown().await;
        }
    }
}

/// Why the servers could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("hyperliquid: {0}")]
    Hyperliquid(#[from] hl_server::ServerError),
    #[error("binance: {0}")]
    Binance(#[from] bn_server::ServerError),
    #[error("bridge: {0}")]
    Chain(#[from] ChainError),
    #[error("bridge journal: {0}")]
    Journal(#[from] StoreError),
}

/// Start every configured server.
pub async fn start(cfg: &LocalVenues) -> Result<Running, ServeError> {
    let hyperliquid = match &cfg.hyperliquid {
        Some(c) => Some(hl_server::spawn(c.clone()).await?),
        None => None,
    };
    let binance = match &cfg.binance {
        Some(c) => Some(bn_server::spawn_configured(c.clone()).await?),
        None => None,
    };
    let binance_bridge = match (
        &binance,
        cfg.binance.as_ref().and_then(|c| c.bridge.as_ref()),
    ) {
        (Some(h), Some(b)) => {
            let (links, lines) = connect_links("binance", b, &cfg.chains).await?;
            Some((h.bridge(links, b.poll), lines))
        }
        _ => None,
    };
    let hyperliquid_bridge = match (
        &hyperliquid,
        cfg.hyperliquid.as_ref().and_then(|c| c.bridge.as_ref()),
    ) {
        (Some(h), Some((b, address))) => {
            let (links, mut lines) = connect_links("hyperliquid", b, &cfg.chains).await?;
            lines.push(format!(
                "hyperliquid: deposits are USDC sent to {address:#x}"
            ));
            Some((h.bridge(*address, links, b.poll), lines))
        }
        _ => None,
    };
    Ok(Running {
        hyperliquid,
        binance,
        binance_bridge,
        hyperliquid_bridge,
    })
}

/// Connect the chains of a venue's bridge (the hot wallet's key from its environment variable); with one
/// line per link for `describe`.
async fn connect_links(
    venue: &str,
    b: &BridgeCfg,
    chains: &[ChainCfg],
) -> Result<(Vec<BridgeChain>, Vec<String>), ServeError> {
    let journal = Journal::open(&b.journal)?;
    let mut links = Vec::new();
    let mut lines = Vec::new();
    for l in &b.links {
        let c = chains
            .iter()
            .find(|c| c.name == l.chain)
            .expect("checked when the file was read");
        let ctx = ChainContext {
            journal: journal.clone(),
            clock: std::sync::Arc::new(SystemClock),
            venues: Default::default(),
            config_version: "local-venues".into(),
            actor: format!("{venue}-bridge"),
            fence: None,
            role: Role::VenuePayer,
        };
        let connected = chain::connect(c, ctx, &chain::keys::process_env).await?;
        let hot = c
            .signing_accounts()
            .next()
            .map(|a| a.address)
            .expect("checked when the file was read");
        lines.push(format!(
            "{venue}: bridge {} <-> chain {} (chain id {}, {} confirmations), hot wallet {hot:#x}",
            l.network, c.name, c.chain_id, c.confirmations
        ));
        links.push(BridgeChain {
            network: l.network.clone(),
            chain: connected.chain,
            assets: c.tokens.iter().map(|t| t.asset.clone()).collect(),
            hot_wallet: Some(hot),
        });
    }
    Ok((links, lines))
}

/// Lines describing a running Hyperliquid server: where it listens, which signatures it takes, its
/// markets and accounts.
pub fn describe_hyperliquid(cfg: &HlServerCfg, h: &ServerHandle) -> Vec<String> {
    let mut out = vec![format!(
        "hyperliquid: listening on {} ({} signatures)",
        h.url(),
        cfg.chain
    )];
    h.with_state(|s| {
        for m in s.engine.markets() {
            out.push(format!(
                "  market {} as coin {:?}, asset {} (szDecimals {})",
                m.sim, m.coin, m.asset, m.sz_decimals
            ));
        }
    });
    for a in &cfg.accounts {
        let mut line = format!("  account {} {:#x}", a.name, a.address);
        if let Some(m) = &a.master {
            line.push_str(&format!(" (sub-account of {m})"));
        }
        for g in &a.agents {
            line.push_str(&format!(", agent {g:#x}"));
        }
        out.push(line);
    }
    out
}
