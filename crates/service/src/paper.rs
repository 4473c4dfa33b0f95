//! Paper mode: the whole loop with no keys and no network.
//!
//! - Every `[[chain]]` (`kind = "sim"`) is a simulated ledger; our accounts sign with their public
//!   development keys, get gas and their starting balances (`[paper] balances`, else the flow recording's
//!   first row, else the targets).
//! - Every Hyperliquid and Binance venue is its **local server**, started in-process on a loopback port, and
//!   the service talks to it with the **real client** (signed requests, rate limits, lost answers): the whole
//!   wire path runs. The keys are made up at start and never leave the process.
//! - Each server's own chain bridge ([`ballast_localnet::bridge`], the one `ballast venues serve` runs) links it
//!   to the chains: deposits seen on chain are credited once confirmed, withdrawals stay pending until a
//!   hot wallet's payout is confirmed (and fail back to the account when it cannot be made).
//! - Exogenous flows: with `[paper] flows`, the balance changes of a recording (`ballast synth`) are applied
//!   to the simulated chains, one recorded step every `flow_step`, so positions drift as a relayer's do.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use rust_decimal::Decimal;

use super::world::{ChainLink, VenueLink, World, WorldError, chain_context, our_account};
use ballast_backtest::recording::{ReadOptions, Recording};
use ballast_chain::{Chain, ChainClient, ChainContext, Role, SimLedger, to_raw};
use ballast_config::chains::{AccountCfg as ChainAccount, ChainCfg, KeySource};
use ballast_config::{Config, TargetSpec, VenueKind, VenueSettings, binance};
use ballast_core::model::PositionKey;
use ballast_exec::{Clock, Venue};
use ballast_localnet::binance::config::{ApiKeyCfg, ServerConfig};
use ballast_localnet::binance::{self as bn_server, ServerHandle as BnHandle};
use ballast_localnet::bridge::{BridgeChain, BridgeHandle};
use ballast_localnet::hyperliquid::{self as hl_server, HlAccountCfg, HlServerCfg};
use ballast_sim::{AccountCfg, MarketCfg, NetworkCfg, SimExchangeCfg, presets};
use ballast_store::{Journal, Stamp};
use ballast_venue_binance::{BinanceClient, Credentials};
use ballast_venue_hyperliquid::wallet::TESTNET_BRIDGE;
use ballast_venue_hyperliquid::{ClientOptions, HyperliquidClient, KeySigner, Network};

/// Paper mode's running parts. Dropping it stops the bridges, the flows and the servers.
pub struct PaperWorld {
    pub binance: Vec<Arc<BnHandle>>,
    pub hyperliquid: Vec<Arc<hl_server::ServerHandle>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The servers' chain bridges (each stops when dropped).
    bridges: Vec<BridgeHandle>,
}

impl Drop for PaperWorld {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// How often the servers' bridges look at the chains.
const BRIDGE_POLL: Duration = Duration::from_millis(250);

/// Development key numbers of the venues' hot wallets (public keys: paper money only).
const HOT_WALLET_KEY: u32 = 0x00b1_0000;

/// The simulated market of a venue market name.
fn market_for(kind: VenueKind, market: &str) -> Result<MarketCfg, WorldError> {
    let m = match kind {
        VenueKind::Binance => presets::binance_usdcusdt(),
        VenueKind::Hyperliquid => presets::hyperliquid_usdt0_usdc(),
        VenueKind::Sim => return Err(WorldError::Paper("simulated venues are not traded".into())),
    };
    if m.rules.market == market {
        Ok(m)
    } else {
        Err(WorldError::Paper(format!(
            "no simulated {kind} market {market:?} (paper mode has {})",
            m.rules.market
        )))
    }
}

/// The balance a position starts paper mode with.
fn starting_balances(
    cfg: &Config,
    rec: Option<&Recording>,
) -> Result<BTreeMap<PositionKey, Decimal>, WorldError> {
    let p = &cfg.service.paper;
    for k in p.balances.keys() {
        let known = cfg
            .positions
            .iter()
            .any(|x| format!("{}/{}", x.key.chain, x.key.asset) == *k);
        if !known {
            return Err(WorldError::Paper(format!(
                "[paper] balances: {k:?} is not a configured position"
            )));
        }
    }
    let mut out = BTreeMap::new();
    for pos in &cfg.positions {
        let name = format!("{}/{}", pos.key.chain, pos.key.asset);
        let from_rec = rec.and_then(|r| {
            let i = r.position_index(&pos.key)?;
            (!r.is_empty()).then(|| r.row(0)[i])
        });
        let v = match (p.balances.get(&name), from_rec, pos.target) {
            (Some(v), _, _) => *v,
            (None, Some(v), _) => v,
            (None, None, TargetSpec::Amount(a)) => a,
            (None, None, TargetSpec::WeightBps(w)) => {
                p.value * Decimal::from(w)
                    / Decimal::from(10_000)
                    / cfg.service.price(&pos.key.asset)
            }
        };
        out.insert(pos.key.clone(), v);
    }
    Ok(out)
}

fn raw_of(c: &ChainCfg, asset: &str, amount: Decimal) -> Option<(Address, U256)> {
    let t = c.token(asset)?;
    let amount = ballast_core::model::floor_dp(amount, u32::from(t.decimals));
    Some((t.address, to_raw(amount, u32::from(t.decimals))?))
}

/// A hot wallet client (role `VenuePayer`) on a simulated ledger.
async fn hot_wallet(
    c: &ChainCfg,
    ledger: &Arc<SimLedger>,
    key: u32,
    clock: &Arc<dyn Clock>,
) -> Result<(Arc<dyn Chain>, Address), WorldError> {
    let signer = ballast_config::chains::dev_signer(key);
    let address = signer.address();
    let mut hot = c.clone();
    hot.accounts = vec![ChainAccount {
        address,
        key: Some(KeySource::Dev(key)),
    }];
    hot.withdrawal_allowlist = Vec::new();
    let journal = Journal::open_in_memory().map_err(|e| WorldError::Paper(e.to_string()))?;
    let ctx = ChainContext {
        journal,
        clock: clock.clone(),
        venues: BTreeSet::new(),
        config_version: "paper-hot-wallet".into(),
        actor: format!("paper-hot-wallet-{}", c.name),
        fence: None,
        role: Role::VenuePayer,
    };
    let client =
        ChainClient::open_configured(&hot, ledger.clone(), ctx, &ballast_chain::keys::process_env)
            .await?;
    ledger.set_native(address, U256::from(10u64).pow(U256::from(24u8)));
    for t in &c.tokens {
        // The venue's float: large enough to pay every withdrawal of a run.
        ledger.mint(
            t.address,
            address,
            U256::from(10u64).pow(U256::from(u32::from(t.decimals) + 12)),
        );
    }
    Ok((Arc::new(client), address))
}

fn random_text(n: usize, alphabet: &[u8]) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..n)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Check paper mode's own inputs (the flow recording, the starting balances) before anything is touched: a
/// paper start replaces the previous run's journal, which must not happen for a start that cannot succeed.
pub fn check_inputs(cfg: &Config) -> Result<(), WorldError> {
    let recording = match &cfg.service.paper.flows {
        Some(dir) => Some(
            Recording::read_dir(dir, ReadOptions::default())
                .map_err(|e| WorldError::Paper(format!("flows: {e}")))?,
        ),
        None => None,
    };
    starting_balances(cfg, recording.as_ref()).map(|_| ())
}

/// Build the paper world: simulated chains, local venue servers, real clients, bridges and flows.
pub async fn connect_paper(
    cfg: &Config,
    journal: &Journal,
    clock: Arc<dyn Clock>,
    stamp: &Stamp,
) -> Result<World, WorldError> {
    let p = &cfg.service.paper;
    let recording = match &p.flows {
        Some(dir) => Some(
            Recording::read_dir(dir, ReadOptions::default())
                .map_err(|e| WorldError::Paper(format!("flows: {e}")))?,
        ),
        None => None,
    };
    let start = starting_balances(cfg, recording.as_ref())?;
    let mut chains = BTreeMap::new();
    for c in &cfg.chains {
        let ledger = SimLedger::for_chain(c, clock.clone());
        let ctx = chain_context(cfg, journal, &clock, stamp);
        let client =
            ChainClient::open_configured(c, ledger.clone(), ctx, &ballast_chain::keys::process_env)
                .await?;
        let account = our_account(c)?;
        for a in &c.accounts {
            ledger.set_native(a.address, U256::from(10u64).pow(U256::from(21u8)));
        }
        for (k, v) in &start {
            if k.chain == c.name
                && let Some((token, raw)) = raw_of(c, &k.asset, *v)
            {
                ledger.mint(token, account, raw);
            }
        }
        chains.insert(
            c.name.clone(),
            ChainLink {
                chain: Arc::new(client),
                cfg: c.clone(),
                account,
                ledger: Some(ledger),
            },
        );
    }

    let mut venues = BTreeMap::new();
    let mut pw = PaperWorld {
        binance: Vec::new(),
        hyperliquid: Vec::new(),
        tasks: Vec::new(),
        bridges: Vec::new(),
    };
    for (vi, v) in cfg.venues.iter().enumerate() {
        let routes: Vec<_> = cfg.routes.iter().filter(|r| r.venue == v.name).collect();
        let mut markets: Vec<MarketCfg> = Vec::new();
        for r in &routes {
            if let Some(m) = &r.market
                && !markets.iter().any(|x| &x.rules.market == m)
            {
                markets.push(market_for(v.kind, m)?);
            }
        }
        let (venue, networks) = match &v.settings {
            VenueSettings::Binance(_) => {
                let link =
                    paper_binance(cfg, vi, &v.name, markets, &chains, &clock, &mut pw).await?;
                (link.0, link.1)
            }
            VenueSettings::Hyperliquid(_) => {
                let client =
                    paper_hyperliquid(cfg, vi, &v.name, markets, &chains, &clock, &mut pw).await?;
                (client, BTreeMap::new())
            }
            VenueSettings::Sim(_) => {
                return Err(WorldError::Paper(format!(
                    "venue {:?}: simulated venues are not traded by the service",
                    v.name
                )));
            }
        };
        venues.insert(
            v.name.clone(),
            VenueLink::guarded(v, venue, networks, journal, stamp, &clock),
        );
    }
    if let Some(rec) = recording {
        pw.tasks.push(spawn_flows(rec, &chains, cfg, p.flow_step));
    }
    Ok(World {
        venues,
        chains,
        paper: Some(pw),
    })
}

#[allow(clippy::too_many_arguments)]
async fn paper_binance(
    cfg: &Config,
    vi: usize,
    name: &str,
    markets: Vec<MarketCfg>,
    chains: &BTreeMap<String, ChainLink>,
    clock: &Arc<dyn Clock>,
    pw: &mut PaperWorld,
) -> Result<(Arc<dyn Venue>, BTreeMap<String, String>), WorldError> {
    let p = &cfg.service.paper;
    let configured = match &cfg.venues[vi].settings {
        VenueSettings::Binance(s) => s.networks.clone(),
        _ => BTreeMap::new(),
    };
    let network_of = |chain: &str| {
        configured
            .get(chain)
            .cloned()
            .unwrap_or_else(|| chain.to_ascii_uppercase())
    };
    // Every (asset, chain) a route of this venue moves in or out.
    let mut ends: BTreeSet<(String, String)> = BTreeSet::new();
    for r in cfg.routes.iter().filter(|r| r.venue == name) {
        ends.insert((r.from.asset.clone(), r.from.chain.clone()));
        ends.insert((r.to.asset.clone(), r.to.chain.clone()));
    }
    let networks: Vec<NetworkCfg> = ends
        .iter()
        .map(|(asset, chain)| NetworkCfg {
            asset: asset.clone(),
            network: network_of(chain),
            withdraw_fee: p.withdraw_fee,
            withdraw_min: p.withdraw_min,
            withdraw_delay_ms: p.withdraw_delay.as_millis() as u64,
            deposit_delay_ms: p.deposit_delay.as_millis() as u64,
        })
        .collect();
    let market_names: Vec<String> = markets.iter().map(|m| m.rules.market.clone()).collect();
    let exchange = SimExchangeCfg {
        seed: p.seed.wrapping_add(vi as u64),
        markets,
        accounts: vec![AccountCfg {
            name: "paper".into(),
            balances: BTreeMap::new(),
        }],
        networks,
    };
    let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let api_key = random_text(64, alnum);
    let secret = random_text(64, b"0123456789abcdef");
    let server_cfg = ServerConfig::new(exchange, vec![ApiKeyCfg::hmac("paper", &api_key, &secret)]);
    let server = Arc::new(
        bn_server::spawn_with_clock(
            server_cfg,
            "127.0.0.1:0".parse().expect("addr"),
            clock.clone(),
        )
        .await
        .map_err(|e| WorldError::Paper(format!("local Binance server: {e}")))?,
    );
    let mut net_map = BTreeMap::new();
    let mut withdraw_addresses = Vec::new();
    let mut bridged: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for (asset, chain) in &ends {
        let network = network_of(chain);
        net_map.insert(chain.clone(), network.clone());
        if let Some(link) = chains.get(chain) {
            withdraw_addresses.push(binance::AllowedAddress {
                asset: asset.clone(),
                network: network.clone(),
                address: format!("{:#x}", link.account),
            });
            let e = bridged
                .entry(chain.clone())
                .or_insert_with(|| (network.clone(), Vec::new()));
            if !e.1.contains(asset) {
                e.1.push(asset.clone());
            }
        }
    }
    let settings = binance::Settings {
        url: server.url(),
        credentials: None,
        markets: market_names,
        networks: net_map.clone(),
        withdraw_addresses,
        ..binance::Settings::default()
    };
    let client = BinanceClient::new(name, settings, Some(Credentials::hmac(api_key, &secret)))
        .map_err(|e| WorldError::Paper(e.to_string()))?
        .with_clock(clock.clone());
    let mut nets = Vec::new();
    for (ci, (chain, (network, assets))) in bridged.into_iter().enumerate() {
        let link = &chains[&chain];
        let ledger = link.ledger.as_ref().expect("paper chains are simulated");
        let (payer, hot) = hot_wallet(
            &link.cfg,
            ledger,
            HOT_WALLET_KEY + (vi as u32) * 256 + ci as u32,
            clock,
        )
        .await?;
        nets.push(BridgeChain {
            network,
            chain: payer,
            assets,
            hot_wallet: Some(hot),
        });
    }
    pw.bridges.push(server.bridge(nets, BRIDGE_POLL));
    tracing::info!(venue = %name, url = %server.url(), "paper: local Binance server started");
    pw.binance.push(server);
    Ok((Arc::new(client), net_map))
}

#[allow(clippy::too_many_arguments)]
async fn paper_hyperliquid(
    cfg: &Config,
    vi: usize,
    name: &str,
    markets: Vec<MarketCfg>,
    chains: &BTreeMap<String, ChainLink>,
    clock: &Arc<dyn Clock>,
    pw: &mut PaperWorld,
) -> Result<Arc<dyn Venue>, WorldError> {
    // The bridge credits the address that sends: the account is our Arbitrum account, with its key.
    let arb = chains
        .values()
        .find(|c| c.cfg.name.eq_ignore_ascii_case("arbitrum"));
    let signer = match arb {
        Some(link) => {
            let keys = ballast_chain::keys::load(&link.cfg, &ballast_chain::keys::process_env)?;
            let k = keys.get(&link.account).ok_or_else(|| {
                WorldError::Paper(format!("no key for {} on {}", link.account, link.cfg.name))
            })?;
            KeySigner::from_hex(&hex::encode(k.to_bytes()))
                .map_err(|e| WorldError::Paper(e.to_string()))?
        }
        None => KeySigner::random(),
    };
    let market_names: Vec<String> = markets.iter().map(|m| m.rules.market.clone()).collect();
    // HyperEVM: the spot tokens routed over it are linked to the chain's ERC-20s, and cross through their
    // system addresses; the account there must be the Hyperliquid account (the venue credits the sender).
    let evm = chains.values().find(|c| {
        c.cfg
            .name
            .eq_ignore_ascii_case(ballast_venue_hyperliquid::wallet::EVM_NETWORK)
    });
    let mut indices = hl_server::Indices::default();
    let mut evm_assets = Vec::new();
    if let Some(link) = evm {
        if link.account != signer.address() {
            return Err(WorldError::Paper(format!(
                "venue {name:?}: chain {} signs as {:#x}, but Hyperliquid credits HyperEVM deposits to the sender and pays HyperEVM withdrawals to it: use the Arbitrum account {:#x} there too",
                link.cfg.name,
                link.account,
                signer.address()
            )));
        }
        for r in cfg.routes.iter().filter(|r| r.venue == name) {
            for end in [&r.from, &r.to] {
                if end.chain == link.cfg.name
                    && let Some(t) = link.cfg.token(&end.asset)
                    && !evm_assets.contains(&end.asset)
                {
                    indices
                        .evm
                        .insert(end.asset.clone(), (t.address, i32::from(t.decimals) - 8));
                    evm_assets.push(end.asset.clone());
                }
            }
        }
    }
    let server_cfg = HlServerCfg {
        listen: "127.0.0.1:0".parse().expect("addr"),
        chain: Network::Testnet,
        exchange: SimExchangeCfg {
            seed: cfg.service.paper.seed.wrapping_add(vi as u64),
            markets,
            accounts: vec![AccountCfg {
                name: "paper".into(),
                balances: BTreeMap::new(),
            }],
            networks: Vec::new(),
        },
        accounts: vec![HlAccountCfg {
            name: "paper".into(),
            address: signer.address(),
            perp_usdc: Decimal::ZERO,
            agents: Vec::new(),
            master: None,
        }],
        indices,
        step: Duration::from_millis(100),
        ip_weight_per_minute: ballast_venue_hyperliquid::ratelimit::IP_WEIGHT_PER_MINUTE,
        address_budget: true,
        bridge: None,
    };
    let server = Arc::new(
        hl_server::spawn_with_clock(server_cfg, clock.clone())
            .await
            .map_err(|e| WorldError::Paper(format!("local Hyperliquid server: {e}")))?,
    );
    let mut opts = ClientOptions::new(Network::Testnet).at(server.url());
    opts.markets = market_names;
    opts.withdraw_addresses = vec![signer.address()];
    let client = HyperliquidClient::new(name, opts, Some(signer))
        .map_err(|e| WorldError::Paper(e.to_string()))?
        .with_clock(clock.clone())
        .with_shared_reads(Duration::from_secs(3));
    // The bridge takes USDC on Arbitrum (when the chain has it configured); HyperEVM takes the linked tokens.
    let usdc_on = |c: &ChainCfg| -> Vec<String> {
        c.tokens
            .iter()
            .filter(|t| t.asset == "USDC")
            .map(|t| t.asset.clone())
            .collect()
    };
    let sides = [
        (
            arb,
            hl_server::bridge::NETWORK,
            arb.map(|l| usdc_on(&l.cfg)),
            255,
        ),
        (evm, hl_server::bridge::EVM_NETWORK, Some(evm_assets), 254),
    ];
    let mut links = Vec::new();
    for (link, network, assets, key) in sides {
        let (Some(link), Some(assets)) = (link, assets) else {
            continue;
        };
        if assets.is_empty() {
            continue;
        }
        let ledger = link.ledger.as_ref().expect("paper chains are simulated");
        let (payer, hot) = hot_wallet(
            &link.cfg,
            ledger,
            HOT_WALLET_KEY + (vi as u32) * 256 + key,
            clock,
        )
        .await?;
        links.push(BridgeChain {
            network: network.to_string(),
            chain: payer,
            assets,
            hot_wallet: Some(hot),
        });
    }
    if !links.is_empty() {
        pw.bridges.push(server.bridge(
            TESTNET_BRIDGE.parse().expect("bridge address"),
            links,
            BRIDGE_POLL,
        ));
    }
    tracing::info!(venue = %name, url = %server.url(), "paper: local Hyperliquid server started");
    pw.hyperliquid.push(server);
    Ok(Arc::new(client))
}

/// Apply a recording's balance changes to the simulated chains, one recorded step every `step`.
fn spawn_flows(
    rec: Recording,
    chains: &BTreeMap<String, ChainLink>,
    cfg: &Config,
    step: Duration,
) -> tokio::task::JoinHandle<()> {
    // (recording column, ledger, token, decimals, account)
    let mut cols = Vec::new();
    for pos in &cfg.positions {
        let (Some(i), Some(link)) = (rec.position_index(&pos.key), chains.get(&pos.key.chain))
        else {
            continue;
        };
        let (Some(ledger), Some(t)) = (link.ledger.clone(), link.cfg.token(&pos.key.asset)) else {
            continue;
        };
        cols.push((i, ledger, t.address, u32::from(t.decimals), link.account));
    }
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(step);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        iv.tick().await;
        for t in 1..rec.len() {
            iv.tick().await;
            let (prev, row) = (rec.row(t - 1), rec.row(t));
            for (i, ledger, token, dec, account) in &cols {
                let delta = ballast_core::model::floor_dp((row[*i] - prev[*i]).abs(), *dec);
                let Some(raw) = to_raw(delta, *dec) else {
                    continue;
                };
                if row[*i] > prev[*i] {
                    ledger.mint(*token, *account, raw);
                } else {
                    ledger.burn(*token, *account, raw);
                }
            }
        }
        tracing::info!(
            "paper: the flow recording has ended; balances change only by rebalancing now"
        );
    })
}
