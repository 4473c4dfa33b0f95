//! The one place where the local server touches the simulated exchange ([`SimExchange`]): Hyperliquid's names
//! (asset ids, coins, tokens, oids, cloids, statuses, error strings) on one side, the simulator's on the
//! other.
//!
//! Spot pairs get an index (`asset = 10000 + index`) in configuration order unless overridden; the pair at
//! index 0 is named `BASE/QUOTE` (as `PURR/USDC` is on the venue), the others `@index`. Tokens get indices
//! with USDC at 0. A pair's size decimals are its base token's `szDecimals`, and its price grid must be the
//! venue's spot grid (5 significant figures, `8 - szDecimals` decimals).

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;

use ballast_core::model::{Side, TimestampMs};
use ballast_exec::{Liquidity, PriceGrid, TimeInForce};
use ballast_sim::{
    NetworkCfg, NewOrder, OrderInfo, OrderRef, SimExchange, SimExchangeCfg, SimFill, SimOrderState,
    SimReject,
};
use ballast_venue_hyperliquid::errors;
use ballast_venue_hyperliquid::format::{self, SPOT_MAX_DECIMALS};
use ballast_venue_hyperliquid::info::{
    AllMids, FrontendOrder, L2Book, L2Level, OpenOrder, OrderStatusAnswer, OrderWithStatus,
    SpotAssetCtx, SpotBalance, SpotMeta, SpotPair, SpotToken, UserFill,
};
use ballast_venue_hyperliquid::wire::{
    Cloid, Dec, FilledWire, OidRef, OrderTypeWire, OrderWire, RestingWire, StatusEntry, Tif,
};

/// The mainnet token id of USDC.
pub const USDC_TOKEN_ID: &str = "0x6d1e7cde53ba9467b783cb7c530ce054";
/// The simulator network internal transfers go through (no fee, no delay).
const INTERNAL_NETWORK: &str = "HYPERCORE";

/// A spot pair in the venue's terms.
#[derive(Clone, Debug)]
pub struct HlMarket {
    /// The simulator's market name (`USDT0/USDC`).
    pub sim: String,
    /// `/info` coin name: `@index`, or `BASE/QUOTE` for index 0.
    pub coin: String,
    pub index: u32,
    pub asset: u32,
    pub base: String,
    pub quote: String,
    pub sz_decimals: u32,
}

/// Index overrides, to mimic the venue's ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Indices {
    /// Sim market name -> spot pair index.
    pub pairs: BTreeMap<String, u32>,
    /// Token name -> token index.
    pub tokens: BTreeMap<String, u32>,
    /// Token name -> its linked HyperEVM ERC-20 (address, `evm_extra_wei_decimals`): spotMeta shows it as
    /// `evmContract`, and the token crosses to and from HyperEVM through its system address.
    pub evm: BTreeMap<String, (alloy::primitives::Address, i32)>,
}

/// The simulated exchange with Hyperliquid's names.
pub struct Engine {
    ex: SimExchange,
    meta: SpotMeta,
    markets: Vec<HlMarket>,
    by_asset: HashMap<u32, usize>,
    by_coin: HashMap<String, usize>,
    by_sim: HashMap<String, usize>,
    tokens: HashMap<String, u32>,
    /// Statuses the simulator has no word for (`scheduledCancel`, `iocCancelRejected`), by oid.
    status_override: HashMap<u64, &'static str>,
}

fn token_id(name: &str) -> String {
    if name == "USDC" {
        return USDC_TOKEN_ID.to_string();
    }
    use sha2::{Digest, Sha256};
    format!("0x{}", hex::encode(&Sha256::digest(name.as_bytes())[..16]))
}

fn sz_decimals_of(lot: Decimal) -> Option<u32> {
    let n = lot.normalize();
    (n.mantissa() == 1 && n.scale() <= SPOT_MAX_DECIMALS).then_some(n.scale())
}

fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "B",
        Side::Sell => "A",
    }
}

fn tif_str(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::PostOnly => "Alo",
        TimeInForce::Gtc => "Gtc",
        TimeInForce::Ioc => "Ioc",
    }
}

fn sim_reject_text(r: &SimReject, m: &HlMarket) -> String {
    match r {
        SimReject::Rules(v) => errors::with_asset(&format::venue_error_text(v, &m.quote), m.asset),
        SimReject::PostOnlyWouldCross { bid, ask } => {
            let p = |x: &Option<Decimal>| x.map(format::wire).unwrap_or_else(|| "0".into());
            errors::alo_would_cross(&p(bid), &p(ask), m.asset)
        }
        SimReject::IocNoMatch { .. } => errors::with_asset(errors::IOC_NO_MATCH, m.asset),
        SimReject::InsufficientBalance { .. } => {
            errors::with_asset(errors::INSUFFICIENT_SPOT, m.asset)
        }
        SimReject::DuplicateClientId(_) => errors::DUPLICATE_CLOID.to_string(),
        SimReject::UnknownOrder => errors::MISSING_ORDER.to_string(),
        other => other.to_string(),
    }
}

impl Engine {
    /// Build the exchange. `cfg.markets` must follow the venue's spot rules.
    pub fn new(
        cfg: &SimExchangeCfg,
        idx: &Indices,
        start_ms: TimestampMs,
    ) -> Result<Engine, String> {
        let mut cfg = cfg.clone();
        // Token sizes from the markets whose base they are.
        let mut token_sz: BTreeMap<String, u32> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for m in &cfg.markets {
            let r = &m.rules;
            let sz = sz_decimals_of(r.lot).ok_or_else(|| {
                format!(
                    "market {}: the lot {} is not a power of ten of at most 8 decimals (Hyperliquid sizes have szDecimals)",
                    r.market, r.lot
                )
            })?;
            let want = PriceGrid::SigFigs {
                sig_figs: format::PRICE_SIG_FIGS,
                max_decimals: SPOT_MAX_DECIMALS - sz,
            };
            if r.grid != want {
                return Err(format!(
                    "market {}: Hyperliquid spot prices have 5 significant figures and 8 - szDecimals = {} decimals (sig_figs = 5, max_decimals = {})",
                    r.market,
                    SPOT_MAX_DECIMALS - sz,
                    SPOT_MAX_DECIMALS - sz
                ));
            }
            if let Some(prev) = token_sz.insert(r.base.clone(), sz)
                && prev != sz
            {
                return Err(format!(
                    "token {} is the base of pairs with different lots: a token has one szDecimals",
                    r.base
                ));
            }
            for t in [&r.base, &r.quote] {
                if !order.contains(t) {
                    order.push(t.clone());
                }
            }
        }
        for a in &cfg.accounts {
            for t in a.balances.keys() {
                if !order.contains(t) {
                    order.push(t.clone());
                }
            }
        }
        // Token indices: USDC 0, overrides, then the rest in order of appearance.
        let mut tokens: HashMap<String, u32> = HashMap::new();
        let mut used: std::collections::BTreeSet<u32> = idx.tokens.values().copied().collect();
        if order.iter().any(|t| t == "USDC") && !idx.tokens.contains_key("USDC") {
            if used.contains(&0) {
                return Err("token index 0 is USDC's".into());
            }
            tokens.insert("USDC".into(), 0);
            used.insert(0);
        }
        let mut next = 1;
        for t in &order {
            if let Some(i) = idx.tokens.get(t) {
                tokens.insert(t.clone(), *i);
            } else if !tokens.contains_key(t) {
                while used.contains(&next) {
                    next += 1;
                }
                tokens.insert(t.clone(), next);
                used.insert(next);
            }
        }
        let mut meta = SpotMeta::default();
        for t in &order {
            meta.tokens.push(SpotToken {
                name: t.clone(),
                sz_decimals: token_sz.get(t).copied().unwrap_or(8),
                wei_decimals: 8,
                index: tokens[t],
                token_id: token_id(t),
                is_canonical: true,
                evm_contract: idx.evm.get(t).map(|(a, extra)| {
                    serde_json::json!({"address": format!("{a:#x}"), "evm_extra_wei_decimals": extra})
                }),
                full_name: None,
            });
        }
        meta.tokens.sort_by_key(|t| t.index);
        // Pairs.
        let mut markets = Vec::new();
        let mut used_pairs: std::collections::BTreeSet<u32> = idx.pairs.values().copied().collect();
        let mut next = 0;
        for m in &cfg.markets {
            let r = &m.rules;
            let index = match idx.pairs.get(&r.market) {
                Some(i) => *i,
                None => {
                    while used_pairs.contains(&next) {
                        next += 1;
                    }
                    used_pairs.insert(next);
                    next
                }
            };
            let coin = if index == 0 {
                format!("{}/{}", r.base, r.quote)
            } else {
                format!("@{index}")
            };
            meta.universe.push(SpotPair {
                name: coin.clone(),
                tokens: [tokens[&r.base], tokens[&r.quote]],
                index,
                is_canonical: index == 0,
            });
            markets.push(HlMarket {
                sim: r.market.clone(),
                coin,
                index,
                asset: 10_000 + index,
                base: r.base.clone(),
                quote: r.quote.clone(),
                sz_decimals: token_sz[&r.base],
            });
        }
        meta.universe.sort_by_key(|p| p.index);
        for t in &order {
            if !cfg
                .networks
                .iter()
                .any(|n| &n.asset == t && n.network == INTERNAL_NETWORK)
            {
                cfg.networks.push(NetworkCfg {
                    asset: t.clone(),
                    network: INTERNAL_NETWORK.into(),
                    withdraw_fee: Decimal::ZERO,
                    withdraw_min: Decimal::ZERO,
                    withdraw_delay_ms: 0,
                    deposit_delay_ms: 0,
                });
            }
        }
        let ex = SimExchange::new(&cfg, start_ms).map_err(|e| e.to_string())?;
        let mut e = Engine {
            ex,
            meta,
            by_asset: HashMap::new(),
            by_coin: HashMap::new(),
            by_sim: HashMap::new(),
            markets: Vec::new(),
            tokens,
            status_override: HashMap::new(),
        };
        for (i, m) in markets.into_iter().enumerate() {
            e.by_asset.insert(m.asset, i);
            e.by_coin.insert(m.coin.clone(), i);
            e.by_sim.insert(m.sim.clone(), i);
            e.markets.push(m);
        }
        Ok(e)
    }

    /// Run the markets up to `now`.
    pub fn advance_to(&mut self, now: TimestampMs) {
        self.ex.advance_to(now);
    }

    pub fn now(&self) -> TimestampMs {
        self.ex.now()
    }

    pub fn spot_meta(&self) -> &SpotMeta {
        &self.meta
    }

    /// A token linked to HyperEVM: (index, the decimals its HyperEVM amounts have).
    pub fn evm_link(&self, token: &str) -> Option<(u32, u32)> {
        let t = self.meta.tokens.iter().find(|t| t.name == token)?;
        let extra = t
            .evm_contract
            .as_ref()?
            .get("evm_extra_wei_decimals")?
            .as_i64()?;
        Some((t.index, (i64::from(t.wei_decimals) + extra).max(0) as u32))
    }

    /// The token of a system address, if it is linked.
    pub fn evm_token_at(&self, system: &alloy::primitives::Address) -> Option<String> {
        let index = ballast_venue_hyperliquid::wallet::system_token(system)?;
        let t = self.meta.tokens.iter().find(|t| t.index == index)?;
        self.evm_link(&t.name).map(|_| t.name.clone())
    }

    pub fn markets(&self) -> &[HlMarket] {
        &self.markets
    }

    pub fn market_by_asset(&self, asset: u32) -> Option<&HlMarket> {
        self.by_asset.get(&asset).map(|i| &self.markets[*i])
    }

    /// By coin (`@index`, the index-0 pair's name) or by the simulator's name.
    pub fn market_by_coin(&self, coin: &str) -> Option<&HlMarket> {
        self.by_coin
            .get(coin)
            .or_else(|| self.by_sim.get(coin))
            .map(|i| &self.markets[*i])
    }

    fn market_of_sim(&self, sim: &str) -> &HlMarket {
        &self.markets[self.by_sim[sim]]
    }

    /// The name of a token from spotSend's `NAME:tokenId` (the id must match).
    pub fn token_by_wire(&self, wire: &str) -> Option<String> {
        let (name, id) = wire.split_once(':')?;
        (self.tokens.contains_key(name) && token_id(name).eq_ignore_ascii_case(id))
            .then(|| name.to_string())
    }

    /// Create an account (idempotent).
    pub fn open_account(&mut self, name: &str) {
        self.ex.open_account(name);
    }

    /// Does the account hold anything at all?
    pub fn has_funds(&self, account: &str) -> bool {
        self.ex
            .balances(account)
            .map(|b| b.iter().any(|b| !b.total.is_zero()))
            .unwrap_or(false)
    }

    /// Free spot balance of a token.
    pub fn available(&self, account: &str, token: &str) -> Decimal {
        self.ex
            .balance(account, token)
            .map(|b| b.total - b.held)
            .unwrap_or(Decimal::ZERO)
    }

    /// Take a spot amount out of an account (to another account, to perp, off the venue).
    pub fn debit(
        &mut self,
        account: &str,
        token: &str,
        amount: Decimal,
        now: TimestampMs,
    ) -> Result<(), String> {
        self.ex
            .withdraw(account, token, INTERNAL_NETWORK, "", amount, None, now)
            .map(|_| ())
            .map_err(|e| match e {
                SimReject::InsufficientBalance { .. } => "Insufficient balance.".to_string(),
                other => other.to_string(),
            })
    }

    /// Put a spot amount into an account.
    pub fn credit(&mut self, account: &str, token: &str, amount: Decimal) -> Result<(), String> {
        self.ex.open_account(account);
        self.ex
            .credit(account, token, amount)
            .map_err(|e| e.to_string())
    }

    fn new_order(&self, m: &HlMarket, o: &OrderWire) -> Result<NewOrder, String> {
        let tif = match &o.t {
            OrderTypeWire::Limit(l) => match l.tif {
                Tif::Alo => TimeInForce::PostOnly,
                Tif::Gtc => TimeInForce::Gtc,
                Tif::Ioc => TimeInForce::Ioc,
            },
            OrderTypeWire::Trigger(_) => return Err(errors::TRIGGER_UNSUPPORTED.to_string()),
        };
        let rules = self
            .ex
            .market_rules(&m.sim)
            .expect("engine markets are the simulator's");
        if let Err(v) = rules.check(o.p.0, o.s.0) {
            return Err(errors::with_asset(
                &format::venue_error_text(&v, &m.quote),
                m.asset,
            ));
        }
        Ok(NewOrder {
            market: m.sim.clone(),
            side: if o.b { Side::Buy } else { Side::Sell },
            price: o.p.0,
            qty: o.s.0,
            tif,
            client_id: o.c.as_ref().map(|c| c.as_str().to_string()),
        })
    }

    fn entry_of(&self, info: &OrderInfo) -> StatusEntry {
        let cloid = info.client_id.as_deref().and_then(Cloid::parse);
        match info.state {
            SimOrderState::Open => StatusEntry::Resting(RestingWire {
                oid: info.id,
                cloid,
            }),
            _ => StatusEntry::Filled(FilledWire {
                total_sz: Dec(info.filled),
                avg_px: Dec(info.avg_price().unwrap_or(info.price)),
                oid: info.id,
                cloid,
            }),
        }
    }

    fn reject(&mut self, m: &HlMarket, r: SimReject) -> StatusEntry {
        if let SimReject::IocNoMatch { order_id } = r {
            self.status_override.insert(order_id, "iocCancelRejected");
        }
        StatusEntry::Error(sim_reject_text(&r, m))
    }

    /// Place one order for `account`.
    pub fn place(&mut self, account: &str, o: &OrderWire, now: TimestampMs) -> StatusEntry {
        let Some(m) = self.market_by_asset(o.a).cloned() else {
            return StatusEntry::Error(errors::UNKNOWN_ASSET.into());
        };
        let new = match self.new_order(&m, o) {
            Ok(n) => n,
            Err(msg) => return StatusEntry::Error(msg),
        };
        match self.ex.place(account, new, now) {
            Ok(p) => self.entry_of(&p.order),
            Err(r) => self.reject(&m, r),
        }
    }

    /// Modify (cancel and replace) the order `oid` of `account`; the new order gets a new oid.
    pub fn modify(
        &mut self,
        account: &str,
        oid: &OidRef,
        o: &OrderWire,
        now: TimestampMs,
    ) -> StatusEntry {
        let Some(m) = self.market_by_asset(o.a).cloned() else {
            return StatusEntry::Error(errors::UNKNOWN_ASSET.into());
        };
        let new = match self.new_order(&m, o) {
            Ok(n) => n,
            Err(msg) => return StatusEntry::Error(msg),
        };
        match self.ex.replace(account, &sim_ref(oid), None, new, now) {
            Ok(r) => match r.new {
                Some(p) => self.entry_of(&p.order),
                None => StatusEntry::Error(errors::MODIFY_MISSING.into()),
            },
            Err(SimReject::UnknownOrder) => StatusEntry::Error(errors::MODIFY_MISSING.into()),
            Err(r) => self.reject(&m, r),
        }
    }

    /// Cancel an order of `account` on the pair `asset`.
    pub fn cancel(
        &mut self,
        account: &str,
        asset: u32,
        oid: &OidRef,
        now: TimestampMs,
    ) -> StatusEntry {
        let Some(m) = self.market_by_asset(asset).cloned() else {
            return StatusEntry::Error(errors::MISSING_ORDER.into());
        };
        match self.ex.cancel(account, Some(&m.sim), &sim_ref(oid), now) {
            Ok(_) => StatusEntry::Success,
            Err(_) => StatusEntry::Error(errors::MISSING_ORDER.into()),
        }
    }

    /// Cancel every open order of `account`, marking them with `status`.
    pub fn cancel_all(&mut self, account: &str, now: TimestampMs, status: &'static str) -> usize {
        match self.ex.cancel_all(account, None, now) {
            Ok(v) => {
                for o in &v {
                    self.status_override.insert(o.id, status);
                }
                v.len()
            }
            Err(_) => 0,
        }
    }

    fn status_of(&self, o: &OrderInfo) -> String {
        if let Some(s) = self.status_override.get(&o.id) {
            return (*s).to_string();
        }
        match o.state {
            SimOrderState::Open => "open",
            SimOrderState::Filled => "filled",
            SimOrderState::Canceled => "canceled",
            SimOrderState::Expired if o.filled.is_zero() => "iocCancelRejected",
            SimOrderState::Expired => "canceled",
        }
        .to_string()
    }

    fn frontend(&self, o: &OrderInfo) -> FrontendOrder {
        let m = self.market_of_sim(&o.market);
        let remaining = if o.state == SimOrderState::Filled {
            Decimal::ZERO
        } else {
            o.qty - o.filled
        };
        FrontendOrder {
            coin: m.coin.clone(),
            side: side_str(o.side).into(),
            limit_px: Dec(o.price),
            sz: Dec(remaining),
            oid: o.id,
            timestamp: o.created_ms,
            trigger_condition: "N/A".into(),
            is_trigger: false,
            trigger_px: Dec(Decimal::ZERO),
            children: Vec::new(),
            is_position_tpsl: false,
            reduce_only: false,
            order_type: "Limit".into(),
            orig_sz: Dec(o.qty),
            tif: Some(tif_str(o.tif).into()),
            cloid: o.client_id.as_deref().and_then(Cloid::parse),
        }
    }

    /// `orderStatus` by oid or cloid.
    pub fn order_status(&self, account: &str, oid: &OidRef) -> OrderStatusAnswer {
        match self.ex.order(account, &sim_ref(oid)) {
            Ok(Some(o)) => OrderStatusAnswer::Order {
                order: Box::new(OrderWithStatus {
                    order: self.frontend(&o),
                    status: self.status_of(&o),
                    status_timestamp: o.updated_ms,
                }),
            },
            _ => OrderStatusAnswer::UnknownOid,
        }
    }

    pub fn open_orders(&self, account: &str) -> Vec<OpenOrder> {
        self.ex
            .open_orders(account, None)
            .unwrap_or_default()
            .iter()
            .map(|o| {
                let f = self.frontend(o);
                OpenOrder {
                    coin: f.coin,
                    limit_px: f.limit_px,
                    oid: f.oid,
                    side: f.side,
                    sz: f.sz,
                    timestamp: f.timestamp,
                    cloid: f.cloid,
                }
            })
            .collect()
    }

    pub fn frontend_open_orders(&self, account: &str) -> Vec<FrontendOrder> {
        self.ex
            .open_orders(account, None)
            .unwrap_or_default()
            .iter()
            .map(|o| self.frontend(o))
            .collect()
    }

    fn user_fill(&self, f: &SimFill) -> UserFill {
        use sha2::{Digest, Sha256};
        let m = self.market_of_sim(&f.market);
        UserFill {
            coin: m.coin.clone(),
            px: Dec(f.price),
            sz: Dec(f.qty),
            side: side_str(f.side).into(),
            time: f.ts,
            start_position: Dec(Decimal::ZERO),
            dir: match f.side {
                Side::Buy => "Buy".into(),
                Side::Sell => "Sell".into(),
            },
            closed_pnl: Dec(Decimal::ZERO),
            hash: format!(
                "0x{}",
                hex::encode(Sha256::digest(format!("fill-{}", f.trade_id)))
            ),
            oid: f.order_id,
            crossed: f.liquidity == Liquidity::Taker,
            fee: Dec(f.fee),
            tid: f.trade_id,
            fee_token: f.fee_asset.clone(),
            cloid: None,
        }
    }

    /// Fills of `account` with `start <= time <= end`, oldest first.
    pub fn fills(
        &self,
        account: &str,
        start: TimestampMs,
        end: Option<TimestampMs>,
    ) -> Vec<UserFill> {
        self.ex
            .fills_since(account, start)
            .unwrap_or_default()
            .iter()
            .filter(|f| end.is_none_or(|e| f.ts <= e))
            .map(|f| self.user_fill(f))
            .collect()
    }

    /// Traded notional of `account` (its rate-limit volume).
    pub fn cum_volume(&self, account: &str) -> Decimal {
        self.ex
            .fills_since(account, 0)
            .unwrap_or_default()
            .iter()
            .map(|f| f.quote_qty)
            .sum()
    }

    pub fn spot_balances(&self, account: &str) -> Vec<SpotBalance> {
        let mut out: Vec<SpotBalance> = self
            .ex
            .balances(account)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|b| {
                Some(SpotBalance {
                    token: *self.tokens.get(&b.asset)?,
                    coin: b.asset,
                    hold: Dec(b.held),
                    total: Dec(b.total),
                    entry_ntl: Dec(Decimal::ZERO),
                })
            })
            .collect();
        out.sort_by_key(|b| b.token);
        out
    }

    /// At most 20 levels a side.
    pub fn l2_book(&self, coin: &str) -> Option<L2Book> {
        let m = self.market_by_coin(coin)?;
        let d = self.ex.depth(&m.sim, 20).ok()?;
        let lv = |v: &Vec<ballast_sim::SimLevel>| {
            v.iter()
                .map(|l| L2Level {
                    px: Dec(l.price),
                    sz: Dec(l.qty),
                    n: l.orders,
                })
                .collect()
        };
        Some(L2Book {
            coin: m.coin.clone(),
            time: d.ts,
            levels: [lv(&d.bids), lv(&d.asks)],
        })
    }

    fn mid(&self, m: &HlMarket) -> Option<Decimal> {
        self.ex.mid(&m.sim).ok().flatten().map(|p| p.normalize())
    }

    pub fn all_mids(&self) -> AllMids {
        self.markets
            .iter()
            .filter_map(|m| Some((m.coin.clone(), Dec(self.mid(m)?))))
            .collect()
    }

    pub fn asset_ctxs(&self) -> Vec<SpotAssetCtx> {
        self.markets
            .iter()
            .map(|m| {
                let mid = self.mid(m);
                let mark = mid
                    .or_else(|| self.ex.last_price(&m.sim).ok().flatten())
                    .unwrap_or(Decimal::ZERO);
                SpotAssetCtx {
                    day_ntl_vlm: Dec(Decimal::ZERO),
                    mark_px: Dec(mark),
                    mid_px: mid.map(Dec),
                    prev_day_px: Dec(mark),
                    circulating_supply: Dec(Decimal::ZERO),
                    coin: m.coin.clone(),
                    total_supply: Dec(Decimal::ZERO),
                    day_base_vlm: Dec(Decimal::ZERO),
                }
            })
            .collect()
    }

    /// The simulator itself (tests drive markets and inspect invariants through it).
    pub fn sim(&mut self) -> &mut SimExchange {
        &mut self.ex
    }
}

fn sim_ref(oid: &OidRef) -> OrderRef {
    match oid {
        OidRef::Oid(o) => OrderRef::Id(*o),
        OidRef::Cloid(c) => OrderRef::Client(c.as_str().to_string()),
    }
}
