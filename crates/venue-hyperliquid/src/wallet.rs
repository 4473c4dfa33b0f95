//! Moving funds: the Arbitrum bridge (deposits), `usdClassTransfer` between the perp and spot accounts,
//! `spotSend`, `withdraw3` (resolved against the ledger when its answer is lost), agent approval and the
//! withdrawal allow-list.

use std::collections::HashMap;

use alloy::primitives::Address;
use rust_decimal::Decimal;

use crate::client::*;
use crate::errors::map_error;
use crate::info::{ClearinghouseState, InfoRequest, LedgerDelta, LedgerUpdate};
use crate::signing::{Network, SIGNATURE_CHAIN_ID};
use crate::wire::{
    Action, Addr, Amount, ApproveAgent, OkResponse, SpotSend, StatusEntry, UsdClassTransfer,
    Withdraw3,
};
use ballast_core::model::TimestampMs;
use ballast_exec::{RejectKind, VenueError};

/// The one asset Hyperliquid's Arbitrum bridge takes in, and `withdraw3` pays out.
pub const BRIDGE_ASSET: &str = "USDC";
/// The network of that bridge (a chain's venue network name is its name in capitals).
pub const BRIDGE_NETWORK: &str = "ARBITRUM";

/// Whether `asset` can be deposited to, and withdrawn from, Hyperliquid over `network`: only USDC over
/// Arbitrum. Other spot tokens (USDT0, for example) leave and enter only through HyperEVM, which ballast does
/// not model; the configuration refuses routes that would need it.
pub fn bridged(asset: &str, network: &str) -> bool {
    asset.eq_ignore_ascii_case(BRIDGE_ASSET) && network.eq_ignore_ascii_case(BRIDGE_NETWORK)
}

/// The bridge contract on Arbitrum One: a USDC transfer to it is credited to the *sending* address.
pub const MAINNET_BRIDGE: &str = "0x2df1c51e09aecf9cacb7bc98cb1742757f163df7";

/// Testnet's bridge, on Arbitrum Sepolia.
pub const TESTNET_BRIDGE: &str = "0x08cfc1b6b2dcf36a1480b99353a354aa8ac56f89";

/// Deposits below this are lost by the bridge.
pub const MIN_BRIDGE_DEPOSIT: Decimal = Decimal::from_parts(5, 0, 0, false, 0);

/// How long a withdrawal whose answer was lost is looked for in the ledger before it is taken as never sent.
pub(crate) const WITHDRAW_RESOLVE_MS: i64 = 60_000;

/// The withdraw3 fee (USDC), taken from the amount.
pub const WITHDRAW_FEE: Decimal = Decimal::ONE;

impl HyperliquidClient {
    /// Send a spot token to another Hyperliquid address (user-signed; needs the account's own key).
    pub async fn spot_send(
        &self,
        destination: Address,
        token: &str,
        amount: Decimal,
    ) -> Result<(), VenueError> {
        let u = self.universe().await?;
        let token = u
            .token_wire(token)
            .ok_or_else(|| {
                self.err_rejected(RejectKind::Other, format!("unknown spot token {token:?}"))
            })?
            .to_string();
        let r = self
            .send_user("spotSend", |nonce, chain| {
                Action::SpotSend(SpotSend {
                    signature_chain_id: format!("{SIGNATURE_CHAIN_ID:#x}"),
                    hyperliquid_chain: chain.to_string(),
                    destination: Addr(destination),
                    token,
                    amount: Amount::of(amount),
                    time: nonce,
                })
            })
            .await?;
        self.default_ok(r, "spotSend")
    }

    /// Move USDC between the spot and perp balances of the account.
    pub async fn usd_class_transfer(
        &self,
        amount: Decimal,
        to_perp: bool,
    ) -> Result<(), VenueError> {
        let r = self
            .send_user("usdClassTransfer", |nonce, chain| {
                Action::UsdClassTransfer(UsdClassTransfer {
                    signature_chain_id: format!("{SIGNATURE_CHAIN_ID:#x}"),
                    hyperliquid_chain: chain.to_string(),
                    amount: Amount::of(amount),
                    to_perp,
                    nonce,
                })
            })
            .await?;
        self.default_ok(r, "usdClassTransfer")
    }

    pub(crate) fn withdraw_allowed(&self, a: &Address) -> bool {
        if self.opts.withdraw_addresses.is_empty() {
            *a == self.account
        } else {
            self.opts.withdraw_addresses.contains(a)
        }
    }

    /// Withdraw perp USDC to an Arbitrum address on the allow-list; returns the nonce that identifies it in
    /// the ledger. An `UnknownOutcome` must be resolved in the ledger (`transfers_since`) before any retry:
    /// a second call withdraws again ([`Venue::withdraw`] does that resolution by its client id).
    pub async fn withdraw3(
        &self,
        destination: Address,
        amount: Decimal,
    ) -> Result<u64, VenueError> {
        let (nonce, r) = self.withdraw3_sent(destination, amount).await;
        r.map(|_| nonce)
    }

    /// Send withdraw3; the nonce it went out with (0 if it never went out) and the outcome.
    pub(crate) async fn withdraw3_sent(
        &self,
        destination: Address,
        amount: Decimal,
    ) -> (u64, Result<(), VenueError>) {
        if !self.withdraw_allowed(&destination) {
            return (
                0,
                Err(self.err_rejected(
                    RejectKind::Other,
                    format!(
                        "withdrawal to {destination:#x} refused: not in `withdraw_addresses` (default: the account's own address)"
                    ),
                )),
            );
        }
        let mut used = 0;
        let r = self
            .send_user("withdraw3", |nonce, chain| {
                used = nonce;
                Action::Withdraw3(Withdraw3 {
                    signature_chain_id: format!("{SIGNATURE_CHAIN_ID:#x}"),
                    hyperliquid_chain: chain.to_string(),
                    destination: Addr(destination),
                    amount: Amount::of(amount),
                    time: nonce,
                })
            })
            .await;
        (used, r.and_then(|r| self.default_ok(r, "withdraw3")))
    }

    /// Is the withdraw3 with this nonce in the ledger (looking from `since`)?
    pub(crate) async fn ledger_has_withdrawal(
        &self,
        nonce: u64,
        since: TimestampMs,
    ) -> Result<bool, VenueError> {
        let updates: Vec<LedgerUpdate> = self
            .info(&InfoRequest::UserNonFundingLedgerUpdates {
                user: Addr(self.account),
                start_time: since,
                end_time: None,
            })
            .await?;
        Ok(updates
            .iter()
            .any(|u| matches!(u.delta, LedgerDelta::Withdraw { nonce: n, .. } if n == nonce)))
    }

    pub(crate) fn withdrawals(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (u64, TimestampMs)>> {
        self.withdrawals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Approve an API wallet to sign L1 actions for this account (user-signed by the account's key).
    pub async fn approve_agent(
        &self,
        agent: Address,
        name: Option<&str>,
    ) -> Result<(), VenueError> {
        let r = self
            .send_user("approveAgent", |nonce, chain| {
                Action::ApproveAgent(ApproveAgent {
                    signature_chain_id: format!("{SIGNATURE_CHAIN_ID:#x}"),
                    hyperliquid_chain: chain.to_string(),
                    agent_address: Addr(agent),
                    agent_name: name.map(str::to_string),
                    nonce,
                })
            })
            .await?;
        self.default_ok(r, "approveAgent")
    }

    pub(crate) fn default_ok(&self, r: OkResponse, what: &str) -> Result<(), VenueError> {
        match r {
            OkResponse::Default => Ok(()),
            other => match self.single(other, what)? {
                StatusEntry::Error(msg) => Err(map_error(&self.name, &msg)),
                _ => Ok(()),
            },
        }
    }

    /// Perp USDC the account may withdraw.
    pub async fn withdrawable(&self) -> Result<Decimal, VenueError> {
        let s: ClearinghouseState = self
            .info(&InfoRequest::ClearinghouseState {
                user: Addr(self.account),
                dex: None,
            })
            .await?;
        Ok(s.withdrawable.0)
    }

    pub(crate) fn bridge(&self) -> Address {
        self.opts.bridge_address.unwrap_or_else(|| {
            super::wire::parse_address(match self.opts.network {
                Network::Mainnet => MAINNET_BRIDGE,
                Network::Testnet => TESTNET_BRIDGE,
            })
            .expect("bridge constants are addresses")
        })
    }
}
