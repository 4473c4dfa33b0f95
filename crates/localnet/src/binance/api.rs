//! The endpoints of the local Binance server: routing, weights, parameter validation with Binance's error
//! codes, and the answers.

use std::str::FromStr;

use axum::http::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::engine::{OrderKind, PlaceReq, RespType, err};
use super::faults::FaultKind;
use super::{ApiError, Caller, Params, Shared, mandatory, rate_limits};
use ballast_core::model::{Side, TimestampMs};
use ballast_exec::TimeInForce;
use ballast_venue_binance::filters::fixed;
use ballast_venue_binance::wire::{AvgPrice, CancelReplaceBody, ExchangeInfo, ServerTime};

/// Every route the server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ep {
    Ping,
    Time,
    ExchangeInfo,
    Depth,
    AvgPrice,
    BookTicker,
    Account,
    Commission,
    MyTrades,
    OrderNew,
    OrderTest,
    OrderCancel,
    OrderGet,
    OpenOrders,
    CancelAll,
    CancelReplace,
    Amend,
    RateLimitOrder,
    CoinsAll,
    DepositAddress,
    DepositHistory,
    WithdrawApply,
    WithdrawHistory,
}

pub(crate) fn route(m: &Method, path: &str) -> Option<Ep> {
    use Ep::*;
    Some(match (m.as_str(), path) {
        ("GET", "/api/v3/ping") => Ping,
        ("GET", "/api/v3/time") => Time,
        ("GET", "/api/v3/exchangeInfo") => ExchangeInfo,
        ("GET", "/api/v3/depth") => Depth,
        ("GET", "/api/v3/avgPrice") => AvgPrice,
        ("GET", "/api/v3/ticker/bookTicker") => BookTicker,
        ("GET", "/api/v3/account") => Account,
        ("GET", "/api/v3/account/commission") => Commission,
        ("GET", "/api/v3/myTrades") => MyTrades,
        ("POST", "/api/v3/order") => OrderNew,
        ("POST", "/api/v3/order/test") => OrderTest,
        ("DELETE", "/api/v3/order") => OrderCancel,
        ("GET", "/api/v3/order") => OrderGet,
        ("GET", "/api/v3/openOrders") => OpenOrders,
        ("DELETE", "/api/v3/openOrders") => CancelAll,
        ("POST", "/api/v3/order/cancelReplace") => CancelReplace,
        ("PUT", "/api/v3/order/amend/keepPriority") => Amend,
        ("GET", "/api/v3/rateLimit/order") => RateLimitOrder,
        ("GET", "/sapi/v1/capital/config/getall") => CoinsAll,
        ("GET", "/sapi/v1/capital/deposit/address") => DepositAddress,
        ("GET", "/sapi/v1/capital/deposit/hisrec") => DepositHistory,
        ("POST", "/sapi/v1/capital/withdraw/apply") => WithdrawApply,
        ("GET", "/sapi/v1/capital/withdraw/history") => WithdrawHistory,
        _ => return None,
    })
}

impl Ep {
    pub(crate) fn signed(self) -> bool {
        !matches!(
            self,
            Ep::Ping | Ep::Time | Ep::ExchangeInfo | Ep::Depth | Ep::AvgPrice | Ep::BookTicker
        )
    }

    pub(crate) fn is_sapi(self) -> bool {
        matches!(
            self,
            Ep::CoinsAll
                | Ep::DepositAddress
                | Ep::DepositHistory
                | Ep::WithdrawApply
                | Ep::WithdrawHistory
        )
    }

    /// Counts against the account's order limits.
    pub(crate) fn places_order(self) -> bool {
        matches!(self, Ep::OrderNew | Ep::CancelReplace)
    }

    /// Request weight (IP weight for SAPI).
    pub(crate) fn weight(self, p: &Params) -> u64 {
        match self {
            Ep::Ping | Ep::Time => 1,
            Ep::ExchangeInfo => 20,
            Ep::Depth => match p
                .get("limit")
                .and_then(|l| l.parse::<u64>().ok())
                .unwrap_or(100)
            {
                0..=100 => 5,
                101..=500 => 25,
                501..=1000 => 50,
                _ => 250,
            },
            Ep::AvgPrice => 2,
            Ep::BookTicker => {
                if p.get("symbol").is_some() {
                    2
                } else {
                    4
                }
            }
            Ep::Account | Ep::Commission | Ep::MyTrades => 20,
            Ep::OrderNew | Ep::OrderTest | Ep::OrderCancel | Ep::CancelAll | Ep::CancelReplace => 1,
            Ep::OrderGet | Ep::Amend => 4,
            Ep::OpenOrders => {
                if p.get("symbol").is_some() {
                    6
                } else {
                    80
                }
            }
            Ep::RateLimitOrder => 40,
            Ep::CoinsAll | Ep::DepositAddress => 10,
            Ep::DepositHistory => 1,
            Ep::WithdrawApply | Ep::WithdrawHistory => 0,
        }
    }

    /// SAPI UID weight.
    pub(crate) fn uid_weight(self) -> u64 {
        match self {
            Ep::WithdrawApply => 900,
            Ep::WithdrawHistory => 18_000,
            _ => 0,
        }
    }
}

fn to_value<T: serde::Serialize>(x: &T) -> Value {
    serde_json::to_value(x).unwrap_or(Value::Null)
}

fn symbol(p: &Params) -> Result<&str, ApiError> {
    p.get("symbol").ok_or_else(|| mandatory("symbol"))
}

fn decimal(p: &Params, name: &str) -> Result<Option<Decimal>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(s) => {
            let ok = !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && s.matches('.').count() <= 1;
            match (ok, Decimal::from_str(s)) {
                (true, Ok(d)) => Ok(Some(d)),
                _ => Err(err(
                    400,
                    -1100,
                    format!(
                        "Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."
                    ),
                )),
            }
        }
    }
}

fn int<T: FromStr>(p: &Params, name: &str) -> Result<Option<T>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(s) => s.parse::<T>().map(Some).map_err(|_| {
            err(
                400,
                -1100,
                format!("Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."),
            )
        }),
    }
}

fn client_id(p: &Params, name: &str) -> Result<Option<String>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(s) => {
            if s.len() <= 36
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                Ok(Some(s.to_string()))
            } else {
                Err(err(
                    400,
                    -1100,
                    format!(
                        "Illegal characters found in parameter '{name}'; legal range is '^[a-zA-Z0-9-_]{{1,36}}$'."
                    ),
                ))
            }
        }
    }
}

/// Validate the new-order fields (shared by order, order/test and cancelReplace).
fn new_order(p: &Params, client_key: &str) -> Result<(PlaceReq, RespType), ApiError> {
    let symbol = symbol(p)?.to_string();
    let side = match p.get("side").ok_or_else(|| mandatory("side"))? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(err(400, -1117, "Invalid side.")),
    };
    let kind = match p.get("type").ok_or_else(|| mandatory("type"))? {
        "LIMIT" => OrderKind::Limit,
        "LIMIT_MAKER" => OrderKind::LimitMaker,
        "MARKET" => OrderKind::Market,
        "STOP_LOSS" | "STOP_LOSS_LIMIT" | "TAKE_PROFIT" | "TAKE_PROFIT_LIMIT" => {
            return Err(err(
                400,
                -1013,
                "Stop orders are not supported for this symbol.",
            ));
        }
        _ => return Err(err(400, -1116, "Invalid orderType.")),
    };
    let tif = match (kind, p.get("timeInForce")) {
        (OrderKind::Limit, None) => return Err(mandatory("timeInForce")),
        (OrderKind::Limit, Some("GTC")) => TimeInForce::Gtc,
        (OrderKind::Limit, Some("IOC")) => TimeInForce::Ioc,
        (OrderKind::Limit, Some("FOK")) => {
            return Err(err(
                400,
                -1115,
                "Invalid timeInForce. (FOK is not supported by the local server)",
            ));
        }
        (OrderKind::Limit, Some(_)) => return Err(err(400, -1115, "Invalid timeInForce.")),
        (OrderKind::LimitMaker | OrderKind::Market, Some(_)) => {
            return Err(err(
                400,
                -1106,
                "Parameter 'timeInForce' sent when not required.",
            ));
        }
        (OrderKind::LimitMaker, None) => TimeInForce::PostOnly,
        (OrderKind::Market, None) => TimeInForce::Ioc,
    };
    let qty = decimal(p, "quantity")?;
    let price = decimal(p, "price")?;
    if kind == OrderKind::Market {
        if p.get("quoteOrderQty").is_some() {
            return Err(err(
                400,
                -1013,
                "quoteOrderQty is not supported by the local server.",
            ));
        }
        if price.is_some() {
            return Err(err(400, -1106, "Parameter 'price' sent when not required."));
        }
    } else if price.is_none() {
        return Err(mandatory("price"));
    }
    let qty = qty.ok_or_else(|| mandatory("quantity"))?;
    let resp = match p.get("newOrderRespType") {
        Some("ACK") => RespType::Ack,
        Some("RESULT") => RespType::Result,
        Some("FULL") => RespType::Full,
        Some(_) => {
            return Err(err(
                400,
                -1100,
                "Illegal characters found in parameter 'newOrderRespType'; legal range is 'ACK, RESULT, FULL'.",
            ));
        }
        // LIMIT and MARKET default to FULL, the others to ACK.
        None if kind == OrderKind::LimitMaker => RespType::Ack,
        None => RespType::Full,
    };
    Ok((
        PlaceReq {
            symbol,
            side,
            kind,
            price,
            qty,
            tif,
            client_id: client_id(p, client_key)?,
        },
        resp,
    ))
}

fn need_trade(c: &Caller) -> Result<(), ApiError> {
    if c.can_trade {
        Ok(())
    } else {
        Err(err(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ))
    }
}

pub(crate) fn dispatch(
    sh: &Shared,
    ep: Ep,
    p: &Params,
    caller: Option<&Caller>,
    now: TimestampMs,
) -> Result<Value, ApiError> {
    let mut e = sh.engine.lock().unwrap();
    e.advance(now);
    let account = caller.map(|c| c.account.as_str()).unwrap_or("");
    match ep {
        Ep::Ping => Ok(json!({})),
        Ep::Time => Ok(to_value(&ServerTime { server_time: now })),
        Ep::ExchangeInfo => {
            let wanted: Vec<String> = match (p.get("symbol"), p.get("symbols")) {
                (Some(s), _) => vec![s.to_string()],
                (None, Some(list)) => serde_json::from_str::<Vec<String>>(list).map_err(|_| {
                    err(400, -1100, "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.")
                })?,
                (None, None) => e.symbol_names(),
            };
            let mut symbols = Vec::new();
            for s in &wanted {
                symbols.push(
                    e.symbol_info(s)
                        .ok_or_else(|| err(400, -1121, "Invalid symbol."))?,
                );
            }
            Ok(to_value(&ExchangeInfo {
                timezone: "UTC".into(),
                server_time: now,
                rate_limits: rate_limits(sh),
                exchange_filters: Vec::new(),
                symbols,
            }))
        }
        Ep::Depth => {
            let s = symbol(p)?;
            let limit: usize = int(p, "limit")?.unwrap_or(100);
            if limit == 0 {
                return Err(err(
                    400,
                    -1100,
                    "Illegal characters found in parameter 'limit'; legal range is '1-5000'.",
                ));
            }
            Ok(to_value(&e.depth(s, limit.min(5000))?))
        }
        Ep::AvgPrice => {
            let s = symbol(p)?;
            let r = e.rules(s)?;
            let qp = r.quote_precision;
            let price = e.reference_price(s).unwrap_or_default();
            Ok(to_value(&AvgPrice {
                mins: 5,
                price: fixed(price, qp),
                close_time: now,
            }))
        }
        Ep::BookTicker => {
            let names = match p.get("symbol") {
                Some(s) => vec![s.to_string()],
                None => e.symbol_names(),
            };
            let mut out = Vec::new();
            for s in &names {
                let d = e.depth(s, 1)?;
                let z = (fixed(Decimal::ZERO, 8), fixed(Decimal::ZERO, 8));
                let (bp, bq) = d.bids.first().copied().unwrap_or(z);
                let (ap, aq) = d.asks.first().copied().unwrap_or(z);
                out.push(json!({"symbol": s, "bidPrice": bp, "bidQty": bq, "askPrice": ap, "askQty": aq}));
            }
            Ok(if p.get("symbol").is_some() {
                out.pop().unwrap_or(Value::Null)
            } else {
                Value::Array(out)
            })
        }
        Ep::Account => {
            let c = caller.expect("signed");
            let omit = p.get("omitZeroBalances") == Some("true");
            Ok(to_value(&e.account(
                account,
                omit,
                c.can_trade,
                c.can_withdraw,
                now,
            )?))
        }
        Ep::Commission => Ok(to_value(&e.commission(symbol(p)?)?)),
        Ep::MyTrades => {
            let s = symbol(p)?;
            let limit: usize = int(p, "limit")?.unwrap_or(500).clamp(1, 1000);
            let start: Option<i64> = int(p, "startTime")?;
            let end: Option<i64> = int(p, "endTime")?;
            if let (Some(a), Some(b)) = (start, end)
                && b - a > 86_400_000
            {
                return Err(err(
                    400,
                    -1127,
                    "More than 24 hours between startTime and endTime.",
                ));
            }
            Ok(to_value(&e.trades(
                account,
                s,
                int(p, "orderId")?,
                int(p, "fromId")?,
                start,
                end,
                limit,
            )?))
        }
        Ep::OrderNew => {
            need_trade(caller.expect("signed"))?;
            let (req, resp) = new_order(p, "newClientOrderId")?;
            let (o, fills) = e.place(account, req, now)?;
            let mut b = e.order_body(&o, resp, &fills);
            b.transact_time = Some(now);
            Ok(to_value(&b))
        }
        Ep::OrderTest => {
            need_trade(caller.expect("signed"))?;
            let (req, _) = new_order(p, "newClientOrderId")?;
            let price = req.price.unwrap_or(Decimal::ONE);
            e.check_filters(account, &req, price)?;
            Ok(json!({}))
        }
        Ep::OrderCancel => {
            let s = symbol(p)?.to_string();
            let oid: Option<u64> = int(p, "orderId")?;
            let cid = p.get("origClientOrderId").map(str::to_string);
            if oid.is_none() && cid.is_none() {
                return Err(err(
                    400,
                    -1102,
                    "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
                ));
            }
            let new_cid = client_id(p, "newClientOrderId")?;
            let o = e.cancel(account, &s, oid, cid.as_deref(), now)?;
            Ok(to_value(&cancel_body(&e, &o, new_cid, now)))
        }
        Ep::OrderGet => {
            let s = symbol(p)?.to_string();
            let oid: Option<u64> = int(p, "orderId")?;
            let cid = p.get("origClientOrderId").map(str::to_string);
            let o = e
                .find(account, &s, oid, cid.as_deref())?
                .ok_or_else(|| err(400, -2013, "Order does not exist."))?;
            Ok(to_value(&e.query_body(&o)))
        }
        Ep::OpenOrders => {
            let list = e.open_orders(account, p.get("symbol"))?;
            Ok(Value::Array(
                list.iter().map(|o| to_value(&e.query_body(o))).collect(),
            ))
        }
        Ep::CancelAll => {
            let s = symbol(p)?.to_string();
            let list = e.cancel_all(account, &s, now)?;
            if list.is_empty() {
                return Err(err(400, -2011, "Unknown order sent."));
            }
            Ok(Value::Array(
                list.iter()
                    .map(|o| to_value(&cancel_body(&e, o, None, now)))
                    .collect(),
            ))
        }
        Ep::CancelReplace => {
            need_trade(caller.expect("signed"))?;
            let s = symbol(p)?.to_string();
            if !e
                .symbol_info(&s)
                .ok_or_else(|| err(400, -1121, "Invalid symbol."))?
                .cancel_replace_allowed
            {
                return Err(err(400, -1020, "This operation is not supported."));
            }
            let allow_failure = match p
                .get("cancelReplaceMode")
                .ok_or_else(|| mandatory("cancelReplaceMode"))?
            {
                "STOP_ON_FAILURE" => false,
                "ALLOW_FAILURE" => true,
                _ => {
                    return Err(err(
                        400,
                        -1100,
                        "Illegal characters found in parameter 'cancelReplaceMode'; legal range is 'STOP_ON_FAILURE, ALLOW_FAILURE'.",
                    ));
                }
            };
            let oid: Option<u64> = int(p, "cancelOrderId")?;
            let cid = p.get("cancelOrigClientOrderId").map(str::to_string);
            if oid.is_none() && cid.is_none() {
                return Err(err(
                    400,
                    -1102,
                    "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!",
                ));
            }
            let cancel_new = client_id(p, "cancelNewClientOrderId")?;
            let (req, resp) = new_order(p, "newClientOrderId")?;
            let cancelled = e.cancel(account, &s, oid, cid.as_deref(), now);
            let err_value = |x: &ApiError| json!({"code": x.code, "msg": x.msg});
            let cancel_value = match &cancelled {
                Ok(o) => to_value(&cancel_body(&e, o, cancel_new, now)),
                Err(x) => err_value(x),
            };
            if cancelled.is_err() && !allow_failure {
                return Err(ApiError {
                    http: 400,
                    code: -2022,
                    msg: "Order cancel-replace failed.".into(),
                    data: Some(to_value(&CancelReplaceBody {
                        cancel_result: "FAILURE".into(),
                        new_order_result: "NOT_ATTEMPTED".into(),
                        cancel_response: Some(cancel_value),
                        new_order_response: None,
                    })),
                });
            }
            let placed = e.place(account, req, now).map(|(o, fills)| {
                let mut b = e.order_body(&o, resp, &fills);
                b.transact_time = Some(now);
                to_value(&b)
            });
            let result = |r: bool| if r { "SUCCESS" } else { "FAILURE" };
            let body = CancelReplaceBody {
                cancel_result: result(cancelled.is_ok()).into(),
                new_order_result: result(placed.is_ok()).into(),
                cancel_response: Some(cancel_value),
                new_order_response: Some(match &placed {
                    Ok(v) => v.clone(),
                    Err(x) => err_value(x),
                }),
            };
            match (cancelled.is_ok(), placed.is_ok()) {
                (true, true) => Ok(to_value(&body)),
                (false, false) => Err(ApiError {
                    http: 400,
                    code: -2022,
                    msg: "Order cancel-replace failed.".into(),
                    data: Some(to_value(&body)),
                }),
                _ => Err(ApiError {
                    http: 409,
                    code: -2021,
                    msg: "Order cancel-replace partially failed.".into(),
                    data: Some(to_value(&body)),
                }),
            }
        }
        Ep::Amend => Err(err(400, -1020, "This operation is not supported.")),
        Ep::RateLimitOrder => {
            drop(e);
            let mut l = sh.limits.lock().unwrap();
            let (l10, l1d) = (l.cfg.orders_per_10s, l.cfg.orders_per_day);
            let a = l.account(account);
            Ok(json!([
                {"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":l10,"count":a.orders_10s.used(now)},
                {"rateLimitType":"ORDERS","interval":"DAY","intervalNum":1,"limit":l1d,"count":a.orders_1d.used(now)}
            ]))
        }
        Ep::CoinsAll => Ok(to_value(&e.coins(account)?)),
        Ep::DepositAddress => {
            let coin = p.get("coin").ok_or_else(|| mandatory("coin"))?;
            let (address, _) = e.deposit_address(account, coin, p.get("network"))?;
            Ok(json!({"address": address, "coin": coin, "tag": "", "url": ""}))
        }
        Ep::DepositHistory => {
            let start: Option<i64> = int(p, "startTime")?;
            let mut v = e.deposits(account, start.unwrap_or(now - 90 * 86_400_000))?;
            if let Some(c) = p.get("coin") {
                v.retain(|r| r.coin == c);
            }
            if let Some(st) = int::<i32>(p, "status")? {
                v.retain(|r| r.status == st);
            }
            if let Some(end) = int::<i64>(p, "endTime")? {
                v.retain(|r| r.insert_time <= end);
            }
            if let Some(tx) = p.get("txId") {
                v.retain(|r| r.tx_id == tx);
            }
            v.sort_by_key(|r| std::cmp::Reverse(r.insert_time));
            let offset: usize = int(p, "offset")?.unwrap_or(0);
            let limit: usize = int(p, "limit")?.unwrap_or(1000).min(1000);
            Ok(to_value(
                &v.into_iter().skip(offset).take(limit).collect::<Vec<_>>(),
            ))
        }
        Ep::WithdrawApply => {
            let c = caller.expect("signed");
            if !c.can_withdraw {
                return Err(err(
                    401,
                    -2015,
                    "Invalid API-key, IP, or permissions for action.",
                ));
            }
            let coin = p.get("coin").ok_or_else(|| mandatory("coin"))?.to_string();
            let address = p
                .get("address")
                .ok_or_else(|| mandatory("address"))?
                .to_string();
            let amount = decimal(p, "amount")?.ok_or_else(|| mandatory("amount"))?;
            if p.get("addressTag").is_some() {
                return Err(err(400, -4106, "Tag is not supported for this network."));
            }
            let network = p.get("network").map(str::to_string);
            let client = p.get("withdrawOrderId").map(str::to_string);
            let id = e.withdraw(
                account,
                &coin,
                network.as_deref(),
                &address,
                amount,
                client,
                now,
            )?;
            Ok(json!({"id": id}))
        }
        Ep::WithdrawHistory => {
            let start: Option<i64> = int(p, "startTime")?;
            let mut v = e.withdrawals(account, start.unwrap_or(now - 90 * 86_400_000))?;
            if let Some(c) = p.get("coin") {
                v.retain(|r| r.coin == c);
            }
            if let Some(w) = p.get("withdrawOrderId") {
                v.retain(|r| r.withdraw_order_id.as_deref() == Some(w));
            }
            if let Some(st) = int::<i32>(p, "status")? {
                v.retain(|r| r.status == st);
            }
            if let Some(ids) = p.get("idList") {
                let ids: Vec<&str> = ids.split(',').collect();
                v.retain(|r| ids.contains(&r.id.as_str()));
            }
            v.sort_by(|a, b| b.apply_time.cmp(&a.apply_time));
            let offset: usize = int(p, "offset")?.unwrap_or(0);
            let limit: usize = int(p, "limit")?.unwrap_or(1000).min(1000);
            Ok(to_value(
                &v.into_iter().skip(offset).take(limit).collect::<Vec<_>>(),
            ))
        }
    }
}

fn cancel_body(
    e: &super::engine::Engine,
    o: &ballast_sim::OrderInfo,
    new_client_id: Option<String>,
    now: TimestampMs,
) -> ballast_venue_binance::wire::OrderBody {
    let mut b = e.order_body(o, RespType::Result, &[]);
    b.orig_client_order_id = o.client_id.clone();
    b.client_order_id = new_client_id.unwrap_or_else(|| format!("cancel{}", o.id));
    b.transact_time = Some(now);
    b
}

/// `/ballast/v1/*`: not Binance. `POST deposit` (account, coin, network, amount, txId) credits a deposit
/// after its network's delay; `POST fault` (endpoint, kind, count, retry_after_ms, status, executed,
/// delay_ms) injects a fault; `POST clock` (skew_ms) moves the server's clock.
pub(crate) fn admin(
    sh: &Shared,
    m: &Method,
    path: &str,
    query: &str,
    body: &str,
    now: TimestampMs,
) -> Result<Value, ApiError> {
    let p = Params::parse(query, body)?;
    match (m.as_str(), path) {
        ("POST", "/ballast/v1/deposit") => {
            let account = p.get("account").ok_or_else(|| mandatory("account"))?;
            let coin = p.get("coin").ok_or_else(|| mandatory("coin"))?;
            let network = p.get("network").ok_or_else(|| mandatory("network"))?;
            let amount = decimal(&p, "amount")?.ok_or_else(|| mandatory("amount"))?;
            let id = sh.engine.lock().unwrap().deposit(
                account,
                coin,
                network,
                amount,
                p.get("txId").map(str::to_string),
                now,
            )?;
            Ok(json!({"id": id}))
        }
        ("POST", "/ballast/v1/fault") => {
            let endpoint = p.get("endpoint").ok_or_else(|| mandatory("endpoint"))?;
            let count: u32 = int(&p, "count")?.unwrap_or(1);
            let ms = |k: &str| -> Result<std::time::Duration, ApiError> {
                Ok(std::time::Duration::from_millis(
                    int(&p, k)?.unwrap_or(1000),
                ))
            };
            let executed = p.get("executed") != Some("false");
            let kind = match p.get("kind").ok_or_else(|| mandatory("kind"))? {
                "rate_limit" => FaultKind::RateLimit {
                    retry_after: ms("retry_after_ms")?,
                },
                "ban" => FaultKind::Ban {
                    retry_after: ms("retry_after_ms")?,
                },
                "server_error" => FaultKind::ServerError {
                    status: int(&p, "status")?.unwrap_or(503),
                    executed,
                },
                "timeout" => FaultKind::Timeout { executed },
                "delay" => FaultKind::Delay {
                    delay: ms("delay_ms")?,
                },
                "drop" => FaultKind::Drop { executed },
                "hang" => FaultKind::Hang { executed },
                _ => {
                    return Err(err(
                        400,
                        -1100,
                        "Illegal characters found in parameter 'kind'; legal range is 'rate_limit, ban, server_error, timeout, delay, drop, hang'.",
                    ));
                }
            };
            sh.faults.inject(endpoint, kind, count);
            Ok(json!({}))
        }
        ("POST", "/ballast/v1/clock") => {
            let skew: i64 = int(&p, "skew_ms")?.ok_or_else(|| mandatory("skew_ms"))?;
            sh.skew_ms.store(skew, std::sync::atomic::Ordering::Relaxed);
            Ok(json!({}))
        }
        _ => Err(err(404, -1000, "Unknown /ballast/v1 route.")),
    }
}
