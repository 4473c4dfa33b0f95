//! [`SimChain`]: an in-process EVM-like ledger for paper mode, the no-network demo and tests.
//!
//! It behaves like a chain where that matters for ballast: it takes the same signed EIP-1559 transactions
//! (the signer is recovered from the signature, the chain id checked), keeps per-account nonces, a mempool
//! with the usual replacement rule (both fees +10%), produces blocks at a fixed block time of its
//! [`Clock`], includes a transaction only while its max fee covers the block's base fee, charges gas,
//! executes ERC20 `transfer` calls (reverting on insufficient balance), emits Transfer events and keeps
//! receipts. Everything is deterministic given the clock.
//!
//! Test and demo controls: [`SimLedger::mint`], [`SimLedger::set_base_fee`] (make a transaction stuck),
//! [`SimLedger::pause`] / [`SimLedger::resume`] (stop block production), [`SimLedger::set_failing`] (an
//! RPC outage).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use alloy::consensus::{SignableTransaction, Transaction as _, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use async_trait::async_trait;

use super::Head;
use super::abi::decode_transfer;
use super::client::ChainClient;
use super::rpc::{Receipt, Rpc, RpcError, SendError, TransferLog};
use ballast_config::chains::ChainCfg;
use ballast_core::model::TimestampMs;
use ballast_exec::Clock;

/// A chain served by the simulated ledger.
pub type SimChain = ChainClient<SimLedger>;

/// Gas of a plain value transfer.
pub const NATIVE_GAS: u64 = 21_000;
/// Gas the simulator charges for an ERC20 transfer.
pub const TOKEN_GAS: u64 = 51_000;

/// Parameters of a simulated chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimParams {
    pub chain_id: u64,
    pub block_ms: i64,
    /// Clock time of block 0.
    pub genesis_ms: TimestampMs,
    /// Base fee of every block until changed, wei.
    pub base_fee: u128,
    /// The priority fee the node suggests, wei.
    pub priority_fee: u128,
}

impl SimParams {
    /// From a `[[chain]]` section: its chain id and block time, 1 gwei base fee, 0.1 gwei tip.
    pub fn from_config(cfg: &ChainCfg, genesis_ms: TimestampMs) -> SimParams {
        SimParams {
            chain_id: cfg.chain_id,
            block_ms: cfg.block_time.as_millis().max(1) as i64,
            genesis_ms,
            base_fee: 1_000_000_000,
            priority_fee: 100_000_000,
        }
    }
}

/// A value over blocks: `(from_block, value)`, increasing.
#[derive(Clone, Debug, Default)]
struct History(Vec<(u64, U256)>);

impl History {
    fn at(&self, block: u64) -> U256 {
        match self.0.partition_point(|(b, _)| *b <= block) {
            0 => U256::ZERO,
            i => self.0[i - 1].1,
        }
    }
    fn latest(&self) -> U256 {
        self.0.last().map(|(_, v)| *v).unwrap_or(U256::ZERO)
    }
    fn set(&mut self, block: u64, v: U256) {
        match self.0.last_mut() {
            Some((b, old)) if *b == block => *old = v,
            _ => self.0.push((block, v)),
        }
    }
}

#[derive(Clone, Debug)]
struct PoolTx {
    hash: B256,
    from: Address,
    nonce: u64,
    max_fee: u128,
    prio: u128,
    gas_limit: u64,
    to: Address,
    value: U256,
    input: Bytes,
}

#[derive(Debug)]
struct State {
    p: SimParams,
    head: u64,
    /// When the next block is due.
    next_at: TimestampMs,
    /// `block -> time` where the block-time spacing restarts (block 0, mined blocks, resumes).
    anchors: BTreeMap<u64, TimestampMs>,
    /// `block -> base fee` from that block on.
    fees: BTreeMap<u64, u128>,
    base_fee: u128,
    paused: bool,
    failing: Option<String>,
    nonces: HashMap<Address, u64>,
    native: HashMap<Address, History>,
    /// token -> (decimals, owner -> balance)
    tokens: HashMap<Address, (u8, HashMap<Address, History>)>,
    pool: Vec<PoolTx>,
    receipts: HashMap<B256, Receipt>,
    logs: Vec<TransferLog>,
}

impl State {
    fn time_of(&self, block: u64) -> TimestampMs {
        let (b, t) = self
            .anchors
            .range(..=block)
            .next_back()
            .map(|(b, t)| (*b, *t))
            .unwrap_or((0, self.p.genesis_ms));
        t + (block - b) as i64 * self.p.block_ms
    }

    fn fee_of(&self, block: u64) -> u128 {
        self.fees
            .range(..=block)
            .next_back()
            .map(|(_, f)| *f)
            .unwrap_or(self.p.base_fee)
    }

    fn nonce(&self, a: &Address) -> u64 {
        self.nonces.get(a).copied().unwrap_or(0)
    }

    fn native(&self, a: &Address) -> U256 {
        self.native.get(a).map(History::latest).unwrap_or_default()
    }

    fn token_balance(&self, token: &Address, a: &Address) -> Option<U256> {
        self.tokens
            .get(token)
            .map(|(_, b)| b.get(a).map(History::latest).unwrap_or_default())
    }

    fn set_native(&mut self, a: Address, v: U256) {
        let block = self.head;
        self.native.entry(a).or_default().set(block, v);
    }

    fn set_token(&mut self, token: Address, a: Address, v: U256) {
        let block = self.head;
        if let Some((_, b)) = self.tokens.get_mut(&token) {
            b.entry(a).or_default().set(block, v);
        }
    }

    /// Produce every block the clock has passed.
    fn sync(&mut self, now: TimestampMs) {
        if self.paused {
            return;
        }
        while self.next_at <= now {
            if self.pool.is_empty() {
                // Empty blocks up to now, in one step.
                let k = (now - self.next_at) / self.p.block_ms + 1;
                self.anchors.insert(self.head + 1, self.next_at);
                self.head += k as u64;
                self.next_at += k * self.p.block_ms;
                break;
            }
            let t = self.next_at;
            self.mine_one(t);
            self.next_at += self.p.block_ms;
        }
    }

    fn mine_one(&mut self, time: TimestampMs) {
        self.head += 1;
        self.anchors.insert(self.head, time);
        let base = self.base_fee;
        if self.fee_of(self.head) != base {
            self.fees.insert(self.head, base);
        }
        let mut log_index = 0u64;
        loop {
            let pick = self
                .pool
                .iter()
                .enumerate()
                .filter(|(_, t)| t.max_fee >= base && t.nonce == self.nonce(&t.from))
                .max_by(|(_, a), (_, b)| {
                    let ea = a.prio.min(a.max_fee - base);
                    let eb = b.prio.min(b.max_fee - base);
                    ea.cmp(&eb).then(b.hash.cmp(&a.hash))
                })
                .map(|(i, _)| i);
            let Some(i) = pick else { break };
            let tx = self.pool.remove(i);
            self.execute(tx, base, &mut log_index);
        }
    }

    fn execute(&mut self, tx: PoolTx, base: u128, log_index: &mut u64) {
        let price = base + tx.prio.min(tx.max_fee - base);
        let transfer = if tx.input.is_empty() {
            None
        } else {
            decode_transfer(&tx.input).filter(|_| self.tokens.contains_key(&tx.to))
        };
        let needed = match (&transfer, tx.input.is_empty()) {
            (_, true) => NATIVE_GAS,
            (Some(_), false) => TOKEN_GAS,
            (None, false) => tx.gas_limit.min(TOKEN_GAS),
        };
        let out_of_gas = tx.gas_limit < needed;
        let gas_used = if out_of_gas { tx.gas_limit } else { needed };
        let fee = U256::from(gas_used) * U256::from(price);
        let balance = self.native(&tx.from);
        if balance < fee + tx.value {
            // Cannot pay any more: a real node drops it without using the nonce.
            return;
        }
        self.nonces.insert(tx.from, tx.nonce + 1);
        self.set_native(tx.from, balance - fee);
        let mut success = !out_of_gas && (transfer.is_some() || tx.input.is_empty());
        if success && tx.input.is_empty() && !tx.value.is_zero() {
            let from_bal = self.native(&tx.from);
            self.set_native(tx.from, from_bal - tx.value);
            let to_bal = self.native(&tx.to);
            self.set_native(tx.to, to_bal + tx.value);
        }
        if success && let Some((to, amount)) = transfer {
            let have = self.token_balance(&tx.to, &tx.from).unwrap_or_default();
            if have < amount {
                success = false;
            } else {
                self.set_token(tx.to, tx.from, have - amount);
                let dest = self.token_balance(&tx.to, &to).unwrap_or_default();
                self.set_token(tx.to, to, dest + amount);
                self.logs.push(TransferLog {
                    token: tx.to,
                    from: tx.from,
                    to,
                    value: amount,
                    block: self.head,
                    block_time_ms: Some(self.time_of(self.head)),
                    tx_hash: tx.hash,
                    log_index: *log_index,
                });
                *log_index += 1;
            }
        }
        self.receipts.insert(
            tx.hash,
            Receipt {
                block: self.head,
                success,
            },
        );
    }

    fn accept(&mut self, raw: &[u8]) -> Result<(), SendError> {
        let env = TxEnvelope::decode_2718(&mut &raw[..])
            .map_err(|e| SendError::Rejected(format!("invalid transaction: {e}")))?;
        let TxEnvelope::Eip1559(signed) = &env else {
            return Err(SendError::Rejected(
                "only EIP-1559 transactions are accepted".into(),
            ));
        };
        let hash = *signed.hash();
        if self.receipts.contains_key(&hash) || self.pool.iter().any(|t| t.hash == hash) {
            return Err(SendError::AlreadyKnown);
        }
        let tx = signed.tx();
        if tx.chain_id != self.p.chain_id {
            return Err(SendError::Rejected(format!(
                "invalid chain id {} (this chain is {})",
                tx.chain_id, self.p.chain_id
            )));
        }
        let from = signed
            .signature()
            .recover_address_from_prehash(&tx.signature_hash())
            .map_err(|e| SendError::Rejected(format!("invalid signature: {e}")))?;
        let current = self.nonce(&from);
        if tx.nonce < current {
            return Err(SendError::NonceTooLow(format!(
                "nonce too low: next nonce {current}, tx nonce {}",
                tx.nonce
            )));
        }
        let TxKind::Call(to) = tx.to else {
            return Err(SendError::Rejected(
                "contract creation is not simulated".into(),
            ));
        };
        if tx.max_priority_fee_per_gas > tx.max_fee_per_gas {
            return Err(SendError::Rejected(
                "max priority fee per gas higher than max fee per gas".into(),
            ));
        }
        let upfront = U256::from(tx.gas_limit) * U256::from(tx.max_fee_per_gas) + tx.value;
        if self.native(&from) < upfront {
            return Err(SendError::Rejected(format!(
                "insufficient funds for gas * price + value: have {} want {upfront}",
                self.native(&from)
            )));
        }
        if let Some(i) = self
            .pool
            .iter()
            .position(|t| t.from == from && t.nonce == tx.nonce)
        {
            let old = &self.pool[i];
            let enough = |new: u128, old: u128| new.saturating_mul(10) >= old.saturating_mul(11);
            if !(enough(tx.max_fee_per_gas, old.max_fee)
                && enough(tx.max_priority_fee_per_gas, old.prio))
            {
                return Err(SendError::Underpriced(
                    "replacement transaction underpriced".into(),
                ));
            }
            self.pool.remove(i);
        }
        self.pool.push(PoolTx {
            hash,
            from,
            nonce: tx.nonce,
            max_fee: tx.max_fee_per_gas,
            prio: tx.max_priority_fee_per_gas,
            gas_limit: tx.gas_limit,
            to,
            value: tx.value,
            input: tx.input().clone(),
        });
        Ok(())
    }
}

/// The simulated ledger of one chain. Share it (`Arc`) between clients: a client can be dropped and
/// rebuilt (a crash) while the ledger lives on.
pub struct SimLedger {
    clock: Arc<dyn Clock>,
    st: Mutex<State>,
}

impl std::fmt::Debug for SimLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimLedger").finish_non_exhaustive()
    }
}

impl SimLedger {
    pub fn new(p: SimParams, clock: Arc<dyn Clock>) -> Arc<SimLedger> {
        let genesis = p.genesis_ms;
        let base_fee = p.base_fee;
        let p_block_ms = p.block_ms;
        Arc::new(SimLedger {
            clock,
            st: Mutex::new(State {
                p,
                head: 0,
                next_at: genesis + p_block_ms,
                anchors: BTreeMap::from([(0, genesis)]),
                fees: BTreeMap::new(),
                base_fee,
                paused: false,
                failing: None,
                nonces: HashMap::new(),
                native: HashMap::new(),
                tokens: HashMap::new(),
                pool: Vec::new(),
                receipts: HashMap::new(),
                logs: Vec::new(),
            }),
        })
    }

    /// A ledger for a `[[chain]]` section with its tokens deployed at their configured addresses.
    pub fn for_chain(cfg: &ChainCfg, clock: Arc<dyn Clock>) -> Arc<SimLedger> {
        let l = SimLedger::new(SimParams::from_config(cfg, clock.now_ms()), clock);
        for t in &cfg.tokens {
            l.add_token(t.address, t.decimals);
        }
        l
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        let mut st = self.st.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now_ms();
        st.sync(now);
        st
    }

    fn serving(&self) -> Result<std::sync::MutexGuard<'_, State>, RpcError> {
        let st = self.state();
        match &st.failing {
            Some(r) => Err(RpcError::Unavailable(r.clone())),
            None => Ok(st),
        }
    }

    /// Deploy a token at `address`.
    pub fn add_token(&self, address: Address, decimals: u8) {
        self.state()
            .tokens
            .entry(address)
            .or_insert_with(|| (decimals, HashMap::new()));
    }

    /// Credit `raw` units of `token` to `to` (a mint: no transaction).
    pub fn mint(&self, token: Address, to: Address, raw: U256) {
        let mut st = self.state();
        let have = st.token_balance(&token, &to).unwrap_or_default();
        st.set_token(token, to, have + raw);
    }

    /// Debit up to `raw` units of `token` from `from` (an outflow from outside: no transaction); returns
    /// what was taken (never more than the balance).
    pub fn burn(&self, token: Address, from: Address, raw: U256) -> U256 {
        let mut st = self.state();
        let have = st.token_balance(&token, &from).unwrap_or_default();
        let take = raw.min(have);
        st.set_token(token, from, have - take);
        take
    }

    /// Set an account's native balance, wei.
    pub fn set_native(&self, a: Address, wei: U256) {
        self.state().set_native(a, wei);
    }

    /// The base fee of the blocks from now on, wei.
    pub fn set_base_fee(&self, wei: u128) {
        self.state().base_fee = wei;
    }

    /// Stop producing blocks (transactions wait in the mempool).
    pub fn pause(&self) {
        self.state().paused = true;
    }

    /// Produce blocks again, the next one a block time from now.
    pub fn resume(&self) {
        let now = self.clock.now_ms();
        let mut st = self.st.lock().unwrap_or_else(|p| p.into_inner());
        if st.paused {
            st.paused = false;
            st.next_at = st.next_at.max(now + st.p.block_ms);
        }
    }

    /// Block production is paused.
    pub fn is_paused(&self) -> bool {
        self.st.lock().unwrap_or_else(|p| p.into_inner()).paused
    }

    /// Make every RPC call fail with `reason` (an outage), or serve again with `None`.
    pub fn set_failing(&self, reason: Option<String>) {
        self.state().failing = reason;
    }

    pub fn token_balance(&self, token: Address, a: Address) -> U256 {
        self.state().token_balance(&token, &a).unwrap_or_default()
    }

    pub fn native_balance(&self, a: Address) -> U256 {
        self.state().native(&a)
    }

    pub fn head_number(&self) -> u64 {
        self.state().head
    }

    /// Transactions waiting in the mempool.
    pub fn pool_len(&self) -> usize {
        self.state().pool.len()
    }

    /// Block time, ms.
    pub fn block_ms(&self) -> i64 {
        self.state().p.block_ms
    }
}

#[async_trait]
impl Rpc for SimLedger {
    async fn chain_id(&self) -> Result<u64, RpcError> {
        Ok(self.serving()?.p.chain_id)
    }

    async fn head(&self) -> Result<Head, RpcError> {
        let st = self.serving()?;
        Ok(Head {
            number: st.head,
            timestamp_ms: st.time_of(st.head),
            base_fee: Some(st.fee_of(st.head)),
        })
    }

    async fn block(&self, number: u64) -> Result<Option<Head>, RpcError> {
        let st = self.serving()?;
        Ok((number <= st.head).then(|| Head {
            number,
            timestamp_ms: st.time_of(number),
            base_fee: Some(st.fee_of(number)),
        }))
    }

    async fn balances(
        &self,
        block: u64,
        natives: &[Address],
        tokens: &[(Address, Address)],
    ) -> Result<Vec<U256>, RpcError> {
        let st = self.serving()?;
        if block > st.head {
            return Err(RpcError::Unavailable(format!(
                "block {block} is not mined yet (head {})",
                st.head
            )));
        }
        let mut out: Vec<U256> = natives
            .iter()
            .map(|a| st.native.get(a).map(|h| h.at(block)).unwrap_or_default())
            .collect();
        for (t, o) in tokens {
            let (_, b) = st
                .tokens
                .get(t)
                .ok_or_else(|| RpcError::Reverted(format!("no contract at {t}")))?;
            out.push(b.get(o).map(|h| h.at(block)).unwrap_or_default());
        }
        Ok(out)
    }

    async fn decimals(&self, token: Address) -> Result<u8, RpcError> {
        let st = self.serving()?;
        st.tokens
            .get(&token)
            .map(|(d, _)| *d)
            .ok_or_else(|| RpcError::Reverted(format!("no contract at {token}")))
    }

    async fn nonce(&self, account: Address, pending: bool) -> Result<u64, RpcError> {
        let st = self.serving()?;
        let mut n = st.nonce(&account);
        if pending {
            while st.pool.iter().any(|t| t.from == account && t.nonce == n) {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn priority_fee(&self) -> Result<u128, RpcError> {
        Ok(self.serving()?.p.priority_fee)
    }

    async fn estimate_gas(
        &self,
        from: Address,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> Result<u64, RpcError> {
        let st = self.serving()?;
        if data.is_empty() {
            if st.native(&from) < value {
                return Err(RpcError::Reverted(
                    "insufficient balance for transfer".into(),
                ));
            }
            return Ok(NATIVE_GAS);
        }
        let Some((_, amount)) = decode_transfer(&data) else {
            return Err(RpcError::Reverted(format!("unsupported call to {to}")));
        };
        match st.token_balance(&to, &from) {
            None => Err(RpcError::Reverted(format!("no contract at {to}"))),
            Some(have) if have < amount => Err(RpcError::Reverted(
                "TestToken: transfer amount exceeds balance".into(),
            )),
            Some(_) => Ok(TOKEN_GAS),
        }
    }

    async fn send_raw(&self, raw: &[u8]) -> Result<(), SendError> {
        let mut st = self.state();
        if let Some(r) = &st.failing {
            return Err(SendError::Unknown(r.clone()));
        }
        st.accept(raw)
    }

    async fn receipt(&self, hash: B256) -> Result<Option<Receipt>, RpcError> {
        Ok(self.serving()?.receipts.get(&hash).copied())
    }

    async fn known(&self, hash: B256) -> Result<bool, RpcError> {
        let st = self.serving()?;
        Ok(st.receipts.contains_key(&hash) || st.pool.iter().any(|t| t.hash == hash))
    }

    async fn transfer_logs(
        &self,
        token: Address,
        to: &[Address],
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<TransferLog>, RpcError> {
        let st = self.serving()?;
        Ok(st
            .logs
            .iter()
            .filter(|l| {
                l.token == token && to.contains(&l.to) && (from_block..=to_block).contains(&l.block)
            })
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_exec::ManualClock;

    #[test]
    fn history_reads_at_a_block() {
        let mut h = History::default();
        h.set(3, U256::from(5u8));
        h.set(3, U256::from(6u8));
        h.set(7, U256::from(1u8));
        assert_eq!(h.at(2), U256::ZERO);
        assert_eq!(h.at(3), U256::from(6u8));
        assert_eq!(h.at(6), U256::from(6u8));
        assert_eq!(h.at(100), U256::from(1u8));
    }

    #[tokio::test]
    async fn blocks_follow_the_clock_and_pause() {
        let clock = ManualClock::new(1_000_000);
        let l = SimLedger::new(
            SimParams {
                chain_id: 5,
                block_ms: 2000,
                genesis_ms: 1_000_000,
                base_fee: 7,
                priority_fee: 1,
            },
            Arc::new(clock.clone()),
        );
        assert_eq!(l.head().await.unwrap().number, 0);
        clock.advance(4_999);
        assert_eq!(l.head().await.unwrap().number, 2);
        assert_eq!(l.head().await.unwrap().timestamp_ms, 1_004_000);
        assert_eq!(l.block(1).await.unwrap().unwrap().timestamp_ms, 1_002_000);
        l.pause();
        clock.advance(60_000);
        assert_eq!(l.head_number(), 2);
        l.resume();
        clock.advance(2_000);
        assert_eq!(l.head_number(), 3);
        l.set_failing(Some("maintenance".into()));
        assert_eq!(
            l.head().await.unwrap_err(),
            RpcError::Unavailable("maintenance".into())
        );
    }
}
