//! Configuration: the TOML schema, read and validated as a whole.
//!
//! Every problem is reported at once, each with file, line and field path
//! (`config.toml:14: position[2].weight_bps: 12000 is above 10000`), and unknown keys are errors.
//! A [`Config`] only exists when the whole file is valid, so nothing runs on a bad configuration.
//! The reference for every key is `docs/CONFIG.md`.

pub mod adapt;
pub mod chains;
pub mod service;
pub mod tune;

pub use ballast_reader as reader;
pub use ballast_venue_binance::config as binance;
pub use ballast_venue_hyperliquid::config as hyperliquid;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use ballast_core::model::PositionKey;
pub use ballast_core::params::{ActOn, BandSpec, Redistribution, Rounding, TargetSpec};
pub use reader::{ConfigErrors, Problem, parse_toml, read_text};
use reader::{Diagnostics, Field, FromField, Obj, choice};

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where it was read from (for messages and reload).
    pub source: PathBuf,
    /// SHA-256 of the file bytes, hex. Its first 12 digits are the config version stamped on every record.
    pub digest: String,
    pub portfolio: PortfolioCfg,
    pub schedule: ScheduleCfg,
    pub controller: ControllerCfg,
    pub positions: Vec<PositionCfg>,
    pub routes: Vec<RouteCfg>,
    pub venues: Vec<VenueCfg>,
    pub chains: Vec<chains::ChainCfg>,
    /// `[tune]`: the objective and search space of `ballast tune`.
    pub tune: tune::TuneCfg,
    /// `mode`, `[service]` and `[paper]`: how the service runs.
    pub service: service::ServiceCfg,
}

impl Config {
    /// Short config version: the first 12 hex digits of the digest.
    pub fn version(&self) -> &str {
        &self.digest[..12]
    }

    pub fn position_index(&self, key: &PositionKey) -> Option<usize> {
        self.positions.iter().position(|p| p.key == *key)
    }

    pub fn venue(&self, name: &str) -> Option<&VenueCfg> {
        self.venues.iter().find(|v| v.name == name)
    }

    /// One-line summary for `config check`.
    pub fn summary(&self) -> String {
        let chains: BTreeSet<&str> = self
            .positions
            .iter()
            .map(|p| p.key.chain.as_str())
            .collect();
        let assets: BTreeSet<&str> = self
            .positions
            .iter()
            .map(|p| p.key.asset.as_str())
            .collect();
        format!(
            "{} positions ({} chains, {} assets), {} routes over {} venues, kp={} ki={} kd={} per {}, cycle every {}, version {}",
            self.positions.len(),
            chains.len(),
            assets.len(),
            self.routes.len(),
            self.venues.len(),
            self.controller.kp,
            self.controller.ki,
            self.controller.kd,
            ballast_core::model::format_duration(self.controller.gain_period),
            ballast_core::model::format_duration(self.schedule.interval),
            self.version()
        )
    }
}

#[derive(Clone, Debug)]
pub struct PortfolioCfg {
    /// The unit values are counted in (e.g. `USD`).
    pub base: String,
}

#[derive(Clone, Debug)]
pub struct ScheduleCfg {
    /// Time between cycles of the rebalancing job.
    pub interval: Duration,
}

#[derive(Clone, Debug)]
pub struct ControllerCfg {
    /// Proportional gain: the share of the error commanded per `gain_period` (0..=1).
    pub kp: f64,
    /// Integral gain per `gain_period`.
    pub ki: f64,
    /// Derivative gain in `gain_period`s.
    pub kd: f64,
    /// The time unit of the gains. Changing the cycle interval keeps the loop's behaviour.
    pub gain_period: Duration,
    /// Derivative filter coefficient N: the filter time constant is kd/N. 0 disables the filter.
    pub d_filter: f64,
    /// Back-calculation tracking time; default: Ti = kp/ki periods (one period when kp is 0).
    pub tracking_time: Option<Duration>,
    /// Largest dt the loop integrates over after a pause (default 10 intervals).
    pub max_dt: Duration,
    /// Time constant over which a gain change's bumpless transfer term fades.
    pub bumpless_time: Duration,
    /// |I| is bounded by this share of the portfolio value.
    pub integral_limit_bps: u32,
    /// Per-position output clamp, in base units.
    pub max_move_value: Option<Decimal>,
    pub max_cycle_turnover_bps: Option<u32>,
    pub max_order_value: Option<Decimal>,
    pub min_order_value: Decimal,
    pub max_fee_bps: u32,
    /// After leaving its band a position is steered until its error is within this share of its target
    /// value (never below `min_order_value`).
    pub settle_bps: u32,
    /// The controller acts once a position leaves its band scaled by this factor around the target (0 < x
    /// <= 1); the band itself stays the tolerance that backtest metrics and baselines use.
    pub deadband_scale: f64,
    /// Which errors the controller acts on: both sides, or only deficits (refill-only, the relayer practice;
    /// a position above target is then only a counterparty).
    pub act_on: ActOn,
    /// Keep integrating the error while a position is inside its band (the integral learns a persistent
    /// drift, and the next move carries it); otherwise the integral is frozen in the band.
    pub integrate_in_band: bool,
    /// A move that starts outside the band steers past the target by this share (0..=1) of the band's far
    /// half (the (s, S) order-up-to policy of inventory control: 0 steers to the target, 1 to the opposite
    /// edge of the band the controller acts on). It centres the error of a position drained (or filled)
    /// steadily on its target instead of leaving it on one side.
    pub steer_past: f64,
    pub min_balance_mode: Redistribution,
    /// How order amounts are rounded to the source asset's decimals.
    pub amount_rounding: Rounding,
    /// A balance older than this is stale: its position holds and its integral freezes.
    pub stale_after: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct PositionCfg {
    pub key: PositionKey,
    pub target: TargetSpec,
    pub band: Option<BandSpec>,
    pub min_balance: Option<Decimal>,
    pub tier: u8,
    /// Decimals of the asset on this chain: amounts are rounded to them.
    pub decimals: u32,
    /// Line of the `[[position]]` header, for messages.
    pub line: usize,
}

#[derive(Clone, Debug)]
pub struct RouteCfg {
    pub venue: String,
    pub from: PositionKey,
    pub to: PositionKey,
    pub cost_bps: Decimal,
    pub fixed_cost: Decimal,
    /// Venue market used for the swap leg (e.g. `USDCUSDT`); none for a same-asset transfer.
    pub market: Option<String>,
    pub line: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueKind {
    Sim,
    Hyperliquid,
    Binance,
}

impl fmt::Display for VenueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VenueKind::Sim => "sim",
            VenueKind::Hyperliquid => "hyperliquid",
            VenueKind::Binance => "binance",
        })
    }
}

#[derive(Clone, Debug)]
pub struct VenueCfg {
    pub name: String,
    pub kind: VenueKind,
    /// A venue with this many rebalances in flight gets no new one.
    pub max_pending_orders: u32,
    /// Settings of this kind of venue.
    pub settings: VenueSettings,
}

/// Kind-specific venue settings (read from the same `[[venue]]` table).
#[derive(Clone, Debug, PartialEq)]
pub enum VenueSettings {
    /// A simulated venue: its exchange (markets, accounts, liquidity) and latency; see docs/SIMULATOR.md.
    Sim(Box<ballast_sim::config::SimVenueCfg>),
    Hyperliquid(hyperliquid::Settings),
    Binance(binance::Settings),
}

impl Config {
    /// Read and validate a configuration file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        Self::parse(path, &read_text(path)?)
    }

    /// Validate configuration text; `path` is used for messages and `source`.
    pub fn parse(path: impl AsRef<Path>, src: &str) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        let digest = hex::encode(Sha256::digest(src.as_bytes()));
        parse_toml(path, src, |doc, d| read_root(doc, d, path, digest))
    }
}

fn read_root(
    doc: &toml_edit::Document<String>,
    d: &mut Diagnostics,
    path: &Path,
    digest: String,
) -> Option<Config> {
    let mut root = Obj::root(doc);

    let portfolio = match root.obj(d, "portfolio") {
        Some(mut o) => {
            let base = o.or(d, "base", "USD".to_string());
            o.finish(d);
            PortfolioCfg { base }
        }
        None => PortfolioCfg { base: "USD".into() },
    };

    let schedule = match root.obj(d, "schedule") {
        Some(mut o) => {
            let interval = o.or(d, "interval", Duration::from_secs(300));
            if let Some(f) = o.field("interval")
                && interval.is_zero()
            {
                f.invalid(d, "must be longer than 0s");
            }
            o.finish(d);
            ScheduleCfg { interval }
        }
        None => ScheduleCfg {
            interval: Duration::from_secs(300),
        },
    };

    let venues = read_venues(&mut root, d);
    let controller = match root.obj(d, "controller") {
        Some(o) => read_controller(o, d, &schedule),
        None => {
            d.error(Some(0..0), "controller", "missing section `[controller]`");
            None
        }
    };
    let positions = read_positions(&mut root, d);
    let routes = read_routes(&mut root, d, &positions, &venues);
    let chains = chains::read(&mut root, d);
    chains::check_positions(&chains, &positions, d);
    let tune = tune::read(&mut root, d);
    let service = service::read(&mut root, d, path, &venues, &chains);
    root.finish(d);

    Some(Config {
        source: path.to_path_buf(),
        digest,
        portfolio,
        schedule,
        controller: controller?,
        positions,
        routes,
        venues,
        chains,
        tune,
        service,
    })
}

/// A share in (0, 1], or [0, 1] when `zero_ok`; `default` when absent or invalid (the error is reported).
pub(crate) fn share_field(
    o: &mut Obj,
    d: &mut Diagnostics,
    key: &str,
    default: f64,
    zero_ok: bool,
) -> f64 {
    let Some(f) = o.field(key) else {
        return default;
    };
    match f64::from_field(&f, d) {
        Some(v) if v <= 1.0 && (v > 0.0 || (zero_ok && v == 0.0)) => v,
        Some(v) => {
            let range = if zero_ok { "[0, 1]" } else { "(0, 1]" };
            f.invalid(d, format!("{v} is not in {range}"));
            default
        }
        None => default,
    }
}

fn bps_field(o: &mut Obj, d: &mut Diagnostics, key: &str, min: u32, max: u32) -> Option<u32> {
    let f = o.field(key)?;
    let v = u32::from_field(&f, d)?;
    if v < min {
        f.invalid(d, format!("{v} is below {min}"));
        return None;
    }
    if v > max {
        f.invalid(d, format!("{v} is above {max}"));
        return None;
    }
    Some(v)
}

fn nonneg_decimal(o: &mut Obj, d: &mut Diagnostics, key: &str) -> Option<Decimal> {
    let f = o.field(key)?;
    let v = Decimal::from_field(&f, d)?;
    if v.is_sign_negative() && !v.is_zero() {
        f.invalid(d, format!("{v} is negative"));
        return None;
    }
    Some(v)
}

fn gain(o: &mut Obj, d: &mut Diagnostics, key: &str, max: Option<f64>) -> f64 {
    let Some(f) = o.field(key) else { return 0.0 };
    let Some(v) = f64::from_field(&f, d) else {
        return 0.0;
    };
    if v < 0.0 {
        f.invalid(d, format!("{v} is negative (gains are >= 0)"));
        return 0.0;
    }
    if let Some(m) = max
        && v > m
    {
        f.invalid(d, format!("{v} is above {m}"));
    }
    v
}

fn read_controller(
    mut o: Obj,
    d: &mut Diagnostics,
    schedule: &ScheduleCfg,
) -> Option<ControllerCfg> {
    let kp = gain(&mut o, d, "kp", Some(1.0));
    let ki = gain(&mut o, d, "ki", None);
    let kd = gain(&mut o, d, "kd", None);
    let gain_period = o.or(d, "gain_period", Duration::from_secs(3600));
    if gain_period.is_zero() {
        d.error(
            o.span.clone(),
            "controller.gain_period",
            "must be longer than 0s",
        );
    }
    let d_filter = gain(&mut o, d, "d_filter", None);
    let d_filter = if o.contains("d_filter") {
        d_filter
    } else {
        10.0
    };
    let tracking_time: Option<Duration> = o.opt(d, "tracking_time").ok().flatten();
    let max_dt = o.or(d, "max_dt", schedule.interval * 10);
    let bumpless_time = o.or(d, "bumpless_time", gain_period);
    let integral_limit_bps =
        bps_field(&mut o, d, "integral_limit_bps", 1, 100_000).unwrap_or(10_000);
    let max_move_value = nonneg_decimal(&mut o, d, "max_move_value");
    let max_cycle_turnover_bps = bps_field(&mut o, d, "max_cycle_turnover_bps", 1, 10_000);
    let max_order_value = nonneg_decimal(&mut o, d, "max_order_value");
    let min_order_value_given = o.contains("min_order_value");
    let min_order_value = nonneg_decimal(&mut o, d, "min_order_value").unwrap_or(Decimal::ZERO);
    if !min_order_value_given {
        d.error(
            o.span.clone(),
            "controller",
            "missing key `min_order_value`",
        );
    }
    let max_fee_bps = bps_field(&mut o, d, "max_fee_bps", 0, 10_000).unwrap_or(250);
    let settle_bps = bps_field(&mut o, d, "settle_bps", 0, 10_000).unwrap_or(0);
    let deadband_scale = share_field(&mut o, d, "deadband_scale", 1.0, false);
    let integrate_in_band = o.or(d, "integrate_in_band", false);
    let steer_past = share_field(&mut o, d, "steer_past", 0.0, true);
    let act_on = match o.field("act_on") {
        Some(f) => choice(
            &f,
            d,
            &[("both", ActOn::Both), ("deficits", ActOn::Deficits)],
        )
        .unwrap_or(ActOn::Both),
        None => ActOn::Both,
    };
    let min_balance_mode = match o.field("min_balance_mode") {
        Some(f) => choice(
            &f,
            d,
            &[
                ("proportional", Redistribution::Proportional),
                ("priority", Redistribution::Priority),
            ],
        )
        .unwrap_or(Redistribution::Proportional),
        None => Redistribution::Proportional,
    };
    let amount_rounding = match o.field("amount_rounding") {
        Some(f) => choice(&f, d, &[("down", Rounding::Down), ("up", Rounding::Up)])
            .unwrap_or(Rounding::Down),
        None => Rounding::Down,
    };
    let stale_after: Option<Duration> = o.opt(d, "stale_after").ok().flatten();
    if let (Some(max), f) = (max_order_value, o.field("max_order_value"))
        && max <= min_order_value
        && min_order_value_given
    {
        let f = f.expect("present");
        f.invalid(
            d,
            format!("{max} is not above min_order_value ({min_order_value})"),
        );
    }
    o.finish(d);
    Some(ControllerCfg {
        kp,
        ki,
        kd,
        gain_period,
        d_filter,
        tracking_time,
        max_dt,
        bumpless_time,
        integral_limit_bps,
        max_move_value,
        max_cycle_turnover_bps,
        max_order_value,
        min_order_value,
        max_fee_bps,
        settle_bps,
        deadband_scale,
        act_on,
        integrate_in_band,
        steer_past,
        min_balance_mode,
        amount_rounding,
        stale_after,
    })
}

fn read_venues(root: &mut Obj, d: &mut Diagnostics) -> Vec<VenueCfg> {
    let mut out: Vec<VenueCfg> = Vec::new();
    let Some(f) = root.field("venue") else {
        return out;
    };
    for mut o in f.objs(d) {
        let name: Option<String> = o.req(d, "name");
        let kind = match o.field("kind") {
            Some(f) => choice(
                &f,
                d,
                &[
                    ("sim", VenueKind::Sim),
                    ("hyperliquid", VenueKind::Hyperliquid),
                    ("binance", VenueKind::Binance),
                ],
            ),
            None => {
                d.error(
                    o.span.clone(),
                    &o.path,
                    "missing key `kind` (sim, hyperliquid or binance)",
                );
                None
            }
        };
        let max_pending_orders = o.or(d, "max_pending_orders", 2u32);
        let settings = match kind {
            Some(VenueKind::Hyperliquid) => {
                hyperliquid::read(&mut o, d).map(VenueSettings::Hyperliquid)
            }
            Some(VenueKind::Binance) => binance::read(&mut o, d).map(VenueSettings::Binance),
            Some(VenueKind::Sim) => ballast_sim::config::read_sim_venue(&mut o, d)
                .map(|c| VenueSettings::Sim(Box::new(c))),
            None => None,
        };
        if let Some(name) = &name
            && out.iter().any(|v| &v.name == name)
        {
            d.error(
                o.span.clone(),
                format!("{}.name", o.path),
                format!("venue {name:?} is declared twice"),
            );
        }
        o.finish(d);
        if let (Some(name), Some(kind), Some(settings)) = (name, kind, settings) {
            out.push(VenueCfg {
                name,
                kind,
                max_pending_orders,
                settings,
            });
        }
    }
    out
}

fn position_key(f: &Field, d: &mut Diagnostics) -> Option<PositionKey> {
    let mut o = f.obj(d)?;
    let chain: Option<String> = o.req(d, "chain");
    let asset: Option<String> = o.req(d, "asset");
    o.finish(d);
    Some(PositionKey::new(chain?, asset?))
}

fn read_positions(root: &mut Obj, d: &mut Diagnostics) -> Vec<PositionCfg> {
    let mut out: Vec<PositionCfg> = Vec::new();
    let Some(f) = root.field("position") else {
        d.error(Some(0..0), "position", "no `[[position]]` configured");
        return out;
    };
    let mut weight_sum: u64 = 0;
    let mut weighted = 0usize;
    let mut first_weight_span = None;
    let objs = f.objs(d);
    if objs.is_empty() {
        f.invalid(d, "no positions configured");
    }
    for mut o in objs {
        let header_span = o.span.clone();
        let line = header_span
            .as_ref()
            .map(|s| d.line_of(s.start))
            .unwrap_or(0);
        let chain: Option<String> = o.req(d, "chain");
        let asset: Option<String> = o.req(d, "asset");
        let target_f = o.field("target");
        let weight_f = o.field("weight_bps");
        let target = match (&target_f, &weight_f) {
            (Some(_), Some(w)) => {
                w.invalid(d, "give either `target` or `weight_bps`, not both");
                None
            }
            (Some(t), None) => Decimal::from_field(t, d).and_then(|v| {
                if v.is_sign_negative() && !v.is_zero() {
                    t.invalid(d, format!("{v} is negative"));
                    None
                } else {
                    Some(TargetSpec::Amount(v))
                }
            }),
            (None, Some(w)) => u32::from_field(w, d).and_then(|v| {
                if v > 10_000 {
                    w.invalid(d, format!("{v} is above 10000"));
                    None
                } else if v == 0 {
                    w.invalid(d, "0 is below 1 (remove the position or give it a weight)");
                    None
                } else {
                    weight_sum += u64::from(v);
                    weighted += 1;
                    first_weight_span.get_or_insert(w.span.clone());
                    Some(TargetSpec::WeightBps(v))
                }
            }),
            (None, None) => {
                d.error(
                    header_span.clone(),
                    &o.path,
                    "missing key `target` (an amount) or `weight_bps`",
                );
                None
            }
        };
        let band = read_band(&mut o, d, target);
        let min_balance = nonneg_decimal(&mut o, d, "min_balance");
        let tier = o.or(d, "tier", 0u8);
        let decimals = match o.field("decimals") {
            Some(f) => match u32::from_field(&f, d) {
                Some(v) if v <= 28 => v,
                Some(v) => {
                    f.invalid(d, format!("{v} is above 28"));
                    6
                }
                None => 6,
            },
            None => 6,
        };
        let path = o.path.clone();
        o.finish(d);
        if let (Some(chain), Some(asset)) = (chain, asset) {
            let key = PositionKey::new(chain, asset);
            if let Some(prev) = out.iter().find(|p| p.key == key) {
                d.error(
                    header_span.clone(),
                    &path,
                    format!(
                        "position {key} is configured twice (first at line {})",
                        prev.line
                    ),
                );
            }
            if let Some(target) = target {
                out.push(PositionCfg {
                    key,
                    target,
                    band,
                    min_balance,
                    tier,
                    decimals,
                    line,
                });
            }
        }
    }
    if weighted > 0 && weight_sum != 10_000 {
        d.error(
            first_weight_span.flatten(),
            "position",
            format!(
                "weights sum to {weight_sum} bps over {weighted} positions; they must sum to 10000"
            ),
        );
    }
    out
}

fn read_band(o: &mut Obj, d: &mut Diagnostics, target: Option<TargetSpec>) -> Option<BandSpec> {
    let band_f = o.field("band");
    let rel_f = o.field("band_bps");
    match (band_f, rel_f) {
        (Some(_), Some(r)) => {
            r.invalid(d, "give either `band` or `band_bps`, not both");
            None
        }
        (None, Some(r)) => {
            let v = u32::from_field(&r, d)?;
            if v == 0 || v > 10_000 {
                r.invalid(d, format!("{v} is outside 1..=10000"));
                return None;
            }
            Some(BandSpec::Relative { bps: v })
        }
        (Some(b), None) => {
            let mut bo = b.obj(d)?;
            let low: Option<Decimal> = bo.req(d, "low");
            let high: Option<Decimal> = bo.req(d, "high");
            let path = bo.path.clone();
            let span = bo.span.clone();
            bo.finish(d);
            let (low, high) = (low?, high?);
            if low > high {
                d.error(
                    span,
                    format!("{path}.low"),
                    format!("{low} is above high ({high})"),
                );
                return None;
            }
            match target {
                Some(TargetSpec::Amount(t)) if t < low || t > high => {
                    d.error(
                        span,
                        &path,
                        format!("target {t} is outside the band [{low}, {high}]"),
                    );
                    None
                }
                Some(TargetSpec::WeightBps(_)) => {
                    d.error(span, &path, "an absolute band needs an absolute `target`; use `band_bps` with `weight_bps`");
                    None
                }
                _ => Some(BandSpec::Absolute { low, high }),
            }
        }
        (None, None) => None,
    }
}

/// Why a route through `venue` cannot complete on the real venue (the end, `from` or `to`, and the
/// reason), or `None`. Hyperliquid takes in and pays out only USDC over its Arbitrum bridge: any other
/// asset or chain at either end of a route through it would strand the funds on the venue.
fn venue_path_refusal(
    venues: &[VenueCfg],
    venue: &str,
    from: &PositionKey,
    to: &PositionKey,
) -> Option<(&'static str, String)> {
    let v = venues.iter().find(|v| v.name == venue)?;
    if v.kind != VenueKind::Hyperliquid {
        return None;
    }
    use ballast_venue_hyperliquid::wallet::{BRIDGE_ASSET, BRIDGE_NETWORK, EVM_NETWORK, path};
    let (end, key, verb) = if path(&from.asset, &from.chain).is_none() {
        ("from", from, "deposited to")
    } else if path(&to.asset, &to.chain).is_none() {
        ("to", to, "withdrawn from")
    } else {
        return None;
    };
    Some((
        end,
        format!(
            "{key} cannot be {verb} venue {venue:?}: Hyperliquid takes in and pays out only {BRIDGE_ASSET} on {} \
             (its bridge) and spot tokens linked to HyperEVM on {} (through their system addresses; not \
             {BRIDGE_ASSET} or HYPE there); docs/HYPERLIQUID.md; route {key} through another venue",
            BRIDGE_NETWORK.to_ascii_lowercase(),
            EVM_NETWORK.to_ascii_lowercase(),
        ),
    ))
}

fn read_routes(
    root: &mut Obj,
    d: &mut Diagnostics,
    positions: &[PositionCfg],
    venues: &[VenueCfg],
) -> Vec<RouteCfg> {
    let mut out: Vec<RouteCfg> = Vec::new();
    let Some(f) = root.field("route") else {
        return out;
    };
    let known: BTreeMap<&PositionKey, ()> = positions.iter().map(|p| (&p.key, ())).collect();
    for mut o in f.objs(d) {
        let span = o.span.clone();
        let line = span.as_ref().map(|s| d.line_of(s.start)).unwrap_or(0);
        let venue_f = o.field("venue");
        let venue = match &venue_f {
            Some(vf) => String::from_field(vf, d).filter(|name| {
                if venues.iter().any(|v| &v.name == name) {
                    true
                } else {
                    let names: Vec<&str> = venues.iter().map(|v| v.name.as_str()).collect();
                    vf.invalid(
                        d,
                        if names.is_empty() {
                            format!("unknown venue {name:?}: declare it in a [[venue]] section")
                        } else {
                            format!("unknown venue {name:?} (declared: {})", names.join(", "))
                        },
                    );
                    false
                }
            }),
            None => {
                d.error(span.clone(), &o.path, "missing key `venue`");
                None
            }
        };
        let mut ends = [None, None];
        let mut end_spans = [None, None];
        for ((slot, at), key) in ends
            .iter_mut()
            .zip(end_spans.iter_mut())
            .zip(["from", "to"])
        {
            match o.field(key) {
                Some(ef) => {
                    *at = ef.span.clone();
                    if let Some(k) = position_key(&ef, d) {
                        if known.contains_key(&k) {
                            *slot = Some(k);
                        } else {
                            ef.invalid(d, format!("{k} is not a configured position"));
                        }
                    }
                }
                None => d.error(span.clone(), &o.path, format!("missing key `{key}`")),
            }
        }
        let cost_bps = match o.field("cost_bps") {
            Some(cf) => Decimal::from_field(&cf, d).filter(|v| {
                let ok = !v.is_sign_negative() && *v <= Decimal::from(10_000);
                if !ok {
                    cf.invalid(d, format!("{v} is outside 0..=10000"));
                }
                ok
            }),
            None => Some(Decimal::ZERO),
        };
        let fixed_cost = nonneg_decimal(&mut o, d, "fixed_cost").unwrap_or(Decimal::ZERO);
        let market: Option<String> = o.opt(d, "market").ok().flatten();
        let path = o.path.clone();
        o.finish(d);
        let [from, to] = ends;
        if let (Some(from), Some(to)) = (&from, &to)
            && from == to
        {
            d.error(
                span.clone(),
                format!("{path}.to"),
                format!("a route from {from} to itself moves nothing"),
            );
            continue;
        }
        if let (Some(venue), Some(from), Some(to)) = (&venue, &from, &to)
            && let Some(refusal) = venue_path_refusal(venues, venue, from, to)
        {
            let at = if refusal.0 == "from" {
                &end_spans[0]
            } else {
                &end_spans[1]
            };
            d.error(
                at.clone().or(span.clone()),
                format!("{path}.{}", refusal.0),
                refusal.1,
            );
            continue;
        }
        if let (Some(venue), Some(from), Some(to), Some(cost_bps)) = (venue, from, to, cost_bps) {
            if let Some(prev) = out
                .iter()
                .find(|r| r.venue == venue && r.from == from && r.to == to)
            {
                d.error(
                    span,
                    &path,
                    format!(
                        "route {from} -> {to} via {venue} is configured twice (first at line {})",
                        prev.line
                    ),
                );
                continue;
            }
            out.push(RouteCfg {
                venue,
                from,
                to,
                cost_bps,
                fixed_cost,
                market,
                line,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[portfolio]
base = "USD"

[controller]
kp = 0.5
min_order_value = "10"

[[venue]]
name = "binance"
kind = "binance"

[[position]]
chain = "arbitrum"
asset = "USDC"
target = "1000"
band = { low = "900", high = "1100" }

[[position]]
chain = "optimism"
asset = "USDC"
target = "1000"

[[route]]
venue = "binance"
from = { chain = "arbitrum", asset = "USDC" }
to = { chain = "optimism", asset = "USDC" }
cost_bps = 5
fixed_cost = "1"
"#;

    fn errors(src: &str) -> Vec<String> {
        match Config::parse("c.toml", src) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn minimal_config_is_valid() {
        let c = Config::parse("c.toml", MINIMAL).unwrap();
        assert_eq!(c.positions.len(), 2);
        assert_eq!(c.routes[0].cost_bps, Decimal::from(5));
        assert_eq!(
            c.positions[0].band,
            Some(BandSpec::Absolute {
                low: Decimal::from(900),
                high: Decimal::from(1100)
            })
        );
        assert_eq!(c.controller.max_fee_bps, 250);
        assert_eq!(c.version().len(), 12);
        assert!(c.summary().contains("2 positions"));
    }

    #[test]
    fn every_error_is_reported_at_once_with_lines() {
        let src = MINIMAL
            .replace("kp = 0.5", "kp = 1.5\nkq = 1")
            .replace("target = \"1000\"\nband", "target = \"1200\"\nband")
            .replace("cost_bps = 5", "cost_bps = -5");
        let errs = errors(&src);
        assert_eq!(
            errs,
            vec![
                "c.toml:6: controller.kp: 1.5 is above 1",
                "c.toml:7: controller.kq: unknown key (did you mean `kp`?)",
                "c.toml:18: position[0].band: target 1200 is outside the band [900, 1100]",
                "c.toml:29: route[0].cost_bps: -5 is outside 0..=10000",
            ]
        );
    }

    #[test]
    fn weights_must_be_in_range_and_sum_to_10000() {
        let src = r#"
[controller]
min_order_value = "1"
[[position]]
chain = "a"
asset = "X"
weight_bps = 12000
[[position]]
chain = "b"
asset = "X"
weight_bps = 2000
[[position]]
chain = "c"
asset = "X"
weight_bps = 3000
"#;
        let errs = errors(src);
        assert_eq!(
            errs,
            vec![
                "c.toml:7: position[0].weight_bps: 12000 is above 10000",
                "c.toml:11: position: weights sum to 5000 bps over 2 positions; they must sum to 10000",
            ]
        );
    }

    #[test]
    fn routes_must_name_known_positions_and_venues() {
        let src = MINIMAL
            .replace("venue = \"binance\"\nfrom", "venue = \"binanse\"\nfrom")
            .replace(
                "to = { chain = \"optimism\", asset = \"USDC\" }",
                "to = { chain = \"base\", asset = \"USDC\" }",
            );
        let errs = errors(&src);
        assert_eq!(
            errs,
            vec![
                "c.toml:25: route[0].venue: unknown venue \"binanse\" (declared: binance)",
                "c.toml:27: route[0].to: base/USDC is not a configured position",
            ]
        );
    }

    #[test]
    fn routes_through_hyperliquid_need_its_bridge_at_both_ends() {
        let with_hl = MINIMAL.replace(
            "[[position]]\nchain = \"arbitrum\"",
            "[[venue]]\nname = \"hl\"\nkind = \"hyperliquid\"\n\n[[position]]\nchain = \"arbitrum\"",
        ) + "\n[[position]]\nchain = \"arbitrum\"\nasset = \"USDT\"\ntarget = \"1000\"\n";
        let route = |from: &str, to: &str| {
            format!(
                "\n[[route]]\nvenue = \"hl\"\nfrom = {{ chain = \"{}\", asset = \"{}\" }}\n\
                 to = {{ chain = \"{}\", asset = \"{}\" }}\nmarket = \"USDT0/USDC\"\n",
                from.split('/').next().unwrap(),
                from.split('/').nth(1).unwrap(),
                to.split('/').next().unwrap(),
                to.split('/').nth(1).unwrap(),
            )
        };
        // USDC in over the bridge, USDT0 out: there is no withdrawal of USDT0 to Arbitrum.
        let src = with_hl.clone() + &route("arbitrum/USDC", "arbitrum/USDT");
        let errs = errors(&src);
        assert_eq!(errs.len(), 1, "{errs:?}");
        let line = src
            .lines()
            .position(|l| l.starts_with("to = { chain = \"arbitrum\", asset = \"USDT\""))
            .unwrap()
            + 1;
        assert!(
            errs[0].starts_with(&format!(
                "c.toml:{line}: route[1].to: arbitrum/USDT cannot be withdrawn from venue \"hl\""
            )),
            "{errs:?}"
        );
        assert!(errs[0].contains("only USDC on arbitrum"), "{errs:?}");
        // The reverse needs a deposit of USDT0, which the bridge does not take.
        let errs = errors(&(with_hl.clone() + &route("arbitrum/USDT", "arbitrum/USDC")));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("route[1].from: arbitrum/USDT cannot be deposited to venue \"hl\""),
            "{errs:?}"
        );
        // USDC from another chain has no bridge either.
        let errs = errors(&(with_hl.clone() + &route("optimism/USDC", "arbitrum/USDC")));
        assert!(
            errs.len() == 1 && errs[0].contains("route[1].from: optimism/USDC cannot be deposited"),
            "{errs:?}"
        );
        // The same file through Binance is fine: the refusal is the venue's, not the route's.
        let src = with_hl.clone()
            + &route("arbitrum/USDC", "arbitrum/USDT").replace("\"hl\"", "\"binance\"");
        assert!(errors(&src).is_empty(), "{:?}", errors(&src));
        // A linked spot token on HyperEVM goes both ways through its system address.
        let with_evm = with_hl
            + "\n[[position]]\nchain = \"hyperevm\"\nasset = \"USDT0\"\ntarget = \"1000\"\n"
            + "\n[[position]]\nchain = \"hyperevm\"\nasset = \"USDC\"\ntarget = \"1000\"\n";
        for (from, to) in [
            ("arbitrum/USDC", "hyperevm/USDT0"),
            ("hyperevm/USDT0", "arbitrum/USDC"),
        ] {
            let src = with_evm.clone() + &route(from, to);
            assert!(
                errors(&src).is_empty(),
                "{from} -> {to}: {:?}",
                errors(&src)
            );
        }
        // USDC on HyperEVM crosses through Circle's CoreDepositWallet, which ballast does not model.
        let errs = errors(&(with_evm + &route("hyperevm/USDC", "hyperevm/USDT0")));
        assert!(
            errs.len() == 1
                && errs[0].contains("route[1].from: hyperevm/USDC cannot be deposited")
                && errs[0].contains("not USDC or HYPE there"),
            "{errs:?}"
        );
    }

    #[test]
    fn duplicates_and_missing_keys() {
        let src = MINIMAL
            .replace("chain = \"optimism\"", "chain = \"arbitrum\"")
            .replace("min_order_value = \"10\"\n", "");
        let errs = errors(&src);
        assert!(
            errs.contains(&"c.toml:5: controller: missing key `min_order_value`".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(
                |e| e.contains("position arbitrum/USDC is configured twice (first at line 12)")
            ),
            "{errs:?}"
        );
    }

    #[test]
    fn toml_syntax_errors_have_a_line() {
        let errs = errors("[controller]\nkp = = 1\n");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("c.toml:2: invalid TOML"), "{errs:?}");
    }
}
