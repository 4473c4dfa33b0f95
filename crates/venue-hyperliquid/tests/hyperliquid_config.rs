//! Configuration of the Hyperliquid client (keys from the environment or an encrypted keystore, never
//! printed) and of the local server (the local venues file).

use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use ballast_localnet::serve::LocalVenues;
use ballast_venue_hyperliquid::config::{KeySource, LiveSettings};
use ballast_venue_hyperliquid::{ClientOptions, HyperliquidClient, KeySigner, Network};

const KEY: &str = "0x0123456789012345678901234567890123456789012345678901234567890123";
const ADDRESS: &str = "0x14791697260e4c9a71f18484c9f997b308e59325";

fn live(key: Option<KeySource>) -> LiveSettings {
    let mut client = ClientOptions::new(Network::Testnet);
    client.request_timeout = Duration::from_secs(5);
    LiveSettings { client, key }
}

#[test]
fn the_key_comes_from_an_environment_variable_and_is_never_printed() {
    // SAFETY: this test alone uses these variable names.
    unsafe { std::env::set_var("BALLAST_TEST_HL_KEY_A", KEY) };
    let c = HyperliquidClient::from_settings(
        "hl",
        &live(Some(KeySource::Env("BALLAST_TEST_HL_KEY_A".into()))),
    )
    .unwrap();
    assert_eq!(format!("{:#x}", c.signer_address().unwrap()), ADDRESS);
    assert_eq!(format!("{:#x}", c.account()), ADDRESS);
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("0123456789012345"), "{dbg}");

    let e = HyperliquidClient::from_settings(
        "hl",
        &live(Some(KeySource::Env("BALLAST_TEST_HL_KEY_MISSING".into()))),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("BALLAST_TEST_HL_KEY_MISSING is not set"),
        "{e}"
    );
    unsafe { std::env::set_var("BALLAST_TEST_HL_KEY_BAD", "0x1234") };
    let e = HyperliquidClient::from_settings(
        "hl",
        &live(Some(KeySource::Env("BALLAST_TEST_HL_KEY_BAD".into()))),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("BALLAST_TEST_HL_KEY_BAD does not hold"),
        "{e}"
    );
    assert!(!e.to_string().contains("0x1234"));
}

#[test]
fn the_key_comes_from_an_encrypted_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let key_bytes = hex::decode(&KEY[2..]).unwrap();
    PrivateKeySigner::encrypt_keystore(
        dir.path(),
        &mut rand08::thread_rng(),
        &key_bytes,
        "correct horse",
        Some("hl.json"),
    )
    .unwrap();
    let path = dir.path().join("hl.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(&KEY[2..]), "the keystore is encrypted");
    unsafe { std::env::set_var("BALLAST_TEST_HL_KS_PW", "correct horse") };
    unsafe { std::env::set_var("BALLAST_TEST_HL_KS_BAD_PW", "wrong") };
    let src = |pw: &str| {
        live(Some(KeySource::Keystore {
            path: path.clone(),
            password_env: pw.into(),
        }))
    };
    let c = HyperliquidClient::from_settings("hl", &src("BALLAST_TEST_HL_KS_PW")).unwrap();
    assert_eq!(format!("{:#x}", c.signer_address().unwrap()), ADDRESS);
    let e = HyperliquidClient::from_settings("hl", &src("BALLAST_TEST_HL_KS_BAD_PW")).unwrap_err();
    assert!(e.to_string().contains("cannot decrypt keystore"), "{e}");
    let e = HyperliquidClient::from_settings("hl", &src("BALLAST_TEST_HL_KS_NOPE")).unwrap_err();
    assert!(e.to_string().contains("BALLAST_TEST_HL_KS_NOPE"), "{e}");
    // The same key signs the same way from either source.
    let a = KeySigner::from_hex(KEY).unwrap();
    let b = KeySigner::from_keystore(&path, "correct horse").unwrap();
    let digest = alloy::primitives::B256::repeat_byte(3);
    assert_eq!(
        a.sign_digest(&digest).unwrap(),
        b.sign_digest(&digest).unwrap()
    );
}

#[test]
fn the_example_local_venues_file_is_valid() {
    let v = LocalVenues::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/local-venues.toml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let hl = v.hyperliquid.unwrap();
    assert_eq!(hl.chain, Network::Testnet);
    assert_eq!(hl.listen.to_string(), "127.0.0.1:3001");
    assert_eq!(hl.accounts.len(), 2);
    assert_eq!(hl.accounts[1].master.as_deref(), Some("treasury"));
    assert_eq!(hl.exchange.markets[0].rules.market, "USDT0/USDC");
}

#[test]
fn local_venues_problems_have_lines() {
    let src = r#"
[hyperliquid]
listen = "0.0.0.0:3001"
seed = 1
colour = "blue"

[[hyperliquid.market]]
preset = "hyperliquid-usdt0-usdc"

[[hyperliquid.account]]
name = "a"
address = "0x12"
agents = ["nope"]
"#;
    let e = LocalVenues::parse("v.toml", src).unwrap_err().to_string();
    for want in [
        "v.toml:3: hyperliquid.listen: 0.0.0.0:3001 is not a loopback address",
        "v.toml:2: hyperliquid: missing key `chain`",
        "v.toml:5: hyperliquid.colour: unknown key",
        "v.toml:12: hyperliquid.account[0].address: \"0x12\" is not an address",
        "v.toml:13: hyperliquid.account[0].agents: \"nope\" is not an address",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    let e = LocalVenues::parse("v.toml", "").unwrap_err().to_string();
    assert!(e.contains("no venue configured"), "{e}");
}

#[tokio::test]
async fn a_market_off_the_venue_rules_is_refused_at_start() {
    let src = r#"
[hyperliquid]
listen = "127.0.0.1:0"
chain = "mainnet"

[[hyperliquid.market]]
preset = "hyperliquid-usdt0-usdc"
sig_figs = 5
max_decimals = 8
"#;
    let v = LocalVenues::parse("v.toml", src).unwrap();
    let e = ballast_localnet::hyperliquid::spawn(v.hyperliquid.unwrap())
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("8 - szDecimals = 6"), "{e}");
}
