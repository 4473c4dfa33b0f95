//! The `[binance]` section of a local-venues file: the simulated exchange the local Binance server executes
//! on (read with the simulator's reader: `seed`, `[[binance.market]]`, `[[binance.account]]`,
//! `[[binance.network]]`), plus what only the Binance server has: API keys per account, the symbols'
//! exchangeInfo extras, rate limits, clock skew and injected faults. Documented in `docs/BINANCE.md`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use rust_decimal::Decimal;

use super::faults::{FaultKind, FaultRule};
use crate::bridge::BridgeCfg;
use ballast_reader::{Diagnostics, FromField, Obj, Problem, choice};
use ballast_sim::config::read_exchange_with;
use ballast_sim::{MarketCfg, SimExchangeCfg};
use ballast_venue_binance::signing::Verifier;

/// An API key of the local server and the account it trades as.
#[derive(Clone)]
pub struct ApiKeyCfg {
    pub account: String,
    pub api_key: String,
    /// HMAC secret (when the key is an HMAC key).
    pub secret_key: Option<String>,
    /// Ed25519 public key (PEM, base64 DER or 64 hex digits) when the key is an Ed25519 key.
    pub ed25519_public_key: Option<String>,
    pub can_trade: bool,
    pub can_withdraw: bool,
}

impl fmt::Debug for ApiKeyCfg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyCfg")
            .field("account", &self.account)
            .field(
                "api_key",
                &ballast_venue_binance::keys::redact(&self.api_key),
            )
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("ed25519_public_key", &self.ed25519_public_key)
            .field("can_trade", &self.can_trade)
            .field("can_withdraw", &self.can_withdraw)
            .finish()
    }
}

impl ApiKeyCfg {
    /// An HMAC key for `account` with every permission.
    pub fn hmac(account: &str, api_key: &str, secret: &str) -> ApiKeyCfg {
        ApiKeyCfg {
            account: account.into(),
            api_key: api_key.into(),
            secret_key: Some(secret.into()),
            ed25519_public_key: None,
            can_trade: true,
            can_withdraw: true,
        }
    }

    pub fn verifier(&self) -> Result<Verifier, String> {
        match (&self.secret_key, &self.ed25519_public_key) {
            (Some(s), None) => Ok(Verifier::hmac(s)),
            (None, Some(p)) => Verifier::ed25519_public(p).map_err(|e| e.0),
            _ => Err("give one of `secret_key` or `ed25519_public_key`".into()),
        }
    }
}

/// What exchangeInfo says about one symbol beyond its market rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolCfg {
    pub market: String,
    pub base_precision: u32,
    pub quote_precision: u32,
    /// PRICE_FILTER minPrice / maxPrice (0 disables).
    pub min_price: Decimal,
    pub max_price: Decimal,
    /// NOTIONAL maxNotional (0 disables).
    pub max_notional: Decimal,
    /// PERCENT_PRICE_BY_SIDE multipliers: bid up, bid down, ask up, ask down. None: no such filter.
    pub percent_price_by_side: Option<[Decimal; 4]>,
    pub max_num_orders: u32,
    pub cancel_replace_allowed: bool,
}

impl SymbolCfg {
    /// Binance-like defaults for a simulated market.
    pub fn default_for(m: &MarketCfg) -> SymbolCfg {
        let tick = match m.rules.grid {
            ballast_exec::PriceGrid::Tick { tick } => tick,
            _ => Decimal::new(1, 8),
        };
        SymbolCfg {
            market: m.rules.market.clone(),
            base_precision: 8,
            quote_precision: 8,
            min_price: tick,
            max_price: Decimal::from(1000),
            max_notional: Decimal::from(9_000_000),
            percent_price_by_side: Some([
                Decimal::new(5, 0),
                Decimal::new(2, 1),
                Decimal::new(5, 0),
                Decimal::new(2, 1),
            ]),
            max_num_orders: 200,
            cancel_replace_allowed: true,
        }
    }
}

/// The server's rate limits (`exchangeInfo.rateLimits`) and ban policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitsCfg {
    pub request_weight_per_minute: u64,
    pub orders_per_10s: u64,
    pub orders_per_day: u64,
    pub raw_requests_per_5m: u64,
    /// After this many requests refused with 429 within one window, the IP is banned (418).
    pub ban_after: u32,
    pub ban_for: Duration,
}

impl Default for LimitsCfg {
    fn default() -> Self {
        LimitsCfg {
            request_weight_per_minute: 6000,
            orders_per_10s: 100,
            orders_per_day: 200_000,
            raw_requests_per_5m: 61_000,
            ban_after: 5,
            ban_for: Duration::from_secs(120),
        }
    }
}

/// The whole local Binance server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub exchange: SimExchangeCfg,
    pub keys: Vec<ApiKeyCfg>,
    /// One per market of the exchange (defaults filled in).
    pub symbols: Vec<SymbolCfg>,
    pub limits: LimitsCfg,
    /// The server's clock runs this far ahead (negative: behind) of the machine's.
    pub clock_skew_ms: i64,
    /// Faults injected from the start (see [`super::faults`]).
    pub faults: Vec<FaultRule>,
    /// Where `ballast venues serve` listens (loopback; port 0 = any free port). Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// How often the background task runs the markets and completes transfers.
    pub tick: Duration,
    /// `[binance.bridge]`: chains whose transfers the server credits and pays out (see
    /// [`crate::bridge`]).
    pub bridge: Option<BridgeCfg>,
}

impl ServerConfig {
    /// A server over `exchange` with these keys and defaults for the rest.
    pub fn new(exchange: SimExchangeCfg, keys: Vec<ApiKeyCfg>) -> ServerConfig {
        let symbols = exchange
            .markets
            .iter()
            .map(SymbolCfg::default_for)
            .collect();
        ServerConfig {
            exchange,
            keys,
            symbols,
            limits: LimitsCfg::default(),
            clock_skew_ms: 0,
            faults: Vec::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tick: Duration::from_millis(100),
            bridge: None,
        }
    }

    /// Parse a local-venues file and read its `[binance]` section.
    pub fn parse(file: &str, src: &str) -> Result<ServerConfig, Vec<Problem>> {
        let mut d = Diagnostics::new(file, src);
        let doc = match toml_edit::Document::parse(src.to_string()) {
            Ok(doc) => doc,
            Err(e) => {
                d.error(
                    e.span(),
                    "",
                    format!("invalid TOML: {}", e.message().trim()),
                );
                return Err(d.problems);
            }
        };
        let mut root = Obj::root(&doc);
        let cfg = match root.obj(&mut d, "binance") {
            Some(mut o) => {
                let c = read(&mut o, &mut d);
                o.finish(&mut d);
                c
            }
            None => {
                d.error(Some(0..0), "binance", "missing section `[binance]`");
                None
            }
        };
        for (k, _) in doc.as_table().iter() {
            root.allow(k);
        }
        match cfg {
            Some(c) if !d.has_errors() => Ok(c),
            _ => Err(d.problems),
        }
    }
}

fn decimal_nonneg(o: &mut Obj, d: &mut Diagnostics, key: &str, slot: &mut Decimal) {
    if let Some(f) = o.field(key)
        && let Some(v) = Decimal::from_field(&f, d)
    {
        if v < Decimal::ZERO {
            f.invalid(d, format!("{v} is negative"));
        } else {
            *slot = v;
        }
    }
}

/// Read a `[binance]` table (the caller finishes it). Every problem goes to `d` with its line.
pub fn read(o: &mut Obj, d: &mut Diagnostics) -> Option<ServerConfig> {
    let before = d.problems.len();
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let listen = match o.field("listen") {
        Some(f) => match String::from_field(&f, d).map(|s| (s.parse::<SocketAddr>(), s)) {
            Some((Ok(a), _)) => a,
            Some((Err(_), s)) => {
                f.invalid(
                    d,
                    format!("{s:?} is not an address such as \"127.0.0.1:8091\""),
                );
                any_port
            }
            None => any_port,
        },
        None => any_port,
    };
    let clock_skew_ms = o.or(d, "clock_skew_ms", 0i64);
    let tick = o.or(d, "tick", Duration::from_millis(100));

    let mut limits = LimitsCfg::default();
    if let Some(mut l) = o.obj(d, "limits") {
        limits.request_weight_per_minute = l.or(
            d,
            "request_weight_per_minute",
            limits.request_weight_per_minute,
        );
        limits.orders_per_10s = l.or(d, "orders_per_10s", limits.orders_per_10s);
        limits.orders_per_day = l.or(d, "orders_per_day", limits.orders_per_day);
        limits.raw_requests_per_5m = l.or(d, "raw_requests_per_5m", limits.raw_requests_per_5m);
        limits.ban_after = l.or(d, "ban_after", limits.ban_after);
        limits.ban_for = l.or(d, "ban_for", limits.ban_for);
        l.finish(d);
    }

    let mut faults = Vec::new();
    if let Some(f) = o.field("fault") {
        for mut x in f.objs(d) {
            if let Some(rule) = read_fault(&mut x, d) {
                faults.push(rule);
            }
            x.finish(d);
        }
    }

    let mut symbol_tables = Vec::new();
    if let Some(f) = o.field("symbol") {
        for mut x in f.objs(d) {
            let market: Option<String> = x.req(d, "market");
            symbol_tables.push((market, x));
        }
    }

    let mut keys: Vec<ApiKeyCfg> = Vec::new();
    let exchange = read_exchange_with(o, d, &mut |account, a, d| {
        let api_key: Option<String> = a.opt(d, "api_key").ok().flatten();
        let secret_key = secret(a, d, "secret_key", "secret_key_env");
        let ed25519_public_key: Option<String> = a.opt(d, "ed25519_public_key").ok().flatten();
        let can_trade = a.or(d, "can_trade", true);
        let can_withdraw = a.or(d, "can_withdraw", true);
        let Some(api_key) = api_key else {
            if secret_key.is_some() || ed25519_public_key.is_some() {
                d.error(a.span.clone(), &a.path, "missing key `api_key`");
            }
            return;
        };
        let k = ApiKeyCfg {
            account: account.to_string(),
            api_key,
            secret_key,
            ed25519_public_key,
            can_trade,
            can_withdraw,
        };
        if let Err(e) = k.verifier() {
            d.error(a.span.clone(), &a.path, e);
            return;
        }
        if keys.iter().any(|x| x.api_key == k.api_key) {
            d.error(
                a.span.clone(),
                format!("{}.api_key", a.path),
                "this API key is used twice",
            );
            return;
        }
        keys.push(k);
    });

    let mut symbols: Vec<SymbolCfg> = match &exchange {
        Some(ex) => ex.markets.iter().map(SymbolCfg::default_for).collect(),
        None => Vec::new(),
    };
    for (market, mut x) in symbol_tables {
        let Some(market) = market else {
            x.finish(d);
            continue;
        };
        let Some(s) = symbols.iter_mut().find(|s| s.market == market) else {
            d.error(
                x.span.clone(),
                format!("{}.market", x.path),
                format!("no [[binance.market]] named {market:?}"),
            );
            x.finish(d);
            continue;
        };
        for (key, slot) in [
            ("base_precision", &mut s.base_precision),
            ("quote_precision", &mut s.quote_precision),
            ("max_num_orders", &mut s.max_num_orders),
        ] {
            *slot = x.or(d, key, *slot);
        }
        decimal_nonneg(&mut x, d, "min_price", &mut s.min_price);
        decimal_nonneg(&mut x, d, "max_price", &mut s.max_price);
        decimal_nonneg(&mut x, d, "max_notional", &mut s.max_notional);
        s.cancel_replace_allowed = x.or(d, "cancel_replace_allowed", s.cancel_replace_allowed);
        if let Some(f) = x.field("percent_price_by_side") {
            match f.item.as_bool() {
                Some(false) => s.percent_price_by_side = None,
                _ => {
                    if let Some(mut p) = f.obj(d) {
                        let mut m = s.percent_price_by_side.unwrap_or([Decimal::ZERO; 4]);
                        for (i, key) in [
                            "bid_multiplier_up",
                            "bid_multiplier_down",
                            "ask_multiplier_up",
                            "ask_multiplier_down",
                        ]
                        .iter()
                        .enumerate()
                        {
                            decimal_nonneg(&mut p, d, key, &mut m[i]);
                        }
                        p.finish(d);
                        s.percent_price_by_side = Some(m);
                    }
                }
            }
        }
        x.finish(d);
    }
    let bridge = match o.obj(d, "bridge") {
        Some(mut b) => {
            let mut networks: Vec<String> = Vec::new();
            for n in exchange.iter().flat_map(|e| &e.networks) {
                if !networks.contains(&n.network) {
                    networks.push(n.network.clone());
                }
            }
            let c = crate::bridge::read_config(&mut b, d, &networks);
            b.finish(d);
            c
        }
        None => None,
    };
    let exchange = exchange?;
    (d.problems.len() == before).then_some(ServerConfig {
        exchange,
        keys,
        symbols,
        limits,
        clock_skew_ms,
        faults,
        listen,
        tick,
        bridge,
    })
}

/// A secret given literally (`key`) or through an environment variable (`env_key`).
fn secret(o: &mut Obj, d: &mut Diagnostics, key: &str, env_key: &str) -> Option<String> {
    let literal: Option<String> = o.opt(d, key).ok().flatten();
    let env = o.field(env_key);
    match (literal, env) {
        (Some(_), Some(f)) => {
            f.invalid(d, format!("give `{key}` or `{env_key}`, not both"));
            None
        }
        (Some(v), None) => Some(v),
        (None, Some(f)) => {
            let name = String::from_field(&f, d)?;
            match std::env::var(&name) {
                Ok(v) if !v.is_empty() => Some(v),
                _ => {
                    f.invalid(d, format!("environment variable {name} is not set"));
                    None
                }
            }
        }
        (None, None) => None,
    }
}

fn read_fault(x: &mut Obj, d: &mut Diagnostics) -> Option<FaultRule> {
    let endpoint: Option<String> = x.req(d, "endpoint");
    let count = x.or(d, "count", 1u32);
    let kind_f = x.field("kind");
    let retry_after = x.or(d, "retry_after", Duration::from_secs(1));
    let status = x.or(d, "status", 503u16);
    let delay = x.or(d, "delay", Duration::from_secs(1));
    let executed = x.or(d, "executed", true);
    let Some(kf) = kind_f else {
        d.error(x.span.clone(), &x.path, "missing key `kind`");
        return None;
    };
    #[derive(Clone, Copy)]
    enum K {
        RateLimit,
        Ban,
        ServerError,
        Timeout,
        Delay,
        Drop,
        Hang,
    }
    let k = choice(
        &kf,
        d,
        &[
            ("rate_limit", K::RateLimit),
            ("ban", K::Ban),
            ("server_error", K::ServerError),
            ("timeout", K::Timeout),
            ("delay", K::Delay),
            ("drop", K::Drop),
            ("hang", K::Hang),
        ],
    )?;
    let kind = match k {
        K::RateLimit => FaultKind::RateLimit { retry_after },
        K::Ban => FaultKind::Ban { retry_after },
        K::ServerError => {
            if !(500..=599).contains(&status) {
                kf.invalid(d, format!("status {status} is not a 5xx status"));
                return None;
            }
            FaultKind::ServerError { status, executed }
        }
        K::Timeout => FaultKind::Timeout { executed },
        K::Delay => FaultKind::Delay { delay },
        K::Drop => FaultKind::Drop { executed },
        K::Hang => FaultKind::Hang { executed },
    };
    Some(FaultRule {
        endpoint: endpoint?,
        kind,
        count,
    })
}
