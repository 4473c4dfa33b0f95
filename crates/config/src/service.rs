//! The service's sections: `mode` (top level or in `[service]`), `[service]` (journal, HTTP endpoint, lease,
//! time to live per leg stage, breakers, the auction schedule, prices, logging) and `[paper]` (what the
//! simulated world of paper mode looks like). Documented in `docs/CONFIG.md` and `docs/SERVICE.md`.
//!
//! A configuration that never runs the service (`plan`, `config check`) may leave all of it out. What a mode
//! requires of the rest of the file (live: keys for every venue and chain, real chains; paper: simulated
//! chains) is checked here with the line of the section at fault: at once when the file names its `mode` or
//! has a `[service]` section, otherwise when the service starts ([`ServiceCfg::mode_problems`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::Decimal;

use super::chains::{ChainCfg, ChainKind};
use super::reader::{Diagnostics, FromField, Obj, Problem, choice};
use super::{VenueCfg, VenueKind, VenueSettings};
use ballast_core::auction::{Reprice, Schedule};
use ballast_core::leg::Ttls;

/// Paper (local venue servers and simulated chains, no keys, no network) or live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Paper,
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Paper => "paper",
            Mode::Live => "live",
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Readable,
    Json,
}

/// Thresholds of a rebalance's execution quality (`[service.quality]`): a completed leg that crosses one
/// raises a warning and counts in `ballast_rebalance_threshold_crossed_total`. Defaults from the seed
/// keeper's targets: slippage below 0.5 %, lag below 2 h.
#[derive(Clone, Debug, PartialEq)]
pub struct QualityLimits {
    pub max_slippage_bps: f64,
    pub max_lag: Duration,
}

impl Default for QualityLimits {
    fn default() -> Self {
        QualityLimits {
            max_slippage_bps: 50.0,
            max_lag: Duration::from_secs(2 * 3600),
        }
    }
}

/// Circuit breakers: conditions that stop new moves.
#[derive(Clone, Debug, PartialEq)]
pub struct Breakers {
    /// Value (base units) the legs started in one cycle may move; orders beyond it are not started.
    pub max_cycle_value: Option<Decimal>,
    /// Value the legs started in one UTC day may move; beyond it nothing new starts until the next day.
    pub max_daily_value: Option<Decimal>,
    /// After this many venue rejections in a row (post-only crossings excepted) the kill switch goes to
    /// reduce-only until an operator resumes. 0 turns it off.
    pub max_consecutive_rejects: u32,
    /// A venue whose mid is further than this from the reference price (from `prices`) gets no new move.
    pub max_mid_deviation_bps: Option<u32>,
    /// Balances older than this (a chain's head, or the last successful read) stop every new move.
    pub stale_balance_age: Option<Duration>,
}

impl Default for Breakers {
    fn default() -> Self {
        Breakers {
            max_cycle_value: None,
            max_daily_value: None,
            max_consecutive_rejects: 5,
            max_mid_deviation_bps: Some(100),
            stale_balance_age: Some(Duration::from_secs(600)),
        }
    }
}

/// The simulated world of paper mode.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperCfg {
    /// Seed of the local venue servers' markets.
    pub seed: u64,
    /// A balance recording (`ballast synth` format) whose per-minute changes are applied to the simulated
    /// chains as exogenous flows, sped up.
    pub flows: Option<PathBuf>,
    /// Real time between two rows of the recording.
    pub flow_step: Duration,
    /// Starting balances per position (`"chain/asset" = amount`); default: the recording's first row, else
    /// the target (weights: their share of `value`).
    pub balances: BTreeMap<String, Decimal>,
    /// Portfolio value used to fund weighted positions without a balance.
    pub value: Decimal,
    /// Deposit and withdrawal delays of the local venue servers.
    pub deposit_delay: Duration,
    pub withdraw_delay: Duration,
    /// Withdrawal fee and minimum of every network of the local Binance server, in asset units.
    pub withdraw_fee: Decimal,
    pub withdraw_min: Decimal,
}

impl Default for PaperCfg {
    fn default() -> Self {
        PaperCfg {
            seed: 1,
            flows: None,
            flow_step: Duration::from_secs(1),
            balances: BTreeMap::new(),
            value: Decimal::from(1_000_000),
            deposit_delay: Duration::from_secs(3),
            withdraw_delay: Duration::from_secs(3),
            withdraw_fee: Decimal::ONE,
            withdraw_min: Decimal::from(10),
        }
    }
}

/// Everything the service reads from the file.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceCfg {
    pub mode: Mode,
    /// `mode` was written in the file (live is never assumed).
    pub mode_explicit: bool,
    /// The SQLite journal, resolved against the configuration's directory.
    pub journal: PathBuf,
    pub http_listen: SocketAddr,
    /// Listening beyond loopback is allowed (and then every endpoint needs the token).
    pub http_public: bool,
    /// Environment variable holding the bearer token of the mutating HTTP calls; none: they are refused.
    pub token_env: Option<String>,
    pub lease_ttl: Duration,
    /// How often working legs are advanced between cycles.
    pub leg_poll: Duration,
    pub log_format: LogFormat,
    /// Write the log lines to this file (appending; resolved against the configuration's directory) instead
    /// of standard error, so the progress table stays readable.
    pub log_file: Option<PathBuf>,
    /// Print a compact table per cycle on standard output.
    pub progress: bool,
    /// Prices of assets in base units; assets not listed are worth 1.
    pub prices: BTreeMap<String, Decimal>,
    pub ttls: Ttls,
    pub breakers: Breakers,
    pub quality: QualityLimits,
    pub auction: Schedule,
    pub reprice: Reprice,
    pub paper: PaperCfg,
    /// What the mode requires and the file lacks, each at its line. Already reported as errors when the
    /// file states its mode or has a `[service]` section; otherwise reported when the service starts.
    pub mode_problems: Vec<Problem>,
}

impl ServiceCfg {
    /// Why the HTTP endpoint may not listen on `listen` (the file's `http_listen` or `run --http`): beyond
    /// loopback only with `http_public = true`.
    pub fn listen_refusal(&self, listen: SocketAddr) -> Option<String> {
        (!listen.ip().is_loopback() && !self.http_public).then(|| {
            format!(
                "{listen} listens beyond loopback, where /status and /pending would answer anyone: listen on 127.0.0.1, or set `http_public = true` (every endpoint then needs the token)"
            )
        })
    }

    /// The price of an asset (1 when not listed).
    pub fn price(&self, asset: &str) -> Decimal {
        self.prices.get(asset).copied().unwrap_or(Decimal::ONE)
    }
}

/// The default journal file, next to the configuration.
pub const DEFAULT_JOURNAL: &str = "ballast-journal.db";
/// The default HTTP endpoint: loopback only.
pub const DEFAULT_HTTP: &str = "127.0.0.1:9464";

fn positive(o: &mut Obj, d: &mut Diagnostics, key: &str, default: Duration) -> Duration {
    let v = o.or(d, key, default);
    if v.is_zero()
        && let Some(f) = o.field(key)
    {
        f.invalid(d, "must be longer than 0s");
        return default;
    }
    v
}

fn opt_money(o: &mut Obj, d: &mut Diagnostics, key: &str) -> Option<Decimal> {
    let f = o.field(key)?;
    let v = Decimal::from_field(&f, d)?;
    if v <= Decimal::ZERO {
        f.invalid(d, format!("{v} must be above 0"));
        return None;
    }
    Some(v)
}

fn env_var_name(o: &mut Obj, d: &mut Diagnostics, key: &str) -> Option<String> {
    let f = o.field(key)?;
    let s = String::from_field(&f, d)?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        f.invalid(
            d,
            format!(
                "{s:?} is not an environment variable name (write the variable's name, never the token)"
            ),
        );
        return None;
    }
    Some(s)
}

fn read_mode(o: &mut Obj, d: &mut Diagnostics) -> Option<(Mode, Option<std::ops::Range<usize>>)> {
    let f = o.field("mode")?;
    choice(&f, d, &[("paper", Mode::Paper), ("live", Mode::Live)]).map(|m| (m, f.span.clone()))
}

fn read_ttls(o: &mut Obj, d: &mut Diagnostics) -> Ttls {
    let dflt = Ttls::default();
    Ttls {
        submit: positive(o, d, "submit", dflt.submit),
        deposit: positive(o, d, "deposit", dflt.deposit),
        swap: positive(o, d, "swap", dflt.swap),
        withdrawal: positive(o, d, "withdrawal", dflt.withdrawal),
        arrival: positive(o, d, "arrival", dflt.arrival),
    }
}

fn read_breakers(o: &mut Obj, d: &mut Diagnostics) -> Breakers {
    let dflt = Breakers::default();
    let max_mid_deviation_bps = match o.field("max_mid_deviation_bps") {
        Some(f) => match u32::from_field(&f, d) {
            Some(0) => None,
            Some(v) if v <= 10_000 => Some(v),
            Some(v) => {
                f.invalid(d, format!("{v} is above 10000"));
                None
            }
            None => None,
        },
        None => dflt.max_mid_deviation_bps,
    };
    let stale_balance_age = match o.opt::<Duration>(d, "stale_balance_age") {
        Ok(Some(v)) if v.is_zero() => None,
        Ok(Some(v)) => Some(v),
        Ok(None) => dflt.stale_balance_age,
        Err(_) => None,
    };
    Breakers {
        max_cycle_value: opt_money(o, d, "max_cycle_value"),
        max_daily_value: opt_money(o, d, "max_daily_value"),
        max_consecutive_rejects: o.or(d, "max_consecutive_rejects", dflt.max_consecutive_rejects),
        max_mid_deviation_bps,
        stale_balance_age,
    }
}

fn read_auction(o: &mut Obj, d: &mut Diagnostics) -> (Schedule, Reprice) {
    let dflt = Schedule::default();
    let ms = |x: Duration| x.as_millis() as i64;
    let span = o.span.clone();
    let path = o.path.clone();
    let start_bps = o.or(d, "start_bps", dflt.start_bps);
    let floor_bps = o.or(d, "floor_bps", dflt.floor_bps);
    let duration = o.or(
        d,
        "duration",
        Duration::from_millis(dflt.duration_ms as u64),
    );
    let step = o.or(d, "step", Duration::from_millis(dflt.step_ms as u64));
    let taker = o.or(d, "taker", Duration::from_millis(dflt.taker_ms as u64));
    let deadline = match o.opt::<Duration>(d, "deadline") {
        Ok(Some(v)) => ms(v),
        _ => ms(duration) + ms(taker),
    };
    let reprice = match o.field("reprice") {
        Some(f) => choice(
            &f,
            d,
            &[
                ("replace", Reprice::Replace),
                ("cancel_then_place", Reprice::CancelThenPlace),
            ],
        )
        .unwrap_or_default(),
        None => Reprice::Replace,
    };
    let s = Schedule {
        start_bps,
        floor_bps,
        shape: dflt.shape.clone(),
        duration_ms: ms(duration),
        step_ms: ms(step),
        taker_ms: ms(taker),
        deadline_ms: deadline,
    };
    if let Err(e) = s.validate() {
        d.error(span, path, format!("invalid auction schedule: {e}"));
        return (dflt, reprice);
    }
    (s, reprice)
}

fn read_prices(o: &mut Obj, d: &mut Diagnostics) -> BTreeMap<String, Decimal> {
    let mut out = BTreeMap::new();
    let Some(f) = o.field("prices") else {
        return out;
    };
    let Some(mut t) = f.obj(d) else {
        return out;
    };
    let keys: Vec<String> = f
        .item
        .as_table_like()
        .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default();
    for k in keys {
        if let Some(v) = opt_money(&mut t, d, &k) {
            out.insert(k, v);
        }
    }
    t.finish(d);
    out
}

fn read_paper(o: &mut Obj, d: &mut Diagnostics, base_dir: &Path) -> PaperCfg {
    let dflt = PaperCfg::default();
    let flows = o
        .opt::<String>(d, "flows")
        .ok()
        .flatten()
        .map(|p| resolve(base_dir, &p));
    let mut balances = BTreeMap::new();
    if let Some(f) = o.field("balances")
        && let Some(mut t) = f.obj(d)
    {
        let keys: Vec<String> = f
            .item
            .as_table_like()
            .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
            .unwrap_or_default();
        for k in keys {
            let Some(vf) = t.field(&k) else { continue };
            if !k.contains('/') {
                vf.invalid(d, "name a position as \"chain/asset\"");
                continue;
            }
            if let Some(v) = Decimal::from_field(&vf, d) {
                if v.is_sign_negative() {
                    vf.invalid(d, format!("{v} is negative"));
                } else {
                    balances.insert(k, v);
                }
            }
        }
        t.finish(d);
    }
    let withdraw_fee = o.or(d, "withdraw_fee", dflt.withdraw_fee);
    let withdraw_min = o.or(d, "withdraw_min", dflt.withdraw_min);
    if withdraw_fee.is_sign_negative() || withdraw_min.is_sign_negative() {
        d.error(
            o.span.clone(),
            &o.path,
            "withdraw_fee and withdraw_min must not be negative",
        );
    }
    PaperCfg {
        seed: o.or(d, "seed", dflt.seed),
        flows,
        flow_step: positive(o, d, "flow_step", dflt.flow_step),
        balances,
        value: opt_money(o, d, "value").unwrap_or(dflt.value),
        deposit_delay: o.or(d, "deposit_delay", dflt.deposit_delay),
        withdraw_delay: o.or(d, "withdraw_delay", dflt.withdraw_delay),
        withdraw_fee,
        withdraw_min,
    }
}

fn resolve(base_dir: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() { p } else { base_dir.join(p) }
}

/// Lines of the `[[venue]]` headers, in order (for messages about a venue).
fn venue_lines(root: &mut Obj, d: &mut Diagnostics) -> Vec<usize> {
    let Some(f) = root.field("venue") else {
        return Vec::new();
    };
    let mut scratch = Diagnostics::new(d.file().to_string(), "");
    f.objs(&mut scratch)
        .iter()
        .map(|o| o.span.as_ref().map(|s| d.line_of(s.start)).unwrap_or(0))
        .collect()
}

/// What `mode` requires of the venues and chains, as problems at their lines.
fn mode_requirements(
    mode: Mode,
    file: &str,
    venues: &[VenueCfg],
    venue_lines: &[usize],
    chains: &[ChainCfg],
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut push = |line: usize, path: String, message: String| {
        out.push(Problem {
            file: file.to_string(),
            line: (line > 0).then_some(line),
            path,
            message,
        })
    };
    for (i, v) in venues.iter().enumerate() {
        let line = venue_lines.get(i).copied().unwrap_or(0);
        let path = format!("venue[{i}]");
        match (&v.settings, mode) {
            (VenueSettings::Sim(_), _) => push(
                line,
                format!("{path}.kind"),
                format!(
                    "venue {:?} is kind = \"sim\": the service trades through \"hyperliquid\" or \"binance\" venues (paper mode runs their local servers)",
                    v.name
                ),
            ),
            (VenueSettings::Binance(s), Mode::Live) if s.credentials.is_none() => push(
                line,
                path,
                format!(
                    "live mode needs the keys of venue {:?}: api_key_env with secret_key_env or ed25519_key_file, or a keystore",
                    v.name
                ),
            ),
            (VenueSettings::Hyperliquid(s), Mode::Live) => match &s.live {
                None => push(
                    line,
                    path,
                    format!(
                        "live mode needs venue {:?} connected: set `network` and `key_env` (or a keystore)",
                        v.name
                    ),
                ),
                Some(l) if l.key.is_none() => push(
                    line,
                    path,
                    format!(
                        "live mode needs the signing key of venue {:?}: key_env or keystore",
                        v.name
                    ),
                ),
                Some(_) => {}
            },
            _ => {}
        }
        let _ = VenueKind::Sim;
    }
    for (i, c) in chains.iter().enumerate() {
        let path = format!("chain[{i}]");
        match (c.kind, mode) {
            (ChainKind::Sim, Mode::Live) => push(
                c.line,
                format!("{path}.kind"),
                format!(
                    "chain {:?} is simulated: live mode runs on real chains (kind = \"evm\")",
                    c.name
                ),
            ),
            (ChainKind::Evm, Mode::Paper) => push(
                c.line,
                format!("{path}.kind"),
                format!(
                    "chain {:?} is a real chain: paper mode runs on simulated chains (kind = \"sim\", dev_key accounts), or set mode = \"live\"",
                    c.name
                ),
            ),
            _ => {}
        }
        if c.signing_accounts().next().is_none() {
            push(
                c.line,
                path,
                format!(
                    "chain {:?} has no account with a key: the service cannot send from it or receive to a known account",
                    c.name
                ),
            );
        }
    }
    out
}

/// Read `mode`, `[service]` and `[paper]` from the root table.
pub fn read(
    root: &mut Obj,
    d: &mut Diagnostics,
    config_path: &Path,
    venues: &[VenueCfg],
    chains: &[ChainCfg],
) -> ServiceCfg {
    let base_dir = config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let top_mode = read_mode(root, d);
    let service = root.obj(d, "service");
    let has_service = service.is_some();
    let (mut mode, mut explicit) = match top_mode {
        Some((m, _)) => (m, true),
        None => (Mode::Paper, false),
    };
    let mut cfg = ServiceCfg {
        mode,
        mode_explicit: explicit,
        journal: base_dir.join(DEFAULT_JOURNAL),
        http_listen: DEFAULT_HTTP.parse().expect("valid default"),
        http_public: false,
        token_env: None,
        lease_ttl: Duration::from_secs(30),
        leg_poll: Duration::from_secs(2),
        log_format: LogFormat::Readable,
        log_file: None,
        progress: true,
        prices: BTreeMap::new(),
        ttls: Ttls::default(),
        breakers: Breakers::default(),
        quality: QualityLimits::default(),
        auction: Schedule::default(),
        reprice: Reprice::Replace,
        paper: PaperCfg::default(),
        mode_problems: Vec::new(),
    };
    if let Some(mut o) = service {
        if let Some((m, span)) = read_mode(&mut o, d) {
            if top_mode.is_some_and(|(t, _)| t != m) {
                d.error(
                    span,
                    "service.mode",
                    "`mode` is given twice with different values (top level and [service])",
                );
            }
            mode = m;
            explicit = true;
        }
        if let Some(p) = o.opt::<String>(d, "journal").ok().flatten() {
            cfg.journal = resolve(&base_dir, &p);
        }
        if let Some(f) = o.field("http_listen")
            && let Some(s) = String::from_field(&f, d)
        {
            match s.parse::<SocketAddr>() {
                Ok(a) => cfg.http_listen = a,
                Err(_) => f.invalid(d, format!("{s:?} is not an ip:port address")),
            }
        }
        cfg.token_env = env_var_name(&mut o, d, "token_env");
        cfg.http_public = o.or(d, "http_public", false);
        if let Some(why) = cfg.listen_refusal(cfg.http_listen)
            && let Some(f) = o.field("http_listen")
        {
            f.invalid(d, why);
        }
        if cfg.http_public
            && cfg.token_env.is_none()
            && let Some(f) = o.field("http_public")
        {
            f.invalid(
                d,
                "needs `token_env`: a public endpoint answers only requests that carry the token",
            );
        }
        cfg.lease_ttl = positive(&mut o, d, "lease_ttl", cfg.lease_ttl);
        if cfg.lease_ttl < Duration::from_secs(3)
            && let Some(f) = o.field("lease_ttl")
        {
            f.invalid(
                d,
                "must be at least 3s (the lease is renewed every third of it)",
            );
        }
        cfg.leg_poll = positive(&mut o, d, "leg_poll", cfg.leg_poll);
        if let Some(f) = o.field("log_format") {
            cfg.log_format = choice(
                &f,
                d,
                &[("readable", LogFormat::Readable), ("json", LogFormat::Json)],
            )
            .unwrap_or(LogFormat::Readable);
        }
        if let Some(p) = o.opt::<String>(d, "log_file").ok().flatten() {
            cfg.log_file = Some(resolve(&base_dir, &p));
        }
        cfg.progress = o.or(d, "progress", true);
        cfg.prices = read_prices(&mut o, d);
        if let Some(mut t) = o.obj(d, "ttl") {
            cfg.ttls = read_ttls(&mut t, d);
            t.finish(d);
        }
        if let Some(mut t) = o.obj(d, "breakers") {
            cfg.breakers = read_breakers(&mut t, d);
            t.finish(d);
        }
        if let Some(mut t) = o.obj(d, "auction") {
            (cfg.auction, cfg.reprice) = read_auction(&mut t, d);
            t.finish(d);
        }
        if let Some(mut t) = o.obj(d, "quality") {
            let dflt = QualityLimits::default();
            let bps: u32 = t.or(d, "max_slippage_bps", dflt.max_slippage_bps as u32);
            cfg.quality = QualityLimits {
                max_slippage_bps: f64::from(bps),
                max_lag: positive(&mut t, d, "max_lag", dflt.max_lag),
            };
            t.finish(d);
        }
        o.finish(d);
    }
    if let Some(mut p) = root.obj(d, "paper") {
        cfg.paper = read_paper(&mut p, d, &base_dir);
        p.finish(d);
    }
    cfg.mode = mode;
    cfg.mode_explicit = explicit;
    let lines = venue_lines(root, d);
    cfg.mode_problems = mode_requirements(mode, d.file(), venues, &lines, chains);
    if (explicit || has_service) && !d.has_errors() {
        d.problems.extend(cfg.mode_problems.iter().cloned());
    }
    cfg
}

#[cfg(test)]
mod tests {

    /// Regression (issue 18): `http_listen = "0.0.0.0:..."` was accepted without a word, exposing `/status`
    /// and `/pending` to the network unauthenticated.
    #[test]
    fn listening_beyond_loopback_needs_http_public_and_a_token() {
        let errs = |svc: &str| -> Vec<String> { errors(&(base() + "\n[service]\n" + svc + "\n")) };
        let e = errs("http_listen = \"0.0.0.0:9464\"");
        assert!(
            e.iter()
                .any(|m| m.contains("service.http_listen:") && m.contains("beyond loopback")),
            "{e:?}"
        );
        let e = errs("http_listen = \"0.0.0.0:9464\"\nhttp_public = true");
        assert!(
            e.iter()
                .any(|m| m.contains("service.http_public:") && m.contains("token_env")),
            "{e:?}"
        );
        let ok = errs("http_listen = \"0.0.0.0:9464\"\nhttp_public = true\ntoken_env = \"TOK\"");
        assert!(ok.is_empty(), "{ok:?}");
        assert!(errs("http_listen = \"127.0.0.1:9464\"").is_empty());
    }

    use crate::Config;

    const BASE: &str = r#"
[controller]
min_order_value = "10"

[[venue]]
name = "binance"
kind = "binance"

[[position]]
chain = "arb"
asset = "USDC"
target = "1000"

[[chain]]
name = "arb"
kind = "sim"
chain_id = 42161

[[chain.token]]
asset = "USDC"
address = "0x00000000000000000000000000000000000000aa"
decimals = 6

[[chain.account]]
address = "DEV1"
dev_key = 1
"#;

    fn base() -> String {
        let dev = crate::chains::dev_signer(1).address().to_string();
        BASE.replace("DEV1", &dev)
    }

    fn errors(src: &str) -> Vec<String> {
        match Config::parse("c.toml", src) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_are_paper_on_loopback_with_a_journal_next_to_the_file() {
        let c = Config::parse("/etc/ballast/c.toml", &base()).unwrap();
        let s = &c.service;
        assert_eq!(s.mode, super::Mode::Paper);
        assert!(!s.mode_explicit);
        assert_eq!(
            s.journal,
            std::path::Path::new("/etc/ballast/ballast-journal.db")
        );
        assert!(s.http_listen.ip().is_loopback());
        assert_eq!(s.http_listen.port(), 9464);
        assert!(s.mode_problems.is_empty(), "{:?}", s.mode_problems);
    }

    #[test]
    fn every_key_is_read_and_checked_with_its_line() {
        let src = "mode = \"paper\"\n".to_string()
            + &base()
            + r#"
[service]
journal = "j.db"
http_listen = "127.0.0.1:0"
token_env = "TOK"
lease_ttl = "1s"
prices = { USDC = "1", USDT = "-1" }
[service.ttl]
swap = "0s"
[service.breakers]
max_cycle_value = "100"
max_consecutive_rejects = 3
stale_balanc_age = "1m"
[service.auction]
duration = "1m"
step = "2s"
taker = "0s"
floor_bps = 20
[paper]
balances = { "arb/USDC" = "50", USDT = "1" }
"#;
        let errs = errors(&src);
        assert_eq!(
            errs,
            vec![
                "c.toml:33: service.lease_ttl: must be at least 3s (the lease is renewed every third of it)",
                "c.toml:34: service.prices.USDT: -1 must be above 0",
                "c.toml:36: service.ttl.swap: must be longer than 0s",
                "c.toml:40: service.breakers.stale_balanc_age: unknown key (did you mean `stale_balance_age`?)",
                "c.toml:47: paper.balances.USDT: name a position as \"chain/asset\"",
            ],
            "{errs:#?}"
        );
    }

    #[test]
    fn live_needs_keys_and_real_chains_and_says_where() {
        let src = base().replacen("[controller]", "mode = \"live\"\n[controller]", 1);
        let errs = errors(&src);
        assert_eq!(
            errs,
            vec![
                "c.toml:6: venue[0]: live mode needs the keys of venue \"binance\": api_key_env with secret_key_env or ed25519_key_file, or a keystore",
                "c.toml:15: chain[0].kind: chain \"arb\" is simulated: live mode runs on real chains (kind = \"evm\")",
            ]
        );
        // Without an explicit mode the file stays valid for other commands; the service reports it.
        let c = Config::parse(
            "c.toml",
            &base()
                .replace(
                    "kind = \"sim\"",
                    "kind = \"evm\"\nrpc_url = \"http://127.0.0.1:1\"\nconfirmations = 1\nmax_fee_gwei = 100\nmax_priority_fee_gwei = 2",
                )
                .replace("dev_key = 1", "key_env = \"ARB_KEY\""),
        )
        .unwrap();
        assert_eq!(c.service.mode_problems.len(), 1);
        assert!(
            c.service.mode_problems[0]
                .to_string()
                .contains("paper mode runs on simulated chains")
        );
    }
}
