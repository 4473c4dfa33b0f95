//! The order vocabulary every venue shares: client order ids, requests, states, fills, balances, transfers,
//! the venue error taxonomy and market rules (tick and lot grids).
//!
//! Everything a venue call can fail with is a [`VenueError`]; an [`VenueError::UnknownOutcome`] means the
//! request may or may not have taken effect, and the caller must resolve it by client order id before doing
//! anything else for that order. The `Venue` trait itself, which does I/O, lives in `ballast-exec`.

pub mod rules;

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Side, TimestampMs};
pub use rules::{MarketRules, PriceGrid, RuleViolation, Toward};

/// A client order id: 16 bytes, written as 32 lowercase hex digits. Hyperliquid sends it as a `cloid`
/// (`0x` + the digits), Binance as `newClientOrderId` (the digits). Derived deterministically from the intent
/// it serves, so a retry after a crash uses the same id and can never place a second order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientOrderId(String);

impl ClientOrderId {
    /// Derive an id from an intent and a sequence number within it (e.g. the auction's placement count).
    pub fn derive(intent: &str, seq: u32) -> Self {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(intent.as_bytes());
        h.update(seq.to_be_bytes());
        ClientOrderId(hex::encode(&h.finalize()[..16]))
    }

    /// Parse 32 hex digits, with or without a `0x` prefix.
    pub fn parse(s: &str) -> Option<Self> {
        let h = s.strip_prefix("0x").unwrap_or(s).to_ascii_lowercase();
        (h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit())).then_some(ClientOrderId(h))
    }

    /// The 32 hex digits.
    pub fn as_hex(&self) -> &str {
        &self.0
    }

    /// Hyperliquid's form: `0x` + 32 hex digits.
    pub fn to_cloid(&self) -> String {
        format!("0x{}", self.0)
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Maker only: rejected if it would cross (Hyperliquid `Alo`, Binance `LIMIT_MAKER`).
    PostOnly,
    /// Rests until filled or cancelled.
    Gtc,
    /// Fills what it can at once, the rest is cancelled.
    Ioc,
}

/// A new limit order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub market: String,
    pub side: Side,
    /// On the market's grid (the caller rounds).
    pub price: Decimal,
    /// Base units, on the market's lot.
    pub qty: Decimal,
    pub tif: TimeInForce,
    pub client_id: ClientOrderId,
}

/// Lifecycle state of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum OrderState {
    /// Resting on the book (possibly partly filled).
    Open,
    Filled,
    /// Cancelled (by us, by IOC rules or by the venue) with the rest unfilled.
    Canceled,
    /// Never accepted.
    Rejected(String),
}

impl OrderState {
    pub fn is_final(&self) -> bool {
        !matches!(self, OrderState::Open)
    }
}

/// What a venue knows of one order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatus {
    pub client_id: ClientOrderId,
    /// The venue's own id (Hyperliquid oid, Binance orderId), as a string.
    pub venue_order_id: String,
    pub market: String,
    pub side: Side,
    pub price: Decimal,
    /// Original quantity.
    pub qty: Decimal,
    /// Executed so far.
    pub filled: Decimal,
    /// Average fill price, when anything filled.
    pub avg_price: Option<Decimal>,
    pub state: OrderState,
    pub updated_ms: TimestampMs,
}

impl OrderStatus {
    pub fn remaining(&self) -> Decimal {
        (self.qty - self.filled).max(Decimal::ZERO)
    }
}

/// Maker or taker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    Maker,
    Taker,
}

/// One execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// Unique per venue: duplicates of a fill carry the same id and must be counted once.
    pub trade_id: String,
    pub client_id: Option<ClientOrderId>,
    pub venue_order_id: String,
    pub market: String,
    pub side: Side,
    pub price: Decimal,
    pub qty: Decimal,
    /// Fee charged, in `fee_asset` (negative for a rebate).
    pub fee: Decimal,
    pub fee_asset: String,
    pub liquidity: Liquidity,
    pub ts: TimestampMs,
}

/// One price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    pub price: Decimal,
    pub qty: Decimal,
}

/// The top levels of a book, best first on each side.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Depth {
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    pub ts: TimestampMs,
}

impl Depth {
    pub fn best_bid(&self) -> Option<Decimal> {
        self.bids.first().map(|l| l.price)
    }
    pub fn best_ask(&self) -> Option<Decimal> {
        self.asks.first().map(|l| l.price)
    }
    pub fn mid(&self) -> Option<Decimal> {
        Some((self.best_bid()? + self.best_ask()?) / Decimal::TWO)
    }
}

/// One asset's balance on a venue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub asset: String,
    pub total: Decimal,
    /// Held by resting orders (and pending withdrawals).
    pub held: Decimal,
}

impl Balance {
    pub fn available(&self) -> Decimal {
        self.total - self.held
    }
}

/// A withdrawal to an address on a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawRequest {
    pub asset: String,
    /// The venue's network name (e.g. `ARBITRUM` on Binance).
    pub network: String,
    pub address: String,
    pub amount: Decimal,
    /// Our idempotency key (Binance `withdrawOrderId`).
    pub client_id: String,
}

/// Which way funds move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    Deposit,
    Withdrawal,
    /// A move inside the venue from its funding account to its trading account (Hyperliquid: perp USDC
    /// to spot, `usdClassTransfer` with `toPerp = false`).
    ToTrading,
    /// A move inside the venue from its trading account to its funding account (Hyperliquid: spot USDC to
    /// perp, where `withdraw3` draws from).
    ToFunding,
}

/// A move of funds between a venue's own accounts, for venues whose deposits land (and whose withdrawals
/// draw) elsewhere than where they trade.
///
/// `nonce` identifies the signed request: the caller takes it from [`crate::order`]'s venue
/// (`Venue::transfer_nonce`) and journals it **before** the first send, and every retry sends the same
/// nonce, so a request whose answer was lost can never execute twice (a venue accepts each nonce once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternalTransfer {
    pub asset: String,
    pub amount: Decimal,
    /// Towards the trading account (else towards the funding account).
    pub to_trading: bool,
    pub nonce: u64,
}

/// State of a deposit or withdrawal as the venue reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferStatus {
    pub kind: TransferKind,
    /// The venue's id (withdrawal id, or deposit record id).
    pub id: String,
    pub client_id: Option<String>,
    pub asset: String,
    pub network: String,
    pub amount: Decimal,
    pub fee: Decimal,
    /// The chain transaction, once known.
    pub tx_hash: Option<String>,
    pub state: TransferState,
    pub updated_ms: TimestampMs,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum TransferState {
    Pending,
    Completed,
    Failed(String),
}

/// Rate-limit headroom as the venue reports or the client models it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RateHeadroom {
    /// Share of the tightest budget still available (1.0 = untouched, 0.0 = exhausted).
    pub fraction: f64,
    /// When the exhausted budget frees up again, if known.
    pub retry_after_ms: Option<u64>,
}

/// Everything a venue call can fail with. The venue's own code and message are kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum VenueError {
    /// The venue refused the request; it did not happen.
    #[error("rejected by {venue}: {reason}{}", code.as_ref().map(|c| format!(" (code {c})")).unwrap_or_default())]
    Rejected {
        venue: String,
        code: Option<String>,
        reason: String,
        kind: RejectKind,
    },
    /// Not enough free balance for the request; it did not happen.
    #[error("insufficient balance on {venue}: {reason}")]
    InsufficientBalance { venue: String, reason: String },
    /// Rate limited; it did not happen. Retry after the given time.
    #[error("rate limited by {venue}: {reason}{}", retry_after_ms.map(|ms| format!(" (retry after {ms} ms)")).unwrap_or_default())]
    RateLimited {
        venue: String,
        retry_after_ms: Option<u64>,
        reason: String,
    },
    /// The request may or may not have happened (timeout after sending, 5xx, dropped connection): resolve by
    /// client id before any retry.
    #[error("outcome unknown on {venue}: {reason}")]
    UnknownOutcome { venue: String, reason: String },
    /// The request never reached the venue (connection refused, DNS, TLS).
    #[error("cannot reach {venue}: {reason}")]
    Transport { venue: String, reason: String },
    /// Authentication or signature problem (bad key, wrong signer, clock skew beyond the window).
    #[error("authentication failed on {venue}: {reason}")]
    Auth { venue: String, reason: String },
    /// The venue does not offer this operation.
    #[error("{venue} does not support {what}")]
    Unsupported { venue: String, what: String },
}

/// Why an order was rejected, where the executor must react differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    /// A post-only order would have crossed: the book moved to us.
    PostOnlyWouldCross,
    /// An IOC found nothing to match.
    IocNoMatch,
    /// Price, size or value breaks the market's rules.
    Rules,
    /// The order to cancel or replace is not open (filled, cancelled, never placed).
    UnknownOrder,
    /// A client order id already in use.
    DuplicateClientId,
    Other,
}

impl VenueError {
    /// True when the request certainly did not take effect and may be retried as is (after any backoff).
    pub fn did_not_happen(&self) -> bool {
        !matches!(self, VenueError::UnknownOutcome { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_deterministic_and_venue_shaped() {
        let a = ClientOrderId::derive("leg-42", 0);
        assert_eq!(a, ClientOrderId::derive("leg-42", 0));
        assert_ne!(a, ClientOrderId::derive("leg-42", 1));
        assert_eq!(a.as_hex().len(), 32);
        assert!(a.to_cloid().starts_with("0x"));
        assert_eq!(ClientOrderId::parse(&a.to_cloid()), Some(a.clone()));
        assert_eq!(ClientOrderId::parse(&a.as_hex().to_uppercase()), Some(a));
        assert_eq!(ClientOrderId::parse("0x12"), None);
    }

    #[test]
    fn unknown_outcome_is_the_only_maybe() {
        let v = || "x".to_string();
        assert!(
            !VenueError::UnknownOutcome {
                venue: v(),
                reason: v()
            }
            .did_not_happen()
        );
        assert!(
            VenueError::RateLimited {
                venue: v(),
                retry_after_ms: Some(5),
                reason: v()
            }
            .did_not_happen()
        );
        let e = VenueError::Rejected {
            venue: v(),
            code: Some("-2010".into()),
            reason: "Order would immediately match and take.".into(),
            kind: RejectKind::PostOnlyWouldCross,
        };
        assert_eq!(
            e.to_string(),
            "rejected by x: Order would immediately match and take. (code -2010)"
        );
    }
}
