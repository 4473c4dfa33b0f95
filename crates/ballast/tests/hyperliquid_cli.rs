//! `ballast venues serve --config FILE`: starts the local Hyperliquid server, prints where it listens, and
//! ballast's client trades against it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ballast_core::model::Side;
use ballast_exec::{ClientOrderId, OrderRequest, OrderState, TimeInForce, Venue};
use ballast_venue_hyperliquid::{ClientOptions, HyperliquidClient, KeySigner, Network};

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_prints_its_address_and_serves_the_protocol() {
    let key = format!("0x{}", hex::encode(rand::random::<[u8; 32]>()));
    let k = KeySigner::from_hex(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("venues.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[hyperliquid]
listen = "127.0.0.1:0"
chain = "mainnet"

[[hyperliquid.market]]
preset = "hyperliquid-usdt0-usdc"

[[hyperliquid.account]]
name = "me"
address = "{:#x}"
balances = {{ USDC = "1000" }}
"#,
            k.address()
        ),
    )
    .unwrap();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_ballast"))
            .args(["venues", "serve", "--config"])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    assert!(first.contains("mainnet signatures"), "{first}");
    let rest: Vec<String> = lines.by_ref().take(3).map(|l| l.unwrap()).collect();
    assert!(
        rest.iter().any(|l| l.contains("market USDT0/USDC")),
        "{rest:?}"
    );

    let c = HyperliquidClient::new("hl", ClientOptions::new(Network::Mainnet).at(url), Some(k))
        .unwrap();
    // The preset market has background liquidity: a passive bid well below it rests.
    let depth = c.depth("USDT0/USDC", 3).await.unwrap();
    assert!(depth.best_bid().is_some() && depth.best_ask().is_some());
    let s = c
        .place(&OrderRequest {
            market: "USDT0/USDC".into(),
            side: Side::Buy,
            price: "0.99".parse().unwrap(),
            qty: "20".parse().unwrap(),
            tif: TimeInForce::PostOnly,
            client_id: ClientOrderId::derive("cli", 0),
        })
        .await
        .unwrap();
    assert_eq!(s.state, OrderState::Open);
}

#[test]
fn serve_refuses_a_bad_file_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("venues.toml");
    std::fs::write(&file, "[hyperliquid]\nchain = \"devnet\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["venues", "serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("venues.toml:2: hyperliquid.chain: \"devnet\" is not one of mainnet, testnet"),
        "{err}"
    );
}

#[test]
fn one_file_starts_both_local_servers() {
    use ballast_localnet::serve::LocalVenues;
    let src = r#"
[hyperliquid]
listen = "127.0.0.1:0"
chain = "testnet"

[[hyperliquid.market]]
preset = "hyperliquid-usdt0-usdc"
liquidity = false

[binance]
listen = "127.0.0.1:0"

[[binance.market]]
preset = "binance-usdcusdt"
liquidity = false
"#;
    let v = LocalVenues::parse("both.toml", src).unwrap_or_else(|e| panic!("{e}"));
    assert!(v.hyperliquid.is_some() && v.binance.is_some());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let running = ballast_localnet::serve::start(&v).await.unwrap();
        let lines = running.describe(&v);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("hyperliquid: listening on http://127.0.0.1:")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("binance: listening on http://127.0.0.1:")),
            "{lines:?}"
        );
        running.shutdown().await;
    });
    let e = LocalVenues::parse("both.toml", "[binance]\nlisten = 7\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("both.toml:2: binance.listen"), "{e}");
}
