//! `[[venue]]` settings specific to hyperliquid (kind = "hyperliquid"), read from the same table as the common
//! keys. Documented in `docs/CONFIG.md` ("Hyperliquid venues").
//!
//! Without `network` the venue has no live connection (the simulator stands in for it). With `network`, the
//! client talks to `url` (the network's public API by default), signs for that network whatever the URL, and
//! reads the account's state with `account` (the master or sub-account address, never an agent's).
//! Keys are never in the file: `key_env` names an environment variable holding the hex key, or `keystore`
//! names an encrypted JSON keystore whose password is in the variable `keystore_password_env`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::Address;
use rust_decimal::Decimal;

use crate::client::{DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE};
use crate::wire::parse_address;
use crate::{ClientOptions, Network};
use ballast_reader::{Diagnostics, Field, FromField, Obj, choice};

/// Settings of a hyperliquid venue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The live connection; `None` when the venue runs on the simulator.
    pub live: Option<Box<LiveSettings>>,
}

/// Where the signing key comes from. Holds names, never key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable holding the 32-byte key as hex.
    Env(String),
    /// An encrypted JSON keystore and the environment variable holding its password.
    Keystore { path: PathBuf, password_env: String },
}

/// A live Hyperliquid connection: the client's options (everything but the key) and where the key is.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveSettings {
    pub client: ClientOptions,
    /// The signing key; without one the venue is read-only.
    pub key: Option<KeySource>,
}

const LIVE_KEYS: [&str; 14] = [
    "url",
    "account",
    "key_env",
    "keystore",
    "keystore_password_env",
    "agent",
    "vault_address",
    "markets",
    "maker_fee",
    "taker_fee",
    "withdraw_addresses",
    "request_timeout",
    "order_expiry",
    "bridge_address",
];

fn address_field(f: &Field, d: &mut Diagnostics) -> Option<Address> {
    let s = String::from_field(f, d)?;
    let a = parse_address(&s);
    if a.is_none() {
        f.invalid(d, format!("{s:?} is not an address (0x and 40 hex digits)"));
    }
    a
}

fn opt_address(o: &mut Obj, d: &mut Diagnostics, key: &str) -> Option<Address> {
    o.field(key).and_then(|f| address_field(&f, d))
}

fn fee(o: &mut Obj, d: &mut Diagnostics, key: &str, default: Decimal) -> Decimal {
    let Some(f) = o.field(key) else {
        return default;
    };
    match Decimal::from_field(&f, d) {
        Some(v) if v.abs() < Decimal::new(1, 1) => v,
        Some(v) => {
            f.invalid(d, format!("{v} is not a fee rate (0.0004 = 4 bps)"));
            default
        }
        None => default,
    }
}

/// Take this kind's keys from a `[[venue]]` table.
pub fn read(o: &mut Obj, d: &mut Diagnostics) -> Option<Settings> {
    let network = match o.field("network") {
        Some(f) => Some(choice(
            &f,
            d,
            &[("mainnet", Network::Mainnet), ("testnet", Network::Testnet)],
        )?),
        None => None,
    };
    let Some(network) = network else {
        if let Some(k) = LIVE_KEYS.iter().find(|k| o.contains(k)) {
            d.error(
                o.span.clone(),
                &o.path,
                format!(
                    "`{k}` needs `network = \"mainnet\"` or `\"testnet\"`: the network decides how actions are signed and is never guessed from the URL"
                ),
            );
        }
        for k in LIVE_KEYS {
            o.allow(k);
        }
        return Some(Settings { live: None });
    };
    let mut ok = true;
    let url = o
        .or(d, "url", network.default_url().to_string())
        .trim_end_matches('/')
        .to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        if let Some(f) = o.field("url") {
            f.invalid(d, format!("{url:?} is not an http(s) URL"));
        }
        ok = false;
    }
    let account = opt_address(o, d, "account");
    let key_env: Option<String> = o.opt(d, "key_env").ok().flatten();
    let keystore: Option<String> = o.opt(d, "keystore").ok().flatten();
    let password_env: Option<String> = o.opt(d, "keystore_password_env").ok().flatten();
    let base_dir = Path::new(d.file())
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let key = match (key_env, keystore, password_env) {
        (Some(_), Some(_), _) => {
            d.error(
                o.span.clone(),
                &o.path,
                "give either `key_env` or `keystore`, not both",
            );
            ok = false;
            None
        }
        (Some(var), None, None) => Some(KeySource::Env(var)),
        (_, None, Some(_)) => {
            if let Some(f) = o.field("keystore_password_env") {
                f.invalid(d, "only used with `keystore`");
            }
            ok = false;
            None
        }
        (None, Some(path), Some(pw)) => {
            let p = PathBuf::from(path);
            let path = if p.is_absolute() { p } else { base_dir.join(p) };
            Some(KeySource::Keystore {
                path,
                password_env: pw,
            })
        }
        (None, Some(_), None) => {
            d.error(
                o.span.clone(),
                &o.path,
                "`keystore` needs `keystore_password_env`, the environment variable holding its password",
            );
            ok = false;
            None
        }
        (None, None, None) => None,
    };
    let agent = o.or(d, "agent", false);
    let vault_address = opt_address(o, d, "vault_address");
    if agent && account.is_none() && vault_address.is_none() {
        d.error(
            o.span.clone(),
            &o.path,
            "`agent = true` needs `account`: the master address the API wallet trades for (an agent's own address has no balances)",
        );
        ok = false;
    }
    if key.is_none() && account.is_none() && vault_address.is_none() && ok {
        d.error(
            o.span.clone(),
            &o.path,
            "a read-only venue (no `key_env` or `keystore`) needs `account`",
        );
        ok = false;
    }
    let markets: Vec<String> = o.or(d, "markets", Vec::new());
    let maker_fee = fee(o, d, "maker_fee", DEFAULT_MAKER_FEE);
    let taker_fee = fee(o, d, "taker_fee", DEFAULT_TAKER_FEE);
    let withdraw_addresses = match o.field("withdraw_addresses") {
        Some(f) => {
            let list = Vec::<String>::from_field(&f, d).unwrap_or_default();
            let mut out = Vec::new();
            for s in list {
                match parse_address(&s) {
                    Some(a) => out.push(a),
                    None => {
                        f.invalid(d, format!("{s:?} is not an address"));
                        ok = false;
                    }
                }
            }
            out
        }
        None => Vec::new(),
    };
    let request_timeout = o.or(d, "request_timeout", Duration::from_secs(10));
    let order_expiry = o.or(d, "order_expiry", Duration::from_secs(10));
    if order_expiry < Duration::from_secs(2) {
        if let Some(f) = o.field("order_expiry") {
            f.invalid(
                d,
                "must be at least 2s (requests take up to a second to reach the venue)",
            );
        }
        ok = false;
    }
    let bridge_address = opt_address(o, d, "bridge_address");
    let ip_weight_per_minute = o.or(
        d,
        "ip_weight_per_minute",
        crate::ratelimit::IP_WEIGHT_PER_MINUTE,
    );
    ok.then_some(Settings {
        live: Some(Box::new(LiveSettings {
            client: ClientOptions {
                network,
                url,
                account,
                agent,
                vault_address,
                markets,
                maker_fee,
                taker_fee,
                withdraw_addresses,
                request_timeout,
                order_expiry,
                bridge_address,
                ip_weight_per_minute,
            },
            key,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Settings, Vec<String>> {
        let doc = toml_edit::Document::parse(src.to_string()).unwrap();
        let mut d = Diagnostics::new("/etc/ballast/c.toml", src);
        let mut o = Obj::root(&doc);
        let s = read(&mut o, &mut d);
        o.finish(&mut d);
        match s {
            Some(s) if !d.has_errors() => Ok(s),
            _ => Err(d.problems.iter().map(|p| p.to_string()).collect()),
        }
    }

    #[test]
    fn no_network_means_simulated() {
        assert_eq!(parse("").unwrap().live, None);
        let e = parse("key_env = \"HL_KEY\"\n").unwrap_err();
        assert!(e[0].contains("needs `network"), "{e:?}");
    }

    #[test]
    fn live_settings_with_defaults() {
        let s = parse("network = \"mainnet\"\nkey_env = \"HL_KEY\"\n")
            .unwrap()
            .live
            .unwrap();
        assert_eq!(s.client.url, "https://api.hyperliquid.xyz");
        assert_eq!(s.key, Some(KeySource::Env("HL_KEY".into())));
        assert!(!s.client.agent);
        assert_eq!(s.client.order_expiry, Duration::from_secs(10));
        let s = parse(
            "network = \"testnet\"\nurl = \"http://127.0.0.1:3001/\"\nkeystore = \"keys/hl.json\"\nkeystore_password_env = \"HL_PW\"\nagent = true\naccount = \"0x14791697260E4c9A71f18484C9f997B308e59325\"\nwithdraw_addresses = [\"0x14791697260e4c9a71f18484c9f997b308e59325\"]\n",
        )
        .unwrap()
        .live
        .unwrap();
        assert_eq!(s.client.url, "http://127.0.0.1:3001");
        assert_eq!(
            s.key,
            Some(KeySource::Keystore {
                path: "/etc/ballast/keys/hl.json".into(),
                password_env: "HL_PW".into()
            })
        );
        assert_eq!(s.client.withdraw_addresses.len(), 1);
        assert!(s.client.agent);
    }

    #[test]
    fn problems_have_lines_and_paths() {
        let e = parse("network = \"mainet\"\n").unwrap_err();
        assert_eq!(
            e,
            vec!["/etc/ballast/c.toml:1: network: \"mainet\" is not one of mainnet, testnet"]
        );
        let e = parse(
            "network = \"mainnet\"\nkey_env = \"K\"\nagent = true\naccount = \"0x12\"\nmaker_fee = \"4\"\nkeyenv = 1\n",
        )
        .unwrap_err();
        assert!(
            e.iter()
                .any(|p| p.contains("c.toml:4: account: \"0x12\" is not an address")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|p| p.contains("c.toml:5: maker_fee: 4 is not a fee rate")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|p| p.contains("c.toml:6: keyenv: unknown key (did you mean `key_env`?)")),
            "{e:?}"
        );
        let e = parse("network = \"mainnet\"\nkeystore = \"k.json\"\n").unwrap_err();
        assert!(e[0].contains("keystore_password_env"), "{e:?}");
        let e = parse("network = \"mainnet\"\n").unwrap_err();
        assert!(e[0].contains("read-only venue"), "{e:?}");
        let e =
            parse("network = \"mainnet\"\nkey_env = \"K\"\norder_expiry = \"1s\"\n").unwrap_err();
        assert!(
            e[0].contains("c.toml:3: order_expiry: must be at least 2s"),
            "{e:?}"
        );
    }
}
