//! The one place the local Binance server calls the simulated exchange ([`SimExchange`]): it turns Binance
//! requests into exchange operations and the exchange's orders, fills, balances and transfers into
//! Binance's shapes and error codes.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;

use super::ApiError;
use crate::binance::config::{ServerConfig, SymbolCfg};
use ballast_core::model::{Side, TimestampMs};
use ballast_exec::{RuleViolation, TimeInForce, TransferKind, TransferState};
use ballast_sim::{
    NewOrder, OrderInfo, OrderRef, SimExchange, SimFill, SimOrderState, SimReject, SimSetupError,
    SimTransfer,
};
use ballast_venue_binance::filters::{Filter, SymbolRules, fixed};
use ballast_venue_binance::wire::{
    Account, AccountBalance, AccountCommission, CoinInfo, CommissionRates, DepositRecord,
    DepthBody, NetworkInfo, OrderBody, OrderFill, SymbolInfo, TradeBody, WithdrawRecord,
    utc_string,
};

/// How much of an order response to return (`newOrderRespType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RespType {
    Ack,
    Result,
    Full,
}

/// The order types the server executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Limit,
    LimitMaker,
    Market,
}

/// A validated new order.
#[derive(Clone, Debug)]
pub struct PlaceReq {
    pub symbol: String,
    pub side: Side,
    pub kind: OrderKind,
    /// Limit price (None for MARKET).
    pub price: Option<Decimal>,
    pub qty: Decimal,
    pub tif: TimeInForce,
    pub client_id: Option<String>,
}

/// The simulated exchange with Binance's view of it.
pub struct Engine {
    pub ex: SimExchange,
    symbols: HashMap<String, (SymbolCfg, SymbolRules)>,
    /// Orders placed as MARKET (reported with type MARKET).
    market_orders: HashSet<u64>,
    next_auto_id: u64,
}

pub(crate) fn err(http: u16, code: i64, msg: impl Into<String>) -> ApiError {
    ApiError {
        http,
        code,
        msg: msg.into(),
        data: None,
    }
}

fn filter_failure(name: &str) -> ApiError {
    err(400, -1013, format!("Filter failure: {name}"))
}

fn status_str(o: &OrderInfo) -> &'static str {
    match o.state {
        SimOrderState::Open if o.filled.is_zero() => "NEW",
        SimOrderState::Open => "PARTIALLY_FILLED",
        SimOrderState::Filled => "FILLED",
        SimOrderState::Canceled => "CANCELED",
        SimOrderState::Expired => "EXPIRED",
    }
}

/// An exchange rejection in Binance's words.
pub(crate) fn sim_error(e: SimReject) -> ApiError {
    match e {
        SimReject::UnknownMarket(_) => err(400, -1121, "Invalid symbol."),
        SimReject::UnknownAccount(_) => err(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ),
        SimReject::Rules(v) => filter_failure(match v {
            RuleViolation::NonPositivePrice(_) | RuleViolation::OffGrid { .. } => "PRICE_FILTER",
            RuleViolation::OffLot { .. }
            | RuleViolation::BelowMinQty { .. }
            | RuleViolation::AboveMaxQty { .. } => "LOT_SIZE",
            RuleViolation::BelowMinNotional { .. } => "NOTIONAL",
        }),
        SimReject::PostOnlyWouldCross { .. } => {
            err(400, -2010, "Order would immediately match and take.")
        }
        SimReject::InsufficientBalance { .. } => err(
            400,
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        SimReject::UnknownOrder => err(400, -2011, "Unknown order sent."),
        SimReject::DuplicateClientId(_) => err(400, -2010, "Duplicate order sent."),
        SimReject::IocNoMatch { .. } => err(400, -2010, "Order would not match."),
        SimReject::UnknownNetwork { .. } => {
            err(400, -4018, "The network is not supported for this coin.")
        }
        SimReject::WithdrawBelowMin { .. } => {
            err(400, -4022, "The withdrawal amount is below the minimum.")
        }
        SimReject::InvalidAmount(_) => err(
            400,
            -1102,
            "Mandatory parameter 'amount' was not sent, was empty/null, or malformed.",
        ),
    }
}

impl Engine {
    pub fn new(cfg: &ServerConfig, now: TimestampMs) -> Result<Engine, SimSetupError> {
        let ex = SimExchange::new(&cfg.exchange, now)?;
        let mut symbols = HashMap::new();
        for s in &cfg.symbols {
            let Some(rules) = ex.market_rules(&s.market) else {
                return Err(SimSetupError::Market {
                    market: s.market.clone(),
                    message: "has symbol settings but no market".into(),
                });
            };
            let sr = symbol_rules(s, rules);
            symbols.insert(s.market.clone(), (s.clone(), sr));
        }
        Ok(Engine {
            ex,
            symbols,
            market_orders: HashSet::new(),
            next_auto_id: 1,
        })
    }

    pub fn advance(&mut self, now: TimestampMs) {
        self.ex.advance_to(now);
    }

    pub fn rules(&self, symbol: &str) -> Result<&SymbolRules, ApiError> {
        self.symbols
            .get(symbol)
            .map(|(_, r)| r)
            .ok_or_else(|| err(400, -1121, "Invalid symbol."))
    }

    pub fn symbol_names(&self) -> Vec<String> {
        self.ex
            .markets()
            .iter()
            .map(|m| m.market.clone())
            .filter(|m| self.symbols.contains_key(m))
            .collect()
    }

    /// The `exchangeInfo` entry of a symbol.
    pub fn symbol_info(&self, symbol: &str) -> Option<SymbolInfo> {
        let (cfg, r) = self.symbols.get(symbol)?;
        let mut order_types = vec!["LIMIT".to_string(), "LIMIT_MAKER".into(), "MARKET".into()];
        order_types.sort();
        Some(SymbolInfo {
            symbol: r.symbol.clone(),
            status: r.status.clone(),
            base_asset: r.base.clone(),
            base_asset_precision: cfg.base_precision,
            quote_asset: r.quote.clone(),
            quote_precision: cfg.quote_precision,
            quote_asset_precision: cfg.quote_precision,
            base_commission_precision: cfg.base_precision,
            quote_commission_precision: cfg.quote_precision,
            order_types,
            iceberg_allowed: false,
            oco_allowed: false,
            oto_allowed: false,
            quote_order_qty_market_allowed: false,
            allow_trailing_stop: false,
            cancel_replace_allowed: cfg.cancel_replace_allowed,
            amend_allowed: false,
            is_spot_trading_allowed: true,
            is_margin_trading_allowed: false,
            filters: r.filters.clone(),
            permissions: Vec::new(),
            permission_sets: vec![vec!["SPOT".into()]],
            default_self_trade_prevention_mode: "NONE".into(),
            allowed_self_trade_prevention_modes: vec!["NONE".into()],
        })
    }

    /// The reference price of PERCENT_PRICE_BY_SIDE and `avgPrice`: the book's mid (or the last trade).
    pub fn reference_price(&self, symbol: &str) -> Option<Decimal> {
        self.ex.mid(symbol).ok().flatten()
    }

    fn precision(&self, symbol: &str) -> (u32, u32) {
        self.symbols
            .get(symbol)
            .map_or((8, 8), |(c, _)| (c.base_precision, c.quote_precision))
    }

    pub fn depth(&self, symbol: &str, limit: usize) -> Result<DepthBody, ApiError> {
        let d = self.ex.depth(symbol, limit).map_err(sim_error)?;
        let (bp, qp) = self.precision(symbol);
        let lv = |v: &[ballast_sim::SimLevel]| {
            v.iter()
                .map(|l| (fixed(l.price, qp), fixed(l.qty, bp)))
                .collect()
        };
        Ok(DepthBody {
            last_update_id: self.ex.now().max(0) as u64,
            bids: lv(&d.bids),
            asks: lv(&d.asks),
        })
    }

    /// The order object of the query/RESULT shapes (FULL adds fills).
    pub fn order_body(&self, o: &OrderInfo, resp: RespType, fills: &[SimFill]) -> OrderBody {
        let (bp, qp) = self.precision(&o.market);
        let market = self.market_orders.contains(&o.id);
        let mut b = OrderBody {
            symbol: o.market.clone(),
            orig_client_order_id: None,
            order_id: o.id,
            order_list_id: -1,
            client_order_id: o.client_id.clone().unwrap_or_default(),
            ..Default::default()
        };
        if resp == RespType::Ack {
            return b;
        }
        b.price = Some(fixed(if market { Decimal::ZERO } else { o.price }, qp));
        b.orig_qty = Some(fixed(o.qty, bp));
        b.executed_qty = Some(fixed(o.filled, bp));
        b.orig_quote_order_qty = Some(fixed(Decimal::ZERO, qp));
        b.cummulative_quote_qty = Some(fixed(o.quote_filled, qp));
        b.status = Some(status_str(o).into());
        let (ty, tif) = match (market, o.tif) {
            (true, _) => ("MARKET", "GTC"),
            (false, TimeInForce::PostOnly) => ("LIMIT_MAKER", "GTC"),
            (false, TimeInForce::Gtc) => ("LIMIT", "GTC"),
            (false, TimeInForce::Ioc) => ("LIMIT", "IOC"),
        };
        b.time_in_force = Some(tif.into());
        b.order_type = Some(ty.into());
        b.side = Some(side_str(o.side).into());
        b.working_time = Some(o.created_ms);
        b.self_trade_prevention_mode = Some("NONE".into());
        if resp == RespType::Full {
            b.fills = Some(
                fills
                    .iter()
                    .map(|f| OrderFill {
                        price: fixed(f.price, qp),
                        qty: fixed(f.qty, bp),
                        commission: fixed(f.fee, 8),
                        commission_asset: f.fee_asset.clone(),
                        trade_id: f.trade_id,
                    })
                    .collect(),
            );
        }
        b
    }

    /// The query shape (`GET /api/v3/order`, `openOrders`).
    pub fn query_body(&self, o: &OrderInfo) -> OrderBody {
        let mut b = self.order_body(o, RespType::Result, &[]);
        b.stop_price = Some(fixed(Decimal::ZERO, 8));
        b.iceberg_qty = Some(fixed(Decimal::ZERO, 8));
        b.time = Some(o.created_ms);
        b.update_time = Some(o.updated_ms);
        b.is_working = Some(true);
        b
    }

    fn auto_client_id(&mut self) -> String {
        let id = format!("ballastsim{:012}", self.next_auto_id);
        self.next_auto_id += 1;
        id
    }

    /// Check a new order against the symbol's filters (and the account's open order count).
    pub fn check_filters(
        &self,
        account: &str,
        req: &PlaceReq,
        price: Decimal,
    ) -> Result<(), ApiError> {
        let rules = self.rules(&req.symbol)?;
        if let Some(p) = req.price {
            rules
                .check_precision(p, req.qty)
                .map_err(|e| err(400, -1111, e.to_string()))?;
        } else {
            rules
                .check_precision(Decimal::ONE, req.qty)
                .map_err(|e| err(400, -1111, e.to_string()))?;
        }
        let open = self
            .ex
            .open_orders(account, Some(&req.symbol))
            .map_err(sim_error)?
            .len() as u32;
        let reference = self.reference_price(&req.symbol);
        let mut r = rules.clone();
        if req.kind == OrderKind::Market {
            // A market order has no price of its own: only size, value and order count apply.
            r.filters
                .retain(|f| !matches!(f, Filter::Price { .. } | Filter::PercentPriceBySide { .. }));
        }
        r.check(req.side, price, req.qty, reference, Some(open))
            .map_err(|e| {
                tracing::debug!(detail = %e.detail, "filter failure");
                filter_failure(e.filter)
            })
    }

    /// A protective limit for a MARKET order: 5% through the reference, on the tick grid.
    fn market_price(&self, req: &PlaceReq) -> Result<Decimal, ApiError> {
        let rules = self.rules(&req.symbol)?;
        let reference = self
            .reference_price(&req.symbol)
            .ok_or_else(|| err(400, -2010, "Order would not match."))?;
        let mr = rules.market_rules(Decimal::ZERO, Decimal::ZERO);
        let raw = match req.side {
            Side::Buy => reference * Decimal::new(105, 2),
            Side::Sell => reference * Decimal::new(95, 2),
        };
        Ok(mr.round_price(raw, req.side, ballast_exec::Toward::Passive))
    }

    /// Place an order (filters first, then the exchange). Returns the order and its fills on entry.
    pub fn place(
        &mut self,
        account: &str,
        req: PlaceReq,
        now: TimestampMs,
    ) -> Result<(OrderInfo, Vec<SimFill>), ApiError> {
        self.ex.advance_to(now);
        let price = match req.kind {
            OrderKind::Market => self.market_price(&req)?,
            _ => req.price.expect("limit orders carry a price"),
        };
        self.check_filters(account, &req, req.price.unwrap_or(price))?;
        let client_id = match req.client_id.clone() {
            Some(c) => c,
            None => self.auto_client_id(),
        };
        let order = NewOrder {
            market: req.symbol.clone(),
            side: req.side,
            price,
            qty: req.qty,
            tif: match req.kind {
                OrderKind::Market => TimeInForce::Ioc,
                OrderKind::LimitMaker => TimeInForce::PostOnly,
                OrderKind::Limit => req.tif,
            },
            client_id: Some(client_id),
        };
        match self.ex.place(account, order, now) {
            Ok(p) => {
                if req.kind == OrderKind::Market {
                    self.market_orders.insert(p.order.id);
                }
                Ok((p.order, p.fills))
            }
            Err(SimReject::IocNoMatch { order_id }) => {
                // Accepted and expired at once: Binance answers with the EXPIRED order.
                if req.kind == OrderKind::Market {
                    self.market_orders.insert(order_id);
                }
                let o = self
                    .ex
                    .order(account, &OrderRef::Id(order_id))
                    .map_err(sim_error)?
                    .ok_or_else(|| {
                        err(
                            500,
                            -1000,
                            "An unknown error occurred while processing the request.",
                        )
                    })?;
                Ok((o, Vec::new()))
            }
            Err(e) => Err(sim_error(e)),
        }
    }

    /// Find an order by `orderId` or `origClientOrderId` (both given: both must match).
    pub fn find(
        &self,
        account: &str,
        symbol: &str,
        order_id: Option<u64>,
        client_id: Option<&str>,
    ) -> Result<Option<OrderInfo>, ApiError> {
        self.rules(symbol)?;
        let by = match (order_id, client_id) {
            (Some(id), _) => OrderRef::Id(id),
            (None, Some(c)) => OrderRef::Client(c.to_string()),
            (None, None) => {
                return Err(err(
                    400,
                    -1102,
                    "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
                ));
            }
        };
        let o = self.ex.order(account, &by).map_err(sim_error)?;
        Ok(o.filter(|o| {
            o.market == symbol && client_id.is_none_or(|c| o.client_id.as_deref() == Some(c))
        }))
    }

    /// Cancel an open order; returns it in its final state.
    pub fn cancel(
        &mut self,
        account: &str,
        symbol: &str,
        order_id: Option<u64>,
        client_id: Option<&str>,
        now: TimestampMs,
    ) -> Result<OrderInfo, ApiError> {
        self.ex.advance_to(now);
        let o = self
            .find(account, symbol, order_id, client_id)?
            .filter(|o| o.state == SimOrderState::Open)
            .ok_or_else(|| err(400, -2011, "Unknown order sent."))?;
        self.ex
            .cancel(account, Some(symbol), &OrderRef::Id(o.id), now)
            .map_err(sim_error)
    }

    pub fn cancel_all(
        &mut self,
        account: &str,
        symbol: &str,
        now: TimestampMs,
    ) -> Result<Vec<OrderInfo>, ApiError> {
        self.rules(symbol)?;
        self.ex
            .cancel_all(account, Some(symbol), now)
            .map_err(sim_error)
    }

    pub fn open_orders(
        &self,
        account: &str,
        symbol: Option<&str>,
    ) -> Result<Vec<OrderInfo>, ApiError> {
        if let Some(s) = symbol {
            self.rules(s)?;
        }
        self.ex.open_orders(account, symbol).map_err(sim_error)
    }

    /// `myTrades`: fills of `symbol`, filtered like Binance (`orderId`, `fromId`, time range, limit).
    #[allow(clippy::too_many_arguments)]
    pub fn trades(
        &self,
        account: &str,
        symbol: &str,
        order_id: Option<u64>,
        from_id: Option<u64>,
        start: Option<TimestampMs>,
        end: Option<TimestampMs>,
        limit: usize,
    ) -> Result<Vec<TradeBody>, ApiError> {
        self.rules(symbol)?;
        let (bp, qp) = self.precision(symbol);
        let fills = self
            .ex
            .fills_since(account, start.unwrap_or(0))
            .map_err(sim_error)?;
        let mut out: Vec<TradeBody> = fills
            .iter()
            .filter(|f| f.market == symbol)
            .filter(|f| order_id.is_none_or(|o| f.order_id == o))
            .filter(|f| from_id.is_none_or(|i| f.trade_id >= i))
            .filter(|f| end.is_none_or(|e| f.ts <= e))
            .map(|f| TradeBody {
                symbol: f.market.clone(),
                id: f.trade_id,
                order_id: f.order_id,
                order_list_id: -1,
                price: fixed(f.price, qp),
                qty: fixed(f.qty, bp),
                quote_qty: fixed(f.quote_qty, qp),
                commission: fixed(f.fee, 8),
                commission_asset: f.fee_asset.clone(),
                time: f.ts,
                is_buyer: f.side == Side::Buy,
                is_maker: f.liquidity == ballast_exec::Liquidity::Maker,
                is_best_match: true,
            })
            .collect();
        if from_id.is_none() && start.is_none() && out.len() > limit {
            // Without a starting point Binance returns the most recent trades.
            out.drain(..out.len() - limit);
        }
        out.truncate(limit);
        Ok(out)
    }

    fn rates(&self, symbol: Option<&str>) -> CommissionRates {
        let rules = symbol
            .and_then(|s| self.ex.market_rules(s))
            .or_else(|| self.ex.markets().first().copied());
        let (maker, taker) = rules.map_or((Decimal::ZERO, Decimal::ZERO), |r| {
            (r.maker_fee, r.taker_fee)
        });
        CommissionRates {
            maker: fixed(maker, 8),
            taker: fixed(taker, 8),
            buyer: fixed(Decimal::ZERO, 8),
            seller: fixed(Decimal::ZERO, 8),
        }
    }

    pub fn commission(&self, symbol: &str) -> Result<AccountCommission, ApiError> {
        self.rules(symbol)?;
        let zero = CommissionRates {
            maker: fixed(Decimal::ZERO, 8),
            taker: fixed(Decimal::ZERO, 8),
            buyer: fixed(Decimal::ZERO, 8),
            seller: fixed(Decimal::ZERO, 8),
        };
        Ok(AccountCommission {
            symbol: symbol.to_string(),
            standard_commission: self.rates(Some(symbol)),
            special_commission: Some(zero.clone()),
            tax_commission: Some(zero),
            discount: Some(serde_json::json!({
                "enabledForAccount": false,
                "enabledForSymbol": false,
                "discountAsset": "BNB",
                "discount": "0.75000000"
            })),
        })
    }

    pub fn account(
        &self,
        account: &str,
        omit_zero: bool,
        can_trade: bool,
        can_withdraw: bool,
        now: TimestampMs,
    ) -> Result<Account, ApiError> {
        let rates = self.rates(None);
        let bps = |x: Decimal| {
            (x * Decimal::from(10_000))
                .trunc()
                .try_into()
                .unwrap_or(0i64)
        };
        let balances = self
            .ex
            .balances(account)
            .map_err(sim_error)?
            .into_iter()
            .filter(|b| !omit_zero || !b.total.is_zero())
            .map(|b| AccountBalance {
                asset: b.asset.clone(),
                free: fixed(b.total - b.held, 8),
                locked: fixed(b.held, 8),
            })
            .collect();
        Ok(Account {
            maker_commission: bps(rates.maker),
            taker_commission: bps(rates.taker),
            buyer_commission: 0,
            seller_commission: 0,
            commission_rates: rates,
            can_trade,
            can_withdraw,
            can_deposit: true,
            brokered: false,
            require_self_trade_prevention: false,
            prevent_sor: false,
            update_time: now,
            account_type: "SPOT".into(),
            balances,
            permissions: vec!["SPOT".into()],
            uid: 0,
        })
    }

    // ----- wallet ------------------------------------------------------------------------------------

    fn network_infos(&self, asset: &str) -> Vec<NetworkInfo> {
        self.ex
            .networks(asset)
            .iter()
            .enumerate()
            .map(|(i, n)| NetworkInfo {
                network: n.network.clone(),
                coin: n.asset.clone(),
                name: n.network.clone(),
                is_default: i == 0,
                deposit_enable: true,
                withdraw_enable: true,
                withdraw_fee: fixed(n.withdraw_fee, 8),
                withdraw_min: fixed(n.withdraw_min, 8),
                withdraw_max: fixed(Decimal::from(9_999_999_999u64), 8),
                withdraw_internal_min: Some(fixed(Decimal::new(1, 8), 8)),
                withdraw_integer_multiple: Some(fixed(Decimal::new(1, 8), 8)),
                deposit_dust: Some(fixed(Decimal::new(1, 8), 8)),
                min_confirm: 12,
                un_lock_confirm: 0,
                same_address: false,
                withdraw_tag: false,
                address_regex: "^(0x)[0-9A-Fa-f]{40}$".into(),
                memo_regex: String::new(),
                estimated_arrival_time: n.deposit_delay_ms / 60_000,
                busy: false,
                contract_address: String::new(),
                contract_address_url: String::new(),
                deposit_desc: String::new(),
                withdraw_desc: String::new(),
                special_tips: String::new(),
                special_withdraw_tips: String::new(),
                reset_address_status: false,
            })
            .collect()
    }

    pub fn coins(&self, account: &str) -> Result<Vec<CoinInfo>, ApiError> {
        let mut out = Vec::new();
        for asset in self.ex.assets() {
            let b = self.ex.balance(account, &asset).map_err(sim_error)?;
            let networks = self.network_infos(&asset);
            out.push(CoinInfo {
                coin: asset.clone(),
                name: asset.clone(),
                deposit_all_enable: !networks.is_empty(),
                withdraw_all_enable: !networks.is_empty(),
                free: fixed(b.total - b.held, 8),
                locked: fixed(b.held, 8),
                freeze: fixed(Decimal::ZERO, 8),
                withdrawing: fixed(Decimal::ZERO, 8),
                ipoing: fixed(Decimal::ZERO, 8),
                ipoable: fixed(Decimal::ZERO, 8),
                storage: fixed(Decimal::ZERO, 8),
                is_legal_money: false,
                trading: true,
                network_list: networks,
            });
        }
        Ok(out)
    }

    fn network_or_default(&self, coin: &str, network: Option<&str>) -> Result<String, ApiError> {
        match network {
            Some(n) => Ok(n.to_string()),
            None => self
                .ex
                .networks(coin)
                .first()
                .map(|n| n.network.clone())
                .ok_or_else(|| err(400, -4018, "The network is not supported for this coin.")),
        }
    }

    pub fn deposit_address(
        &self,
        account: &str,
        coin: &str,
        network: Option<&str>,
    ) -> Result<(String, String), ApiError> {
        let network = self.network_or_default(coin, network)?;
        let a = self
            .ex
            .deposit_address(account, coin, &network)
            .map_err(sim_error)?;
        Ok((a, network))
    }

    /// A deposit seen on a chain, credited after the network's delay. Returns the deposit id.
    pub fn deposit(
        &mut self,
        account: &str,
        coin: &str,
        network: &str,
        amount: Decimal,
        tx: Option<String>,
        now: TimestampMs,
    ) -> Result<String, ApiError> {
        self.ex
            .deposit(account, coin, network, amount, tx, now)
            .map(|t| t.id)
            .map_err(sim_error)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn withdraw(
        &mut self,
        account: &str,
        coin: &str,
        network: Option<&str>,
        address: &str,
        amount: Decimal,
        client_id: Option<String>,
        now: TimestampMs,
    ) -> Result<String, ApiError> {
        let network = self.network_or_default(coin, network)?;
        let multiple = Decimal::new(1, 8);
        if !(amount % multiple).is_zero() {
            return Err(err(
                400,
                -1111,
                "Parameter 'amount' has too much precision.",
            ));
        }
        self.ex
            .withdraw(account, coin, &network, address, amount, client_id, now)
            .map(|t| t.id)
            .map_err(|e| match e {
                SimReject::InsufficientBalance { .. } => {
                    err(400, -4026, "User has insufficient balance")
                }
                other => sim_error(other),
            })
    }

    fn transfers(
        &self,
        account: &str,
        kind: TransferKind,
        since: TimestampMs,
    ) -> Result<Vec<SimTransfer>, ApiError> {
        Ok(self
            .ex
            .transfers_since(account, 0)
            .map_err(sim_error)?
            .into_iter()
            .filter(|t| t.kind == kind && t.created_ms >= since)
            .collect())
    }

    pub fn deposits(
        &self,
        account: &str,
        since: TimestampMs,
    ) -> Result<Vec<DepositRecord>, ApiError> {
        Ok(self
            .transfers(account, TransferKind::Deposit, since)?
            .into_iter()
            .map(|t| {
                let done = t.state == TransferState::Completed;
                DepositRecord {
                    id: t.id.clone(),
                    amount: fixed(t.amount, 8),
                    coin: t.asset.clone(),
                    network: t.network.clone(),
                    status: if done { 1 } else { 0 },
                    address: t.address.clone(),
                    address_tag: String::new(),
                    tx_id: t.tx_hash.clone().unwrap_or_default(),
                    insert_time: t.created_ms,
                    complete_time: done.then_some(t.updated_ms),
                    transfer_type: 0,
                    confirm_times: if done { "12/12".into() } else { "1/12".into() },
                    unlock_confirm: 0,
                    wallet_type: 0,
                }
            })
            .collect())
    }

    pub fn withdrawals(
        &self,
        account: &str,
        since: TimestampMs,
    ) -> Result<Vec<WithdrawRecord>, ApiError> {
        Ok(self
            .transfers(account, TransferKind::Withdrawal, since)?
            .into_iter()
            .map(|t| {
                let status = match &t.state {
                    TransferState::Pending => 4,
                    TransferState::Completed => 6,
                    TransferState::Failed(_) => 5,
                };
                WithdrawRecord {
                    id: t.id.clone(),
                    amount: fixed(t.amount, 8),
                    transaction_fee: fixed(t.fee, 8),
                    coin: t.asset.clone(),
                    status,
                    address: t.address.clone(),
                    tx_id: t.tx_hash.clone(),
                    apply_time: utc_string(t.created_ms),
                    network: t.network.clone(),
                    transfer_type: 0,
                    withdraw_order_id: t.client_id.clone(),
                    info: String::new(),
                    confirm_no: if status == 6 { 12 } else { 0 },
                    wallet_type: 0,
                    tx_key: String::new(),
                    complete_time: (status == 6).then(|| utc_string(t.updated_ms)),
                }
            })
            .collect())
    }
}

pub(crate) fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// The filters a simulated market publishes.
fn symbol_rules(cfg: &SymbolCfg, r: &ballast_exec::MarketRules) -> SymbolRules {
    let tick = match r.grid {
        ballast_exec::PriceGrid::Tick { tick } => tick,
        _ => Decimal::new(1, cfg.quote_precision),
    };
    let f8 = |x: Decimal| fixed(x, 8);
    let mut filters = vec![
        Filter::Price {
            min_price: f8(cfg.min_price),
            max_price: f8(cfg.max_price),
            tick_size: f8(tick),
        },
        Filter::LotSize {
            min_qty: f8(if r.min_qty.is_zero() {
                r.lot
            } else {
                r.min_qty
            }),
            max_qty: f8(if r.max_qty.is_zero() {
                Decimal::from(9_000_000_000u64)
            } else {
                r.max_qty
            }),
            step_size: f8(r.lot),
        },
        Filter::Notional {
            min_notional: f8(r.min_notional),
            apply_min_to_market: true,
            max_notional: f8(cfg.max_notional),
            apply_max_to_market: false,
            avg_price_mins: 5,
        },
    ];
    if let Some([bu, bd, au, ad]) = cfg.percent_price_by_side {
        filters.push(Filter::PercentPriceBySide {
            bid_multiplier_up: bu,
            bid_multiplier_down: bd,
            ask_multiplier_up: au,
            ask_multiplier_down: ad,
            avg_price_mins: 1,
        });
    }
    filters.push(Filter::MaxNumOrders {
        max_num_orders: cfg.max_num_orders,
    });
    SymbolRules {
        symbol: r.market.clone(),
        status: "TRADING".into(),
        base: r.base.clone(),
        quote: r.quote.clone(),
        base_precision: cfg.base_precision,
        quote_precision: cfg.quote_precision,
        cancel_replace_allowed: cfg.cancel_replace_allowed,
        amend_allowed: false,
        filters,
    }
}
