//! `[[venue]]` settings specific to binance (kind = "binance"), read from the same table as the common keys.
//! The reference is the "Binance venue keys" section of `docs/CONFIG.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ballast_reader::{Diagnostics, Field, FromField, Obj, Reported};

/// Where the API key and its secret come from. Names of environment variables and files only: the
/// configuration never holds a secret itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// The API key from `api_key_env`; the HMAC secret from `secret_key_env`.
    EnvHmac {
        api_key_env: String,
        secret_key_env: String,
    },
    /// The API key from `api_key_env`; an Ed25519 PKCS#8 PEM private key from a file.
    EnvEd25519 {
        api_key_env: String,
        key_file: PathBuf,
    },
    /// An encrypted keystore (Web3 Secret Storage) holding the key and its secret, unlocked with the
    /// password in `password_env`.
    Keystore { path: PathBuf, password_env: String },
}

/// One address funds may be withdrawn to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedAddress {
    pub asset: String,
    /// Binance's network name (e.g. `ARBITRUM`).
    pub network: String,
    pub address: String,
}

/// Settings of a binance venue.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// REST base URL.
    pub url: String,
    /// None when no keys are configured (the venue then cannot be used live).
    pub credentials: Option<CredentialSource>,
    /// `recvWindow` sent with signed requests (<= 60 s).
    pub recv_window: Duration,
    /// Time allowed for one HTTP request; past it the outcome is unknown.
    pub timeout: Duration,
    /// Symbols this venue trades (e.g. `USDCUSDT`); empty = every symbol exchangeInfo lists.
    pub markets: Vec<String>,
    /// ballast chain name -> Binance network name (validated against `capital/config/getall` at run time).
    pub networks: BTreeMap<String, String>,
    /// Withdrawals go only to these addresses.
    pub withdraw_addresses: Vec<AllowedAddress>,
    /// Longest back-off (after a 429, or to stay under a limit) a request waits out before it is sent;
    /// beyond it the call fails at once with `RateLimited`.
    pub max_rate_wait: Duration,
}

pub const DEFAULT_URL: &str = "https://api.binance.com";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            url: DEFAULT_URL.into(),
            credentials: None,
            recv_window: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            markets: Vec::new(),
            networks: BTreeMap::new(),
            withdraw_addresses: Vec::new(),
            max_rate_wait: Duration::from_secs(5),
        }
    }
}

impl Settings {
    /// Is `address` on the allow-list for this asset and network (addresses compare case-insensitively)?
    pub fn withdrawal_allowed(&self, asset: &str, network: &str, address: &str) -> bool {
        self.withdraw_addresses.iter().any(|a| {
            a.asset.eq_ignore_ascii_case(asset)
                && a.network.eq_ignore_ascii_case(network)
                && a.address.eq_ignore_ascii_case(address)
        })
    }
}

/// An environment variable's name: `Ok(None)` when absent, `Err(Reported)` when present but bad.
fn env_name(o: &mut Obj, d: &mut Diagnostics, key: &str) -> Result<Option<String>, Reported> {
    let Some(f) = o.field(key) else {
        return Ok(None);
    };
    let v = String::from_field(&f, d).ok_or(Reported)?;
    if !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        f.invalid(
            d,
            format!("{v:?} is not an environment variable name (write the variable's name, never the key itself)"),
        );
        return Err(Reported);
    }
    Ok(Some(v))
}

/// Take this kind's keys from a `[[venue]]` table.
pub fn read(o: &mut Obj, d: &mut Diagnostics) -> Option<Settings> {
    let mut s = Settings::default();
    let mut ok = true;

    if let Some(f) = o.field("url") {
        match String::from_field(&f, d) {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                s.url = u.trim_end_matches('/').to_string();
            }
            Some(u) => {
                f.invalid(d, format!("{u:?} is not an http(s) URL"));
                ok = false;
            }
            None => ok = false,
        }
    }

    let api_key_env = env_name(o, d, "api_key_env");
    let secret_key_env = env_name(o, d, "secret_key_env");
    let key_file = o.opt::<String>(d, "ed25519_key_file");
    let keystore = o.opt::<String>(d, "keystore");
    let password_env = env_name(o, d, "keystore_password_env");
    if [&api_key_env, &secret_key_env, &password_env]
        .iter()
        .any(|r| r.is_err())
        || key_file.is_err()
        || keystore.is_err()
    {
        // Already reported; do not pile "missing key" errors on top.
        ok = false;
    }
    let api_bad = api_key_env.is_err();
    let api_key_env = api_key_env.ok().flatten();
    let secret_key_env = secret_key_env.ok().flatten();
    let password_env = password_env.ok().flatten();
    let key_file = key_file.ok().flatten();
    let keystore = keystore.ok().flatten();
    let sources = [
        secret_key_env.is_some(),
        key_file.is_some(),
        keystore.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    // A source, or the companion key it lacks: (key, what it holds, already reported as bad).
    let api = |make: &dyn Fn(String) -> CredentialSource| match &api_key_env {
        Some(k) => Ok(make(k.clone())),
        None => Err(("api_key_env", "the variable holding the API key", api_bad)),
    };
    let built: Result<Option<CredentialSource>, (&str, &str, bool)> = if sources > 1 {
        d.error(
            o.span.clone(),
            &o.path,
            "give one of `secret_key_env`, `ed25519_key_file` or `keystore`, not several",
        );
        ok = false;
        Ok(None)
    } else if let Some(secret_key_env) = secret_key_env {
        api(&|api_key_env| CredentialSource::EnvHmac {
            api_key_env,
            secret_key_env: secret_key_env.clone(),
        })
        .map(Some)
    } else if let Some(key_file) = key_file {
        api(&|api_key_env| CredentialSource::EnvEd25519 {
            api_key_env,
            key_file: PathBuf::from(&key_file),
        })
        .map(Some)
    } else if let Some(path) = keystore {
        match password_env {
            Some(password_env) => Ok(Some(CredentialSource::Keystore {
                path: PathBuf::from(path),
                password_env,
            })),
            None => Err((
                "keystore_password_env",
                "the variable holding the keystore password",
                false,
            )),
        }
    } else {
        if api_key_env.is_some() {
            d.error(
                o.span.clone(),
                &o.path,
                "`api_key_env` needs `secret_key_env` (HMAC) or `ed25519_key_file`",
            );
            ok = false;
        }
        Ok(None)
    };
    match built {
        Ok(c) => s.credentials = c,
        Err((key, what, reported)) => {
            if !reported {
                d.error(
                    o.span.clone(),
                    &o.path,
                    format!("missing key `{key}` ({what})"),
                );
            }
            ok = false;
        }
    }

    if let Some(f) = o.field("recv_window") {
        match Duration::from_field(&f, d) {
            Some(w) if w.is_zero() || w > Duration::from_secs(60) => {
                f.invalid(d, "must be between 1ms and 60s (Binance's maximum)");
                ok = false;
            }
            Some(w) => s.recv_window = w,
            None => ok = false,
        }
    }
    if let Some(f) = o.field("timeout") {
        match Duration::from_field(&f, d) {
            Some(t) if t.is_zero() => {
                f.invalid(d, "must be positive");
                ok = false;
            }
            Some(t) => s.timeout = t,
            None => ok = false,
        }
    }
    s.max_rate_wait = o.or(d, "max_rate_wait", s.max_rate_wait);

    if let Some(f) = o.field("markets") {
        match Vec::<String>::from_field(&f, d) {
            Some(m) => {
                for sym in &m {
                    if sym.is_empty() || !sym.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        f.invalid(
                            d,
                            format!("{sym:?} is not a Binance symbol such as \"USDCUSDT\""),
                        );
                        ok = false;
                    }
                }
                s.markets = m.into_iter().map(|x| x.to_ascii_uppercase()).collect();
            }
            None => ok = false,
        }
    }

    if let Some(f) = o.field("networks") {
        match f.item.as_table_like() {
            Some(t) => {
                for (chain, item) in t.iter() {
                    let entry = Field {
                        path: format!("{}.{chain}", f.path),
                        item,
                        span: item.span().or_else(|| f.span.clone()),
                    };
                    match String::from_field(&entry, d) {
                        Some(net) => {
                            s.networks
                                .insert(chain.to_string(), net.to_ascii_uppercase());
                        }
                        None => ok = false,
                    }
                }
            }
            None => {
                f.wrong_type(d, "a table of chain = \"NETWORK\"");
                ok = false;
            }
        }
    }

    if let Some(f) = o.field("withdraw_address") {
        for mut a in f.objs(d) {
            let asset: Option<String> = a.req(d, "asset");
            let network: Option<String> = a.req(d, "network");
            let address: Option<String> = a.req(d, "address");
            if let Some(addr) = &address
                && addr.starts_with("0x")
                && (addr.len() != 42 || !addr[2..].bytes().all(|b| b.is_ascii_hexdigit()))
            {
                d.error(
                    a.span.clone(),
                    format!("{}.address", a.path),
                    format!("{addr:?} is not a 20-byte hex address"),
                );
                ok = false;
            }
            a.finish(d);
            match (asset, network, address) {
                (Some(asset), Some(network), Some(address)) => {
                    s.withdraw_addresses.push(AllowedAddress {
                        asset: asset.to_ascii_uppercase(),
                        network: network.to_ascii_uppercase(),
                        address,
                    })
                }
                _ => ok = false,
            }
        }
    }
    ok.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_src(src: &str) -> (Option<Settings>, Vec<String>) {
        let doc = toml_edit::Document::parse(src.to_string()).unwrap();
        let mut d = Diagnostics::new("t.toml", src);
        let mut root = Obj::root(&doc);
        let s = read(&mut root, &mut d);
        root.finish(&mut d);
        (s, d.problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn a_full_venue_reads() {
        let (s, errs) = read_src(
            r#"url = "http://127.0.0.1:8091/"
api_key_env = "BN_KEY"
secret_key_env = "BN_SECRET"
recv_window = "3s"
markets = ["usdcusdt"]
networks = { arbitrum = "ARBITRUM", optimism = "optimism" }
[[withdraw_address]]
asset = "usdc"
network = "ARBITRUM"
address = "0x00000000000000000000000000000000000000aa"
"#,
        );
        assert!(errs.is_empty(), "{errs:?}");
        let s = s.unwrap();
        assert_eq!(s.url, "http://127.0.0.1:8091");
        assert_eq!(
            s.credentials,
            Some(CredentialSource::EnvHmac {
                api_key_env: "BN_KEY".into(),
                secret_key_env: "BN_SECRET".into()
            })
        );
        assert_eq!(s.recv_window, Duration::from_secs(3));
        assert_eq!(s.markets, vec!["USDCUSDT"]);
        assert_eq!(s.networks["optimism"], "OPTIMISM");
        assert!(s.withdrawal_allowed(
            "USDC",
            "arbitrum",
            "0x00000000000000000000000000000000000000AA"
        ));
        assert!(!s.withdrawal_allowed(
            "USDT",
            "ARBITRUM",
            "0x00000000000000000000000000000000000000aa"
        ));
    }

    #[test]
    fn problems_name_line_and_field() {
        let (_, errs) = read_src(
            "api_key_env = \"vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A!\"\nsecret_key_env = \"S\"\nrecv_window = \"2m\"\n",
        );
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("t.toml:1: api_key_env: "),
            "{}",
            errs[0]
        );
        assert!(errs[0].contains("never the key itself"));
        assert_eq!(
            errs[1],
            "t.toml:3: recv_window: must be between 1ms and 60s (Binance's maximum)"
        );
        let (_, errs) = read_src("secret_key_env = \"S\"\nkeystore = \"k.json\"\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("not several"));
    }
}
