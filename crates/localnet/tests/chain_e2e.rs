//! A full deposit -> swap -> withdraw leg across two chains and the local Binance server with its chain
//! bridge, through the real Binance client and chain clients:
//!
//! read the deposit address from the venue, transfer USDC on chain A (journaled), see it credited once after
//! the confirmations, sell USDC for USDT on the server's book with the Dutch-auction executor, withdraw USDT
//! to our address on chain B, see it arrive there exactly once. Mid-way the bridge is killed (after the
//! payout was broadcast, before it was confirmed) and a new one, over the same journal, takes over: it
//! rescans the deposit without crediting it again and finishes the payout without paying again.
//!
//! Runs on two hardhat nodes (`::hardhat`, skipped with a message when no node can start) and on two
//! simulated ledgers (`::sim`, no Node.js needed).

use ballast_testkit::config_text;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use ballast_chain::client::{Failpoint, SendStage};
use ballast_chain::{
    ArrivalQuery, Chain, ChainClient, ChainContext, Destination, EvmRpc, ExpectedArrival, Role,
    SimLedger, TransferRequest, TxStatus, VenueDepositAddress, from_raw, match_arrival, to_raw,
};
use ballast_config::Config;
use ballast_config::chains::ChainCfg;
use ballast_core::auction::{EndReason, Reprice, Schedule};
use ballast_core::model::Side;
use ballast_exec::executor::{Executor, SwapJob};
use ballast_exec::{
    Clock, ManualClock, SystemClock, TransferKind, TransferState, TransferStatus, Venue,
    WithdrawRequest,
};
use ballast_localnet::binance::config::ServerConfig;
use ballast_localnet::binance::{ServerHandle, spawn};
use ballast_localnet::bridge::{Bridge, BridgeChain};
use ballast_store::{IntentState, Journal};
use ballast_testkit::devnet::{self, Devnet};
use ballast_venue_binance::config::{AllowedAddress, Settings};
use ballast_venue_binance::{BinanceClient, Credentials};
use rust_decimal::Decimal;

const KEY: &str = "aliceKey0000000000000000000000000000000000000000000000000000000A";
const SECRET: &str = "aliceSecret000000000000000000000000000000000000000000000000000S";
const START_MS: i64 = 1_700_000_000_000;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// One chain: a hardhat node or a simulated ledger, with USDC and USDT (6 decimals).
enum Node {
    Hardhat(&'static Devnet),
    Sim {
        ledger: Arc<SimLedger>,
        clock: ManualClock,
    },
}

struct Net {
    node: Node,
    name: String,
    /// Our side: account `us` signs.
    ours: ChainCfg,
    /// The venue's side: its hot wallet signs.
    venue: ChainCfg,
    us: PrivateKeySigner,
    hot: PrivateKeySigner,
    deployer: PrivateKeySigner,
    usdc: Address,
    usdt: Address,
}

fn chain_cfg(
    name: &str,
    chain_id: u64,
    rpc: Option<&str>,
    usdc: Address,
    usdt: Address,
    account: Address,
) -> ChainCfg {
    let source = config_text::evm_or_sim(rpc);
    let text = format!(
        r#"[controller]
min_order_value = "1"

[[venue]]
name = "binance"
kind = "sim"

[[position]]
chain = "{name}"
asset = "USDC"
target = "1000"
"#
    ) + &config_text::chain(name, chain_id, &source, 2)
        + &config_text::tokens(&[("USDC", &usdc, 6), ("USDT", &usdt, 6)])
        + &config_text::account(account, "key_env = \"BALLAST_E2E_UNUSED\"");
    Config::parse("e2e.toml", &text)
        .expect("valid chain config")
        .chains
        .remove(0)
}

fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

impl Net {
    async fn hardhat(name: &str, chain_id: u64) -> Option<Net> {
        let node = devnet::shared_or_skip(chain_id)?;
        let (deployer, us, hot) = (
            PrivateKeySigner::random(),
            PrivateKeySigner::random(),
            PrivateKeySigner::random(),
        );
        for a in [deployer.address(), us.address(), hot.address()] {
            node.set_balance(a, eth(1000)).await.expect("fund");
        }
        let usdc = node
            .deploy_token(&deployer, "USD Coin", "USDC", 6)
            .await
            .expect("deploy USDC");
        let usdt = node
            .deploy_token(&deployer, "Tether USD", "USDT", 6)
            .await
            .expect("deploy USDT");
        let rpc = Some(node.url());
        Some(Net {
            ours: chain_cfg(name, chain_id, rpc, usdc, usdt, us.address()),
            venue: chain_cfg(name, chain_id, rpc, usdc, usdt, hot.address()),
            node: Node::Hardhat(node),
            name: name.into(),
            us,
            hot,
            deployer,
            usdc,
            usdt,
        })
    }

    fn sim(name: &str, chain_id: u64) -> Net {
        let (deployer, us, hot) = (
            PrivateKeySigner::random(),
            PrivateKeySigner::random(),
            PrivateKeySigner::random(),
        );
        let (usdc, usdt) = (
            PrivateKeySigner::random().address(),
            PrivateKeySigner::random().address(),
        );
        let ours = chain_cfg(name, chain_id, None, usdc, usdt, us.address());
        let clock = ManualClock::new(START_MS);
        let ledger = SimLedger::for_chain(&ours, Arc::new(clock.clone()));
        for a in [us.address(), hot.address()] {
            ledger.set_native(a, eth(1000));
        }
        Net {
            venue: chain_cfg(name, chain_id, None, usdc, usdt, hot.address()),
            ours,
            node: Node::Sim { ledger, clock },
            name: name.into(),
            us,
            hot,
            deployer,
            usdc,
            usdt,
        }
    }

    fn node_url(&self) -> &str {
        match &self.node {
            Node::Hardhat(n) => n.url(),
            Node::Sim { .. } => panic!("a simulated chain has no URL"),
        }
    }

    fn token(&self, asset: &str) -> Address {
        match asset {
            "USDC" => self.usdc,
            "USDT" => self.usdt,
            other => panic!("no token {other}"),
        }
    }

    async fn mint(&self, asset: &str, to: Address, amount: &str) {
        let raw = to_raw(d(amount), 6).unwrap();
        match &self.node {
            Node::Hardhat(n) => n
                .mint(&self.deployer, self.token(asset), to, raw)
                .await
                .expect("mint"),
            Node::Sim { ledger, .. } => ledger.mint(self.token(asset), to, raw),
        }
    }

    /// A token balance read without the clients under test.
    async fn balance(&self, asset: &str, of: Address) -> Decimal {
        let raw = match &self.node {
            Node::Hardhat(n) => n
                .token_balance(self.token(asset), of)
                .await
                .expect("balanceOf"),
            Node::Sim { ledger, .. } => ledger.token_balance(self.token(asset), of),
        };
        from_raw(raw, 6).unwrap()
    }

    async fn mine(&self, n: u64) {
        match &self.node {
            Node::Hardhat(node) => node.mine(n).await.expect("mine"),
            Node::Sim { ledger, clock } => {
                clock.advance(n as i64 * ledger.block_ms());
            }
        }
    }

    fn clock(&self) -> Arc<dyn Clock> {
        match &self.node {
            Node::Sim { clock, .. } => Arc::new(clock.clone()),
            Node::Hardhat(_) => Arc::new(SystemClock),
        }
    }

    /// A chain client on `journal`: ours (a treasury) or the venue's (its hot wallet pays out).
    async fn client(&self, journal: Journal, venue_side: bool) -> Arc<dyn Chain> {
        self.client_fp(journal, venue_side, None).await
    }

    /// [`Net::client`] stopping at a point of each send (`failpoint`).
    async fn client_fp(
        &self,
        journal: Journal,
        venue_side: bool,
        failpoint: Option<Failpoint>,
    ) -> Arc<dyn Chain> {
        let (cfg, signer, role, actor) = if venue_side {
            (&self.venue, &self.hot, Role::VenuePayer, "binance-bridge")
        } else {
            (&self.ours, &self.us, Role::Treasury, "test")
        };
        let ctx = ChainContext {
            journal,
            clock: self.clock(),
            venues: BTreeSet::from(["binance".to_string(), "hyperliquid".to_string()]),
            config_version: "e2e".into(),
            actor: actor.into(),
            fence: None,
            role,
        };
        let signers = [signer.clone()];
        match &self.node {
            Node::Hardhat(n) => {
                let rpc = EvmRpc::new(n.url(), None, Duration::from_secs(10)).expect("rpc");
                let mut c = ChainClient::open(cfg, Arc::new(rpc), ctx, signers)
                    .await
                    .expect("client");
                if let Some(f) = failpoint {
                    c.set_failpoint(f);
                }
                Arc::new(c)
            }
            Node::Sim { ledger, .. } => {
                let mut c = ChainClient::open(cfg, ledger.clone(), ctx, signers)
                    .await
                    .expect("client");
                if let Some(f) = failpoint {
                    c.set_failpoint(f);
                }
                Arc::new(c)
            }
        }
    }
}

fn server_toml() -> String {
    format!(
        r#"
[binance]
seed = 11
tick = "20ms"

[[binance.market]]
preset = "binance-usdcusdt"

[[binance.account]]
name = "alice"
api_key = "{KEY}"
secret_key = "{SECRET}"
balances = {{ USDT = "0" }}

[[binance.network]]
asset = "USDC"
network = "ARBITRUM"
withdraw_fee = "0.8"
withdraw_min = "10"
withdraw_delay = "0s"
deposit_delay = "0s"

[[binance.network]]
asset = "USDT"
network = "OPTIMISM"
withdraw_fee = "1"
withdraw_min = "10"
withdraw_delay = "0s"
deposit_delay = "0s"
"#
    )
}

/// Our client of the server; withdrawals only of `asset` over `network` to `withdraw_to`.
fn client(
    server: &ServerHandle,
    asset: &str,
    network: &str,
    withdraw_to: Address,
) -> BinanceClient {
    let settings = Settings {
        url: server.url(),
        recv_window: Duration::from_millis(5000),
        timeout: Duration::from_secs(5),
        markets: vec!["USDCUSDT".into()],
        networks: BTreeMap::from([
            ("arbitrum".to_string(), "ARBITRUM".to_string()),
            ("optimism".to_string(), "OPTIMISM".to_string()),
        ]),
        withdraw_addresses: vec![AllowedAddress {
            asset: asset.into(),
            network: network.into(),
            address: withdraw_to.to_string(),
        }],
        max_rate_wait: Duration::from_secs(3),
        ..Settings::default()
    };
    BinanceClient::new("binance", settings, Some(Credentials::hmac(KEY, SECRET))).unwrap()
}

async fn venue_balance(c: &BinanceClient, asset: &str) -> Decimal {
    c.balances()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.asset == asset)
        .map_or(Decimal::ZERO, |b| b.total)
}

async fn transfers(c: &BinanceClient, kind: TransferKind) -> Vec<TransferStatus> {
    c.transfers_since(0)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.kind == kind)
        .collect()
}

/// The bridged chains of the server, with fresh venue-side clients over the venue's journals.
async fn bridge_chains(a: &Net, b: &Net, journals: &tempfile::TempDir) -> Vec<BridgeChain> {
    let mut out = Vec::new();
    for (net, network) in [(a, "ARBITRUM"), (b, "OPTIMISM")] {
        let journal = Journal::open(journals.path().join(format!("{}.db", net.name))).unwrap();
        out.push(BridgeChain {
            network: network.into(),
            chain: net.client(journal, true).await,
            assets: vec!["USDC".into(), "USDT".into()],
            hot_wallet: None,
        });
    }
    out
}

async fn leg(a: Net, b: Net) {
    let server = spawn(
        ServerConfig::parse("e2e.toml", &server_toml()).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let venue_journals = tempfile::tempdir().unwrap();
    let bridge = server.bridge(
        bridge_chains(&a, &b, &venue_journals).await,
        Duration::from_millis(100),
    );
    let us_b = b.us.address();
    let bn = Arc::new(client(&server, "USDT", "OPTIMISM", us_b));
    let our_dir = tempfile::tempdir().unwrap();
    let ours_a = a
        .client(Journal::open(our_dir.path().join("a.db")).unwrap(), false)
        .await;
    let ours_b = b
        .client(Journal::open(our_dir.path().join("b.db")).unwrap(), false)
        .await;

    // Funds: 1000 USDC on chain A for us, 5000 USDT in the venue's hot wallet on chain B.
    a.mint("USDC", a.us.address(), "1000").await;
    b.mint("USDT", b.hot.address(), "5000").await;

    // 1. Deposit: the address comes from the venue, through the client.
    let dep_addr = VenueDepositAddress::fetch(bn.as_ref(), "USDC", "arbitrum")
        .await
        .unwrap();
    let sent = ours_a
        .transfer(&TransferRequest {
            key: "leg:1:deposit".into(),
            from: None,
            asset: "USDC".into(),
            amount: d("1000"),
            to: Destination::VenueDeposit(dep_addr.clone()),
        })
        .await
        .unwrap();
    let dep_hash = sent.candidates[0];
    let mut credited = None;
    for _ in 0..120 {
        let r = ours_a.status(&sent.intent_id).await.unwrap();
        let deps = transfers(&bn, TransferKind::Deposit).await;
        assert!(deps.len() <= 1, "credited more than once: {deps:?}");
        if let Some(t) = deps.first() {
            assert!(
                matches!(r.status, TxStatus::Confirmed { .. }),
                "credited before our transfer was confirmed: {r:?}"
            );
            if t.state == TransferState::Completed {
                credited = Some(t.clone());
                break;
            }
        }
        a.mine(1).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let credited = credited.expect("the deposit was credited");
    assert_eq!(credited.amount, d("1000"));
    assert_eq!(credited.asset, "USDC");
    assert_eq!(credited.network, "ARBITRUM");
    assert_eq!(credited.tx_hash, Some(format!("{dep_hash:#x}")));
    assert_eq!(a.balance("USDC", dep_addr.address()).await, d("1000"));
    assert_eq!(a.balance("USDC", a.us.address()).await, d("0"));
    assert_eq!(venue_balance(&bn, "USDC").await, d("1000"));
    // More blocks and polls: still one credit.
    a.mine(3).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(transfers(&bn, TransferKind::Deposit).await.len(), 1);
    assert_eq!(venue_balance(&bn, "USDC").await, d("1000"));

    // 2. Swap: sell 1000 USDC for USDT with the Dutch auction, maker first.
    let mut ex = Executor::new(Arc::new(SystemClock));
    ex.add_venue(bn.clone(), 20.0, 10.0);
    let job = SwapJob {
        venue: "binance".into(),
        market: "USDCUSDT".into(),
        side: Side::Sell,
        qty: d("1000"),
        reference: None,
        schedule: Schedule {
            start_bps: Decimal::ONE,
            floor_bps: Decimal::TEN,
            duration_ms: 3_000,
            step_ms: 500,
            taker_ms: 2_000,
            deadline_ms: 6_000,
            ..Schedule::default()
        },
        reprice: Reprice::Replace,
        intent: "leg:1:swap".into(),
    };
    let report = ex.run_one(&job, |_| {}).await.unwrap();
    assert_eq!(report.end_reason, Some(EndReason::Filled), "{report:#?}");
    assert_eq!(report.filled, d("1000"));
    assert!(report.orders_placed >= 1, "{report:#?}");
    let proceeds: Decimal = report.fills.iter().map(|f| f.price * f.qty).sum();
    let fees_usdt: Decimal = report
        .fills
        .iter()
        .filter(|f| f.fee_asset == "USDT")
        .map(|f| f.fee)
        .sum();
    assert!(
        report.fills.iter().all(|f| f.fee_asset == "USDT"),
        "{:?}",
        report.fills
    );
    let usdt = venue_balance(&bn, "USDT").await;
    assert_eq!(venue_balance(&bn, "USDC").await, d("0"));
    assert_eq!(usdt, proceeds - fees_usdt, "USDT = proceeds - fees");
    // Value conserved within the auction's floor and fees: at most 10 bp + 0.1 % fee below par.
    assert!(usdt >= d("1000") * (Decimal::ONE - d("0.002")), "{usdt}");
    assert!(usdt <= d("1000") * (Decimal::ONE + d("0.002")), "{usdt}");

    // 3. Withdraw USDT (whole cents) to our address on chain B.
    let amount = usdt.trunc_with_scale(2);
    let fee = d("1");
    let from_block = ours_b.head().await.unwrap().number + 1;
    let hot_before = b.balance("USDT", b.hot.address()).await;
    let wd_id = bn
        .withdraw(&WithdrawRequest {
            asset: "USDT".into(),
            network: "optimism".into(),
            address: us_b.to_string(),
            amount,
            client_id: "leg1withdraw".into(),
        })
        .await
        .unwrap();
    // The payout is broadcast and mined, one block short of its confirmations: the venue shows its hash,
    // the withdrawal is still processing.
    let mut sending = None;
    for _ in 0..100 {
        let w = transfers(&bn, TransferKind::Withdrawal).await;
        assert_eq!(w.len(), 1);
        if let Some(h) = &w[0].tx_hash {
            sending = Some((w[0].clone(), h.clone()));
            break;
        }
        if !matches!(a.node, Node::Hardhat(_)) {
            // The simulated chain includes the payout only in a new block.
            b.mine(1).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (w, payout_hash) = sending.expect("the payout was broadcast");
    assert_eq!(w.id, wd_id);
    assert_eq!(w.state, TransferState::Pending);

    // 4. The bridge dies here; a new one over the same journals takes over.
    bridge.stop().await;
    let ledger = server.ledger();
    let mut bridge2 = Bridge::new(ledger.clone(), bridge_chains(&a, &b, &venue_journals).await);
    let mut paid = None;
    let mut rescanned = 0;
    for _ in 0..40 {
        let r = bridge2.poll().await;
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert!(r.credited.is_empty(), "credited again: {:?}", r.credited);
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        rescanned += r.already_credited;
        for (id, h) in r.sending.iter().chain(&r.paid) {
            assert_eq!(id, &wd_id);
            assert_eq!(
                format!("{h:#x}"),
                payout_hash,
                "the same payout, not a new one"
            );
        }
        if let Some(p) = r.paid.first() {
            paid = Some(p.clone());
            break;
        }
        b.mine(1).await;
    }
    assert!(paid.is_some(), "the new bridge completed the payout");
    assert_eq!(rescanned, 1, "the restarted bridge saw the deposit again");

    // 5. Arrival on chain B, exactly once, matched by the hash the venue reports.
    let w = transfers(&bn, TransferKind::Withdrawal).await;
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].state, TransferState::Completed);
    assert_eq!(w[0].tx_hash.as_deref(), Some(payout_hash.as_str()));
    assert_eq!(w[0].fee, fee);
    let query = ArrivalQuery {
        asset: "USDT".into(),
        to: vec![us_b],
        from_block,
        to_block: None,
    };
    let arrivals = ours_b.arrivals(&query).await.unwrap();
    assert_eq!(arrivals.len(), 1, "{arrivals:?}");
    let expected = ExpectedArrival {
        tx_hash: Some(payout_hash.parse().unwrap()),
        to: us_b,
        min_amount: amount - fee,
        max_amount: amount - fee,
        from_block,
        not_before_ms: None,
        not_after_ms: None,
    };
    let m = match_arrival(&expected, &arrivals, &HashSet::new()).expect("matched");
    assert!(m.confirmed);
    assert_eq!(m.from, b.hot.address());
    assert_eq!(b.balance("USDT", us_b).await, amount - fee);
    assert_eq!(
        hot_before - b.balance("USDT", b.hot.address()).await,
        amount - fee
    );
    assert_eq!(venue_balance(&bn, "USDT").await, usdt - amount);

    // More polls and blocks change nothing.
    for _ in 0..3 {
        b.mine(1).await;
        a.mine(1).await;
        let r = bridge2.poll().await;
        assert!(r.credited.is_empty() && r.paid.is_empty() && r.sending.is_empty());
    }
    assert_eq!(b.balance("USDT", us_b).await, amount - fee);
    assert_eq!(ours_b.arrivals(&query).await.unwrap().len(), 1);
    assert_eq!(transfers(&bn, TransferKind::Deposit).await.len(), 1);

    // Conservation over the leg: 1000 USDC in = USDT on chain B + USDT left on the venue + withdrawal fee
    // + trading fees + the price given up in the auction.
    let out = b.balance("USDT", us_b).await + venue_balance(&bn, "USDT").await + fee + fees_usdt;
    assert_eq!(out, proceeds);
    assert!((d("1000") - proceeds).abs() <= d("1"), "{proceeds}");
    // The venue's own books balance: what came in from chains = accounts + fees + background + paid out.
    let audit = server.with_exchange(|ex| ex.audit());
    assert!(audit.values().all(|a| a.balanced()), "{audit:#?}");
    assert_eq!(audit["USDC"].deposited, d("1000"));
    assert_eq!(audit["USDT"].withdrawn, amount - fee);
    server.shutdown().await;
}

/// The bridge dies between writing a payout to its journal and broadcasting it (the failpoint panics inside
/// the bridge's task). Nothing was sent; a new bridge over the same journal broadcasts the journaled
/// transaction: the withdrawal is paid once, by the transaction signed before the crash.
async fn payout_crash(a: Net) {
    let toml = server_toml().replace(
        "balances = { USDT = \"0\" }",
        "balances = { USDC = \"500\" }",
    );
    let server = spawn(
        ServerConfig::parse("e2e.toml", &toml).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let us = a.us.address();
    a.mint("USDC", a.hot.address(), "1000").await;
    let journals = tempfile::tempdir().unwrap();
    let journal_path = journals.path().join("arbitrum.db");
    let crash: Failpoint = Arc::new(|s: &SendStage| {
        if matches!(s, SendStage::Journaled { .. }) {
            panic!("crash between the journal write and the broadcast");
        }
    });
    let link = |chain| BridgeChain {
        network: "ARBITRUM".into(),
        chain,
        assets: vec!["USDC".into()],
        hot_wallet: None,
    };
    let crashing = a
        .client_fp(Journal::open(&journal_path).unwrap(), true, Some(crash))
        .await;
    let bridge = server.bridge(vec![link(crashing)], Duration::from_millis(50));
    let bn = client(&server, "USDC", "ARBITRUM", us);
    let id = bn
        .withdraw(&WithdrawRequest {
            asset: "USDC".into(),
            network: "arbitrum".into(),
            address: us.to_string(),
            amount: d("100"),
            client_id: "crashwithdraw".into(),
        })
        .await
        .unwrap();
    let journal = Journal::open(&journal_path).unwrap();
    let mut signed = None;
    for _ in 0..100 {
        if let Some(i) = journal.open_tx_intents("arbitrum").unwrap().pop() {
            signed = Some(i);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let signed = signed.expect("the payout was journaled");
    bridge.stop().await;
    assert_eq!(signed.state, IntentState::Signed);
    let journaled_hash = signed.candidates[0].hash.clone();
    a.mine(3).await;
    assert_eq!(a.balance("USDC", us).await, d("0"), "nothing was sent");
    let w = transfers(&bn, TransferKind::Withdrawal).await;
    assert_eq!(
        (w[0].state.clone(), w[0].tx_hash.clone()),
        (TransferState::Pending, None)
    );

    // A new bridge over the same journal.
    let fresh = a.client(Journal::open(&journal_path).unwrap(), true).await;
    let mut bridge2 = Bridge::new(server.ledger(), vec![link(fresh)]);
    let mut paid = None;
    for _ in 0..40 {
        let r = bridge2.poll().await;
        assert!(r.errors.is_empty() && r.failed.is_empty(), "{r:?}");
        if let Some(p) = r.paid.first() {
            paid = Some(p.clone());
            break;
        }
        a.mine(1).await;
    }
    let (paid_id, hash) = paid.expect("paid after the restart");
    assert_eq!(paid_id, id);
    assert_eq!(
        format!("{hash:#x}"),
        journaled_hash,
        "the journaled transaction, not a new one"
    );
    assert_eq!(a.balance("USDC", us).await, d("99.2"));
    assert_eq!(venue_balance(&bn, "USDC").await, d("400"));
    let w = transfers(&bn, TransferKind::Withdrawal).await;
    assert_eq!(w[0].state, TransferState::Completed);
    assert_eq!(w[0].tx_hash.as_deref(), Some(journaled_hash.as_str()));
    for _ in 0..3 {
        a.mine(1).await;
        let r = bridge2.poll().await;
        assert!(r.paid.is_empty() && r.sending.is_empty(), "{r:?}");
    }
    assert_eq!(a.balance("USDC", us).await, d("99.2"));
    server.shutdown().await;
}

/// The local Hyperliquid server linked to chain A: USDC sent to the bridge address (read from the venue
/// through the Hyperliquid client) is credited to the sender's perp USDC once confirmed; a withdraw3 is paid
/// out on the chain, `amount - 1` USDC, once, also across a restart of the bridge.
async fn hyperliquid_leg(a: Net) {
    use ballast_localnet::hyperliquid as hl;
    use ballast_localnet::serve::LocalVenues;
    use ballast_venue_hyperliquid::{ClientOptions, HyperliquidClient, KeySigner, Network};
    let us = a.us.address();
    let text = format!(
        r#"[hyperliquid]
listen = "127.0.0.1:0"
chain = "testnet"
seed = 3
step = "20ms"

[[hyperliquid.market]]
preset = "hyperliquid-usdt0-usdc"
liquidity = false

[[hyperliquid.account]]
name = "us"
address = "{us:#x}"
balances = {{ USDC = "0" }}
"#
    );
    let cfg = LocalVenues::parse("hl.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let server = hl::spawn(cfg.hyperliquid.unwrap()).await.unwrap();
    let bridge_addr = PrivateKeySigner::random().address();
    let mut opts = ClientOptions::new(Network::Testnet).at(server.url());
    opts.bridge_address = Some(bridge_addr);
    opts.request_timeout = Duration::from_secs(5);
    let key = format!("0x{}", hex::encode(a.us.to_bytes()));
    let client = HyperliquidClient::new(
        "hyperliquid",
        opts,
        Some(KeySigner::from_hex(&key).unwrap()),
    )
    .unwrap();
    let journals = tempfile::tempdir().unwrap();
    let journal_path = journals.path().join("hl.db");
    let link = |chain| BridgeChain {
        network: "ARBITRUM".into(),
        chain,
        assets: vec!["USDC".into()],
        hot_wallet: None,
    };
    let venue_chain = a.client(Journal::open(&journal_path).unwrap(), true).await;
    let bridge = server.bridge(
        bridge_addr,
        vec![link(venue_chain)],
        Duration::from_millis(100),
    );
    let ours = a
        .client(
            Journal::open(journals.path().join("ours.db")).unwrap(),
            false,
        )
        .await;
    a.mint("USDC", us, "200").await;
    a.mint("USDC", a.hot.address(), "1000").await;

    let to = VenueDepositAddress::fetch(&client, "USDC", "ARBITRUM")
        .await
        .unwrap();
    assert_eq!(to.address(), bridge_addr);
    ours.transfer(&TransferRequest {
        key: "hl:deposit".into(),
        from: None,
        asset: "USDC".into(),
        amount: d("200"),
        to: Destination::VenueDeposit(to),
    })
    .await
    .unwrap();
    let perp = |h: &hl::ServerHandle| h.with_state(|s| s.perp_usdc(&us));
    for _ in 0..60 {
        if perp(&server) > Decimal::ZERO {
            break;
        }
        a.mine(1).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(perp(&server), d("200"));
    assert_eq!(a.balance("USDC", us).await, d("0"));

    client
        .withdraw(&WithdrawRequest {
            asset: "USDC".into(),
            network: "ARBITRUM".into(),
            address: us.to_string(),
            amount: d("50"),
            client_id: "hl-w1".into(),
        })
        .await
        .unwrap();
    assert_eq!(perp(&server), d("150"));
    for _ in 0..60 {
        if a.balance("USDC", us).await > Decimal::ZERO {
            break;
        }
        a.mine(1).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(a.balance("USDC", us).await, d("49"));

    // A new bridge over the same journal: nothing credited or paid again.
    bridge.stop().await;
    let fresh = a.client(Journal::open(&journal_path).unwrap(), true).await;
    let mut again = Bridge::new(server.ledger(bridge_addr), vec![link(fresh)]);
    let (mut rescanned, mut settled) = (0, Vec::new());
    for _ in 0..4 {
        a.mine(1).await;
        let r = again.poll().await;
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert!(r.credited.is_empty(), "{r:?}");
        rescanned += r.already_credited;
        // The payout may have been short of its confirmations when the first bridge stopped: the new
        // one settles the same journaled transfer, nothing more.
        settled.extend(r.paid);
    }
    assert_eq!(rescanned, 1);
    assert!(settled.len() <= 1, "{settled:?}");
    assert_eq!(a.balance("USDC", us).await, d("49"));
    assert_eq!(a.balance("USDC", a.hot.address()).await, d("951"));
    assert_eq!(perp(&server), d("150"));
    server.shutdown().await;
}

mod hyperliquid_deposit_withdraw {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hardhat() {
        let Some(a) = Net::hardhat("arbitrum", 31021).await else {
            return;
        };
        hyperliquid_leg(a).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sim() {
        hyperliquid_leg(Net::sim("arbitrum", 31021)).await;
    }
}

mod payout_crash_between_journal_and_broadcast {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hardhat() {
        let Some(a) = Net::hardhat("arbitrum", 31021).await else {
            return;
        };
        payout_crash(a).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sim() {
        payout_crash(Net::sim("arbitrum", 31021)).await;
    }
}

mod deposit_swap_withdraw {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hardhat() {
        let Some(a) = Net::hardhat("arbitrum", 31021).await else {
            return;
        };
        let Some(b) = Net::hardhat("optimism", 31022).await else {
            return;
        };
        leg(a, b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sim() {
        leg(Net::sim("arbitrum", 31021), Net::sim("optimism", 31022)).await;
    }
}

// ---------------------------------------------------------------------------------------------------------
// `ballast venues serve`: [[chain]] sections and [binance.bridge] in the local venues file.

fn venues_file(chain: &str, bridge: &str) -> String {
    format!(
        r#"[binance]
listen = "127.0.0.1:0"
tick = "20ms"

[[binance.market]]
preset = "binance-usdcusdt"
liquidity = false

[[binance.account]]
name = "alice"
api_key = "{KEY}"
secret_key = "{SECRET}"
balances = {{ USDT = "0" }}

[[binance.network]]
asset = "USDC"
network = "ARBITRUM"
withdraw_fee = "0.5"
withdraw_min = "10"
withdraw_delay = "0s"
deposit_delay = "0s"
{bridge}
{chain}"#
    )
}

const BRIDGE: &str = r#"
[binance.bridge]
journal = "bridge.db"
poll = "100ms"

[[binance.bridge.link]]
network = "ARBITRUM"
chain = "arbitrum"
"#;

fn chain_section(rpc: &str, usdc: Address, hot: Address, key_env: &str) -> String {
    config_text::chain("arbitrum", 31021, &config_text::evm(rpc), 2)
        + &config_text::tokens(&[("USDC", &usdc, 6)])
        + &config_text::account(hot, key_env)
}

/// The errors of a local venues file named `v.toml`.
fn venues_error(text: &str) -> String {
    ballast_localnet::serve::LocalVenues::parse("v.toml", text)
        .unwrap_err()
        .to_string()
}

#[test]
fn bridge_configuration_errors_name_file_line_and_path() {
    use ballast_localnet::serve::LocalVenues;
    let hot = PrivateKeySigner::random().address();
    let usdc = PrivateKeySigner::random().address();
    let chain = chain_section("http://127.0.0.1:1", usdc, hot, "key_env = \"HOT_KEY\"");
    let ok = LocalVenues::parse("/tmp/v/venues.toml", &venues_file(&chain, BRIDGE))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.chains.len(), 1);
    let b = ok.binance.unwrap().bridge.unwrap();
    assert_eq!(b.journal, std::path::PathBuf::from("/tmp/v/bridge.db"));
    assert_eq!(b.poll, Duration::from_millis(100));
    assert_eq!(b.links[0].network, "ARBITRUM");

    // A link to a network the venue does not have; an unknown key.
    let bad = BRIDGE
        .replace("network = \"ARBITRUM\"", "network = \"BASE\"")
        .replace("chain = \"arbitrum\"", "chain = \"arbitrum\"\nspeed = 1");
    let e = venues_error(&venues_file(&chain, &bad));
    for want in [
        "v.toml:28: binance.bridge.link[0].network: no network \"BASE\" is configured on this venue (it has: ARBITRUM)",
        "v.toml:30: binance.bridge.link[0].speed: unknown key",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    // A chain that is not in the file; a network bridged twice.
    let bad = format!(
        "{BRIDGE}\n[[binance.bridge.link]]\nnetwork = \"ARBITRUM\"\nchain = \"optimism\"\n"
    );
    let e = venues_error(&venues_file(&chain, &bad));
    assert!(
        e.contains(
            "v.toml:32: binance.bridge.link[1].network: network \"ARBITRUM\" is bridged twice"
        ),
        "{e}"
    );
    let bad = BRIDGE.replace("chain = \"arbitrum\"", "chain = \"optimism\"");
    let e = venues_error(&venues_file(&chain, &bad));
    assert!(
        e.contains("v.toml:29: binance.bridge.link[0].chain: no [[chain]] named \"optimism\" in this file (chains: arbitrum)"),
        "{e}"
    );
    // A chain without a hot wallet key; a bridge without journal or links.
    let watch_only = chain_section("http://127.0.0.1:1", usdc, hot, "");
    let e = venues_error(&venues_file(&watch_only, BRIDGE));
    assert!(
        e.contains("v.toml:29: binance.bridge.link[0].chain: chain \"arbitrum\" (line 32) has no account with a key"),
        "{e}"
    );
    let e = venues_error(&venues_file(&chain, "[binance.bridge]\npoll = \"0s\"\n"));
    for want in [
        "v.toml:22: binance.bridge: missing key `journal`",
        "v.toml:23: binance.bridge.poll: must be more than 0",
        "v.toml:22: binance.bridge.link: a bridge needs at least one",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
}

#[test]
fn hyperliquid_bridge_configuration() {
    use ballast_localnet::serve::LocalVenues;
    let hot = PrivateKeySigner::random().address();
    let usdc = PrivateKeySigner::random().address();
    let chain = chain_section("http://127.0.0.1:1", usdc, hot, "key_env = \"HOT_KEY\"");
    let hl = |bridge: &str| {
        format!(
            "[hyperliquid]\nlisten = \"127.0.0.1:0\"\nchain = \"testnet\"\n\n[[hyperliquid.market]]\npreset = \"hyperliquid-usdt0-usdc\"\n\n[[hyperliquid.account]]\nname = \"a\"\naddress = \"{hot:#x}\"\n\n[hyperliquid.bridge]\njournal = \"hl.db\"\n{bridge}\n[[hyperliquid.bridge.link]]\nnetwork = \"ARBITRUM\"\nchain = \"arbitrum\"\n{chain}"
        )
    };
    let v = LocalVenues::parse("/tmp/hl/v.toml", &hl("")).unwrap_or_else(|e| panic!("{e}"));
    let (b, address) = v.hyperliquid.unwrap().bridge.unwrap();
    assert_eq!(
        format!("{address:#x}"),
        ballast_venue_hyperliquid::wallet::TESTNET_BRIDGE,
        "the client's default bridge address"
    );
    assert_eq!(b.journal, std::path::PathBuf::from("/tmp/hl/hl.db"));
    let e = venues_error(&hl("address = \"0x12\""));
    assert!(
        e.contains("v.toml:14: hyperliquid.bridge.address: \"0x12\" is not an address"),
        "{e}"
    );
    let e = venues_error(&hl("").replace("network = \"ARBITRUM\"", "network = \"BASE\""));
    assert!(
        e.contains("v.toml:16: hyperliquid.bridge.link[0].network: no network \"BASE\" is configured on this venue (it has: ARBITRUM)"),
        "{e}"
    );
}

/// What `ballast venues serve` starts: the server and its bridge from the file, the hot wallet's key from
/// its environment variable; a deposit is credited and a withdrawal paid out on the hardhat node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn venues_serve_starts_the_bridge() {
    use ballast_localnet::serve::{self, LocalVenues};
    let Some(a) = Net::hardhat("arbitrum", 31021).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("BALLAST_E2E_HOT_KEY", hex::encode(a.hot.to_bytes())) };
    let chain = chain_section(
        a.node_url(),
        a.usdc,
        a.hot.address(),
        "key_env = \"BALLAST_E2E_HOT_KEY\"",
    );
    let path = dir.path().join("venues.toml");
    std::fs::write(&path, venues_file(&chain, BRIDGE)).unwrap();
    let cfg = LocalVenues::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let running = serve::start(&cfg).await.unwrap();
    let lines = running.describe(&cfg);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("bridge ARBITRUM <-> chain arbitrum (chain id 31021")),
        "{lines:?}"
    );
    let server = running.binance.as_ref().unwrap();
    let us = a.us.address();
    let bn = client(server, "USDC", "ARBITRUM", us);
    let ours = a
        .client(Journal::open(dir.path().join("ours.db")).unwrap(), false)
        .await;
    a.mint("USDC", us, "300").await;
    a.mint("USDC", a.hot.address(), "1000").await;
    let to = VenueDepositAddress::fetch(&bn, "USDC", "arbitrum")
        .await
        .unwrap();
    ours.transfer(&TransferRequest {
        key: "serve:deposit".into(),
        from: None,
        asset: "USDC".into(),
        amount: d("300"),
        to: Destination::VenueDeposit(to),
    })
    .await
    .unwrap();
    let mut usdc = Decimal::ZERO;
    for _ in 0..60 {
        a.mine(1).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        usdc = venue_balance(&bn, "USDC").await;
        if usdc > Decimal::ZERO {
            break;
        }
    }
    assert_eq!(usdc, d("300"));
    let id = bn
        .withdraw(&WithdrawRequest {
            asset: "USDC".into(),
            network: "arbitrum".into(),
            address: us.to_string(),
            amount: d("100"),
            client_id: "servewithdraw".into(),
        })
        .await
        .unwrap();
    let mut done = None;
    for _ in 0..60 {
        a.mine(1).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        let w = transfers(&bn, TransferKind::Withdrawal).await;
        if w[0].state == TransferState::Completed {
            done = Some(w[0].clone());
            break;
        }
    }
    let w = done.expect("the withdrawal was paid out");
    assert_eq!(w.id, id);
    assert!(w.tx_hash.is_some());
    assert_eq!(a.balance("USDC", us).await, d("99.5"));
    assert_eq!(venue_balance(&bn, "USDC").await, d("200"));
    assert!(dir.path().join("bridge.db").exists());
    running.shutdown().await;
}

/// The node shared by a test binary serves tests that each run on their own tokio runtime. A request from
/// one test must not depend on another test's runtime: a pooled connection is driven by a task of the
/// runtime that opened it, which does not run while that test is busy elsewhere (or after it ended).
#[test]
fn a_shared_node_serves_each_runtime_on_its_own() {
    let Some(node) = devnet::shared_or_skip(31021) else {
        return;
    };
    let account = PrivateKeySigner::random().address();
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    for round in 0..5u64 {
        // The first runtime makes a request and stays alive without running (a test doing something else).
        let (first, second) = (runtime(), runtime());
        first.block_on(async { node.set_balance(account, U256::from(round)).await.unwrap() });
        let r = second.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(5),
                node.set_balance(account, U256::from(round + 1)),
            )
            .await
        });
        assert!(
            matches!(r, Ok(Ok(()))),
            "round {round}: the second runtime's request failed: {r:?}"
        );
    }
}
