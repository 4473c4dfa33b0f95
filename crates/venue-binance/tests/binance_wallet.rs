//! Deposits and withdrawals through the Binance client and the local server (SAPI), credentials from a
//! keystore and from the configuration, and the server's configuration errors.

mod binance_common;

use std::time::Duration;

use ballast_config::{Config, VenueSettings};
use ballast_core::model::Side;
use ballast_exec::{
    OrderState, RejectKind, TimeInForce, TransferKind, TransferState, Venue, VenueError,
    WithdrawRequest,
};
use ballast_localnet::binance::FaultKind;
use ballast_localnet::binance::config::ServerConfig;
use ballast_venue_binance::BinanceClient;
use ballast_venue_binance::config::CredentialSource;
use ballast_venue_binance::keys::{KeystoreSecret, read_keystore, write_keystore};
use binance_common::*;

fn withdrawal(client_id: &str, network: &str, amount: &str) -> WithdrawRequest {
    WithdrawRequest {
        asset: "USDC".into(),
        network: network.into(),
        address: WITHDRAW_TO.into(),
        amount: d(amount),
        client_id: client_id.into(),
    }
}

fn applies(server: &ballast_localnet::binance::ServerHandle) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path == "/sapi/v1/capital/withdraw/apply")
        .count()
}

#[tokio::test]
async fn networks_and_deposits() {
    let server = start("").await;
    let c = alice(&server);
    // Network names come from config/getall.
    let coins = c.coins().await.unwrap();
    let usdc = coins.iter().find(|x| x.coin == "USDC").unwrap();
    let nets: Vec<&str> = usdc
        .network_list
        .iter()
        .map(|n| n.network.as_str())
        .collect();
    assert_eq!(nets, vec!["ARBITRUM", "ETH"]);
    assert_eq!(usdc.network_list[0].withdraw_fee, d("0.5"));
    assert_eq!(usdc.free, d("100000"));

    // A ballast chain name maps to the Binance network through the settings.
    let addr = c.deposit_address("USDC", "arbitrum").await.unwrap();
    let expected =
        server.with_exchange(|ex| ex.deposit_address("alice", "USDC", "ARBITRUM").unwrap());
    assert_eq!(addr, expected);
    assert_eq!(c.deposit_address("USDC", "ETH").await.unwrap().len(), 42);
    match c.deposit_address("USDC", "SOL").await {
        Err(VenueError::Rejected { reason, .. }) => {
            assert!(reason.contains("ARBITRUM, ETH"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    // A deposit is pending, then credited after the network's delay.
    let t0 = server.now_ms();
    let id = server
        .deposit("alice", "USDC", "ARBITRUM", d("500"), Some("0xabc".into()))
        .unwrap();
    let pending = c.transfers_since(t0).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (
            pending[0].kind,
            pending[0].id.clone(),
            pending[0].state.clone()
        ),
        (TransferKind::Deposit, id.clone(), TransferState::Pending)
    );
    assert_eq!(pending[0].tx_hash.as_deref(), Some("0xabc"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let done = c.transfers_since(t0).await.unwrap();
    assert_eq!(done[0].state, TransferState::Completed);
    assert_eq!(done[0].amount, d("500"));
    let usdc = balance(&c, "USDC").await;
    assert_eq!(usdc.total, d("100500"));
}

#[tokio::test]
async fn withdrawals_go_only_to_the_allow_list_and_are_idempotent() {
    let server = start("").await;
    let c = alice(&server);

    // Not on the allow-list (other address, other network): refused without a request.
    let mut other = withdrawal("w-x", "ARBITRUM", "100");
    other.address = "0x00000000000000000000000000000000000000b2".into();
    for req in [other, withdrawal("w-y", "ETH", "100")] {
        match c.withdraw(&req).await {
            Err(VenueError::Rejected { reason, .. }) => {
                assert!(reason.contains("allow-list"), "{reason}")
            }
            e => panic!("{e:?}"),
        }
    }
    // Below the network's minimum: refused before sending.
    match c.withdraw(&withdrawal("w-small", "arbitrum", "5")).await {
        Err(VenueError::Rejected {
            kind: RejectKind::Rules,
            reason,
            ..
        }) => {
            assert!(reason.contains("[10.00000000"), "{reason}")
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(applies(&server), 0);

    // Allowed: held at once, paid out net of the fee after the delay.
    let t0 = server.now_ms();
    let id = c
        .withdraw(&withdrawal("w-1", "arbitrum", "100"))
        .await
        .unwrap();
    let usdc = balance(&c, "USDC").await;
    assert_eq!((usdc.total, usdc.held), (d("100000"), d("100")));
    let t = c.transfers_since(t0).await.unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (
            t[0].kind,
            t[0].id.clone(),
            t[0].client_id.as_deref(),
            t[0].state.clone(),
            t[0].fee
        ),
        (
            TransferKind::Withdrawal,
            id.clone(),
            Some("w-1"),
            TransferState::Pending,
            d("0.5")
        )
    );
    // The same client id again: the same withdrawal, nothing new.
    assert_eq!(
        c.withdraw(&withdrawal("w-1", "ARBITRUM", "100"))
            .await
            .unwrap(),
        id
    );
    assert_eq!(applies(&server), 1);
    // Paid out after the delay: the exchange's record of the withdrawal, once completed.
    let paid_out = || {
        server.with_exchange(|ex| {
            ex.transfers_since("alice", 0)
                .unwrap()
                .into_iter()
                .find(|t| t.id == id && t.state == TransferState::Completed)
        })
    };
    let p = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            if let Some(p) = paid_out() {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("paid out");
    assert_eq!(
        (
            p.id.as_str(),
            p.address.as_str(),
            p.amount - p.fee,
            p.network.as_str()
        ),
        (id.as_str(), WITHDRAW_TO, d("99.5"), "ARBITRUM")
    );
    let t = c.transfers_since(t0).await.unwrap();
    assert_eq!(t[0].state, TransferState::Completed);
    assert!(t[0].tx_hash.is_some());
    let usdc = balance(&c, "USDC").await;
    assert_eq!((usdc.total, usdc.held), (d("99900"), d("0")));

    // The answer is lost after the venue took it: found in the history, not sent twice.
    server.faults().inject(
        "POST /sapi/v1/capital/withdraw/apply",
        FaultKind::Drop { executed: true },
        1,
    );
    let id2 = c
        .withdraw(&withdrawal("w-2", "arbitrum", "50"))
        .await
        .unwrap();
    assert_ne!(id2, id);
    assert_eq!(applies(&server), 2);
    let hist = c.withdraw_history(t0, None).await.unwrap();
    assert_eq!(
        hist.iter()
            .filter(|w| w.withdraw_order_id.as_deref() == Some("w-2"))
            .count(),
        1
    );

    // More than the account holds.
    match c.withdraw(&withdrawal("w-3", "arbitrum", "1000000")).await {
        Err(VenueError::InsufficientBalance { reason, .. }) => {
            assert!(reason.contains("-4026"), "{reason}")
        }
        e => panic!("{e:?}"),
    }
    // A key without the withdraw permission.
    let viewer = client_with(&server, VIEWER_KEY, VIEWER_SECRET);
    match viewer.withdraw(&withdrawal("w-v", "arbitrum", "100")).await {
        Err(VenueError::Auth { reason, .. }) => assert!(reason.contains("-2015"), "{reason}"),
        e => panic!("{e:?}"),
    }
    match viewer
        .place(&order("v-1", Side::Buy, "0.9990", "10", TimeInForce::Gtc))
        .await
    {
        Err(VenueError::Auth { .. }) => {}
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn credentials_from_a_keystore_and_from_the_configuration() {
    let server = start("").await;
    let dir = tempfile::tempdir().unwrap();
    write_keystore(
        dir.path(),
        "bn.json",
        "pw-123",
        ALICE_KEY,
        KeystoreSecret::Hmac(ALICE_SECRET),
    )
    .unwrap();
    let creds = read_keystore(&dir.path().join("bn.json"), "pw-123").unwrap();
    assert_eq!(creds.api_key(), ALICE_KEY);
    let shown = format!("{creds:?}");
    assert!(
        !shown.contains(ALICE_SECRET) && !shown.contains(ALICE_KEY),
        "{shown}"
    );
    let e = read_keystore(&dir.path().join("bn.json"), "wrong").unwrap_err();
    assert!(e.0.contains("wrong password"), "{}", e.0);
    // The file holds no plain secret.
    let text = std::fs::read_to_string(dir.path().join("bn.json")).unwrap();
    assert!(!text.contains(ALICE_SECRET) && !text.contains(ALICE_KEY));

    // A configuration naming the keystore and its password variable.
    let ks = dir.path().join("bn.json");
    let src = format!(
        r#"
[controller]
min_order_value = "10"

[[venue]]
name = "binance"
kind = "binance"
url = "{url}"
keystore = "{ks}"
keystore_password_env = "BALLAST_TEST_BN_KEYSTORE_PW"
recv_window = "2s"
markets = ["USDCUSDT"]
networks = {{ arbitrum = "ARBITRUM" }}

[[venue.withdraw_address]]
asset = "USDC"
network = "ARBITRUM"
address = "{WITHDRAW_TO}"

[[position]]
chain = "arbitrum"
asset = "USDC"
target = "100"
"#,
        url = server.url(),
        ks = ks.display()
    );
    let cfg = Config::parse("t.toml", &src).unwrap_or_else(|e| panic!("{e}"));
    let v = &cfg.venues[0];
    let VenueSettings::Binance(s) = &v.settings else {
        panic!()
    };
    assert!(matches!(
        s.credentials,
        Some(CredentialSource::Keystore { .. })
    ));
    // SAFETY: this test binary sets the variable before any thread reads it.
    unsafe { std::env::set_var("BALLAST_TEST_BN_KEYSTORE_PW", "pw-123") };
    let c = BinanceClient::from_settings(&v.name, s).unwrap();
    let s = c
        .place(&order("ks-1", Side::Buy, "0.9990", "10", TimeInForce::Gtc))
        .await
        .unwrap();
    assert_eq!(s.state, OrderState::Open);
    assert!(!format!("{c:?}").contains(ALICE_SECRET));
}

#[test]
fn server_configuration_errors_name_their_line() {
    let src =
        server_toml("[[binance.fault]]\nendpoint = \"POST /api/v3/order\"\nkind = \"explode\"\n")
            .replace("secret_key = \"bobSecret", "secret_kee = \"bobSecret");
    let errs: Vec<String> = ServerConfig::parse("local.toml", &src)
        .unwrap_err()
        .iter()
        .map(|p| p.to_string())
        .collect();
    let line_of = |needle: &str| src.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        errs.contains(&format!(
            "local.toml:{}: binance.fault[0].kind: \"explode\" is not one of rate_limit, ban, server_error, timeout, delay, drop, hang",
            line_of("explode")
        )),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.starts_with(&format!(
            "local.toml:{}: binance.account[1].secret_kee: unknown key",
            line_of("secret_kee")
        ))),
        "{errs:?}"
    );
    // And a good file reads, with the faults it names.
    let ok = ServerConfig::parse(
        "local.toml",
        &server_toml(
            "[[binance.fault]]\nendpoint = \"POST /api/v3/order\"\nkind = \"drop\"\ncount = 2\n",
        ),
    )
    .unwrap();
    assert_eq!(ok.faults.len(), 1);
    assert_eq!(ok.faults[0].kind, FaultKind::Drop { executed: true });
    assert_eq!(ok.keys.len(), 4);
    assert!(!format!("{:?}", ok.keys).contains(ALICE_SECRET));
}

#[tokio::test]
async fn the_documented_server_example_reads_and_serves() {
    let doc = std::fs::read_to_string(concat!(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
        "/docs/BINANCE.md"
    ))
    .unwrap();
    let start = doc.find("```toml\n[binance]").expect("an example") + "```toml\n".len();
    let text = &doc[start..start + doc[start..].find("```").unwrap()];
    // SAFETY: set before anything reads the environment in this test.
    unsafe { std::env::set_var("LOCAL_BINANCE_SECRET", "local-secret") };
    // Serve it on any free port rather than the documented one.
    let text = text.replace("127.0.0.1:8091", "127.0.0.1:0");
    let cfg = ServerConfig::parse("BINANCE.md", &text).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(cfg.faults.len(), 1);
    let server = ballast_localnet::binance::spawn_configured(cfg.clone())
        .await
        .unwrap();
    let lines = ballast_localnet::binance::describe(&cfg, &server);
    assert!(
        lines[0].starts_with("binance: listening on http://127.0.0.1:"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("account relayer (API key loca…(64 chars))")),
        "{lines:?}"
    );
    // The background liquidity of the preset quotes both sides.
    let c = BinanceClient::new(
        "binance",
        ballast_venue_binance::config::Settings {
            url: server.url(),
            ..Default::default()
        },
        Some(ballast_venue_binance::Credentials::hmac(
            "localKey00000000000000000000000000000000000000000000000000000001",
            "local-secret",
        )),
    )
    .unwrap();
    let depth = c.depth("USDCUSDT", 5).await.unwrap();
    assert!(depth.best_bid().unwrap() < depth.best_ask().unwrap());
    assert_eq!(balance(&c, "USDC").await.total, d("1000000"));
    server.shutdown().await;
}
