//! The simulated exchange of one venue: many markets (each an [`OrderBook`] with an optional
//! [`LiquidityModel`]), many accounts with balances and holds, order history, fills, deposits and
//! withdrawals. It is synchronous and deterministic: time is passed into every mutating call, randomness
//! comes from the configured seed.
//!
//! Time: every mutating call takes `now` and first runs the markets up to it ([`SimExchange::advance_to`]).
//! Read-only calls do not move time; call `advance_to(now)` before them to see the market as of `now`. Time
//! never goes backwards: a `now` earlier than the exchange's time is treated as the exchange's time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::book::{BookReject, OrderBook, OrderId, Owner, Tape, Trade};
use super::config::{AccountCfg, SimExchangeCfg};
use super::liquidity::LiquidityModel;
use super::transfers::{NetworkCfg, SimTransfer};
use super::units::{Lots, PriceUnits};
use ballast_core::model::{Side, TimestampMs};
use ballast_core::order::rules::{MarketRules, RuleViolation};
use ballast_exec::{
    Balance, ClientOrderId, Depth, Fill, Level, Liquidity, OrderState, OrderStatus, TimeInForce,
};

/// How an order is named in a request: by the venue's id or by the account's client id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OrderRef {
    Id(OrderId),
    /// The most recent order of the account with this client id.
    Client(String),
}

/// A new order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub market: String,
    pub side: Side,
    pub price: Decimal,
    /// Base units.
    pub qty: Decimal,
    pub tif: TimeInForce,
    /// Any string (Binance allows free-form ids, Hyperliquid uses `0x` + 32 hex digits). An open order of the
    /// same account may not already carry it.
    pub client_id: Option<String>,
}

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimOrderState {
    /// On the book, possibly partly filled.
    Open,
    Filled,
    /// Cancelled by its owner (cancel, or replaced), possibly partly filled.
    Canceled,
    /// Cancelled by its time in force: the unfilled part of an IOC (Binance `EXPIRED`).
    Expired,
}

/// What the exchange knows of one order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInfo {
    /// The venue order id: increasing in the order orders were accepted.
    pub id: OrderId,
    pub client_id: Option<String>,
    pub account: String,
    pub market: String,
    pub side: Side,
    pub price: Decimal,
    /// Original size.
    pub qty: Decimal,
    /// Executed so far.
    pub filled: Decimal,
    /// Sum of price x size over the fills (Binance `cummulativeQuoteQty`).
    pub quote_filled: Decimal,
    pub tif: TimeInForce,
    pub state: SimOrderState,
    pub created_ms: TimestampMs,
    pub updated_ms: TimestampMs,
}

impl OrderInfo {
    pub fn remaining(&self) -> Decimal {
        match self.state {
            SimOrderState::Open => self.qty - self.filled,
            _ => Decimal::ZERO,
        }
    }

    /// Volume-weighted average fill price.
    pub fn avg_price(&self) -> Option<Decimal> {
        (!self.filled.is_zero()).then(|| (self.quote_filled / self.filled).normalize())
    }

    /// The venue-interface view, when the client id is a [`ClientOrderId`] (32 hex digits, with or without
    /// `0x`).
    pub fn to_status(&self) -> Option<OrderStatus> {
        let client_id = ClientOrderId::parse(self.client_id.as_deref()?)?;
        Some(OrderStatus {
            client_id,
            venue_order_id: self.id.to_string(),
            market: self.market.clone(),
            side: self.side,
            price: self.price,
            qty: self.qty,
            filled: self.filled,
            avg_price: self.avg_price(),
            state: match self.state {
                SimOrderState::Open => OrderState::Open,
                SimOrderState::Filled => OrderState::Filled,
                SimOrderState::Canceled | SimOrderState::Expired => OrderState::Canceled,
            },
            updated_ms: self.updated_ms,
        })
    }
}

/// One execution of one of an account's orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimFill {
    /// Unique per exchange, increasing in execution order; both sides of a trade carry the same id.
    pub trade_id: u64,
    pub order_id: OrderId,
    pub client_id: Option<String>,
    pub market: String,
    pub side: Side,
    pub price: Decimal,
    pub qty: Decimal,
    /// `price x qty`.
    pub quote_qty: Decimal,
    /// Charged in `fee_asset`, the asset the order receives (base for a buy, quote for a sell); negative for
    /// a rebate.
    pub fee: Decimal,
    pub fee_asset: String,
    pub liquidity: Liquidity,
    pub ts: TimestampMs,
}

impl SimFill {
    /// The venue-interface view.
    pub fn to_fill(&self) -> Fill {
        Fill {
            trade_id: self.trade_id.to_string(),
            client_id: self.client_id.as_deref().and_then(ClientOrderId::parse),
            venue_order_id: self.order_id.to_string(),
            market: self.market.clone(),
            side: self.side,
            price: self.price,
            qty: self.qty,
            fee: self.fee,
            fee_asset: self.fee_asset.clone(),
            liquidity: self.liquidity,
            ts: self.ts,
        }
    }
}

/// Something that happened to an account, for clients that stream updates (the local servers' websockets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum AccountEvent {
    /// An order's new state: accepted (open), after each fill, cancelled or expired.
    Order(OrderInfo),
    /// An execution; the order's new state follows as an `Order` event.
    Fill(SimFill),
    /// A deposit or withdrawal was requested or completed.
    Transfer(SimTransfer),
}

/// An [`AccountEvent`] with its place in the account's event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqEvent {
    /// 1, 2, 3... per account.
    pub seq: u64,
    pub ts: TimestampMs,
    pub event: AccountEvent,
}

/// An accepted order: its state after entry and what it filled on entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub order: OrderInfo,
    pub fills: Vec<SimFill>,
}

/// The result of a replace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaced {
    /// The old order, now cancelled.
    pub old: OrderInfo,
    /// What the old order filled beyond `old_known_filled`; the new order was reduced by it.
    pub overfill: Decimal,
    /// The new order; `None` when the overfill left nothing (or less than the market's minimum) to place.
    pub new: Option<Placed>,
}

/// Why a request was refused. Apart from `IocNoMatch` (an order that was accepted and expired at once),
/// nothing happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimReject {
    #[error("unknown market {0:?}")]
    UnknownMarket(String),
    #[error("unknown account {0:?}")]
    UnknownAccount(String),
    #[error(transparent)]
    Rules(RuleViolation),
    /// A post-only order would have matched; the best bid and ask at that moment.
    #[error("post-only order would cross the book (bid {bid:?}, ask {ask:?})")]
    PostOnlyWouldCross {
        bid: Option<Decimal>,
        ask: Option<Decimal>,
    },
    /// An IOC order matched nothing. It was given `order_id` and is kept in the history as expired.
    #[error("IOC order {order_id} found nothing to match")]
    IocNoMatch { order_id: OrderId },
    #[error("insufficient {asset}: needs {needed}, {available} available")]
    InsufficientBalance {
        asset: String,
        needed: Decimal,
        available: Decimal,
    },
    /// The order named is not an open order of this account (on this market).
    #[error("unknown order (never placed, already filled or cancelled)")]
    UnknownOrder,
    /// An open order of the account already has this client id.
    #[error("an open order already has client id {0:?}")]
    DuplicateClientId(String),
    #[error("no network {network:?} for {asset}")]
    UnknownNetwork { asset: String, network: String },
    #[error("withdrawal of {amount} {asset} is below the minimum {min}")]
    WithdrawBelowMin {
        asset: String,
        amount: Decimal,
        min: Decimal,
    },
    #[error("amount {0} must be positive")]
    InvalidAmount(Decimal),
}

/// A price level of [`SimExchange::depth`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimLevel {
    pub price: Decimal,
    pub qty: Decimal,
    /// Orders at the level (Hyperliquid `n`).
    pub orders: u32,
}

/// The top of a book, best first on each side.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimDepth {
    pub bids: Vec<SimLevel>,
    pub asks: Vec<SimLevel>,
    pub ts: TimestampMs,
}

impl SimDepth {
    /// The venue-interface view.
    pub fn to_depth(&self) -> Depth {
        let lv = |l: &SimLevel| Level {
            price: l.price,
            qty: l.qty,
        };
        Depth {
            bids: self.bids.iter().map(lv).collect(),
            asks: self.asks.iter().map(lv).collect(),
            ts: self.ts,
        }
    }
}

/// Where every unit of one asset is: the conservation check of the exchange.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetAudit {
    /// Sum of the accounts' totals.
    pub accounts_total: Decimal,
    /// Sum of the accounts' holds.
    pub accounts_held: Decimal,
    /// Trading and withdrawal fees collected (negative when rebates exceed them).
    pub fees: Decimal,
    /// Net amount the background participants received from the accounts.
    pub background: Decimal,
    /// Initial balances, credits and credited deposits.
    pub deposited: Decimal,
    /// Withdrawals paid out to chains (net of their fees).
    pub withdrawn: Decimal,
}

impl AssetAudit {
    /// Nothing created or destroyed: `accounts + fees + background + withdrawn == deposited`.
    pub fn balanced(&self) -> bool {
        self.accounts_total + self.fees + self.background + self.withdrawn == self.deposited
    }
}

/// Why an exchange cannot be built from a configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimSetupError {
    #[error("market {market}: {message}")]
    Market { market: String, message: String },
    #[error("{0} is declared twice")]
    Duplicate(String),
    #[error("account {account}: {message}")]
    Account { account: String, message: String },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Bal {
    pub total: Decimal,
    pub held: Decimal,
}

#[derive(Clone, Debug)]
pub(super) struct Account {
    pub name: String,
    pub balances: BTreeMap<String, Bal>,
    /// Open orders by id.
    open: BTreeSet<OrderId>,
    /// Every order, in id order.
    all: Vec<OrderId>,
    /// The latest order per client id.
    by_client: HashMap<String, OrderId>,
    fills: Vec<SimFill>,
    /// Withdrawals by client id (index into the transfer list).
    pub withdrawals_by_client: HashMap<String, usize>,
    /// Transfers of this account (indexes into the transfer list).
    pub transfers: Vec<usize>,
    /// The event log (kept only when the exchange records events).
    events: Vec<SeqEvent>,
}

impl Account {
    pub(super) fn bal(&mut self, asset: &str) -> &mut Bal {
        if !self.balances.contains_key(asset) {
            self.balances.insert(asset.to_string(), Bal::default());
        }
        self.balances.get_mut(asset).expect("inserted above")
    }

    pub(super) fn available(&self, asset: &str) -> Decimal {
        self.balances
            .get(asset)
            .map_or(Decimal::ZERO, |b| b.total - b.held)
    }
}

#[derive(Clone, Debug)]
struct OrderRecord {
    info: OrderInfo,
    account: u32,
    market: usize,
    /// Amount still held for the order (quote for a buy, base for a sell).
    hold: Decimal,
}

#[derive(Clone, Debug)]
struct Market {
    book: OrderBook,
    liquidity: Option<LiquidityModel>,
    last_price: Option<Decimal>,
}

/// The simulated exchange of one venue.
#[derive(Clone, Debug)]
pub struct SimExchange {
    pub(super) now: TimestampMs,
    markets: Vec<Market>,
    market_ix: HashMap<String, usize>,
    pub(super) accounts: Vec<Account>,
    account_ix: HashMap<String, u32>,
    orders: HashMap<OrderId, OrderRecord>,
    next_order_id: OrderId,
    tape: Tape,
    pub(super) networks: Vec<NetworkCfg>,
    pub(super) transfers: Vec<SimTransfer>,
    /// Transfers still to complete, by completion time.
    pub(super) pending: BTreeSet<(TimestampMs, usize)>,
    pub(super) ledger: BTreeMap<String, AssetAudit>,
    record_events: bool,
    /// (asset, network) whose withdrawals a chain bridge pays out (see [`SimExchange::pay_out_on_chain`]).
    pub(super) chain_paid: BTreeSet<(String, String)>,
    /// Chain transfers already credited as deposits (by `network:tx_hash:log_index`).
    pub(super) chain_credits: std::collections::HashSet<String>,
}

/// A stream number for a market's randomness, from its name (so adding a market never changes another's).
fn stream_of(name: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(name.as_bytes());
    u64::from_be_bytes(h[..8].try_into().expect("8 bytes"))
}

impl SimExchange {
    /// An exchange as configured, at time `start_ms` (the liquidity models post their first quotes then).
    pub fn new(cfg: &SimExchangeCfg, start_ms: TimestampMs) -> Result<SimExchange, SimSetupError> {
        let mut ex = SimExchange {
            now: start_ms,
            markets: Vec::new(),
            market_ix: HashMap::new(),
            accounts: Vec::new(),
            account_ix: HashMap::new(),
            orders: HashMap::new(),
            next_order_id: 1,
            tape: Tape::new(1),
            networks: Vec::new(),
            transfers: Vec::new(),
            pending: BTreeSet::new(),
            ledger: BTreeMap::new(),
            record_events: false,
            chain_paid: BTreeSet::new(),
            chain_credits: std::collections::HashSet::new(),
        };
        for m in &cfg.markets {
            let name = m.rules.market.clone();
            if ex.market_ix.contains_key(&name) {
                return Err(SimSetupError::Duplicate(format!("market {name}")));
            }
            let err = |message: String| SimSetupError::Market {
                market: name.clone(),
                message,
            };
            let book = OrderBook::new(m.rules.clone()).map_err(|e| err(e.to_string()))?;
            let liquidity = match &m.liquidity {
                Some(l) => {
                    if let Some((key, msg)) = l.problems().into_iter().next() {
                        return Err(err(format!("liquidity.{key}: {msg}")));
                    }
                    Some(LiquidityModel::new(
                        l.clone(),
                        cfg.seed,
                        stream_of(&name),
                        start_ms,
                    ))
                }
                None => None,
            };
            ex.market_ix.insert(name, ex.markets.len());
            ex.markets.push(Market {
                book,
                liquidity,
                last_price: None,
            });
        }
        for a in &cfg.accounts {
            ex.add_account(a)?;
        }
        for n in &cfg.networks {
            if ex
                .networks
                .iter()
                .any(|x| x.asset == n.asset && x.network == n.network)
            {
                return Err(SimSetupError::Duplicate(format!(
                    "network {} for {}",
                    n.network, n.asset
                )));
            }
            ex.networks.push(n.clone());
        }
        // The initial quotes.
        ex.run_markets(start_ms);
        Ok(ex)
    }

    /// Add an account with its starting balances.
    pub fn add_account(&mut self, cfg: &AccountCfg) -> Result<(), SimSetupError> {
        if self.account_ix.contains_key(&cfg.name) {
            return Err(SimSetupError::Duplicate(format!("account {}", cfg.name)));
        }
        let ix = self.open_account(&cfg.name);
        for (asset, amount) in &cfg.balances {
            self.credit_ix(ix, asset, *amount)
                .map_err(|e| SimSetupError::Account {
                    account: cfg.name.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// The account's index, creating an empty account when there is none by this name.
    pub fn open_account(&mut self, name: &str) -> u32 {
        if let Some(ix) = self.account_ix.get(name) {
            return *ix;
        }
        let ix = self.accounts.len() as u32;
        self.accounts.push(Account {
            name: name.to_string(),
            balances: BTreeMap::new(),
            open: BTreeSet::new(),
            all: Vec::new(),
            by_client: HashMap::new(),
            fills: Vec::new(),
            withdrawals_by_client: HashMap::new(),
            transfers: Vec::new(),
            events: Vec::new(),
        });
        self.account_ix.insert(name.to_string(), ix);
        ix
    }

    /// Credit an amount to an account at once (a faucet for tests and local servers; counted as deposited).
    pub fn credit(&mut self, account: &str, asset: &str, amount: Decimal) -> Result<(), SimReject> {
        let a = self.account(account)?;
        self.credit_ix(a, asset, amount)
    }

    fn credit_ix(&mut self, a: u32, asset: &str, amount: Decimal) -> Result<(), SimReject> {
        if amount < Decimal::ZERO {
            return Err(SimReject::InvalidAmount(amount));
        }
        self.accounts[a as usize].bal(asset).total += amount;
        self.audit_entry(asset).deposited += amount;
        Ok(())
    }

    pub(super) fn audit_entry(&mut self, asset: &str) -> &mut AssetAudit {
        if !self.ledger.contains_key(asset) {
            self.ledger.insert(asset.to_string(), AssetAudit::default());
        }
        self.ledger.get_mut(asset).expect("inserted above")
    }

    /// Keep a per-account log of order, fill and transfer events from now on (off by default: backtests do
    /// not need it). Servers that push updates read it with [`SimExchange::events_since`].
    pub fn record_events(&mut self, on: bool) {
        self.record_events = on;
    }

    /// Events of `account` with a sequence number above `after` (0: from the start), oldest first.
    pub fn events_since(&self, account: &str, after: u64) -> Result<Vec<SeqEvent>, SimReject> {
        let a = self.account(account)?;
        let log = &self.accounts[a as usize].events;
        let start = log.partition_point(|e| e.seq <= after);
        Ok(log[start..].to_vec())
    }

    /// Append an event to an account's log, when events are recorded.
    pub(super) fn emit(
        &mut self,
        a: u32,
        ts: TimestampMs,
        event: impl FnOnce(&Self) -> AccountEvent,
    ) {
        if !self.record_events {
            return;
        }
        let event = event(self);
        let log = &mut self.accounts[a as usize].events;
        let seq = log.len() as u64 + 1;
        log.push(SeqEvent { seq, ts, event });
    }

    fn emit_order(&mut self, id: OrderId, ts: TimestampMs) {
        let a = self.orders[&id].account;
        self.emit(a, ts, |ex| AccountEvent::Order(ex.orders[&id].info.clone()));
    }

    /// The exchange's current time.
    pub fn now(&self) -> TimestampMs {
        self.now
    }

    /// Run the markets (and complete due transfers) up to `now`. Our resting orders may fill on the way.
    pub fn advance_to(&mut self, now: TimestampMs) {
        if now < self.now {
            return;
        }
        self.run_markets(now);
        self.complete_transfers(now);
        self.now = now;
    }

    /// Run every market's events up to `now`, in time order across markets (ties: configuration order).
    fn run_markets(&mut self, now: TimestampMs) {
        loop {
            let next = self
                .markets
                .iter()
                .enumerate()
                .filter_map(|(i, m)| m.liquidity.as_ref().map(|l| (l.next_event(), i)))
                .min();
            let Some((t, i)) = next else { break };
            if t > now {
                break;
            }
            let m = &mut self.markets[i];
            let l = m.liquidity.as_mut().expect("has a model");
            l.run_next(&mut m.book, &mut self.tape);
            self.settle(i, t);
        }
    }

    pub(super) fn account(&self, name: &str) -> Result<u32, SimReject> {
        self.account_ix
            .get(name)
            .copied()
            .ok_or_else(|| SimReject::UnknownAccount(name.to_string()))
    }

    fn market(&self, name: &str) -> Result<usize, SimReject> {
        self.market_ix
            .get(name)
            .copied()
            .ok_or_else(|| SimReject::UnknownMarket(name.to_string()))
    }

    /// Place an order for `account`.
    pub fn place(
        &mut self,
        account: &str,
        order: NewOrder,
        now: TimestampMs,
    ) -> Result<Placed, SimReject> {
        self.advance_to(now);
        let a = self.account(account)?;
        let m = self.market(&order.market)?;
        let (price, lots) = self.markets[m]
            .book
            .validate(order.price, order.qty)
            .map_err(SimReject::Rules)?;
        if let Some(c) = &order.client_id
            && self.open_by_client(a, c).is_some()
        {
            return Err(SimReject::DuplicateClientId(c.clone()));
        }
        let (asset, hold) = self.hold_for(m, order.side, order.price, order.qty);
        let available = self.accounts[a as usize].available(&asset);
        if hold > available {
            return Err(SimReject::InsufficientBalance {
                asset,
                needed: hold,
                available,
            });
        }
        self.submit(a, m, order, price, lots, hold)
    }

    /// Cancel an open order of `account` (optionally only if it is on `market`); returns its final state.
    pub fn cancel(
        &mut self,
        account: &str,
        market: Option<&str>,
        order: &OrderRef,
        now: TimestampMs,
    ) -> Result<OrderInfo, SimReject> {
        self.advance_to(now);
        let a = self.account(account)?;
        let id = self.open_order_id(a, market, order)?;
        Ok(self.cancel_id(id, SimOrderState::Canceled))
    }

    /// Cancel every open order of `account` (on `market`, or everywhere); returns their final states.
    pub fn cancel_all(
        &mut self,
        account: &str,
        market: Option<&str>,
        now: TimestampMs,
    ) -> Result<Vec<OrderInfo>, SimReject> {
        self.advance_to(now);
        let a = self.account(account)?;
        let ids: Vec<OrderId> = self.accounts[a as usize]
            .open
            .iter()
            .copied()
            .filter(|id| market.is_none_or(|m| self.orders[id].info.market == m))
            .collect();
        Ok(ids
            .into_iter()
            .map(|id| self.cancel_id(id, SimOrderState::Canceled))
            .collect())
    }

    /// Replace an open order with a new one (new venue id, back of the queue), atomically: if the new order
    /// is refused (rules, balance, duplicate client id, post-only cross) the old one stays as it was.
    ///
    /// `old_known_filled` is how much of the old order the caller has seen filled; the new order is reduced
    /// by whatever the old one filled beyond that (`None`: no reduction, a plain modify). When the reduction
    /// leaves nothing placeable, the old order is cancelled and `new` is `None`. The new order's client id may
    /// equal the old one's (Hyperliquid's modify keeps the cloid). An IOC replacement that matches nothing has
    /// cancelled the old order and returns `IocNoMatch`.
    pub fn replace(
        &mut self,
        account: &str,
        old: &OrderRef,
        old_known_filled: Option<Decimal>,
        new: NewOrder,
        now: TimestampMs,
    ) -> Result<Replaced, SimReject> {
        self.advance_to(now);
        let a = self.account(account)?;
        let old_id = self.open_order_id(a, Some(&new.market), old)?;
        let m = self.orders[&old_id].market;
        self.markets[m]
            .book
            .validate(new.price, new.qty)
            .map_err(SimReject::Rules)?;
        if let Some(c) = &new.client_id
            && self.open_by_client(a, c).is_some_and(|id| id != old_id)
        {
            return Err(SimReject::DuplicateClientId(c.clone()));
        }
        let old_rec = &self.orders[&old_id];
        let overfill = old_known_filled
            .map(|k| (old_rec.info.filled - k).max(Decimal::ZERO))
            .unwrap_or(Decimal::ZERO);
        let qty = self.markets[m].book.rules().round_qty(new.qty - overfill);
        let reduced = self.markets[m].book.validate(new.price, qty).ok();
        let Some((price, lots)) = reduced else {
            let old = self.cancel_id(old_id, SimOrderState::Canceled);
            return Ok(Replaced {
                old,
                overfill,
                new: None,
            });
        };
        let (asset, hold) = self.hold_for(m, new.side, new.price, qty);
        let old_hold_asset = self.hold_asset(m, old_rec.info.side);
        let freed = if old_hold_asset == asset {
            old_rec.hold
        } else {
            Decimal::ZERO
        };
        let available = self.accounts[a as usize].available(&asset) + freed;
        if hold > available {
            return Err(SimReject::InsufficientBalance {
                asset,
                needed: hold,
                available,
            });
        }
        if new.tif == TimeInForce::PostOnly && self.markets[m].book.crosses(new.side, price) {
            return Err(post_only(&self.markets[m].book));
        }
        let old = self.cancel_id(old_id, SimOrderState::Canceled);
        let placed = self.submit(a, m, NewOrder { qty, ..new }, price, lots, hold)?;
        Ok(Replaced {
            old,
            overfill,
            new: Some(placed),
        })
    }

    /// An order of `account` by id or client id, open or closed.
    pub fn order(&self, account: &str, order: &OrderRef) -> Result<Option<OrderInfo>, SimReject> {
        let a = self.account(account)?;
        Ok(self.find(a, order).map(|id| self.orders[&id].info.clone()))
    }

    /// Open orders of `account`, oldest first.
    pub fn open_orders(
        &self,
        account: &str,
        market: Option<&str>,
    ) -> Result<Vec<OrderInfo>, SimReject> {
        let a = self.account(account)?;
        Ok(self.accounts[a as usize]
            .open
            .iter()
            .map(|id| &self.orders[id].info)
            .filter(|o| market.is_none_or(|m| o.market == m))
            .cloned()
            .collect())
    }

    /// Every order of `account` updated at or after `since` (open and closed), oldest first.
    pub fn orders_since(
        &self,
        account: &str,
        market: Option<&str>,
        since: TimestampMs,
    ) -> Result<Vec<OrderInfo>, SimReject> {
        let a = self.account(account)?;
        Ok(self.accounts[a as usize]
            .all
            .iter()
            .map(|id| &self.orders[id].info)
            .filter(|o| o.updated_ms >= since && market.is_none_or(|m| o.market == m))
            .cloned()
            .collect())
    }

    /// Fills of `account` at or after `since`, in execution order.
    pub fn fills_since(
        &self,
        account: &str,
        since: TimestampMs,
    ) -> Result<Vec<SimFill>, SimReject> {
        let a = self.account(account)?;
        let fills = &self.accounts[a as usize].fills;
        let start = fills.partition_point(|f| f.ts < since);
        Ok(fills[start..].to_vec())
    }

    /// Balances of `account`, by asset name.
    pub fn balances(&self, account: &str) -> Result<Vec<Balance>, SimReject> {
        let a = self.account(account)?;
        Ok(self.accounts[a as usize]
            .balances
            .iter()
            .map(|(asset, b)| Balance {
                asset: asset.clone(),
                total: b.total,
                held: b.held,
            })
            .collect())
    }

    /// One balance of `account` (zero when it never held the asset).
    pub fn balance(&self, account: &str, asset: &str) -> Result<Balance, SimReject> {
        let a = self.account(account)?;
        let b = self.accounts[a as usize]
            .balances
            .get(asset)
            .copied()
            .unwrap_or_default();
        Ok(Balance {
            asset: asset.to_string(),
            total: b.total,
            held: b.held,
        })
    }

    /// The best `levels` price levels of each side, aggregated.
    pub fn depth(&self, market: &str, levels: usize) -> Result<SimDepth, SimReject> {
        let book = &self.markets[self.market(market)?].book;
        let u = book.units();
        let conv = |side| {
            book.levels(side, levels)
                .into_iter()
                .map(|l| SimLevel {
                    price: u.price(l.price),
                    qty: u.qty(l.lots),
                    orders: l.orders,
                })
                .collect()
        };
        Ok(SimDepth {
            bids: conv(Side::Buy),
            asks: conv(Side::Sell),
            ts: self.now,
        })
    }

    /// The book's mid; without a two-sided book, the last trade price.
    pub fn mid(&self, market: &str) -> Result<Option<Decimal>, SimReject> {
        let m = &self.markets[self.market(market)?];
        Ok(m.book.mid().or(m.last_price))
    }

    /// The liquidity model's fair mid (an oracle price for benchmarks), rounded to 10 decimals.
    pub fn fair_mid(&self, market: &str) -> Result<Option<Decimal>, SimReject> {
        let m = &self.markets[self.market(market)?];
        Ok(m.liquidity
            .as_ref()
            .and_then(|l| ballast_core::model::from_f64(l.fair_mid()))
            .map(|d| d.round_dp(10).normalize()))
    }

    /// Price of the last trade on a market.
    pub fn last_price(&self, market: &str) -> Result<Option<Decimal>, SimReject> {
        Ok(self.markets[self.market(market)?].last_price)
    }

    /// The rules of every market, in configuration order (e.g. Hyperliquid asset ids follow it).
    pub fn markets(&self) -> Vec<&MarketRules> {
        self.markets.iter().map(|m| m.book.rules()).collect()
    }

    /// The rules of one market.
    pub fn market_rules(&self, market: &str) -> Option<&MarketRules> {
        self.market_ix
            .get(market)
            .map(|i| self.markets[*i].book.rules())
    }

    /// A market's book (read-only: queue positions, unit conversions).
    pub fn book(&self, market: &str) -> Option<&OrderBook> {
        self.market_ix.get(market).map(|i| &self.markets[*i].book)
    }

    /// A market's liquidity model, when it has one.
    pub fn liquidity(&self, market: &str) -> Option<&LiquidityModel> {
        self.market_ix
            .get(market)
            .and_then(|i| self.markets[*i].liquidity.as_ref())
    }

    /// Every asset the exchange knows (traded, held or with a network), in order of first appearance:
    /// markets' base and quote in configuration order, then balances and networks.
    pub fn assets(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |s: &str| {
            if !out.iter().any(|x| x == s) {
                out.push(s.to_string());
            }
        };
        for m in &self.markets {
            add(&m.book.rules().base);
            add(&m.book.rules().quote);
        }
        for a in &self.accounts {
            for k in a.balances.keys() {
                add(k);
            }
        }
        for n in &self.networks {
            add(&n.asset);
        }
        out
    }

    /// Account names, in creation order.
    pub fn accounts(&self) -> Vec<&str> {
        self.accounts.iter().map(|a| a.name.as_str()).collect()
    }

    /// Where every unit of every asset is (see [`AssetAudit::balanced`]).
    pub fn audit(&self) -> BTreeMap<String, AssetAudit> {
        let mut out = self.ledger.clone();
        for a in &self.accounts {
            for (asset, b) in &a.balances {
                let e = out.entry(asset.clone()).or_default();
                e.accounts_total += b.total;
                e.accounts_held += b.held;
            }
        }
        out
    }

    /// Sum of the holds of an account's open orders and pending withdrawals per asset, recomputed from the
    /// orders (for invariant checks: it always equals the balances' `held`).
    pub fn holds_recomputed(&self, account: &str) -> Result<BTreeMap<String, Decimal>, SimReject> {
        let a = self.account(account)?;
        let acct = &self.accounts[a as usize];
        let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
        for id in &acct.open {
            let r = &self.orders[id];
            *out.entry(self.hold_asset(r.market, r.info.side))
                .or_default() += r.hold;
        }
        for t in &acct.transfers {
            let t = &self.transfers[*t];
            if t.holds() {
                *out.entry(t.asset.clone()).or_default() += t.amount;
            }
        }
        Ok(out)
    }

    // ---- internals ----

    fn hold_asset(&self, m: usize, side: Side) -> String {
        let r = self.markets[m].book.rules();
        match side {
            Side::Buy => r.quote.clone(),
            Side::Sell => r.base.clone(),
        }
    }

    /// The asset and amount an order holds: a buy holds quote at its limit price, a sell holds base.
    fn hold_for(&self, m: usize, side: Side, price: Decimal, qty: Decimal) -> (String, Decimal) {
        let amount = match side {
            Side::Buy => price * qty,
            Side::Sell => qty,
        };
        (self.hold_asset(m, side), amount)
    }

    fn open_by_client(&self, a: u32, client: &str) -> Option<OrderId> {
        let id = *self.accounts[a as usize].by_client.get(client)?;
        (self.orders[&id].info.state == SimOrderState::Open).then_some(id)
    }

    fn find(&self, a: u32, r: &OrderRef) -> Option<OrderId> {
        match r {
            OrderRef::Id(id) => self
                .orders
                .get(id)
                .filter(|o| o.account == a)
                .map(|o| o.info.id),
            OrderRef::Client(c) => self.accounts[a as usize].by_client.get(c).copied(),
        }
    }

    fn open_order_id(
        &self,
        a: u32,
        market: Option<&str>,
        r: &OrderRef,
    ) -> Result<OrderId, SimReject> {
        let id = self.find(a, r).ok_or(SimReject::UnknownOrder)?;
        let o = &self.orders[&id].info;
        if o.state != SimOrderState::Open || market.is_some_and(|m| m != o.market) {
            return Err(SimReject::UnknownOrder);
        }
        Ok(id)
    }

    /// Enter a validated, funded order.
    fn submit(
        &mut self,
        a: u32,
        m: usize,
        order: NewOrder,
        price: PriceUnits,
        lots: Lots,
        hold: Decimal,
    ) -> Result<Placed, SimReject> {
        if order.tif == TimeInForce::PostOnly && self.markets[m].book.crosses(order.side, price) {
            return Err(post_only(&self.markets[m].book));
        }
        let now = self.now;
        let id = self.next_order_id;
        self.next_order_id += 1;
        let (hold_asset, _) = self.hold_for(m, order.side, order.price, order.qty);
        let acct = &mut self.accounts[a as usize];
        acct.bal(&hold_asset).held += hold;
        acct.open.insert(id);
        acct.all.push(id);
        if let Some(c) = &order.client_id {
            acct.by_client.insert(c.clone(), id);
        }
        let fills_before = acct.fills.len();
        self.orders.insert(
            id,
            OrderRecord {
                info: OrderInfo {
                    id,
                    client_id: order.client_id,
                    account: acct.name.clone(),
                    market: order.market,
                    side: order.side,
                    price: order.price,
                    qty: order.qty,
                    filled: Decimal::ZERO,
                    quote_filled: Decimal::ZERO,
                    tif: order.tif,
                    state: SimOrderState::Open,
                    created_ms: now,
                    updated_ms: now,
                },
                account: a,
                market: m,
                hold,
            },
        );
        self.emit_order(id, now);
        let placed = self.markets[m].book.place_units(
            id,
            Owner(a),
            order.side,
            price,
            lots,
            order.tif,
            &mut self.tape,
        );
        self.settle(m, now);
        match placed {
            Ok(p) => {
                if p.expired > 0 {
                    self.cancel_id(id, SimOrderState::Expired);
                }
            }
            Err(BookReject::IocNoMatch) => {
                self.cancel_id(id, SimOrderState::Expired);
                return Err(SimReject::IocNoMatch { order_id: id });
            }
            Err(e) => unreachable!("checked before entry: {e}"),
        }
        let fills = self.accounts[a as usize].fills[fills_before..]
            .iter()
            .filter(|f| f.order_id == id)
            .cloned()
            .collect();
        Ok(Placed {
            order: self.orders[&id].info.clone(),
            fills,
        })
    }

    /// Close an order that may still rest on the book; releases its hold.
    fn cancel_id(&mut self, id: OrderId, state: SimOrderState) -> OrderInfo {
        let r = self.orders.get_mut(&id).expect("known order");
        if r.info.state == SimOrderState::Open {
            self.markets[r.market].book.cancel(id);
            r.info.state = state;
            r.info.updated_ms = self.now;
            let (a, m, side, hold) = (r.account, r.market, r.info.side, r.hold);
            r.hold = Decimal::ZERO;
            let asset = self.hold_asset(m, side);
            let acct = &mut self.accounts[a as usize];
            acct.bal(&asset).held -= hold;
            acct.open.remove(&id);
            self.emit_order(id, self.now);
        }
        self.orders[&id].info.clone()
    }

    /// Apply the trades on the tape (all from market `m`, at time `ts`) to the accounts.
    fn settle(&mut self, m: usize, ts: TimestampMs) {
        for i in 0..self.tape.trades().len() {
            let t = self.tape.trades()[i];
            self.apply_trade(m, &t, ts);
        }
        self.tape.clear();
    }

    fn apply_trade(&mut self, m: usize, t: &Trade, ts: TimestampMs) {
        let market = &mut self.markets[m];
        let u = market.book.units();
        let price = u.price(t.price);
        market.last_price = Some(price);
        if t.maker_owner.is_background() && t.taker_owner.is_background() {
            return;
        }
        let qty = u.qty(t.lots);
        let notional = price * qty;
        let maker_side = t.taker_side.opposite();
        for (owner, order, side, liq) in [
            (t.maker_owner, t.maker_order, maker_side, Liquidity::Maker),
            (t.taker_owner, t.taker_order, t.taker_side, Liquidity::Taker),
        ] {
            if owner.is_background() {
                let (base, quote) = {
                    let r = self.markets[m].book.rules();
                    (r.base.clone(), r.quote.clone())
                };
                let sign = Decimal::from(side.sign());
                self.audit_entry(&base).background += sign * qty;
                self.audit_entry(&quote).background -= sign * notional;
            } else {
                self.apply_fill(order, t.id, price, qty, notional, liq, ts);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_fill(
        &mut self,
        order: OrderId,
        trade_id: u64,
        price: Decimal,
        qty: Decimal,
        notional: Decimal,
        liq: Liquidity,
        ts: TimestampMs,
    ) {
        let r = self.orders.get_mut(&order).expect("an account's order");
        let rules = self.markets[r.market].book.rules();
        let maker = liq == Liquidity::Maker;
        let acct = &mut self.accounts[r.account as usize];
        // A buy pays quote (held at its limit price) and receives base; a sell the other way round. The fee
        // is taken from what is received.
        let (pay, paid, release, receive, received) = match r.info.side {
            Side::Buy => (&rules.quote, notional, r.info.price * qty, &rules.base, qty),
            Side::Sell => (&rules.base, qty, qty, &rules.quote, notional),
        };
        r.hold -= release;
        let fee = rules.fee(received, maker);
        let b = acct.bal(pay);
        b.total -= paid;
        b.held -= release;
        acct.bal(receive).total += received - fee;
        let fee_asset = receive.clone();
        r.info.filled += qty;
        r.info.quote_filled += notional;
        r.info.updated_ms = ts;
        acct.fills.push(SimFill {
            trade_id,
            order_id: order,
            client_id: r.info.client_id.clone(),
            market: r.info.market.clone(),
            side: r.info.side,
            price,
            qty,
            quote_qty: notional,
            fee,
            fee_asset: fee_asset.clone(),
            liquidity: liq,
            ts,
        });
        if r.info.filled == r.info.qty {
            r.info.state = SimOrderState::Filled;
            debug_assert!(r.hold.is_zero(), "a filled order holds nothing");
            acct.open.remove(&order);
        }
        let a = r.account;
        self.audit_entry(&fee_asset).fees += fee;
        self.emit(a, ts, |ex| {
            let fill = ex.accounts[a as usize].fills.last().expect("just pushed");
            AccountEvent::Fill(fill.clone())
        });
        self.emit_order(order, ts);
    }
}

fn post_only(book: &OrderBook) -> SimReject {
    SimReject::PostOnlyWouldCross {
        bid: book.best_bid(),
        ask: book.best_ask(),
    }
}
