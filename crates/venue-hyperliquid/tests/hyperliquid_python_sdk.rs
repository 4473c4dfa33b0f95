//! The official Python SDK (`hyperliquid-python-sdk` from PyPI, installed into a venv under `target/`)
//! against the local server: it signs as testnet because the URL is not mainnet's, and every action it sends
//! must verify and execute exactly as on the venue. Skipped, with a message, only when the SDK cannot be
//! installed (no Python, no network to PyPI).

mod hyperliquid_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use ballast_exec::Venue;
use hyperliquid_support::*;

const SCRIPT: &str = r#"
import json, sys, time
import eth_account
from hyperliquid.info import Info
from hyperliquid.exchange import Exchange
from hyperliquid.utils.types import Cloid

url, key, bob = sys.argv[1], sys.argv[2], sys.argv[3]
wallet = eth_account.Account.from_key(key)
me = wallet.address
out = {}
info = Info(url, skip_ws=True)
ex = Exchange(wallet, url)
first = Cloid.from_str("0x00000000000000000000000000000001")
second = Cloid.from_str("0x00000000000000000000000000000002")
out["spot_meta"] = info.spot_meta()
out["order"] = ex.order("USDT0/USDC", True, 20.0, 0.999, {"limit": {"tif": "Alo"}}, cloid=first)
out["open_orders"] = info.open_orders(me)
out["by_cloid"] = info.query_order_by_cloid(me, first)
out["modify"] = ex.modify_order(first, "USDT0/USDC", True, 20.0, 0.9985, {"limit": {"tif": "Alo"}}, cloid=second)
out["by_oid"] = info.query_order_by_oid(me, out["modify"]["response"]["data"]["statuses"][0]["resting"]["oid"])
out["cancel"] = ex.cancel_by_cloid("USDT0/USDC", second)
out["ioc"] = ex.order("USDT0/USDC", True, 20.0, 1.0, {"limit": {"tif": "Ioc"}})
out["small"] = ex.order("USDT0/USDC", True, 5.0, 1.0, {"limit": {"tif": "Gtc"}})
out["spot_send"] = ex.spot_transfer(5.0, bob, "USDC:0x6d1e7cde53ba9467b783cb7c530ce054")
out["class"] = ex.usd_class_transfer(1.0, True)
out["withdraw"] = ex.withdraw_from_bridge(2.0, me.lower())
out["schedule"] = ex.schedule_cancel(int(time.time() * 1000) + 60000)
approved, agent_key = ex.approve_agent()
out["approve"] = approved
agent = Exchange(eth_account.Account.from_key(agent_key), url, account_address=me)
out["agent_order"] = agent.order("USDT0/USDC", False, 20.0, 1.01, {"limit": {"tif": "Gtc"}})
out["user_state"] = info.user_state(me)
out["spot_user_state"] = info.spot_user_state(me)
out["frontend"] = info.frontend_open_orders(me)
out["l2"] = info.l2_snapshot("USDT0/USDC")
print(json.dumps(out))
"#;

fn venv() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("target/hl-python-venv")
}

/// The venv's python with the SDK installed, or why it cannot be had.
fn python_with_sdk() -> Result<PathBuf, String> {
    let dir = venv();
    let py = dir.join("bin/python");
    let has_sdk = |py: &Path| {
        Command::new(py)
            .args(["-c", "import hyperliquid.exchange, eth_account"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if py.exists() && has_sdk(&py) {
        return Ok(py);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .output()
        .map_err(|e| format!("python3 -m venv: {e}"))?;
    if !made.status.success() {
        return Err(format!(
            "python3 -m venv failed: {}",
            String::from_utf8_lossy(&made.stderr)
        ));
    }
    let pip = Command::new(dir.join("bin/pip"))
        .args(["install", "--quiet", "hyperliquid-python-sdk"])
        .output()
        .map_err(|e| format!("pip: {e}"))?;
    if !pip.status.success() || !has_sdk(&py) {
        return Err(format!(
            "pip install hyperliquid-python-sdk failed: {}",
            String::from_utf8_lossy(&pip.stderr)
        ));
    }
    Ok(py)
}

#[tokio::test]
async fn the_official_python_sdk_trades_against_the_local_server() {
    let py = match tokio::task::spawn_blocking(python_with_sdk).await.unwrap() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("SKIPPED: the official Python SDK could not be installed: {why}");
            return;
        }
    };
    let (h, k) = start().await;
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), SCRIPT).unwrap();
    let (url, key, bob) = (h.url(), k.alice.clone(), format!("{:#x}", addr(&k.bob)));
    let script_path = script.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script_path)
            .args([url, key, bob])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the SDK script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));

    let ok = |name: &str| {
        assert_eq!(v[name]["status"], "ok", "{name}: {}", v[name]);
        &v[name]["response"]
    };
    let resting = &ok("order")["data"]["statuses"][0]["resting"];
    assert!(resting["oid"].is_u64(), "{}", v["order"]);
    assert_eq!(resting["cloid"], "0x00000000000000000000000000000001");
    assert_eq!(v["open_orders"][0]["limitPx"], "0.999");
    assert_eq!(v["by_cloid"]["order"]["status"], "open");
    let modified = &ok("modify")["data"]["statuses"][0]["resting"];
    assert!(modified["oid"].as_u64() > resting["oid"].as_u64());
    assert_eq!(v["by_oid"]["order"]["order"]["limitPx"], "0.9985");
    assert_eq!(ok("cancel")["data"]["statuses"][0], "success");
    assert!(
        ok("ioc")["data"]["statuses"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("Order could not immediately match against any resting orders.")
    );
    assert!(
        ok("small")["data"]["statuses"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("Order must have minimum value of 10 USDC.")
    );
    for name in ["spot_send", "class", "withdraw", "schedule", "approve"] {
        assert_eq!(ok(name)["type"], "default", "{name}");
    }
    assert!(ok("agent_order")["data"]["statuses"][0]["resting"]["oid"].is_u64());
    assert_eq!(v["user_state"]["withdrawable"], "499");
    assert_eq!(v["frontend"][0]["side"], "A");
    assert!(v["l2"]["levels"][1][0]["px"] == "1.01");

    // The same effects, seen through ballast's client.
    let bob = client(&h, &k.bob);
    let usdc = bob
        .balances()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.asset == "USDC")
        .unwrap();
    assert_eq!(usdc.total, d("100005"));
    let w = h.withdrawals();
    assert_eq!((w.len(), w[0].amount), (1, d("2")));
    let alice = client(&h, &k.alice);
    let open = alice.open_orders(None).await.unwrap();
    assert_eq!(open.len(), 1, "the agent's order is alice's");
}
