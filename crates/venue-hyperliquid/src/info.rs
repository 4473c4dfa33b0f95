//! `/info` requests and responses, in the venue's shapes: prices, sizes and balances are decimal strings; ids,
//! times and level counts are numbers. Shared by the client (which reads them) and the local server (which
//! writes them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::wire::{Addr, Cloid, Dec, OidRef};

/// An `/info` request, by its `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum InfoRequest {
    #[serde(rename = "meta")]
    Meta {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dex: Option<String>,
    },
    #[serde(rename = "spotMeta")]
    SpotMeta {},
    #[serde(rename = "spotMetaAndAssetCtxs")]
    SpotMetaAndAssetCtxs {},
    #[serde(rename = "l2Book")]
    L2Book {
        coin: String,
        #[serde(rename = "nSigFigs", default, skip_serializing_if = "Option::is_none")]
        n_sig_figs: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mantissa: Option<u32>,
    },
    #[serde(rename = "allMids")]
    AllMids {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dex: Option<String>,
    },
    #[serde(rename = "clearinghouseState")]
    ClearinghouseState {
        user: Addr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dex: Option<String>,
    },
    #[serde(rename = "spotClearinghouseState")]
    SpotClearinghouseState { user: Addr },
    #[serde(rename = "openOrders")]
    OpenOrders {
        user: Addr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dex: Option<String>,
    },
    #[serde(rename = "frontendOpenOrders")]
    FrontendOpenOrders {
        user: Addr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dex: Option<String>,
    },
    #[serde(rename = "orderStatus")]
    OrderStatus { user: Addr, oid: OidRef },
    #[serde(rename = "userFills")]
    UserFills {
        user: Addr,
        #[serde(
            rename = "aggregateByTime",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        aggregate_by_time: Option<bool>,
    },
    #[serde(rename = "userFillsByTime")]
    UserFillsByTime {
        user: Addr,
        #[serde(rename = "startTime")]
        start_time: i64,
        #[serde(rename = "endTime", default)]
        end_time: Option<i64>,
        #[serde(
            rename = "aggregateByTime",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        aggregate_by_time: Option<bool>,
    },
    #[serde(rename = "userRateLimit")]
    UserRateLimit { user: Addr },
    #[serde(rename = "userNonFundingLedgerUpdates")]
    UserNonFundingLedgerUpdates {
        user: Addr,
        #[serde(rename = "startTime")]
        start_time: i64,
        #[serde(rename = "endTime", default)]
        end_time: Option<i64>,
    },
}

impl InfoRequest {
    /// The `type` string (for rate-limit weights and logs).
    pub fn type_name(&self) -> &'static str {
        match self {
            InfoRequest::Meta { .. } => "meta",
            InfoRequest::SpotMeta {} => "spotMeta",
            InfoRequest::SpotMetaAndAssetCtxs {} => "spotMetaAndAssetCtxs",
            InfoRequest::L2Book { .. } => "l2Book",
            InfoRequest::AllMids { .. } => "allMids",
            InfoRequest::ClearinghouseState { .. } => "clearinghouseState",
            InfoRequest::SpotClearinghouseState { .. } => "spotClearinghouseState",
            InfoRequest::OpenOrders { .. } => "openOrders",
            InfoRequest::FrontendOpenOrders { .. } => "frontendOpenOrders",
            InfoRequest::OrderStatus { .. } => "orderStatus",
            InfoRequest::UserFills { .. } => "userFills",
            InfoRequest::UserFillsByTime { .. } => "userFillsByTime",
            InfoRequest::UserRateLimit { .. } => "userRateLimit",
            InfoRequest::UserNonFundingLedgerUpdates { .. } => "userNonFundingLedgerUpdates",
        }
    }
}

/// A perp asset of `meta.universe`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerpAsset {
    pub name: String,
    #[serde(rename = "szDecimals")]
    pub sz_decimals: u32,
    #[serde(rename = "maxLeverage")]
    pub max_leverage: u32,
    #[serde(
        rename = "onlyIsolated",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub only_isolated: Option<bool>,
    #[serde(
        rename = "isDelisted",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_delisted: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PerpMeta {
    pub universe: Vec<PerpAsset>,
    #[serde(rename = "marginTables", default)]
    pub margin_tables: Vec<serde_json::Value>,
}

/// A spot token of `spotMeta.tokens`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpotToken {
    pub name: String,
    #[serde(rename = "szDecimals")]
    pub sz_decimals: u32,
    #[serde(rename = "weiDecimals")]
    pub wei_decimals: u32,
    pub index: u32,
    #[serde(rename = "tokenId")]
    pub token_id: String,
    #[serde(rename = "isCanonical")]
    pub is_canonical: bool,
    #[serde(rename = "evmContract", default)]
    pub evm_contract: Option<serde_json::Value>,
    #[serde(rename = "fullName", default)]
    pub full_name: Option<String>,
}

/// A spot pair of `spotMeta.universe`: `tokens = [base, quote]` token indices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotPair {
    pub name: String,
    pub tokens: [u32; 2],
    pub index: u32,
    #[serde(rename = "isCanonical")]
    pub is_canonical: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpotMeta {
    pub tokens: Vec<SpotToken>,
    pub universe: Vec<SpotPair>,
}

/// Market context of a spot pair (second element of `spotMetaAndAssetCtxs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotAssetCtx {
    #[serde(rename = "dayNtlVlm")]
    pub day_ntl_vlm: Dec,
    #[serde(rename = "markPx")]
    pub mark_px: Dec,
    #[serde(rename = "midPx")]
    pub mid_px: Option<Dec>,
    #[serde(rename = "prevDayPx")]
    pub prev_day_px: Dec,
    #[serde(rename = "circulatingSupply")]
    pub circulating_supply: Dec,
    pub coin: String,
    #[serde(rename = "totalSupply", default)]
    pub total_supply: Dec,
    #[serde(rename = "dayBaseVlm", default)]
    pub day_base_vlm: Dec,
}

/// `[spotMeta, [ctx, ...]]`.
pub type SpotMetaAndAssetCtxs = (SpotMeta, Vec<SpotAssetCtx>);

/// One level of an L2 book.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L2Level {
    pub px: Dec,
    pub sz: Dec,
    pub n: u32,
}

/// `levels = [bids best first, asks best first]`, at most 20 a side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L2Book {
    pub coin: String,
    pub time: i64,
    pub levels: [Vec<L2Level>; 2],
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotBalance {
    pub coin: String,
    pub token: u32,
    pub hold: Dec,
    pub total: Dec,
    #[serde(rename = "entryNtl")]
    pub entry_ntl: Dec,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotClearinghouseState {
    pub balances: Vec<SpotBalance>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarginSummary {
    #[serde(rename = "accountValue")]
    pub account_value: Dec,
    #[serde(rename = "totalMarginUsed")]
    pub total_margin_used: Dec,
    #[serde(rename = "totalNtlPos")]
    pub total_ntl_pos: Dec,
    #[serde(rename = "totalRawUsd")]
    pub total_raw_usd: Dec,
}

/// The perp account: for a spot-only account, its perp USDC (what `withdraw3` draws from).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClearinghouseState {
    #[serde(rename = "assetPositions")]
    pub asset_positions: Vec<serde_json::Value>,
    #[serde(rename = "crossMaintenanceMarginUsed")]
    pub cross_maintenance_margin_used: Dec,
    #[serde(rename = "crossMarginSummary")]
    pub cross_margin_summary: MarginSummary,
    #[serde(rename = "marginSummary")]
    pub margin_summary: MarginSummary,
    pub time: i64,
    pub withdrawable: Dec,
}

/// An entry of `openOrders`. `sz` is what remains.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOrder {
    pub coin: String,
    #[serde(rename = "limitPx")]
    pub limit_px: Dec,
    pub oid: u64,
    /// `"B"` or `"A"`.
    pub side: String,
    pub sz: Dec,
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloid: Option<Cloid>,
}

/// The detailed order of `frontendOpenOrders` and `orderStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontendOrder {
    pub coin: String,
    pub side: String,
    #[serde(rename = "limitPx")]
    pub limit_px: Dec,
    pub sz: Dec,
    pub oid: u64,
    pub timestamp: i64,
    #[serde(rename = "triggerCondition")]
    pub trigger_condition: String,
    #[serde(rename = "isTrigger")]
    pub is_trigger: bool,
    #[serde(rename = "triggerPx")]
    pub trigger_px: Dec,
    pub children: Vec<serde_json::Value>,
    #[serde(rename = "isPositionTpsl")]
    pub is_position_tpsl: bool,
    #[serde(rename = "reduceOnly")]
    pub reduce_only: bool,
    #[serde(rename = "orderType")]
    pub order_type: String,
    #[serde(rename = "origSz")]
    pub orig_sz: Dec,
    pub tif: Option<String>,
    pub cloid: Option<Cloid>,
}

/// `order` of an `orderStatus` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderWithStatus {
    pub order: FrontendOrder,
    /// `open`, `filled`, `canceled`, `scheduledCancel`, `...Rejected`...
    pub status: String,
    #[serde(rename = "statusTimestamp")]
    pub status_timestamp: i64,
}

/// `{"status":"order","order":{...}}` or `{"status":"unknownOid"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status")]
pub enum OrderStatusAnswer {
    #[serde(rename = "order")]
    Order { order: Box<OrderWithStatus> },
    #[serde(rename = "unknownOid")]
    UnknownOid,
}

/// One fill. `side` is the side of this account's order; `crossed` means it took liquidity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFill {
    pub coin: String,
    pub px: Dec,
    pub sz: Dec,
    pub side: String,
    pub time: i64,
    #[serde(rename = "startPosition")]
    pub start_position: Dec,
    pub dir: String,
    #[serde(rename = "closedPnl")]
    pub closed_pnl: Dec,
    pub hash: String,
    pub oid: u64,
    pub crossed: bool,
    pub fee: Dec,
    pub tid: u64,
    #[serde(rename = "feeToken")]
    pub fee_token: String,
    /// Not in the documented shape; read when a venue sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloid: Option<Cloid>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRateLimit {
    #[serde(rename = "cumVlm")]
    pub cum_vlm: Dec,
    #[serde(rename = "nRequestsUsed")]
    pub n_requests_used: u64,
    #[serde(rename = "nRequestsCap")]
    pub n_requests_cap: u64,
    #[serde(rename = "nRequestsSurplus", default)]
    pub n_requests_surplus: u64,
}

/// A non-funding ledger change (deposits, withdrawals, transfers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerUpdate {
    pub time: i64,
    pub hash: String,
    pub delta: LedgerDelta,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum LedgerDelta {
    /// A bridge deposit, credited to the address that sent it.
    #[serde(rename = "deposit")]
    Deposit { usdc: Dec },
    #[serde(rename = "withdraw")]
    Withdraw { usdc: Dec, nonce: u64, fee: Dec },
    #[serde(rename = "accountClassTransfer")]
    AccountClassTransfer {
        usdc: Dec,
        #[serde(rename = "toPerp")]
        to_perp: bool,
    },
    #[serde(rename = "spotTransfer")]
    SpotTransfer {
        token: String,
        amount: Dec,
        #[serde(rename = "usdcValue")]
        usdc_value: Dec,
        user: Addr,
        destination: Addr,
        fee: Dec,
    },
    #[serde(rename = "internalTransfer")]
    InternalTransfer {
        usdc: Dec,
        user: Addr,
        destination: Addr,
        fee: Dec,
    },
    #[serde(other)]
    Other,
}

/// `allMids`: coin to mid price.
pub type AllMids = BTreeMap<String, Dec>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_the_sdk_shapes() {
        let r: InfoRequest = serde_json::from_str(
            r#"{"type":"orderStatus","user":"0x14791697260E4c9A71f18484C9f997B308e59325","oid":"0x1234567890abcdef1234567890abcdef"}"#,
        )
        .unwrap();
        assert!(matches!(
            r,
            InfoRequest::OrderStatus {
                oid: OidRef::Cloid(_),
                ..
            }
        ));
        let r: InfoRequest =
            serde_json::from_str(r#"{"type":"orderStatus","user":"0x14791697260e4c9a71f18484c9f997b308e59325","oid":77738308}"#)
                .unwrap();
        assert!(matches!(
            r,
            InfoRequest::OrderStatus {
                oid: OidRef::Oid(77738308),
                ..
            }
        ));
        let r: InfoRequest = serde_json::from_str(r#"{"type":"spotMeta"}"#).unwrap();
        assert_eq!(r.type_name(), "spotMeta");
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"type":"spotMeta"}"#);
        let r: InfoRequest = serde_json::from_str(
            r#"{"type":"userFillsByTime","user":"0x14791697260e4c9a71f18484c9f997b308e59325","startTime":1681222254710,"endTime":null,"aggregateByTime":false}"#,
        )
        .unwrap();
        assert_eq!(r.type_name(), "userFillsByTime");
        assert!(serde_json::from_str::<InfoRequest>(r#"{"type":"bogus"}"#).is_err());
    }

    #[test]
    fn responses_read_the_documented_examples() {
        let s: SpotMeta = serde_json::from_str(
            r#"{"tokens":[{"name":"USDC","szDecimals":8,"weiDecimals":8,"index":0,"tokenId":"0x6d1e7cde53ba9467b783cb7c530ce054","isCanonical":true,"evmContract":null,"fullName":null},{"name":"PURR","szDecimals":0,"weiDecimals":5,"index":1,"tokenId":"0xc1fb593aeffbeb02f85e0308e9956a90","isCanonical":true,"evmContract":null,"fullName":null}],"universe":[{"name":"PURR/USDC","tokens":[1,0],"index":0,"isCanonical":true},{"name":"@1","tokens":[2,0],"index":1,"isCanonical":false}]}"#,
        )
        .unwrap();
        assert_eq!(s.universe[1].tokens, [2, 0]);
        let o: OrderStatusAnswer = serde_json::from_str(
            r#"{"status":"order","order":{"order":{"coin":"ETH","side":"A","limitPx":"2412.7","sz":"0.0","oid":1,"timestamp":1724361546645,"triggerCondition":"N/A","isTrigger":false,"triggerPx":"0.0","children":[],"isPositionTpsl":false,"reduceOnly":true,"orderType":"Market","origSz":"0.0076","tif":"FrontendMarket","cloid":null},"status":"filled","statusTimestamp":1724361546645}}"#,
        )
        .unwrap();
        match o {
            OrderStatusAnswer::Order { order } => {
                assert_eq!(order.status, "filled");
                assert_eq!(order.order.orig_sz.to_string(), "0.0076");
            }
            _ => panic!(),
        }
        let u: OrderStatusAnswer = serde_json::from_str(r#"{"status":"unknownOid"}"#).unwrap();
        assert_eq!(u, OrderStatusAnswer::UnknownOid);
        let f: Vec<UserFill> = serde_json::from_str(
            r#"[{"coin":"@107","px":"18.62041381","sz":"43.84","side":"A","time":1735969713869,"startPosition":"10659.65434798","dir":"Sell","closedPnl":"8722.988077","hash":"0x2222","oid":59071663721,"crossed":true,"fee":"0.304521","tid":907359904431134,"feeToken":"USDC"}]"#,
        )
        .unwrap();
        assert!(f[0].crossed);
        let r: UserRateLimit = serde_json::from_str(
            r#"{"cumVlm":"2854574.593578","nRequestsUsed":2890,"nRequestsCap":2864574,"nRequestsSurplus":0}"#,
        )
        .unwrap();
        assert_eq!(r.n_requests_cap, 2864574);
        let b: L2Book = serde_json::from_str(
            r#"{"coin":"BTC","time":1754450974231,"levels":[[{"px":"113377.0","sz":"7.6699","n":17}],[{"px":"113397.0","sz":"0.11543","n":3}]]}"#,
        )
        .unwrap();
        assert_eq!(b.levels[1][0].n, 3);
        let l: Vec<LedgerUpdate> = serde_json::from_str(
            r#"[{"time":1,"hash":"0x1","delta":{"type":"deposit","usdc":"100.0"}},{"time":2,"hash":"0x2","delta":{"type":"vaultCreate","usdc":"1"}}]"#,
        )
        .unwrap();
        assert_eq!(l[1].delta, LedgerDelta::Other);
    }
}
