//! The local venue servers, started together from one TOML file (`ballast venues serve --config FILE`):
//! a `[hyperliquid]` section for the local Hyperliquid server and a `[binance]` section for the local Binance
//! server. Each section is read by its venue's module with the span-keeping reader, so every problem has its
//! line. The formats are documented in `docs/HYPERLIQUID.md` and `docs/BINANCE.md`;
//! `config/local-venues.toml` is an example.

use std::path::{Path, PathBuf};

use crate::config::reader::Obj;
use crate::config::{self, ConfigErrors};
use crate::venue::binance::server as bn_server;
use crate::venue::binance::server_cfg::{self as bn_cfg, ServerConfig as BnServerCfg};
use crate::venue::hyperliquid::server::{self as hl_server, HlServerCfg, ServerHandle};

/// What the file configures.
#[derive(Clone, Debug)]
pub struct LocalVenues {
    pub source: PathBuf,
    pub hyperliquid: Option<HlServerCfg>,
    pub binance: Option<BnServerCfg>,
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
            })
        })
    }
}

/// The servers started from a [`LocalVenues`]; dropping it stops them.
pub struct Running {
    pub hyperliquid: Option<ServerHandle>,
    pub binance: Option<bn_server::ServerHandle>,
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
        out
    }

    /// Stop every server.
    pub async fn shutdown(self) {
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
    Ok(Running {
        hyperliquid,
        binance,
    })
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
