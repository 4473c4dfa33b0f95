//! The Binance spot client: [`BinanceClient`] implements [`Venue`] over the REST API (venues.md B).
//!
//! - Every signed request is built once as text, signed over exactly those bytes (query followed by body),
//!   and sent as built. The timestamp carries a server-time offset from `GET /api/v3/time`, refreshed every
//!   10 minutes and after a `-1021`, which is retried once (it certainly did not happen).
//! - Orders are checked against the symbol's filters before they are sent.
//! - Budgets come from `exchangeInfo.rateLimits` and the `X-MBX-*` headers; the client waits out short
//!   back-offs itself and fails with `RateLimited` past `max_rate_wait`.
//! - A 5xx, `-1007`, a timeout or a dropped connection after sending is an unknown outcome. An order is then
//!   looked up by its client id; if it is not there, the client waits until the request's `recvWindow` has
//!   passed (after which the venue can no longer accept it) and looks again, and only then places it again
//!   under the same id. So one intent never has two live orders.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use rust_decimal::Decimal;

use super::filters::SymbolRules;
use super::keys::Credentials;
use super::ratelimit::Tracker;
use super::signing::Params;
use super::wire::{
    Account, AccountCommission, AmendBody, AvgPrice, CancelReplaceBody, DepthBody, ErrorBody,
    ExchangeInfo, OrderBody, TradeBody,
};
use crate::config::Settings;
use crate::errors::Fail;
use crate::errors::map_error;
use ballast_core::model::{Side, TimestampMs};
use ballast_exec::{
    Balance, ClientOrderId, Clock, Depth, Fill, Level, Liquidity, MarketRules, OrderRequest,
    OrderState, OrderStatus, RateHeadroom, RejectKind, SystemClock, TimeInForce, TransferStatus,
    Venue, VenueError, WithdrawRequest,
};

/// Margin added to `recvWindow` before "not found" is taken to mean "never placed".
const RESOLVE_MARGIN_MS: i64 = 1_000;
/// How long a reference price for PERCENT_PRICE_BY_SIDE is reused.
const REFERENCE_TTL_MS: i64 = 10_000;
/// How long exchangeInfo-derived rules are reused.
const RULES_TTL_MS: i64 = 3_600_000;

/// The Binance spot client.
pub struct BinanceClient {
    pub(crate) name: String,
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) creds: Option<Credentials>,
    pub(crate) settings: Settings,
    pub(crate) clock: Arc<dyn Clock>,
    /// server time - local time, ms.
    pub(crate) offset_ms: AtomicI64,
    /// Local time of the last sync (0 = never).
    pub(crate) synced_at: AtomicI64,
    pub(crate) limits: Mutex<Tracker>,
    pub(crate) symbols: Mutex<(TimestampMs, HashMap<String, SymbolRules>)>,
    pub(crate) fees: Mutex<HashMap<String, (Decimal, Decimal)>>,
    pub(crate) reference: Mutex<HashMap<String, (Decimal, TimestampMs)>>,
    /// Binance orderId -> our client id, to label fills.
    pub(crate) order_ids: Mutex<HashMap<(String, u64), Option<ClientOrderId>>>,
    pub(crate) coins: Mutex<Option<(TimestampMs, Vec<super::wire::CoinInfo>)>>,
}

impl std::fmt::Debug for BinanceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceClient")
            .field("name", &self.name)
            .field("url", &self.base)
            .field("credentials", &self.creds)
            .finish_non_exhaustive()
    }
}

/// Why a client could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("venue {venue}: {reason}")]
    Keys { venue: String, reason: String },
    #[error("venue {venue}: cannot build the HTTP client: {reason}")]
    Http { venue: String, reason: String },
}

impl BinanceClient {
    /// A client for `settings` with these credentials (`None`: public endpoints only).
    pub fn new(
        name: impl Into<String>,
        settings: Settings,
        creds: Option<Credentials>,
    ) -> Result<BinanceClient, ClientError> {
        let name = name.into();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("ballast/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Http {
                venue: name.clone(),
                reason: e.to_string(),
            })?;
        Ok(BinanceClient {
            base: settings.url.trim_end_matches('/').to_string(),
            name,
            http,
            creds,
            settings,
            clock: Arc::new(SystemClock),
            offset_ms: AtomicI64::new(0),
            synced_at: AtomicI64::new(0),
            limits: Mutex::new(Tracker::default()),
            symbols: Mutex::new((0, HashMap::new())),
            fees: Mutex::new(HashMap::new()),
            reference: Mutex::new(HashMap::new()),
            order_ids: Mutex::new(HashMap::new()),
            coins: Mutex::new(None),
        })
    }

    /// A client for a configured venue named `name`, its keys resolved from the environment, the key file or
    /// the keystore its settings name.
    pub fn from_settings(name: &str, s: &Settings) -> Result<BinanceClient, ClientError> {
        let creds = match &s.credentials {
            Some(src) => Some(Credentials::load(src).map_err(|e| ClientError::Keys {
                venue: name.to_string(),
                reason: e.0,
            })?),
            None => None,
        };
        BinanceClient::new(name.to_string(), s.clone(), creds)
    }

    /// Use another clock (tests, simulations).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn venue_name(&self) -> &str {
        &self.name
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current estimate of the server's clock.
    pub fn server_now(&self) -> TimestampMs {
        self.clock.now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// server time - local time, as last measured.
    pub fn time_offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    // ----- transport -------------------------------------------------------------------------------

    // ----- time ------------------------------------------------------------------------------------

    // ----- market data and rules -------------------------------------------------------------------

    /// `GET /api/v3/exchangeInfo` for the configured symbols (all when none are configured). Updates the
    /// rate limits and the cached symbol rules.
    pub async fn exchange_info(&self) -> Result<ExchangeInfo, VenueError> {
        let mut p = Params::new();
        if !self.settings.markets.is_empty() {
            let list = serde_json::to_string(&self.settings.markets).unwrap_or_default();
            p.push("symbols", list);
        }
        let info: ExchangeInfo = self.get_json("/api/v3/exchangeInfo", p, false, 20).await?;
        self.limits.lock().unwrap().set_limits(&info.rate_limits);
        let mut map = HashMap::new();
        for s in &info.symbols {
            map.insert(s.symbol.clone(), SymbolRules::from_info(s));
        }
        *self.symbols.lock().unwrap() = (self.clock.now_ms(), map);
        Ok(info)
    }

    /// The rules of one symbol (from the cache, refreshed hourly).
    pub async fn symbol_rules(&self, symbol: &str) -> Result<SymbolRules, VenueError> {
        {
            let g = self.symbols.lock().unwrap();
            if self.clock.now_ms() - g.0 < RULES_TTL_MS
                && let Some(r) = g.1.get(symbol)
            {
                return Ok(r.clone());
            }
        }
        self.exchange_info().await?;
        self.symbols
            .lock()
            .unwrap()
            .1
            .get(symbol)
            .cloned()
            .ok_or_else(|| VenueError::Rejected {
                venue: self.name.clone(),
                code: Some("-1121".into()),
                reason: format!("Invalid symbol. ({symbol} is not listed)"),
                kind: RejectKind::Other,
            })
    }

    /// Maker and taker fee rates of a symbol for this account (`GET /api/v3/account/commission`).
    pub async fn fees(&self, symbol: &str) -> Result<(Decimal, Decimal), VenueError> {
        if let Some(f) = self.fees.lock().unwrap().get(symbol) {
            return Ok(*f);
        }
        let c: AccountCommission = self
            .get_json(
                "/api/v3/account/commission",
                Params::new().with("symbol", symbol),
                true,
                20,
            )
            .await?;
        let mut maker = c.standard_commission.maker;
        let mut taker = c.standard_commission.taker;
        for extra in [&c.special_commission, &c.tax_commission]
            .into_iter()
            .flatten()
        {
            maker += extra.maker;
            taker += extra.taker;
        }
        self.fees
            .lock()
            .unwrap()
            .insert(symbol.to_string(), (maker, taker));
        Ok((maker, taker))
    }

    /// The reference price PERCENT_PRICE_BY_SIDE compares with (`GET /api/v3/avgPrice`, cached 10 s).
    async fn reference_price(&self, symbol: &str) -> Result<Decimal, VenueError> {
        let now = self.clock.now_ms();
        if let Some((p, at)) = self.reference.lock().unwrap().get(symbol)
            && now - at < REFERENCE_TTL_MS
        {
            return Ok(*p);
        }
        let a: AvgPrice = self
            .get_json(
                "/api/v3/avgPrice",
                Params::new().with("symbol", symbol),
                false,
                2,
            )
            .await?;
        self.reference
            .lock()
            .unwrap()
            .insert(symbol.to_string(), (a.price, now));
        Ok(a.price)
    }

    /// `GET /api/v3/account`.
    pub async fn account(&self) -> Result<Account, VenueError> {
        self.get_json(
            "/api/v3/account",
            Params::new().with("omitZeroBalances", "true"),
            true,
            20,
        )
        .await
    }

    // ----- orders ----------------------------------------------------------------------------------

    /// Check an order against the symbol's filters (and precision) before it is sent.
    async fn check_order(&self, rules: &SymbolRules, o: &OrderRequest) -> Result<(), VenueError> {
        let reject = |code: &str, reason: String| VenueError::Rejected {
            venue: self.name.clone(),
            code: Some(code.into()),
            reason,
            kind: RejectKind::Rules,
        };
        if rules.status != "TRADING" {
            return Err(VenueError::Rejected {
                venue: self.name.clone(),
                code: None,
                reason: format!("{} is not trading (status {})", rules.symbol, rules.status),
                kind: RejectKind::Other,
            });
        }
        rules
            .check_precision(o.price, o.qty)
            .map_err(|e| reject("-1111", e.to_string()))?;
        let needs_reference = rules
            .filters
            .iter()
            .any(|f| matches!(f, super::filters::Filter::PercentPriceBySide { .. }));
        let reference = if needs_reference {
            Some(self.reference_price(&o.market).await?)
        } else {
            None
        };
        rules
            .check(o.side, o.price, o.qty, reference, None)
            .map_err(|e| {
                reject(
                    "-1013",
                    format!("{e} ({}; checked before sending)", e.detail),
                )
            })
    }

    fn order_params(o: &OrderRequest) -> Params {
        let mut p = Params::new();
        p.push("symbol", &o.market)
            .push("side", side_str(o.side))
            .push(
                "type",
                if o.tif == TimeInForce::PostOnly {
                    "LIMIT_MAKER"
                } else {
                    "LIMIT"
                },
            );
        match o.tif {
            TimeInForce::Gtc => {
                p.push("timeInForce", "GTC");
            }
            TimeInForce::Ioc => {
                p.push("timeInForce", "IOC");
            }
            TimeInForce::PostOnly => {}
        }
        p.push("quantity", o.qty.normalize())
            .push("price", o.price.normalize());
        p
    }

    fn remember(&self, symbol: &str, order_id: u64, cid: Option<ClientOrderId>) {
        self.order_ids
            .lock()
            .unwrap()
            .insert((symbol.to_string(), order_id), cid);
    }

    fn to_status(&self, b: &OrderBody) -> Result<OrderStatus, VenueError> {
        let cid =
            ClientOrderId::parse(&b.client_order_id).ok_or_else(|| VenueError::Transport {
                venue: self.name.clone(),
                reason: format!(
                    "order {} has a foreign client id {:?}",
                    b.order_id, b.client_order_id
                ),
            })?;
        self.remember(&b.symbol, b.order_id, Some(cid.clone()));
        Ok(order_status(b, cid, self.server_now()))
    }

    async fn send_place(&self, o: &OrderRequest) -> Result<OrderStatus, Fail> {
        let mut p = Self::order_params(o);
        p.push("newClientOrderId", o.client_id.as_hex())
            .push("newOrderRespType", "FULL");
        let body = self
            .call(Method::POST, "/api/v3/order", p, true, 1, true)
            .await?;
        let b: OrderBody = self.decode(&body).map_err(Fail::Venue)?;
        self.to_status(&b).map_err(Fail::Venue)
    }

    /// After an unknown outcome: look the order up; if absent, wait until the request can no longer be
    /// accepted (its timestamp + recvWindow) and look again. `Ok(None)`: it was certainly never placed.
    async fn resolve(
        &self,
        market: &str,
        id: &ClientOrderId,
        sent_ts: Option<TimestampMs>,
    ) -> Result<Option<OrderStatus>, VenueError> {
        let unresolved = |e: VenueError| VenueError::UnknownOutcome {
            venue: self.name.clone(),
            reason: format!("could not look the order up by client id {id}: {e}"),
        };
        if let Some(s) = self.order_status(market, id).await.map_err(unresolved)? {
            return Ok(Some(s));
        }
        let deadline = sent_ts.unwrap_or_else(|| self.server_now())
            + self.settings.recv_window.as_millis() as i64
            + RESOLVE_MARGIN_MS;
        let wait = deadline - self.server_now();
        if wait > 0 {
            tracing::info!(venue = %self.name, client_id = %id, wait_ms = wait, "order not found yet; waiting out its recvWindow");
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
        self.order_status(market, id).await.map_err(unresolved)
    }

    /// Place with recovery: an unknown outcome is resolved by client id before anything is sent again.
    async fn place_resolving(&self, o: &OrderRequest) -> Result<OrderStatus, VenueError> {
        for attempt in 0..2 {
            match self.send_place(o).await {
                Ok(s) => return Ok(s),
                Err(Fail::Unknown { reason, sent_ts }) => {
                    tracing::warn!(venue = %self.name, client_id = %o.client_id, %reason, "order outcome unknown; resolving by client id");
                    if let Some(s) = self.resolve(&o.market, &o.client_id, sent_ts).await? {
                        return Ok(s);
                    }
                    tracing::info!(venue = %self.name, client_id = %o.client_id, attempt, "order was never placed; sending it again");
                }
                Err(f) => {
                    let e = self.map_fail(f);
                    if attempt > 0
                        && matches!(
                            e,
                            VenueError::Rejected {
                                kind: RejectKind::DuplicateClientId,
                                ..
                            }
                        )
                        && let Some(s) = self.order_status(&o.market, &o.client_id).await?
                    {
                        return Ok(s);
                    }
                    return Err(e);
                }
            }
        }
        Err(VenueError::Transport {
            venue: self.name.clone(),
            reason: format!(
                "order {} was not placed: two attempts ended without an answer and it is not on the venue",
                o.client_id
            ),
        })
    }

    async fn send_cancel(&self, market: &str, id: &ClientOrderId) -> Result<OrderStatus, Fail> {
        let p = Params::new()
            .with("symbol", market)
            .with("origClientOrderId", id.as_hex());
        let body = self
            .call(Method::DELETE, "/api/v3/order", p, true, 1, false)
            .await?;
        let b: OrderBody = self.decode(&body).map_err(Fail::Venue)?;
        // The cancel response's clientOrderId is the cancel request's own id; the order's is origClientOrderId.
        let cid = b
            .orig_client_order_id
            .as_deref()
            .and_then(ClientOrderId::parse)
            .unwrap_or_else(|| id.clone());
        self.remember(&b.symbol, b.order_id, Some(cid.clone()));
        Ok(order_status(&b, cid, self.server_now()))
    }

    /// Cancel, resolving an unknown outcome by looking the order up.
    async fn cancel_resolving(
        &self,
        market: &str,
        id: &ClientOrderId,
    ) -> Result<OrderStatus, VenueError> {
        for _ in 0..2 {
            match self.send_cancel(market, id).await {
                Ok(s) => return Ok(s),
                Err(Fail::Api { http, body }) if body.code == -2011 => {
                    // Not open: report its final state if the venue knows it.
                    return match self.order_status(market, id).await? {
                        Some(s) if s.state.is_final() => Ok(s),
                        _ => Err(map_error(&self.name, http, &body)),
                    };
                }
                Err(Fail::Unknown { reason, .. }) => {
                    tracing::warn!(venue = %self.name, client_id = %id, %reason, "cancel outcome unknown; looking the order up");
                    match self.order_status(market, id).await? {
                        Some(s) if s.state.is_final() => return Ok(s),
                        Some(_) => continue,
                        None => {
                            return Err(VenueError::Rejected {
                                venue: self.name.clone(),
                                code: Some("-2013".into()),
                                reason: format!("Order does not exist. ({id})"),
                                kind: RejectKind::UnknownOrder,
                            });
                        }
                    }
                }
                Err(f) => return Err(self.map_fail(f)),
            }
        }
        Err(VenueError::UnknownOutcome {
            venue: self.name.clone(),
            reason: format!("cancel of {id}: no answer twice and the order is still open"),
        })
    }

    /// Reduce a resting order to `qty` (`PUT /api/v3/order/amend/keepPriority`), keeping its client id.
    async fn amend(
        &self,
        market: &str,
        id: &ClientOrderId,
        qty: Decimal,
    ) -> Result<OrderStatus, VenueError> {
        let p = Params::new()
            .with("symbol", market)
            .with("origClientOrderId", id.as_hex())
            .with("newClientOrderId", id.as_hex())
            .with("newQty", qty.normalize());
        let body = self
            .call(
                Method::PUT,
                "/api/v3/order/amend/keepPriority",
                p,
                true,
                4,
                false,
            )
            .await
            .map_err(|f| self.map_fail(f))?;
        let a: AmendBody = self.decode(&body)?;
        self.to_status(&a.amended_order)
    }

    /// `POST /api/v3/order/cancelReplace` (STOP_ON_FAILURE). Returns (old order's cancel response, new order).
    async fn cancel_replace(
        &self,
        old: &ClientOrderId,
        new: &OrderRequest,
    ) -> Result<(OrderBody, OrderStatus), VenueError> {
        let mut p = Self::order_params(new);
        p.push("cancelReplaceMode", "STOP_ON_FAILURE")
            .push("cancelOrigClientOrderId", old.as_hex())
            .push("newClientOrderId", new.client_id.as_hex())
            .push("newOrderRespType", "FULL");
        match self
            .call(
                Method::POST,
                "/api/v3/order/cancelReplace",
                p,
                true,
                1,
                true,
            )
            .await
        {
            Ok(body) => {
                let r: CancelReplaceBody = self.decode(&body)?;
                let cancel: OrderBody = r
                    .cancel_response
                    .and_then(|v| serde_json::from_value(v).ok())
                    .ok_or_else(|| {
                        (self.venue_err())("cancelReplace without a cancelResponse".into())
                    })?;
                let placed: OrderBody = r
                    .new_order_response
                    .and_then(|v| serde_json::from_value(v).ok())
                    .ok_or_else(|| {
                        (self.venue_err())("cancelReplace without a newOrderResponse".into())
                    })?;
                Ok((cancel, self.to_status(&placed)?))
            }
            Err(Fail::Api { http, body }) if body.code == -2021 || body.code == -2022 => {
                let data: Option<CancelReplaceBody> = body
                    .data
                    .clone()
                    .and_then(|v| serde_json::from_value(v).ok());
                let part = |v: Option<serde_json::Value>| {
                    v.and_then(|v| serde_json::from_value::<ErrorBody>(v).ok())
                };
                if body.code == -2022 {
                    // The cancel failed: nothing happened.
                    let inner = data.and_then(|d| part(d.cancel_response));
                    let mut e = map_error(&self.name, http, inner.as_ref().unwrap_or(&body));
                    if let VenueError::Rejected { reason, .. } = &mut e {
                        *reason = format!(
                            "{reason} (cancel-replace failed: old order {old} not cancelled, nothing placed)"
                        );
                    }
                    return Err(e);
                }
                // -2021: the old order was cancelled, the new one failed.
                let inner = data.and_then(|d| part(d.new_order_response));
                let mut e = map_error(&self.name, http, inner.as_ref().unwrap_or(&body));
                match &mut e {
                    VenueError::Rejected { reason, .. }
                    | VenueError::InsufficientBalance { reason, .. }
                    | VenueError::RateLimited { reason, .. } => {
                        *reason = format!(
                            "{reason} (cancel-replace partially failed: old order {old} cancelled, new order not placed)"
                        );
                    }
                    _ => {}
                }
                Err(e)
            }
            Err(Fail::Unknown { reason, sent_ts }) => {
                tracing::warn!(venue = %self.name, old = %old, new = %new.client_id, %reason, "cancel-replace outcome unknown; resolving");
                let placed = self.resolve(&new.market, &new.client_id, sent_ts).await?;
                let old_status = self.order_status(&new.market, old).await?;
                match (placed, old_status) {
                    (Some(placed), Some(o)) => Ok((status_as_body(&o), placed)),
                    (None, Some(o)) if o.state == OrderState::Open => Err(VenueError::Transport {
                        venue: self.name.clone(),
                        reason: format!("cancel-replace of {old} did not happen ({reason})"),
                    }),
                    (None, _) => Err(VenueError::Rejected {
                        venue: self.name.clone(),
                        code: Some("-2021".into()),
                        reason: format!(
                            "old order {old} is no longer open and the new order was not placed ({reason})"
                        ),
                        kind: RejectKind::UnknownOrder,
                    }),
                    (Some(_), None) => Err(VenueError::UnknownOutcome {
                        venue: self.name.clone(),
                        reason: format!("new order placed but old order {old} unknown"),
                    }),
                }
            }
            Err(f) => Err(self.map_fail(f)),
        }
    }

    /// Bring the new order of a replace down by what the old one filled beyond `old_known_filled`: by an
    /// amend when the symbol allows it, else by cancel-replacing it (under ids derived from the new one)
    /// until no unseen fill is left.
    async fn reduce_after_replace(
        &self,
        rules: &SymbolRules,
        placed: OrderStatus,
        new: &OrderRequest,
        extra: Decimal,
    ) -> Result<OrderStatus, VenueError> {
        let mr = rules.market_rules(Decimal::ZERO, Decimal::ZERO);
        // What the live order may total, its own fills included.
        let mut budget = mr.round_qty((new.qty - extra).max(Decimal::ZERO));
        let mut current = placed;
        tracing::info!(venue = %self.name, client_id = %new.client_id, %extra, %budget, "old order filled more than known; reducing the new order");
        for seq in 1..=3u32 {
            if current.state.is_final() {
                return Ok(current);
            }
            let rest = mr.round_qty((budget - current.filled).max(Decimal::ZERO));
            if rest.is_zero() || mr.check(new.price, rest).is_err() {
                // Nothing placeable is left: stop the order where it is.
                return self.cancel_resolving(&new.market, &current.client_id).await;
            }
            if rules.amend_allowed {
                return self.amend(&new.market, &current.client_id, budget).await;
            }
            let next = OrderRequest {
                qty: rest,
                client_id: ClientOrderId::derive(new.client_id.as_hex(), seq),
                ..new.clone()
            };
            let (cancelled, replaced) = self.cancel_replace(&current.client_id, &next).await?;
            let unseen = cancelled.executed_qty.unwrap_or_default() - current.filled;
            if unseen <= Decimal::ZERO {
                return Ok(replaced);
            }
            budget = mr.round_qty((rest - unseen).max(Decimal::ZERO));
            current = replaced;
        }
        Err(VenueError::UnknownOutcome {
            venue: self.name.clone(),
            reason: format!(
                "order {} kept filling while being reduced; check it by client id",
                current.client_id
            ),
        })
    }

    /// Label a trade with our client id (looked up by orderId once, then cached).
    async fn client_id_of(&self, symbol: &str, order_id: u64) -> Option<ClientOrderId> {
        if let Some(c) = self
            .order_ids
            .lock()
            .unwrap()
            .get(&(symbol.to_string(), order_id))
        {
            return c.clone();
        }
        let p = Params::new()
            .with("symbol", symbol)
            .with("orderId", order_id);
        let b: Option<OrderBody> = self.get_json("/api/v3/order", p, true, 4).await.ok();
        let cid = b.and_then(|b| ClientOrderId::parse(&b.client_order_id));
        self.remember(symbol, order_id, cid.clone());
        cid
    }

    /// Symbols to read per-symbol endpoints on: the configured ones, else those exchangeInfo listed.
    async fn symbols_of_interest(&self) -> Result<Vec<String>, VenueError> {
        if !self.settings.markets.is_empty() {
            return Ok(self.settings.markets.clone());
        }
        if self.symbols.lock().unwrap().1.is_empty() {
            self.exchange_info().await?;
        }
        let mut v: Vec<String> = self.symbols.lock().unwrap().1.keys().cloned().collect();
        v.sort();
        Ok(v)
    }
}

pub(crate) fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// Binance order object -> the venue interface's status.
pub fn order_status(b: &OrderBody, cid: ClientOrderId, now: TimestampMs) -> OrderStatus {
    let filled = b.executed_qty.unwrap_or_default();
    let state = match b.status.as_deref() {
        Some("FILLED") => OrderState::Filled,
        Some("CANCELED") | Some("EXPIRED") | Some("EXPIRED_IN_MATCH") => OrderState::Canceled,
        Some("REJECTED") => OrderState::Rejected("REJECTED by the matching engine".into()),
        _ => OrderState::Open,
    };
    let avg_price = match (b.cummulative_quote_qty, filled.is_zero()) {
        (Some(q), false) => Some((q / filled).normalize()),
        _ => None,
    };
    OrderStatus {
        client_id: cid,
        venue_order_id: b.order_id.to_string(),
        market: b.symbol.clone(),
        side: if b.side.as_deref() == Some("SELL") {
            Side::Sell
        } else {
            Side::Buy
        },
        price: b.price.unwrap_or_default().normalize(),
        qty: b.orig_qty.unwrap_or_default().normalize(),
        filled: filled.normalize(),
        avg_price,
        state,
        updated_ms: b
            .update_time
            .or(b.transact_time)
            .or(b.working_time)
            .unwrap_or(now),
    }
}

fn status_as_body(s: &OrderStatus) -> OrderBody {
    OrderBody {
        symbol: s.market.clone(),
        order_id: s.venue_order_id.parse().unwrap_or_default(),
        order_list_id: -1,
        client_order_id: s.client_id.as_hex().to_string(),
        executed_qty: Some(s.filled),
        orig_qty: Some(s.qty),
        price: Some(s.price),
        ..Default::default()
    }
}

#[async_trait]
impl Venue for BinanceClient {
    fn name(&self) -> &str {
        &self.name
    }

    async fn markets(&self) -> Result<Vec<MarketRules>, VenueError> {
        let info = self.exchange_info().await?;
        let mut out = Vec::new();
        for s in &info.symbols {
            let (maker, taker) = self.fees(&s.symbol).await?;
            out.push(SymbolRules::from_info(s).market_rules(maker, taker));
        }
        for m in &self.settings.markets {
            if !out.iter().any(|r| &r.market == m) {
                return Err(VenueError::Rejected {
                    venue: self.name.clone(),
                    code: Some("-1121".into()),
                    reason: format!("Invalid symbol. (configured market {m} is not listed)"),
                    kind: RejectKind::Other,
                });
            }
        }
        Ok(out)
    }

    async fn balances(&self) -> Result<Vec<Balance>, VenueError> {
        let a = self.account().await?;
        Ok(a.balances
            .into_iter()
            .map(|b| Balance {
                asset: b.asset,
                total: b.free + b.locked,
                held: b.locked,
            })
            .collect())
    }

    async fn depth(&self, market: &str, levels: usize) -> Result<Depth, VenueError> {
        let limit = levels.clamp(1, 5000);
        let weight = match limit {
            0..=100 => 5,
            101..=500 => 25,
            501..=1000 => 50,
            _ => 250,
        };
        let d: DepthBody = self
            .get_json(
                "/api/v3/depth",
                Params::new().with("symbol", market).with("limit", limit),
                false,
                weight,
            )
            .await?;
        let lv = |v: Vec<(Decimal, Decimal)>| {
            v.into_iter()
                .take(levels)
                .map(|(price, qty)| Level {
                    price: price.normalize(),
                    qty: qty.normalize(),
                })
                .collect()
        };
        Ok(Depth {
            bids: lv(d.bids),
            asks: lv(d.asks),
            ts: self.server_now(),
        })
    }

    async fn place(&self, order: &OrderRequest) -> Result<OrderStatus, VenueError> {
        let rules = self.symbol_rules(&order.market).await?;
        self.check_order(&rules, order).await?;
        self.place_resolving(order).await
    }

    async fn replace(
        &self,
        old: &ClientOrderId,
        old_known_filled: Decimal,
        new: &OrderRequest,
    ) -> Result<OrderStatus, VenueError> {
        let rules = self.symbol_rules(&new.market).await?;
        self.check_order(&rules, new).await?;
        if !rules.cancel_replace_allowed {
            // Cancel first, so the new size already accounts for whatever the old order filled.
            let c = self.cancel_resolving(&new.market, old).await?;
            if c.state == OrderState::Filled {
                return Err(VenueError::Rejected {
                    venue: self.name.clone(),
                    code: Some("-2011".into()),
                    reason: format!(
                        "Unknown order sent. (old order {old} filled before the replace)"
                    ),
                    kind: RejectKind::UnknownOrder,
                });
            }
            let extra = (c.filled - old_known_filled).max(Decimal::ZERO);
            let mr = rules.market_rules(Decimal::ZERO, Decimal::ZERO);
            let qty = mr.round_qty(new.qty - extra);
            if mr.check(new.price, qty).is_err() {
                return Err(VenueError::Rejected {
                    venue: self.name.clone(),
                    code: None,
                    reason: format!(
                        "old order {old} cancelled after filling {extra} more than known; the rest ({qty}) is below the market minimum, nothing placed"
                    ),
                    kind: RejectKind::Rules,
                });
            }
            return self
                .place_resolving(&OrderRequest { qty, ..new.clone() })
                .await;
        }
        let (cancelled, placed) = self.cancel_replace(old, new).await?;
        let extra = cancelled.executed_qty.unwrap_or_default() - old_known_filled;
        if extra > Decimal::ZERO {
            return self.reduce_after_replace(&rules, placed, new, extra).await;
        }
        Ok(placed)
    }

    async fn cancel(&self, market: &str, id: &ClientOrderId) -> Result<OrderStatus, VenueError> {
        self.cancel_resolving(market, id).await
    }

    async fn order_status(
        &self,
        market: &str,
        id: &ClientOrderId,
    ) -> Result<Option<OrderStatus>, VenueError> {
        let p = Params::new()
            .with("symbol", market)
            .with("origClientOrderId", id.as_hex());
        match self
            .call(Method::GET, "/api/v3/order", p, true, 4, false)
            .await
        {
            Ok(body) => {
                let b: OrderBody = self.decode(&body)?;
                self.to_status(&b).map(Some)
            }
            Err(Fail::Api { body, .. }) if body.code == -2013 => Ok(None),
            Err(f) => Err(self.map_fail(f)),
        }
    }

    async fn open_orders(&self, market: Option<&str>) -> Result<Vec<OrderStatus>, VenueError> {
        let symbols = match market {
            Some(m) => vec![m.to_string()],
            None => self.symbols_of_interest().await?,
        };
        let mut out = Vec::new();
        for s in symbols {
            let list: Vec<OrderBody> = self
                .get_json(
                    "/api/v3/openOrders",
                    Params::new().with("symbol", &s),
                    true,
                    6,
                )
                .await?;
            for b in &list {
                // Orders ballast did not place (other client ids) are not ours to manage.
                if let Some(cid) = ClientOrderId::parse(&b.client_order_id) {
                    self.remember(&b.symbol, b.order_id, Some(cid.clone()));
                    out.push(order_status(b, cid, self.server_now()));
                }
            }
        }
        Ok(out)
    }

    async fn fills_since(&self, since: TimestampMs) -> Result<Vec<Fill>, VenueError> {
        let mut out = Vec::new();
        for s in self.symbols_of_interest().await? {
            let mut p = Params::new()
                .with("symbol", &s)
                .with("startTime", since)
                .with("limit", 1000);
            loop {
                let trades: Vec<TradeBody> = self.get_json("/api/v3/myTrades", p, true, 20).await?;
                let n = trades.len();
                let last = trades.last().map(|t| t.id);
                for t in trades {
                    if t.time < since {
                        continue;
                    }
                    let client_id = self.client_id_of(&t.symbol, t.order_id).await;
                    out.push(Fill {
                        trade_id: format!("{}:{}", t.symbol, t.id),
                        client_id,
                        venue_order_id: t.order_id.to_string(),
                        market: t.symbol.clone(),
                        side: if t.is_buyer { Side::Buy } else { Side::Sell },
                        price: t.price.normalize(),
                        qty: t.qty.normalize(),
                        fee: t.commission.normalize(),
                        fee_asset: t.commission_asset,
                        liquidity: if t.is_maker {
                            Liquidity::Maker
                        } else {
                            Liquidity::Taker
                        },
                        ts: t.time,
                    });
                }
                match last {
                    Some(id) if n >= 1000 => {
                        p = Params::new()
                            .with("symbol", &s)
                            .with("fromId", id + 1)
                            .with("limit", 1000);
                    }
                    _ => break,
                }
            }
        }
        out.sort_by_key(|f| f.ts);
        Ok(out)
    }

    fn headroom(&self) -> RateHeadroom {
        let now = self.server_now();
        self.limits.lock().unwrap().headroom(now)
    }

    async fn deposit_address(&self, asset: &str, network: &str) -> Result<String, VenueError> {
        self.wallet_deposit_address(asset, network).await
    }

    async fn withdraw(&self, req: &WithdrawRequest) -> Result<String, VenueError> {
        self.wallet_withdraw(req).await
    }

    async fn transfers_since(&self, since: TimestampMs) -> Result<Vec<TransferStatus>, VenueError> {
        self.wallet_transfers_since(since).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_objects_map_to_statuses() {
        let b: OrderBody = serde_json::from_str(
            r#"{"symbol":"USDCUSDT","orderId":7,"orderListId":-1,"clientOrderId":"00000000000000000000000000000001",
               "price":"1.00010000","origQty":"100.00000000","executedQty":"40.00000000","cummulativeQuoteQty":"40.00400000",
               "status":"PARTIALLY_FILLED","timeInForce":"GTC","type":"LIMIT","side":"SELL","updateTime":5}"#,
        )
        .unwrap();
        let cid = ClientOrderId::parse(&b.client_order_id).unwrap();
        let s = order_status(&b, cid, 0);
        assert_eq!(s.state, OrderState::Open);
        assert_eq!(s.side, Side::Sell);
        assert_eq!(s.remaining(), Decimal::from(60));
        assert_eq!(s.avg_price, Some(Decimal::new(10001, 4)));
        assert_eq!(s.updated_ms, 5);
    }
}
