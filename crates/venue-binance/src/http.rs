//! The transport: signed and unsigned requests with the request-weight and order budgets admitted before
//! sending, the server-time offset, and failures classified into `Fail` (an error body, an unknown outcome,
//! or an already-mapped error).

use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::client::*;
use crate::errors::{Fail, map_error};
use crate::signing::Params;
use crate::wire::{ErrorBody, ServerTime};
use ballast_core::model::TimestampMs;
use ballast_exec::{RejectKind, VenueError};

/// Resync the server-time offset this often.
const RESYNC_MS: i64 = 600_000;

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

fn retry_after_ms(h: &HeaderMap) -> Option<u64> {
    h.get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| s * 1000)
}

impl BinanceClient {
    pub(crate) fn venue_err(&self) -> impl Fn(String) -> VenueError + '_ {
        move |reason| VenueError::Transport {
            venue: self.name.clone(),
            reason,
        }
    }

    /// Wait for room in the budgets (up to `max_rate_wait`), else fail with RateLimited.
    pub(crate) async fn admit(&self, weight: u64, order: bool) -> Result<(), VenueError> {
        let mut waited = 0u64;
        loop {
            let now = self.server_now();
            let r = self.limits.lock().unwrap().admit(now, weight, order);
            match r {
                Ok(()) => return Ok(()),
                Err(ms) => {
                    if waited + ms > self.settings.max_rate_wait.as_millis() as u64 {
                        return Err(VenueError::RateLimited {
                            venue: self.name.clone(),
                            retry_after_ms: Some(ms),
                            reason: "client-side back-off: the request budget is used up".into(),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    waited += ms;
                }
            }
        }
    }

    /// Send one request. `signed` adds recvWindow, timestamp and signature; `write` says whether the
    /// request changes state (its failures after sending are unknown outcomes; a read's are transport).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        params: Params,
        signed: bool,
        weight: u64,
        order: bool,
    ) -> Result<Vec<u8>, Fail> {
        let write = method != Method::GET;
        let mut resynced = false;
        loop {
            self.admit(weight, order).await.map_err(Fail::Venue)?;
            let mut p = params.clone();
            let mut sent_ts = None;
            let text = if signed {
                let creds = self.creds.as_ref().ok_or_else(|| {
                    Fail::Venue(VenueError::Auth {
                        venue: self.name.clone(),
                        reason: "no API key configured for this venue".into(),
                    })
                })?;
                self.ensure_synced().await.map_err(Fail::Venue)?;
                let ts = self.server_now();
                sent_ts = Some(ts);
                p.push("recvWindow", self.settings.recv_window.as_millis());
                p.push("timestamp", ts);
                p.signed(&creds.signer)
            } else {
                p.into_string()
            };
            let in_body = method == Method::POST || method == Method::PUT;
            let url = if in_body || text.is_empty() {
                format!("{}{}", self.base, path)
            } else {
                format!("{}{}?{}", self.base, path, text)
            };
            let mut req = self.http.request(method.clone(), url);
            if signed && let Some(c) = &self.creds {
                req = req.header("X-MBX-APIKEY", c.api_key());
            }
            if in_body {
                req = req
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(text);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => return Err(self.send_error(e, write, sent_ts)),
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            self.limits
                .lock()
                .unwrap()
                .observe(&headers, self.server_now());
            let body = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => return Err(self.send_error(e, write, sent_ts)),
            };
            if status.is_success() {
                return Ok(body.to_vec());
            }
            let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
            if status == StatusCode::TOO_MANY_REQUESTS || status.as_u16() == 418 {
                let retry_ms = retry_after_ms(&headers).unwrap_or(if status.as_u16() == 418 {
                    120_000
                } else {
                    1_000
                });
                self.limits.lock().unwrap().back_off(
                    self.server_now(),
                    retry_ms,
                    status.as_u16() == 418,
                );
                let msg = parsed
                    .as_ref()
                    .map(|b| format!("{} (code {})", b.msg, b.code))
                    .unwrap_or_else(|| format!("HTTP {status}"));
                // cancelReplace with CANCEL_ONLY can answer 429 with -2021: the cancel happened.
                if let Some(b) = parsed.filter(|b| b.code == -2021) {
                    return Err(Fail::Api {
                        http: status.as_u16(),
                        body: b,
                    });
                }
                return Err(Fail::Venue(VenueError::RateLimited {
                    venue: self.name.clone(),
                    retry_after_ms: Some(retry_ms),
                    reason: msg,
                }));
            }
            if status.is_server_error() {
                let msg = parsed
                    .map(|b| format!("{} (code {})", b.msg, b.code))
                    .unwrap_or_else(|| format!("HTTP {status}"));
                return Err(if write {
                    Fail::Unknown {
                        reason: msg,
                        sent_ts,
                    }
                } else {
                    Fail::Venue((self.venue_err())(msg))
                });
            }
            let Some(body) = parsed else {
                return Err(Fail::Venue(VenueError::Rejected {
                    venue: self.name.clone(),
                    code: Some(status.as_u16().to_string()),
                    reason: format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&body)
                            .chars()
                            .take(200)
                            .collect::<String>()
                    ),
                    kind: RejectKind::Other,
                }));
            };
            if body.code == -1007 {
                return Err(if write {
                    Fail::Unknown {
                        reason: format!("{} (code -1007)", body.msg),
                        sent_ts,
                    }
                } else {
                    Fail::Venue((self.venue_err())(body.msg))
                });
            }
            if body.code == -1021 && signed && !resynced {
                // Outside recvWindow: it did not happen. Resync the clock and send it once more.
                tracing::info!(venue = %self.name, msg = %body.msg, "timestamp rejected; resyncing the clock");
                self.sync_time().await.map_err(Fail::Venue)?;
                resynced = true;
                continue;
            }
            return Err(Fail::Api {
                http: status.as_u16(),
                body,
            });
        }
    }

    pub(crate) fn send_error(
        &self,
        e: reqwest::Error,
        write: bool,
        sent_ts: Option<TimestampMs>,
    ) -> Fail {
        // Without the URL: the query holds the signed parameters, which have no place in logs.
        let e = e.without_url();
        let reason = error_chain(&e);
        if e.is_connect() || !write {
            Fail::Venue((self.venue_err())(reason))
        } else {
            Fail::Unknown { reason, sent_ts }
        }
    }

    /// `call` and decode JSON; errors mapped.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        params: Params,
        signed: bool,
        weight: u64,
    ) -> Result<T, VenueError> {
        let body = self
            .call(Method::GET, path, params, signed, weight, false)
            .await
            .map_err(|f| self.map_fail(f))?;
        self.decode(&body)
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, VenueError> {
        serde_json::from_slice(body).map_err(|e| VenueError::Transport {
            venue: self.name.clone(),
            reason: format!("unexpected response: {e}"),
        })
    }

    pub(crate) fn map_fail(&self, f: Fail) -> VenueError {
        match f {
            Fail::Api { http, body } => map_error(&self.name, http, &body),
            Fail::Unknown { reason, .. } => VenueError::UnknownOutcome {
                venue: self.name.clone(),
                reason,
            },
            Fail::Venue(v) => v,
        }
    }

    /// Measure the server-time offset with `GET /api/v3/time` (midpoint of the round trip).
    pub async fn sync_time(&self) -> Result<i64, VenueError> {
        self.admit(1, false).await?;
        let t0 = self.clock.now_ms();
        let resp = self
            .http
            .get(format!("{}/api/v3/time", self.base))
            .send()
            .await
            .map_err(|e| (self.venue_err())(error_chain(&e.without_url())))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| (self.venue_err())(error_chain(&e)))?;
        let t1 = self.clock.now_ms();
        if !status.is_success() {
            return Err((self.venue_err())(format!(
                "GET /api/v3/time: HTTP {status}"
            )));
        }
        let st: ServerTime = self.decode(&body)?;
        let offset = st.server_time - (t0 + t1) / 2;
        self.offset_ms.store(offset, Ordering::Relaxed);
        self.synced_at.store(t1.max(1), Ordering::Relaxed);
        self.limits
            .lock()
            .unwrap()
            .observe(&headers, st.server_time);
        Ok(offset)
    }

    pub(crate) async fn ensure_synced(&self) -> Result<(), VenueError> {
        let at = self.synced_at.load(Ordering::Relaxed);
        if at == 0 || self.clock.now_ms() - at > RESYNC_MS {
            self.sync_time().await?;
        }
        Ok(())
    }
}
