//! The `[hyperliquid]` section of the local venues file (`ballast venues serve --config FILE`), read with the
//! span-keeping reader so every problem has its line. Documented in `docs/HYPERLIQUID.md`.
//!
//! ```toml
//! [hyperliquid]
//! listen = "127.0.0.1:3001"   # loopback only
//! chain = "testnet"           # which signatures are accepted ("mainnet" or "testnet")
//! seed = 7                    # the simulator's randomness
//! step = "100ms"              # how often the simulated market runs in real time
//! ip_weight_per_minute = 1200 # 0: no IP limit
//! address_budget = true       # enforce the per-address request budget
//! pair_index = { "USDT0/USDC" = 166 }   # optional: the venue's ids
//! token_index = { USDT0 = 268 }
//!
//! [[hyperliquid.market]]      # the simulator's market keys (preset, rules, liquidity)
//! preset = "hyperliquid-usdt0-usdc"
//!
//! [[hyperliquid.account]]
//! name = "alice"
//! address = "0x..."           # the account's address (the key stays with the client)
//! balances = { USDC = "100000", USDT0 = "100000" }
//! perp_usdc = "1000"          # perp USDC: what withdraw3 draws from
//! agents = ["0x..."]          # approved API wallets
//! master = "..."              # makes this a sub-account of another account (vaultAddress)
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use alloy::primitives::Address;
use rust_decimal::Decimal;

use super::engine::Indices;
use ballast_reader::{Diagnostics, Field, FromField, Obj, choice};
use ballast_sim::SimExchangeCfg;
use ballast_sim::config::read_exchange_with;
use ballast_venue_hyperliquid::signing::Network;
use ballast_venue_hyperliquid::wire::parse_address;

/// One account of the local server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HlAccountCfg {
    /// The simulator's account name.
    pub name: String,
    pub address: Address,
    pub perp_usdc: Decimal,
    /// Approved API wallets.
    pub agents: Vec<Address>,
    /// The master account's name, for a sub-account.
    pub master: Option<String>,
}

/// The local Hyperliquid server.
#[derive(Clone, Debug, PartialEq)]
pub struct HlServerCfg {
    pub listen: SocketAddr,
    /// Signatures accepted: mainnet (`source` "a", `hyperliquidChain` "Mainnet") or testnet.
    pub chain: Network,
    pub exchange: SimExchangeCfg,
    pub accounts: Vec<HlAccountCfg>,
    pub indices: Indices,
    /// Real-time step of the simulated market.
    pub step: Duration,
    /// 0: unlimited.
    pub ip_weight_per_minute: u32,
    pub address_budget: bool,
    /// `[hyperliquid.bridge]`: the chain deposits come from and withdrawals are paid out on (network
    /// `ARBITRUM`), and where deposits go on it (`address`; default: the venue's bridge contract address for
    /// `chain`, which the client also defaults to).
    pub bridge: Option<(crate::bridge::BridgeCfg, Address)>,
}

/// Default listen address (the official SDKs' `LOCAL_API_URL` port).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3001";

fn address_field(f: &Field, d: &mut Diagnostics) -> Option<Address> {
    let s = String::from_field(f, d)?;
    let a = parse_address(&s);
    if a.is_none() {
        f.invalid(d, format!("{s:?} is not an address (0x and 40 hex digits)"));
    }
    a
}

fn index_table(f: &Field, d: &mut Diagnostics) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    let Some(t) = f.item.as_table_like() else {
        f.wrong_type(d, "a table of name = index");
        return out;
    };
    for (k, item) in t.iter() {
        let field = Field {
            path: format!("{}.{k}", f.path),
            item,
            span: item.span().or_else(|| f.span.clone()),
        };
        if let Some(v) = u32::from_field(&field, d) {
            if out.values().any(|x| *x == v) {
                field.invalid(d, format!("index {v} is given twice"));
            }
            out.insert(k.to_string(), v);
        }
    }
    out
}

/// Read the `[hyperliquid]` table.
pub fn read(o: &mut Obj, d: &mut Diagnostics) -> Option<HlServerCfg> {
    let before = d.problems.len();
    let listen_s = o.or(d, "listen", DEFAULT_LISTEN.to_string());
    let listen = match listen_s.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_loopback() => Some(a),
        Ok(_) => {
            if let Some(f) = o.field("listen") {
                f.invalid(
                    d,
                    format!("{listen_s} is not a loopback address: the local server only listens on 127.0.0.1 or ::1"),
                );
            }
            None
        }
        Err(_) => {
            if let Some(f) = o.field("listen") {
                f.invalid(d, format!("{listen_s:?} is not an address:port"));
            }
            None
        }
    };
    let chain = match o.field("chain") {
        Some(f) => choice(
            &f,
            d,
            &[("mainnet", Network::Mainnet), ("testnet", Network::Testnet)],
        ),
        None => {
            d.error(
                o.span.clone(),
                &o.path,
                "missing key `chain` (\"mainnet\" or \"testnet\": which signatures the server accepts; the official SDKs sign as testnet when pointed at a local URL)",
            );
            None
        }
    };
    let step = o.or(d, "step", Duration::from_millis(100));
    if step.is_zero()
        && let Some(f) = o.field("step")
    {
        f.invalid(d, "must be longer than 0s");
    }
    let ip_weight_per_minute = o.or(
        d,
        "ip_weight_per_minute",
        ballast_venue_hyperliquid::ratelimit::IP_WEIGHT_PER_MINUTE,
    );
    let address_budget = o.or(d, "address_budget", true);
    let mut indices = Indices::default();
    if let Some(f) = o.field("pair_index") {
        indices.pairs = index_table(&f, d);
    }
    if let Some(f) = o.field("token_index") {
        indices.tokens = index_table(&f, d);
    }
    let mut extras: Vec<HlAccountCfg> = Vec::new();
    let mut seen: BTreeMap<Address, String> = BTreeMap::new();
    let exchange = read_exchange_with(o, d, &mut |name, a, d| {
        let address = match a.field("address") {
            Some(f) => address_field(&f, d).inspect(|addr| {
                if let Some(prev) = seen.insert(*addr, name.to_string()) {
                    f.invalid(d, format!("address already used by account {prev:?}"));
                }
            }),
            None => {
                d.error(a.span.clone(), &a.path, "missing key `address`");
                None
            }
        };
        let perp_usdc = match a.field("perp_usdc") {
            Some(f) => match Decimal::from_field(&f, d) {
                Some(v) if v >= Decimal::ZERO => v,
                Some(v) => {
                    f.invalid(d, format!("{v} is negative"));
                    Decimal::ZERO
                }
                None => Decimal::ZERO,
            },
            None => Decimal::ZERO,
        };
        let mut agents = Vec::new();
        if let Some(f) = a.field("agents")
            && let Some(list) = Vec::<String>::from_field(&f, d)
        {
            for s in list {
                match parse_address(&s) {
                    Some(x) => agents.push(x),
                    None => f.invalid(d, format!("{s:?} is not an address")),
                }
            }
        }
        let master: Option<String> = a.opt(d, "master").ok().flatten();
        if let Some(address) = address {
            extras.push(HlAccountCfg {
                name: name.to_string(),
                address,
                perp_usdc,
                agents,
                master,
            });
        }
    });
    for a in &extras {
        if let Some(m) = &a.master
            && !extras.iter().any(|x| &x.name == m)
        {
            d.error(
                o.span.clone(),
                format!("{}.account", o.path),
                format!("account {:?}: `master` names no account ({m:?})", a.name),
            );
        }
        for g in &a.agents {
            if let Some(u) = extras.iter().find(|x| x.address == *g) {
                d.error(
                    o.span.clone(),
                    format!("{}.account", o.path),
                    format!(
                        "account {:?}: agent {g:#x} is the address of account {:?}",
                        a.name, u.name
                    ),
                );
            }
        }
    }
    let bridge = match o.obj(d, "bridge") {
        Some(mut b) => {
            let address = match b.field("address") {
                Some(f) => address_field(&f, d),
                None => chain.and_then(|c| {
                    parse_address(match c {
                        Network::Mainnet => ballast_venue_hyperliquid::wallet::MAINNET_BRIDGE,
                        Network::Testnet => ballast_venue_hyperliquid::wallet::TESTNET_BRIDGE,
                    })
                }),
            };
            let c = crate::bridge::read_config(&mut b, d, &[super::bridge::NETWORK.to_string()]);
            b.finish(d);
            c.zip(address)
        }
        None => None,
    };
    if d.problems.len() != before {
        return None;
    }
    Some(HlServerCfg {
        listen: listen?,
        chain: chain?,
        exchange: exchange?,
        accounts: extras,
        indices,
        step,
        ip_weight_per_minute,
        address_budget,
        bridge,
    })
}
