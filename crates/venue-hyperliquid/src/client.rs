//! [`HyperliquidClient`]: the `Venue` implementation for Hyperliquid spot, over `POST /info` and
//! `POST /exchange`.
//!
//! - Signs with the configured key for the configured [`Network`] (never inferred from the URL). With an API
//!   wallet (agent) it signs with the agent key and reads with the master (or sub-account) address.
//! - Takes nonces from one counter per signing key, shared by every client in the process.
//! - Checks prices, sizes and the minimum order value against the market's rules before sending, and sends
//!   decimals in their canonical form.
//! - Tracks every client order id it sends. An order request whose answer was lost (timeout after sending,
//!   5xx, dropped connection) is resolved by `orderStatus` with its cloid before anything else; order actions
//!   carry `expiresAfter`, so a request not found once its expiry has passed can never execute and is sent
//!   again, once. A cloid is never placed twice.
//! - Models the IP weight and the per-address budget (read from `userRateLimit`), reported by
//!   [`Venue::headroom`]; a request that would exceed the IP budget is not sent.
//!
//! The transport and signing of actions are in `http`, fund movements in `wallet`, the spot universe in
//! `market`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use alloy::primitives::Address;
use async_trait::async_trait;
use rust_decimal::Decimal;

use super::errors::{self, map_error};
use super::format;
use super::info::{
    FrontendOrder, InfoRequest, L2Book, LedgerDelta, LedgerUpdate, OrderStatusAnswer,
    OrderWithStatus, SpotClearinghouseState, SpotMeta, UserFill,
};
use super::nonce::{self, NonceSource};
use super::ratelimit::RateModel;
use super::signing::{KeySigner, Network};
use super::wire::{
    Action, Addr, BatchModifyAction, CancelByCloidAction, CancelByCloidWire, Cloid, Dec, Grouping,
    LimitWire, ModifyWire, OidRef, OkResponse, OrderAction, OrderTypeWire, OrderWire,
    ScheduleCancelAction, StatusEntry, Tif,
};
use crate::config::{KeySource, LiveSettings};
use crate::market::{MarketInfo, Universe};
use crate::wallet::WITHDRAW_FEE;
use crate::wallet::WITHDRAW_RESOLVE_MS;
use ballast_core::model::{Side, TimestampMs};
use ballast_exec::{
    Balance, ClientOrderId, Clock, Depth, Fill, Level, Liquidity, MarketRules, OrderRequest,
    OrderState, OrderStatus, RateHeadroom, RejectKind, SystemClock, TimeInForce, TransferKind,
    TransferState, TransferStatus, Venue, VenueError, WithdrawRequest,
};

/// Fills per `userFillsByTime` page.
pub(crate) const FILLS_PAGE: usize = 2000;
/// Tracked client order ids kept in memory.
pub(crate) const TRACKED_IDS: usize = 50_000;
/// Re-read `userRateLimit` this often.
pub(crate) const RATE_LIMIT_REFRESH_MS: i64 = 60_000;
/// How long after an order's `expiresAfter` (by our clock) the client keeps trying to resolve it.
pub(crate) const EXPIRY_GRACE_MS: i64 = 5_000;

/// Default spot maker fee (base tier).
pub const DEFAULT_MAKER_FEE: Decimal = Decimal::from_parts(4, 0, 0, false, 4);
/// Default spot taker fee (base tier).
pub const DEFAULT_TAKER_FEE: Decimal = Decimal::from_parts(7, 0, 0, false, 4);

/// Everything about a client except its key.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientOptions {
    pub network: Network,
    /// API base URL, without a trailing slash.
    pub url: String,
    /// The address to read (master or sub-account). Defaults to the vault when set, else the key's address.
    pub account: Option<Address>,
    /// The key is an API wallet approved for `account`.
    pub agent: bool,
    /// Sub-account or vault the L1 actions act for.
    pub vault_address: Option<Address>,
    /// Markets to trade (`BASE/QUOTE` or `@index`); empty = all.
    pub markets: Vec<String>,
    pub maker_fee: Decimal,
    pub taker_fee: Decimal,
    /// Addresses withdrawals may go to; empty = the account's own address only.
    pub withdraw_addresses: Vec<Address>,
    pub request_timeout: Duration,
    /// `expiresAfter` of order actions, from the time they are signed.
    pub order_expiry: Duration,
    pub bridge_address: Option<Address>,
    pub ip_weight_per_minute: u32,
}

impl ClientOptions {
    /// Defaults for a network, at its public URL.
    pub fn new(network: Network) -> Self {
        ClientOptions {
            network,
            url: network.default_url().to_string(),
            account: None,
            agent: false,
            vault_address: None,
            markets: Vec::new(),
            maker_fee: DEFAULT_MAKER_FEE,
            taker_fee: DEFAULT_TAKER_FEE,
            withdraw_addresses: Vec::new(),
            request_timeout: Duration::from_secs(10),
            order_expiry: Duration::from_secs(10),
            bridge_address: None,
            ip_weight_per_minute: super::ratelimit::IP_WEIGHT_PER_MINUTE,
        }
    }

    /// The same options at another URL (a local server).
    pub fn at(mut self, url: impl Into<String>) -> Self {
        self.url = url.into().trim_end_matches('/').to_string();
        self
    }
}

/// What the client knows of a cloid it sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Sent, answer not seen; the request cannot execute after `expires_at`.
    InFlight { expires_at: TimestampMs },
    /// The venue has it (resting, filled or cancelled).
    Placed,
    /// The venue refused it or it provably never arrived: it may be sent again.
    NotPlaced,
}

#[derive(Default)]
pub(crate) struct Tracking {
    by_cloid: HashMap<ClientOrderId, Sent>,
    cloid_by_oid: HashMap<u64, ClientOrderId>,
    order: VecDeque<(ClientOrderId, Option<u64>)>,
}

impl Tracking {
    fn set(&mut self, id: &ClientOrderId, s: Sent) {
        if self.by_cloid.insert(id.clone(), s).is_none() {
            self.order.push_back((id.clone(), None));
        }
        while self.order.len() > TRACKED_IDS {
            if let Some((c, oid)) = self.order.pop_front() {
                self.by_cloid.remove(&c);
                if let Some(o) = oid {
                    self.cloid_by_oid.remove(&o);
                }
            }
        }
    }

    fn placed(&mut self, id: &ClientOrderId, oid: u64) {
        self.set(id, Sent::Placed);
        self.cloid_by_oid.insert(oid, id.clone());
        if let Some(e) = self.order.iter_mut().rev().find(|(c, _)| c == id) {
            e.1 = Some(oid);
        }
    }
}

/// A Hyperliquid spot venue.
pub struct HyperliquidClient {
    pub(crate) name: String,
    pub(crate) opts: ClientOptions,
    pub(crate) http: reqwest::Client,
    pub(crate) signer: Option<Arc<KeySigner>>,
    pub(crate) account: Address,
    pub(crate) nonces: Option<Arc<NonceSource>>,
    pub(crate) rate: RateModel,
    pub(crate) rate_read_at: Mutex<Option<TimestampMs>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) universe: RwLock<Option<Arc<Universe>>>,
    pub(crate) tracking: Mutex<Tracking>,
    /// Withdrawals by the caller's client id: (withdraw3 nonce, when sent).
    pub(crate) withdrawals: Mutex<HashMap<String, (u64, TimestampMs)>>,
    /// With [`HyperliquidClient::with_shared_reads`]: how long one `userFillsByTime` answer serves every
    /// caller (concurrent auctions on one account ask for the same fills).
    pub(crate) share_reads_ms: i64,
    /// The last fills read: (when, since, fills).
    pub(crate) fills_read: Mutex<Option<(TimestampMs, TimestampMs, Vec<Fill>)>>,
}

impl std::fmt::Debug for HyperliquidClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperliquidClient")
            .field("name", &self.name)
            .field("network", &self.opts.network)
            .field("url", &self.opts.url)
            .field("account", &self.account)
            .field("signer", &self.signer)
            .field("agent", &self.opts.agent)
            .finish()
    }
}

/// Why a client could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientInitError {
    #[error(transparent)]
    Key(#[from] super::signing::KeyError),
    #[error("{0}")]
    Invalid(String),
}

fn env_password(var: &str) -> Result<String, ClientInitError> {
    std::env::var(var).map_err(|_| {
        ClientInitError::Invalid(format!(
            "environment variable {var} (the keystore password) is not set"
        ))
    })
}

impl HyperliquidClient {
    /// A client named `name` with `opts`, signing with `signer` (`None`: read-only).
    pub fn new(
        name: impl Into<String>,
        opts: ClientOptions,
        signer: Option<KeySigner>,
    ) -> Result<Self, ClientInitError> {
        let account = match (opts.vault_address, opts.account, &signer) {
            (_, Some(a), _) => a,
            (Some(v), None, _) => v,
            (None, None, Some(k)) if !opts.agent => k.address(),
            (None, None, Some(_)) => {
                return Err(ClientInitError::Invalid(
                    "an API wallet (agent) needs the master `account` address to read balances and orders"
                        .into(),
                ));
            }
            (None, None, None) => {
                return Err(ClientInitError::Invalid(
                    "a read-only client needs an `account` address".into(),
                ));
            }
        };
        let http = reqwest::Client::builder()
            .timeout(opts.request_timeout)
            .connect_timeout(opts.request_timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| ClientInitError::Invalid(format!("HTTP client: {e}")))?;
        let signer = signer.map(Arc::new);
        let nonces = signer.as_ref().map(|s| nonce::for_signer(s.address()));
        Ok(HyperliquidClient {
            name: name.into(),
            rate: RateModel::new(opts.ip_weight_per_minute),
            opts,
            http,
            signer,
            account,
            nonces,
            rate_read_at: Mutex::new(None),
            clock: Arc::new(SystemClock),
            universe: RwLock::new(None),
            tracking: Mutex::new(Tracking::default()),
            withdrawals: Mutex::new(HashMap::new()),
            share_reads_ms: 0,
            fills_read: Mutex::new(None),
        })
    }

    /// From a `[[venue]]` table: loads the key from its environment variable or keystore.
    pub fn from_settings(
        name: impl Into<String>,
        s: &LiveSettings,
    ) -> Result<Self, ClientInitError> {
        let signer = match &s.key {
            None => None,
            Some(KeySource::Env(var)) => Some(KeySigner::from_env(var)?),
            Some(KeySource::Keystore { path, password_env }) => {
                let pw = env_password(password_env)?;
                Some(KeySigner::from_keystore(path, &pw)?)
            }
        };
        Self::new(name, s.client.clone(), signer)
    }

    /// Use another clock (tests, simulations). Nonces still never go backwards.
    /// Let one fills read serve every caller for `d` (a service running several auctions on one account
    /// stays within the IP's read budget; the answer is at most `d` old).
    pub fn with_shared_reads(mut self, d: Duration) -> Self {
        self.share_reads_ms = d.as_millis() as i64;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The address balances and orders are read with.
    pub fn account(&self) -> Address {
        self.account
    }

    /// The signing key's address (the agent's, in agent mode).
    pub fn signer_address(&self) -> Option<Address> {
        self.signer.as_ref().map(|s| s.address())
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    pub(crate) fn now(&self) -> TimestampMs {
        self.clock.now_ms()
    }

    // ---------------------------------------------------------------- transport

    // ---------------------------------------------------------------- markets

    /// The spot universe, read once and cached; [`Venue::markets`] refreshes it.
    pub async fn universe(&self) -> Result<Arc<Universe>, VenueError> {
        if let Some(u) = self
            .universe
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(u);
        }
        self.refresh_universe().await
    }

    async fn refresh_universe(&self) -> Result<Arc<Universe>, VenueError> {
        let meta: SpotMeta = self.info(&InfoRequest::SpotMeta {}).await?;
        let u = Arc::new(Universe::from_meta(
            &meta,
            self.opts.maker_fee,
            self.opts.taker_fee,
        ));
        *self.universe.write().unwrap_or_else(|e| e.into_inner()) = Some(u.clone());
        Ok(u)
    }

    async fn market(&self, market: &str) -> Result<(Arc<Universe>, MarketInfo), VenueError> {
        let u = self.universe().await?;
        let m = u.get(market).cloned().ok_or_else(|| {
            self.err_rejected(
                RejectKind::Other,
                format!("market {market:?} is not listed on Hyperliquid spot"),
            )
        })?;
        Ok((u, m))
    }

    // ---------------------------------------------------------------- orders

    fn order_wire(&self, m: &MarketInfo, o: &OrderRequest) -> Result<OrderWire, VenueError> {
        m.rules.check(o.price, o.qty).map_err(|v| {
            self.err_rejected(
                RejectKind::Rules,
                format!(
                    "{} ({v}; not sent)",
                    format::venue_error_text(&v, &m.rules.quote)
                ),
            )
        })?;
        Ok(OrderWire {
            a: m.asset,
            b: o.side == Side::Buy,
            p: Dec(o.price),
            s: Dec(o.qty),
            r: false,
            t: OrderTypeWire::Limit(LimitWire {
                tif: match o.tif {
                    TimeInForce::PostOnly => Tif::Alo,
                    TimeInForce::Gtc => Tif::Gtc,
                    TimeInForce::Ioc => Tif::Ioc,
                },
            }),
            c: Some(Cloid::from(&o.client_id)),
        })
    }

    fn expiry(&self) -> TimestampMs {
        self.now() + self.opts.order_expiry.as_millis() as i64
    }

    fn track(&self) -> std::sync::MutexGuard<'_, Tracking> {
        self.tracking.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The status an order entry of `statuses` describes.
    fn status_from_entry(
        &self,
        m: &MarketInfo,
        o: &OrderRequest,
        entry: StatusEntry,
    ) -> Result<OrderStatus, VenueError> {
        let base = |oid: u64| OrderStatus {
            client_id: o.client_id.clone(),
            venue_order_id: oid.to_string(),
            market: m.name.clone(),
            side: o.side,
            price: o.price,
            qty: o.qty,
            filled: Decimal::ZERO,
            avg_price: None,
            state: OrderState::Open,
            updated_ms: self.now(),
        };
        match entry {
            StatusEntry::Resting(r) => {
                self.track().placed(&o.client_id, r.oid);
                Ok(base(r.oid))
            }
            StatusEntry::Filled(f) => {
                self.track().placed(&o.client_id, f.oid);
                let mut s = base(f.oid);
                s.filled = f.total_sz.0;
                s.avg_price = Some(f.avg_px.0);
                s.state = if f.total_sz.0 >= o.qty {
                    OrderState::Filled
                } else if o.tif == TimeInForce::Ioc {
                    OrderState::Canceled
                } else {
                    OrderState::Open
                };
                Ok(s)
            }
            StatusEntry::Error(msg) => {
                self.track().set(&o.client_id, Sent::NotPlaced);
                Err(map_error(&self.name, &msg))
            }
            other => Err(self.err_rejected(
                RejectKind::Other,
                format!("unexpected order status {other:?}"),
            )),
        }
    }

    /// The single entry of a one-order answer (a pre-validation error may come back as the only entry).
    pub(crate) fn single(&self, r: OkResponse, what: &str) -> Result<StatusEntry, VenueError> {
        match r {
            OkResponse::Order(s) | OkResponse::Cancel(s) => {
                s.statuses.into_iter().next().ok_or_else(|| {
                    self.err_rejected(RejectKind::Other, format!("{what}: empty statuses"))
                })
            }
            OkResponse::Default => Ok(StatusEntry::Success),
        }
    }

    /// The venue's clock, as its book snapshot of `market` states it.
    async fn venue_time(&self, market: &str) -> Result<TimestampMs, VenueError> {
        let (_, m) = self.market(market).await?;
        let b: L2Book = self
            .info(&InfoRequest::L2Book {
                coin: m.coin,
                n_sig_figs: None,
                mantissa: None,
            })
            .await?;
        Ok(b.time)
    }

    /// Wait until a cloid sent with `expires_at` is found on the venue, or is provably never placed: absent
    /// when read after the *venue's* clock (not ours, which may be skewed) has passed the expiry, when the
    /// request can no longer execute. `Ok(Some)`: found; `Ok(None)`: never placed; `Err(UnknownOutcome)`:
    /// still unknown when giving up (after the expiry, a grace and a request timeout by our clock).
    async fn resolve(
        &self,
        market: &str,
        id: &ClientOrderId,
        expires_at: TimestampMs,
        cause: &VenueError,
    ) -> Result<Option<OrderStatus>, VenueError> {
        let give_up = expires_at + EXPIRY_GRACE_MS + self.opts.request_timeout.as_millis() as i64;
        let mut last_err = cause.to_string();
        loop {
            // The venue's time first: an order absent after that cannot appear any more.
            let expired_on_venue = if self.now() >= expires_at {
                match self.venue_time(market).await {
                    Ok(t) => t > expires_at,
                    Err(e) => {
                        last_err = e.to_string();
                        false
                    }
                }
            } else {
                false
            };
            match self.order_status(market, id).await {
                Ok(Some(s)) => {
                    if let Ok(oid) = s.venue_order_id.parse::<u64>() {
                        self.track().placed(id, oid);
                    }
                    return Ok(Some(s));
                }
                Ok(None) if expired_on_venue => {
                    self.track().set(id, Sent::NotPlaced);
                    return Ok(None);
                }
                Ok(None) => {}
                Err(e) => last_err = e.to_string(),
            }
            let now = self.now();
            if now >= give_up {
                return Err(self.err_unknown(format!(
                    "order {id} still unresolved ({last_err}); query it by client id before acting on it"
                )));
            }
            let wait = (expires_at - now).clamp(200, 1000) as u64;
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }

    /// An order found by cloid after a lost answer may have been rejected on entry: report that as the
    /// rejection the answer would have carried.
    fn unless_rejected(&self, s: OrderStatus) -> Result<OrderStatus, VenueError> {
        let OrderState::Rejected(r) = &s.state else {
            return Ok(s);
        };
        let reason = format!("order {} was rejected: {r}", s.client_id);
        Err(match r.as_str() {
            "insufficientSpotBalanceRejected" => VenueError::InsufficientBalance {
                venue: self.name.clone(),
                reason,
            },
            "iocCancelRejected" => self.err_rejected(RejectKind::IocNoMatch, reason),
            "badAloPxRejected" => self.err_rejected(RejectKind::PostOnlyWouldCross, reason),
            "tickRejected" | "minTradeNtlRejected" => self.err_rejected(RejectKind::Rules, reason),
            _ => self.err_rejected(RejectKind::Other, reason),
        })
    }

    /// Place an order once: `Ok(Err(cause))` when the outcome is unknown.
    async fn place_once(
        &self,
        m: &MarketInfo,
        o: &OrderRequest,
        wire: OrderWire,
    ) -> Result<Result<OrderStatus, (TimestampMs, VenueError)>, VenueError> {
        let expires_at = self.expiry();
        self.track()
            .set(&o.client_id, Sent::InFlight { expires_at });
        let action = Action::Order(OrderAction {
            orders: vec![wire],
            grouping: Grouping::Na,
            builder: None,
        });
        match self.send_l1(&action, Some(expires_at as u64)).await {
            Ok(r) => {
                let entry = self.single(r, "order")?;
                Ok(Ok(self.status_from_entry(m, o, entry)?))
            }
            Err(e @ VenueError::UnknownOutcome { .. }) => Ok(Err((expires_at, e))),
            Err(e) => {
                self.track().set(&o.client_id, Sent::NotPlaced);
                Err(e)
            }
        }
    }

    /// Arm (or with `None`, disarm) the dead-man switch: every open order is cancelled at `at` (ms, at least
    /// 5 s ahead) unless this is called again. At most 10 triggers a day on the venue.
    pub async fn schedule_cancel(&self, at: Option<TimestampMs>) -> Result<(), VenueError> {
        let action = Action::ScheduleCancel(ScheduleCancelAction {
            time: at.map(|t| t as u64),
        });
        match self.single(self.send_l1(&action, None).await?, "scheduleCancel")? {
            StatusEntry::Error(msg) => Err(map_error(&self.name, &msg)),
            _ => Ok(()),
        }
    }

    /// The new order of a replace cannot carry the reduction (nothing placeable is left, or the amend failed):
    /// cancel it. Untouched, it is as if nothing new had been placed (`UnknownOrder`, as the simulator
    /// answers); partly filled, its status is reported with the quantity it should have had, so the caller
    /// can still infer what the old order executed.
    async fn abandon(
        &self,
        m: &MarketInfo,
        old: &ClientOrderId,
        old_filled: Decimal,
        old_known_filled: Decimal,
        new: &OrderRequest,
        target: Decimal,
    ) -> Result<OrderStatus, VenueError> {
        let cancelled = self.cancel(&m.name, &new.client_id).await?;
        if cancelled.filled.is_zero() {
            return Err(self.err_rejected(
                RejectKind::UnknownOrder,
                format!(
                    "order {old} filled {old_filled} where {old_known_filled} was known; the new order {} was cancelled: nothing was left to place",
                    new.client_id
                ),
            ));
        }
        Ok(OrderStatus {
            qty: target.max(cancelled.filled),
            ..cancelled
        })
    }

    /// Cancel by the venue's order id; returns the order's final status.
    pub async fn cancel_by_oid(&self, market: &str, oid: u64) -> Result<OrderStatus, VenueError> {
        let (_, m) = self.market(market).await?;
        let action = Action::Cancel(super::wire::CancelAction {
            cancels: vec![super::wire::CancelWire {
                a: m.asset,
                o: oid,
                f: false,
            }],
        });
        if let StatusEntry::Error(msg) =
            self.single(self.send_l1(&action, None).await?, "cancel")?
        {
            return Err(map_error(&self.name, &msg));
        }
        self.order_status_by_oid(oid)
            .await?
            .ok_or_else(|| self.err_rejected(RejectKind::UnknownOrder, errors::MISSING_ORDER))
    }

    /// Invalidate in-flight nonces (marks one as used).
    pub async fn noop(&self) -> Result<(), VenueError> {
        self.send_l1(&Action::Noop, None).await.map(|_| ())
    }

    /// The venue's record of an order by oid.
    pub async fn order_status_by_oid(&self, oid: u64) -> Result<Option<OrderStatus>, VenueError> {
        self.status_query(OidRef::Oid(oid)).await
    }

    async fn status_query(&self, oid: OidRef) -> Result<Option<OrderStatus>, VenueError> {
        let a: OrderStatusAnswer = self
            .info(&InfoRequest::OrderStatus {
                user: Addr(self.account),
                oid,
            })
            .await?;
        match a {
            OrderStatusAnswer::UnknownOid => Ok(None),
            OrderStatusAnswer::Order { order } => {
                let u = self.universe().await?;
                Ok(Some(to_status(&u, &order)))
            }
        }
    }

    // ---------------------------------------------------------------- funds
}

/// An id for orders placed without a cloid (by hand, elsewhere): 32 hex digits of the oid. Such orders can be
/// read but not cancelled by this id.
fn synthetic_id(oid: u64) -> ClientOrderId {
    ClientOrderId::parse(&format!("{oid:032x}")).expect("32 hex digits")
}

fn side_of(s: &str) -> Side {
    if s == "B" { Side::Buy } else { Side::Sell }
}

fn to_status(u: &Universe, o: &OrderWithStatus) -> OrderStatus {
    let f: &FrontendOrder = &o.order;
    let state = match o.status.as_str() {
        "open" | "triggered" => OrderState::Open,
        "filled" => OrderState::Filled,
        s if s.ends_with("Rejected") => OrderState::Rejected(s.to_string()),
        _ => OrderState::Canceled,
    };
    let filled = if state == OrderState::Filled {
        f.orig_sz.0
    } else {
        (f.orig_sz.0 - f.sz.0).max(Decimal::ZERO)
    };
    OrderStatus {
        client_id: f
            .cloid
            .as_ref()
            .map(Cloid::to_client_id)
            .unwrap_or_else(|| synthetic_id(f.oid)),
        venue_order_id: f.oid.to_string(),
        market: u.name_of(&f.coin),
        side: side_of(&f.side),
        price: f.limit_px.0,
        qty: f.orig_sz.0,
        filled,
        avg_price: None,
        state,
        updated_ms: o.status_timestamp,
    }
}

#[async_trait]
impl Venue for HyperliquidClient {
    fn name(&self) -> &str {
        &self.name
    }

    async fn markets(&self) -> Result<Vec<MarketRules>, VenueError> {
        let u = self.refresh_universe().await?;
        if self.opts.markets.is_empty() {
            return Ok(u.markets.iter().map(|m| m.rules.clone()).collect());
        }
        self.opts
            .markets
            .iter()
            .map(|k| {
                u.get(k).map(|m| m.rules.clone()).ok_or_else(|| {
                    self.err_rejected(
                        RejectKind::Other,
                        format!("configured market {k:?} is not listed on Hyperliquid spot"),
                    )
                })
            })
            .collect()
    }

    async fn balances(&self) -> Result<Vec<Balance>, VenueError> {
        let s: SpotClearinghouseState = self
            .info(&InfoRequest::SpotClearinghouseState {
                user: Addr(self.account),
            })
            .await?;
        Ok(s.balances
            .into_iter()
            .map(|b| Balance {
                asset: b.coin,
                total: b.total.0,
                held: b.hold.0,
            })
            .collect())
    }

    async fn depth(&self, market: &str, levels: usize) -> Result<Depth, VenueError> {
        let (_, m) = self.market(market).await?;
        let b: L2Book = self
            .info(&InfoRequest::L2Book {
                coin: m.coin.clone(),
                n_sig_figs: None,
                mantissa: None,
            })
            .await?;
        let side = |v: &Vec<super::info::L2Level>| {
            v.iter()
                .take(levels)
                .map(|l| Level {
                    price: l.px.0,
                    qty: l.sz.0,
                })
                .collect()
        };
        Ok(Depth {
            bids: side(&b.levels[0]),
            asks: side(&b.levels[1]),
            ts: b.time,
        })
    }

    async fn place(&self, order: &OrderRequest) -> Result<OrderStatus, VenueError> {
        let (_, m) = self.market(&order.market).await?;
        let wire = self.order_wire(&m, order)?;
        // A cloid already sent is resolved, never sent twice.
        let prior = self.track().by_cloid.get(&order.client_id).copied();
        match prior {
            Some(Sent::Placed) => {
                return self
                    .order_status(&m.name, &order.client_id)
                    .await?
                    .ok_or_else(|| {
                        self.err_rejected(
                            RejectKind::DuplicateClientId,
                            format!("client id {} was already used", order.client_id),
                        )
                    });
            }
            Some(Sent::InFlight { expires_at }) => {
                let cause = self.err_unknown("an earlier request with this client id");
                if let Some(s) = self
                    .resolve(&m.name, &order.client_id, expires_at, &cause)
                    .await?
                {
                    return self.unless_rejected(s);
                }
            }
            Some(Sent::NotPlaced) | None => {}
        }
        let mut attempt = 0;
        loop {
            match self.place_once(&m, order, wire.clone()).await? {
                Ok(s) => {
                    if order.tif == TimeInForce::Gtc && s.state == OrderState::Open {
                        // A GTC may have partly filled on entry: the answer does not say.
                        if let Ok(Some(now)) = self.order_status(&m.name, &order.client_id).await {
                            return Ok(now);
                        }
                    }
                    return Ok(s);
                }
                Err((expires_at, cause)) => {
                    tracing::warn!(venue = %self.name, cloid = %order.client_id, error = %cause, "order outcome unknown; resolving by cloid");
                    match self
                        .resolve(&m.name, &order.client_id, expires_at, &cause)
                        .await?
                    {
                        Some(s) => return self.unless_rejected(s),
                        None if attempt == 0 => {
                            tracing::info!(venue = %self.name, cloid = %order.client_id, "order provably never placed; sending it again");
                            attempt += 1;
                        }
                        None => return Err(cause),
                    }
                }
            }
        }
    }

    async fn replace(
        &self,
        old: &ClientOrderId,
        old_known_filled: Decimal,
        new: &OrderRequest,
    ) -> Result<OrderStatus, VenueError> {
        let (_, m) = self.market(&new.market).await?;
        if let Some(Sent::Placed | Sent::InFlight { .. }) =
            self.track().by_cloid.get(&new.client_id)
        {
            return Err(self.err_rejected(
                RejectKind::DuplicateClientId,
                format!("client id {} was already used", new.client_id),
            ));
        }
        // A modify sets the new size as given: fills of the old order the caller has not seen yet would be
        // bought (or sold) again, paid from whatever else the account holds (another leg's funds on a shared
        // account). Look first (orderStatus weighs 2), and send the reduced size.
        let seen = match self.order_status(&m.name, old).await {
            Ok(Some(s)) => s.filled.max(old_known_filled),
            _ => old_known_filled,
        };
        let unseen = seen - old_known_filled;
        let reduced_first;
        let (new, old_known_filled) = if unseen > Decimal::ZERO {
            let target = m.rules.round_qty((new.qty - unseen).max(Decimal::ZERO));
            if m.rules.check(new.price, target).is_err() {
                // Too little is left to place: end the old order instead.
                self.cancel(&m.name, old).await?;
                return Err(self.err_rejected(
                    RejectKind::UnknownOrder,
                    format!(
                        "order {old} filled {seen} where {old_known_filled} was known: it was cancelled, and the {target} left is below the market's minimum: nothing was left to place"
                    ),
                ));
            }
            reduced_first = OrderRequest {
                qty: target,
                ..new.clone()
            };
            (&reduced_first, seen)
        } else {
            (new, old_known_filled)
        };
        let wire = self.order_wire(&m, new)?;
        if let Some(Sent::Placed | Sent::InFlight { .. }) =
            self.track().by_cloid.get(&new.client_id)
        {
            return Err(self.err_rejected(
                RejectKind::DuplicateClientId,
                format!("client id {} was already used", new.client_id),
            ));
        }
        let expires_at = self.expiry();
        self.track()
            .set(&new.client_id, Sent::InFlight { expires_at });
        let action = Action::BatchModify(BatchModifyAction {
            modifies: vec![ModifyWire {
                oid: OidRef::Cloid(Cloid::from(old)),
                order: wire,
            }],
        });
        let mut status = match self.send_l1(&action, Some(expires_at as u64)).await {
            Ok(r) => {
                let entry = self.single(r, "batchModify")?;
                match entry {
                    StatusEntry::Error(msg) => {
                        self.track().set(&new.client_id, Sent::NotPlaced);
                        return Err(map_error(&self.name, &msg));
                    }
                    other => self.status_from_entry(&m, new, other)?,
                }
            }
            Err(cause @ VenueError::UnknownOutcome { .. }) => {
                match self
                    .resolve(&m.name, &new.client_id, expires_at, &cause)
                    .await?
                {
                    Some(s) => s,
                    None => {
                        return Err(self.err_transport(format!(
                            "the modify of {old} never reached the venue (the new order {} is absent after its expiry): nothing changed",
                            new.client_id
                        )));
                    }
                }
            }
            Err(e) => {
                self.track().set(&new.client_id, Sent::NotPlaced);
                return Err(e);
            }
        };
        // Fills of the old order the caller had not seen reduce the new one.
        let old_filled = match self.order_status(&m.name, old).await {
            Ok(Some(s)) => s.filled,
            _ => old_known_filled,
        };
        let excess = old_filled - old_known_filled;
        if excess <= Decimal::ZERO || status.state.is_final() {
            return Ok(status);
        }
        let target = m.rules.round_qty((new.qty - excess).max(Decimal::ZERO));
        tracing::info!(venue = %self.name, old = %old, new = %new.client_id, %excess, "old order filled more than known: reducing the new one");
        let reduced = OrderRequest {
            qty: target,
            ..new.clone()
        };
        if target <= status.filled || m.rules.check(new.price, target).is_err() {
            return self
                .abandon(&m, old, old_filled, old_known_filled, new, target)
                .await;
        }
        let wire = self.order_wire(&m, &reduced)?;
        let action = Action::BatchModify(BatchModifyAction {
            modifies: vec![ModifyWire {
                oid: OidRef::Cloid(Cloid::from(&new.client_id)),
                order: wire,
            }],
        });
        match self.send_l1(&action, Some(self.expiry() as u64)).await {
            Ok(r) => match self.single(r, "batchModify")? {
                StatusEntry::Error(_) => {
                    // Filled or gone meanwhile: report what the venue has.
                    if let Some(s) = self.order_status(&m.name, &new.client_id).await? {
                        status = s;
                    }
                    Ok(status)
                }
                other => self.status_from_entry(&m, &reduced, other),
            },
            Err(_) => {
                self.abandon(&m, old, old_filled, old_known_filled, new, target)
                    .await
            }
        }
    }

    async fn cancel(&self, market: &str, id: &ClientOrderId) -> Result<OrderStatus, VenueError> {
        let (_, m) = self.market(market).await?;
        let action = Action::CancelByCloid(CancelByCloidAction {
            cancels: vec![CancelByCloidWire {
                asset: m.asset,
                cloid: Cloid::from(id),
            }],
        });
        let mut tries = 0;
        loop {
            tries += 1;
            let sent = self.send_l1(&action, None).await;
            let missing = match sent {
                Ok(r) => match self.single(r, "cancelByCloid")? {
                    StatusEntry::Error(msg) => {
                        let e = map_error(&self.name, &msg);
                        match e {
                            VenueError::Rejected {
                                kind: RejectKind::UnknownOrder,
                                ..
                            } => Some(e),
                            e => return Err(e),
                        }
                    }
                    _ => None,
                },
                // Cancels are idempotent: after a lost answer, look, and cancel again if still open.
                Err(VenueError::UnknownOutcome { .. }) if tries < 3 => None,
                Err(e) => return Err(e),
            };
            match self.order_status(&m.name, id).await? {
                Some(s) if s.state.is_final() => return Ok(s),
                Some(_) if tries < 3 => continue,
                Some(s) => return Ok(s),
                None => {
                    return Err(missing.unwrap_or_else(|| {
                        self.err_rejected(RejectKind::UnknownOrder, errors::MISSING_ORDER)
                    }));
                }
            }
        }
    }

    async fn order_status(
        &self,
        _market: &str,
        id: &ClientOrderId,
    ) -> Result<Option<OrderStatus>, VenueError> {
        self.status_query(OidRef::Cloid(Cloid::from(id))).await
    }

    async fn open_orders(&self, market: Option<&str>) -> Result<Vec<OrderStatus>, VenueError> {
        let u = self.universe().await?;
        let filter = match market {
            Some(k) => Some(
                u.get(k)
                    .ok_or_else(|| {
                        self.err_rejected(RejectKind::Other, format!("unknown market {k:?}"))
                    })?
                    .name
                    .clone(),
            ),
            None => None,
        };
        let orders: Vec<FrontendOrder> = self
            .info(&InfoRequest::FrontendOpenOrders {
                user: Addr(self.account),
                dex: None,
            })
            .await?;
        Ok(orders
            .into_iter()
            .map(|o| {
                let ts = o.timestamp;
                to_status(
                    &u,
                    &OrderWithStatus {
                        order: o,
                        status: "open".into(),
                        status_timestamp: ts,
                    },
                )
            })
            .filter(|s| filter.as_ref().is_none_or(|f| &s.market == f))
            .collect())
    }

    async fn fills_since(&self, since: TimestampMs) -> Result<Vec<Fill>, VenueError> {
        let now = self.now();
        if self.share_reads_ms > 0 {
            let cached = self.fills_read.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, from, fills)) = cached.as_ref()
                && now - at < self.share_reads_ms
                && *from <= since
            {
                return Ok(fills.iter().filter(|f| f.ts >= since).cloned().collect());
            }
        }
        let out = self.read_fills(since).await?;
        if self.share_reads_ms > 0 {
            *self.fills_read.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((now, since, out.clone()));
        }
        Ok(out)
    }

    fn headroom(&self) -> RateHeadroom {
        self.rate.headroom(self.now())
    }

    /// An account read (fills, ledger) weighs 20 of the 1200 per minute an IP may spend: every 3 s is 400 a
    /// minute for one poller, which leaves room for the book, the orders and a second reader.
    fn read_interval(&self) -> Duration {
        Duration::from_secs(3)
    }

    /// USDC over Arbitrum: the bridge contract, which credits **the address that sends** the USDC (send from
    /// the account's own Arbitrum address, never from an exchange's hot wallet; at least 5 USDC). A spot token
    /// linked to HyperEVM over `HYPEREVM`: its system address, which credits the sender's spot balance.
    async fn deposit_address(&self, asset: &str, network: &str) -> Result<String, VenueError> {
        match crate::wallet::path(asset, network) {
            Some(crate::wallet::Path::Bridge) => Ok(super::wire::lower(&self.bridge())),
            Some(crate::wallet::Path::Evm) => {
                let index = self.evm_token(asset).await?;
                Ok(super::wire::lower(&crate::wallet::system_address(index)))
            }
            None => Err(VenueError::Unsupported {
                venue: self.name.clone(),
                what: format!(
                    "deposits of {asset} over {network} (USDC over ARBITRUM through the bridge, or a spot token linked to HYPEREVM)"
                ),
            }),
        }
    }

    fn funding_account(&self, asset: &str, network: &str) -> bool {
        crate::wallet::path(asset, network) == Some(crate::wallet::Path::Bridge)
    }

    fn transfer_nonce(&self) -> u64 {
        self.signer()
            .map(|(_, n)| n.next(self.now() as u64))
            .unwrap_or(0)
    }

    /// `usdClassTransfer` under the caller's nonce: perp -> spot towards trading, spot -> perp towards
    /// funding. USDC only.
    async fn internal_transfer(
        &self,
        t: &ballast_exec::InternalTransfer,
    ) -> Result<(), VenueError> {
        if !t.asset.eq_ignore_ascii_case(crate::wallet::BRIDGE_ASSET) {
            return Err(VenueError::Unsupported {
                venue: self.name.clone(),
                what: format!("moving {} between perp and spot (USDC only)", t.asset),
            });
        }
        self.usd_class_transfer_at(t.amount, !t.to_trading, Some(t.nonce))
            .await
    }

    /// USDC to an allowed Arbitrum address: moves any shortfall of perp USDC from spot (usdClassTransfer),
    /// then withdraw3 (fee 1 USDC, taken from the amount). Returns `withdraw3:<nonce>`.
    async fn withdraw(&self, req: &WithdrawRequest) -> Result<String, VenueError> {
        match crate::wallet::path(&req.asset, &req.network) {
            Some(crate::wallet::Path::Bridge) => {}
            Some(crate::wallet::Path::Evm) => return self.withdraw_to_evm(req).await,
            None => {
                return Err(VenueError::Unsupported {
                    venue: self.name.clone(),
                    what: format!(
                        "withdrawals of {} over {} (USDC to ARBITRUM, or a spot token linked to HYPEREVM)",
                        req.asset, req.network
                    ),
                });
            }
        }
        let dest = self.destination(&req.address)?;
        if !self.withdraw_allowed(&dest) {
            return Err(self.err_rejected(
                RejectKind::Other,
                format!(
                    "withdrawal to {dest:#x} refused: not in `withdraw_addresses` (default: the account's own address)"
                ),
            ));
        }
        if req.amount <= WITHDRAW_FEE {
            return Err(self.err_rejected(
                RejectKind::Rules,
                format!(
                    "{} USDC does not cover the {WITHDRAW_FEE} USDC fee",
                    req.amount
                ),
            ));
        }
        // Idempotent by the caller's client id: a withdrawal already sent is looked up in the ledger.
        let prior = self.withdrawals().get(&req.client_id).copied();
        if let Some((nonce, sent_at)) = prior {
            if self
                .ledger_has_withdrawal(nonce, sent_at - WITHDRAW_RESOLVE_MS)
                .await?
            {
                return Ok(format!("withdraw3:{nonce}"));
            }
            if self.now() - sent_at < WITHDRAW_RESOLVE_MS {
                return Err(self.err_unknown(format!(
                    "withdrawal {} (withdraw3 nonce {nonce}) is not in the ledger yet; ask again later",
                    req.client_id
                )));
            }
            tracing::warn!(venue = %self.name, client_id = %req.client_id, nonce, "withdrawal never reached the ledger; sending it again");
        }
        let perp = self.withdrawable().await?;
        if perp < req.amount {
            self.usd_class_transfer(req.amount - perp, true).await?;
        }
        let sent_at = self.now();
        let (nonce, r) = self.withdraw3_sent(dest, req.amount).await;
        match r {
            Ok(()) | Err(VenueError::UnknownOutcome { .. }) => {
                self.withdrawals()
                    .insert(req.client_id.clone(), (nonce, sent_at));
            }
            Err(_) => {
                self.withdrawals().remove(&req.client_id);
            }
        }
        r.map(|_| format!("withdraw3:{nonce}"))
    }

    /// From the non-funding ledger: bridge deposits and withdraw3 withdrawals (network `ARBITRUM`), spot sends
    /// from and to a system address (HyperEVM deposits and withdrawals, network `HYPEREVM`), and class
    /// transfers ([`TransferKind::ToTrading`] perp -> spot, [`TransferKind::ToFunding`] spot -> perp). A
    /// withdrawal is `Completed` once debited on Hyperliquid; its arrival on the chain is for the chain side
    /// to confirm.
    async fn transfers_since(&self, since: TimestampMs) -> Result<Vec<TransferStatus>, VenueError> {
        let updates: Vec<LedgerUpdate> = self
            .info(&InfoRequest::UserNonFundingLedgerUpdates {
                user: Addr(self.account),
                start_time: since,
                end_time: None,
            })
            .await?;
        Ok(updates
            .into_iter()
            .filter_map(|u| match u.delta {
                LedgerDelta::Deposit { usdc } => Some(TransferStatus {
                    kind: TransferKind::Deposit,
                    id: u.hash.clone(),
                    client_id: None,
                    asset: "USDC".into(),
                    network: "ARBITRUM".into(),
                    amount: usdc.0,
                    fee: Decimal::ZERO,
                    tx_hash: Some(u.hash),
                    state: TransferState::Completed,
                    updated_ms: u.time,
                }),
                LedgerDelta::Withdraw { usdc, nonce, fee } => Some(TransferStatus {
                    kind: TransferKind::Withdrawal,
                    id: format!("withdraw3:{nonce}"),
                    client_id: None,
                    asset: "USDC".into(),
                    network: "ARBITRUM".into(),
                    amount: usdc.0,
                    fee: fee.0,
                    tx_hash: Some(u.hash),
                    state: TransferState::Completed,
                    updated_ms: u.time,
                }),
                LedgerDelta::AccountClassTransfer { usdc, to_perp } => Some(TransferStatus {
                    kind: if to_perp {
                        TransferKind::ToFunding
                    } else {
                        TransferKind::ToTrading
                    },
                    id: u.hash,
                    client_id: None,
                    asset: "USDC".into(),
                    network: String::new(),
                    amount: usdc.0,
                    fee: Decimal::ZERO,
                    tx_hash: None,
                    state: TransferState::Completed,
                    updated_ms: u.time,
                }),
                LedgerDelta::SpotTransfer {
                    token,
                    amount,
                    user,
                    destination,
                    fee,
                    ..
                } => {
                    let kind = if user.0 == self.account
                        && crate::wallet::system_token(&destination.0).is_some()
                    {
                        TransferKind::Withdrawal
                    } else if destination.0 == self.account
                        && crate::wallet::system_token(&user.0).is_some()
                    {
                        TransferKind::Deposit
                    } else {
                        return None;
                    };
                    let asset = token.split(':').next().unwrap_or_default().to_string();
                    Some(TransferStatus {
                        kind,
                        id: u.hash,
                        client_id: None,
                        asset,
                        network: crate::wallet::EVM_NETWORK.into(),
                        amount: amount.0,
                        fee: fee.0,
                        tx_hash: None,
                        state: TransferState::Completed,
                        updated_ms: u.time,
                    })
                }
                _ => None,
            })
            .collect())
    }
}

impl HyperliquidClient {
    /// Every fill since `since`, page by page (`userFillsByTime`).
    async fn read_fills(&self, since: TimestampMs) -> Result<Vec<Fill>, VenueError> {
        let u = self.universe().await?;
        let mut out: Vec<Fill> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut start = since;
        loop {
            let page: Vec<UserFill> = self
                .info(&InfoRequest::UserFillsByTime {
                    user: Addr(self.account),
                    start_time: start,
                    end_time: None,
                    aggregate_by_time: None,
                })
                .await?;
            let full = page.len() >= FILLS_PAGE;
            let last = page.iter().map(|f| f.time).max();
            for f in page {
                if !seen.insert(f.tid) {
                    continue;
                }
                let client_id = f
                    .cloid
                    .as_ref()
                    .map(Cloid::to_client_id)
                    .or_else(|| self.track().cloid_by_oid.get(&f.oid).cloned());
                out.push(Fill {
                    trade_id: f.tid.to_string(),
                    client_id,
                    venue_order_id: f.oid.to_string(),
                    market: u.name_of(&f.coin),
                    side: side_of(&f.side),
                    price: f.px.0,
                    qty: f.sz.0,
                    fee: f.fee.0,
                    fee_asset: f.fee_token,
                    liquidity: if f.crossed {
                        Liquidity::Taker
                    } else {
                        Liquidity::Maker
                    },
                    ts: f.time,
                });
            }
            match (full, last) {
                (true, Some(t)) if t > start => start = t,
                _ => break,
            }
        }
        out.sort_by_key(|f| (f.ts, f.trade_id.clone()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_need_an_address_to_read() {
        let o = ClientOptions::new(Network::Testnet);
        assert!(HyperliquidClient::new("hl", o.clone(), None).is_err());
        let agent = ClientOptions {
            agent: true,
            ..o.clone()
        };
        assert!(HyperliquidClient::new("hl", agent, Some(KeySigner::random())).is_err());
        let k = KeySigner::random();
        let addr = k.address();
        let c = HyperliquidClient::new("hl", o, Some(k)).unwrap();
        assert_eq!(c.account(), addr);
        let dbg = format!("{c:?}");
        assert!(dbg.contains("key redacted"), "{dbg}");
    }
}
