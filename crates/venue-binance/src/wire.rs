//! Binance's JSON shapes (venues.md B3, B7), shared by the client (which reads them) and the local server
//! (which writes them), so the two cannot drift apart. Field names are Binance's own, including the
//! misspelled `cummulativeQuoteQty`. Decimals travel as strings.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::filters::Filter;

/// `{"code":-1013,"msg":"Filter failure: PRICE_FILTER"}`; cancelReplace adds `data`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: i64,
    pub msg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerTime {
    pub server_time: i64,
}

/// One entry of `exchangeInfo.rateLimits`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// `REQUEST_WEIGHT`, `ORDERS` or `RAW_REQUESTS`.
    pub rate_limit_type: String,
    /// `SECOND`, `MINUTE` or `DAY`.
    pub interval: String,
    pub interval_num: u32,
    pub limit: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeInfo {
    pub timezone: String,
    pub server_time: i64,
    pub rate_limits: Vec<RateLimit>,
    #[serde(default)]
    pub exchange_filters: Vec<Value>,
    pub symbols: Vec<SymbolInfo>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolInfo {
    pub symbol: String,
    pub status: String,
    pub base_asset: String,
    pub base_asset_precision: u32,
    pub quote_asset: String,
    pub quote_precision: u32,
    pub quote_asset_precision: u32,
    #[serde(default)]
    pub base_commission_precision: u32,
    #[serde(default)]
    pub quote_commission_precision: u32,
    #[serde(default)]
    pub order_types: Vec<String>,
    #[serde(default)]
    pub iceberg_allowed: bool,
    #[serde(default)]
    pub oco_allowed: bool,
    #[serde(default)]
    pub oto_allowed: bool,
    #[serde(default)]
    pub quote_order_qty_market_allowed: bool,
    #[serde(default)]
    pub allow_trailing_stop: bool,
    #[serde(default)]
    pub cancel_replace_allowed: bool,
    #[serde(default)]
    pub amend_allowed: bool,
    #[serde(default)]
    pub is_spot_trading_allowed: bool,
    #[serde(default)]
    pub is_margin_trading_allowed: bool,
    pub filters: Vec<Filter>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub permission_sets: Vec<Vec<String>>,
    #[serde(default)]
    pub default_self_trade_prevention_mode: String,
    #[serde(default)]
    pub allowed_self_trade_prevention_modes: Vec<String>,
}

/// `GET /api/v3/depth`: levels are `[price, qty]` string pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DepthBody {
    pub last_update_id: u64,
    pub bids: Vec<(Decimal, Decimal)>,
    pub asks: Vec<(Decimal, Decimal)>,
}

/// `GET /api/v3/avgPrice`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AvgPrice {
    pub mins: u32,
    pub price: Decimal,
    #[serde(default)]
    pub close_time: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommissionRates {
    pub maker: Decimal,
    pub taker: Decimal,
    pub buyer: Decimal,
    pub seller: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountBalance {
    pub asset: String,
    pub free: Decimal,
    pub locked: Decimal,
}

/// `GET /api/v3/account`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub maker_commission: i64,
    pub taker_commission: i64,
    pub buyer_commission: i64,
    pub seller_commission: i64,
    pub commission_rates: CommissionRates,
    pub can_trade: bool,
    pub can_withdraw: bool,
    pub can_deposit: bool,
    #[serde(default)]
    pub brokered: bool,
    #[serde(default)]
    pub require_self_trade_prevention: bool,
    #[serde(default)]
    pub prevent_sor: bool,
    pub update_time: i64,
    pub account_type: String,
    pub balances: Vec<AccountBalance>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub uid: u64,
}

/// `GET /api/v3/account/commission`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountCommission {
    pub symbol: String,
    pub standard_commission: CommissionRates,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_commission: Option<CommissionRates>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_commission: Option<CommissionRates>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Value>,
}

/// One fill inside a FULL order response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFill {
    pub price: Decimal,
    pub qty: Decimal,
    pub commission: Decimal,
    pub commission_asset: String,
    pub trade_id: u64,
}

/// Order responses and query results. ACK carries the first five fields; RESULT and the query/cancel shapes
/// add the state; FULL adds `fills`. Absent fields are skipped, as Binance does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderBody {
    pub symbol: String,
    /// Only in cancel responses: the id of the order that was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_client_order_id: Option<String>,
    pub order_id: u64,
    #[serde(default = "no_list")]
    pub order_list_id: i64,
    pub client_order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transact_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_qty: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed_qty: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_quote_order_qty: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cummulative_quote_qty: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub order_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iceberg_qty: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_working: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_trade_prevention_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fills: Option<Vec<OrderFill>>,
}

fn no_list() -> i64 {
    -1
}

/// `POST /api/v3/order/cancelReplace` on success, and the `data` of its -2021/-2022 errors. Each response is
/// an order object or an error body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelReplaceBody {
    pub cancel_result: String,
    pub new_order_result: String,
    pub cancel_response: Option<Value>,
    pub new_order_response: Option<Value>,
}

/// `PUT /api/v3/order/amend/keepPriority`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmendBody {
    pub transact_time: i64,
    pub execution_id: u64,
    pub amended_order: OrderBody,
}

/// One entry of `GET /api/v3/myTrades`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TradeBody {
    pub symbol: String,
    pub id: u64,
    pub order_id: u64,
    #[serde(default = "no_list")]
    pub order_list_id: i64,
    pub price: Decimal,
    pub qty: Decimal,
    pub quote_qty: Decimal,
    pub commission: Decimal,
    pub commission_asset: String,
    pub time: i64,
    pub is_buyer: bool,
    pub is_maker: bool,
    pub is_best_match: bool,
}

/// One network of a coin in `GET /sapi/v1/capital/config/getall`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInfo {
    pub network: String,
    pub coin: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_default: bool,
    pub deposit_enable: bool,
    pub withdraw_enable: bool,
    pub withdraw_fee: Decimal,
    pub withdraw_min: Decimal,
    pub withdraw_max: Decimal,
    #[serde(default)]
    pub withdraw_internal_min: Option<Decimal>,
    #[serde(default)]
    pub withdraw_integer_multiple: Option<Decimal>,
    #[serde(default)]
    pub deposit_dust: Option<Decimal>,
    #[serde(default)]
    pub min_confirm: u32,
    #[serde(default)]
    pub un_lock_confirm: u32,
    #[serde(default)]
    pub same_address: bool,
    #[serde(default)]
    pub withdraw_tag: bool,
    #[serde(default)]
    pub address_regex: String,
    #[serde(default)]
    pub memo_regex: String,
    #[serde(default)]
    pub estimated_arrival_time: u64,
    #[serde(default)]
    pub busy: bool,
    #[serde(default)]
    pub contract_address: String,
    #[serde(default)]
    pub contract_address_url: String,
    #[serde(default)]
    pub deposit_desc: String,
    #[serde(default)]
    pub withdraw_desc: String,
    #[serde(default)]
    pub special_tips: String,
    #[serde(default)]
    pub special_withdraw_tips: String,
    #[serde(default)]
    pub reset_address_status: bool,
}

/// One coin in `GET /sapi/v1/capital/config/getall`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoinInfo {
    pub coin: String,
    #[serde(default)]
    pub name: String,
    pub deposit_all_enable: bool,
    pub withdraw_all_enable: bool,
    #[serde(default)]
    pub free: Decimal,
    #[serde(default)]
    pub locked: Decimal,
    #[serde(default)]
    pub freeze: Decimal,
    #[serde(default)]
    pub withdrawing: Decimal,
    #[serde(default)]
    pub ipoing: Decimal,
    #[serde(default)]
    pub ipoable: Decimal,
    #[serde(default)]
    pub storage: Decimal,
    #[serde(default)]
    pub is_legal_money: bool,
    #[serde(default)]
    pub trading: bool,
    pub network_list: Vec<NetworkInfo>,
}

/// `GET /sapi/v1/capital/deposit/address`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DepositAddress {
    pub address: String,
    pub coin: String,
    pub tag: String,
    pub url: String,
}

/// One entry of `GET /sapi/v1/capital/deposit/hisrec`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DepositRecord {
    pub id: String,
    pub amount: Decimal,
    pub coin: String,
    pub network: String,
    /// 0 pending, 1 success, 6 credited but cannot withdraw, 7 wrong deposit, 8 waiting for confirmation.
    pub status: i32,
    pub address: String,
    #[serde(default)]
    pub address_tag: String,
    pub tx_id: String,
    pub insert_time: i64,
    #[serde(default)]
    pub complete_time: Option<i64>,
    #[serde(default)]
    pub transfer_type: i32,
    #[serde(default)]
    pub confirm_times: String,
    #[serde(default)]
    pub unlock_confirm: u32,
    #[serde(default)]
    pub wallet_type: i32,
}

/// One entry of `GET /sapi/v1/capital/withdraw/history`. `applyTime`/`completeTime` are UTC strings
/// (`2019-10-12 11:12:02`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawRecord {
    pub id: String,
    pub amount: Decimal,
    pub transaction_fee: Decimal,
    pub coin: String,
    /// 0 email sent, 1 cancelled, 2 awaiting approval, 3 rejected, 4 processing, 5 failure, 6 completed.
    pub status: i32,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<String>,
    pub apply_time: String,
    pub network: String,
    #[serde(default)]
    pub transfer_type: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdraw_order_id: Option<String>,
    #[serde(default)]
    pub info: String,
    #[serde(default)]
    pub confirm_no: u32,
    #[serde(default)]
    pub wallet_type: i32,
    #[serde(default)]
    pub tx_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_time: Option<String>,
}

/// `POST /sapi/v1/capital/withdraw/apply`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WithdrawApplied {
    pub id: String,
}

/// Render a UTC time as Binance's wallet history does: `2019-10-12 11:12:02`.
pub fn utc_string(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Parse `2019-10-12 11:12:02` (UTC) to ms.
pub fn parse_utc_string(s: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_order_response_parses_with_its_misspelling() {
        let j = r#"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP",
          "transactTime":1507725176595,"price":"0.00000000","origQty":"10.00000000","executedQty":"10.00000000",
          "origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"10.00000000","status":"FILLED","timeInForce":"GTC",
          "type":"MARKET","side":"SELL","workingTime":1507725176595,"selfTradePreventionMode":"NONE",
          "fills":[{"price":"4000.00000000","qty":"1.00000000","commission":"4.00000000","commissionAsset":"USDT","tradeId":56}]}"#;
        let o: OrderBody = serde_json::from_str(j).unwrap();
        assert_eq!(o.cummulative_quote_qty, Some(Decimal::from(10)));
        assert_eq!(o.fills.as_ref().unwrap()[0].trade_id, 56);
        let back = serde_json::to_value(&o).unwrap();
        assert!(back.get("cummulativeQuoteQty").is_some());
        assert_eq!(back["type"], "MARKET");
    }

    #[test]
    fn utc_strings_round_trip() {
        let ms = 1_570_878_722_000;
        assert_eq!(utc_string(ms), "2019-10-12 11:12:02");
        assert_eq!(parse_utc_string("2019-10-12 11:12:02"), Some(ms));
    }
}
