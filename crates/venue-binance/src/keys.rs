//! API credentials: loaded from environment variables, an Ed25519 key file or an encrypted keystore, as the
//! configuration names them. Secrets never appear in `Debug` output, errors or logs.
//!
//! The keystore is a Web3 Secret Storage file (scrypt + AES-128-CTR, the format Ethereum keystores use)
//! whose plaintext is a small JSON document: `{"api_key": "...", "secret_key": "..."}` for HMAC keys or
//! `{"api_key": "...", "ed25519_private_key": "-----BEGIN PRIVATE KEY-----..."}` for Ed25519 keys.
//! [`write_keystore`] creates one.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::signing::{KeyError, Signer};
use crate::config::CredentialSource;

/// An API key and the signer of its requests.
#[derive(Clone)]
pub struct Credentials {
    api_key: String,
    pub signer: Signer,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &redact(&self.api_key))
            .field("signer", &self.signer)
            .finish()
    }
}

/// The first 4 characters and the length: enough to tell keys apart in a log, useless to an attacker.
pub fn redact(key: &str) -> String {
    let head: String = key.chars().take(4).collect();
    format!("{head}…({} chars)", key.chars().count())
}

impl Credentials {
    pub fn new(api_key: impl Into<String>, signer: Signer) -> Credentials {
        Credentials {
            api_key: api_key.into(),
            signer,
        }
    }

    /// HMAC-SHA256 credentials.
    pub fn hmac(api_key: impl Into<String>, secret: &str) -> Credentials {
        Credentials::new(api_key, Signer::hmac(secret))
    }

    /// The value of `X-MBX-APIKEY`.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Resolve a configured source. Errors name the variable or file, never a value.
    pub fn load(src: &CredentialSource) -> Result<Credentials, KeyError> {
        match src {
            CredentialSource::EnvHmac {
                api_key_env,
                secret_key_env,
            } => Ok(Credentials::hmac(env(api_key_env)?, &env(secret_key_env)?)),
            CredentialSource::EnvEd25519 {
                api_key_env,
                key_file,
            } => {
                let pem = std::fs::read_to_string(key_file).map_err(|e| {
                    KeyError(format!(
                        "cannot read Ed25519 key file {}: {e}",
                        key_file.display()
                    ))
                })?;
                let signer = Signer::ed25519_from_pem(&pem).map_err(|e| {
                    KeyError(format!("Ed25519 key file {}: {}", key_file.display(), e.0))
                })?;
                Ok(Credentials::new(env(api_key_env)?, signer))
            }
            CredentialSource::Keystore { path, password_env } => {
                read_keystore(path, &env(password_env)?)
            }
        }
    }
}

fn env(name: &str) -> Result<String, KeyError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        Ok(_) => Err(KeyError(format!("environment variable {name} is empty"))),
        Err(_) => Err(KeyError(format!("environment variable {name} is not set"))),
    }
}

#[derive(Serialize, Deserialize)]
struct KeystorePlain {
    api_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ed25519_private_key: Option<String>,
}

/// Decrypt a keystore written by [`write_keystore`].
pub fn read_keystore(path: &Path, password: &str) -> Result<Credentials, KeyError> {
    let plain = eth_keystore::decrypt_key(path, password).map_err(|e| {
        KeyError(match e {
            eth_keystore::KeystoreError::MacMismatch => {
                format!("keystore {}: wrong password", path.display())
            }
            other => format!("keystore {}: {other}", path.display()),
        })
    })?;
    let doc: KeystorePlain = serde_json::from_slice(&plain).map_err(|_| {
        KeyError(format!(
            "keystore {}: the decrypted content is not a Binance key document",
            path.display()
        ))
    })?;
    let signer = match (doc.secret_key, doc.ed25519_private_key) {
        (Some(s), None) => Signer::hmac(&s),
        (None, Some(pem)) => Signer::ed25519_from_pem(&pem)?,
        _ => {
            return Err(KeyError(format!(
                "keystore {}: holds neither exactly one of secret_key or ed25519_private_key",
                path.display()
            )));
        }
    };
    Ok(Credentials::new(doc.api_key, signer))
}

/// What a keystore holds.
pub enum KeystoreSecret<'a> {
    Hmac(&'a str),
    Ed25519Pem(&'a str),
}

/// Encrypt an API key and its secret into `dir/name` (scrypt, the Web3 Secret Storage defaults).
pub fn write_keystore(
    dir: &Path,
    name: &str,
    password: &str,
    api_key: &str,
    secret: KeystoreSecret,
) -> Result<(), KeyError> {
    let (secret_key, ed25519_private_key) = match secret {
        KeystoreSecret::Hmac(s) => (Some(s.to_string()), None),
        KeystoreSecret::Ed25519Pem(p) => {
            Signer::ed25519_from_pem(p)?;
            (None, Some(p.to_string()))
        }
    };
    let plain = serde_json::to_vec(&KeystorePlain {
        api_key: api_key.into(),
        secret_key,
        ed25519_private_key,
    })
    .map_err(|e| KeyError(e.to_string()))?;
    eth_keystore::encrypt_key(dir, &mut rand08::rngs::OsRng, plain, password, Some(name))
        .map_err(|e| KeyError(format!("cannot write keystore: {e}")))?;
    Ok(())
}
