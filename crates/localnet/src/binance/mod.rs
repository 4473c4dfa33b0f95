//! The local Binance server: Binance's REST wire protocol (venues.md B8) on loopback, executing on the
//! simulated exchange. Official clients and ballast's own client talk to it as to `api.binance.com`.
//!
//! - Routes under `/api/v3/*` and `/sapi/v1/capital/*`; parameters are merged from the query string and a
//!   form body (the query wins).
//! - SIGNED routes check `X-MBX-APIKEY`, rebuild the signed text from the bytes as received (query without
//!   its signature, then body without its signature), verify HMAC-SHA256 (hex, any case) or Ed25519, and
//!   apply the timestamp / recvWindow rule.
//! - Orders pass the symbol's filters with Binance's codes and messages, then execute on the [`engine`].
//! - Request weight per IP and orders per account are counted in fixed windows and reported in the
//!   `X-MBX-USED-WEIGHT-1M` and `X-MBX-ORDER-COUNT-10S/1D` headers; past a limit the answer is 429 with
//!   `Retry-After`, and an IP that keeps going is banned (418).
//! - [`faults`] injects failures; `/ballast/v1/*` (not Binance) credits deposits and sets faults from
//!   outside the process.
//!
//! Start it with [`spawn`] and keep the [`ServerHandle`].

mod api;
pub mod config;
pub mod conn;
pub mod engine;
pub mod faults;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::watch;

pub use faults::{FaultKind, FaultRule, Faults};

use self::config::{LimitsCfg, ServerConfig};
use self::conn::{ConnInfo, KillableListener};
use self::engine::Engine;
use crate::bridge::{
    Bridge, BridgeChain, BridgeHandle, ChainCredit, ChainPayout, DepositOwner, VenueLedger,
};
use ballast_core::model::TimestampMs;
use ballast_exec::{Clock, SystemClock};
use ballast_venue_binance::ratelimit::{FixedWindow, Interval, Kind};
use ballast_venue_binance::signing::{Verifier, decode_component, signed_text};
use ballast_venue_binance::wire::ErrorBody;

/// A Binance error answer: HTTP status, code, message and (cancelReplace) data.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub http: u16,
    pub code: i64,
    pub msg: String,
    pub data: Option<Value>,
}

impl ApiError {
    fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            msg: self.msg.clone(),
            data: self.data.clone(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("bad configuration: {0}")]
    Config(String),
}

/// One request as the server saw it (for tests and diagnostics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub ts: TimestampMs,
    pub method: String,
    pub path: String,
    /// The HTTP status answered (0 when the connection was dropped or never answered).
    pub status: u16,
    /// The Binance error code, if any.
    pub code: Option<i64>,
}

struct Key {
    account: String,
    verifier: Verifier,
    can_trade: bool,
    can_withdraw: bool,
}

#[derive(Clone)]
struct IpState {
    weight: FixedWindow,
    raw: FixedWindow,
    sapi: FixedWindow,
    /// 429s answered in the current weight window.
    strikes: u32,
    strike_window: TimestampMs,
    banned_until: Option<TimestampMs>,
}

struct AccountLimits {
    orders_10s: FixedWindow,
    orders_1d: FixedWindow,
    sapi_uid: FixedWindow,
}

struct Limits {
    cfg: LimitsCfg,
    ips: HashMap<IpAddr, IpState>,
    accounts: HashMap<String, AccountLimits>,
}

fn iv(num: u32, letter: char) -> Interval {
    Interval { num, letter }
}

impl Limits {
    fn ip(&mut self, ip: IpAddr) -> &mut IpState {
        let c = &self.cfg;
        self.ips.entry(ip).or_insert_with(|| IpState {
            weight: FixedWindow::new(iv(1, 'M'), c.request_weight_per_minute),
            raw: FixedWindow::new(iv(5, 'M'), c.raw_requests_per_5m),
            sapi: FixedWindow::new(iv(1, 'M'), 12_000),
            strikes: 0,
            strike_window: 0,
            banned_until: None,
        })
    }

    fn account(&mut self, name: &str) -> &mut AccountLimits {
        let c = &self.cfg;
        self.accounts
            .entry(name.to_string())
            .or_insert_with(|| AccountLimits {
                orders_10s: FixedWindow::new(iv(10, 'S'), c.orders_per_10s),
                orders_1d: FixedWindow::new(iv(1, 'D'), c.orders_per_day),
                sapi_uid: FixedWindow::new(iv(1, 'M'), 180_000),
            })
    }

    fn windows(&self) -> Vec<(Kind, FixedWindow)> {
        let c = &self.cfg;
        vec![
            (
                Kind::Weight,
                FixedWindow::new(iv(1, 'M'), c.request_weight_per_minute),
            ),
            (
                Kind::Orders,
                FixedWindow::new(iv(10, 'S'), c.orders_per_10s),
            ),
            (Kind::Orders, FixedWindow::new(iv(1, 'D'), c.orders_per_day)),
            (
                Kind::Raw,
                FixedWindow::new(iv(5, 'M'), c.raw_requests_per_5m),
            ),
        ]
    }
}

/// Everything a request handler needs.
pub(crate) struct Shared {
    engine: Mutex<Engine>,
    keys: HashMap<String, Key>,
    limits: Mutex<Limits>,
    faults: Arc<Faults>,
    clock: Arc<dyn Clock>,
    skew_ms: AtomicI64,
    log: Mutex<Vec<RequestRecord>>,
    shutdown: watch::Receiver<bool>,
    /// This server's life (see [`crate::bridge::VenueLedger::instance`]).
    instance: String,
    /// First block the chain bridge scans, per chain.
    watch_from: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Shared {
    fn now(&self) -> TimestampMs {
        self.clock.now_ms() + self.skew_ms.load(Ordering::Relaxed)
    }

    fn record(&self, r: RequestRecord) {
        let mut log = self.log.lock().unwrap();
        if log.len() >= 100_000 {
            log.drain(..50_000);
        }
        log.push(r);
    }

    fn tick(&self) {
        let now = self.now();
        self.engine.lock().unwrap().advance(now);
    }
}

/// A running local Binance server.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for ServerHandle {
    /// A dropped handle stops the server (without waiting for it).
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr`, the `url` a client is configured with.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Inject faults.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Move the server's clock ahead (positive) or behind the machine's.
    pub fn set_clock_skew_ms(&self, ms: i64) {
        self.shared.skew_ms.store(ms, Ordering::Relaxed);
    }

    /// The server's current time.
    pub fn now_ms(&self) -> TimestampMs {
        self.shared.now()
    }

    /// A deposit arriving from a chain: credited to `account` after the network's deposit delay. Returns
    /// the deposit's id.
    pub fn deposit(
        &self,
        account: &str,
        coin: &str,
        network: &str,
        amount: rust_decimal::Decimal,
        tx_hash: Option<String>,
    ) -> Result<String, ApiError> {
        let now = self.shared.now();
        self.shared
            .engine
            .lock()
            .unwrap()
            .deposit(account, coin, network, amount, tx_hash, now)
    }

    /// Look at (or change) the simulated exchange directly, as of now.
    pub fn with_exchange<R>(&self, f: impl FnOnce(&mut ballast_sim::SimExchange) -> R) -> R {
        let now = self.shared.now();
        let mut e = self.shared.engine.lock().unwrap();
        e.advance(now);
        f(&mut e.ex)
    }

    /// The server's account ledger, for a chain bridge.
    pub fn ledger(&self) -> Arc<Ledger> {
        Arc::new(Ledger {
            shared: self.shared.clone(),
        })
    }

    /// Link the server to chains: deposits to its deposit addresses on `chains` are credited, and its
    /// withdrawals over them are paid out on the chain (see [`crate::bridge`]). From now on those
    /// withdrawals complete only when their payout is confirmed. The bridge polls every `every` until its
    /// handle is stopped or dropped.
    pub fn bridge(&self, chains: Vec<BridgeChain>, every: std::time::Duration) -> BridgeHandle {
        let ledger = self.ledger();
        ledger.pay_out_on(&chains);
        Bridge::new(ledger, chains).spawn(every)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Stop serving: open connections are closed, hanging requests end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// The local Binance server's accounts as a chain bridge sees them ([`VenueLedger`]).
pub struct Ledger {
    shared: Arc<Shared>,
}

impl Ledger {
    fn exchange<R>(&self, f: impl FnOnce(&mut ballast_sim::SimExchange, TimestampMs) -> R) -> R {
        let now = self.shared.now();
        let mut e = self.shared.engine.lock().unwrap();
        e.advance(now);
        f(&mut e.ex, now)
    }

    /// Withdrawals of the bridged (asset, network) pairs wait for their payout from now on.
    pub fn pay_out_on(&self, chains: &[BridgeChain]) {
        self.exchange(|ex, _| {
            for c in chains {
                for a in &c.assets {
                    if ex.networks(a).iter().any(|n| n.network == c.network) {
                        ex.pay_out_on_chain(a, &c.network);
                    }
                }
            }
        });
    }
}

impl VenueLedger for Ledger {
    fn venue(&self) -> &str {
        "binance"
    }

    fn instance(&self) -> &str {
        &self.shared.instance
    }

    fn deposit_addresses(&self, network: &str, assets: &[String]) -> Vec<(String, DepositOwner)> {
        self.exchange(|ex, _| {
            let mut out = Vec::new();
            for account in ex.accounts() {
                for a in assets {
                    if let Ok(addr) = ex.deposit_address(account, a, network)
                        && !out.iter().any(|(x, _)| x == &addr)
                    {
                        out.push((addr, DepositOwner::Account(account.to_string())));
                    }
                }
            }
            out
        })
    }

    fn credit(&self, c: &ChainCredit) -> Result<Option<String>, String> {
        self.exchange(|ex, now| {
            ex.deposit_from_chain(
                &c.account, &c.asset, &c.network, c.amount, &c.tx_hash, &c.key, now,
            )
            .map(|t| t.map(|t| t.id))
            .map_err(|e| e.to_string())
        })
    }

    fn to_pay(&self, network: &str) -> Vec<ChainPayout> {
        self.exchange(|ex, _| {
            ex.withdrawals_to_pay()
                .into_iter()
                .filter(|t| t.network == network)
                .map(|t| ChainPayout {
                    id: t.id,
                    account: t.account,
                    asset: t.asset,
                    network: t.network,
                    address: t.address,
                    amount: t.amount - t.fee,
                })
                .collect()
        })
    }

    fn sent(&self, id: &str, tx_hash: &str) {
        self.exchange(|ex, now| ex.withdrawal_sent(id, tx_hash, now));
    }

    fn paid(&self, id: &str, tx_hash: &str) -> bool {
        let done = self.exchange(|ex, now| ex.withdrawal_paid(id, tx_hash, now));
        self.shared.tick();
        done
    }

    fn failed(&self, id: &str, reason: &str) -> bool {
        self.exchange(|ex, now| ex.withdrawal_failed(id, reason, now))
    }

    fn watch_from(&self, chain: &str, head: u64) -> u64 {
        *self
            .shared
            .watch_from
            .lock()
            .unwrap()
            .entry(chain.to_string())
            .or_insert(head)
    }
}

/// Start a server for `cfg` on `addr` (port 0: the OS picks one; see [`ServerHandle::addr`]).
pub async fn spawn(cfg: ServerConfig, addr: SocketAddr) -> Result<ServerHandle, ServerError> {
    spawn_with_clock(cfg, addr, Arc::new(SystemClock)).await
}

/// [`spawn`] on the configuration's own `listen` address (what `ballast venues serve` does).
pub async fn spawn_configured(cfg: ServerConfig) -> Result<ServerHandle, ServerError> {
    let addr = cfg.listen;
    spawn(cfg, addr).await
}

/// Lines describing a running server for `ballast venues serve`: where it listens, its markets, accounts
/// (with their keys redacted) and networks.
pub fn describe(cfg: &ServerConfig, h: &ServerHandle) -> Vec<String> {
    let mut out = vec![format!("binance: listening on {}", h.url())];
    for m in &cfg.exchange.markets {
        out.push(format!(
            "  market {} ({}/{}){}",
            m.rules.market,
            m.rules.base,
            m.rules.quote,
            if m.liquidity.is_some() {
                ", with background liquidity"
            } else {
                ""
            }
        ));
    }
    for a in &cfg.exchange.accounts {
        let keys: Vec<String> = cfg
            .keys
            .iter()
            .filter(|k| k.account == a.name)
            .map(|k| ballast_venue_binance::keys::redact(&k.api_key))
            .collect();
        out.push(format!(
            "  account {} (API key {})",
            a.name,
            keys.join(", ")
        ));
    }
    for n in &cfg.exchange.networks {
        out.push(format!(
            "  network {} {}: withdraw fee {}, min {}",
            n.asset, n.network, n.withdraw_fee, n.withdraw_min
        ));
    }
    out
}

/// [`spawn`] with another clock (the server adds its configured skew to it).
pub async fn spawn_with_clock(
    cfg: ServerConfig,
    addr: SocketAddr,
    clock: Arc<dyn Clock>,
) -> Result<ServerHandle, ServerError> {
    let now = clock.now_ms() + cfg.clock_skew_ms;
    let engine = Engine::new(&cfg, now).map_err(|e| ServerError::Config(e.to_string()))?;
    let mut keys = HashMap::new();
    for k in &cfg.keys {
        let verifier = k
            .verifier()
            .map_err(|e| ServerError::Config(format!("account {}: {e}", k.account)))?;
        if !cfg.exchange.accounts.iter().any(|a| a.name == k.account) {
            return Err(ServerError::Config(format!(
                "API key of unknown account {:?}",
                k.account
            )));
        }
        keys.insert(
            k.api_key.clone(),
            Key {
                account: k.account.clone(),
                verifier,
                can_trade: k.can_trade,
                can_withdraw: k.can_withdraw,
            },
        );
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    let (stop, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        engine: Mutex::new(engine),
        keys,
        limits: Mutex::new(Limits {
            cfg: cfg.limits.clone(),
            ips: HashMap::new(),
            accounts: HashMap::new(),
        }),
        faults: Arc::new(Faults::new(cfg.faults.clone())),
        clock,
        skew_ms: AtomicI64::new(cfg.clock_skew_ms),
        log: Mutex::new(Vec::new()),
        shutdown: stop_rx.clone(),
        instance: format!("{:016x}", rand::random::<u64>()),
        watch_from: Mutex::new(std::collections::BTreeMap::new()),
    });
    let app = Router::new()
        .fallback(handle)
        .with_state(shared.clone())
        .into_make_service_with_connect_info::<ConnInfo>();
    let ticker = shared.clone();
    let tick = cfg.tick.max(std::time::Duration::from_millis(5));
    let mut stop_tick = stop_rx.clone();
    let mut stop_serve = stop_rx;
    let task = tokio::spawn(async move {
        let ticking = async move {
            let mut iv = tokio::time::interval(tick);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = iv.tick() => ticker.tick(),
                    _ = stop_tick.changed() => break,
                }
            }
        };
        let serving =
            axum::serve(KillableListener(listener), app).with_graceful_shutdown(async move {
                let _ = stop_serve.wait_for(|s| *s).await;
            });
        let (_, r) = tokio::join!(ticking, serving);
        if let Err(e) = r {
            tracing::warn!("binance local server stopped: {e}");
        }
    });
    tracing::info!(addr = %bound, "local Binance server listening");
    Ok(ServerHandle {
        addr: bound,
        shared,
        stop,
        task: Some(task),
    })
}

/// Request parameters merged from the query string and a form body (the query wins).
pub(crate) struct Params {
    map: HashMap<String, String>,
}

impl Params {
    fn parse(query: &str, body: &str) -> Result<Params, ApiError> {
        let mut map = HashMap::new();
        for raw in [body, query] {
            for pair in raw.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let (Some(k), Some(v)) = (decode_component(k), decode_component(v)) else {
                    return Err(engine::err(
                        400,
                        -1100,
                        format!("Illegal characters found in a parameter. ({pair})"),
                    ));
                };
                map.insert(k, v);
            }
        }
        Ok(Params { map })
    }

    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.map
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Binance's answer when a mandatory parameter is missing or malformed.
pub(crate) fn mandatory(name: &str) -> ApiError {
    engine::err(
        400,
        -1102,
        format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

fn json_response(status: u16, body: Vec<u8>) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    r
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.http, serde_json::to_vec(&e.body()).unwrap_or_default())
}

fn add_header(r: &mut Response, name: &str, value: impl ToString) {
    if let (Ok(n), Ok(v)) = (
        axum::http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(&value.to_string()),
    ) {
        r.headers_mut().insert(n, v);
    }
}

fn retry_after_secs(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

/// How a SIGNED request authenticated.
pub(crate) struct Caller {
    pub account: String,
    pub can_trade: bool,
    pub can_withdraw: bool,
}

fn authenticate(
    sh: &Shared,
    headers: &HeaderMap,
    raw_query: &str,
    raw_body: &str,
    p: &Params,
    now: TimestampMs,
) -> Result<Caller, ApiError> {
    let key = headers
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(engine::err(401, -2014, "API-key format invalid."));
    }
    let Some(k) = sh.keys.get(key) else {
        return Err(engine::err(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ));
    };
    let ts: i64 = p
        .get("timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| mandatory("timestamp"))?;
    let (text, sig) = signed_text(raw_query, raw_body);
    let sig = sig
        .filter(|s| !s.is_empty())
        .ok_or_else(|| mandatory("signature"))?;
    if !k.verifier.verify(text.as_bytes(), sig) {
        return Err(engine::err(
            400,
            -1022,
            "Signature for this request is not valid.",
        ));
    }
    let window: f64 = match p.get("recvWindow") {
        Some(w) => w.parse().map_err(|_| mandatory("recvWindow"))?,
        None => 5000.0,
    };
    if !(0.0..=60_000.0).contains(&window) {
        return Err(engine::err(
            400,
            -1131,
            "recvWindow must be less than 60000",
        ));
    }
    if ts >= now + 1000 {
        return Err(engine::err(
            400,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if (now - ts) as f64 > window {
        return Err(engine::err(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(Caller {
        account: k.account.clone(),
        can_trade: k.can_trade,
        can_withdraw: k.can_withdraw,
    })
}

/// Charge a request's weight to its IP: Err is the 429/418 answer (with its Retry-After in ms).
fn charge_ip(
    sh: &Shared,
    ip: IpAddr,
    weight: u64,
    sapi: bool,
    now: TimestampMs,
) -> Result<(u64, u64), (ApiError, u64)> {
    let mut l = sh.limits.lock().unwrap();
    let (ban_after, ban_for) = (l.cfg.ban_after, l.cfg.ban_for.as_millis() as i64);
    let limit = l.cfg.request_weight_per_minute;
    let s = l.ip(ip);
    if let Some(until) = s.banned_until {
        if now < until {
            return Err((
                engine::err(
                    418,
                    -1003,
                    format!(
                        "Way too much request weight used; IP banned until {until}. Please use WebSocket Streams for live updates to avoid bans."
                    ),
                ),
                (until - now) as u64,
            ));
        }
        s.banned_until = None;
        s.strikes = 0;
    }
    let _ = s.raw.add(now, 1);
    let r = if sapi {
        s.sapi.add(now, weight)
    } else {
        s.weight.add(now, weight)
    };
    let used = s.weight.used(now);
    let sapi_used = s.sapi.used(now);
    match r {
        Ok(_) => Ok((used, sapi_used)),
        Err(ms) => {
            let window_start = now - now.rem_euclid(60_000);
            if s.strike_window != window_start {
                s.strike_window = window_start;
                s.strikes = 0;
            }
            s.strikes += 1;
            if s.strikes > ban_after {
                s.banned_until = Some(now + ban_for);
                return Err((
                    engine::err(
                        418,
                        -1003,
                        format!(
                            "Way too much request weight used; IP banned until {}. Please use WebSocket Streams for live updates to avoid bans.",
                            now + ban_for
                        ),
                    ),
                    ban_for as u64,
                ));
            }
            Err((
                engine::err(
                    429,
                    -1003,
                    format!(
                        "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
                    ),
                ),
                ms,
            ))
        }
    }
}

/// Count one new order for an account: Err is the 429 answer.
fn charge_order(
    sh: &Shared,
    account: &str,
    now: TimestampMs,
) -> Result<(u64, u64), (ApiError, u64)> {
    let mut l = sh.limits.lock().unwrap();
    let (l10, l1d) = (l.cfg.orders_per_10s, l.cfg.orders_per_day);
    let a = l.account(account);
    let r10 = a.orders_10s.add(now, 1);
    let r1d = a.orders_1d.add(now, 1);
    match (r10, r1d) {
        (Ok(x), Ok(y)) => Ok((x, y)),
        (Err(ms), _) => Err((
            engine::err(
                429,
                -1015,
                format!("Too many new orders; current limit is {l10} orders per 10 SECOND."),
            ),
            ms,
        )),
        (_, Err(ms)) => Err((
            engine::err(
                429,
                -1015,
                format!("Too many new orders; current limit is {l1d} orders per 1 DAY."),
            ),
            ms,
        )),
    }
}

fn charge_uid(sh: &Shared, account: &str, weight: u64, now: TimestampMs) -> u64 {
    let mut l = sh.limits.lock().unwrap();
    let a = l.account(account);
    let _ = a.sapi_uid.add(now, weight);
    a.sapi_uid.used(now)
}

async fn hang(sh: &Shared) {
    let mut rx = sh.shutdown.clone();
    let _ = rx.wait_for(|s| *s).await;
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    State(sh): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = sh.now();
    let path = uri.path().to_string();
    let raw_query = uri.query().unwrap_or("").to_string();
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|c| c.starts_with("application/x-www-form-urlencoded"));
    let raw_body = if is_form {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        String::new()
    };
    let mut rec = RequestRecord {
        ts: now,
        method: method.to_string(),
        path: path.clone(),
        status: 0,
        code: None,
    };

    if path.starts_with("/ballast/v1/") {
        let r = api::admin(&sh, &method, &path, &raw_query, &raw_body, now);
        let resp = match r {
            Ok(v) => json_response(200, serde_json::to_vec(&v).unwrap_or_default()),
            Err(e) => error_response(&e),
        };
        return resp;
    }

    let Some(ep) = api::route(&method, &path) else {
        rec.status = 404;
        sh.record(rec);
        return json_response(
            404,
            br#"{"code":-1000,"msg":"An unknown error occurred while processing the request."}"#
                .to_vec(),
        );
    };

    let fault = sh.faults.take(method.as_str(), &path);
    if let Some(FaultKind::Delay { delay }) = &fault {
        tokio::time::sleep(*delay).await;
    }
    if let Some(f) = &fault
        && !f.executes()
    {
        let resp = fault_response(&sh, &conn, f, &mut rec).await;
        sh.record(rec);
        return resp;
    }

    let params = match Params::parse(&raw_query, &raw_body) {
        Ok(p) => p,
        Err(e) => {
            rec.status = e.http;
            rec.code = Some(e.code);
            sh.record(rec);
            return error_response(&e);
        }
    };
    let weight = ep.weight(&params);
    let (used, sapi_used) = match charge_ip(&sh, conn.remote.ip(), weight, ep.is_sapi(), now) {
        Ok(u) => u,
        Err((e, ms)) => {
            rec.status = e.http;
            rec.code = Some(e.code);
            sh.record(rec);
            let mut r = error_response(&e);
            add_header(&mut r, "Retry-After", retry_after_secs(ms));
            return r;
        }
    };
    let mut extra_headers: Vec<(&str, u64)> = Vec::new();
    let outcome: Result<Value, ApiError> = 'run: {
        let caller = if ep.signed() {
            match authenticate(&sh, &headers, &raw_query, &raw_body, &params, now) {
                Ok(c) => Some(c),
                Err(e) => break 'run Err(e),
            }
        } else {
            None
        };
        if let Some(c) = &caller {
            if ep.is_sapi() {
                let w = ep.uid_weight();
                if w > 0 {
                    extra_headers.push((
                        "X-SAPI-USED-UID-WEIGHT-1M",
                        charge_uid(&sh, &c.account, w, now),
                    ));
                }
            }
            if ep.places_order() {
                match charge_order(&sh, &c.account, now) {
                    Ok((n10, n1d)) => {
                        extra_headers.push(("X-MBX-ORDER-COUNT-10S", n10));
                        extra_headers.push(("X-MBX-ORDER-COUNT-1D", n1d));
                    }
                    Err((e, ms)) => {
                        extra_headers.push(("Retry-After", retry_after_secs(ms)));
                        break 'run Err(e);
                    }
                }
            }
        }
        api::dispatch(&sh, ep, &params, caller.as_ref(), now)
    };

    if let Some(f) = &fault
        && !matches!(f, FaultKind::Delay { .. })
    {
        let resp = fault_response(&sh, &conn, f, &mut rec).await;
        sh.record(rec);
        return resp;
    }

    let mut resp = match &outcome {
        Ok(v) => {
            rec.status = 200;
            json_response(200, serde_json::to_vec(v).unwrap_or_default())
        }
        Err(e) => {
            rec.status = e.http;
            rec.code = Some(e.code);
            error_response(e)
        }
    };
    sh.record(rec);
    if ep.is_sapi() {
        add_header(&mut resp, "X-SAPI-USED-IP-WEIGHT-1M", sapi_used);
    } else {
        add_header(&mut resp, "X-MBX-USED-WEIGHT-1M", used);
        add_header(&mut resp, "X-MBX-USED-WEIGHT", used);
    }
    for (n, v) in extra_headers {
        add_header(&mut resp, n, v);
    }
    resp
}

/// The answer (or non-answer) of an injected fault.
async fn fault_response(
    sh: &Shared,
    conn: &ConnInfo,
    f: &FaultKind,
    rec: &mut RequestRecord,
) -> Response {
    match f {
        FaultKind::RateLimit { retry_after } | FaultKind::Ban { retry_after } => {
            let ban = matches!(f, FaultKind::Ban { .. });
            let e = engine::err(
                if ban { 418 } else { 429 },
                -1003,
                if ban {
                    "Way too much request weight used; IP banned. Please use WebSocket Streams for live updates to avoid bans.".to_string()
                } else {
                    "Too much request weight used; current limit is exceeded. Please use WebSocket Streams for live updates to avoid polling the API.".to_string()
                },
            );
            rec.status = e.http;
            rec.code = Some(e.code);
            let mut r = error_response(&e);
            add_header(
                &mut r,
                "Retry-After",
                retry_after_secs(retry_after.as_millis() as u64),
            );
            r
        }
        FaultKind::ServerError { status, .. } => {
            rec.status = *status;
            json_response(
                *status,
                b"<html><body><h1>Server error</h1></body></html>".to_vec(),
            )
        }
        FaultKind::Timeout { .. } => {
            let e = engine::err(
                503,
                -1007,
                "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
            );
            rec.status = 503;
            rec.code = Some(-1007);
            error_response(&e)
        }
        FaultKind::Drop { .. } => {
            conn.kill();
            rec.status = 0;
            json_response(500, Vec::new())
        }
        FaultKind::Hang { .. } => {
            rec.status = 0;
            hang(sh).await;
            conn.kill();
            json_response(503, Vec::new())
        }
        FaultKind::Delay { .. } => json_response(200, b"{}".to_vec()),
    }
}

/// The `exchangeInfo.rateLimits` of this server.
pub(crate) fn rate_limits(sh: &Shared) -> Vec<ballast_venue_binance::wire::RateLimit> {
    let l = sh.limits.lock().unwrap();
    ballast_venue_binance::ratelimit::describe(&l.windows())
}
