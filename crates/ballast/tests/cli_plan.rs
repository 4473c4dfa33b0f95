//! The `ballast` binary on files: `plan` JSON and table output, `config check`, errors with line numbers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/data")
        .join(name)
}

fn ballast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(args)
        .env("BALLAST_LOG", "warn")
        .output()
        .expect("run ballast")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn plan_json(extra: &[&str]) -> Value {
    let cfg = data("small.toml");
    let bal = data("small_balances.csv");
    let prices = data("small_prices.csv");
    let mut args = vec![
        "plan",
        "--config",
        cfg.to_str().unwrap(),
        "--balances",
        bal.to_str().unwrap(),
    ];
    args.extend([
        "--prices",
        prices.to_str().unwrap(),
        "--now",
        "2026-01-01T00:00:00Z",
    ]);
    args.extend(extra);
    let out = ballast(&args);
    assert!(out.status.success(), "plan failed: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("plan prints JSON")
}

#[test]
fn plan_prints_positions_orders_and_skips() {
    let v = plan_json(&[]);
    let positions = v["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 3);
    let arb = &positions[0];
    assert_eq!(
        (arb["chain"].as_str(), arb["asset"].as_str()),
        (Some("arbitrum"), Some("USDC"))
    );
    assert_eq!(arb["balance"], "400");
    assert_eq!(arb["target"], "1000");
    assert_eq!(arb["error"], "600");
    assert_eq!(arb["command"], "300", "kp 0.5 per hour, one-hour cycle");
    assert_eq!(arb["p"].as_f64(), Some(300.0));
    assert!(arb["reason"].is_null());
    // Optimism sits inside its band: no move, and the reason says so.
    let op = &positions[1];
    assert_eq!(op["command"], "0");
    assert!(
        op["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "in_band")
    );
    assert!(op["reason"].as_str().unwrap().contains("inside its band"));
    // Base USDT (valued at 0.999) is in excess and funds the Arbitrum deficit through Binance.
    let orders = v["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{v:#}");
    let o = &orders[0];
    assert_eq!(o["from"]["chain"], "base");
    assert_eq!(o["from"]["asset"], "USDT");
    assert_eq!(o["to"]["chain"], "arbitrum");
    assert_eq!(o["venue"], "binance");
    let value: f64 = o["value"].as_str().unwrap().parse().unwrap();
    let cost: f64 = o["est_cost"].as_str().unwrap().parse().unwrap();
    assert!(
        (value - cost - 300.0).abs() < 0.01,
        "the deficit is filled net of cost: value {value}, cost {cost}"
    );
    let amount: rust_decimal::Decimal = o["amount"].as_str().unwrap().parse().unwrap();
    assert!(amount.scale() <= 6);
    // The part of the excess nobody needs is reported, not silently dropped.
    let skipped = v["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["what"].as_str().unwrap().contains("excess")
                && s["what"].as_str().unwrap().contains("base/USDT"))
    );
}

#[test]
fn plan_state_file_steps_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let s = state.to_str().unwrap();
    let cfg = data("small.toml");
    let bal = data("small_balances.csv");
    let run = |now: &str| {
        ballast(&[
            "plan",
            "--config",
            cfg.to_str().unwrap(),
            "--balances",
            bal.to_str().unwrap(),
            "--state",
            s,
            "--now",
            now,
        ])
    };
    assert!(run("1767225600000").status.success());
    let text = std::fs::read_to_string(&state).unwrap();
    let st: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(st["last_ts"], 1767225600000i64);
    assert!(st["positions"]["arbitrum/USDC"].is_object());
    // A second call half an hour later steps with dt = 0.5 period.
    let out = run("1767227400000");
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let cmd: f64 = v["positions"][0]["command"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = 600.0 * (1.0 - 0.5f64.powf(0.5));
    assert!((cmd - expected).abs() < 0.01, "{cmd} vs {expected}");
    // Time going backwards is refused, and the state is left as it was.
    let out = run("1767225600000");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("time did not advance"),
        "{}",
        stderr(&out)
    );
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(after["last_ts"], 1767227400000i64);
}

#[test]
fn plan_table_format_is_readable() {
    let cfg = data("small.toml");
    let bal = data("small_balances.csv");
    let out = ballast(&[
        "plan",
        "--config",
        cfg.to_str().unwrap(),
        "--balances",
        bal.to_str().unwrap(),
        "--format",
        "table",
    ]);
    assert!(out.status.success());
    let t = stdout(&out);
    assert!(t.contains("arbitrum/USDC"));
    assert!(t.contains("base/USDT -> arbitrum/USDC via binance"), "{t}");
}

#[test]
fn config_check_reports_every_error_with_its_line_and_exits_2() {
    let out = ballast(&["config", "check", data("bad_config.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    for expected in [
        "bad_config.toml:5: controller.kp: 1.5 is above 1",
        "bad_config.toml:6: controller.ki: -0.1 is negative (gains are >= 0)",
        "bad_config.toml:9: controller.colour: unknown key",
        "bad_config.toml:18: position[0].weight_bps: 12000 is above 10000",
        "bad_config.toml:24: position[1].band: an absolute band needs an absolute `target`",
        "position: weights sum to 3000 bps over 1 positions; they must sum to 10000",
        "bad_config.toml:27: route[0].venue: unknown venue \"kraken\" (declared: binance)",
        "bad_config.toml:29: route[0].to: base/USDC is not a configured position",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn config_check_ok_prints_a_summary() {
    let out = ballast(&[
        "config",
        "check",
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("config/example.toml")
            .to_str()
            .unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    assert!(
        s.starts_with("ok: 12 positions (6 chains, 2 assets)"),
        "{s}"
    );
}

#[test]
fn plan_refuses_a_bad_config_or_bad_balances() {
    let bal = data("small_balances.csv");
    let out = ballast(&[
        "plan",
        "--config",
        data("bad_config.toml").to_str().unwrap(),
        "--balances",
        bal.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty(), "nothing runs on a bad config");
    let out = ballast(&[
        "plan",
        "--config",
        data("small.toml").to_str().unwrap(),
        "--balances",
        data("bad_balances.csv").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad_balances.csv:3: balance: \"10x50\" is not a decimal number"),
        "{}",
        stderr(&out)
    );
    // A configured position without a balance is named, with where it is configured.
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("b.csv");
    std::fs::write(&partial, "chain,asset,balance\narbitrum,USDC,1\n").unwrap();
    let out = ballast(&[
        "plan",
        "--config",
        data("small.toml").to_str().unwrap(),
        "--balances",
        partial.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no balance for optimism/USDC (configured at"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_example_plan_runs_on_the_shipped_data() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let out = ballast(&[
        "plan",
        "--config",
        root.join("config/example.toml").to_str().unwrap(),
        "--balances",
        root.join("config/data/balances.csv").to_str().unwrap(),
        "--prices",
        root.join("config/data/prices.csv").to_str().unwrap(),
        "--pending",
        root.join("config/data/pending.json").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["positions"].as_array().unwrap().len(), 12);
    assert!(
        !v["orders"].as_array().unwrap().is_empty(),
        "the shipped balances are off target"
    );
}
