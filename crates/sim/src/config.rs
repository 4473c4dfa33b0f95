//! Configuration of a simulated exchange (markets, liquidity, accounts, networks) and of a simulated venue,
//! read from a TOML table with the span-keeping reader so every problem has its line and path. The local
//! Hyperliquid and Binance servers read their `[hyperliquid]` / `[binance]` sections with
//! [`read_exchange`]; a `[[venue]]` of kind `sim` is read with [`read_sim_venue`]. See `docs/SIMULATOR.md`.
//!
//! The readers take their keys from the table they are given and leave [`Obj::finish`] to the caller, so
//! the caller can read its own keys from the same table first.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use toml_edit::{Item, Value};

use super::liquidity::{LiquidityCfg, MidSource, PathPoint, SizeDist};
use super::presets::{self, PRESETS};
use super::transfers::NetworkCfg;
use super::venue::Latency;
use ballast_core::order::rules::{MarketRules, PriceGrid};
use ballast_reader::{Diagnostics, Field, FromField, Obj, choice};

/// The paper account's balance of every asset of a venue's markets (paper mode and presets).
pub const PAPER_BALANCE: i64 = 50_000_000;

/// A whole simulated exchange.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimExchangeCfg {
    /// Seed of every random draw of the exchange.
    pub seed: u64,
    pub markets: Vec<MarketCfg>,
    pub accounts: Vec<AccountCfg>,
    pub networks: Vec<NetworkCfg>,
}

/// One market: its rules and, optionally, the background liquidity (without it the book holds only the
/// accounts' orders).
#[derive(Clone, Debug, PartialEq)]
pub struct MarketCfg {
    pub rules: MarketRules,
    pub liquidity: Option<LiquidityCfg>,
}

/// An account and its starting balances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountCfg {
    pub name: String,
    pub balances: BTreeMap<String, Decimal>,
}

/// A simulated venue: the exchange, the account the venue trades as, and its latency.
#[derive(Clone, Debug, PartialEq)]
pub struct SimVenueCfg {
    pub exchange: SimExchangeCfg,
    pub account: String,
    pub latency: Latency,
}

/// Read a `[[venue]]` table of kind `sim`: the exchange keys of [`read_exchange`], plus `trade_as` (the
/// account the venue trades as; default: the first `[[account]]`) and an optional `latency` table.
pub fn read_sim_venue(o: &mut Obj, d: &mut Diagnostics) -> Option<SimVenueCfg> {
    let account = o.opt::<String>(d, "trade_as");
    let latency = match o.obj(d, "latency") {
        Some(mut l) => {
            let lat = read_latency(&mut l, d);
            l.finish(d);
            lat
        }
        None => Some(Latency::default()),
    };
    let mut exchange = read_exchange(o, d)?;
    if exchange.markets.is_empty() {
        // No market configured: the Binance-style stable pair.
        exchange.markets.push(super::presets::binance_usdcusdt());
    }
    let account = match account.ok()? {
        Some(a) if exchange.accounts.iter().any(|x| x.name == a) => a,
        Some(a) => {
            d.error(
                o.span.clone(),
                format!("{}.trade_as", o.path),
                format!("no [[account]] named {a:?}"),
            );
            return None;
        }
        None => match exchange.accounts.first() {
            Some(a) => a.name.clone(),
            None => {
                // No account configured: a funded paper account trades every asset of its markets.
                let mut assets: Vec<String> = Vec::new();
                for m in &exchange.markets {
                    for a in [&m.rules.base, &m.rules.quote] {
                        if !assets.contains(a) {
                            assets.push(a.clone());
                        }
                    }
                }
                exchange.accounts.push(AccountCfg {
                    name: "paper".into(),
                    balances: assets
                        .into_iter()
                        .map(|a| (a, Decimal::from(PAPER_BALANCE)))
                        .collect(),
                });
                "paper".to_string()
            }
        },
    };
    Some(SimVenueCfg {
        exchange,
        account,
        latency: latency?,
    })
}

/// Read the latency of a simulated venue: `request`, `response`, `jitter`, `fills` (durations).
pub fn read_latency(o: &mut Obj, d: &mut Diagnostics) -> Option<Latency> {
    let ms = |o: &mut Obj, d: &mut Diagnostics, key: &str| -> Result<Option<u64>, ()> {
        o.opt::<Duration>(d, key)
            .map(|v| v.map(|x| x.as_millis() as u64))
            .map_err(|_| ())
    };
    let request = ms(o, d, "request");
    let response = ms(o, d, "response");
    let jitter = ms(o, d, "jitter");
    let fills = ms(o, d, "fills");
    let def = Latency::default();
    Some(Latency {
        request_ms: request.ok()?.unwrap_or(def.request_ms),
        response_ms: response.ok()?.unwrap_or(def.response_ms),
        jitter_ms: jitter.ok()?.unwrap_or(def.jitter_ms),
        fills_delay_ms: fills.ok()?.unwrap_or(def.fills_delay_ms),
    })
}

/// Read a simulated exchange: `seed`, `[[market]]`, `[[account]]` and `[[network]]` sub-tables.
pub fn read_exchange(o: &mut Obj, d: &mut Diagnostics) -> Option<SimExchangeCfg> {
    read_exchange_with(o, d, &mut |_, _, _| {})
}

/// [`read_exchange`], letting the caller read extra keys of each `[[account]]` table (e.g. a server's API
/// key): `account_extra(name, table, diagnostics)` is called before the table is finished.
pub fn read_exchange_with(
    o: &mut Obj,
    d: &mut Diagnostics,
    account_extra: &mut dyn FnMut(&str, &mut Obj, &mut Diagnostics),
) -> Option<SimExchangeCfg> {
    let before = d.problems.len();
    let seed = o.or(d, "seed", 0u64);
    let mut markets: Vec<MarketCfg> = Vec::new();
    if let Some(f) = o.field("market") {
        for mut m in f.objs(d) {
            let span = m.span.clone();
            let path = m.path.clone();
            if let Some(cfg) = read_market(&mut m, d) {
                if markets.iter().any(|x| x.rules.market == cfg.rules.market) {
                    d.error(
                        span,
                        path,
                        format!("market {:?} is declared twice", cfg.rules.market),
                    );
                }
                markets.push(cfg);
            }
            m.finish(d);
        }
    }
    let mut accounts: Vec<AccountCfg> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    if let Some(f) = o.field("account") {
        for mut a in f.objs(d) {
            let name: Option<String> = a.req(d, "name");
            let balances = match a.field("balances") {
                Some(b) => read_balances(&b, d),
                None => Some(BTreeMap::new()),
            };
            if let Some(n) = &name {
                account_extra(n, &mut a, d);
                if names.contains(n) {
                    d.error(
                        a.span.clone(),
                        format!("{}.name", a.path),
                        format!("account {n:?} is declared twice"),
                    );
                }
                names.push(n.clone());
            }
            a.finish(d);
            if let (Some(name), Some(balances)) = (name, balances) {
                accounts.push(AccountCfg { name, balances });
            }
        }
    }
    let mut networks: Vec<NetworkCfg> = Vec::new();
    if let Some(f) = o.field("network") {
        for mut n in f.objs(d) {
            let span = n.span.clone();
            let path = n.path.clone();
            if let Some(cfg) = read_network(&mut n, d) {
                if networks
                    .iter()
                    .any(|x| x.asset == cfg.asset && x.network == cfg.network)
                {
                    d.error(
                        span,
                        path,
                        format!(
                            "network {:?} for {} is declared twice",
                            cfg.network, cfg.asset
                        ),
                    );
                }
                networks.push(cfg);
            }
            n.finish(d);
        }
    }
    (d.problems.len() == before).then_some(SimExchangeCfg {
        seed,
        markets,
        accounts,
        networks,
    })
}

fn read_balances(f: &Field, d: &mut Diagnostics) -> Option<BTreeMap<String, Decimal>> {
    let Some(t) = f.item.as_table_like() else {
        f.wrong_type(d, "a table of asset = amount");
        return None;
    };
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (asset, item) in t.iter() {
        let field = Field {
            path: format!("{}.{asset}", f.path),
            item,
            span: item.span().or_else(|| f.span.clone()),
        };
        match Decimal::from_field(&field, d) {
            Some(v) if v >= Decimal::ZERO => {
                out.insert(asset.to_string(), v);
            }
            Some(v) => {
                field.invalid(d, format!("{v} is negative"));
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_network(o: &mut Obj, d: &mut Diagnostics) -> Option<NetworkCfg> {
    let asset: Option<String> = o.req(d, "asset");
    let network: Option<String> = o.req(d, "network");
    let withdraw_fee = non_negative(o, d, "withdraw_fee");
    let withdraw_min = non_negative(o, d, "withdraw_min");
    let withdraw_delay = o.opt::<Duration>(d, "withdraw_delay");
    let deposit_delay = o.opt::<Duration>(d, "deposit_delay");
    let ms = |r: Result<Option<Duration>, _>| r.map(|v| v.map_or(0, |x| x.as_millis() as u64));
    Some(NetworkCfg {
        asset: asset?,
        network: network?,
        withdraw_fee: withdraw_fee?,
        withdraw_min: withdraw_min?,
        withdraw_delay_ms: ms(withdraw_delay).ok()?,
        deposit_delay_ms: ms(deposit_delay).ok()?,
    })
}

/// An optional decimal that must be >= 0 (0 when absent).
fn non_negative(o: &mut Obj, d: &mut Diagnostics, key: &str) -> Option<Decimal> {
    let f = o.field(key)?;
    let v = Decimal::from_field(&f, d)?;
    if v < Decimal::ZERO {
        f.invalid(d, format!("{v} is negative"));
        return None;
    }
    Some(v)
}

/// Read a field into `slot` when present; `false` when present and bad (already reported).
fn set<T: FromField>(o: &mut Obj, d: &mut Diagnostics, key: &str, slot: &mut T) -> bool {
    match o.opt::<T>(d, key) {
        Ok(Some(v)) => {
            *slot = v;
            true
        }
        Ok(None) => true,
        Err(_) => false,
    }
}

/// Read a market table: an optional `preset` that the other keys override.
pub fn read_market(o: &mut Obj, d: &mut Diagnostics) -> Option<MarketCfg> {
    let before = d.problems.len();
    // A bad preset is reported once; the other keys are still read (as overrides) so they are not
    // reported as unknown or missing.
    let mut bad_preset = false;
    let preset = match o.field("preset") {
        Some(f) => match String::from_field(&f, d) {
            Some(name) => {
                let p = presets::preset(&name);
                if p.is_none() {
                    f.invalid(
                        d,
                        format!("unknown preset {name:?} (known: {})", PRESETS.join(", ")),
                    );
                }
                bad_preset = p.is_none();
                p
            }
            None => {
                bad_preset = true;
                None
            }
        },
        None => None,
    };
    let has_preset = preset.is_some() || bad_preset;
    let (mut rules, base_liquidity) = match preset {
        Some(p) => (p.rules, p.liquidity),
        None => (
            MarketRules {
                market: String::new(),
                base: String::new(),
                quote: String::new(),
                grid: PriceGrid::Tick {
                    tick: Decimal::ZERO,
                },
                lot: Decimal::ZERO,
                min_qty: Decimal::ZERO,
                max_qty: Decimal::ZERO,
                min_notional: Decimal::ZERO,
                maker_fee: Decimal::ZERO,
                taker_fee: Decimal::ZERO,
            },
            None,
        ),
    };
    for (key, slot) in [
        ("market", &mut rules.market),
        ("base", &mut rules.base),
        ("quote", &mut rules.quote),
    ] {
        if !has_preset && !o.contains(key) {
            d.error(o.span.clone(), &o.path, format!("missing key `{key}`"));
        }
        set(o, d, key, slot);
    }
    read_grid(o, d, &mut rules.grid, has_preset);
    if !has_preset && !o.contains("lot") {
        d.error(o.span.clone(), &o.path, "missing key `lot`");
    }
    for (key, slot, positive) in [
        ("lot", &mut rules.lot, true),
        ("min_qty", &mut rules.min_qty, false),
        ("max_qty", &mut rules.max_qty, false),
        ("min_notional", &mut rules.min_notional, false),
    ] {
        if let Some(f) = o.field(key)
            && let Some(v) = Decimal::from_field(&f, d)
        {
            if v < Decimal::ZERO || (positive && v.is_zero()) {
                f.invalid(
                    d,
                    format!("{v} must be {}", if positive { "> 0" } else { ">= 0" }),
                );
            }
            *slot = v;
        }
    }
    for (key, slot) in [
        ("maker_fee", &mut rules.maker_fee),
        ("taker_fee", &mut rules.taker_fee),
    ] {
        if let Some(f) = o.field(key)
            && let Some(v) = Decimal::from_field(&f, d)
        {
            if v <= -Decimal::ONE || v >= Decimal::ONE {
                f.invalid(d, format!("{v} is not a fee rate (0.0001 = 1 bp)"));
            }
            *slot = v;
        }
    }
    let liquidity = match o.field("liquidity") {
        None => base_liquidity,
        Some(f) => match f.item {
            Item::Value(Value::Boolean(b)) => {
                if *b.value() && base_liquidity.is_none() {
                    f.invalid(d, "`true` needs a preset; give a table of parameters");
                }
                base_liquidity.filter(|_| *b.value())
            }
            _ => {
                let mut l = f.obj(d)?;
                let cfg = read_liquidity(&mut l, d, base_liquidity);
                l.finish(d);
                cfg
            }
        },
    };
    (d.problems.len() == before).then_some(MarketCfg { rules, liquidity })
}

fn read_grid(o: &mut Obj, d: &mut Diagnostics, grid: &mut PriceGrid, has_preset: bool) {
    let tick = o.field("tick");
    let sig = o.field("sig_figs");
    let dec = o.field("max_decimals");
    match (tick, sig, dec) {
        (Some(t), None, None) => {
            if let Some(v) = Decimal::from_field(&t, d) {
                if v <= Decimal::ZERO {
                    t.invalid(d, format!("{v} must be > 0"));
                }
                *grid = PriceGrid::Tick { tick: v };
            }
        }
        (None, Some(s), Some(m)) => {
            if let (Some(sig_figs), Some(max_decimals)) =
                (u32::from_field(&s, d), u32::from_field(&m, d))
            {
                if !(1..=18).contains(&sig_figs) {
                    s.invalid(d, "must be between 1 and 18");
                }
                if max_decimals > 12 {
                    m.invalid(d, "must be at most 12");
                }
                *grid = PriceGrid::SigFigs {
                    sig_figs,
                    max_decimals,
                };
            }
        }
        (None, None, None) if has_preset => {}
        (t, s, m) => {
            let span = t.or(s).or(m).and_then(|f| f.span).or(o.span.clone());
            d.error(
                span,
                &o.path,
                "give the price grid as `tick`, or as `sig_figs` and `max_decimals`",
            );
        }
    }
}

/// Defaults for a liquidity table without a preset (`mid` and `level_qty` must still be given).
fn blank_liquidity() -> LiquidityCfg {
    let mut l = presets::binance_usdcusdt()
        .liquidity
        .expect("the preset has liquidity");
    l.mid = MidSource::Walk { start: 0.0 };
    l.level_qty = Decimal::ZERO;
    l
}

/// Read a liquidity table over `base` (a preset's parameters) or the defaults.
pub fn read_liquidity(
    o: &mut Obj,
    d: &mut Diagnostics,
    base: Option<LiquidityCfg>,
) -> Option<LiquidityCfg> {
    let before = d.problems.len();
    let has_base = base.is_some();
    let mut c = base.unwrap_or_else(blank_liquidity);
    match (o.field("mid"), o.field("mid_path")) {
        (Some(_), Some(p)) => p.invalid(d, "give `mid` or `mid_path`, not both"),
        (Some(m), None) => {
            if let Some(v) = Decimal::from_field(&m, d) {
                if v <= Decimal::ZERO {
                    m.invalid(d, "must be positive");
                }
                c.mid = MidSource::Walk {
                    start: v.to_f64().unwrap_or(0.0),
                };
            }
        }
        (None, Some(p)) => {
            if let Some(file) = String::from_field(&p, d) {
                match load_path(d.file(), &file) {
                    Ok(points) => c.mid = MidSource::Path(points.into()),
                    Err(e) => p.invalid(d, e),
                }
            }
        }
        (None, None) if !has_base => {
            d.error(o.span.clone(), &o.path, "missing key `mid` (or `mid_path`)")
        }
        (None, None) => {}
    }
    if !has_base && !o.contains("level_qty") {
        d.error(o.span.clone(), &o.path, "missing key `level_qty`");
    }
    let ms = |o: &mut Obj, d: &mut Diagnostics, key: &str| -> Option<Option<u64>> {
        match o.opt::<Duration>(d, key) {
            Ok(v) => Some(v.map(|x| x.as_millis() as u64)),
            Err(_) => None,
        }
    };
    if let Some(Some(v)) = ms(o, d, "step") {
        c.step_ms = v;
    }
    if let Some(Some(v)) = ms(o, d, "reversion_half_life") {
        c.reversion_half_life_ms = (v > 0).then_some(v);
    }
    for (key, slot) in [
        ("volatility_bps", &mut c.volatility_bps),
        ("jump_rate_per_hour", &mut c.jump_rate_per_hour),
        ("jump_mean_bps", &mut c.jump_mean_bps),
        ("half_spread_bps", &mut c.half_spread_bps),
        ("level_growth", &mut c.level_growth),
        ("size_jitter", &mut c.size_jitter),
        ("refill_below", &mut c.refill_below),
        ("taker_rate_per_s", &mut c.taker_rate_per_s),
        ("taker_max_slippage_bps", &mut c.taker_max_slippage_bps),
        ("taker_buy_share", &mut c.taker_buy_share),
    ] {
        set(o, d, key, slot);
    }
    set(o, d, "levels", &mut c.levels);
    set(o, d, "level_spacing_ticks", &mut c.level_spacing_ticks);
    set(o, d, "level_qty", &mut c.level_qty);
    if let Ok(Some(v)) = o.opt::<Decimal>(d, "taker_max_qty") {
        c.taker_max_qty = (v > Decimal::ZERO).then_some(v);
    }
    if let Some(mut t) = o.obj(d, "taker_size") {
        if let Some(s) = read_size(&mut t, d) {
            c.taker_size = s;
        }
        t.finish(d);
    }
    if d.problems.len() > before {
        return None;
    }
    for (key, msg) in c.problems() {
        d.error(o.span.clone(), format!("{}.{key}", o.path), msg);
    }
    (d.problems.len() == before).then_some(c)
}

fn read_size(o: &mut Obj, d: &mut Diagnostics) -> Option<SizeDist> {
    #[derive(Clone, Copy)]
    enum Kind {
        LogNormal,
        Pareto,
        Fixed,
    }
    let kind = match o.field("dist") {
        Some(f) => choice(
            &f,
            d,
            &[
                ("lognormal", Kind::LogNormal),
                ("pareto", Kind::Pareto),
                ("fixed", Kind::Fixed),
            ],
        ),
        None => {
            d.error(
                o.span.clone(),
                &o.path,
                "missing key `dist` (lognormal, pareto or fixed)",
            );
            None
        }
    };
    let Some(kind) = kind else {
        // Unknown distribution: its parameters are not "unknown keys" on top of that.
        for k in ["median", "sigma", "min", "alpha", "qty"] {
            o.allow(k);
        }
        return None;
    };
    let num = |o: &mut Obj, d: &mut Diagnostics, key: &str| -> Option<f64> {
        let v: Decimal = o.req(d, key)?;
        v.to_f64()
    };
    Some(match kind {
        Kind::LogNormal => {
            let median = num(o, d, "median");
            let sigma = num(o, d, "sigma");
            SizeDist::LogNormal {
                median: median?,
                sigma: sigma?,
            }
        }
        Kind::Pareto => {
            let min = num(o, d, "min");
            let alpha = num(o, d, "alpha");
            SizeDist::Pareto {
                min: min?,
                alpha: alpha?,
            }
        }
        Kind::Fixed => SizeDist::Fixed(num(o, d, "qty")?),
    })
}

/// Load a price path: CSV lines `ts_ms,mid` or `ts_ms,bid,ask`; a first line that is not numeric is a
/// header; `#` starts a comment. A relative file name is taken from the directory of `config_file`.
pub fn load_path(config_file: &str, file: &str) -> Result<Vec<PathPoint>, String> {
    let p = Path::new(file);
    let full = if p.is_relative() {
        Path::new(config_file)
            .parent()
            .map_or_else(|| p.to_path_buf(), |dir| dir.join(p))
    } else {
        p.to_path_buf()
    };
    let text = std::fs::read_to_string(&full)
        .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    parse_path(&text).map_err(|e| format!("{}: {e}", full.display()))
}

/// Parse the text of a price path (see [`load_path`]).
pub fn parse_path(text: &str) -> Result<Vec<PathPoint>, String> {
    let mut out: Vec<PathPoint> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let nums: Option<Vec<f64>> = cols[1..].iter().map(|c| c.parse().ok()).collect();
        let ts = cols[0].parse::<i64>();
        let (Ok(ts), Some(nums)) = (ts, nums) else {
            if out.is_empty() && i == 0 {
                continue; // header
            }
            return Err(format!(
                "line {}: expected ts_ms,mid or ts_ms,bid,ask",
                i + 1
            ));
        };
        let (bid, ask) = match nums[..] {
            [m] => (m, m),
            [b, a] => (b, a),
            _ => return Err(format!("line {}: expected 2 or 3 columns", i + 1)),
        };
        if !(bid > 0.0 && ask >= bid) {
            return Err(format!("line {}: needs 0 < bid <= ask", i + 1));
        }
        if out.last().is_some_and(|p| p.ts > ts) {
            return Err(format!("line {}: time goes backwards", i + 1));
        }
        out.push(PathPoint { ts, bid, ask });
    }
    if out.is_empty() {
        return Err("no points".into());
    }
    Ok(out)
}

/// A shared path, for building a [`MidSource::Path`] in code.
pub fn mid_path(points: Vec<PathPoint>) -> MidSource {
    MidSource::Path(Arc::from(points))
}
