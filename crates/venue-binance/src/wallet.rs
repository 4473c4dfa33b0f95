//! Deposits and withdrawals through the wallet (SAPI) endpoints (venues.md B7), for the client.
//!
//! - Network names come from `GET /sapi/v1/capital/config/getall`, never from code: a ballast chain name is
//!   mapped through the venue's `networks` setting and the result must be one of the coin's networks.
//! - A withdrawal goes only to an address on the configured allow-list, and only within the network's
//!   minimum, maximum and multiple. `withdrawOrderId` is the caller's idempotency key: a key already in the
//!   history is answered with that withdrawal's id, and an unknown outcome is resolved through the history
//!   (after the request's recvWindow has passed) before anything is sent again.

use std::time::Duration;

use reqwest::Method;
use rust_decimal::Decimal;

use super::client::BinanceClient;
use super::errors::Fail;
use super::signing::Params;
use super::wire::{
    CoinInfo, DepositAddress, DepositRecord, NetworkInfo, WithdrawApplied, WithdrawRecord,
    parse_utc_string,
};
use ballast_core::model::TimestampMs;
use ballast_exec::{
    RejectKind, TransferKind, TransferState, TransferStatus, VenueError, WithdrawRequest,
};

const COINS_TTL_MS: i64 = 300_000;
const DAY_MS: i64 = 86_400_000;

/// A deposit record -> the venue interface's transfer status.
pub fn deposit_status(r: &DepositRecord) -> TransferStatus {
    let state = match r.status {
        1 | 6 => TransferState::Completed,
        7 => TransferState::Failed("wrong deposit (status 7)".into()),
        _ => TransferState::Pending,
    };
    TransferStatus {
        kind: TransferKind::Deposit,
        id: r.id.clone(),
        client_id: None,
        asset: r.coin.clone(),
        network: r.network.clone(),
        amount: r.amount.normalize(),
        fee: Decimal::ZERO,
        tx_hash: (!r.tx_id.is_empty()).then(|| r.tx_id.clone()),
        state,
        updated_ms: r.complete_time.unwrap_or(r.insert_time),
    }
}

/// A withdrawal record -> the venue interface's transfer status.
pub fn withdraw_status(r: &WithdrawRecord) -> TransferStatus {
    let state = match r.status {
        6 => TransferState::Completed,
        1 => TransferState::Failed("cancelled (status 1)".into()),
        3 => TransferState::Failed("rejected (status 3)".into()),
        5 => TransferState::Failed("failure (status 5)".into()),
        _ => TransferState::Pending,
    };
    let updated = r
        .complete_time
        .as_deref()
        .and_then(parse_utc_string)
        .or_else(|| parse_utc_string(&r.apply_time))
        .unwrap_or_default();
    TransferStatus {
        kind: TransferKind::Withdrawal,
        id: r.id.clone(),
        client_id: r.withdraw_order_id.clone().filter(|s| !s.is_empty()),
        asset: r.coin.clone(),
        network: r.network.clone(),
        amount: r.amount.normalize(),
        fee: r.transaction_fee.normalize(),
        tx_hash: r.tx_id.clone().filter(|s| !s.is_empty()),
        state,
        updated_ms: updated,
    }
}

impl BinanceClient {
    fn wallet_reject(&self, kind: RejectKind, reason: String) -> VenueError {
        VenueError::Rejected {
            venue: self.venue_name().to_string(),
            code: None,
            reason,
            kind,
        }
    }

    /// `GET /sapi/v1/capital/config/getall`, cached for 5 minutes.
    pub async fn coins(&self) -> Result<Vec<CoinInfo>, VenueError> {
        let now = self.server_now();
        if let Some((at, c)) = self.coins.lock().unwrap().as_ref()
            && now - at < COINS_TTL_MS
        {
            return Ok(c.clone());
        }
        let c: Vec<CoinInfo> = self
            .get_json("/sapi/v1/capital/config/getall", Params::new(), true, 0)
            .await?;
        *self.coins.lock().unwrap() = Some((now, c.clone()));
        Ok(c)
    }

    /// The Binance network name for a ballast chain name (through the `networks` setting) or a network
    /// name given as is.
    pub fn network_for(&self, chain_or_network: &str) -> String {
        self.settings()
            .networks
            .get(chain_or_network)
            .cloned()
            .unwrap_or_else(|| chain_or_network.to_ascii_uppercase())
    }

    /// The configuration of one coin on one network, as the venue publishes it.
    pub async fn network_info(
        &self,
        asset: &str,
        network: &str,
    ) -> Result<NetworkInfo, VenueError> {
        let coins = self.coins().await?;
        let coin = coins
            .iter()
            .find(|c| c.coin.eq_ignore_ascii_case(asset))
            .ok_or_else(|| {
                self.wallet_reject(
                    RejectKind::Other,
                    format!("{asset} is not a coin on this venue"),
                )
            })?;
        coin.network_list
            .iter()
            .find(|n| n.network.eq_ignore_ascii_case(network))
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = coin
                    .network_list
                    .iter()
                    .map(|n| n.network.as_str())
                    .collect();
                self.wallet_reject(
                    RejectKind::Other,
                    format!(
                        "{asset} has no network {network:?} (it has: {})",
                        names.join(", ")
                    ),
                )
            })
    }

    pub(crate) async fn wallet_deposit_address(
        &self,
        asset: &str,
        network: &str,
    ) -> Result<String, VenueError> {
        let network = self.network_for(network);
        let info = self.network_info(asset, &network).await?;
        if !info.deposit_enable {
            return Err(self.wallet_reject(
                RejectKind::Other,
                format!("deposits of {asset} over {network} are disabled"),
            ));
        }
        let a: DepositAddress = self
            .get_json(
                "/sapi/v1/capital/deposit/address",
                Params::new()
                    .with("coin", &info.coin)
                    .with("network", &info.network),
                true,
                0,
            )
            .await?;
        if !a.tag.is_empty() {
            return Err(VenueError::Unsupported {
                venue: self.venue_name().to_string(),
                what: format!("deposits that need a memo/tag ({asset} over {network})"),
            });
        }
        Ok(a.address)
    }

    /// `GET /sapi/v1/capital/withdraw/history`, optionally for one `withdrawOrderId`.
    pub async fn withdraw_history(
        &self,
        since: TimestampMs,
        withdraw_order_id: Option<&str>,
    ) -> Result<Vec<WithdrawRecord>, VenueError> {
        let now = self.server_now();
        // The window is at most 90 days, or 7 days with a withdrawOrderId.
        let span = if withdraw_order_id.is_some() { 7 } else { 90 } * DAY_MS;
        let mut p = Params::new();
        if let Some(id) = withdraw_order_id {
            p.push("withdrawOrderId", id);
        }
        p.push("startTime", since.max(now - span + 60_000))
            .push("limit", 1000);
        self.get_json("/sapi/v1/capital/withdraw/history", p, true, 0)
            .await
    }

    /// `GET /sapi/v1/capital/deposit/hisrec` since a time (at most 90 days back).
    pub async fn deposit_history(
        &self,
        since: TimestampMs,
    ) -> Result<Vec<DepositRecord>, VenueError> {
        let now = self.server_now();
        let p = Params::new()
            .with("startTime", since.max(now - 90 * DAY_MS + 60_000))
            .with("limit", 1000);
        self.get_json("/sapi/v1/capital/deposit/hisrec", p, true, 0)
            .await
    }

    async fn find_withdrawal(&self, client_id: &str) -> Result<Option<String>, VenueError> {
        let found = self.withdraw_history(0, Some(client_id)).await?;
        Ok(found
            .into_iter()
            .find(|r| r.withdraw_order_id.as_deref() == Some(client_id))
            .map(|r| r.id))
    }

    pub(crate) async fn wallet_withdraw(
        &self,
        req: &WithdrawRequest,
    ) -> Result<String, VenueError> {
        let network = self.network_for(&req.network);
        if !self
            .settings()
            .withdrawal_allowed(&req.asset, &network, &req.address)
        {
            return Err(self.wallet_reject(
                RejectKind::Other,
                format!(
                    "{} over {network} to {} is not on this venue's withdraw_address allow-list; nothing was sent",
                    req.asset, req.address
                ),
            ));
        }
        if req.client_id.is_empty() {
            return Err(self.wallet_reject(
                RejectKind::Other,
                "a withdrawal needs a client id (withdrawOrderId)".into(),
            ));
        }
        let info = self.network_info(&req.asset, &network).await?;
        if !info.withdraw_enable {
            return Err(self.wallet_reject(
                RejectKind::Other,
                format!("withdrawals of {} over {network} are disabled", req.asset),
            ));
        }
        let amount = req.amount;
        let multiple = info.withdraw_integer_multiple.unwrap_or_default();
        if amount < info.withdraw_min
            || (!info.withdraw_max.is_zero() && amount > info.withdraw_max)
            || (!multiple.is_zero() && !(amount % multiple).is_zero())
        {
            return Err(self.wallet_reject(
                RejectKind::Rules,
                format!(
                    "withdrawal of {amount} {} over {network} must be within [{}, {}] and a multiple of {multiple}",
                    req.asset, info.withdraw_min, info.withdraw_max
                ),
            ));
        }
        // Idempotent by client id: a withdrawal already made under this key is not made again.
        if let Some(id) = self.find_withdrawal(&req.client_id).await? {
            return Ok(id);
        }
        for _ in 0..2 {
            let p = Params::new()
                .with("coin", &info.coin)
                .with("network", &info.network)
                .with("address", &req.address)
                .with("amount", amount.normalize())
                .with("withdrawOrderId", &req.client_id);
            match self
                .call(
                    Method::POST,
                    "/sapi/v1/capital/withdraw/apply",
                    p,
                    true,
                    0,
                    false,
                )
                .await
            {
                Ok(body) => {
                    let r: WithdrawApplied = self.decode(&body)?;
                    return Ok(r.id);
                }
                Err(Fail::Unknown { reason, sent_ts }) => {
                    tracing::warn!(venue = %self.venue_name(), client_id = %req.client_id, %reason, "withdrawal outcome unknown; resolving through the history");
                    let unresolved = |e: VenueError| VenueError::UnknownOutcome {
                        venue: self.venue_name().to_string(),
                        reason: format!(
                            "withdrawal {}: {reason}; lookup failed: {e}",
                            req.client_id
                        ),
                    };
                    if let Some(id) = self
                        .find_withdrawal(&req.client_id)
                        .await
                        .map_err(unresolved)?
                    {
                        return Ok(id);
                    }
                    let deadline = sent_ts.unwrap_or_else(|| self.server_now())
                        + self.settings().recv_window.as_millis() as i64
                        + 1_000;
                    let wait = deadline - self.server_now();
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                    }
                    if let Some(id) = self
                        .find_withdrawal(&req.client_id)
                        .await
                        .map_err(unresolved)?
                    {
                        return Ok(id);
                    }
                }
                Err(f) => return Err(self.map_fail(f)),
            }
        }
        Err(VenueError::Transport {
            venue: self.venue_name().to_string(),
            reason: format!(
                "withdrawal {} was not made: two attempts ended without an answer and it is not in the history",
                req.client_id
            ),
        })
    }

    pub(crate) async fn wallet_transfers_since(
        &self,
        since: TimestampMs,
    ) -> Result<Vec<TransferStatus>, VenueError> {
        let mut out: Vec<TransferStatus> = self
            .deposit_history(since)
            .await?
            .iter()
            .map(deposit_status)
            .collect();
        out.extend(
            self.withdraw_history(since, None)
                .await?
                .iter()
                .map(withdraw_status),
        );
        out.sort_by_key(|t| t.updated_ms);
        Ok(out)
    }
}
