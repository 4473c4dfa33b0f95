//! `ballast order` on the example configuration: a one-time order on the paper simulator, no keys, no network.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn ballast(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(args)
        .env("BALLAST_LOG", "warn")
        .output()
        .expect("run ballast")
}

#[test]
fn a_one_time_order_is_worked_through_the_auction_and_reported() {
    let cfg = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("config/example.toml");
    let out = ballast(&[
        "order",
        "--config",
        cfg.to_str().unwrap(),
        "--venue",
        "binance",
        "--market",
        "USDCUSDT",
        "--side",
        "sell",
        "--amount",
        "100000",
        "--duration",
        "2m",
        "--step",
        "2s",
        "--taker",
        "10s",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.lines().count() >= 2,
        "live progress lines: {progress}"
    );
    assert!(progress.contains("done"));
    let r: Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(r["market"], "USDCUSDT");
    assert_eq!(r["side"], "sell");
    let filled: f64 = r["filled"].as_str().unwrap().parse().unwrap();
    let unfilled: f64 = r["unfilled"].as_str().unwrap().parse().unwrap();
    assert_eq!(filled + unfilled, 100000.0);
    let floor: f64 = r["floor_price"].as_str().unwrap().parse().unwrap();
    for f in r["fills"].as_array().unwrap() {
        let px: f64 = f["price"].as_str().unwrap().parse().unwrap();
        assert!(px >= floor, "a fill below the floor: {px} < {floor}");
    }
    assert!(r["shortfall_bps"].is_string());
    assert!(r["end_reason"]["reason"].is_string());
}

#[test]
fn bad_order_arguments_exit_2_and_say_why() {
    let cfg = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("config/example.toml");
    let c = cfg.to_str().unwrap();
    let out = ballast(&[
        "order", "--config", c, "--venue", "kraken", "--market", "X", "--side", "sell", "--amount",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no venue \"kraken\""));
    let out = ballast(&[
        "order", "--config", c, "--venue", "binance", "--market", "USDCUSDT", "--side", "up",
        "--amount", "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = ballast(&[
        "order", "--config", c, "--venue", "binance", "--market", "USDCUSDT", "--side", "sell",
        "--amount", "10", "--step", "0s",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("schedule"));
    let out = ballast(&[
        "order", "--config", c, "--venue", "binance", "--market", "NOPE", "--side", "sell",
        "--amount", "10",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no market \"NOPE\""));
}
