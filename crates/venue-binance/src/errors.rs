//! Binance's error bodies and HTTP statuses mapped onto the venue interface's `VenueError`, keeping the
//! venue's code and message.

use crate::wire::ErrorBody;
use ballast_core::model::TimestampMs;
use ballast_exec::{RejectKind, VenueError};

/// Why a request did not return a body.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The venue answered with an error body.
    Api { http: u16, body: ErrorBody },
    /// The request may have taken effect; `sent_ts` is the timestamp it carried.
    Unknown {
        reason: String,
        sent_ts: Option<TimestampMs>,
    },
    /// Anything else, already mapped.
    Venue(VenueError),
}

/// A Binance error body -> the venue interface's error, with the code and message kept.
pub fn map_error(venue: &str, http: u16, b: &ErrorBody) -> VenueError {
    let venue = venue.to_string();
    let code = Some(b.code.to_string());
    let msg = b.msg.clone();
    let lower = msg.to_ascii_lowercase();
    let rejected = |kind| VenueError::Rejected {
        venue: venue.clone(),
        code: code.clone(),
        reason: msg.clone(),
        kind,
    };
    let auth = |hint: &str| VenueError::Auth {
        venue: venue.clone(),
        reason: format!("{msg} (code {}): {hint}", b.code),
    };
    match b.code {
        -1003 | -1015 => VenueError::RateLimited {
            venue: venue.clone(),
            retry_after_ms: None,
            reason: format!("{msg} (code {})", b.code),
        },
        -1007 => VenueError::UnknownOutcome {
            venue: venue.clone(),
            reason: format!("{msg} (code -1007)"),
        },
        -1013 | -1111 => rejected(RejectKind::Rules),
        -2010 if lower.contains("insufficient balance") => VenueError::InsufficientBalance {
            venue: venue.clone(),
            reason: format!("{msg} (code -2010)"),
        },
        -2010 if lower.contains("immediately match") => rejected(RejectKind::PostOnlyWouldCross),
        -2010 if lower.contains("duplicate") => rejected(RejectKind::DuplicateClientId),
        -2011 | -2013 | -2026 => rejected(RejectKind::UnknownOrder),
        -1021 => auth(
            "the clock is off from the server's beyond recvWindow; check the host's time sync (NTP)",
        ),
        -1022 => auth(
            "the signature does not match: check the secret (or Ed25519 key) belongs to this API key",
        ),
        -2014 => auth("the API key is malformed: check the variable or keystore holding it"),
        -2015 => auth(
            "the API key is wrong, or this IP is not whitelisted, or the key lacks the permission (trading, withdrawals)",
        ),
        _ if lower.contains("insufficient") => VenueError::InsufficientBalance {
            venue: venue.clone(),
            reason: format!("{msg} (code {})", b.code),
        },
        _ if http == 401 || http == 403 => auth("access refused"),
        _ => rejected(RejectKind::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i64, msg: &str) -> ErrorBody {
        ErrorBody {
            code,
            msg: msg.into(),
            data: None,
        }
    }

    #[test]
    fn errors_map_to_the_venue_interface_keeping_code_and_message() {
        let e = map_error(
            "bn",
            400,
            &err(-2010, "Order would immediately match and take."),
        );
        assert_eq!(
            e,
            VenueError::Rejected {
                venue: "bn".into(),
                code: Some("-2010".into()),
                reason: "Order would immediately match and take.".into(),
                kind: RejectKind::PostOnlyWouldCross
            }
        );
        assert!(matches!(
            map_error(
                "bn",
                400,
                &err(
                    -2010,
                    "Account has insufficient balance for requested action."
                )
            ),
            VenueError::InsufficientBalance { .. }
        ));
        assert!(matches!(
            map_error("bn", 400, &err(-1013, "Filter failure: LOT_SIZE")),
            VenueError::Rejected {
                kind: RejectKind::Rules,
                ..
            }
        ));
        for c in [-2011, -2013] {
            assert!(matches!(
                map_error("bn", 400, &err(c, "Unknown order sent.")),
                VenueError::Rejected {
                    kind: RejectKind::UnknownOrder,
                    ..
                }
            ));
        }
        for c in [-1021, -1022, -2014, -2015] {
            match map_error("bn", 400, &err(c, "m")) {
                VenueError::Auth { reason, .. } => {
                    assert!(reason.contains(&format!("(code {c}): ")), "{reason}")
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            map_error(
                "bn",
                400,
                &err(-1007, "Timeout waiting for response from backend server.")
            ),
            VenueError::UnknownOutcome { .. }
        ));
        assert!(matches!(
            map_error("bn", 400, &err(-2010, "Duplicate order sent.")),
            VenueError::Rejected {
                kind: RejectKind::DuplicateClientId,
                ..
            }
        ));
    }
}
