//! Shared setup of the Hyperliquid integration tests: a local server on 127.0.0.1:0 with a market and
//! accounts whose keys are fresh per test, and clients pointed at it.
#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use ballast_core::model::Side;
use ballast_exec::{ClientOrderId, Clock, OrderRequest, TimeInForce};
use ballast_localnet::hyperliquid::{self as server, ServerHandle};
use ballast_localnet::serve::LocalVenues;
use ballast_venue_hyperliquid::{ClientOptions, HyperliquidClient, KeySigner, Network};
use rust_decimal::Decimal;

pub const MARKET: &str = "USDT0/USDC";

/// A fresh private key as hex.
pub fn new_key() -> String {
    format!("0x{}", hex::encode(rand::random::<[u8; 32]>()))
}

pub fn addr(key: &str) -> Address {
    KeySigner::from_hex(key).unwrap().address()
}

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// Keys of the test accounts: alice and bob trade, `agent` is alice's approved API wallet, `desk` is a
/// sub-account of alice (no key: alice acts for it with vaultAddress).
pub struct Keys {
    pub alice: String,
    pub bob: String,
    pub agent: String,
    pub desk: Address,
}

impl Keys {
    pub fn new() -> Keys {
        Keys {
            alice: new_key(),
            bob: new_key(),
            agent: new_key(),
            desk: Address::repeat_byte(0xde),
        }
    }
}

/// The local venues file of the tests: one USDT0/USDC market without background liquidity (only the
/// accounts trade, so every fill is the test's doing), unless `liquidity` is set.
pub fn venues_toml(chain: &str, k: &Keys, extra_hl: &str, liquidity: bool) -> String {
    format!(
        r#"
[hyperliquid]
listen = "127.0.0.1:0"
chain = "{chain}"
seed = 3
step = "20ms"
{extra_hl}

[[hyperliquid.market]]
preset = "hyperliquid-usdt0-usdc"
liquidity = {liquidity}

[[hyperliquid.account]]
name = "alice"
address = "{alice:#x}"
balances = {{ USDC = "100000", USDT0 = "50000" }}
perp_usdc = "500"
agents = ["{agent:#x}"]

[[hyperliquid.account]]
name = "bob"
address = "{bob:#x}"
balances = {{ USDC = "100000", USDT0 = "100000" }}

[[hyperliquid.account]]
name = "desk"
address = "{desk:#x}"
master = "alice"
balances = {{ USDC = "20000" }}
"#,
        alice = addr(&k.alice),
        bob = addr(&k.bob),
        agent = addr(&k.agent),
        desk = k.desk,
    )
}

pub async fn start_server(
    chain: &str,
    k: &Keys,
    extra_hl: &str,
    clock: Option<Arc<dyn Clock>>,
) -> ServerHandle {
    start_server_with(chain, k, extra_hl, clock, false).await
}

/// [`start_server`], optionally with the market's background liquidity (makers and takers in real time).
pub async fn start_server_with(
    chain: &str,
    k: &Keys,
    extra_hl: &str,
    clock: Option<Arc<dyn Clock>>,
    liquidity: bool,
) -> ServerHandle {
    let cfg = LocalVenues::parse(
        "test-venues.toml",
        &venues_toml(chain, k, extra_hl, liquidity),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let hl = cfg.hyperliquid.unwrap();
    match clock {
        Some(c) => server::spawn_with_clock(hl, c).await.unwrap(),
        None => server::spawn(hl).await.unwrap(),
    }
}

/// A testnet server with alice, bob, alice's agent and her sub-account.
pub async fn start() -> (ServerHandle, Keys) {
    let k = Keys::new();
    let h = start_server("testnet", &k, "", None).await;
    (h, k)
}

pub fn options(h: &ServerHandle, network: Network) -> ClientOptions {
    let mut o = ClientOptions::new(network).at(h.url());
    o.request_timeout = Duration::from_secs(5);
    o.order_expiry = Duration::from_secs(3);
    o
}

pub fn client(h: &ServerHandle, key: &str) -> HyperliquidClient {
    HyperliquidClient::new(
        "hl",
        options(h, Network::Testnet),
        Some(KeySigner::from_hex(key).unwrap()),
    )
    .unwrap()
}

pub fn order(side: Side, price: &str, qty: &str, tif: TimeInForce, id: &str) -> OrderRequest {
    OrderRequest {
        market: MARKET.into(),
        side,
        price: d(price),
        qty: d(qty),
        tif,
        client_id: ClientOrderId::derive(id, 0),
    }
}

/// POST a raw body to the server.
pub async fn post(h: &ServerHandle, path: &str, body: String) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", h.url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}
