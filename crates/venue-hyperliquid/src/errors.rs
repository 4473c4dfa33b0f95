//! The venue's error strings, as the local server writes them and as the client maps them to
//! [`VenueError`] kinds. Live strings usually end with ` asset=N`; they are matched by prefix.

use ballast_exec::{RejectKind, VenueError};

/// Order rejections (per-order `{"error": ...}` entries), each followed by ` asset=N` on the venue.
pub const INVALID_PRICE: &str = "Order has invalid price.";
pub const INVALID_SIZE: &str = "Order has invalid size.";
pub const ZERO_SIZE: &str = "Order has zero size.";
pub const TICK: &str = "Price must be divisible by tick size.";
pub const MIN_VALUE_PREFIX: &str = "Order must have minimum value of";
pub const ALO_CROSS_PREFIX: &str = "Post only order would have immediately matched";
pub const IOC_NO_MATCH: &str = "Order could not immediately match against any resting orders.";
pub const INSUFFICIENT_SPOT: &str = "Order has insufficient spot balance to trade.";
pub const MISSING_ORDER: &str = "Order was never placed, already canceled, or filled.";
pub const MODIFY_MISSING: &str = "Cannot modify canceled or filled order";
pub const DUPLICATE_CLOID: &str = "Duplicate cloid.";
pub const TRIGGER_UNSUPPORTED: &str = "Trigger orders are not supported by this server.";
pub const UNKNOWN_ASSET: &str = "Unknown asset.";
/// Action-level errors (`{"status":"err","response": ...}`).
pub const UNKNOWN_SIGNER_PREFIX: &str = "User or API Wallet";
pub const MUST_DEPOSIT_PREFIX: &str = "Must deposit before performing actions.";
pub const VAULT_NOT_REGISTERED_PREFIX: &str = "Vault not registered";
pub const INVALID_NONCE_PREFIX: &str = "Invalid nonce";
pub const CUMULATIVE_REQUESTS_PREFIX: &str = "Too many cumulative requests";

/// The ALO rejection, with the book's best bid and ask.
pub fn alo_would_cross(bid: &str, ask: &str, asset: u32) -> String {
    format!("{ALO_CROSS_PREFIX}, bbo was {bid}@{ask}. asset={asset}")
}

/// A per-order message with the venue's ` asset=N` suffix.
pub fn with_asset(msg: &str, asset: u32) -> String {
    format!("{msg} asset={asset}")
}

/// The hint given with a signer the venue does not know.
pub const UNKNOWN_SIGNER_HINT: &str = "the signature recovered to an address the venue does not know: \
     check the key, the network setting (mainnet/testnet signatures differ), that the API wallet (agent) is \
     approved for the account, and that the action was serialized canonically";

/// Map a per-order error or an action-level error to a [`VenueError`].
pub fn map_error(venue: &str, msg: &str) -> VenueError {
    let rejected = |kind| VenueError::Rejected {
        venue: venue.to_string(),
        code: None,
        reason: msg.to_string(),
        kind,
    };
    if msg.starts_with(ALO_CROSS_PREFIX) {
        rejected(RejectKind::PostOnlyWouldCross)
    } else if msg.starts_with(IOC_NO_MATCH) {
        rejected(RejectKind::IocNoMatch)
    } else if [
        INVALID_PRICE,
        INVALID_SIZE,
        ZERO_SIZE,
        TICK,
        MIN_VALUE_PREFIX,
    ]
    .iter()
    .any(|p| msg.starts_with(p))
        || msg.starts_with("Order price too far")
    {
        rejected(RejectKind::Rules)
    } else if msg.starts_with(MISSING_ORDER) || msg.starts_with(MODIFY_MISSING) {
        rejected(RejectKind::UnknownOrder)
    } else if msg.starts_with(DUPLICATE_CLOID) {
        rejected(RejectKind::DuplicateClientId)
    } else if msg.contains("insufficient spot balance")
        || msg.contains("Insufficient spot balance")
        || msg.starts_with("Insufficient balance")
        || msg.starts_with("Insufficient margin")
    {
        VenueError::InsufficientBalance {
            venue: venue.to_string(),
            reason: msg.to_string(),
        }
    } else if msg.starts_with(UNKNOWN_SIGNER_PREFIX)
        || msg.starts_with("L1 error: User or API Wallet")
        || msg.starts_with(MUST_DEPOSIT_PREFIX)
    {
        VenueError::Auth {
            venue: venue.to_string(),
            reason: format!("{msg} ({UNKNOWN_SIGNER_HINT})"),
        }
    } else if msg.starts_with(VAULT_NOT_REGISTERED_PREFIX) {
        VenueError::Auth {
            venue: venue.to_string(),
            reason: format!(
                "{msg} (the vault/sub-account address is wrong, or the agent key and the master address are swapped)"
            ),
        }
    } else if msg.starts_with(INVALID_NONCE_PREFIX) && msg.contains("window") {
        VenueError::Auth {
            venue: venue.to_string(),
            reason: format!("{msg} (the local clock is far from the venue's)"),
        }
    } else if msg.starts_with(CUMULATIVE_REQUESTS_PREFIX) {
        VenueError::RateLimited {
            venue: venue.to_string(),
            retry_after_ms: Some(super::ratelimit::ADDRESS_THROTTLED_INTERVAL_MS as u64),
            reason: msg.to_string(),
        }
    } else {
        rejected(RejectKind::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(msg: &str) -> Option<RejectKind> {
        match map_error("hl", msg) {
            VenueError::Rejected { kind, .. } => Some(kind),
            _ => None,
        }
    }

    #[test]
    fn venue_strings_map_to_kinds() {
        assert_eq!(
            kind(&alo_would_cross("0.9999", "1", 10000)),
            Some(RejectKind::PostOnlyWouldCross)
        );
        assert_eq!(
            kind("Order could not immediately match against any resting orders. asset=180025"),
            Some(RejectKind::IocNoMatch)
        );
        assert_eq!(
            kind("Order has invalid price. asset=10000"),
            Some(RejectKind::Rules)
        );
        assert_eq!(
            kind("Order must have minimum value of 10 USDC. asset=10000"),
            Some(RejectKind::Rules)
        );
        assert_eq!(
            kind("Order must have minimum value of $10."),
            Some(RejectKind::Rules)
        );
        assert_eq!(kind(MISSING_ORDER), Some(RejectKind::UnknownOrder));
        assert_eq!(
            kind("Invalid nonce: duplicate nonce 17"),
            Some(RejectKind::Other)
        );
        assert!(matches!(
            map_error(
                "hl",
                "Order has insufficient spot balance to trade. asset=10000"
            ),
            VenueError::InsufficientBalance { .. }
        ));
        let e = map_error("hl", "User or API Wallet 0xabc does not exist.");
        match e {
            VenueError::Auth { reason, .. } => {
                assert!(reason.contains("network"));
                assert!(reason.contains("0xabc"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            map_error("hl", "Too many cumulative requests sent (10001 > 10000)"),
            VenueError::RateLimited { .. }
        ));
    }
}
