//! The local Hyperliquid server: `POST /info` and `POST /exchange` on a loopback port, speaking the venue's
//! wire protocol and executing on the simulated exchange ([`ballast_sim`]).
//!
//! Start it with [`spawn`] (tests bind port 0 and read [`ServerHandle::url`]) or with
//! `ballast venues serve --config FILE`. It verifies signatures as the venue does (for the configured
//! chain), so ballast's client and the official SDKs are held to the venue's rules. Malformed bodies get
//! HTTP 422 with the venue's text; over the IP weight budget, HTTP 429.
//!
//! For tests, [`ServerHandle::inject`] makes the next `/exchange` request lose its answer (after or before
//! executing) or fail with a 5xx, as a network would.

pub mod bridge;
pub mod config;
pub mod engine;
pub mod state;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alloy::primitives::Address;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rust_decimal::Decimal;

pub use config::{HlAccountCfg, HlServerCfg};
pub use engine::{Engine, Indices};
pub use state::{State, Withdrawal};

use ballast_exec::{Clock, SystemClock};
use ballast_venue_hyperliquid::info::InfoRequest;
use ballast_venue_hyperliquid::ratelimit::{
    WeightWindow, exchange_weight, info_items_weight, info_weight,
};
use ballast_venue_hyperliquid::wire::ExchangeRequest;

/// A network failure to apply to the next `/exchange` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The action executes, then the connection drops before the answer arrives.
    LoseResponse,
    /// The connection drops before the action reaches the venue: nothing executes.
    LoseRequest,
    /// The action executes, then the answer is an HTTP 502.
    ServerError,
    /// The action executes; the answer comes after this delay.
    Delay(Duration),
    /// The next action of this type (`order`, `spotSend`, `usdClassTransfer`, ...) executes, then its
    /// answer is lost; other requests pass untouched until it comes.
    LoseResponseTo(&'static str),
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid setup: {0}")]
    Setup(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

struct Shared {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    ip: Mutex<Option<WeightWindow>>,
    faults: Mutex<VecDeque<Fault>>,
    chain: Mutex<bridge::ChainSide>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn take_ip(&self, now: i64, weight: u32) -> Result<(), u64> {
        match lock(&self.ip).as_mut() {
            Some(w) => w.try_take(now, weight),
            None => Ok(()),
        }
    }

    fn add_ip(&self, now: i64, weight: u32) {
        if let Some(w) = lock(&self.ip).as_mut() {
            w.add(now, weight);
        }
    }
}

/// A running server.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    ticker: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the base URL for clients and SDKs.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queue a fault for the next `/exchange` request.
    pub fn inject(&self, f: Fault) {
        lock(&self.shared.faults).push_back(f);
    }

    /// Faults queued and not applied yet.
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.faults).len()
    }

    /// Work on the state directly (tests: inspect the simulator, check invariants).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.shared.state))
    }

    /// A bridge deposit from `from` on Arbitrum: credited to the same address's perp USDC.
    pub fn deposit(&self, from: Address, amount: Decimal) {
        let now = self.shared.clock.now_ms();
        lock(&self.shared.state).deposit(from, amount, now);
    }

    /// Withdrawals accepted so far.
    pub fn withdrawals(&self) -> Vec<Withdrawal> {
        lock(&self.shared.state).withdrawals.clone()
    }

    /// Stop serving and wait for the server task.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
    }

    fn stop(&mut self) {
        self.ticker.abort();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Start a server on `cfg.listen` with the wall clock.
pub async fn spawn(cfg: HlServerCfg) -> Result<ServerHandle, ServerError> {
    spawn_with_clock(cfg, Arc::new(SystemClock)).await
}

/// Start a server with a given clock (nonce windows, expiry and the market follow it).
pub async fn spawn_with_clock(
    cfg: HlServerCfg,
    clock: Arc<dyn Clock>,
) -> Result<ServerHandle, ServerError> {
    let state = State::new(&cfg, clock.now_ms()).map_err(ServerError::Setup)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        clock,
        ip: Mutex::new(
            (cfg.ip_weight_per_minute > 0).then(|| WeightWindow::new(cfg.ip_weight_per_minute)),
        ),
        faults: Mutex::new(VecDeque::new()),
        chain: Mutex::new(bridge::ChainSide::new()),
    });
    let app = Router::new()
        .route("/info", post(info_handler))
        .route("/exchange", post(exchange_handler))
        .with_state(shared.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    let tick_shared = shared.clone();
    let step = cfg.step;
    let ticker = tokio::spawn(async move {
        let mut iv = tokio::time::interval(step);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            iv.tick().await;
            let now = tick_shared.clock.now_ms();
            lock(&tick_shared.state).tick(now);
        }
    });
    tracing::info!(%addr, chain = %cfg.chain, accounts = cfg.accounts.len(), markets = cfg.exchange.markets.len(), "local Hyperliquid server listening");
    Ok(ServerHandle {
        addr,
        shared,
        shutdown: Some(tx),
        server: Some(server),
        ticker,
    })
}

fn unprocessable(e: serde_json::Error) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("Failed to deserialize the JSON body into the target type: {e}"),
    )
        .into_response()
}

fn too_many(retry_after_ms: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(
            header::RETRY_AFTER,
            retry_after_ms.div_ceil(1000).to_string(),
        )],
        "Too many requests.",
    )
        .into_response()
}

fn json(v: &impl serde::Serialize) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(v).expect("answers serialize"),
    )
        .into_response()
}

/// A 200 whose body breaks off: the client sees the connection drop mid-answer.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection lost (injected fault)",
        ))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn exchange_handler(AxState(sh): AxState<Arc<Shared>>, body: Bytes) -> Response {
    let now = sh.clock.now_ms();
    let req: ExchangeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return unprocessable(e),
    };
    if let Err(ms) = sh.take_ip(now, exchange_weight(req.action.batch_len())) {
        return too_many(ms);
    }
    let fault = {
        let mut q = lock(&sh.faults);
        match q.front() {
            Some(Fault::LoseResponseTo(t)) if *t != req.action.type_name() => None,
            _ => q.pop_front(),
        }
    };
    if fault == Some(Fault::LoseRequest) {
        return dropped();
    }
    let answer = lock(&sh.state).exchange(req, now);
    match fault {
        Some(Fault::LoseResponse | Fault::LoseResponseTo(_)) => dropped(),
        Some(Fault::ServerError) => (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response(),
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            json(&answer)
        }
        _ => json(&answer),
    }
}

async fn info_handler(AxState(sh): AxState<Arc<Shared>>, body: Bytes) -> Response {
    let now = sh.clock.now_ms();
    let req: InfoRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return unprocessable(e),
    };
    let t = req.type_name();
    if let Err(ms) = sh.take_ip(now, info_weight(t)) {
        return too_many(ms);
    }
    let (v, items) = lock(&sh.state).info(&req, now);
    sh.add_ip(now, info_items_weight(t, items));
    json(&v)
}
