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

/// Whether `asset` goes in and out of Hyperliquid over `network` through the Arbitrum bridge: only USDC
/// over Arbitrum (credited to, and paid from, the perp account).
pub fn bridged(asset: &str, network: &str) -> bool {
    asset.eq_ignore_ascii_case(BRIDGE_ASSET) && network.eq_ignore_ascii_case(BRIDGE_NETWORK)
}

/// The network of HyperEVM (a chain named `hyperevm`).
pub const EVM_NETWORK: &str = "HYPEREVM";

/// How an asset enters and leaves Hyperliquid over a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// USDC over Arbitrum: the bridge contract credits the sender's perp USDC; `withdraw3` pays out from it.
    Bridge,
    /// A spot token linked to HyperEVM: an ERC-20 transfer to the token's system address credits the
    /// sender's spot balance; a `spotSend` to that address pays the sender's HyperEVM address.
    Evm,
}

/// The path of `asset` over `network`, if Hyperliquid has one. USDC over HyperEVM crosses through Circle's
/// CoreDepositWallet and HYPE as the native coin: neither is modelled, so neither has a path here.
pub fn path(asset: &str, network: &str) -> Option<Path> {
    if bridged(asset, network) {
        Some(Path::Bridge)
    } else if network.eq_ignore_ascii_case(EVM_NETWORK)
        && !asset.eq_ignore_ascii_case("USDC")
        && !asset.eq_ignore_ascii_case("HYPE")
    {
        Some(Path::Evm)
    } else {
        None
    }
}

/// The system address a linked spot token crosses through: `0x20`, zeros, then the token index big-endian
/// (token 200 is `0x2000…00c8`).
pub fn system_address(index: u32) -> Address {
    let mut b = [0u8; 20];
    b[0] = 0x20;
    b[12..].copy_from_slice(&u64::from(index).to_be_bytes());
    Address::from(b)
}

/// The token index a `0x20…` system address stands for.
pub fn system_token(a: &Address) -> Option<u32> {
    let b = a.as_slice();
    if b[0] != 0x20 || b[1..12].iter().any(|x| *x != 0) {
        return None;
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&b[12..]);
    u32::try_from(u64::from_be_bytes(n)).ok()
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
        self.usd_class_transfer_at(amount, to_perp, None).await
    }

    /// [`Self::usd_class_transfer`] with a given nonce (`None`: a fresh one). The action has no
    /// `expiresAfter`, so the nonce is what makes a retry safe: the same nonce is accepted once.
    pub async fn usd_class_transfer_at(
        &self,
        amount: Decimal,
        to_perp: bool,
        nonce: Option<u64>,
    ) -> Result<(), VenueError> {
        let r = self
            .send_user_at("usdClassTransfer", nonce, |nonce, chain| {
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

    /// A withdrawal's destination address.
    pub(crate) fn destination(&self, address: &str) -> Result<Address, VenueError> {
        super::wire::parse_address(&address.to_ascii_lowercase()).ok_or_else(|| {
            self.err_rejected(RejectKind::Other, format!("{address:?} is not an address"))
        })
    }

    /// The index of a spot token linked to HyperEVM.
    pub(crate) async fn evm_token(&self, asset: &str) -> Result<u32, VenueError> {
        let u = self.universe().await?;
        u.evm_linked(asset).ok_or_else(|| VenueError::Unsupported {
            venue: self.name.clone(),
            what: format!(
                "moving {asset} over {EVM_NETWORK}: the token is not linked to a HyperEVM contract (spotMeta evmContract)"
            ),
        })
    }

    /// A spot token to HyperEVM: `spotSend` to its system address, which pays the sender's own HyperEVM
    /// address (so the destination must be the account's address). Returns the ledger record's hash, the id
    /// [`Venue::transfers_since`] gives it; when the send went out and the record is not in the ledger yet,
    /// `UnknownOutcome` (the caller finds the record later by amount and time).
    pub(crate) async fn withdraw_to_evm(
        &self,
        req: &ballast_exec::WithdrawRequest,
    ) -> Result<String, VenueError> {
        let dest = self.destination(&req.address)?;
        if dest != self.account {
            return Err(self.err_rejected(
                RejectKind::Other,
                format!(
                    "a HyperEVM payout goes to the sending account's own address {:#x}, not {dest:#x}",
                    self.account
                ),
            ));
        }
        let index = self.evm_token(&req.asset).await?;
        let system = system_address(index);
        let prior = self.withdrawals().get(&req.client_id).copied();
        if let Some((_, sent_at)) = prior {
            if let Some(id) = self.ledger_spot_send(system, req.amount, sent_at).await? {
                return Ok(id);
            }
            if self.now() - sent_at < WITHDRAW_RESOLVE_MS {
                return Err(self.err_unknown(format!(
                    "HyperEVM withdrawal {} is not in the ledger yet; ask again later",
                    req.client_id
                )));
            }
            tracing::warn!(venue = %self.name, client_id = %req.client_id, "HyperEVM withdrawal never reached the ledger; sending it again");
        }
        let sent_at = self.now();
        let r = self.spot_send(system, &req.asset, req.amount).await;
        match &r {
            Ok(()) | Err(VenueError::UnknownOutcome { .. }) => {
                self.withdrawals()
                    .insert(req.client_id.clone(), (0, sent_at));
            }
            Err(_) => {
                self.withdrawals().remove(&req.client_id);
            }
        }
        r?;
        match self.ledger_spot_send(system, req.amount, sent_at).await? {
            Some(id) => Ok(id),
            None => Err(self.err_unknown(format!(
                "HyperEVM withdrawal {} was accepted and is not in the ledger yet",
                req.client_id
            ))),
        }
    }

    /// The hash of the newest spot send of `amount` to `to` in the ledger since `since` (newest: of two equal
    /// sends close together, each caller asks right after its own).
    async fn ledger_spot_send(
        &self,
        to: Address,
        amount: Decimal,
        since: TimestampMs,
    ) -> Result<Option<String>, VenueError> {
        let updates: Vec<LedgerUpdate> = self
            .info(&InfoRequest::UserNonFundingLedgerUpdates {
                user: Addr(self.account),
                start_time: since - 5_000,
                end_time: None,
            })
            .await?;
        Ok(updates
            .into_iter()
            .filter_map(|u| match u.delta {
                LedgerDelta::SpotTransfer {
                    amount: a,
                    user,
                    destination,
                    ..
                } if user.0 == self.account && destination.0 == to && a.0 == amount => {
                    Some((u.time, u.hash))
                }
                _ => None,
            })
            .max_by_key(|(t, _)| *t)
            .map(|(_, h)| h))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_addresses_carry_the_token_index() {
        // The venue's own example: token 200 crosses through 0x2000…00c8.
        let a = system_address(200);
        assert_eq!(
            format!("{a:#x}"),
            "0x20000000000000000000000000000000000000c8"
        );
        assert_eq!(system_token(&a), Some(200));
        assert_eq!(system_token(&system_address(0)), Some(0));
        // HYPE's 0x2222… and ordinary addresses are not token system addresses.
        assert_eq!(system_token(&Address::from([0x22; 20])), None);
        let mut b = [0u8; 20];
        b[0] = 0x20;
        b[5] = 1;
        assert_eq!(system_token(&Address::from(b)), None);
    }

    #[test]
    fn paths_in_and_out() {
        assert_eq!(path("USDC", "ARBITRUM"), Some(Path::Bridge));
        assert_eq!(path("usdc", "arbitrum"), Some(Path::Bridge));
        assert_eq!(path("USDT0", "HYPEREVM"), Some(Path::Evm));
        assert_eq!(path("USDT0", "ARBITRUM"), None);
        assert_eq!(path("USDC", "HYPEREVM"), None);
        assert_eq!(path("HYPE", "HYPEREVM"), None);
        assert_eq!(path("USDC", "BASE"), None);
    }
}
