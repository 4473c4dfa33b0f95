//! Shared pieces of the service tests: a small paper configuration (two simulated chains, two local
//! Binance servers) and helpers to drive a [`Service`] by hand.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use ballast_testkit::config_text;

use ballast_config::Config;
use ballast_exec::{Clock, SystemClock};
use ballast_service::{Service, StartOptions};

/// The development key's account (dev_key = 1) on every chain.
pub fn dev_account() -> String {
    ballast_config::chains::dev_signer(1).address().to_string()
}

/// A paper configuration: chains `eth` and `arb` (USDC, USDT), venues `bn_a` (USDC routes) and `bn_b`
/// (USDT routes), each with a cross-asset swap; balances start off target so legs are planned at once.
pub fn paper_config(journal: &Path, kp: &str, extra: &str) -> String {
    let acct = dev_account();
    let mut s = format!(
        r#"mode = "paper"

[schedule]
interval = "1s"

[controller]
kp = {kp}
ki = 0.05
kd = 0.0
gain_period = "2s"
max_cycle_turnover_bps = 5000
max_order_value = "60000"
min_order_value = "1000"
max_fee_bps = 100
settle_bps = 300

[service]
journal = "{journal}"
token_env = "BALLAST_TEST_TOKEN"
lease_ttl = "5s"
leg_poll = "100ms"
prices = {{ USDC = "1", USDT = "1" }}

[service.ttl]
submit = "20s"
deposit = "20s"
swap = "20s"
withdrawal = "20s"
arrival = "20s"

[service.breakers]
max_consecutive_rejects = 50
stale_balance_age = "60s"

[service.auction]
start_bps = 2
floor_bps = 10
duration = "2s"
step = "200ms"
taker = "500ms"

[paper]
seed = 3
deposit_delay = "200ms"
withdraw_delay = "200ms"
withdraw_fee = "1"
withdraw_min = "10"
balances = {{ "eth/USDC" = "350000", "arb/USDC" = "150000", "eth/USDT" = "100000", "arb/USDT" = "200000" }}

[[venue]]
name = "bn_a"
kind = "binance"

[[venue]]
name = "bn_b"
kind = "binance"
"#,
        journal = journal.display()
    );
    for (i, (name, id)) in [("eth", 1u64), ("arb", 42161)].iter().enumerate() {
        let (usdc, usdt) = (
            format!("0x{:040x}", 2 * i + 1),
            format!("0x{:040x}", 2 * i + 2),
        );
        s += &config_text::chain(name, *id, "kind = \"sim\"", 1);
        s += &config_text::tokens(&[("USDC", &usdc, 6), ("USDT", &usdt, 6)]);
        s += &config_text::account(&acct, "dev_key = 1");
    }
    s += &config_text::stable_book(["bn_a", "bn_a", "bn_a", "bn_b", "bn_b", "bn_b"]);
    s + extra
}

/// Write a configuration file into `dir`.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("ballast.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Log to the test's output (`RUST_LOG`, default warnings).
pub fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

pub async fn start(cfg_path: &Path) -> Service {
    logs();
    let cfg = Config::load(cfg_path).unwrap_or_else(|e| panic!("{e}"));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Service::start(cfg, clock, StartOptions::default())
        .await
        .unwrap_or_else(|e| panic!("start: {e}"))
}

/// Advance the legs every 100 ms for `d`.
pub async fn rounds(svc: &mut Service, d: Duration) {
    let end = tokio::time::Instant::now() + d;
    while tokio::time::Instant::now() < end {
        svc.renew_lease().expect("lease");
        svc.round().await.expect("round");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Advance until no leg is unsettled (or `limit`); true when everything settled.
pub async fn settle(svc: &mut Service, limit: Duration) -> bool {
    let end = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < end {
        svc.renew_lease().expect("lease");
        svc.round().await.expect("round");
        let open = svc
            .journal
            .unsettled_legs()
            .unwrap()
            .iter()
            .filter(|l| !l.stage.is_final())
            .count();
        if open == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The path of the built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ballast")
}
