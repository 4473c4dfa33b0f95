//! Reading a simulated exchange and a simulated venue from TOML, with every problem reported by line.

mod sim_support;

use ballast_core::order::rules::PriceGrid;
use ballast_reader::{Diagnostics, Obj};
use ballast_sim::config::{read_exchange, read_exchange_with, read_sim_venue};
use ballast_sim::{Latency, MidSource, SimExchange, SimExchangeCfg, SimVenueCfg, SizeDist};
use sim_support::d;

/// Read `[sim]` of `src` (as file `file`); returns the result and the problems as text.
fn read_with<T>(
    file: &str,
    src: &str,
    f: impl FnOnce(&mut Obj, &mut Diagnostics) -> Option<T>,
) -> (Option<T>, Vec<String>) {
    let doc = toml_edit::Document::parse(src.to_string()).unwrap();
    let mut d = Diagnostics::new(file, src);
    let mut root = Obj::root(&doc);
    let mut out = None;
    if let Some(mut o) = root.obj(&mut d, "sim") {
        out = f(&mut o, &mut d);
        o.finish(&mut d);
    }
    root.finish(&mut d);
    (out, d.problems.iter().map(|p| p.to_string()).collect())
}

fn read(src: &str) -> (Option<SimExchangeCfg>, Vec<String>) {
    read_with("x.toml", src, read_exchange)
}

const FULL: &str = r#"
[sim]
seed = 42

[[sim.market]]
preset = "binance-usdcusdt"
taker_fee = "0.00008"

[sim.market.liquidity]
mid = "0.99995"
step = "500ms"
levels = 5
reversion_half_life = "0s"
taker_size = { dist = "pareto", min = 500, alpha = 1.5 }

[[sim.market]]
market = "ETH/USDC"
base = "ETH"
quote = "USDC"
sig_figs = 5
max_decimals = 4
lot = "0.0001"
min_notional = 10
maker_fee = "-0.0001"

[[sim.market]]
preset = "hyperliquid-usdt0-usdc"
liquidity = false

[[sim.account]]
name = "alice"
balances = { USDC = "1000000", USDT = "250000.5" }

[[sim.account]]
name = "bob"

[[sim.network]]
asset = "USDC"
network = "ARBITRUM"
withdraw_fee = "1"
withdraw_min = "5"
withdraw_delay = "5m"
deposit_delay = "1m"
"#;

#[test]
fn a_whole_exchange_is_read_with_presets_and_overrides() {
    let (cfg, errs) = read(FULL);
    assert_eq!(errs, Vec::<String>::new());
    let cfg = cfg.unwrap();
    assert_eq!(cfg.seed, 42);
    let bn = &cfg.markets[0];
    assert_eq!(bn.rules.market, "USDCUSDT");
    assert_eq!(bn.rules.taker_fee, d("0.00008"));
    assert_eq!(bn.rules.maker_fee, d("0"));
    let l = bn.liquidity.as_ref().unwrap();
    assert_eq!(l.mid, MidSource::Walk { start: 0.99995 });
    assert_eq!(
        (l.step_ms, l.levels, l.reversion_half_life_ms),
        (500, 5, None)
    );
    assert_eq!(
        l.taker_size,
        SizeDist::Pareto {
            min: 500.0,
            alpha: 1.5
        }
    );
    assert_eq!(l.level_qty, d("400000"), "the rest comes from the preset");
    let eth = &cfg.markets[1];
    assert_eq!(
        eth.rules.grid,
        PriceGrid::SigFigs {
            sig_figs: 5,
            max_decimals: 4
        }
    );
    assert_eq!(
        (eth.rules.lot, eth.rules.maker_fee),
        (d("0.0001"), d("-0.0001"))
    );
    assert!(eth.liquidity.is_none());
    assert!(cfg.markets[2].liquidity.is_none());
    assert_eq!(cfg.accounts[0].balances["USDT"], d("250000.5"));
    assert!(cfg.accounts[1].balances.is_empty());
    let n = &cfg.networks[0];
    assert_eq!(
        (n.withdraw_delay_ms, n.deposit_delay_ms, n.withdraw_fee),
        (300_000, 60_000, d("1"))
    );
    let ex = SimExchange::new(&cfg, 0).unwrap();
    assert_eq!(ex.markets().len(), 3);
    assert_eq!(ex.accounts(), vec!["alice", "bob"]);
    assert_eq!(ex.balance("alice", "USDC").unwrap().total, d("1000000"));
}

#[test]
fn problems_are_reported_with_their_line_and_path() {
    let src = r#"
[sim]
seed = -1

[[sim.market]]
preset = "kraken-usdcusdt"

[[sim.market]]
market = "X/Y"
base = "X"
tick = "0.01"
sig_figs = 5
lot = "0"

[[sim.market]]
preset = "binance-usdcusdt"
takr_fee = "0.001"
[sim.market.liquidity]
size_jitter = 1.5
taker_size = { dist = "normal" }

[[sim.market]]
market = "A/B"
base = "A"
quote = "B"
tick = "0.1"
lot = "1"
[sim.market.liquidity]
levels = 3

[[sim.account]]
name = "alice"
balances = { USDC = "-5" }

[[sim.account]]
name = "alice"

[[sim.network]]
asset = "USDC"
withdraw_delay = "soon"
"#;
    let (cfg, errs) = read(src);
    assert!(cfg.is_none());
    let want = [
        "x.toml:3: sim.seed: -1 is out of range for this field",
        "x.toml:6: sim.market[0].preset: unknown preset \"kraken-usdcusdt\" (known: hyperliquid-usdt0-usdc, binance-usdcusdt)",
        "x.toml:8: sim.market[1]: missing key `quote`",
        "x.toml:11: sim.market[1]: give the price grid as `tick`, or as `sig_figs` and `max_decimals`",
        "x.toml:13: sim.market[1].lot: 0 must be > 0",
        "x.toml:20: sim.market[2].liquidity.taker_size.dist: \"normal\" is not one of lognormal, pareto, fixed",
        "x.toml:17: sim.market[2].takr_fee: unknown key (did you mean `taker_fee`?)",
        "x.toml:28: sim.market[3].liquidity: missing key `mid` (or `mid_path`)",
        "x.toml:28: sim.market[3].liquidity: missing key `level_qty`",
        "x.toml:33: sim.account[0].balances.USDC: -5 is negative",
        "x.toml:35: sim.account[1].name: account \"alice\" is declared twice",
        "x.toml:38: sim.network[0]: missing key `network`",
        "x.toml:40: sim.network[0].withdraw_delay: \"soon\" is not a duration",
    ];
    for w in want {
        assert!(
            errs.iter().any(|e| e.starts_with(w)),
            "missing {w:?} in\n{}",
            errs.join("\n")
        );
    }
    // A range problem in the liquidity parameters is reported once the table reads cleanly.
    let (cfg, errs) = read(
        "[sim]\n[[sim.market]]\npreset = \"binance-usdcusdt\"\n[sim.market.liquidity]\nsize_jitter = 1.5\n",
    );
    assert!(cfg.is_none());
    assert_eq!(
        errs,
        vec!["x.toml:4: sim.market[0].liquidity.size_jitter: must be in [0, 1)"]
    );
}

#[test]
fn a_mid_path_is_read_from_a_file_next_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mids.csv"),
        "ts_ms,bid,ask\n0,0.9998,0.9999\n60000,1.0000,1.0001 # after the news\n",
    )
    .unwrap();
    let file = dir.path().join("sim.toml").display().to_string();
    let src = "[sim]\n[[sim.market]]\npreset = \"binance-usdcusdt\"\nliquidity = { mid_path = \"mids.csv\" }\n";
    let (cfg, errs) = read_with(&file, src, read_exchange);
    assert_eq!(errs, Vec::<String>::new());
    let cfg = cfg.unwrap();
    let MidSource::Path(p) = &cfg.markets[0].liquidity.as_ref().unwrap().mid else {
        panic!("not a path")
    };
    assert_eq!(p.len(), 2);
    assert_eq!((p[1].ts, p[1].bid, p[1].ask), (60_000, 1.0, 1.0001));
    let bad = "[sim]\n[[sim.market]]\npreset = \"binance-usdcusdt\"\nliquidity = { mid_path = \"nope.csv\" }\n";
    let (_, errs) = read_with(&file, bad, read_exchange);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].contains(":4: sim.market[0].liquidity.mid_path: cannot read"),
        "{errs:?}"
    );
    std::fs::write(dir.path().join("back.csv"), "10,1\n5,1\n").unwrap();
    let back = bad.replace("nope.csv", "back.csv");
    let (_, errs) = read_with(&file, &back, read_exchange);
    assert!(
        errs[0].ends_with("back.csv: line 2: time goes backwards"),
        "{errs:?}"
    );
}

#[test]
fn a_sim_venue_names_its_account_and_latency() {
    let with = FULL.replace(
        "[sim]\nseed = 42\n",
        "[sim]\nseed = 42\ntrade_as = \"bob\"\nlatency = { request = \"120ms\", jitter = \"30ms\" }\n",
    );
    let (cfg, errs) = read_with("v.toml", &with, read_sim_venue);
    assert_eq!(errs, Vec::<String>::new());
    let SimVenueCfg {
        account,
        latency,
        exchange,
    } = cfg.unwrap();
    assert_eq!(account, "bob");
    assert_eq!(
        latency,
        Latency {
            request_ms: 120,
            jitter_ms: 30,
            ..Latency::default()
        }
    );
    assert_eq!(exchange.markets.len(), 3);
    // Without `trade_as` the first account trades; an unknown one is refused.
    let (cfg, _) = read_with("v.toml", FULL, read_sim_venue);
    assert_eq!(cfg.unwrap().account, "alice");
    let wrong = FULL.replace(
        "[sim]\nseed = 42\n",
        "[sim]\nseed = 42\ntrade_as = \"carol\"\n",
    );
    let (cfg, errs) = read_with("v.toml", &wrong, read_sim_venue);
    assert!(cfg.is_none());
    assert_eq!(
        errs,
        vec!["v.toml:2: sim.trade_as: no [[account]] named \"carol\""]
    );
}

#[test]
fn servers_can_read_extra_keys_of_each_account() {
    let src = "[sim]\n[[sim.account]]\nname = \"0xabc\"\napi_key = \"k1\"\n[[sim.account]]\nname = \"0xdef\"\napi_kee = \"k2\"\n";
    let mut keys = Vec::new();
    let (cfg, errs) = read_with("s.toml", src, |o, d| {
        read_exchange_with(o, d, &mut |name, a, d| {
            if let Ok(Some(k)) = a.opt::<String>(d, "api_key") {
                keys.push((name.to_string(), k));
            }
        })
    });
    assert!(cfg.is_none());
    assert_eq!(keys, vec![("0xabc".to_string(), "k1".to_string())]);
    assert_eq!(
        errs,
        vec!["s.toml:7: sim.account[1].api_kee: unknown key (did you mean `api_key`?)"]
    );
}

#[test]
fn one_mistake_gives_one_message() {
    // A bad preset does not make its overrides unknown keys, nor its rules missing.
    let (cfg, errs) = read("[sim]\n[[sim.market]]\npreset = \"binance\"\ntaker_fee = \"0.001\"\n");
    assert!(cfg.is_none());
    assert_eq!(errs.len(), 1, "{errs:?}");
    // A bad size distribution does not make its parameters unknown keys.
    let (_, errs) = read(
        "[sim]\n[[sim.market]]\npreset = \"binance-usdcusdt\"\n[sim.market.liquidity]\ntaker_size = { dist = \"gauss\", median = 5, sigma = 1 }\n",
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    // A badly typed `trade_as` does not make the exchange's keys unknown.
    let bad = FULL.replace("[sim]\nseed = 42\n", "[sim]\nseed = 42\ntrade_as = 7\n");
    let (cfg, errs) = read_with("v.toml", &bad, read_sim_venue);
    assert!(cfg.is_none());
    assert_eq!(
        errs,
        vec!["v.toml:4: sim.trade_as: expected a string, found an integer"]
    );
}
