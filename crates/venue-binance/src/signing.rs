//! Request signing (venues.md B2): the signed text is the query string immediately followed by the body, with
//! no separator and without the `signature` pair. HMAC-SHA256 signatures are lowercase hex; Ed25519 signatures
//! are base64, percent-encoded where they are placed.
//!
//! The client builds the exact text once ([`Params`]), signs those bytes and appends `&signature=`; the local
//! server rebuilds the text from the bytes it received ([`signed_text`]) and checks it with a [`Verifier`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A key problem (unreadable PEM, wrong length). Never contains key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// How requests are signed. Holds the secret; its `Debug` never shows it.
#[derive(Clone)]
pub enum Signer {
    /// HMAC-SHA256 keyed with the API secret (kept pre-keyed: each signature clones the state).
    Hmac(Box<HmacSha256>),
    /// Ed25519 with the private key registered with the API key.
    Ed25519(Box<SigningKey>),
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::Hmac(_) => f.write_str("Signer::Hmac(<redacted>)"),
            Signer::Ed25519(k) => write!(
                f,
                "Signer::Ed25519(public key {})",
                hex::encode(k.verifying_key().as_bytes())
            ),
        }
    }
}

impl Signer {
    /// HMAC-SHA256 with an API secret (its ASCII bytes are the key).
    pub fn hmac(secret: &str) -> Signer {
        Signer::Hmac(Box::new(
            HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length"),
        ))
    }

    /// Ed25519 from a PKCS#8 private key: PEM (`-----BEGIN PRIVATE KEY-----`) or its bare base64 body.
    pub fn ed25519_from_pem(pem: &str) -> Result<Signer, KeyError> {
        let der = pem_body(pem, "PRIVATE KEY")?;
        let key = SigningKey::from_pkcs8_der(&der)
            .map_err(|e| KeyError(format!("not an Ed25519 PKCS#8 private key: {e}")))?;
        Ok(Signer::Ed25519(Box::new(key)))
    }

    /// Ed25519 from its 32-byte seed.
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> Signer {
        Signer::Ed25519(Box::new(SigningKey::from_bytes(seed)))
    }

    /// The value to send as `signature=`: lowercase hex (HMAC) or percent-encoded base64 (Ed25519).
    pub fn sign(&self, payload: &[u8]) -> String {
        match self {
            Signer::Hmac(mac) => {
                let mut m = (**mac).clone();
                m.update(payload);
                hex::encode(m.finalize().into_bytes())
            }
            Signer::Ed25519(key) => {
                let sig = key.sign(payload);
                let mut out = String::with_capacity(96);
                encode_into(&B64.encode(sig.to_bytes()), &mut out);
                out
            }
        }
    }

    /// The matching verifier (for the local server's accounts and tests).
    pub fn verifier(&self) -> Option<Verifier> {
        match self {
            Signer::Hmac(_) => None,
            Signer::Ed25519(k) => Some(Verifier::Ed25519(k.verifying_key())),
        }
    }
}

/// How the local server checks a signature.
#[derive(Clone)]
pub enum Verifier {
    Hmac(Box<HmacSha256>),
    Ed25519(VerifyingKey),
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verifier::Hmac(_) => f.write_str("Verifier::Hmac(<redacted>)"),
            Verifier::Ed25519(k) => write!(f, "Verifier::Ed25519({})", hex::encode(k.as_bytes())),
        }
    }
}

impl Verifier {
    pub fn hmac(secret: &str) -> Verifier {
        Verifier::Hmac(Box::new(
            HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length"),
        ))
    }

    /// Ed25519 public key: PEM (`-----BEGIN PUBLIC KEY-----`), its bare base64 body, or 64 hex digits.
    pub fn ed25519_public(text: &str) -> Result<Verifier, KeyError> {
        let t = text.trim();
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes: [u8; 32] = hex::decode(t)
                .map_err(|e| KeyError(e.to_string()))?
                .try_into()
                .map_err(|_| KeyError("an Ed25519 public key has 32 bytes".into()))?;
            let k = VerifyingKey::from_bytes(&bytes)
                .map_err(|e| KeyError(format!("not an Ed25519 public key: {e}")))?;
            return Ok(Verifier::Ed25519(k));
        }
        let der = pem_body(t, "PUBLIC KEY")?;
        let k = VerifyingKey::from_public_key_der(&der)
            .map_err(|e| KeyError(format!("not an Ed25519 public key: {e}")))?;
        Ok(Verifier::Ed25519(k))
    }

    /// Check `sig` exactly as it arrived on the wire (still percent-encoded) over `payload`.
    /// HMAC hex is compared case-insensitively and in constant time.
    pub fn verify(&self, payload: &[u8], sig: &str) -> bool {
        match self {
            Verifier::Hmac(mac) => {
                let Ok(bytes) = hex::decode(sig) else {
                    return false;
                };
                let mut m = (**mac).clone();
                m.update(payload);
                m.verify_slice(&bytes).is_ok()
            }
            Verifier::Ed25519(key) => {
                let Some(b64) = decode_component(sig) else {
                    return false;
                };
                let Ok(raw) = B64.decode(b64.as_bytes()) else {
                    return false;
                };
                let Ok(sig) = ed25519_dalek::Signature::from_slice(&raw) else {
                    return false;
                };
                key.verify(payload, &sig).is_ok()
            }
        }
    }
}

fn pem_body(text: &str, label: &str) -> Result<Vec<u8>, KeyError> {
    let t = text.trim();
    let body: String = if t.starts_with("-----BEGIN") {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let start = t
            .find(&begin)
            .ok_or_else(|| KeyError(format!("expected a PEM block `{begin}`")))?;
        let rest = &t[start + begin.len()..];
        let stop = rest
            .find(&end)
            .ok_or_else(|| KeyError(format!("PEM block without `{end}`")))?;
        rest[..stop].split_whitespace().collect()
    } else {
        t.split_whitespace().collect()
    };
    B64.decode(body.as_bytes())
        .map_err(|e| KeyError(format!("PEM body is not base64: {e}")))
}

/// Percent-encode one query component: unreserved characters (`A-Z a-z 0-9 - _ . ~`) stay, every other byte
/// becomes `%XX` (uppercase hex). The result is what is sent and what is signed.
pub fn encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

/// Decode one `application/x-www-form-urlencoded` component (`+` is a space). `None` on bad escapes or
/// non-UTF-8 results.
pub fn decode_component(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = b.get(i + 1..i + 3)?;
                let v = u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
                out.push(v);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Request parameters as the exact text that is sent: `k1=v1&k2=v2`, values percent-encoded once, in the
/// order they were pushed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    text: String,
}

impl Params {
    pub fn new() -> Params {
        Params {
            text: String::with_capacity(192),
        }
    }

    /// Append `key=value` (the key is ASCII and sent as is; the value is percent-encoded).
    pub fn push(&mut self, key: &str, value: impl fmt::Display) -> &mut Self {
        if !self.text.is_empty() {
            self.text.push('&');
        }
        self.text.push_str(key);
        self.text.push('=');
        let v = value.to_string();
        encode_into(&v, &mut self.text);
        self
    }

    pub fn with(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.push(key, value);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Sign the text and append `&signature=`: the returned string is what goes on the wire.
    pub fn signed(mut self, signer: &Signer) -> String {
        let sig = signer.sign(self.text.as_bytes());
        if !self.text.is_empty() {
            self.text.push('&');
        }
        self.text.push_str("signature=");
        self.text.push_str(&sig);
        self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

/// Sign parameters split between the query string and a form body: the signature covers `query + body`
/// (no separator) and is appended to the body. Returns `(query, body)` as they must be sent.
pub fn sign_split(query: Params, body: Params, signer: &Signer) -> (String, String) {
    let mut payload = String::with_capacity(query.text.len() + body.text.len());
    payload.push_str(&query.text);
    payload.push_str(&body.text);
    let sig = signer.sign(payload.as_bytes());
    let mut b = body.text;
    if !b.is_empty() {
        b.push('&');
    }
    b.push_str("signature=");
    b.push_str(&sig);
    (query.text, b)
}

/// Remove the `signature` pair from a raw query or body, keeping every other byte as received.
/// Returns the remaining text and the signature value (still encoded), if there was one.
pub fn strip_signature(raw: &str) -> (String, Option<&str>) {
    let mut kept = String::with_capacity(raw.len());
    let mut sig = None;
    for pair in raw.split('&') {
        if let Some(v) = pair.strip_prefix("signature=") {
            sig = Some(v);
            continue;
        }
        if pair.is_empty() {
            continue;
        }
        if !kept.is_empty() {
            kept.push('&');
        }
        kept.push_str(pair);
    }
    (kept, sig)
}

/// What the server verifies: the raw query without its signature pair, followed by the raw body without its
/// signature pair; and the signature that was sent (the query's wins if both carry one).
pub fn signed_text<'a>(raw_query: &'a str, raw_body: &'a str) -> (String, Option<&'a str>) {
    let (q, qs) = strip_signature(raw_query);
    let (b, bs) = strip_signature(raw_body);
    let mut text = q;
    text.push_str(&b);
    (text, qs.or(bs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_keeps_unreserved() {
        let mut s = String::new();
        encode_into("a b/+=é~", &mut s);
        assert_eq!(s, "a%20b%2F%2B%3D%C3%A9~");
        assert_eq!(decode_component(&s).unwrap(), "a b/+=é~");
        assert_eq!(decode_component("a+b").unwrap(), "a b");
        assert_eq!(decode_component("%zz"), None);
    }

    #[test]
    fn strip_signature_keeps_other_bytes() {
        let (t, s) = signed_text("a=1&signature=abc", "b=%2F2");
        assert_eq!(t, "a=1b=%2F2");
        assert_eq!(s, Some("abc"));
        let (t, s) = signed_text("", "b=2&signature=x");
        assert_eq!((t.as_str(), s), ("b=2", Some("x")));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Signer::hmac("super-secret-value");
        assert!(!format!("{s:?}").contains("super"));
        let v = Verifier::hmac("super-secret-value");
        assert!(!format!("{v:?}").contains("super"));
    }
}
