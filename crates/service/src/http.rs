//! The daemon's HTTP endpoint (127.0.0.1:9464 by default): `GET /healthz`, `/status`, `/metrics`
//! (Prometheus), `/pending`; `POST /halt`, `/reduce-only`, `/resume`, `/reload`, which need the bearer token
//! from the environment variable `[service] token_env` (without one they are refused). An endpoint that listens
//! beyond loopback (`[service] http_public = true`) needs the token for every request, reads included.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::core::ReloadReport;
use super::kill::{KillState, KillSwitch};
use super::status::Status;

/// What the HTTP endpoint asks the daemon loop to do.
pub enum Command {
    Kill {
        state: KillState,
        reason: String,
        by: String,
        reply: oneshot::Sender<Result<KillSwitch, String>>,
    },
    Reload {
        reply: oneshot::Sender<Result<ReloadReport, String>>,
    },
}

/// Shared with the handlers.
pub struct HttpState {
    pub status: Arc<RwLock<Status>>,
    /// Pending amounts as of the daemon's last look at the world (`None` before the first).
    pub pending: super::observe::PendingBoard,
    pub cmds: mpsc::Sender<Command>,
    /// The bearer token of the mutating calls; `None`: they are refused.
    pub token: Option<String>,
    /// Listening beyond loopback: every endpoint needs the token.
    pub public: bool,
    /// The cycle interval: `/healthz` fails when no cycle ran for three of them.
    pub interval: Duration,
    pub clock: Arc<dyn ballast_exec::Clock>,
}

/// Compare in constant time (the token must not leak through timing).
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(st: &HttpState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(token) = &st.token else {
        return Err(Box::new(
            (
                StatusCode::FORBIDDEN,
                "mutating calls are disabled: no token is configured ([service] token_env names the environment variable holding it)\n",
            )
                .into_response(),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if same(given.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(Box::new(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "missing or wrong bearer token\n",
            )
                .into_response(),
        ))
    }
}

fn json_response(code: StatusCode, v: &impl serde::Serialize) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(v).unwrap_or_default() + "\n",
    )
        .into_response()
}

async fn healthz(State(st): State<Arc<HttpState>>) -> Response {
    let s = st.status.read().unwrap_or_else(|p| p.into_inner()).clone();
    let now = st.clock.now_ms();
    let limit = (st.interval.as_millis() as i64 * 3).max(30_000);
    match s.last_cycle_ms {
        None if now - s.started_ms < limit => (StatusCode::OK, "starting\n").into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no cycle has run\n").into_response(),
        Some(t) if now - t > limit => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the last cycle ran {} s ago\n", (now - t) / 1000),
        )
            .into_response(),
        Some(_) => (StatusCode::OK, format!("ok: {}\n", s.last_cycle_outcome)).into_response(),
    }
}

async fn status(State(st): State<Arc<HttpState>>) -> Response {
    let s = st.status.read().unwrap_or_else(|p| p.into_inner()).clone();
    json_response(StatusCode::OK, &s)
}

async fn metrics(State(st): State<Arc<HttpState>>) -> Response {
    let text = st
        .status
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .prometheus();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Served from the daemon's last look at the world (at most one leg round old): no venue or chain is read
/// and no leg moves for a request, however many come.
async fn pending(State(st): State<Arc<HttpState>>) -> Response {
    let p = st.pending.read().unwrap_or_else(|p| p.into_inner()).clone();
    match p {
        Some(Ok(p)) => json_response(StatusCode::OK, &p),
        Some(Err(failed)) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"error": "a read failed: no partial sum is given", "failed": failed}),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no look at the world yet: ask again after the first leg round\n",
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct Why {
    reason: Option<String>,
}

async fn set_kill(st: &HttpState, headers: &HeaderMap, state: KillState, why: Why) -> Response {
    if let Err(r) = authorized(st, headers) {
        return *r;
    }
    let (tx, rx) = oneshot::channel();
    let cmd = Command::Kill {
        state,
        reason: why.reason.unwrap_or_else(|| "operator".into()),
        by: "http".into(),
        reply: tx,
    };
    if st.cmds.send(cmd).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping\n").into_response();
    }
    match rx.await {
        Ok(Ok(k)) => json_response(StatusCode::OK, &k),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping\n").into_response(),
    }
}

async fn halt(
    State(st): State<Arc<HttpState>>,
    headers: HeaderMap,
    Query(w): Query<Why>,
) -> Response {
    set_kill(&st, &headers, KillState::Halted, w).await
}

async fn reduce_only(
    State(st): State<Arc<HttpState>>,
    headers: HeaderMap,
    Query(w): Query<Why>,
) -> Response {
    set_kill(&st, &headers, KillState::ReduceOnly, w).await
}

async fn resume(
    State(st): State<Arc<HttpState>>,
    headers: HeaderMap,
    Query(w): Query<Why>,
) -> Response {
    set_kill(&st, &headers, KillState::Active, w).await
}

async fn reload(State(st): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&st, &headers) {
        return *r;
    }
    let (tx, rx) = oneshot::channel();
    if st.cmds.send(Command::Reload { reply: tx }).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping\n").into_response();
    }
    match rx.await {
        Ok(Ok(r)) => json_response(
            StatusCode::OK,
            &serde_json::json!({"applied": r.applied, "from": r.from, "to": r.to, "restart_needed": r.restart_needed}),
        ),
        Ok(Err(e)) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping\n").into_response(),
    }
}

/// On a public endpoint, every request carries the token (the mutating calls check it again themselves).
async fn guard(
    State(st): State<Arc<HttpState>>,
    headers: HeaderMap,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if st.public
        && let Err(r) = authorized(&st, &headers)
    {
        return *r;
    }
    next.run(req).await
}

/// Serve until the task is aborted. Returns the bound address.
pub async fn serve(
    listen: SocketAddr,
    state: HttpState,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/pending", get(pending))
        .route("/halt", post(halt))
        .route("/reduce-only", post(reduce_only))
        .route("/resume", post(resume))
        .route("/reload", post(reload));
    let state = Arc::new(state);
    let app = app
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("http endpoint stopped: {e}");
        }
    });
    Ok((addr, task))
}
