//! Signing keys of a chain's accounts: from an environment variable or an encrypted JSON keystore whose
//! password is in an environment variable. A key never appears in an error or a log; a loaded key must
//! belong to the configured address.

use std::collections::BTreeMap;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;

use super::ChainError;
use ballast_config::chains::{ChainCfg, KeySource};

/// Read an environment variable (`std::env::var` in production; a map in tests).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Load every configured key of `cfg`.
pub fn load(
    cfg: &ChainCfg,
    env: EnvLookup,
) -> Result<BTreeMap<Address, PrivateKeySigner>, ChainError> {
    let mut out = BTreeMap::new();
    for a in &cfg.accounts {
        let Some(src) = &a.key else { continue };
        let err = |reason: String| ChainError::Key {
            chain: cfg.name.clone(),
            account: a.address.to_string(),
            reason,
        };
        let signer = match src {
            KeySource::Env(var) => {
                let text = env(var)
                    .ok_or_else(|| err(format!("environment variable {var} is not set")))?;
                let text = text.trim();
                text.strip_prefix("0x")
                    .unwrap_or(text)
                    .parse::<PrivateKeySigner>()
                    .map_err(|_| {
                        err(format!(
                            "environment variable {var} does not hold a hex private key"
                        ))
                    })?
            }
            KeySource::Dev(n) => ballast_config::chains::dev_signer(*n),
            KeySource::Keystore { path, password_env } => {
                let password = env(password_env).ok_or_else(|| {
                    err(format!("environment variable {password_env} is not set"))
                })?;
                PrivateKeySigner::decrypt_keystore(path, password.as_bytes()).map_err(|e| {
                    // The keystore error says what failed (file, MAC = wrong password), never the key.
                    err(format!("keystore {}: {e}", path.display()))
                })?
            }
        };
        if signer.address() != a.address {
            return Err(err(format!(
                "the key belongs to {}, not to the configured address",
                signer.address()
            )));
        }
        out.insert(a.address, signer);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_config::chains::AccountCfg;

    const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    fn cfg(accounts: Vec<AccountCfg>) -> ChainCfg {
        let src = r#"
[controller]
min_order_value = "1"
[[position]]
chain = "c"
asset = "ETH"
target = "1"
[[chain]]
name = "c"
kind = "sim"
chain_id = 7
[[chain.account]]
address = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
"#;
        let mut c = ballast_config::Config::parse("t.toml", src).unwrap().chains[0].clone();
        c.accounts = accounts;
        c
    }

    fn addr() -> Address {
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
            .parse()
            .unwrap()
    }

    #[test]
    fn keys_load_from_env_and_keystore_and_must_match_the_address() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = alloy::signers::k256::elliptic_curve::rand_core::OsRng;
        PrivateKeySigner::encrypt_keystore(
            dir.path(),
            &mut rng,
            hex::decode(KEY).unwrap(),
            "correct horse",
            Some("k.json"),
        )
        .unwrap();
        let env = |name: &str| match name {
            "HOT" => Some(format!("0x{KEY}")),
            "PW" => Some("correct horse".to_string()),
            "BAD_PW" => Some("wrong".to_string()),
            "JUNK" => Some("not a key".to_string()),
            _ => None,
        };
        let c = cfg(vec![AccountCfg {
            address: addr(),
            key: Some(KeySource::Env("HOT".into())),
        }]);
        assert_eq!(load(&c, &env).unwrap()[&addr()].address(), addr());
        let ks = |pw: &str| {
            cfg(vec![AccountCfg {
                address: addr(),
                key: Some(KeySource::Keystore {
                    path: dir.path().join("k.json"),
                    password_env: pw.into(),
                }),
            }])
        };
        assert_eq!(load(&ks("PW"), &env).unwrap().len(), 1);
        let e = load(&ks("BAD_PW"), &env).unwrap_err().to_string();
        assert!(e.contains("keystore"), "{e}");
        let e = load(&ks("NOPE"), &env).unwrap_err().to_string();
        assert!(e.contains("NOPE is not set"), "{e}");
        let junk = cfg(vec![AccountCfg {
            address: addr(),
            key: Some(KeySource::Env("JUNK".into())),
        }]);
        let e = load(&junk, &env).unwrap_err().to_string();
        assert!(
            e.contains("does not hold a hex private key") && !e.contains("not a key"),
            "{e}"
        );
        let other = cfg(vec![AccountCfg {
            address: Address::repeat_byte(1),
            key: Some(KeySource::Env("HOT".into())),
        }]);
        let e = load(&other, &env).unwrap_err().to_string();
        assert!(e.contains("belongs to 0xf39F") && !e.contains(KEY), "{e}");
    }
}
