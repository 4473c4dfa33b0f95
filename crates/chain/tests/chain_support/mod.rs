//! Shared fixtures of the chain tests: one chain under test, either a real hardhat node (installed and
//! started by `ballast_testkit::devnet`) or the simulated ledger, behind the same methods, so each test body
//! runs against both implementations.
#![allow(dead_code)]

use ballast_testkit::config_text as text;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use async_trait::async_trait;
use ballast_chain::client::Failpoint;
use ballast_chain::{
    Chain, ChainClient, ChainContext, EvmRpc, IntentId, Role, SimLedger, TxReport, from_raw, to_raw,
};
use ballast_config::Config;
use ballast_config::chains::ChainCfg;
use ballast_exec::{
    Balance, ClientOrderId, Clock, Depth, Fill, ManualClock, MarketRules, OrderRequest,
    OrderStatus, SystemClock, Venue, VenueError,
};
use ballast_store::Journal;
use ballast_testkit::devnet::{self, Devnet};
use rust_decimal::Decimal;

/// Which implementation a test runs on.
pub enum Backend {
    Hardhat(NodeRef),
    Sim {
        ledger: Arc<SimLedger>,
        clock: ManualClock,
    },
}

/// A hardhat node, shared by the test binary or owned by one test.
pub enum NodeRef {
    Shared(&'static Devnet),
    Owned(Devnet),
}

impl std::ops::Deref for NodeRef {
    type Target = Devnet;
    fn deref(&self) -> &Devnet {
        match self {
            NodeRef::Shared(d) => d,
            NodeRef::Owned(d) => d,
        }
    }
}

/// How to set a chain up.
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    pub chain_id: u64,
    /// A node of its own (the test changes node-wide settings such as automine).
    pub own_node: bool,
    /// Read balances through the deployed balance reader (Multicall3 subset).
    pub multicall: bool,
    pub confirmations: u64,
}

impl Opts {
    pub fn new(chain_id: u64) -> Opts {
        Opts {
            chain_id,
            own_node: false,
            multicall: false,
            confirmations: 2,
        }
    }
}

/// One chain under test: tokens USDC (6 decimals) and DAI (18), our hot account `us` (signing) and a
/// second own account `other` (watch only).
pub struct Net {
    pub backend: Backend,
    pub name: String,
    pub config: Config,
    pub config_text: String,
    pub us: PrivateKeySigner,
    pub other: Address,
    pub deployer: PrivateKeySigner,
    pub usdc: Address,
    pub dai: Address,
    pub multicall: Option<Address>,
    pub dir: tempfile::TempDir,
}

pub const START_MS: i64 = 1_700_000_000_000;

#[allow(clippy::too_many_arguments)]
fn config_text(
    name: &str,
    o: Opts,
    rpc: Option<&str>,
    usdc: Address,
    dai: Address,
    multicall: Option<Address>,
    us: Address,
    other: Address,
) -> String {
    let source = text::evm_or_sim(rpc);
    let mc = multicall
        .map(|a| format!("multicall = \"{a}\"\n"))
        .unwrap_or_default();
    format!(
        r#"[controller]
min_order_value = "1"

[[venue]]
name = "binance"
kind = "sim"

[[position]]
chain = "{name}"
asset = "USDC"
target = "1000"

[[position]]
chain = "{name}"
asset = "DAI"
target = "1000"
decimals = 18
"#
    ) + &text::chain(
        name,
        o.chain_id,
        &format!("{source}\nreplace_after = \"30s\"\n{mc}"),
        o.confirmations,
    ) + &text::tokens(&[("USDC", &usdc, 6), ("DAI", &dai, 18)])
        + &text::account(us, "key_env = \"BALLAST_CRASH_KEY\"")
        + &text::account(other, "")
}

impl Net {
    /// A chain on a real hardhat node; `None` (test skipped, reason printed) when it cannot start.
    pub async fn hardhat(name: &str, o: Opts) -> Option<Net> {
        let node = if o.own_node {
            NodeRef::Owned(devnet::start_or_skip(o.chain_id)?)
        } else {
            NodeRef::Shared(devnet::shared_or_skip(o.chain_id)?)
        };
        let deployer = PrivateKeySigner::random();
        let us = PrivateKeySigner::random();
        let other = PrivateKeySigner::random().address();
        let eth = U256::from(1000u64) * U256::from(10u64).pow(U256::from(18u64));
        for a in [deployer.address(), us.address()] {
            node.set_balance(a, eth).await.expect("fund");
        }
        let usdc = node
            .deploy_token(&deployer, "USD Coin", "USDC", 6)
            .await
            .expect("deploy USDC");
        let dai = node
            .deploy_token(&deployer, "Dai", "DAI", 18)
            .await
            .expect("deploy DAI");
        let multicall = if o.multicall {
            Some(
                node.deploy_balance_reader(&deployer)
                    .await
                    .expect("deploy reader"),
            )
        } else {
            None
        };
        let text = config_text(
            name,
            o,
            Some(node.url()),
            usdc,
            dai,
            multicall,
            us.address(),
            other,
        );
        Some(Self::finish(
            Backend::Hardhat(node),
            name,
            text,
            us,
            other,
            deployer,
            usdc,
            dai,
            multicall,
        ))
    }

    /// The same chain on the simulated ledger.
    pub fn sim(name: &str, o: Opts) -> Net {
        let deployer = PrivateKeySigner::random();
        let us = PrivateKeySigner::random();
        let other = PrivateKeySigner::random().address();
        let usdc = PrivateKeySigner::random().address();
        let dai = PrivateKeySigner::random().address();
        let text = config_text(name, o, None, usdc, dai, None, us.address(), other);
        let config = Config::parse("chain.toml", &text).expect("valid test config");
        let clock = ManualClock::new(START_MS);
        let ledger = SimLedger::for_chain(&config.chains[0], Arc::new(clock.clone()));
        ledger.set_native(
            us.address(),
            U256::from(1000u64) * U256::from(10u64).pow(U256::from(18u64)),
        );
        Self::finish(
            Backend::Sim { ledger, clock },
            name,
            text,
            us,
            other,
            deployer,
            usdc,
            dai,
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        backend: Backend,
        name: &str,
        text: String,
        us: PrivateKeySigner,
        other: Address,
        deployer: PrivateKeySigner,
        usdc: Address,
        dai: Address,
        multicall: Option<Address>,
    ) -> Net {
        let config = Config::parse("chain.toml", &text).expect("valid test config");
        Net {
            backend,
            name: name.to_string(),
            config,
            config_text: text,
            us,
            other,
            deployer,
            usdc,
            dai,
            multicall,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn is_sim(&self) -> bool {
        matches!(self.backend, Backend::Sim { .. })
    }

    pub fn chain_cfg(&self) -> &ChainCfg {
        &self.config.chains[0]
    }

    pub fn journal_path(&self) -> PathBuf {
        self.dir.path().join("journal.db")
    }

    pub fn journal(&self) -> Journal {
        Journal::open(self.journal_path()).expect("journal")
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        match &self.backend {
            Backend::Sim { clock, .. } => Arc::new(clock.clone()),
            Backend::Hardhat(_) => Arc::new(SystemClock),
        }
    }

    pub fn context(&self, journal: Journal, role: Role) -> ChainContext {
        let mut ctx = ChainContext::from_config(&self.config, journal, self.clock(), "test");
        ctx.role = role;
        ctx
    }

    /// A client of this chain on `journal` with our signer.
    pub async fn client_with(
        &self,
        cfg: &ChainCfg,
        journal: Journal,
        role: Role,
        failpoint: Option<Failpoint>,
    ) -> Result<Arc<dyn Chain>, ballast_chain::ChainError> {
        let ctx = self.context(journal, role);
        let signers = [self.us.clone()];
        Ok(match &self.backend {
            Backend::Hardhat(node) => {
                let rpc =
                    EvmRpc::new(node.url(), cfg.multicall, Duration::from_secs(10)).expect("rpc");
                let mut c = ChainClient::open(cfg, Arc::new(rpc), ctx, signers).await?;
                if let Some(f) = failpoint {
                    c.set_failpoint(f);
                }
                Arc::new(c)
            }
            Backend::Sim { ledger, .. } => {
                let mut c = ChainClient::open(cfg, ledger.clone(), ctx, signers).await?;
                if let Some(f) = failpoint {
                    c.set_failpoint(f);
                }
                Arc::new(c)
            }
        })
    }

    pub async fn client(&self, journal: Journal) -> Arc<dyn Chain> {
        self.client_with(self.chain_cfg(), journal, Role::Treasury, None)
            .await
            .expect("client")
    }

    pub fn token(&self, asset: &str) -> (Address, u32) {
        match asset {
            "USDC" => (self.usdc, 6),
            "DAI" => (self.dai, 18),
            other => panic!("no token {other}"),
        }
    }

    /// Mint test tokens.
    pub async fn mint(&self, asset: &str, to: Address, amount: &str) {
        let (token, dec) = self.token(asset);
        let raw = to_raw(Decimal::from_str(amount).unwrap(), dec).unwrap();
        match &self.backend {
            Backend::Hardhat(node) => node
                .mint(&self.deployer, token, to, raw)
                .await
                .expect("mint"),
            Backend::Sim { ledger, .. } => ledger.mint(token, to, raw),
        }
    }

    /// A token balance read without the client under test.
    pub async fn balance(&self, asset: &str, of: Address) -> Decimal {
        let (token, dec) = self.token(asset);
        let raw = match &self.backend {
            Backend::Hardhat(node) => node.token_balance(token, of).await.expect("balanceOf"),
            Backend::Sim { ledger, .. } => ledger.token_balance(token, of),
        };
        from_raw(raw, dec).unwrap()
    }

    /// Produce `n` blocks.
    pub async fn mine(&self, n: u64) {
        match &self.backend {
            Backend::Hardhat(node) => node.mine(n).await.expect("mine"),
            Backend::Sim { clock, ledger } => {
                // Like hardhat_mine, this produces blocks even while production is held.
                let held = ledger.is_paused();
                if held {
                    ledger.resume();
                }
                clock.advance(n as i64 * ledger.block_ms());
                if held {
                    ledger.pause();
                }
            }
        }
    }

    /// Stop producing blocks (hardhat: automine off; sim: paused).
    pub async fn hold_blocks(&self) {
        match &self.backend {
            Backend::Hardhat(node) => node.set_automine(false).await.expect("automine"),
            Backend::Sim { ledger, .. } => ledger.pause(),
        }
    }

    /// Produce blocks again (they still need [`Net::mine`]).
    pub async fn release_blocks(&self) {
        match &self.backend {
            Backend::Hardhat(node) => node.set_automine(true).await.expect("automine"),
            Backend::Sim { ledger, .. } => ledger.resume(),
        }
    }

    /// The base fee of the next block(s), wei.
    pub async fn set_base_fee(&self, wei: u128) {
        match &self.backend {
            Backend::Hardhat(node) => node.set_next_base_fee(wei).await.expect("base fee"),
            Backend::Sim { ledger, .. } => ledger.set_base_fee(wei),
        }
    }

    /// Let wall or simulated time pass.
    pub async fn wait(&self, d: Duration) {
        match &self.backend {
            Backend::Hardhat(_) => tokio::time::sleep(d).await,
            Backend::Sim { clock, .. } => {
                clock.advance(d.as_millis() as i64);
            }
        }
    }

    /// Mine until the transfer is final; returns the final report.
    pub async fn settle(&self, chain: &dyn Chain, id: &IntentId) -> TxReport {
        for _ in 0..40 {
            let r = chain.status(id).await.expect("status");
            if !r.status.is_open() {
                return r;
            }
            self.mine(1).await;
        }
        panic!("{id} did not settle");
    }
}

/// A venue that only answers its deposit address: the chain tests need a venue to hand out a deposit
/// address, nothing else of a venue.
pub struct DepositOnlyVenue {
    pub name: String,
    pub address: String,
}

fn unsupported<T>(v: &DepositOnlyVenue, what: &str) -> Result<T, VenueError> {
    Err(VenueError::Unsupported {
        venue: v.name.clone(),
        what: what.into(),
    })
}

#[async_trait]
impl Venue for DepositOnlyVenue {
    fn name(&self) -> &str {
        &self.name
    }
    async fn markets(&self) -> Result<Vec<MarketRules>, VenueError> {
        unsupported(self, "markets")
    }
    async fn balances(&self) -> Result<Vec<Balance>, VenueError> {
        unsupported(self, "balances")
    }
    async fn depth(&self, _: &str, _: usize) -> Result<Depth, VenueError> {
        unsupported(self, "depth")
    }
    async fn place(&self, _: &OrderRequest) -> Result<OrderStatus, VenueError> {
        unsupported(self, "orders")
    }
    async fn replace(
        &self,
        _: &ClientOrderId,
        _: Decimal,
        _: &OrderRequest,
    ) -> Result<OrderStatus, VenueError> {
        unsupported(self, "orders")
    }
    async fn cancel(&self, _: &str, _: &ClientOrderId) -> Result<OrderStatus, VenueError> {
        unsupported(self, "orders")
    }
    async fn order_status(
        &self,
        _: &str,
        _: &ClientOrderId,
    ) -> Result<Option<OrderStatus>, VenueError> {
        unsupported(self, "orders")
    }
    async fn open_orders(&self, _: Option<&str>) -> Result<Vec<OrderStatus>, VenueError> {
        unsupported(self, "orders")
    }
    async fn fills_since(&self, _: i64) -> Result<Vec<Fill>, VenueError> {
        unsupported(self, "fills")
    }
    async fn deposit_address(&self, _asset: &str, _network: &str) -> Result<String, VenueError> {
        Ok(self.address.clone())
    }
}

/// A deposit address handed out by venue `venue` for `asset`.
pub async fn deposit_address(
    venue: &str,
    address: Address,
    asset: &str,
) -> ballast_chain::VenueDepositAddress {
    let v = DepositOnlyVenue {
        name: venue.into(),
        address: address.to_string(),
    };
    ballast_chain::VenueDepositAddress::fetch(&v, asset, "LOCAL")
        .await
        .expect("deposit address")
}

/// Run a test body on the hardhat node and on the simulated ledger.
#[macro_export]
macro_rules! on_both {
    ($module:ident, $body:ident, $name:literal, $opts:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn hardhat() {
                let Some(net) = chain_support::Net::hardhat($name, $opts).await else {
                    return;
                };
                super::$body(net).await;
            }

            #[tokio::test]
            async fn sim() {
                super::$body(chain_support::Net::sim($name, $opts)).await;
            }
        }
    };
}

pub fn write_config(net: &Net, path: &Path) {
    std::fs::write(path, &net.config_text).expect("write config");
}
