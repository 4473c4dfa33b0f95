//! Synthetic recordings for tests, demos and benchmarks, deterministic under a seed.
//!
//! - `relayer`: a cross-chain relayer's USDC and USDT on many chains. Each chain has a lasting role (net
//!   destination, where users bridge to, or net origin) and a busy hour. Fills drain the destination at once;
//!   repayments (fill + fee) arrive one to two hours later on the origin, or, about a third of the time, on the
//!   chain of that token shortest against its target (the relayer's repayment-chain preference: a slow pull
//!   that keeps a long recording bounded without hiding the drains a rebalancer must absorb). Activity follows
//!   a daily cycle with bursts (a calm/burst regime switch). About 1.5x the inventory is relayed per day. A
//!   fill that would take a balance below zero is not made (the relayer was empty), as in a real recording.
//! - `treasury`: stablecoins on several chains plus WETH; WETH follows a geometric random walk, revenue arrives
//!   daily, payroll leaves weekly and occasional large payments leave at random.
//!
//! Output: `balances.csv` (every minute, every position; `.csv.gz` with `gzip`), `prices.csv`, and a
//! `config.toml` that declares the positions, bands and routes so the recording can be backtested at once.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal, Poisson};
use rust_decimal::Decimal;

use ballast_core::model::{PositionKey, TimestampMs};

/// Which kind of recording to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Relayer,
    Treasury,
}

crate::named_enum!(Kind { "relayer" => Kind::Relayer, "treasury" => Kind::Treasury });

/// Parameters of a synthetic recording.
#[derive(Clone, Debug)]
pub struct SynthSpec {
    pub kind: Kind,
    pub days: u32,
    pub positions: usize,
    pub seed: u64,
    /// First timestamp (unix ms).
    pub start: TimestampMs,
    /// Minutes between snapshots.
    pub step_minutes: u32,
    pub gzip: bool,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            kind: Kind::Relayer,
            days: 7,
            positions: 10,
            seed: 1,
            // 2026-01-01T00:00:00Z
            start: 1_767_225_600_000,
            step_minutes: 1,
            gzip: false,
        }
    }
}

/// What was generated (for the caller's summary).
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSummary {
    pub positions: Vec<PositionKey>,
    pub targets: Vec<f64>,
    pub snapshots: usize,
    pub rows: usize,
}

const CHAINS: [&str; 20] = [
    "ethereum",
    "arbitrum",
    "optimism",
    "base",
    "polygon",
    "bsc",
    "linea",
    "zksync",
    "scroll",
    "blast",
    "mode",
    "unichain",
    "ink",
    "soneium",
    "lisk",
    "worldchain",
    "zora",
    "mantle",
    "avalanche",
    "gnosis",
];

/// A generated path: per snapshot, the balance of each position, and price paths.
pub struct Generated {
    pub positions: Vec<PositionKey>,
    pub targets: Vec<f64>,
    pub decimals: Vec<u32>,
    pub times: Vec<TimestampMs>,
    /// `balances[t][p]`.
    pub balances: Vec<Vec<f64>>,
    /// (asset, per-snapshot price) for assets whose price is not 1.
    pub prices: Vec<(String, Vec<f64>)>,
}

/// Generate the balance paths in memory.
pub fn generate(spec: &SynthSpec) -> Generated {
    match spec.kind {
        Kind::Relayer => relayer(spec),
        Kind::Treasury => treasury(spec),
    }
}

fn relayer(spec: &SynthSpec) -> Generated {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let n = spec.positions.max(2);
    let chains = n.div_ceil(2).min(CHAINS.len());
    let mut positions = Vec::with_capacity(n);
    for i in 0..n {
        positions.push(PositionKey::new(
            CHAINS[(i / 2) % chains],
            if i % 2 == 0 { "USDC" } else { "USDT" },
        ));
    }
    // Targets: larger on the first chains, USDT smaller than USDC.
    let targets: Vec<f64> = (0..n)
        .map(|i| {
            let chain_scale = 2_000_000.0 / (1.0 + (i / 2) as f64 * 0.35);
            let t = if i % 2 == 0 {
                chain_scale
            } else {
                chain_scale * 0.5
            };
            (t / 1000.0).round() * 1000.0
        })
        .collect();
    // Each chain has a lasting role: net destination (users bridge to it) or net origin. Roles alternate so
    // that they balance over the chains.
    let role: Vec<f64> = (0..chains)
        .map(|c| if c % 2 == 1 { 0.5 } else { -0.5 } * rng.random_range(0.6..1.0))
        .collect();
    // And a busy hour (UTC) when it is most often the destination.
    let peak_hour: Vec<f64> = (0..chains)
        .map(|c| (c as f64 * 24.0 / chains as f64 + rng.random_range(0.0..3.0)) % 24.0)
        .collect();
    // The relayer holds its targets plus the float of its fills awaiting repayment (about 1.5 h of volume),
    // so that on average its chains sit at their targets.
    let float_share = 1.5 * 1.5 / 24.0;
    let mut bal: Vec<f64> = targets.iter().map(|t| t * (1.0 + float_share)).collect();
    let steps = (spec.days as usize * 24 * 60) / spec.step_minutes.max(1) as usize;
    let dt_min = spec.step_minutes.max(1) as f64;
    let size = LogNormal::new((3_000f64).ln(), 1.0).expect("lognormal");
    // Repayments in flight: (due step, chain, usdt, amount in micro units).
    let mut repay: std::collections::BinaryHeap<std::cmp::Reverse<(usize, usize, bool, u64)>> =
        Default::default();
    let mut burst = false;
    let total_target: f64 = targets.iter().sum();
    // About 1.5x the inventory is relayed per day at the daily mean.
    let mean_size = 3_000.0 * (0.5f64).exp();
    let base_rate_per_min = 1.5 * total_target / mean_size / 1440.0;
    let mut times = Vec::with_capacity(steps + 1);
    let mut out = Vec::with_capacity(steps + 1);
    times.push(spec.start);
    out.push(bal.clone());
    let mut dest_w = vec![0.0; chains];
    let mut orig_w = vec![0.0; chains];
    let pick = |w: &[f64], rng: &mut ChaCha8Rng| {
        let sum: f64 = w.iter().sum();
        let mut x = rng.random_range(0.0..sum);
        for (c, wc) in w.iter().enumerate() {
            if x < *wc {
                return c;
            }
            x -= wc;
        }
        w.len() - 1
    };
    for s in 1..=steps {
        let t = spec.start + (s as i64) * (dt_min as i64) * 60_000;
        let hour = ((t / 3_600_000) % 24) as f64 + ((t / 60_000) % 60) as f64 / 60.0;
        // Regime: calm <-> burst.
        if burst {
            if rng.random_bool((dt_min / 25.0).min(1.0)) {
                burst = false;
            }
        } else if rng.random_bool((dt_min * 3.0 / 1440.0).min(1.0)) {
            burst = true;
        }
        let daily = 1.0 + 0.6 * ((hour - 15.0) / 24.0 * std::f64::consts::TAU).cos();
        let lambda = base_rate_per_min * dt_min * daily * if burst { 4.0 } else { 1.0 };
        let k = Poisson::new(lambda.max(1e-9))
            .map(|p| p.sample(&mut rng) as usize)
            .unwrap_or(0);
        for c in 0..chains {
            let d = ((hour - peak_hour[c] + 36.0) % 24.0) - 12.0;
            let busy = 0.6 + (-d * d / 18.0).exp();
            dest_w[c] = busy * (1.0 + role[c]);
            orig_w[c] = 1.0 - role[c];
        }
        for _ in 0..k {
            let amount = size.sample(&mut rng).min(150_000.0);
            let usdt = rng.random_bool(0.3);
            let dest = pick(&dest_w, &mut rng);
            let mut origin = pick(&orig_w, &mut rng);
            if origin == dest {
                origin = (origin + 1) % chains;
            }
            let dp = (dest * 2 + usize::from(usdt)).min(n - 1);
            if bal[dp] < amount {
                // The relayer is empty there: the fill is not made (and a real recording shows nothing).
                continue;
            }
            bal[dp] -= amount;
            // The relayer takes repayment on the origin chain, or, when its inventory client prefers, on the
            // chain of the same token that is shortest against its target (a slow pull toward the targets).
            let mut rc = origin;
            if rng.random_bool(0.35) {
                let ratio = |c: usize| {
                    let p = (c * 2 + usize::from(usdt)).min(n - 1);
                    bal[p] / targets[p]
                };
                for c in 0..chains {
                    if ratio(c) < ratio(rc) {
                        rc = c;
                    }
                }
            }
            let due = s + (60.0 / dt_min + rng.random_range(0.0..60.0 / dt_min)) as usize;
            repay.push(std::cmp::Reverse((
                due,
                rc,
                usdt,
                (amount * 1.0005 * 1e6) as u64,
            )));
        }
        while let Some(std::cmp::Reverse((due, c, usdt, amt))) = repay.peek().copied() {
            if due > s {
                break;
            }
            repay.pop();
            let p = (c * 2 + usize::from(usdt)).min(n - 1);
            bal[p] += amt as f64 / 1e6;
        }
        times.push(t);
        out.push(bal.iter().map(|b| (b * 100.0).round() / 100.0).collect());
    }
    Generated {
        positions,
        targets,
        decimals: vec![6; n],
        times,
        balances: out,
        prices: Vec::new(),
    }
}

fn treasury(spec: &SynthSpec) -> Generated {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x7eea5);
    let n = spec.positions.max(3);
    let mut positions = vec![PositionKey::new("ethereum", "WETH")];
    let mut i = 0;
    while positions.len() < n {
        positions.push(PositionKey::new(
            CHAINS[i / 2 % CHAINS.len()],
            if i % 2 == 0 { "USDC" } else { "USDT" },
        ));
        i += 1;
    }
    let eth0 = 3000.0;
    let mut targets: Vec<f64> = vec![1000.0];
    targets.extend((1..n).map(|k| ((3_000_000.0 / k as f64) / 1000.0).round() * 1000.0));
    let mut bal = targets.clone();
    let steps = (spec.days as usize * 24 * 60) / spec.step_minutes.max(1) as usize;
    let dt_min = spec.step_minutes.max(1) as f64;
    let vol_per_min = 0.6 / (365.0f64 * 24.0 * 60.0).sqrt();
    let shock = Normal::new(0.0, vol_per_min * dt_min.sqrt()).expect("normal");
    let mut eth = eth0;
    let mut times = vec![spec.start];
    let mut out = vec![bal.clone()];
    let mut eth_path = vec![eth];
    for s in 1..=steps {
        let t = spec.start + (s as i64) * (dt_min as i64) * 60_000;
        eth *= (shock.sample(&mut rng) - 0.5 * (vol_per_min * vol_per_min) * dt_min).exp();
        let minute_of_day = (t / 60_000) % 1440;
        let day = t / 86_400_000;
        // Daily revenue at 12:00 to the first stablecoin position.
        if minute_of_day == 720 && n > 1 {
            bal[1] += rng.random_range(20_000.0..80_000.0);
        }
        // Weekly payroll on Fridays 16:00 from the second stablecoin position.
        if day % 7 == 1 && minute_of_day == 960 && n > 2 {
            let p = 2.min(n - 1);
            bal[p] = (bal[p] - 250_000.0).max(0.0);
        }
        // Occasional large payments (about two a month) from a random stablecoin position.
        if rng.random_bool((dt_min / (15.0 * 1440.0)).min(1.0)) {
            let p = rng.random_range(1..n);
            let amt = bal[p] * rng.random_range(0.2..0.7);
            bal[p] -= amt;
        }
        times.push(t);
        out.push(bal.iter().map(|b| (b * 100.0).round() / 100.0).collect());
        eth_path.push((eth * 100.0).round() / 100.0);
    }
    let mut decimals = vec![6; n];
    decimals[0] = 18;
    Generated {
        positions,
        targets,
        decimals,
        times,
        balances: out,
        prices: vec![("WETH".to_string(), eth_path)],
    }
}

/// Write a generated recording (and its config) into `dir`.
pub fn write(spec: &SynthSpec, dir: &Path) -> std::io::Result<SynthSummary> {
    std::fs::create_dir_all(dir)?;
    let g = generate(spec);
    let name = if spec.gzip {
        "balances.csv.gz"
    } else {
        "balances.csv"
    };
    let mut w = super::recording::BalanceWriter::create(&dir.join(name))?;
    let other = if spec.gzip {
        "balances.csv"
    } else {
        "balances.csv.gz"
    };
    let _ = std::fs::remove_file(dir.join(other));
    let mut rows = 0;
    for (t, row) in g.times.iter().zip(&g.balances) {
        for (k, b) in g.positions.iter().zip(row) {
            w.row(
                *t,
                k,
                Decimal::from_f64_retain(*b)
                    .map(|d| d.round_dp(2))
                    .unwrap_or_default(),
            )?;
            rows += 1;
        }
    }
    w.finish()?;
    let mut prices = String::from("ts,asset,price\n");
    for (t_i, t) in g.times.iter().enumerate() {
        if t_i % 60 == 0 || t_i + 1 == g.times.len() {
            let _ = writeln!(prices, "{t},USDC,1");
            let _ = writeln!(
                prices,
                "{t},USDT,{}",
                if (t / 3_600_000) % 7 == 0 {
                    "0.9999"
                } else {
                    "1.0001"
                }
            );
        }
    }
    for (asset, path) in &g.prices {
        for (t, p) in g.times.iter().zip(path) {
            let _ = writeln!(prices, "{t},{asset},{p}");
        }
    }
    std::fs::write(dir.join("prices.csv"), prices)?;
    let mut f = std::fs::File::create(dir.join("config.toml"))?;
    f.write_all(config_for(spec, &g).as_bytes())?;
    Ok(SynthSummary {
        positions: g.positions,
        targets: g.targets,
        snapshots: g.times.len(),
        rows,
    })
}

/// A configuration that declares the generated positions (targets at their starting level, bands of +/- 25 %)
/// and routes between them through two simulated venues.
pub fn config_for(spec: &SynthSpec, g: &Generated) -> String {
    let mut s = String::new();
    let kind = match spec.kind {
        Kind::Relayer => "relayer",
        Kind::Treasury => "treasury",
    };
    let _ = writeln!(
        s,
        "# Generated by `ballast synth --kind {kind} --days {} --positions {} --seed {}`.",
        spec.days, spec.positions, spec.seed
    );
    let _ = writeln!(
        s,
        "# Targets are the starting balances; bands are +/- 25 %. Edit freely.\n"
    );
    let _ = writeln!(
        s,
        "[portfolio]\nbase = \"USD\"\n\n[schedule]\ninterval = \"5m\"\n"
    );
    let _ = writeln!(
        s,
        "[controller]\nkp = 0.5\nki = 0.05\nkd = 0.0\ngain_period = \"1h\"\nmax_cycle_turnover_bps = 1000\nmax_order_value = \"500000\"\nmin_order_value = \"1000\"\nmax_fee_bps = 100\nsettle_bps = 300\n"
    );
    // Two simulated venues, each with its stable pair and an account funded for the swaps.
    for (name, preset) in [
        ("binance", "binance-usdcusdt"),
        ("hyperliquid", "hyperliquid-usdt0-usdc"),
    ] {
        let _ = writeln!(
            s,
            "[[venue]]\nname = \"{name}\"\nkind = \"sim\"\nmax_pending_orders = 4\nseed = {}\n\n[[venue.market]]\npreset = \"{preset}\"\n\n[[venue.account]]\nname = \"main\"\nbalances = {{ USDC = \"50000000\", USDT = \"50000000\", USDT0 = \"50000000\" }}\n",
            spec.seed
        );
    }
    for (i, k) in g.positions.iter().enumerate() {
        let band = if spec.kind == Kind::Treasury && k.asset == "WETH" {
            1500
        } else {
            2500
        };
        let _ = writeln!(
            s,
            "[[position]]\nchain = \"{}\"\nasset = \"{}\"\ntarget = \"{}\"\nband_bps = {band}\ndecimals = {}\ntier = {}\n",
            k.chain,
            k.asset,
            g.targets[i],
            g.decimals[i],
            u8::from(i < 4)
        );
    }
    // Routes: every position to every other, through Binance; same-chain stable swaps also via Hyperliquid.
    for (i, a) in g.positions.iter().enumerate() {
        for (j, b) in g.positions.iter().enumerate() {
            if i == j || (a.asset == "WETH") != (b.asset == "WETH") {
                continue;
            }
            let swap = a.asset != b.asset;
            let fixed = if a.chain == "ethereum" || b.chain == "ethereum" {
                "5"
            } else {
                "1"
            };
            let _ = writeln!(
                s,
                "[[route]]\nvenue = \"binance\"\nfrom = {{ chain = \"{}\", asset = \"{}\" }}\nto = {{ chain = \"{}\", asset = \"{}\" }}\ncost_bps = {}\nfixed_cost = \"{fixed}\"{}\n",
                a.chain,
                a.asset,
                b.chain,
                b.asset,
                if swap { 2 } else { 0 },
                if swap { "\nmarket = \"USDCUSDT\"" } else { "" }
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_under_a_seed() {
        let spec = SynthSpec {
            days: 2,
            positions: 6,
            ..Default::default()
        };
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(a.balances, b.balances);
        let c = generate(&SynthSpec { seed: 2, ..spec });
        assert_ne!(a.balances, c.balances);
    }

    #[test]
    fn relayer_drains_destinations_in_bursts_and_stays_bounded() {
        let spec = SynthSpec {
            days: 14,
            positions: 10,
            ..Default::default()
        };
        let g = generate(&spec);
        assert_eq!(g.times.len(), 14 * 1440 + 1);
        let n = g.positions.len();
        for p in 0..n {
            let series: Vec<f64> = g.balances.iter().map(|r| r[p]).collect();
            let min = series.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = series.iter().cloned().fold(0.0, f64::max);
            assert!(min >= 0.0);
            // Real swings (at least 10 % of target somewhere), but bounded (never 3x the target).
            assert!(
                max - min > 0.1 * g.targets[p],
                "{} too quiet: {min}..{max}",
                g.positions[p]
            );
            assert!(
                max < 3.0 * g.targets[p],
                "{} unbounded: {max}",
                g.positions[p]
            );
        }
        // Daily cycle: the largest one-minute outflows cluster (bursts), not spread evenly.
        let outflows: Vec<f64> = g
            .balances
            .windows(2)
            .map(|w| (0..n).map(|p| (w[0][p] - w[1][p]).max(0.0)).sum())
            .collect();
        let mut sorted = outflows.clone();
        sorted.sort_by(f64::total_cmp);
        let p50 = sorted[sorted.len() / 2];
        let p99 = sorted[sorted.len() * 99 / 100];
        assert!(p99 > 5.0 * p50.max(1.0), "bursty: p50 {p50}, p99 {p99}");
    }

    #[test]
    fn treasury_has_price_drift_and_payments() {
        let spec = SynthSpec {
            kind: Kind::Treasury,
            days: 60,
            positions: 5,
            ..Default::default()
        };
        let g = generate(&spec);
        let eth = &g.prices[0].1;
        assert!((eth.last().unwrap() / eth[0] - 1.0).abs() > 0.001);
        let big_drops = g
            .balances
            .windows(2)
            .filter(|w| (1..5).any(|p| w[0][p] - w[1][p] > 100_000.0))
            .count();
        assert!(big_drops >= 3, "payments happen: {big_drops}");
    }

    #[test]
    fn written_recordings_read_back_and_their_config_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SynthSpec {
            days: 1,
            positions: 4,
            gzip: true,
            ..Default::default()
        };
        let sum = write(&spec, dir.path()).unwrap();
        let rec =
            super::super::recording::Recording::read_dir(dir.path(), Default::default()).unwrap();
        assert_eq!(rec.len(), sum.snapshots);
        assert_eq!(rec.positions, sum.positions);
        let cfg = ballast_config::Config::load(dir.path().join("config.toml"));
        assert!(cfg.is_ok(), "{}", cfg.unwrap_err());
    }
}
