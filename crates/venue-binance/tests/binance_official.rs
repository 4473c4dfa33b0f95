//! Binance's official Python connector (`binance-connector` from PyPI) against the local server: if the
//! official client cannot tell it from the venue for every endpoint ballast uses, the server is faithful.
//! The connector is installed into a virtualenv under `target/`; when Python or the install is not
//! available, the test says so and skips.

mod binance_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ballast_core::model::Side;
use ballast_exec::Venue;
use binance_common::*;
use serde_json::Value;

const CONNECTOR: &str = "binance-connector==3.13.0";

/// The venv's python with the connector installed, or why not.
fn python() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("binance-py");
    let py = root.join("venv/bin/python");
    let ready = root.join("ready");
    if ready.exists() {
        return Ok(py);
    }
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let venv = Command::new("python3")
        .args(["-m", "venv"])
        .arg(root.join("venv"))
        .output()
        .map_err(|e| format!("python3 not available: {e}"))?;
    if !venv.status.success() {
        return Err(format!(
            "python3 -m venv failed: {}",
            String::from_utf8_lossy(&venv.stderr)
        ));
    }
    let pip = Command::new(&py)
        .args(["-m", "pip", "install", "-q", CONNECTOR])
        .output()
        .map_err(|e| e.to_string())?;
    if !pip.status.success() {
        return Err(format!(
            "pip install {CONNECTOR} failed: {}",
            String::from_utf8_lossy(&pip.stderr)
        ));
    }
    std::fs::write(&ready, CONNECTOR).map_err(|e| e.to_string())?;
    Ok(py)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_connector_talks_to_the_local_server() {
    let py = match tokio::task::spawn_blocking(python).await.unwrap() {
        Ok(p) => p,
        Err(why) => {
            eprintln!(
                "SKIPPED: the official Binance Python connector is not available here: {why}"
            );
            return;
        }
    };
    let server = start("").await;
    // Bob's resting ask for the connector to take.
    bob_rests(&server, "bob-ask", Side::Sell, "1.0001", "1000").await;
    server
        .deposit("alice", "USDC", "ARBITRUM", d("25"), Some("0xfeed".into()))
        .unwrap();
    let script = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/data/binance_official_client.py");
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{ED_PRIVATE_PEM}\n-----END PRIVATE KEY-----\n");
    let url = server.url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script)
            .env("BN_URL", url)
            .env("BN_KEY", ALICE_KEY)
            .env("BN_SECRET", ALICE_SECRET)
            .env("BN_ED_KEY", ED_KEY)
            .env("BN_ED_PEM", pem)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "connector script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");

    assert!((v["time"].as_i64().unwrap() - server.now_ms()).abs() < 10_000);
    assert_eq!(
        v["filters"],
        serde_json::json!([
            "PRICE_FILTER",
            "LOT_SIZE",
            "NOTIONAL",
            "PERCENT_PRICE_BY_SIDE",
            "MAX_NUM_ORDERS"
        ])
    );
    assert_eq!(
        v["depth_asks"][0],
        serde_json::json!(["1.00010000", "1000.00000000"])
    );
    assert_eq!(
        v["balances"]["USDT"],
        serde_json::json!(["100000.00000000", "0.00000000"])
    );
    assert_eq!(
        v["placed"],
        serde_json::json!(["NEW", "100.00000000", "0.00000000", []])
    );
    assert_eq!(
        v["queried"],
        serde_json::json!(["NEW", "0.99900000", "py-1", true])
    );
    assert_eq!(v["open"], serde_json::json!(["py-1"]));
    assert_eq!(
        v["replaced"],
        serde_json::json!(["SUCCESS", "SUCCESS", "CANCELED", "py-2"])
    );
    assert_eq!(v["cancelled"], serde_json::json!(["CANCELED", "py-2"]));
    assert_eq!(
        v["taken"],
        serde_json::json!(["FILLED", "250.00000000", ["1.00010000"]])
    );
    assert_eq!(
        v["trades"],
        serde_json::json!([["1.00010000", "250.00000000", true, false]])
    );
    let e = &v["errors"];
    assert_eq!(
        e["tick"],
        serde_json::json!([400, -1013, "Filter failure: PRICE_FILTER"])
    );
    assert_eq!(
        e["post_only"],
        serde_json::json!([400, -2010, "Order would immediately match and take."])
    );
    assert_eq!(
        e["balance"],
        serde_json::json!([
            400,
            -2010,
            "Account has insufficient balance for requested action."
        ])
    );
    assert_eq!(
        e["unknown"],
        serde_json::json!([400, -2011, "Unknown order sent."])
    );
    assert_eq!(
        e["signature"],
        serde_json::json!([400, -1022, "Signature for this request is not valid."])
    );
    assert_eq!(
        v["networks"]["USDC"],
        serde_json::json!(["ARBITRUM", "ETH"])
    );
    let addr = server.with_exchange(|ex| ex.deposit_address("alice", "USDC", "ARBITRUM").unwrap());
    assert_eq!(v["deposit_address"], addr.as_str());
    let id = v["withdraw_id"].as_str().unwrap();
    assert_eq!(
        v["withdrawals"],
        serde_json::json!([[id, "py-w1", "50.00000000", "0.50000000"]])
    );
    assert_eq!(v["deposits"][0]["txId"], "0xfeed");
    assert!(v["ed25519_balances"].as_u64().unwrap() >= 2);
    // And ballast's own client sees what the connector did.
    let c = alice(&server);
    let usdc = balance(&c, "USDC").await;
    assert_eq!(usdc.held, d("50"));
    assert!(c.open_orders(Some("USDCUSDT")).await.unwrap().is_empty());
}
