//! `ballast record`: the files it appends are what `backtest::recording` reads, a restart (after a kill, with
//! a torn last line) resumes without duplicate rows, Ctrl-C stops it cleanly, and `ballast backtest` replays
//! the result. End to end against the local Hyperliquid and Binance servers (as `ballast venues serve` runs them) and a hardhat
//! node.

use ballast_testkit::config_text;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use ballast_backtest::record::{
    Appender, BALANCES_HEADER, BalanceRow, QuoteRow, RecordDir, Snapshot,
};
use ballast_backtest::recording::Recording;
use ballast_localnet::serve::{self, LocalVenues, Running};
use ballast_testkit::devnet;
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// The rows of a balances file: (ts, chain, asset, balance) in file order.
fn rows(path: &Path) -> Vec<(String, String, String, Decimal)> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "{} ends mid-line", path.display());
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(BALANCES_HEADER));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 4, "{l}");
            (f[0].into(), f[1].into(), f[2].into(), dec(f[3]))
        })
        .collect()
}

/// Every (ts, chain, asset) at most once, and timestamps never go back.
fn assert_no_duplicates(r: &[(String, String, String, Decimal)]) {
    let mut seen = HashSet::new();
    for (ts, c, a, _) in r {
        assert!(seen.insert((ts, c, a)), "duplicate row {ts},{c},{a}");
    }
    let times: Vec<i64> = r
        .iter()
        .map(|x| ballast_backtest::recording::parse_ts(x.0.as_bytes()).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

/// One snapshot: its ts and its balances by (chain, asset).
type Block = (String, BTreeMap<(String, String), Decimal>);

/// Snapshot times in order, with each one's rows.
fn blocks(r: &[(String, String, String, Decimal)]) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for (ts, c, a, b) in r {
        if out.last().is_none_or(|(t, _)| t != ts) {
            out.push((ts.clone(), BTreeMap::new()));
        }
        out.last_mut().unwrap().1.insert((c.clone(), a.clone()), *b);
    }
    out
}

fn snapshot(ts: i64, usdc: &str) -> Snapshot {
    Snapshot {
        ts,
        balances: vec![
            BalanceRow {
                chain: "arbitrum".into(),
                asset: "USDC".into(),
                balance: dec(usdc),
            },
            BalanceRow {
                chain: "hl".into(),
                asset: "USDT0".into(),
                balance: dec("5"),
            },
        ],
        quotes: vec![QuoteRow {
            venue: "hl".into(),
            market: "USDT0/USDC".into(),
            base: "USDT0".into(),
            quote: "USDC".into(),
            bid: Some((dec("0.9998"), dec("1000"))),
            ask: Some((dec("1.0002"), dec("800"))),
        }],
        errors: vec![],
    }
}

/// The file layer alone: resume after a torn line, never write behind the last snapshot, and the reader
/// reads all three files.
#[test]
fn appending_resumes_after_a_torn_line_and_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    {
        let mut d = RecordDir::open(dir.path()).unwrap();
        assert_eq!(d.last_ts(), None);
        assert_eq!(d.write(&snapshot(t0, "100")).unwrap(), 2);
        assert_eq!(d.write(&snapshot(t0 + 60_000, "90.5")).unwrap(), 2);
        // The same time again, and an earlier one: nothing written.
        assert_eq!(d.write(&snapshot(t0 + 60_000, "1")).unwrap(), 0);
        assert_eq!(d.write(&snapshot(t0, "1")).unwrap(), 0);
    }
    // A crash in the middle of a line.
    let bal = dir.path().join("balances.csv");
    let mut text = std::fs::read_to_string(&bal).unwrap();
    text.push_str("2026-01-01T00:02:00Z,arbitr");
    std::fs::write(&bal, &text).unwrap();

    let mut d = RecordDir::open(dir.path()).unwrap();
    assert_eq!(d.balances.repaired_bytes, 27);
    assert_eq!(d.balances.last_ts(), Some(t0 + 60_000));
    assert_eq!(d.prices.last_ts(), Some(t0 + 60_000));
    assert_eq!(d.market.last_ts(), Some(t0 + 60_000));
    assert_eq!(d.write(&snapshot(t0 + 60_000, "1")).unwrap(), 0);
    assert_eq!(d.write(&snapshot(t0 + 120_000, "80")).unwrap(), 2);

    let r = rows(&bal);
    assert_no_duplicates(&r);
    assert_eq!(r.len(), 6);
    let b = blocks(&r);
    assert_eq!(
        b.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        [
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:01:00Z",
            "2026-01-01T00:02:00Z"
        ]
    );
    assert_eq!(b[1].1[&("arbitrum".into(), "USDC".into())], dec("90.5"));

    let rec = Recording::read_dir(dir.path(), Default::default()).unwrap();
    assert_eq!(rec.times, [t0, t0 + 60_000, t0 + 120_000]);
    let p = rec
        .position_index(&ballast_core::model::PositionKey::new("arbitrum", "USDC"))
        .unwrap();
    assert_eq!(rec.row(2)[p], dec("80"));
    assert_eq!(rec.price("USDT0", t0 + 60_000), dec("1"));
    let q = &rec.market[&("hl".to_string(), "USDT0/USDC".to_string())];
    assert_eq!(q.times.len(), 3);
    assert_eq!(q.ask_size[0], Some(dec("800")));
}

#[test]
fn a_file_that_is_not_a_balance_recording_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("balances.csv");
    std::fs::write(&p, "time,chain,asset,amount\n1,a,b,1\n").unwrap();
    let e = Appender::open(&p, BALANCES_HEADER).unwrap_err();
    assert!(
        e.to_string().contains(
            "expected the header `ts,chain,asset,balance`, found `time,chain,asset,amount`"
        ),
        "{e}"
    );
    // Only comments: no header to append under.
    std::fs::write(&p, "# recorded by hand\n").unwrap();
    let e = Appender::open(&p, BALANCES_HEADER).unwrap_err();
    assert!(e.to_string().contains("no header line"), "{e}");
    // Only a header: no rows yet.
    std::fs::write(&p, "TS, chain, asset, balance\n").unwrap();
    assert_eq!(Appender::open(&p, BALANCES_HEADER).unwrap().last_ts(), None);
    std::fs::write(&p, "ts,chain,asset,balance\nyesterday,a,b,1\n").unwrap();
    let e = Appender::open(&p, BALANCES_HEADER).unwrap_err();
    assert!(e.to_string().contains("\"yesterday\""), "{e}");
    std::fs::write(dir.path().join("balances.csv.gz"), b"\x1f\x8b").unwrap();
    let e = RecordDir::open(dir.path()).unwrap_err();
    assert!(e.to_string().contains("balances.csv.gz"), "{e}");
}

// ---------------------------------------------------------------------------------------------------------
// End to end

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ballast() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ballast"))
}

const BN_KEY: &str = "localKey00000000000000000000000000000000000000000000000000000007";
const BN_SECRET: &str = "recordtestsecret";

/// The local Hyperliquid and Binance servers (what `ballast venues serve` runs), one account each, on
/// `rt`. Returns them and their URLs.
fn serve_venues(rt: &tokio::runtime::Runtime, hl_account: &str) -> (Running, String, String) {
    let src = format!(
        r#"
[hyperliquid]
listen = "127.0.0.1:0"
chain = "mainnet"

[[hyperliquid.market]]
preset = "hyperliquid-usdt0-usdc"

[[hyperliquid.account]]
name = "me"
address = "{hl_account}"
balances = {{ USDC = "1000", USDT0 = "500" }}

[binance]
listen = "127.0.0.1:0"

[[binance.market]]
preset = "binance-usdcusdt"

[[binance.account]]
name = "relayer"
api_key = "{BN_KEY}"
secret_key = "{BN_SECRET}"
balances = {{ USDC = "3000", USDT = "4000" }}
"#
    );
    let cfg = LocalVenues::parse("venues.toml", &src).unwrap_or_else(|e| panic!("{e}"));
    let running = rt.block_on(serve::start(&cfg)).unwrap();
    let hl = format!("http://{}", running.hyperliquid.as_ref().unwrap().addr());
    let bn = format!("http://{}", running.binance.as_ref().unwrap().addr());
    (running, hl, bn)
}

fn record(cfg: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = ballast();
    c.env("BN_KEY", BN_KEY)
        .env("BN_SECRET", BN_SECRET)
        .arg("record")
        .arg("--config")
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .args(["--every", "1s"])
        .args(extra);
    c
}

/// Wait until the balances file holds at least `n` snapshots.
fn wait_for_snapshots(path: &Path, n: usize, child: &mut Proc) {
    let start = Instant::now();
    loop {
        if path.exists() {
            let text = std::fs::read_to_string(path).unwrap();
            let times: HashSet<&str> = text
                .lines()
                .skip(1)
                .filter_map(|l| l.split(',').next())
                .collect();
            if times.len() >= n {
                return;
            }
        }
        if let Some(s) = child.0.try_wait().unwrap() {
            panic!("record exited early: {s}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no {n} snapshots"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn record_polls_venue_servers_and_a_node_resumes_after_a_kill_and_feeds_backtest() {
    let Some(node) = devnet::start_or_skip(31_447) else {
        return;
    };
    // Runs the venue server and the node's client; the test's own thread blocks on the processes.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let deployer = PrivateKeySigner::random();
    let us = PrivateKeySigner::random().address();
    let eth = U256::from(10u64).pow(U256::from(21u64));
    let units = |x: u64| U256::from(x) * U256::from(1_000_000u64);
    let (usdc, usdt) = rt.block_on(async {
        node.set_balance(deployer.address(), eth).await.unwrap();
        node.set_balance(us, U256::from(10u64).pow(U256::from(18u64)))
            .await
            .unwrap();
        let usdc = node
            .deploy_token(&deployer, "USD Coin", "USDC", 6)
            .await
            .unwrap();
        let usdt = node
            .deploy_token(&deployer, "Tether", "USDT", 6)
            .await
            .unwrap();
        node.mint(&deployer, usdc, us, units(2000)).await.unwrap();
        node.mint(&deployer, usdt, us, units(700)).await.unwrap();
        (usdc, usdt)
    });

    let dir = tempfile::tempdir().unwrap();
    let hl_account = format!("{:#x}", PrivateKeySigner::random().address());
    let (_servers, url, bn_url) = serve_venues(&rt, &hl_account);
    let cfg = dir.path().join("ballast.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[controller]
min_order_value = "1"

[[venue]]
name = "hl"
kind = "hyperliquid"
network = "mainnet"
url = "{url}"
account = "{hl_account}"
markets = ["USDT0/USDC"]

[[venue]]
name = "bn"
kind = "binance"
url = "{bn_url}"
api_key_env = "BN_KEY"
secret_key_env = "BN_SECRET"
markets = ["USDCUSDT"]

[[position]]
chain = "dev"
asset = "USDC"
target = "2000"

[[position]]
chain = "dev"
asset = "USDT"
target = "700"

[[route]]
venue = "bn"
from = {{ chain = "dev", asset = "USDT" }}
to = {{ chain = "dev", asset = "USDC" }}
cost_bps = 2
fixed_cost = "1"
market = "USDCUSDT"
"#,
        ) + &config_text::chain("dev", 31447, &config_text::evm(node.url()), 1)
            + &config_text::tokens(&[("USDC", &usdc, 6), ("USDT", &usdt, 6)])
            + &config_text::account(us, ""),
    )
    .unwrap();
    let out = dir.path().join("rec");
    let bal = out.join("balances.csv");

    // 1. A bounded run.
    let o = record(&cfg, &out, &["--count", "2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("recording 2 venues and 1 chains"),
        "{stderr}"
    );
    let r = rows(&bal);
    assert_no_duplicates(&r);
    let b = blocks(&r);
    assert_eq!(b.len(), 2, "{r:?}");
    for (_, block) in &b {
        let get = |c: &str, a: &str| block[&(c.to_string(), a.to_string())];
        assert_eq!(get("dev", "USDC"), dec("2000"));
        assert_eq!(get("dev", "USDT"), dec("700"));
        assert_eq!(get("dev", "ETH"), dec("1"));
        assert_eq!(get("hl", "USDC"), dec("1000"));
        assert_eq!(get("hl", "USDT0"), dec("500"));
        assert_eq!(get("bn", "USDC"), dec("3000"));
        assert_eq!(get("bn", "USDT"), dec("4000"));
    }
    // Both venues' markets (bn's from its route, hl's from its settings: no route may go through
    // Hyperliquid here): their mids as prices of the base assets, their best levels as market data.
    let prices = std::fs::read_to_string(out.join("prices.csv")).unwrap();
    assert_eq!(prices.lines().count(), 1 + 2 * 2, "{prices}");
    for l in prices.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        assert!(f[1] == "USDT0" || f[1] == "USDC", "{l}");
        let mid = dec(f[2]);
        assert!(mid > dec("0.98") && mid < dec("1.02"), "{prices}");
    }
    let market = std::fs::read_to_string(out.join("market.csv")).unwrap();
    assert!(market.starts_with("ts,venue,market,bid,ask,bid_size,ask_size\n"));
    assert!(
        market.contains(",bn,USDCUSDT,") && market.contains(",hl,USDT0/USDC,"),
        "{market}"
    );

    // 2. A run killed (SIGKILL) after some snapshots; the node's balance changes in between.
    rt.block_on(node.mint(&deployer, usdc, us, units(500)))
        .unwrap();
    let mut child = Proc(
        record(&cfg, &out, &["--quiet"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_snapshots(&bal, 4, &mut child);
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    // As if the kill had come in the middle of a write.
    let mut text = std::fs::read_to_string(&bal).unwrap();
    let before_tear = rows(&bal).len();
    text.push_str("2099-01-01T00:00:00Z,dev,US");
    std::fs::write(&bal, text).unwrap();

    // 3. A restart resumes: the torn line is cut, nothing is duplicated.
    let o = record(&cfg, &out, &["--count", "2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("cut a torn last line (27 bytes)"),
        "{stderr}"
    );
    assert!(stderr.contains("resuming after"), "{stderr}");
    let r = rows(&bal);
    assert_no_duplicates(&r);
    let b = blocks(&r);
    assert!(b.len() >= 6, "{}", b.len());
    // Every snapshot has every source's rows.
    let k = b[0].1.len();
    assert!(b.iter().all(|(_, block)| block.len() == k));
    assert_eq!(r.len(), before_tear + 2 * k);
    for (_, block) in &b[2..] {
        assert_eq!(block[&("dev".to_string(), "USDC".to_string())], dec("2500"));
    }

    // 4. Ctrl-C (SIGINT) stops it cleanly between snapshots.
    let mut child = Proc(
        record(&cfg, &out, &[])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let n = b.len();
    wait_for_snapshots(&bal, n + 1, &mut child);
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "record did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let mut err = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("stopped:"), "{err}");
    let r = rows(&bal);
    assert_no_duplicates(&r);
    assert!(
        blocks(&r).iter().all(|(_, block)| block.len() == k),
        "whole snapshots only"
    );

    // 5. What the backtest reads.
    let rec = Recording::read_dir(&out, Default::default()).unwrap();
    assert_eq!(rec.len(), blocks(&r).len());
    assert_eq!(rec.positions.len(), k);
    assert!(
        rec.market
            .contains_key(&("hl".to_string(), "USDT0/USDC".to_string()))
    );
    let report = dir.path().join("report");
    let o = ballast()
        .arg("backtest")
        .arg("--config")
        .arg(&cfg)
        .arg("--recording")
        .arg(&out)
        .arg("--out")
        .arg(&report)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["recording"]["snapshots"], rec.len());
}

/// A recording far larger than the tail window: the last timestamp comes from the tail, the header from the
/// head, and appending continues the file.
#[test]
fn a_long_recording_resumes_from_its_tail() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("balances.csv");
    let mut text = String::from("ts,chain,asset,balance\n");
    let t0: i64 = 1_767_225_600_000;
    for i in 0..20_000i64 {
        text.push_str(&format!("{},arbitrum,USDC,{}\n", t0 + i * 60_000, 1000 + i));
    }
    text.push_str("17672256");
    std::fs::write(&p, &text).unwrap();
    assert!(text.len() > 512 * 1024);
    let mut a = Appender::open(&p, BALANCES_HEADER).unwrap();
    assert_eq!(a.repaired_bytes, 8);
    assert_eq!(a.last_ts(), Some(t0 + 19_999 * 60_000));
    assert!(
        a.append(t0 + 20_000 * 60_000, "1768425600000,arbitrum,USDC,7\n")
            .unwrap()
    );
    let rec = Recording::read_dir(dir.path(), Default::default()).unwrap();
    assert_eq!(rec.len(), 20_001);
    assert_eq!(rec.row(20_000)[0], dec("7"));
}

/// A source that does not answer is left out of the snapshot and reported; the others are written.
#[test]
fn a_failing_source_leaves_a_gap_and_an_error() {
    use ballast_backtest::record::{Sources, VenueSource};
    use ballast_venue_hyperliquid::{ClientOptions, HyperliquidClient, Network};
    use std::sync::Arc;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let account = PrivateKeySigner::random().address();
    let (_servers, url, _) = serve_venues(&rt, &format!("{account:#x}"));
    let client = |name: &str, url: &str| {
        let opts = ClientOptions {
            account: Some(account),
            ..ClientOptions::new(Network::Mainnet).at(url)
        };
        Arc::new(HyperliquidClient::new(name, opts, None).unwrap())
    };
    // Nothing listens on port 9 of the loopback.
    let sources = Sources {
        venues: vec![
            VenueSource {
                venue: client("hl", &url),
                markets: vec![("USDT0/USDC".into(), "USDT0".into(), "USDC".into())],
            },
            VenueSource {
                venue: client("down", "http://127.0.0.1:9"),
                markets: vec![],
            },
        ],
        ..Default::default()
    };
    let snap = rt.block_on(sources.poll(1_767_225_600_000, Duration::from_secs(5)));
    let keys: Vec<(&str, &str)> = snap
        .balances
        .iter()
        .map(|b| (b.chain.as_str(), b.asset.as_str()))
        .collect();
    assert_eq!(keys, [("hl", "USDC"), ("hl", "USDT0")], "{snap:?}");
    assert_eq!(snap.quotes.len(), 1);
    assert!(snap.quotes[0].mid().is_some());
    assert_eq!(snap.errors.len(), 1, "{:?}", snap.errors);
    assert!(
        snap.errors[0].starts_with("venue down: balances:"),
        "{:?}",
        snap.errors
    );

    let dir = tempfile::tempdir().unwrap();
    let mut d = RecordDir::open(dir.path()).unwrap();
    assert_eq!(d.write(&snap).unwrap(), 2);
    let r = rows(&dir.path().join("balances.csv"));
    assert_eq!(r.len(), 2);
}
