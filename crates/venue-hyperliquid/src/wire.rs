//! The `/exchange` wire format: typed actions with the venue's exact field order, the signed envelope and the
//! responses.
//!
//! The same types serve the client (which signs what it serializes) and the local server (which deserializes
//! a request and serializes it again to recover the signer, as the venue does). Serializing is therefore
//! canonical: `"type"` first, optional fields absent rather than null, decimals without trailing zeros
//! ([`Dec`]), addresses and cloids in lowercase ([`Addr`], [`Cloid`]). A client that hashes anything else
//! (`"100.0"`, a null `c`, a checksummed address) recovers to a different signer, exactly as on the venue.

use std::fmt;

use alloy::primitives::Address;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::format;
use super::signing::{TypedStruct, TypedValue, WireSignature};
use ballast_exec::ClientOrderId;

/// A decimal on the wire: a JSON string, written without trailing zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Dec(pub Decimal);

impl Serialize for Dec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format::wire(self.0))
    }
}

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        format::parse_wire(&s)
            .map(Dec)
            .ok_or_else(|| D::Error::custom(format!("invalid decimal {s:?}")))
    }
}

impl From<Decimal> for Dec {
    fn from(d: Decimal) -> Self {
        Dec(d)
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format::wire(self.0))
    }
}

/// An address on the wire: `0x` and 40 lowercase hex digits (any case is read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr(pub Address);

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&lower(&self.0))
    }
}

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        parse_address(&s)
            .map(Addr)
            .ok_or_else(|| D::Error::custom(format!("invalid address {s:?}")))
    }
}

/// `0x` + 40 hex digits, any case (no checksum check: the venue lowercases).
pub fn parse_address(s: &str) -> Option<Address> {
    let h = s.strip_prefix("0x")?;
    if h.len() != 40 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 20];
    hex::decode_to_slice(h, &mut out).ok()?;
    Some(Address::from(out))
}

/// An address as the venue writes it: lowercase `0x` hex.
pub fn lower(a: &Address) -> String {
    format!("{a:#x}")
}

/// A client order id on the wire: `0x` + 32 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cloid(String);

impl Cloid {
    pub fn parse(s: &str) -> Option<Cloid> {
        let h = s.strip_prefix("0x")?;
        (h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Cloid(format!("0x{}", h.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_client_id(&self) -> ClientOrderId {
        ClientOrderId::parse(&self.0).expect("a cloid is 32 hex digits")
    }
}

impl From<&ClientOrderId> for Cloid {
    fn from(c: &ClientOrderId) -> Self {
        Cloid(c.to_cloid())
    }
}

impl fmt::Display for Cloid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Cloid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Cloid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Cloid::parse(&s).ok_or_else(|| D::Error::custom(format!("invalid cloid {s:?}")))
    }
}

/// An order referenced by its venue id or by its cloid (the `oid` key of modify and orderStatus).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OidRef {
    Oid(u64),
    Cloid(Cloid),
}

/// Time in force on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tif {
    Alo,
    Ioc,
    Gtc,
}

/// `{"tif": ...}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitWire {
    pub tif: Tif,
}

/// A trigger order type (read so that requests carrying one deserialize; the local server refuses them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerWire {
    #[serde(rename = "isMarket")]
    pub is_market: bool,
    #[serde(rename = "triggerPx")]
    pub trigger_px: Dec,
    pub tpsl: String,
}

/// `{"limit": {...}}` or `{"trigger": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderTypeWire {
    #[serde(rename = "limit")]
    Limit(LimitWire),
    #[serde(rename = "trigger")]
    Trigger(TriggerWire),
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One order: `a` asset, `b` is buy, `p` price, `s` size, `r` reduce only, `t` type, `c` cloid (absent when
/// none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderWire {
    pub a: u32,
    pub b: bool,
    pub p: Dec,
    pub s: Dec,
    pub r: bool,
    pub t: OrderTypeWire,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<Cloid>,
}

/// `"na" | "normalTpsl" | "positionTpsl"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grouping {
    #[serde(rename = "na")]
    Na,
    #[serde(rename = "normalTpsl")]
    NormalTpsl,
    #[serde(rename = "positionTpsl")]
    PositionTpsl,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuilderWire {
    pub b: Addr,
    pub f: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAction {
    pub orders: Vec<OrderWire>,
    pub grouping: Grouping,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<BuilderWire>,
}

/// `{"a": asset, "o": oid}`; `f` (fast) only when true: a false `f` must be left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelWire {
    pub a: u32,
    pub o: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub f: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelAction {
    pub cancels: Vec<CancelWire>,
}

/// Note the key `asset` here (not `a`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelByCloidWire {
    pub asset: u32,
    pub cloid: Cloid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelByCloidAction {
    pub cancels: Vec<CancelByCloidWire>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifyWire {
    pub oid: OidRef,
    pub order: OrderWire,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchModifyAction {
    pub modifies: Vec<ModifyWire>,
}

/// The dead-man switch: cancel every open order at `time` (ms, at least 5 s ahead); no `time` unsets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleCancelAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
}

/// Spot token to another address. `token` is `NAME:tokenId` from spotMeta.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotSend {
    #[serde(rename = "signatureChainId")]
    pub signature_chain_id: String,
    #[serde(rename = "hyperliquidChain")]
    pub hyperliquid_chain: String,
    pub destination: Addr,
    pub token: String,
    /// Hashed exactly as sent (the SDKs send `str(float)`); validated as a decimal.
    pub amount: Amount,
    pub time: u64,
}

/// Perp USDC to another address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsdSend {
    #[serde(rename = "signatureChainId")]
    pub signature_chain_id: String,
    #[serde(rename = "hyperliquidChain")]
    pub hyperliquid_chain: String,
    pub destination: Addr,
    pub amount: Amount,
    pub time: u64,
}

/// Withdraw USDC to an Arbitrum address through the bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdraw3 {
    #[serde(rename = "signatureChainId")]
    pub signature_chain_id: String,
    #[serde(rename = "hyperliquidChain")]
    pub hyperliquid_chain: String,
    pub destination: Addr,
    pub amount: Amount,
    pub time: u64,
}

/// USDC between the spot and perp balances of one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsdClassTransfer {
    #[serde(rename = "signatureChainId")]
    pub signature_chain_id: String,
    #[serde(rename = "hyperliquidChain")]
    pub hyperliquid_chain: String,
    pub amount: Amount,
    #[serde(rename = "toPerp")]
    pub to_perp: bool,
    pub nonce: u64,
}

/// The generalised transfer between dexes, spot, users and sub-accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendAsset {
    #[serde(rename = "signatureChainId")]
    pub signature_chain_id: String,
    #[serde(rename = "hyperliquidChain")]
    pub hyperliquid_chain: String,
    pub destination: Addr,
    #[serde(rename = "sourceDex")]
    pub source_dex: String,
    #[serde(rename = "destinationDex")]
    pub destination_dex: String,
    pub token: String,
    pub amount: Amount,
    #[serde(rename = "fromSubAccount")]
    pub from_sub_account: String,
    pub nonce: u64,
}

/// Approve an API wallet (agent) to sign L1 actions for the signer. `agentName` absent for the unnamed
/// agent (signed as `""`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproveAgent {
    #[serde(rename = "signatureChainId")]
    pub signature_chain_id: String,
    #[serde(rename = "hyperliquidChain")]
    pub hyperliquid_chain: String,
    #[serde(rename = "agentAddress")]
    pub agent_address: Addr,
    #[serde(rename = "agentName", default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    pub nonce: u64,
}

/// A decimal amount of a user-signed action: signed and hashed as the exact string, read as a decimal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amount {
    pub text: String,
    pub value: Decimal,
}

impl Amount {
    /// The canonical string of a decimal (what this client sends).
    pub fn of(d: Decimal) -> Amount {
        Amount {
            text: format::wire(d),
            value: d,
        }
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(d)?;
        // The Python SDK may append " subaccount:0x..." to a usdClassTransfer amount.
        let num = text.split(' ').next().unwrap_or("");
        let value = format::parse_wire(num)
            .ok_or_else(|| D::Error::custom(format!("invalid amount {text:?}")))?;
        Ok(Amount { text, value })
    }
}

/// Every action this client sends and the local server accepts. Serialized with `"type"` first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Action {
    #[serde(rename = "order")]
    Order(OrderAction),
    #[serde(rename = "cancel")]
    Cancel(CancelAction),
    #[serde(rename = "cancelByCloid")]
    CancelByCloid(CancelByCloidAction),
    #[serde(rename = "modify")]
    Modify(ModifyWire),
    #[serde(rename = "batchModify")]
    BatchModify(BatchModifyAction),
    #[serde(rename = "scheduleCancel")]
    ScheduleCancel(ScheduleCancelAction),
    #[serde(rename = "noop")]
    Noop,
    #[serde(rename = "usdSend")]
    UsdSend(UsdSend),
    #[serde(rename = "spotSend")]
    SpotSend(SpotSend),
    #[serde(rename = "withdraw3")]
    Withdraw3(Withdraw3),
    #[serde(rename = "usdClassTransfer")]
    UsdClassTransfer(UsdClassTransfer),
    #[serde(rename = "sendAsset")]
    SendAsset(SendAsset),
    #[serde(rename = "approveAgent")]
    ApproveAgent(ApproveAgent),
}

impl Action {
    /// The wire name of the action type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Action::Order(_) => "order",
            Action::Cancel(_) => "cancel",
            Action::CancelByCloid(_) => "cancelByCloid",
            Action::Modify(_) => "modify",
            Action::BatchModify(_) => "batchModify",
            Action::ScheduleCancel(_) => "scheduleCancel",
            Action::Noop => "noop",
            Action::UsdSend(_) => "usdSend",
            Action::SpotSend(_) => "spotSend",
            Action::Withdraw3(_) => "withdraw3",
            Action::UsdClassTransfer(_) => "usdClassTransfer",
            Action::SendAsset(_) => "sendAsset",
            Action::ApproveAgent(_) => "approveAgent",
        }
    }

    /// Number of items for rate limits (orders, cancels, modifies in a batch; 1 otherwise).
    pub fn batch_len(&self) -> usize {
        match self {
            Action::Order(o) => o.orders.len(),
            Action::Cancel(c) => c.cancels.len(),
            Action::CancelByCloid(c) => c.cancels.len(),
            Action::BatchModify(m) => m.modifies.len(),
            _ => 1,
        }
    }

    /// The EIP-712 struct of a user-signed action, `None` for L1 actions.
    pub fn typed(&self) -> Option<TypedStruct<'_>> {
        use TypedValue::{AddrStr, Address as A, Bool, Str, U64};
        let (primary_type, fields) = match self {
            Action::UsdSend(a) => (
                "HyperliquidTransaction:UsdSend",
                vec![
                    ("hyperliquidChain", Str(&a.hyperliquid_chain)),
                    ("destination", AddrStr(a.destination.0)),
                    ("amount", Str(&a.amount.text)),
                    ("time", U64(a.time)),
                ],
            ),
            Action::SpotSend(a) => (
                "HyperliquidTransaction:SpotSend",
                vec![
                    ("hyperliquidChain", Str(&a.hyperliquid_chain)),
                    ("destination", AddrStr(a.destination.0)),
                    ("token", Str(&a.token)),
                    ("amount", Str(&a.amount.text)),
                    ("time", U64(a.time)),
                ],
            ),
            Action::Withdraw3(a) => (
                "HyperliquidTransaction:Withdraw",
                vec![
                    ("hyperliquidChain", Str(&a.hyperliquid_chain)),
                    ("destination", AddrStr(a.destination.0)),
                    ("amount", Str(&a.amount.text)),
                    ("time", U64(a.time)),
                ],
            ),
            Action::UsdClassTransfer(a) => (
                "HyperliquidTransaction:UsdClassTransfer",
                vec![
                    ("hyperliquidChain", Str(&a.hyperliquid_chain)),
                    ("amount", Str(&a.amount.text)),
                    ("toPerp", Bool(a.to_perp)),
                    ("nonce", U64(a.nonce)),
                ],
            ),
            Action::SendAsset(a) => (
                "HyperliquidTransaction:SendAsset",
                vec![
                    ("hyperliquidChain", Str(&a.hyperliquid_chain)),
                    ("destination", AddrStr(a.destination.0)),
                    ("sourceDex", Str(&a.source_dex)),
                    ("destinationDex", Str(&a.destination_dex)),
                    ("token", Str(&a.token)),
                    ("amount", Str(&a.amount.text)),
                    ("fromSubAccount", Str(&a.from_sub_account)),
                    ("nonce", U64(a.nonce)),
                ],
            ),
            Action::ApproveAgent(a) => (
                "HyperliquidTransaction:ApproveAgent",
                vec![
                    ("hyperliquidChain", Str(&a.hyperliquid_chain)),
                    ("agentAddress", A(a.agent_address.0)),
                    ("agentName", Str(a.agent_name.as_deref().unwrap_or(""))),
                    ("nonce", U64(a.nonce)),
                ],
            ),
            _ => return None,
        };
        Some(TypedStruct {
            primary_type,
            fields,
        })
    }

    /// `(signatureChainId, hyperliquidChain, time|nonce)` of a user-signed action.
    pub fn user_signed_meta(&self) -> Option<(&str, &str, u64)> {
        match self {
            Action::UsdSend(a) => Some((&a.signature_chain_id, &a.hyperliquid_chain, a.time)),
            Action::SpotSend(a) => Some((&a.signature_chain_id, &a.hyperliquid_chain, a.time)),
            Action::Withdraw3(a) => Some((&a.signature_chain_id, &a.hyperliquid_chain, a.time)),
            Action::UsdClassTransfer(a) => {
                Some((&a.signature_chain_id, &a.hyperliquid_chain, a.nonce))
            }
            Action::SendAsset(a) => Some((&a.signature_chain_id, &a.hyperliquid_chain, a.nonce)),
            Action::ApproveAgent(a) => Some((&a.signature_chain_id, &a.hyperliquid_chain, a.nonce)),
            _ => None,
        }
    }

    pub fn is_user_signed(&self) -> bool {
        self.user_signed_meta().is_some()
    }
}

/// The signed request posted to `/exchange` (`A` is `&Action` when the client sends it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRequest<A = Action> {
    pub action: A,
    pub nonce: u64,
    pub signature: WireSignature,
    /// Always sent (null when none), as both official SDKs do.
    #[serde(rename = "vaultAddress", default)]
    pub vault_address: Option<Addr>,
    #[serde(
        rename = "expiresAfter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_after: Option<u64>,
}

/// `{"resting": {"oid": N, "cloid": "0x..."}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestingWire {
    pub oid: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloid: Option<Cloid>,
}

/// `{"filled": {"totalSz": "...", "avgPx": "...", "oid": N, "cloid": "0x..."}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilledWire {
    #[serde(rename = "totalSz")]
    pub total_sz: Dec,
    #[serde(rename = "avgPx")]
    pub avg_px: Dec,
    pub oid: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloid: Option<Cloid>,
}

/// One entry of `statuses`: an object for resting/filled/error, a bare string otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusEntry {
    #[serde(rename = "resting")]
    Resting(RestingWire),
    #[serde(rename = "filled")]
    Filled(FilledWire),
    #[serde(rename = "error")]
    Error(String),
    #[serde(rename = "success")]
    Success,
    #[serde(rename = "waitingForFill")]
    WaitingForFill,
    #[serde(rename = "waitingForTrigger")]
    WaitingForTrigger,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statuses {
    pub statuses: Vec<StatusEntry>,
}

/// The `response` of a successful action. Any type other than `order` and `cancel` (`default`, and the
/// `{"type":"withdraw","data":{"status":"success"}}` some documentation shows) reads as `Default`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum OkResponse {
    #[serde(rename = "order")]
    Order(Statuses),
    #[serde(rename = "cancel")]
    Cancel(Statuses),
    #[serde(rename = "default")]
    Default,
}

impl<'de> Deserialize<'de> for OkResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Raw {
            r#type: String,
            #[serde(default)]
            data: Option<serde_json::Value>,
        }
        let raw = Raw::deserialize(d)?;
        let statuses = |data: Option<serde_json::Value>| {
            serde_json::from_value::<Statuses>(data.unwrap_or_default()).map_err(D::Error::custom)
        };
        match raw.r#type.as_str() {
            "order" => Ok(OkResponse::Order(statuses(raw.data)?)),
            "cancel" => Ok(OkResponse::Cancel(statuses(raw.data)?)),
            _ => Ok(OkResponse::Default),
        }
    }
}

/// `{"status":"ok","response":...}` or `{"status":"err","response":"<message>"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "response")]
pub enum ExchangeResponse {
    #[serde(rename = "ok")]
    Ok(OkResponse),
    #[serde(rename = "err")]
    Err(String),
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::signing::{KeySigner, Network, connection_id, l1_digest};

    fn d(s: &str) -> Dec {
        Dec(Decimal::from_str(s).unwrap())
    }

    fn eth_ioc() -> Action {
        Action::Order(OrderAction {
            orders: vec![OrderWire {
                a: 4,
                b: true,
                p: d("1670.1"),
                s: d("0.0147"),
                r: false,
                t: OrderTypeWire::Limit(LimitWire { tif: Tif::Ioc }),
                c: None,
            }],
            grouping: Grouping::Na,
            builder: None,
        })
    }

    /// Official vector `test_phantom_agent_creation_matches_production`.
    #[test]
    fn official_order_vector() {
        let a = eth_ioc();
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"type":"order","orders":[{"a":4,"b":true,"p":"1670.1","s":"0.0147","r":false,"t":{"limit":{"tif":"Ioc"}}}],"grouping":"na"}"#
        );
        assert_eq!(
            hex::encode(rmp_serde::to_vec_named(&a).unwrap()),
            "83a474797065a56f72646572a66f72646572739186a16104a162c3a170a6313637302e31a173a6302e30313437a172c2a17481a56c696d697481a3746966a3496f63a867726f7570696e67a26e61"
        );
        assert_eq!(
            connection_id(&a, 1677777606040, None, None).unwrap(),
            "0x0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"
                .parse::<alloy::primitives::B256>()
                .unwrap()
        );
    }

    #[test]
    fn cloids_are_str8_and_optional_fields_are_absent() {
        let mut a = eth_ioc();
        if let Action::Order(o) = &mut a {
            o.orders[0].a = 10107;
            o.orders[0].c = Cloid::parse("0x0000000000000000000000000000ABCD");
        }
        let packed = rmp_serde::to_vec_named(&a).unwrap();
        let hexs = hex::encode(&packed);
        assert!(hexs.contains("a161cd277b"), "asset 10107 as u16: {hexs}");
        assert!(
            hexs.contains(&format!(
                "a163d922{}",
                hex::encode("0x0000000000000000000000000000abcd")
            )),
            "cloid as lowercase str8"
        );
        let cancel = Action::Cancel(CancelAction {
            cancels: vec![CancelWire {
                a: 10000,
                o: 100_000_000_000,
                f: false,
            }],
        });
        let json = serde_json::to_string(&cancel).unwrap();
        assert_eq!(
            json,
            r#"{"type":"cancel","cancels":[{"a":10000,"o":100000000000}]}"#
        );
        let packed = hex::encode(rmp_serde::to_vec_named(&cancel).unwrap());
        assert!(packed.contains("a16fcf000000174876e800"), "{packed}");
        assert_eq!(
            serde_json::to_string(&Action::ScheduleCancel(ScheduleCancelAction { time: None }))
                .unwrap(),
            r#"{"type":"scheduleCancel"}"#
        );
        assert_eq!(
            serde_json::to_string(&Action::Noop).unwrap(),
            r#"{"type":"noop"}"#
        );
    }

    #[test]
    fn reserialization_is_canonical() {
        // Trailing zeros, a null cloid, upper-case hex and a false `f` all disappear on the way through,
        // so a client that hashed them recovers to somebody else.
        let sent = r#"{"type":"order","orders":[{"a":10000,"b":false,"p":"100.0","s":"20.50","r":false,"t":{"limit":{"tif":"Alo"}},"c":null}],"grouping":"na"}"#;
        let a: Action = serde_json::from_str(sent).unwrap();
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"type":"order","orders":[{"a":10000,"b":false,"p":"100","s":"20.5","r":false,"t":{"limit":{"tif":"Alo"}}}],"grouping":"na"}"#
        );
        let m: Action = serde_json::from_str(
            r#"{"type":"batchModify","modifies":[{"oid":"0x0000000000000000000000000000ABCD","order":{"a":10000,"b":true,"p":"1","s":"20","r":false,"t":{"limit":{"tif":"Gtc"}}}}]}"#,
        )
        .unwrap();
        assert!(
            serde_json::to_string(&m)
                .unwrap()
                .contains("\"oid\":\"0x0000000000000000000000000000abcd\"")
        );
        let c: Action =
            serde_json::from_str(r#"{"type":"cancel","cancels":[{"a":1,"o":2,"f":false}]}"#)
                .unwrap();
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"type":"cancel","cancels":[{"a":1,"o":2}]}"#
        );
    }

    #[test]
    fn malformed_actions_do_not_deserialize() {
        for bad in [
            r#"{"type":"nope"}"#,
            r#"{"type":"order","orders":[{"a":1,"b":true,"p":100,"s":"1","r":false,"t":{"limit":{"tif":"Alo"}}}],"grouping":"na"}"#,
            r#"{"type":"order","orders":[{"a":1,"b":true,"p":"1","s":"1","r":false,"t":{"limit":{"tif":"Day"}}}],"grouping":"na"}"#,
            r#"{"type":"order","orders":[],"grouping":"all"}"#,
            r#"{"type":"cancelByCloid","cancels":[{"asset":1,"cloid":"0x12"}]}"#,
            r#"{"type":"spotSend","hyperliquidChain":"Mainnet","signatureChainId":"0x66eee","destination":"0x12","token":"USDC","amount":"1","time":1}"#,
        ] {
            assert!(serde_json::from_str::<Action>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_signed_typehashes_match_the_reference() {
        let dest = Addr(parse_address("0x5e9ee1089755c3435139848e47e6635505d5a13a").unwrap());
        let amount = Amount::of(Decimal::ONE);
        let cases: Vec<(Action, &str)> = vec![
            (
                Action::UsdSend(UsdSend {
                    signature_chain_id: "0x66eee".into(),
                    hyperliquid_chain: "Mainnet".into(),
                    destination: dest,
                    amount: amount.clone(),
                    time: 1,
                }),
                "0xc7410964737e2180e258d649f23f74a49460432fecbd94688103ecc63fb66b4c",
            ),
            (
                Action::SpotSend(SpotSend {
                    signature_chain_id: "0x66eee".into(),
                    hyperliquid_chain: "Mainnet".into(),
                    destination: dest,
                    token: "USDC:0x6d1e7cde53ba9467b783cb7c530ce054".into(),
                    amount: amount.clone(),
                    time: 1,
                }),
                "0xd6d9472f429b5debb4cc4702fa9925e621498472a979f2581553dd007e273983",
            ),
            (
                Action::Withdraw3(Withdraw3 {
                    signature_chain_id: "0x66eee".into(),
                    hyperliquid_chain: "Mainnet".into(),
                    destination: dest,
                    amount: amount.clone(),
                    time: 1,
                }),
                "0xdbde952fa0de88158fc71336e44c61876611a2a65553bebd4d52b44a2a000d9a",
            ),
            (
                Action::UsdClassTransfer(UsdClassTransfer {
                    signature_chain_id: "0x66eee".into(),
                    hyperliquid_chain: "Mainnet".into(),
                    amount: amount.clone(),
                    to_perp: true,
                    nonce: 1,
                }),
                "0x7a3eebb1997d2e459472886f8cf9829a79b1b00c72a06c9fe015c91299aecd43",
            ),
            (
                Action::SendAsset(SendAsset {
                    signature_chain_id: "0x66eee".into(),
                    hyperliquid_chain: "Mainnet".into(),
                    destination: dest,
                    source_dex: "".into(),
                    destination_dex: "spot".into(),
                    token: "USDC:0x6d1e7cde53ba9467b783cb7c530ce054".into(),
                    amount: amount.clone(),
                    from_sub_account: "".into(),
                    nonce: 1,
                }),
                "0x5f7cf397b977b076f0fbb993badfc7dd11bd71461a3d076c0940eff5f91ac849",
            ),
            (
                Action::ApproveAgent(ApproveAgent {
                    signature_chain_id: "0x66eee".into(),
                    hyperliquid_chain: "Mainnet".into(),
                    agent_address: dest,
                    agent_name: None,
                    nonce: 1,
                }),
                "0x4464abf6148f115d79362d98320081aa2ae8a5c840083cb65820bffc21394378",
            ),
        ];
        for (a, th) in cases {
            let t = a.typed().unwrap();
            assert_eq!(format!("{:#x}", t.type_hash()), th, "{}", t.type_string());
            assert!(a.is_user_signed());
        }
        assert!(eth_ioc().typed().is_none());
    }

    #[test]
    fn order_signed_by_the_client_recovers_on_the_server_side() {
        let k = KeySigner::random();
        let a = eth_ioc();
        let sig = k.sign_l1(&a, 5, None, Some(99), Network::Testnet).unwrap();
        let req = ExchangeRequest {
            action: a,
            nonce: 5,
            signature: sig,
            vault_address: None,
            expires_after: Some(99),
        };
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains("\"vaultAddress\":null"));
        let back: ExchangeRequest = serde_json::from_str(&json).unwrap();
        let cid = connection_id(&back.action, back.nonce, None, back.expires_after).unwrap();
        assert_eq!(
            back.signature
                .recover(&l1_digest(&cid, Network::Testnet))
                .unwrap(),
            k.address()
        );
        assert_ne!(
            back.signature
                .recover(&l1_digest(&cid, Network::Mainnet))
                .unwrap(),
            k.address()
        );
    }

    #[test]
    fn responses_have_the_venue_shapes() {
        let r = ExchangeResponse::Ok(OkResponse::Order(Statuses {
            statuses: vec![
                StatusEntry::Resting(RestingWire {
                    oid: 77738308,
                    cloid: None,
                }),
                StatusEntry::Filled(FilledWire {
                    total_sz: d("0.02"),
                    avg_px: d("1891.4"),
                    oid: 77747314,
                    cloid: None,
                }),
                StatusEntry::Error("Order must have minimum value of $10.".into()),
                StatusEntry::Success,
            ],
        }));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"status":"ok","response":{"type":"order","data":{"statuses":[{"resting":{"oid":77738308}},{"filled":{"totalSz":"0.02","avgPx":"1891.4","oid":77747314}},{"error":"Order must have minimum value of $10."},"success"]}}}"#
        );
        let e: ExchangeResponse = serde_json::from_str(
            r#"{"status":"err","response":"User or API Wallet 0xabc does not exist."}"#,
        )
        .unwrap();
        assert_eq!(
            e,
            ExchangeResponse::Err("User or API Wallet 0xabc does not exist.".into())
        );
        let ok: ExchangeResponse =
            serde_json::from_str(r#"{"status":"ok","response":{"type":"default"}}"#).unwrap();
        assert_eq!(ok, ExchangeResponse::Ok(OkResponse::Default));
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"status":"ok","response":{"type":"default"}}"#
        );
        let w: ExchangeResponse = serde_json::from_str(
            r#"{"status":"ok","response":{"type":"withdraw","data":{"status":"success"}}}"#,
        )
        .unwrap();
        assert_eq!(w, ExchangeResponse::Ok(OkResponse::Default));
    }
}
