//! Shared set-up of the Binance tests: a local server on a loopback port chosen by the OS, clients for its
//! accounts, and a raw signed-request helper for checking the wire answers themselves.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use ballast_core::model::Side;
use ballast_exec::{
    Balance, ClientOrderId, OrderRequest, RejectKind, TimeInForce, Venue, VenueError,
};
use ballast_localnet::binance::config::ServerConfig;
use ballast_localnet::binance::{ServerHandle, spawn};
use ballast_venue_binance::config::{AllowedAddress, Settings};
use ballast_venue_binance::signing::{Params, Signer};
use ballast_venue_binance::{BinanceClient, Credentials};
use rust_decimal::Decimal;
use serde_json::Value;

pub const ALICE_KEY: &str = "aliceKey0000000000000000000000000000000000000000000000000000000A";
pub const ALICE_SECRET: &str = "aliceSecret000000000000000000000000000000000000000000000000000S";
pub const BOB_KEY: &str = "bobKey00000000000000000000000000000000000000000000000000000000B";
pub const BOB_SECRET: &str = "bobSecret0000000000000000000000000000000000000000000000000000S";
/// RFC 8032 test-1 key (venues.md B2.2).
pub const ED_KEY: &str = "edKey000000000000000000000000000000000000000000000000000000000E";
pub const ED_PRIVATE_PEM: &str = "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g";
pub const ED_PUBLIC_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
pub const VIEWER_KEY: &str = "viewerKey000000000000000000000000000000000000000000000000000000V";
pub const VIEWER_SECRET: &str = "viewerSecret00000000000000000000000000000000000000000000000000S";
pub const WITHDRAW_TO: &str = "0x00000000000000000000000000000000000000a1";

/// A market with no background liquidity (the book holds only the accounts' orders), so fills are exactly
/// what the test arranges; alice trades through the client, bob is the counterparty.
pub fn server_toml(extra: &str) -> String {
    format!(
        r#"
[binance]
seed = 7
tick = "20ms"
{extra}

[[binance.market]]
preset = "binance-usdcusdt"
liquidity = false

[[binance.account]]
name = "alice"
api_key = "{ALICE_KEY}"
secret_key = "{ALICE_SECRET}"
balances = {{ USDC = "100000", USDT = "100000" }}

[[binance.account]]
name = "bob"
api_key = "{BOB_KEY}"
secret_key = "{BOB_SECRET}"
balances = {{ USDC = "1000000", USDT = "1000000" }}

[[binance.account]]
name = "ed"
api_key = "{ED_KEY}"
ed25519_public_key = "{ED_PUBLIC_HEX}"
balances = {{ USDC = "1000", USDT = "1000" }}

[[binance.account]]
name = "viewer"
api_key = "{VIEWER_KEY}"
secret_key = "{VIEWER_SECRET}"
can_trade = false
can_withdraw = false
balances = {{ USDC = "1000" }}

[[binance.network]]
asset = "USDC"
network = "ARBITRUM"
withdraw_fee = "0.5"
withdraw_min = "10"
withdraw_delay = "400ms"
deposit_delay = "300ms"

[[binance.network]]
asset = "USDC"
network = "ETH"
withdraw_fee = "3"
withdraw_min = "20"
withdraw_delay = "1s"
deposit_delay = "1s"
"#
    )
}

pub async fn start(extra: &str) -> ServerHandle {
    let cfg = ServerConfig::parse("test.toml", &server_toml(extra)).expect("valid server config");
    spawn(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("server starts")
}

pub fn settings(server: &ServerHandle) -> Settings {
    Settings {
        url: server.url(),
        recv_window: Duration::from_millis(1000),
        timeout: Duration::from_secs(2),
        markets: vec!["USDCUSDT".into()],
        networks: BTreeMap::from([("arbitrum".to_string(), "ARBITRUM".to_string())]),
        withdraw_addresses: vec![AllowedAddress {
            asset: "USDC".into(),
            network: "ARBITRUM".into(),
            address: WITHDRAW_TO.into(),
        }],
        max_rate_wait: Duration::from_secs(3),
        ..Settings::default()
    }
}

pub fn client_with(server: &ServerHandle, key: &str, secret: &str) -> BinanceClient {
    BinanceClient::new(
        "binance",
        settings(server),
        Some(Credentials::hmac(key, secret)),
    )
    .unwrap()
}

pub fn alice(server: &ServerHandle) -> BinanceClient {
    client_with(server, ALICE_KEY, ALICE_SECRET)
}

pub fn bob(server: &ServerHandle) -> BinanceClient {
    client_with(server, BOB_KEY, BOB_SECRET)
}

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub fn order(intent: &str, side: Side, price: &str, qty: &str, tif: TimeInForce) -> OrderRequest {
    OrderRequest {
        market: "USDCUSDT".into(),
        side,
        price: d(price),
        qty: d(qty),
        tif,
        client_id: ClientOrderId::derive(intent, 0),
    }
}

/// A signed request sent as given (no client-side checks), for asserting the server's own answers.
pub async fn raw(
    server: &ServerHandle,
    method: reqwest::Method,
    path: &str,
    params: Params,
    key: &str,
    signer: Option<&Signer>,
    timestamp: Option<i64>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut p = params;
    let text = match signer {
        Some(s) => {
            p.push("timestamp", timestamp.unwrap_or_else(|| server.now_ms()));
            p.signed(s)
        }
        None => p.into_string(),
    };
    let http = reqwest::Client::new();
    let url = format!("{}{}?{}", server.url(), path, text);
    let mut req = http.request(method, url);
    if !key.is_empty() {
        req = req.header("X-MBX-APIKEY", key);
    }
    let resp = req.send().await.expect("server answers");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, v, headers)
}

/// A signed request from alice.
pub async fn alice_raw(
    server: &ServerHandle,
    method: reqwest::Method,
    path: &str,
    params: Params,
) -> (u16, Value, reqwest::header::HeaderMap) {
    raw(
        server,
        method,
        path,
        params,
        ALICE_KEY,
        Some(&Signer::hmac(ALICE_SECRET)),
        None,
    )
    .await
}

/// The code and message of an error answer.
pub fn code_msg(v: &Value) -> (i64, String) {
    (
        v["code"].as_i64().unwrap_or(0),
        v["msg"].as_str().unwrap_or("").to_string(),
    )
}

/// The parameters of a limit order (no timestamp or signature yet).
pub fn limit_params(
    symbol: &str,
    side: &str,
    ty: &str,
    tif: Option<&str>,
    qty: &str,
    price: &str,
) -> Params {
    let mut p = Params::new()
        .with("symbol", symbol)
        .with("side", side)
        .with("type", ty);
    if let Some(t) = tif {
        p.push("timeInForce", t);
    }
    p.with("quantity", qty).with("price", price)
}

/// One balance of the client's account (zero when absent).
pub async fn balance(c: &BinanceClient, asset: &str) -> Balance {
    c.balances()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.asset == asset)
        .unwrap_or(Balance {
            asset: asset.into(),
            total: Decimal::ZERO,
            held: Decimal::ZERO,
        })
}

/// The code and reason of a `Rejected` error of the given kind (panics on anything else).
pub fn rejected<T: std::fmt::Debug>(
    r: Result<T, VenueError>,
    kind: RejectKind,
) -> (Option<String>, String) {
    match r {
        Err(VenueError::Rejected {
            kind: k,
            code,
            reason,
            ..
        }) if k == kind => (code, reason),
        other => panic!("expected a {kind:?} rejection, got {other:?}"),
    }
}

/// Bob, the counterparty, rests a GTC order on USDCUSDT.
pub async fn bob_rests(server: &ServerHandle, intent: &str, side: Side, price: &str, qty: &str) {
    bob(server)
        .place(&order(intent, side, price, qty, TimeInForce::Gtc))
        .await
        .unwrap();
}
