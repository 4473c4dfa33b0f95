//! [`EvmChain`]: a real EVM node over JSON-RPC, through alloy.
//!
//! Balances are read at one block number: with a Multicall3-compatible contract in a single `eth_call`
//! when one is configured, otherwise with concurrent `eth_getBalance` / `eth_call` requests all pinned to
//! the same block number (never `latest`), so a transfer mined between two requests cannot make one
//! snapshot mix two blocks.
//!
//! Every request has a timeout; errors never contain the RPC URL (which may embed an API key).

use std::sync::Arc;
use std::time::Duration;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent};
use alloy::transports::TransportError;
use async_trait::async_trait;

use super::abi::{IERC20, IMulticall3};
use super::client::{ChainClient, ChainContext};
use super::keys::EnvLookup;
use super::rpc::{Receipt, Rpc, RpcError, SendError, TransferLog};
use super::{ChainError, Head};
use ballast_config::chains::{ChainCfg, ChainKind, RpcSource};

/// A chain served by a JSON-RPC node.
pub type EvmChain = ChainClient<EvmRpc>;

/// The JSON-RPC node of one chain.
#[derive(Clone)]
pub struct EvmRpc {
    provider: RootProvider,
    multicall: Option<Address>,
    timeout: Duration,
    /// Text to cut from error messages (the URL, its host and path).
    secrets: Arc<Vec<String>>,
}

impl std::fmt::Debug for EvmRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmRpc")
            .field("multicall", &self.multicall)
            .finish_non_exhaustive()
    }
}

impl EvmRpc {
    /// A node at `url`. `multicall`: a Multicall3-compatible contract for one-call balance reads.
    pub fn new(url: &str, multicall: Option<Address>, timeout: Duration) -> Result<EvmRpc, String> {
        let parsed: reqwest::Url = url
            .parse()
            .map_err(|_| "the RPC URL is not a valid URL".to_string())?;
        let mut secrets = vec![url.to_string(), url.trim_end_matches('/').to_string()];
        let path = parsed.path().trim_matches('/');
        if !path.is_empty() {
            secrets.push(path.to_string());
        }
        if let Some(q) = parsed.query() {
            secrets.push(q.to_string());
        }
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let provider = http_provider(parsed, timeout)?;
        Ok(EvmRpc {
            provider,
            multicall,
            timeout,
            secrets: Arc::new(secrets),
        })
    }

    /// The underlying provider (test harness: deployments, node controls).
    pub fn provider(&self) -> &RootProvider {
        &self.provider
    }

    fn redact(&self, msg: String) -> String {
        let mut m = msg;
        for s in self.secrets.iter() {
            if !s.is_empty() {
                m = m.replace(s.as_str(), "<rpc>");
            }
        }
        m
    }

    fn err(&self, e: TransportError) -> RpcError {
        if let Some(resp) = e.as_error_resp() {
            let msg = self.redact(resp.message.to_string());
            if msg.to_ascii_lowercase().contains("revert") {
                return RpcError::Reverted(msg);
            }
            return RpcError::Unavailable(format!("node error {}: {msg}", resp.code));
        }
        RpcError::Unavailable(self.redact(e.to_string()))
    }

    /// One request with the timeout, retried once when the connection failed before any answer (a
    /// pooled connection the server had just closed). Only for requests that are safe to repeat.
    async fn timed<T, F>(&self, f: impl Fn() -> F) -> Result<T, RpcError>
    where
        F: std::future::IntoFuture<Output = Result<T, TransportError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match tokio::time::timeout(self.timeout, f().into_future()).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e))
                    if attempt == 1 && e.as_error_resp().is_none() && e.is_transport_error() =>
                {
                    tracing::debug!(
                        "retrying an RPC request after: {}",
                        self.redact(e.to_string())
                    );
                }
                Ok(Err(e)) => return Err(self.err(e)),
                Err(_) => {
                    return Err(RpcError::Unavailable(format!(
                        "no answer within {} ms",
                        self.timeout.as_millis()
                    )));
                }
            }
        }
    }

    async fn eth_call(&self, to: Address, data: Vec<u8>, block: u64) -> Result<Bytes, RpcError> {
        let req = TransactionRequest::default().to(to).input(data.into());
        self.timed(|| {
            self.provider
                .call(req.clone())
                .block(BlockId::number(block))
        })
        .await
    }

    async fn multicall_balances(
        &self,
        mc: Address,
        block: u64,
        natives: &[Address],
        tokens: &[(Address, Address)],
    ) -> Result<Vec<U256>, RpcError> {
        let calls: Vec<IMulticall3::Call3> = natives
            .iter()
            .map(|a| IMulticall3::Call3 {
                target: mc,
                allowFailure: false,
                callData: IMulticall3::getEthBalanceCall { addr: *a }
                    .abi_encode()
                    .into(),
            })
            .chain(tokens.iter().map(|(t, o)| IMulticall3::Call3 {
                target: *t,
                allowFailure: false,
                callData: IERC20::balanceOfCall { account: *o }.abi_encode().into(),
            }))
            .collect();
        let out = self
            .eth_call(
                mc,
                IMulticall3::aggregate3Call { calls }.abi_encode(),
                block,
            )
            .await?;
        let results = IMulticall3::aggregate3Call::abi_decode_returns(&out)
            .map_err(|e| RpcError::Invalid(format!("multicall answer: {e}")))?;
        results
            .iter()
            .map(|r| {
                if !r.success || r.returnData.len() != 32 {
                    return Err(RpcError::Invalid(
                        "a balance call in the multicall failed".into(),
                    ));
                }
                Ok(U256::from_be_slice(&r.returnData))
            })
            .collect()
    }

    async fn pinned_balances(
        &self,
        block: u64,
        natives: &[Address],
        tokens: &[(Address, Address)],
    ) -> Result<Vec<U256>, RpcError> {
        let mut set = tokio::task::JoinSet::new();
        for (i, a) in natives.iter().enumerate() {
            let (me, a) = (self.clone(), *a);
            set.spawn(async move {
                let r = me
                    .timed(|| me.provider.get_balance(a).block_id(BlockId::number(block)))
                    .await;
                (i, r)
            });
        }
        let n = natives.len();
        for (j, (t, o)) in tokens.iter().enumerate() {
            let (me, t, o) = (self.clone(), *t, *o);
            set.spawn(async move {
                let data = IERC20::balanceOfCall { account: o }.abi_encode();
                let r = me.eth_call(t, data, block).await.and_then(|out| {
                    IERC20::balanceOfCall::abi_decode_returns(&out)
                        .map_err(|e| RpcError::Invalid(format!("balanceOf answer: {e}")))
                });
                (n + j, r)
            });
        }
        let mut out = vec![U256::ZERO; natives.len() + tokens.len()];
        while let Some(joined) = set.join_next().await {
            let (i, r) = joined.map_err(|e| RpcError::Invalid(format!("balance task: {e}")))?;
            out[i] = r?;
        }
        Ok(out)
    }
}

/// An HTTP provider whose pooled connections are dropped after 1 s idle, well before common servers'
/// keep-alive timeouts (5 s for Node.js), so a request is not sent on a connection being closed.
pub fn http_provider(url: reqwest::Url, timeout: Duration) -> Result<RootProvider, String> {
    provider_with(url, timeout, true)
}

/// An HTTP provider that opens a connection per request and keeps none. For a provider shared by several
/// tokio runtimes (a test node shared by the tests of one binary, each with its own runtime): a pooled
/// connection is driven by a task of the runtime that opened it, and fails once that runtime is gone.
pub fn http_provider_unpooled(
    url: reqwest::Url,
    timeout: Duration,
) -> Result<RootProvider, String> {
    provider_with(url, timeout, false)
}

fn provider_with(
    url: reqwest::Url,
    timeout: Duration,
    pooled: bool,
) -> Result<RootProvider, String> {
    let mut b = reqwest::Client::builder().timeout(timeout);
    b = if pooled {
        b.pool_idle_timeout(Duration::from_secs(1))
    } else {
        b.pool_max_idle_per_host(0)
    };
    let client = b
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let http = alloy::transports::http::Http::with_client(client, url);
    Ok(RootProvider::new(alloy::rpc::client::RpcClient::new(
        http, false,
    )))
}

fn head_of(b: &alloy::rpc::types::Block) -> Head {
    Head {
        number: b.header.number,
        timestamp_ms: (b.header.timestamp as i64).saturating_mul(1000),
        base_fee: b.header.base_fee_per_gas.map(u128::from),
    }
}

#[async_trait]
impl Rpc for EvmRpc {
    async fn chain_id(&self) -> Result<u64, RpcError> {
        self.timed(|| self.provider.get_chain_id()).await
    }

    /// A configured multicall address must hold a contract (a wrong address would fail every balance read).
    async fn check(&self) -> Result<(), RpcError> {
        let Some(mc) = self.multicall else {
            return Ok(());
        };
        let code = self.timed(|| self.provider.get_code_at(mc)).await?;
        if code.is_empty() {
            return Err(RpcError::Invalid(format!(
                "the multicall address {mc} holds no contract on this chain"
            )));
        }
        Ok(())
    }

    async fn head(&self) -> Result<Head, RpcError> {
        let b = self
            .timed(|| self.provider.get_block_by_number(BlockNumberOrTag::Latest))
            .await?
            .ok_or_else(|| RpcError::Invalid("no latest block".into()))?;
        Ok(head_of(&b))
    }

    async fn block(&self, number: u64) -> Result<Option<Head>, RpcError> {
        Ok(self
            .timed(|| {
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Number(number))
            })
            .await?
            .map(|b| head_of(&b)))
    }

    async fn balances(
        &self,
        block: u64,
        natives: &[Address],
        tokens: &[(Address, Address)],
    ) -> Result<Vec<U256>, RpcError> {
        match self.multicall {
            Some(mc) => self.multicall_balances(mc, block, natives, tokens).await,
            None => self.pinned_balances(block, natives, tokens).await,
        }
    }

    async fn decimals(&self, token: Address) -> Result<u8, RpcError> {
        let req = TransactionRequest::default()
            .to(token)
            .input(IERC20::decimalsCall {}.abi_encode().into());
        let out = self.timed(|| self.provider.call(req.clone())).await?;
        IERC20::decimalsCall::abi_decode_returns(&out)
            .map_err(|e| RpcError::Invalid(format!("decimals() of {token}: {e}")))
    }

    async fn nonce(&self, account: Address, pending: bool) -> Result<u64, RpcError> {
        if pending {
            self.timed(|| self.provider.get_transaction_count(account).pending())
                .await
        } else {
            self.timed(|| self.provider.get_transaction_count(account).latest())
                .await
        }
    }

    async fn priority_fee(&self) -> Result<u128, RpcError> {
        self.timed(|| self.provider.get_max_priority_fee_per_gas())
            .await
    }

    async fn estimate_gas(
        &self,
        from: Address,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> Result<u64, RpcError> {
        let req = TransactionRequest::default()
            .from(from)
            .to(to)
            .value(value)
            .input(data.into());
        self.timed(|| self.provider.estimate_gas(req.clone())).await
    }

    async fn send_raw(&self, raw: &[u8]) -> Result<(), SendError> {
        // Sending the same signed bytes again is harmless (same hash: "already known"), so the retry
        // after a failed connection applies here too.
        match self.timed(|| self.provider.send_raw_transaction(raw)).await {
            Ok(_pending) => Ok(()),
            Err(RpcError::Unavailable(m)) if m.starts_with("node error") => {
                Err(SendError::classify(&m))
            }
            Err(RpcError::Reverted(m)) => Err(SendError::Rejected(m)),
            Err(e) => Err(SendError::Unknown(e.to_string())),
        }
    }

    async fn receipt(&self, hash: B256) -> Result<Option<Receipt>, RpcError> {
        let r = self
            .timed(|| self.provider.get_transaction_receipt(hash))
            .await?;
        Ok(r.and_then(|r| {
            r.block_number.map(|block| Receipt {
                block,
                success: r.status(),
            })
        }))
    }

    async fn known(&self, hash: B256) -> Result<bool, RpcError> {
        Ok(self
            .timed(|| self.provider.get_transaction_by_hash(hash))
            .await?
            .is_some())
    }

    async fn transfer_logs(
        &self,
        token: Address,
        to: &[Address],
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<TransferLog>, RpcError> {
        if to.is_empty() {
            return Ok(Vec::new());
        }
        let topics: Vec<B256> = to.iter().map(|a| a.into_word()).collect();
        let filter = Filter::new()
            .address(token)
            .event_signature(IERC20::Transfer::SIGNATURE_HASH)
            .topic2(topics)
            .from_block(from_block)
            .to_block(to_block);
        let logs = self.timed(|| self.provider.get_logs(&filter)).await?;
        let mut out = Vec::with_capacity(logs.len());
        let mut times: std::collections::BTreeMap<u64, Option<i64>> = Default::default();
        for l in logs {
            if l.removed {
                continue;
            }
            let ev = IERC20::Transfer::decode_log_data(l.data())
                .map_err(|e| RpcError::Invalid(format!("Transfer log: {e}")))?;
            let (Some(block), Some(tx_hash), Some(log_index)) =
                (l.block_number, l.transaction_hash, l.log_index)
            else {
                continue;
            };
            let block_time_ms = match l.block_timestamp {
                Some(t) => Some(t as i64 * 1000),
                None => match times.get(&block) {
                    Some(t) => *t,
                    None => {
                        let t = self.block(block).await?.map(|h| h.timestamp_ms);
                        times.insert(block, t);
                        t
                    }
                },
            };
            out.push(TransferLog {
                token,
                from: ev.from,
                to: ev.to,
                value: ev.value,
                block,
                block_time_ms,
                tx_hash,
                log_index,
            });
        }
        Ok(out)
    }
}

impl ChainClient<EvmRpc> {
    /// Connect to a configured EVM chain: resolve the RPC URL, load the keys (from `env`), check the node's
    /// chain id and every token's decimals.
    pub async fn connect(
        cfg: &ChainCfg,
        ctx: ChainContext,
        env: EnvLookup<'_>,
    ) -> Result<EvmChain, ChainError> {
        let err = |reason: String| ChainError::Rpc {
            chain: cfg.name.clone(),
            reason,
        };
        if cfg.kind != ChainKind::Evm {
            return Err(err("not an EVM chain (kind = \"sim\")".into()));
        }
        let url = match &cfg.rpc {
            Some(RpcSource::Url(u)) => u.clone(),
            Some(RpcSource::Env(var)) => {
                env(var).ok_or_else(|| err(format!("environment variable {var} is not set")))?
            }
            None => return Err(err("no RPC URL configured".into())),
        };
        let rpc = EvmRpc::new(&url, cfg.multicall, cfg.rpc_timeout).map_err(err)?;
        Self::open_configured(cfg, Arc::new(rpc), ctx, env).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_never_show_the_rpc_url() {
        // Nothing listens on port 9 of loopback; the URL carries a fake API key.
        let rpc = EvmRpc::new(
            "http://127.0.0.1:9/v2/SECRETKEY123?apikey=SECRET456",
            None,
            Duration::from_secs(2),
        )
        .unwrap();
        let e = rpc.head().await.unwrap_err().to_string();
        assert!(
            !e.contains("SECRETKEY123") && !e.contains("SECRET456"),
            "{e}"
        );
        let e = rpc.send_raw(&[1, 2, 3]).await.unwrap_err().to_string();
        assert!(!e.contains("SECRETKEY123"), "{e}");
    }
}
