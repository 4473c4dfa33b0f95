//! Deposits and withdrawals of the simulated exchange.
//!
//! A withdrawal takes its amount out of the account's available balance at once (it is held), and after the
//! network's delay the amount leaves the account: the network fee is kept by the venue and `amount - fee`
//! goes to the chain. A deposit is credited after the network's deposit delay. Every transfer has a record
//! (pending, then completed) that can be listed by time.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::exchange::{AccountEvent, SimExchange, SimReject};
use ballast_core::model::TimestampMs;
use ballast_exec::{TransferKind, TransferState, TransferStatus};

/// One way to move an asset in or out of the venue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCfg {
    pub asset: String,
    /// The venue's network name (e.g. `ARBITRUM`).
    pub network: String,
    /// Kept by the venue from each withdrawal.
    pub withdraw_fee: Decimal,
    /// Smallest withdrawal (before the fee).
    pub withdraw_min: Decimal,
    pub withdraw_delay_ms: u64,
    pub deposit_delay_ms: u64,
}

/// A deposit or withdrawal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimTransfer {
    pub kind: TransferKind,
    /// Increasing across the exchange.
    pub id: String,
    /// The caller's idempotency key (Binance `withdrawOrderId`).
    pub client_id: Option<String>,
    pub account: String,
    pub asset: String,
    pub network: String,
    /// Destination of a withdrawal, or the deposit address.
    pub address: String,
    /// Taken from the account (withdrawal) or credited to it (deposit).
    pub amount: Decimal,
    /// Kept by the venue; the chain receives `amount - fee` of a withdrawal.
    pub fee: Decimal,
    pub tx_hash: Option<String>,
    pub state: TransferState,
    pub created_ms: TimestampMs,
    /// When it completes (or completed).
    pub completes_ms: TimestampMs,
    pub updated_ms: TimestampMs,
}

impl SimTransfer {
    /// The venue-interface view.
    pub fn to_status(&self) -> TransferStatus {
        TransferStatus {
            kind: self.kind,
            id: self.id.clone(),
            client_id: self.client_id.clone(),
            asset: self.asset.clone(),
            network: self.network.clone(),
            amount: self.amount,
            fee: self.fee,
            tx_hash: self.tx_hash.clone(),
            state: self.state.clone(),
            updated_ms: self.updated_ms,
        }
    }

    /// A pending withdrawal holds its amount.
    pub(super) fn holds(&self) -> bool {
        self.kind == TransferKind::Withdrawal && self.state == TransferState::Pending
    }
}

fn hex_digest(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

impl SimExchange {
    /// The networks configured for an asset.
    pub fn networks(&self, asset: &str) -> Vec<&NetworkCfg> {
        self.networks.iter().filter(|n| n.asset == asset).collect()
    }

    fn network(&self, asset: &str, network: &str) -> Result<&NetworkCfg, SimReject> {
        self.networks
            .iter()
            .find(|n| n.asset == asset && n.network == network)
            .ok_or_else(|| SimReject::UnknownNetwork {
                asset: asset.to_string(),
                network: network.to_string(),
            })
    }

    /// The account's deposit address for an asset on a network: fixed per (account, network), `0x` + 40 hex.
    pub fn deposit_address(
        &self,
        account: &str,
        asset: &str,
        network: &str,
    ) -> Result<String, SimReject> {
        self.account(account)?;
        self.network(asset, network)?;
        Ok(format!(
            "0x{}",
            &hex_digest(&["ballast-sim-deposit", account, network])[..40]
        ))
    }

    /// Request a withdrawal. The amount is held at once and leaves after the network's delay. A request with
    /// the `client_id` of an earlier withdrawal of the account returns that withdrawal and does nothing else
    /// (idempotent retries).
    #[allow(clippy::too_many_arguments)]
    pub fn withdraw(
        &mut self,
        account: &str,
        asset: &str,
        network: &str,
        address: &str,
        amount: Decimal,
        client_id: Option<String>,
        now: TimestampMs,
    ) -> Result<SimTransfer, SimReject> {
        self.advance_to(now);
        let a = self.account(account)?;
        if let Some(c) = &client_id
            && let Some(ix) = self.accounts[a as usize].withdrawals_by_client.get(c)
        {
            return Ok(self.transfers[*ix].clone());
        }
        let net = self.network(asset, network)?.clone();
        if amount <= Decimal::ZERO {
            return Err(SimReject::InvalidAmount(amount));
        }
        if amount < net.withdraw_min || amount <= net.withdraw_fee {
            return Err(SimReject::WithdrawBelowMin {
                asset: asset.to_string(),
                amount,
                min: net.withdraw_min.max(net.withdraw_fee),
            });
        }
        let available = self.accounts[a as usize].available(asset);
        if amount > available {
            return Err(SimReject::InsufficientBalance {
                asset: asset.to_string(),
                needed: amount,
                available,
            });
        }
        self.accounts[a as usize].bal(asset).held += amount;
        // A withdrawal paid out by a chain bridge completes when the bridge says the payout is final.
        let completes_ms = if self.pays_on_chain(asset, network) {
            TimestampMs::MAX
        } else {
            self.now + net.withdraw_delay_ms as TimestampMs
        };
        let ix = self.new_transfer(SimTransfer {
            kind: TransferKind::Withdrawal,
            id: String::new(),
            client_id: client_id.clone(),
            account: account.to_string(),
            asset: asset.to_string(),
            network: network.to_string(),
            address: address.to_string(),
            amount,
            fee: net.withdraw_fee,
            tx_hash: None,
            state: TransferState::Pending,
            created_ms: self.now,
            completes_ms,
            updated_ms: self.now,
        });
        if let Some(c) = client_id {
            self.accounts[a as usize]
                .withdrawals_by_client
                .insert(c, ix);
        }
        self.complete_transfers(self.now);
        Ok(self.transfers[ix].clone())
    }

    /// A deposit seen on a chain: credited to the account after the network's deposit delay.
    pub fn deposit(
        &mut self,
        account: &str,
        asset: &str,
        network: &str,
        amount: Decimal,
        tx_hash: Option<String>,
        now: TimestampMs,
    ) -> Result<SimTransfer, SimReject> {
        self.advance_to(now);
        self.account(account)?;
        let net = self.network(asset, network)?.clone();
        if amount <= Decimal::ZERO {
            return Err(SimReject::InvalidAmount(amount));
        }
        let address = self.deposit_address(account, asset, network)?;
        let ix = self.new_transfer(SimTransfer {
            kind: TransferKind::Deposit,
            id: String::new(),
            client_id: None,
            account: account.to_string(),
            asset: asset.to_string(),
            network: network.to_string(),
            address,
            amount,
            fee: Decimal::ZERO,
            tx_hash,
            state: TransferState::Pending,
            created_ms: self.now,
            completes_ms: self.now + net.deposit_delay_ms as TimestampMs,
            updated_ms: self.now,
        });
        self.complete_transfers(self.now);
        Ok(self.transfers[ix].clone())
    }

    /// A transfer of `account` by id.
    pub fn transfer(&self, account: &str, id: &str) -> Result<Option<SimTransfer>, SimReject> {
        let a = self.account(account)?;
        Ok(self.accounts[a as usize]
            .transfers
            .iter()
            .map(|i| &self.transfers[*i])
            .find(|t| t.id == id)
            .cloned())
    }

    /// Transfers of `account` created or updated at or after `since`, oldest first.
    pub fn transfers_since(
        &self,
        account: &str,
        since: TimestampMs,
    ) -> Result<Vec<SimTransfer>, SimReject> {
        let a = self.account(account)?;
        Ok(self.accounts[a as usize]
            .transfers
            .iter()
            .map(|i| &self.transfers[*i])
            .filter(|t| t.updated_ms >= since)
            .cloned()
            .collect())
    }

    fn new_transfer(&mut self, mut t: SimTransfer) -> usize {
        let ix = self.transfers.len();
        t.id = (ix + 1).to_string();
        let a = self.account(&t.account).expect("checked by the caller");
        self.accounts[a as usize].transfers.push(ix);
        let ts = t.created_ms;
        if t.completes_ms != TimestampMs::MAX {
            self.pending.insert((t.completes_ms, ix));
        }
        self.transfers.push(t);
        self.emit(a, ts, |ex| AccountEvent::Transfer(ex.transfers[ix].clone()));
        ix
    }

    /// Complete every pending transfer due at or before `now`, in completion order.
    pub(super) fn complete_transfers(&mut self, now: TimestampMs) {
        while let Some(&(due, ix)) = self.pending.first() {
            if due > now {
                break;
            }
            self.pending.pop_first();
            self.complete(ix, due);
        }
    }

    /// Complete the pending transfer `ix` at `at`: its amount leaves (withdrawal) or reaches (deposit) the
    /// account.
    fn complete(&mut self, ix: usize, at: TimestampMs) {
        let t = self.transfers[ix].clone();
        let a = self.account(&t.account).expect("known account");
        let bal = self.accounts[a as usize].bal(&t.asset);
        match t.kind {
            TransferKind::Withdrawal => {
                bal.total -= t.amount;
                bal.held -= t.amount;
                let e = self.audit_entry(&t.asset);
                e.fees += t.fee;
                e.withdrawn += t.amount - t.fee;
            }
            TransferKind::Deposit => {
                bal.total += t.amount;
                self.audit_entry(&t.asset).deposited += t.amount;
            }
            // The simulator keeps one account per venue: nothing moves inside it.
            TransferKind::ToTrading | TransferKind::ToFunding => {}
        }
        let rec = &mut self.transfers[ix];
        rec.state = TransferState::Completed;
        rec.updated_ms = at;
        if rec.tx_hash.is_none() {
            rec.tx_hash = Some(format!(
                "0x{}",
                hex_digest(&["ballast-sim-transfer", &rec.id, &rec.account])
            ));
        }
        self.emit(a, at, |ex| AccountEvent::Transfer(ex.transfers[ix].clone()));
    }
}

/// Chain-bridged networks: deposits credited from transfers seen on a chain, withdrawals paid out by a
/// bridge (`venue::bridge`), which reports the transaction and the outcome.
impl SimExchange {
    /// From now on, withdrawals of `asset` over `network` stay pending until the bridge calls
    /// [`SimExchange::withdrawal_paid`] or [`SimExchange::withdrawal_failed`].
    pub fn pay_out_on_chain(&mut self, asset: &str, network: &str) {
        self.chain_paid
            .insert((asset.to_string(), network.to_string()));
    }

    /// Whether withdrawals of `asset` over `network` are paid out by a bridge.
    pub fn pays_on_chain(&self, asset: &str, network: &str) -> bool {
        self.chain_paid
            .contains(&(asset.to_string(), network.to_string()))
    }

    /// A deposit seen on a chain, identified by `key` (the network, transaction hash and log index): credited
    /// like [`SimExchange::deposit`] the first time, `None` every later time (exactly once, whoever asks).
    #[allow(clippy::too_many_arguments)]
    pub fn deposit_from_chain(
        &mut self,
        account: &str,
        asset: &str,
        network: &str,
        amount: Decimal,
        tx_hash: &str,
        key: &str,
        now: TimestampMs,
    ) -> Result<Option<SimTransfer>, SimReject> {
        if self.chain_credits.contains(key) {
            return Ok(None);
        }
        let t = self.deposit(
            account,
            asset,
            network,
            amount,
            Some(tx_hash.to_string()),
            now,
        )?;
        self.chain_credits.insert(key.to_string());
        Ok(Some(t))
    }

    /// Whether the chain transfer `key` was credited.
    pub fn chain_credited(&self, key: &str) -> bool {
        self.chain_credits.contains(key)
    }

    /// Pending withdrawals paid out by a bridge, oldest first.
    pub fn withdrawals_to_pay(&self) -> Vec<SimTransfer> {
        self.transfers
            .iter()
            .filter(|t| {
                t.kind == TransferKind::Withdrawal
                    && t.state == TransferState::Pending
                    && t.completes_ms == TimestampMs::MAX
            })
            .cloned()
            .collect()
    }

    fn bridged_withdrawal(&self, id: &str) -> Option<usize> {
        self.transfers.iter().position(|t| {
            t.id == id
                && t.kind == TransferKind::Withdrawal
                && t.state == TransferState::Pending
                && t.completes_ms == TimestampMs::MAX
        })
    }

    /// The payout of bridged withdrawal `id` was broadcast as `tx_hash` (shown in the history while it
    /// confirms). False when `id` is not a pending bridged withdrawal.
    pub fn withdrawal_sent(&mut self, id: &str, tx_hash: &str, now: TimestampMs) -> bool {
        self.advance_to(now);
        let Some(ix) = self.bridged_withdrawal(id) else {
            return false;
        };
        let rec = &mut self.transfers[ix];
        if rec.tx_hash.as_deref() != Some(tx_hash) {
            rec.tx_hash = Some(tx_hash.to_string());
            rec.updated_ms = self.now;
        }
        true
    }

    /// The payout of bridged withdrawal `id` is final on its chain: the withdrawal completes now. False when
    /// `id` is not a pending bridged withdrawal (completing twice does nothing).
    pub fn withdrawal_paid(&mut self, id: &str, tx_hash: &str, now: TimestampMs) -> bool {
        self.advance_to(now);
        let Some(ix) = self.bridged_withdrawal(id) else {
            return false;
        };
        self.transfers[ix].tx_hash = Some(tx_hash.to_string());
        self.complete(ix, self.now);
        true
    }

    /// The payout of bridged withdrawal `id` cannot be made: the withdrawal fails and its amount is
    /// released back to the account.
    pub fn withdrawal_failed(&mut self, id: &str, reason: &str, now: TimestampMs) -> bool {
        self.advance_to(now);
        let Some(ix) = self.bridged_withdrawal(id) else {
            return false;
        };
        let t = self.transfers[ix].clone();
        let a = self.account(&t.account).expect("known account");
        self.accounts[a as usize].bal(&t.asset).held -= t.amount;
        let rec = &mut self.transfers[ix];
        rec.state = TransferState::Failed(reason.to_string());
        rec.updated_ms = self.now;
        let at = self.now;
        self.emit(a, at, |ex| AccountEvent::Transfer(ex.transfers[ix].clone()));
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::{AccountCfg, SimExchangeCfg};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn exchange() -> SimExchange {
        SimExchange::new(
            &SimExchangeCfg {
                seed: 1,
                markets: Vec::new(),
                accounts: vec![AccountCfg {
                    name: "a".into(),
                    balances: BTreeMap::from([("USDC".to_string(), d("100"))]),
                }],
                networks: vec![NetworkCfg {
                    asset: "USDC".into(),
                    network: "ARBITRUM".into(),
                    withdraw_fee: d("1"),
                    withdraw_min: d("5"),
                    withdraw_delay_ms: 1_000,
                    deposit_delay_ms: 0,
                }],
            },
            0,
        )
        .unwrap()
    }

    fn bal(ex: &SimExchange) -> (Decimal, Decimal) {
        let a = ex.account("a").unwrap();
        let b = &ex.accounts[a as usize].balances["USDC"];
        (b.total, b.held)
    }

    #[test]
    fn chain_paid_withdrawals_wait_for_the_bridge() {
        let mut ex = exchange();
        ex.pay_out_on_chain("USDC", "ARBITRUM");
        let w = ex
            .withdraw("a", "USDC", "ARBITRUM", "0xabc", d("30"), None, 0)
            .unwrap();
        ex.advance_to(1_000_000);
        assert_eq!(ex.withdrawals_to_pay().len(), 1, "not completed by time");
        assert_eq!(bal(&ex), (d("100"), d("30")));
        assert!(ex.withdrawal_sent(&w.id, "0x01", 1_000_001));
        let t = ex.transfer("a", &w.id).unwrap().unwrap();
        assert_eq!(
            (t.state, t.tx_hash.as_deref()),
            (TransferState::Pending, Some("0x01"))
        );
        assert!(ex.withdrawal_paid(&w.id, "0x01", 1_000_002));
        assert!(!ex.withdrawal_paid(&w.id, "0x01", 1_000_003), "once");
        assert!(!ex.withdrawal_failed(&w.id, "late", 1_000_003));
        assert_eq!(bal(&ex), (d("70"), d("0")));
        assert!(ex.withdrawals_to_pay().is_empty());

        // A failed payout releases the funds.
        let w2 = ex
            .withdraw("a", "USDC", "ARBITRUM", "nope", d("20"), None, 1_000_004)
            .unwrap();
        assert_eq!(bal(&ex), (d("70"), d("20")));
        assert!(ex.withdrawal_failed(&w2.id, "not an address", 1_000_005));
        assert_eq!(bal(&ex), (d("70"), d("0")));
        assert!(matches!(
            ex.transfer("a", &w2.id).unwrap().unwrap().state,
            TransferState::Failed(_)
        ));
        assert!(ex.audit()["USDC"].balanced());
    }

    #[test]
    fn a_chain_transfer_is_credited_once() {
        let mut ex = exchange();
        let key = "arbitrum:0xaa:0";
        let t = ex
            .deposit_from_chain("a", "USDC", "ARBITRUM", d("5"), "0xaa", key, 0)
            .unwrap();
        assert!(t.is_some());
        assert!(ex.chain_credited(key));
        for _ in 0..2 {
            assert_eq!(
                ex.deposit_from_chain("a", "USDC", "ARBITRUM", d("5"), "0xaa", key, 1)
                    .unwrap(),
                None
            );
        }
        // Another log of the same transaction is another transfer.
        assert!(
            ex.deposit_from_chain(
                "a",
                "USDC",
                "ARBITRUM",
                d("5"),
                "0xaa",
                "arbitrum:0xaa:1",
                2
            )
            .unwrap()
            .is_some()
        );
        ex.advance_to(10);
        assert_eq!(bal(&ex).0, d("110"));
        assert!(ex.audit()["USDC"].balanced());
    }
}
