//! The transport: `POST /info` and `POST /exchange`, the signing of L1 and user-signed actions, the rate
//! budget read from `userRateLimit`, and the mapping of transport failures onto `VenueError`.

use serde::de::DeserializeOwned;

use crate::client::*;
use crate::errors::map_error;
use crate::info::{InfoRequest, UserRateLimit};
use crate::nonce::NonceSource;
use crate::signing::{KeySigner, SIGNATURE_CHAIN_ID};
use crate::wire::{Action, Addr, ExchangeRequest, OkResponse};
use ballast_exec::{RejectKind, VenueError};

pub(crate) fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

impl HyperliquidClient {
    pub(crate) fn err_transport(&self, reason: impl Into<String>) -> VenueError {
        VenueError::Transport {
            venue: self.name.clone(),
            reason: reason.into(),
        }
    }

    pub(crate) fn err_unknown(&self, reason: impl Into<String>) -> VenueError {
        VenueError::UnknownOutcome {
            venue: self.name.clone(),
            reason: reason.into(),
        }
    }

    pub(crate) fn err_rejected(&self, kind: RejectKind, reason: impl Into<String>) -> VenueError {
        VenueError::Rejected {
            venue: self.name.clone(),
            code: None,
            reason: reason.into(),
            kind,
        }
    }

    pub(crate) fn rate_limited(&self, retry_after_ms: u64, what: &str) -> VenueError {
        VenueError::RateLimited {
            venue: self.name.clone(),
            retry_after_ms: Some(retry_after_ms),
            reason: format!("{what} would exceed the modelled budget"),
        }
    }

    /// POST a JSON body. `Err(true)` when the request may have reached the venue.
    pub(crate) async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), (bool, String)> {
        let url = format!("{}{path}", self.opts.url);
        let resp = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| (!e.is_connect(), describe(&e)))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| (true, describe(&e)))?;
        Ok((status, bytes.to_vec()))
    }

    /// An `/info` request, parsed as `T`.
    pub async fn info<T: DeserializeOwned>(&self, req: &InfoRequest) -> Result<T, VenueError> {
        let t = req.type_name();
        self.rate
            .before_info(self.now(), t)
            .map_err(|ms| self.rate_limited(ms, t))?;
        let body = serde_json::to_vec(req).expect("info requests serialize");
        let (status, bytes) = self
            .post("/info", body)
            .await
            .map_err(|(_, e)| self.err_transport(format!("{t}: {e}")))?;
        match status {
            200 => {}
            429 => {
                return Err(VenueError::RateLimited {
                    venue: self.name.clone(),
                    retry_after_ms: None,
                    reason: format!("{t}: HTTP 429 {}", String::from_utf8_lossy(&bytes)),
                });
            }
            s if s >= 500 => {
                return Err(self.err_transport(format!("{t}: HTTP {s}")));
            }
            s => {
                return Err(self.err_rejected(
                    RejectKind::Other,
                    format!(
                        "{t}: HTTP {s}: {}",
                        String::from_utf8_lossy(&bytes)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    ),
                ));
            }
        }
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.err_transport(format!("{t}: unreadable answer: {e}")))?;
        let items = v.as_array().map(Vec::len).unwrap_or(0);
        self.rate.after_info(self.now(), t, items);
        serde_json::from_value(v)
            .map_err(|e| self.err_transport(format!("{t}: unexpected answer: {e}")))
    }

    pub(crate) fn signer(&self) -> Result<(&KeySigner, &NonceSource), VenueError> {
        match (&self.signer, &self.nonces) {
            (Some(s), Some(n)) => Ok((s, n)),
            _ => Err(VenueError::Auth {
                venue: self.name.clone(),
                reason: "no signing key configured (read-only venue): set `key_env` or `keystore`"
                    .into(),
            }),
        }
    }

    pub(crate) async fn refresh_rate_limit_if_stale(&self) {
        let now = self.now();
        let stale = {
            let mut at = self.rate_read_at.lock().unwrap_or_else(|e| e.into_inner());
            let stale = at.is_none_or(|t| now - t >= RATE_LIMIT_REFRESH_MS);
            if stale {
                *at = Some(now);
            }
            stale
        };
        if stale {
            let _ = self.user_rate_limit().await;
        }
    }

    /// Read `userRateLimit` and update the address budget model.
    pub async fn user_rate_limit(&self) -> Result<UserRateLimit, VenueError> {
        let r: UserRateLimit = self
            .info(&InfoRequest::UserRateLimit {
                user: Addr(self.account),
            })
            .await?;
        self.rate
            .update_address(r.n_requests_used, r.n_requests_cap + r.n_requests_surplus);
        Ok(r)
    }

    /// Sign and post an L1 action (order, cancel, modify, scheduleCancel...) as is: no rule checks, no
    /// client-id tracking. For actions the `Venue` methods do not cover.
    pub async fn send_action(
        &self,
        action: &Action,
        expires_after: Option<u64>,
    ) -> Result<OkResponse, VenueError> {
        self.send_l1(action, expires_after).await
    }

    /// Sign and post an L1 action.
    pub(crate) async fn send_l1(
        &self,
        action: &Action,
        expires_after: Option<u64>,
    ) -> Result<OkResponse, VenueError> {
        let (signer, nonces) = self.signer()?;
        self.refresh_rate_limit_if_stale().await;
        let cancel = matches!(action, Action::Cancel(_) | Action::CancelByCloid(_));
        self.rate
            .before_action(self.now(), action.batch_len(), cancel)
            .map_err(|ms| self.rate_limited(ms, action.type_name()))?;
        let nonce = nonces.next(self.now() as u64);
        let vault = self.opts.vault_address;
        let signature = signer
            .sign_l1(
                action,
                nonce,
                vault.as_ref(),
                expires_after,
                self.opts.network,
            )
            .map_err(|e| self.err_rejected(RejectKind::Other, e.to_string()))?;
        let req = ExchangeRequest {
            action,
            nonce,
            signature,
            vault_address: vault.map(Addr),
            expires_after,
        };
        self.post_exchange(action.type_name(), &req).await
    }

    /// Sign and post a user-signed action built for the nonce (its `time`/`nonce` field).
    pub(crate) async fn send_user(
        &self,
        what: &str,
        build: impl FnOnce(u64, &str) -> Action,
    ) -> Result<OkResponse, VenueError> {
        self.send_user_at(what, None, build).await
    }

    /// A user-signed action under `nonce` (`None`: the next of the signer's nonces).
    pub(crate) async fn send_user_at(
        &self,
        what: &str,
        nonce: Option<u64>,
        build: impl FnOnce(u64, &str) -> Action,
    ) -> Result<OkResponse, VenueError> {
        let (signer, nonces) = self.signer()?;
        if self.opts.agent {
            return Err(VenueError::Auth {
                venue: self.name.clone(),
                reason: format!(
                    "{what} must be signed by the account's own key; an API wallet (agent) cannot move funds"
                ),
            });
        }
        let nonce = nonce.unwrap_or_else(|| nonces.next(self.now() as u64));
        let action = build(nonce, self.opts.network.chain_name());
        self.rate
            .before_action(self.now(), 1, false)
            .map_err(|ms| self.rate_limited(ms, action.type_name()))?;
        let typed = action.typed().expect("a user-signed action");
        let signature = signer
            .sign_digest(&typed.digest(SIGNATURE_CHAIN_ID))
            .map_err(|e| self.err_rejected(RejectKind::Other, e.to_string()))?;
        let req = ExchangeRequest {
            action: &action,
            nonce,
            signature,
            vault_address: None,
            expires_after: None,
        };
        self.post_exchange(action.type_name(), &req).await
    }

    pub(crate) async fn post_exchange(
        &self,
        what: &str,
        req: &ExchangeRequest<&Action>,
    ) -> Result<OkResponse, VenueError> {
        let body = serde_json::to_vec(req).expect("actions serialize");
        let (status, bytes) = match self.post("/exchange", body).await {
            Ok(r) => r,
            Err((false, e)) => return Err(self.err_transport(format!("{what}: {e}"))),
            Err((true, e)) => {
                return Err(self.err_unknown(format!("{what}: {e} after sending")));
            }
        };
        let text = || {
            String::from_utf8_lossy(&bytes)
                .chars()
                .take(300)
                .collect::<String>()
        };
        match status {
            200 => {}
            429 => {
                return Err(VenueError::RateLimited {
                    venue: self.name.clone(),
                    retry_after_ms: None,
                    reason: format!("{what}: HTTP 429 {}", text()),
                });
            }
            s if s >= 500 => {
                return Err(self.err_unknown(format!("{what}: HTTP {s} {}", text())));
            }
            s => {
                return Err(self.err_rejected(
                    RejectKind::Other,
                    format!(
                        "{what}: HTTP {s}: the venue could not read the request: {}",
                        text()
                    ),
                ));
            }
        }
        match serde_json::from_slice::<super::wire::ExchangeResponse>(&bytes) {
            Ok(super::wire::ExchangeResponse::Ok(r)) => Ok(r),
            Ok(super::wire::ExchangeResponse::Err(msg)) => Err(map_error(&self.name, &msg)),
            Err(e) => Err(self.err_unknown(format!("{what}: unreadable answer ({e}): {}", text()))),
        }
    }
}
