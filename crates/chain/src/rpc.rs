//! The low-level node interface under [`super::ChainClient`]: what a JSON-RPC node (or the simulated ledger)
//! answers. The client adds everything that carries rules (signing, journaling, fees, confirmations).

use alloy::primitives::{Address, B256, Bytes, U256};
use async_trait::async_trait;

use super::Head;
use ballast_core::model::TimestampMs;

/// A failed read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// Transport, timeout, server error: the node is not answering properly.
    #[error("{0}")]
    Unavailable(String),
    /// The call itself reverted (e.g. gas estimation of a transfer that would fail).
    #[error("execution reverted: {0}")]
    Reverted(String),
    /// The node answered something that cannot be right.
    #[error("unexpected answer: {0}")]
    Invalid(String),
}

/// What a node says to a raw transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// It has this exact transaction already (fine: same hash).
    #[error("already known")]
    AlreadyKnown,
    /// The account's nonce is past this transaction's: another transaction with this nonce was mined.
    #[error("nonce too low: {0}")]
    NonceTooLow(String),
    /// A transaction with this nonce is pending with fees too close to these.
    #[error("replacement underpriced: {0}")]
    Underpriced(String),
    /// The node refused it for good (funds for gas, fee below the base fee floor, malformed...).
    #[error("{0}")]
    Rejected(String),
    /// No clear answer (transport, timeout): it may or may not have been accepted.
    #[error("{0}")]
    Unknown(String),
}

impl SendError {
    /// Classify a node's error message (geth, erigon, reth, nethermind, hardhat, the simulator).
    pub fn classify(message: &str) -> SendError {
        let m = message.to_ascii_lowercase();
        if m.contains("already known")
            || m.contains("known transaction")
            || m.contains("already imported")
            || m.contains("already exists")
        {
            SendError::AlreadyKnown
        } else if m.contains("nonce too low") || m.contains("nonce is too low") {
            SendError::NonceTooLow(message.to_string())
        } else if m.contains("underpriced") {
            SendError::Underpriced(message.to_string())
        } else {
            SendError::Rejected(message.to_string())
        }
    }
}

/// A mined transaction's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub block: u64,
    pub success: bool,
}

/// An ERC20 Transfer event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferLog {
    pub token: Address,
    pub from: Address,
    pub to: Address,
    pub value: U256,
    pub block: u64,
    pub block_time_ms: Option<TimestampMs>,
    pub tx_hash: B256,
    pub log_index: u64,
}

/// The node operations the chain client is built on.
#[async_trait]
pub trait Rpc: Send + Sync + 'static {
    async fn chain_id(&self) -> Result<u64, RpcError>;

    /// Node-specific checks when a client opens (e.g. that a configured multicall contract exists).
    async fn check(&self) -> Result<(), RpcError> {
        Ok(())
    }

    /// The latest block.
    async fn head(&self) -> Result<Head, RpcError>;

    /// A block by number; `None` when the node does not have it.
    async fn block(&self, number: u64) -> Result<Option<Head>, RpcError>;

    /// At `block`: the native balance of each of `natives`, then the balance of each `(token, owner)`, in
    /// order.
    async fn balances(
        &self,
        block: u64,
        natives: &[Address],
        tokens: &[(Address, Address)],
    ) -> Result<Vec<U256>, RpcError>;

    /// A token contract's `decimals()`.
    async fn decimals(&self, token: Address) -> Result<u8, RpcError>;

    /// Transactions sent from `account`: mined only (`pending = false`) or including the mempool.
    async fn nonce(&self, account: Address, pending: bool) -> Result<u64, RpcError>;

    /// The node's suggested priority fee, wei.
    async fn priority_fee(&self) -> Result<u128, RpcError>;

    /// Gas a call would use; `Reverted` when it would fail.
    async fn estimate_gas(
        &self,
        from: Address,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> Result<u64, RpcError>;

    /// Hand a signed EIP-2718 transaction to the node.
    async fn send_raw(&self, raw: &[u8]) -> Result<(), SendError>;

    /// The receipt of a mined transaction.
    async fn receipt(&self, hash: B256) -> Result<Option<Receipt>, RpcError>;

    /// The node knows the transaction (pending or mined).
    async fn known(&self, hash: B256) -> Result<bool, RpcError>;

    /// Transfer events of `token` to any of `to`, in `from_block..=to_block`.
    async fn transfer_logs(
        &self,
        token: Address,
        to: &[Address],
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<TransferLog>, RpcError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_messages_are_classified() {
        for m in [
            "already known",
            "Known transaction: 0xabc",
            "ALREADY_EXISTS: already known",
        ] {
            assert_eq!(SendError::classify(m), SendError::AlreadyKnown, "{m}");
        }
        assert!(matches!(
            SendError::classify("Nonce too low. Expected nonce to be 5 but got 4."),
            SendError::NonceTooLow(_)
        ));
        assert!(matches!(
            SendError::classify("replacement transaction underpriced"),
            SendError::Underpriced(_)
        ));
        assert!(matches!(
            SendError::classify("insufficient funds for gas * price + value"),
            SendError::Rejected(_)
        ));
    }
}
