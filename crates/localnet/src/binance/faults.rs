//! Fault injection for the local server: make the next N requests to an endpoint fail the way the real venue
//! can fail, so clients (and the service) can be tested against every failure they must survive.
//!
//! Endpoints are named `METHOD /path` (`POST /api/v3/order`), or `*` for any. Faults are set in the
//! `[[binance.fault]]` tables of the config or at run time with [`Faults::inject`] (or `POST
//! /ballast/v1/fault` on the server itself).

use std::sync::Mutex;
use std::time::Duration;

/// What happens to an affected request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// HTTP 429 with `-1003` and `Retry-After`; the request is not executed.
    RateLimit { retry_after: Duration },
    /// HTTP 418 (IP banned) with `-1003` and `Retry-After`; not executed.
    Ban { retry_after: Duration },
    /// A 5xx with no Binance body; `executed` says whether the request took effect first.
    ServerError { status: u16, executed: bool },
    /// HTTP 503 with `-1007` ("execution status unknown"); `executed` as above.
    Timeout { executed: bool },
    /// Answer normally, after a delay.
    Delay { delay: Duration },
    /// Close the connection without an answer; `executed` says whether the request took effect first.
    Drop { executed: bool },
    /// Never answer (the client times out); `executed` as above.
    Hang { executed: bool },
}

impl FaultKind {
    /// Does the request reach the engine?
    pub fn executes(&self) -> bool {
        match self {
            FaultKind::RateLimit { .. } | FaultKind::Ban { .. } => false,
            FaultKind::ServerError { executed, .. }
            | FaultKind::Timeout { executed }
            | FaultKind::Drop { executed }
            | FaultKind::Hang { executed } => *executed,
            FaultKind::Delay { .. } => true,
        }
    }
}

/// `count` requests to `endpoint` fail with `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRule {
    pub endpoint: String,
    pub kind: FaultKind,
    pub count: u32,
}

/// The pending faults of a server.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    pub fn new(rules: Vec<FaultRule>) -> Faults {
        Faults {
            rules: Mutex::new(rules),
        }
    }

    /// The next `count` requests to `endpoint` (`"POST /api/v3/order"`, or `"*"`) fail with `kind`.
    pub fn inject(&self, endpoint: &str, kind: FaultKind, count: u32) {
        self.rules.lock().unwrap().push(FaultRule {
            endpoint: endpoint.to_string(),
            kind,
            count,
        });
    }

    /// Remove every pending fault.
    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
    }

    /// Faults not yet used up.
    pub fn pending(&self) -> Vec<FaultRule> {
        self.rules.lock().unwrap().clone()
    }

    /// The fault for this request, if any (first matching rule, counted down).
    pub fn take(&self, method: &str, path: &str) -> Option<FaultKind> {
        let mut rules = self.rules.lock().unwrap();
        let ix = rules.iter().position(|r| {
            r.endpoint == "*"
                || r.endpoint
                    .split_once(' ')
                    .is_some_and(|(m, p)| m.eq_ignore_ascii_case(method) && p == path)
        })?;
        let kind = rules[ix].kind.clone();
        rules[ix].count -= 1;
        if rules[ix].count == 0 {
            rules.remove(ix);
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_count_down_per_endpoint() {
        let f = Faults::default();
        f.inject("POST /api/v3/order", FaultKind::Drop { executed: true }, 2);
        assert_eq!(f.take("GET", "/api/v3/order"), None);
        assert_eq!(
            f.take("post", "/api/v3/order"),
            Some(FaultKind::Drop { executed: true })
        );
        assert!(f.take("POST", "/api/v3/order").is_some());
        assert_eq!(f.take("POST", "/api/v3/order"), None);
        f.inject(
            "*",
            FaultKind::RateLimit {
                retry_after: Duration::from_secs(1),
            },
            1,
        );
        assert!(f.take("GET", "/api/v3/time").is_some());
        assert!(f.pending().is_empty());
    }
}
