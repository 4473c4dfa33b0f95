//! Hyperliquid's two signing schemes, and the key holder.
//!
//! **L1 actions** (orders, cancels, modifies, scheduleCancel...) are hashed as msgpack of the typed action
//! (field order fixed, `"type"` first, absent optionals left out), followed by the nonce (u64 big-endian), a
//! vault flag (`0x00`, or `0x01` and the 20 address bytes) and, when set, `0x00` and `expiresAfter` (u64
//! big-endian). The keccak of those bytes is the `connectionId` of a phantom agent
//! `{source: "a" | "b", connectionId}` signed as EIP-712 in the domain `Exchange / 1 / 1337 / 0x0`.
//!
//! **User-signed actions** (spotSend, withdraw3, usdClassTransfer, sendAsset, approveAgent...) are EIP-712
//! structs `HyperliquidTransaction:<Name>` in the domain `HyperliquidSignTransaction / 1 / signatureChainId /
//! 0x0`.
//!
//! The network is never guessed from a URL: it is an explicit [`Network`].

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

/// Which chain a signature is for. Decided by configuration, never by the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Mainnet,
    Testnet,
}

impl Network {
    /// The phantom agent's `source`.
    pub fn source(self) -> &'static str {
        match self {
            Network::Mainnet => "a",
            Network::Testnet => "b",
        }
    }

    /// The `hyperliquidChain` of user-signed actions.
    pub fn chain_name(self) -> &'static str {
        match self {
            Network::Mainnet => "Mainnet",
            Network::Testnet => "Testnet",
        }
    }

    /// The public API of this network.
    pub fn default_url(self) -> &'static str {
        match self {
            Network::Mainnet => "https://api.hyperliquid.xyz",
            Network::Testnet => "https://api.hyperliquid-testnet.xyz",
        }
    }

    pub fn parse(s: &str) -> Option<Network> {
        match s.to_ascii_lowercase().as_str() {
            "mainnet" => Some(Network::Mainnet),
            "testnet" => Some(Network::Testnet),
            _ => None,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Network::Mainnet => "mainnet",
            Network::Testnet => "testnet",
        })
    }
}

/// The chain id user-signed actions are signed with (`signatureChainId`), as both official SDKs do: 0x66eee
/// (Arbitrum Sepolia), for mainnet too. The venue only requires that the JSON value matches the signed domain.
pub const SIGNATURE_CHAIN_ID: u64 = 0x66eee;

/// Chain id of the L1 (phantom agent) domain.
pub const L1_CHAIN_ID: u64 = 1337;

/// Why signing or verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("cannot encode the action as msgpack: {0}")]
    Encode(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("the signature does not recover to any key: {0}")]
    Recover(String),
}

/// `keccak256(0x19 0x01 ‖ domainSeparator ‖ structHash)`.
pub fn eip712_digest(domain_separator: &B256, struct_hash: &B256) -> B256 {
    let mut buf = [0u8; 66];
    buf[0] = 0x19;
    buf[1] = 0x01;
    buf[2..34].copy_from_slice(domain_separator.as_slice());
    buf[34..].copy_from_slice(struct_hash.as_slice());
    keccak256(buf)
}

fn domain_separator(name: &str, chain_id: u64) -> B256 {
    let typehash = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
    );
    let mut buf = Vec::with_capacity(5 * 32);
    buf.extend_from_slice(typehash.as_slice());
    buf.extend_from_slice(keccak256(name).as_slice());
    buf.extend_from_slice(keccak256("1").as_slice());
    buf.extend_from_slice(&U256::from(chain_id).to_be_bytes::<32>());
    buf.extend_from_slice(&[0u8; 32]); // verifyingContract = 0x0
    keccak256(buf)
}

/// Domain separator of L1 actions: `Exchange / 1 / 1337 / 0x0`.
pub fn l1_domain_separator() -> B256 {
    static SEP: OnceLock<B256> = OnceLock::new();
    *SEP.get_or_init(|| domain_separator("Exchange", L1_CHAIN_ID))
}

/// Domain separator of user-signed actions: `HyperliquidSignTransaction / 1 / chain_id / 0x0`.
pub fn user_domain_separator(chain_id: u64) -> B256 {
    static DEFAULT: OnceLock<B256> = OnceLock::new();
    if chain_id == SIGNATURE_CHAIN_ID {
        return *DEFAULT.get_or_init(|| domain_separator("HyperliquidSignTransaction", chain_id));
    }
    domain_separator("HyperliquidSignTransaction", chain_id)
}

/// The bytes an L1 action is hashed from (msgpack ‖ nonce ‖ vault ‖ expiresAfter), into `buf`.
pub fn l1_action_bytes<T: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    action: &T,
    nonce: u64,
    vault: Option<&Address>,
    expires_after: Option<u64>,
) -> Result<(), SignError> {
    rmp_serde::encode::write_named(buf, action).map_err(|e| SignError::Encode(e.to_string()))?;
    buf.extend_from_slice(&nonce.to_be_bytes());
    match vault {
        None => buf.push(0),
        Some(a) => {
            buf.push(1);
            buf.extend_from_slice(a.as_slice());
        }
    }
    if let Some(t) = expires_after {
        buf.push(0);
        buf.extend_from_slice(&t.to_be_bytes());
    }
    Ok(())
}

/// The `connectionId` of an L1 action.
pub fn connection_id<T: Serialize + ?Sized>(
    action: &T,
    nonce: u64,
    vault: Option<&Address>,
    expires_after: Option<u64>,
) -> Result<B256, SignError> {
    let mut buf = Vec::with_capacity(256);
    l1_action_bytes(&mut buf, action, nonce, vault, expires_after)?;
    Ok(keccak256(&buf))
}

/// The EIP-712 digest of the phantom agent for a `connectionId` on a network.
pub fn l1_digest(connection_id: &B256, network: Network) -> B256 {
    static TYPEHASH: OnceLock<B256> = OnceLock::new();
    static SOURCES: OnceLock<[B256; 2]> = OnceLock::new();
    let typehash = TYPEHASH.get_or_init(|| keccak256("Agent(string source,bytes32 connectionId)"));
    let sources = SOURCES.get_or_init(|| [keccak256("a"), keccak256("b")]);
    let source = match network {
        Network::Mainnet => &sources[0],
        Network::Testnet => &sources[1],
    };
    let mut buf = [0u8; 96];
    buf[..32].copy_from_slice(typehash.as_slice());
    buf[32..64].copy_from_slice(source.as_slice());
    buf[64..].copy_from_slice(connection_id.as_slice());
    eip712_digest(&l1_domain_separator(), &keccak256(buf))
}

/// One field value of an EIP-712 struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypedValue<'a> {
    Str(&'a str),
    U64(u64),
    Bool(bool),
    Address(Address),
    /// A `string` field holding an address: hashed as its lowercase `0x` hex.
    AddrStr(Address),
}

impl TypedValue<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            TypedValue::Str(_) | TypedValue::AddrStr(_) => "string",
            TypedValue::U64(_) => "uint64",
            TypedValue::Bool(_) => "bool",
            TypedValue::Address(_) => "address",
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            TypedValue::Str(s) => out.extend_from_slice(keccak256(s.as_bytes()).as_slice()),
            TypedValue::AddrStr(a) => {
                out.extend_from_slice(keccak256(format!("{a:#x}")).as_slice())
            }
            TypedValue::U64(v) => out.extend_from_slice(&U256::from(*v).to_be_bytes::<32>()),
            TypedValue::Bool(b) => out.extend_from_slice(&U256::from(*b as u8).to_be_bytes::<32>()),
            TypedValue::Address(a) => {
                out.extend_from_slice(&[0u8; 12]);
                out.extend_from_slice(a.as_slice());
            }
        }
    }
}

/// An EIP-712 struct: its primary type name and its fields in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedStruct<'a> {
    pub primary_type: &'static str,
    pub fields: Vec<(&'static str, TypedValue<'a>)>,
}

impl TypedStruct<'_> {
    /// `Name(type1 name1,type2 name2,...)`.
    pub fn type_string(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(n, v)| format!("{} {n}", v.type_name()))
            .collect();
        format!("{}({})", self.primary_type, fields.join(","))
    }

    pub fn type_hash(&self) -> B256 {
        keccak256(self.type_string())
    }

    pub fn struct_hash(&self) -> B256 {
        let mut buf = Vec::with_capacity(32 * (self.fields.len() + 1));
        buf.extend_from_slice(self.type_hash().as_slice());
        for (_, v) in &self.fields {
            v.encode(&mut buf);
        }
        keccak256(buf)
    }

    /// The digest signed for this struct in the user-signed domain with `chain_id`.
    pub fn digest(&self, chain_id: u64) -> B256 {
        eip712_digest(&user_domain_separator(chain_id), &self.struct_hash())
    }
}

/// A signature as Hyperliquid puts it on the wire: `r` and `s` as 0x-hex (leading zeros dropped, as the
/// Python SDK sends them; any length up to 64 digits is read), `v` 27 or 28.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireSignature {
    pub r: U256,
    pub s: U256,
    pub v: u8,
}

#[derive(Serialize, Deserialize)]
struct SigRepr {
    r: String,
    s: String,
    v: u64,
}

impl Serialize for WireSignature {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        SigRepr {
            r: format!("{:#x}", self.r),
            s: format!("{:#x}", self.s),
            v: self.v as u64,
        }
        .serialize(ser)
    }
}

/// Parse a 0x-hex big integer of 1 to 64 digits.
pub fn parse_hex_u256(s: &str) -> Option<U256> {
    let h = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if h.is_empty() || h.len() > 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    U256::from_str_radix(h, 16).ok()
}

impl<'de> Deserialize<'de> for WireSignature {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = SigRepr::deserialize(de)?;
        let v = match r.v {
            27 | 28 => r.v as u8,
            other => return Err(D::Error::custom(format!("invalid v {other}"))),
        };
        Ok(WireSignature {
            r: parse_hex_u256(&r.r).ok_or_else(|| D::Error::custom("invalid r"))?,
            s: parse_hex_u256(&r.s).ok_or_else(|| D::Error::custom("invalid s"))?,
            v,
        })
    }
}

impl WireSignature {
    /// The address whose key produced this signature over `digest` (libsecp256k1 recovery).
    pub fn recover(&self, digest: &B256) -> Result<Address, SignError> {
        use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
        let mut rs = [0u8; 64];
        rs[..32].copy_from_slice(&self.r.to_be_bytes::<32>());
        rs[32..].copy_from_slice(&self.s.to_be_bytes::<32>());
        let id = RecoveryId::try_from(i32::from(self.v) - 27)
            .map_err(|e| SignError::Recover(e.to_string()))?;
        let sig = RecoverableSignature::from_compact(&rs, id)
            .map_err(|e| SignError::Recover(e.to_string()))?;
        let key = secp256k1::SECP256K1
            .recover_ecdsa(secp256k1::Message::from_digest(digest.0), &sig)
            .map_err(|e| SignError::Recover(e.to_string()))?;
        Ok(Address::from_raw_public_key(
            &key.serialize_uncompressed()[1..],
        ))
    }
}

/// A private key that signs for Hyperliquid: the account's own key, or an approved API wallet (agent).
/// Its `Debug` shows the address only; the key is never printed or logged.
pub struct KeySigner {
    /// For the address and keystores.
    inner: PrivateKeySigner,
    /// The same key for libsecp256k1, which signs several times faster than k256.
    secret: secp256k1::SecretKey,
}

impl fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySigner({:#x}, key redacted)", self.inner.address())
    }
}

/// Why a key could not be loaded. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    #[error("environment variable {0} does not hold a 32-byte hex private key")]
    BadEnvKey(String),
    #[error("the private key is not valid hex of 32 bytes")]
    BadHex,
    #[error("cannot decrypt keystore {path}: {reason}")]
    Keystore { path: String, reason: String },
}

impl KeySigner {
    /// From 64 hex digits (with or without `0x`).
    pub fn from_hex(hex_key: &str) -> Result<Self, KeyError> {
        let h = hex_key.trim();
        let h = h.strip_prefix("0x").unwrap_or(h);
        let bytes = hex::decode(h).map_err(|_| KeyError::BadHex)?;
        if bytes.len() != 32 {
            return Err(KeyError::BadHex);
        }
        let inner = PrivateKeySigner::from_slice(&bytes).map_err(|_| KeyError::BadHex)?;
        Self::of(inner).ok_or(KeyError::BadHex)
    }

    fn of(inner: PrivateKeySigner) -> Option<Self> {
        let secret = secp256k1::SecretKey::from_byte_array(inner.to_bytes().0).ok()?;
        Some(KeySigner { inner, secret })
    }

    /// From an environment variable holding the hex key.
    pub fn from_env(var: &str) -> Result<Self, KeyError> {
        let v = std::env::var(var).map_err(|_| KeyError::MissingEnv(var.to_string()))?;
        Self::from_hex(&v).map_err(|_| KeyError::BadEnvKey(var.to_string()))
    }

    /// From an encrypted JSON keystore (Web3 secret storage), with its password.
    pub fn from_keystore(path: &Path, password: &str) -> Result<Self, KeyError> {
        let bad = |reason: String| KeyError::Keystore {
            path: path.display().to_string(),
            reason,
        };
        let inner =
            PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| bad(e.to_string()))?;
        Self::of(inner).ok_or_else(|| bad("not a secp256k1 key".into()))
    }

    /// A fresh random key (tests, local servers).
    pub fn random() -> Self {
        Self::of(PrivateKeySigner::random()).expect("a random key is a valid key")
    }

    pub fn address(&self) -> Address {
        self.inner.address()
    }

    /// Sign a 32-byte digest.
    /// Sign a 32-byte digest: RFC 6979 deterministic nonce, low-s, `v = 27 + recovery id`.
    pub fn sign_digest(&self, digest: &B256) -> Result<WireSignature, SignError> {
        let sig = secp256k1::SECP256K1
            .sign_ecdsa_recoverable(secp256k1::Message::from_digest(digest.0), &self.secret);
        let (id, rs) = sig.serialize_compact();
        let v = 27 + i32::from(id);
        if !(27..=28).contains(&v) {
            return Err(SignError::Sign(format!(
                "unexpected recovery id {}",
                v - 27
            )));
        }
        Ok(WireSignature {
            r: U256::from_be_slice(&rs[..32]),
            s: U256::from_be_slice(&rs[32..]),
            v: v as u8,
        })
    }

    /// The same signature through alloy's k256 signer (the reference the fast path is checked against).
    pub fn sign_digest_k256(&self, digest: &B256) -> Result<WireSignature, SignError> {
        let sig = self
            .inner
            .sign_hash_sync(digest)
            .map_err(|e| SignError::Sign(e.to_string()))?;
        Ok(WireSignature {
            r: sig.r(),
            s: sig.s(),
            v: 27 + sig.v() as u8,
        })
    }

    /// Sign an L1 action.
    pub fn sign_l1<T: Serialize + ?Sized>(
        &self,
        action: &T,
        nonce: u64,
        vault: Option<&Address>,
        expires_after: Option<u64>,
        network: Network,
    ) -> Result<WireSignature, SignError> {
        let cid = connection_id(action, nonce, vault, expires_after)?;
        self.sign_digest(&l1_digest(&cid, network))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official test key of the Python SDK's signing tests.
    const KEY: &str = "0x0123456789012345678901234567890123456789012345678901234567890123";

    fn b256(s: &str) -> B256 {
        s.parse().unwrap()
    }

    #[test]
    fn constants_match_the_reference() {
        assert_eq!(
            keccak256(
                "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
            ),
            b256("0x8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f")
        );
        assert_eq!(
            keccak256("Agent(string source,bytes32 connectionId)"),
            b256("0x26f05c2f7239b6983075e58321292d77b3aa173d19b27257ac96ab362570f508")
        );
        assert_eq!(
            l1_domain_separator(),
            b256("0xd79297fcdf2ffcd4ae223d01edaa2ba214ff8f401d7c9300d995d17c82aa4040")
        );
        assert_eq!(
            user_domain_separator(421614),
            b256("0xfeb1393ca4412a4ca577bd51d04f0a77033514c602f4d0a11490fb95f7428df6")
        );
    }

    #[test]
    fn key_address_and_redacted_debug() {
        let k = KeySigner::from_hex(KEY).unwrap();
        assert_eq!(
            k.address(),
            "0x14791697260E4c9A71f18484C9f997B308e59325"
                .parse::<Address>()
                .unwrap()
        );
        let dbg = format!("{k:?}");
        assert!(dbg.contains("0x14791697260e4c9a71f18484c9f997b308e59325"));
        assert!(!dbg.contains("0123456789012345"));
        assert_eq!(KeySigner::from_hex("0x1234").unwrap_err(), KeyError::BadHex);
    }

    /// Official vector `test_l1_action_signing_matches`: `{"type":"dummy","num":float_to_int_for_hashing(1000)}`.
    #[test]
    fn official_l1_vector_dummy_action() {
        #[derive(Serialize)]
        struct Dummy {
            r#type: &'static str,
            num: u64,
        }
        let action = Dummy {
            r#type: "dummy",
            num: 100000000000,
        };
        let packed = rmp_serde::to_vec_named(&action).unwrap();
        assert_eq!(
            hex::encode(&packed),
            "82a474797065a564756d6d79a36e756dcf000000174876e800"
        );
        let cid = connection_id(&action, 0, None, None).unwrap();
        assert_eq!(
            cid,
            b256("0xf528daee6a0bd11407b483cfcd9a48c56884180b70ee86f124053e5fc1bf4d57")
        );
        let main = l1_digest(&cid, Network::Mainnet);
        let test = l1_digest(&cid, Network::Testnet);
        assert_eq!(
            main,
            b256("0xe0aabfac88a47d3e7028b6ba6a94b30c8afcfffac26cbce788cf362b1312eafa")
        );
        assert_eq!(
            test,
            b256("0xc05ce2df9d9d18fab3570746cc27e1136a4020a28561171a24f60c2258989224")
        );
        let k = KeySigner::from_hex(KEY).unwrap();
        let sig = k.sign_digest(&main).unwrap();
        let json = serde_json::to_value(sig).unwrap();
        assert_eq!(
            json["r"],
            "0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298"
        );
        assert_eq!(
            json["s"],
            "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8"
        );
        assert_eq!(json["v"], 27);
        let sig = k.sign_digest(&test).unwrap();
        assert_eq!(
            sig.r,
            parse_hex_u256("0x542af61ef1f429707e3c76c5293c80d01f74ef853e34b76efffcb57e574f9510")
                .unwrap()
        );
        assert_eq!(
            sig.s,
            parse_hex_u256("0x17b8b32f086e8cdede991f1e2c529f5dd5297cbe8128500e00cbaf766204a613")
                .unwrap()
        );
        assert_eq!(sig.v, 28);
        assert_eq!(sig.recover(&test).unwrap(), k.address());
        // The same signature checked against the other network recovers somebody else.
        assert_ne!(sig.recover(&main).unwrap(), k.address());
    }

    #[test]
    fn libsecp256k1_and_k256_sign_and_recover_alike() {
        for i in 0u8..32 {
            let k = KeySigner::random();
            let digest = keccak256([i; 7]);
            let fast = k.sign_digest(&digest).unwrap();
            assert_eq!(fast, k.sign_digest_k256(&digest).unwrap());
            assert_eq!(fast.recover(&digest).unwrap(), k.address());
            let alloy_sig = alloy::primitives::Signature::new(fast.r, fast.s, fast.v == 28);
            assert_eq!(
                alloy_sig.recover_address_from_prehash(&digest).unwrap(),
                k.address()
            );
        }
        let bad = WireSignature {
            r: U256::MAX,
            s: U256::from(1),
            v: 27,
        };
        assert!(bad.recover(&B256::ZERO).is_err());
    }

    #[test]
    fn signatures_parse_with_or_without_padding() {
        let padded: WireSignature = serde_json::from_str(
            r#"{"r":"0x053749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298","s":"0x01","v":27}"#,
        )
        .unwrap();
        let bare: WireSignature = serde_json::from_str(
            r#"{"r":"0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298","s":"0x1","v":27}"#,
        )
        .unwrap();
        assert_eq!(padded, bare);
        for bad in [
            r#"{"r":"0x","s":"0x1","v":27}"#,
            r#"{"r":"12","s":"0x1","v":27}"#,
            r#"{"r":"0x1","s":"0x1","v":29}"#,
            r#"{"r":"0x10000000000000000000000000000000000000000000000000000000000000000","s":"0x1","v":27}"#,
        ] {
            assert!(serde_json::from_str::<WireSignature>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vault_and_expiry_change_the_connection_id() {
        #[derive(Serialize)]
        struct A {
            r#type: &'static str,
        }
        let a = A { r#type: "noop" };
        let vault: Address = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
            .parse()
            .unwrap();
        let mut bytes = Vec::new();
        l1_action_bytes(&mut bytes, &a, 7, Some(&vault), Some(9)).unwrap();
        let packed = rmp_serde::to_vec_named(&a).unwrap();
        let mut expect = packed.clone();
        expect.extend_from_slice(&7u64.to_be_bytes());
        expect.push(1);
        expect.extend_from_slice(vault.as_slice());
        expect.push(0);
        expect.extend_from_slice(&9u64.to_be_bytes());
        assert_eq!(bytes, expect);
        let ids = [
            connection_id(&a, 7, None, None).unwrap(),
            connection_id(&a, 7, Some(&vault), None).unwrap(),
            connection_id(&a, 7, None, Some(9)).unwrap(),
            connection_id(&a, 8, None, None).unwrap(),
        ];
        for i in 0..ids.len() {
            for j in i + 1..ids.len() {
                assert_ne!(ids[i], ids[j]);
            }
        }
    }
}
