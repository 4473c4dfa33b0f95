//! A real local EVM node for tests and the demo: hardhat's node, installed from the npm registry on first
//! use into a cache under `target/` and started on a free loopback port.
//!
//! - [`install`] runs `npm install hardhat@HARDHAT_VERSION` once into `target/devnet/hardhat-<version>`
//!   (or `$BALLAST_DEVNET_DIR`), under a file lock so parallel tests install once. About 20 s the first
//!   time with a warm network; nothing afterwards.
//! - [`Devnet::start`] writes a hardhat config with the chain id, starts `hardhat node` on a free port
//!   through a small `sh` wrapper, and waits until it prints that it listens. The wrapper kills the node
//!   when its stdin closes, which happens when the [`Devnet`] is dropped **or when the test process dies
//!   in any way** (panic, abort, SIGKILL), so no node outlives its test.
//! - [`Devnet::shared`] gives one node per chain id for a whole test binary.
//! - [`start_or_skip`] is what tests call: `None`, with a clear message, when the node cannot start (no
//!   `node`/`npm`, registry unreachable), unless `BALLAST_REQUIRE_DEVNET=1` (CI), where it panics.
//!
//! Test tokens and the balance reader are deployed from the bytecode committed in `contracts/build/`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolType, sol_data};

use ballast_chain::abi::{BALANCE_READER_BIN, IERC20, ITestToken, TEST_TOKEN_BIN};

/// The pinned hardhat release.
pub const HARDHAT_VERSION: &str = "2.29.1";

/// Why the local node is not available.
#[derive(Debug, Clone, thiserror::Error)]
#[error("local EVM node: {0}")]
pub struct DevnetError(pub String);

fn derr(msg: impl Into<String>) -> DevnetError {
    DevnetError(msg.into())
}

/// Where hardhat is installed.
pub fn cache_dir() -> PathBuf {
    if let Ok(d) = std::env::var("BALLAST_DEVNET_DIR") {
        return PathBuf::from(d);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target
        .join("devnet")
        .join(format!("hardhat-{HARDHAT_VERSION}"))
}

fn installed_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("node_modules/hardhat/package.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["version"].as_str().map(str::to_string)
}

fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<String, DevnetError> {
    let program = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| derr(format!("cannot run {program}: {e}")))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| derr(e.to_string()))? {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(derr(format!(
                "{program} did not finish within {} s",
                timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (o, e) = (
        t_out.join().unwrap_or_default(),
        t_err.join().unwrap_or_default(),
    );
    if status.success() {
        Ok(o)
    } else {
        // The error lines, without the stack frames npm appends.
        let lines: Vec<&str> = e
            .lines()
            .filter(|l| {
                !l.trim_start_matches("npm error")
                    .trim_start()
                    .starts_with("at ")
            })
            .collect();
        let tail = lines[lines.len().saturating_sub(12)..].join("\n");
        Err(derr(format!("{program} failed ({status}):\n{tail}")))
    }
}

/// Install the pinned hardhat into [`cache_dir`] unless it is there; returns the directory. Tried once
/// per process: a failure (no network) is remembered rather than retried by every test.
pub fn install() -> Result<PathBuf, DevnetError> {
    static INSTALLED: OnceLock<Result<PathBuf, DevnetError>> = OnceLock::new();
    INSTALLED.get_or_init(install_once).clone()
}

fn install_once() -> Result<PathBuf, DevnetError> {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| derr(format!("cannot create {}: {e}", dir.display())))?;
    let lock = std::fs::File::create(dir.join(".install.lock"))
        .map_err(|e| derr(format!("cannot create the install lock: {e}")))?;
    lock.lock()
        .map_err(|e| derr(format!("cannot take the install lock: {e}")))?;
    if installed_version(&dir).as_deref() == Some(HARDHAT_VERSION) {
        return Ok(dir);
    }
    let node = run_with_timeout(
        {
            let mut c = Command::new("node");
            c.arg("--version");
            c
        },
        Duration::from_secs(30),
    )
    .map_err(|e| derr(format!("Node.js is needed for the local chain: {}", e.0)))?;
    let major: u32 = node
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 18 {
        return Err(derr(format!(
            "hardhat needs Node.js 18 or newer, found {}",
            node.trim()
        )));
    }
    let pkg = serde_json::json!({
        "name": "ballast-devnet",
        "private": true,
        "description": "hardhat node for ballast's tests (installed by crates/testkit/src/devnet.rs)",
        "dependencies": { "hardhat": HARDHAT_VERSION }
    });
    std::fs::write(dir.join("package.json"), pkg.to_string())
        .map_err(|e| derr(format!("cannot write package.json: {e}")))?;
    let started = Instant::now();
    let mut cmd = Command::new("npm");
    cmd.current_dir(&dir).args([
        "install",
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--loglevel=error",
        "--fetch-retries=2",
        "--fetch-timeout=60000",
        &format!("hardhat@{HARDHAT_VERSION}"),
    ]);
    run_with_timeout(cmd, Duration::from_secs(300)).map_err(|e| {
        derr(format!(
            "installing hardhat {HARDHAT_VERSION} from npm: {}",
            e.0
        ))
    })?;
    match installed_version(&dir) {
        Some(v) if v == HARDHAT_VERSION => {
            eprintln!(
                "devnet: installed hardhat {v} into {} in {:.1} s",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(dir)
        }
        other => Err(derr(format!(
            "npm finished but hardhat {HARDHAT_VERSION} is not installed (found {other:?})"
        ))),
    }
}

fn free_port() -> Result<u16, DevnetError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| derr(format!("no free port: {e}")))?;
    Ok(l.local_addr().map_err(|e| derr(e.to_string()))?.port())
}

/// One running hardhat node.
pub struct Devnet {
    chain_id: u64,
    url: String,
    provider: RootProvider,
    child: Mutex<Option<Child>>,
    stdin: Mutex<Option<ChildStdin>>,
    node_pid: u32,
    config: PathBuf,
    /// The node's last output lines (for diagnostics).
    log: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("chain_id", &self.chain_id)
            .field("url", &self.url)
            .finish()
    }
}

impl Devnet {
    /// Install hardhat if needed and start a node for `chain_id` (blocking, up to a minute).
    pub fn start(chain_id: u64) -> Result<Devnet, DevnetError> {
        let dir = install()?;
        let mut last = None;
        for _ in 0..3 {
            match Self::start_in(&dir, chain_id) {
                Ok(d) => return Ok(d),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| derr("could not start")))
    }

    fn start_in(dir: &Path, chain_id: u64) -> Result<Devnet, DevnetError> {
        let port = free_port()?;
        let config = dir.join(format!("hardhat.{chain_id}.{port}.config.js"));
        let cfg = format!(
            "// written by ballast's test harness (crates/testkit/src/devnet.rs)\n\
             module.exports = {{ networks: {{ hardhat: {{ chainId: {chain_id}, \
             initialBaseFeePerGas: 1000000000, mining: {{ auto: true, interval: 0 }}, \
             accounts: {{ count: 2 }} }} }} }};\n"
        );
        std::fs::write(&config, cfg).map_err(|e| derr(format!("cannot write the config: {e}")))?;
        let cli = dir.join("node_modules/hardhat/internal/cli/cli.js");
        // The wrapper prints the node's pid, then kills the node when its stdin reaches EOF: when this
        // handle is dropped or this process dies.
        let script =
            r#"node "$@" & p=$!; echo "devnet-pid $p"; read _unused; kill $p 2>/dev/null; wait $p"#;
        let mut child = Command::new("sh")
            .current_dir(dir)
            .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
            .env("HARDHAT_TELEMETRY_DISABLED", "true")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&cli)
            .arg("node")
            .arg("--config")
            .arg(&config)
            .arg("--hostname")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| derr(format!("cannot start sh: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (tx, rx) = std::sync::mpsc::channel::<Result<u32, String>>();
        {
            let log = log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut pid = None;
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(p) = line.strip_prefix("devnet-pid ") {
                        pid = p.trim().parse::<u32>().ok();
                    } else if line.contains("Started HTTP and WebSocket JSON-RPC server at") {
                        let _ = tx.send(pid.ok_or_else(|| "no pid".to_string()));
                    }
                    let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                    l.push(line);
                    if l.len() > 200 {
                        l.drain(..100);
                    }
                }
                let _ = tx.send(Err("the node exited".into()));
            });
        }
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                    l.push(format!("stderr: {line}"));
                    if l.len() > 200 {
                        l.drain(..100);
                    }
                }
            });
        }
        let url = format!("http://127.0.0.1:{port}");
        let node_pid = match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(Ok(pid)) => pid,
            other => {
                drop(stdin);
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_file(&config);
                let tail = log.lock().map(|l| l.join("\n")).unwrap_or_default();
                return Err(derr(format!(
                    "hardhat node did not start ({}):\n{tail}",
                    match other {
                        Ok(Err(e)) => e,
                        _ => "timeout".into(),
                    }
                )));
            }
        };
        // Unpooled: a shared node serves the tests of a binary, each on its own runtime.
        let provider = ballast_chain::evm::http_provider_unpooled(
            url.parse().expect("loopback url"),
            Duration::from_secs(30),
        )
        .map_err(derr)?;
        Ok(Devnet {
            chain_id,
            url,
            provider,
            child: Mutex::new(Some(child)),
            stdin: Mutex::new(stdin),
            node_pid,
            config,
            log,
        })
    }

    /// One node per chain id for the whole process (stopped when the process exits).
    pub fn shared(chain_id: u64) -> Result<&'static Devnet, DevnetError> {
        static NODES: OnceLock<Mutex<HashMap<u64, Result<&'static Devnet, DevnetError>>>> =
            OnceLock::new();
        let nodes = NODES.get_or_init(Default::default);
        let mut map = nodes.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(chain_id)
            .or_insert_with(|| Devnet::start(chain_id).map(|d| &*Box::leak(Box::new(d))))
            .clone()
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn provider(&self) -> &RootProvider {
        &self.provider
    }

    /// The node's recent output.
    pub fn log_tail(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Stop the node now.
    pub fn stop(&self) {
        // Closing the wrapper's stdin makes it kill the node.
        if let Ok(mut s) = self.stdin.lock()
            && let Some(mut s) = s.take()
        {
            let _ = s.flush();
        }
        let child = self.child.lock().ok().and_then(|mut c| c.take());
        if let Some(mut child) = child {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        let _ = Command::new("kill")
                            .arg("-9")
                            .arg(self.node_pid.to_string())
                            .status();
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
        let _ = std::fs::remove_file(&self.config);
    }

    async fn call(
        &self,
        method: &'static str,
        params: Vec<serde_json::Value>,
    ) -> Result<serde_json::Value, DevnetError> {
        self.provider
            .raw_request::<_, serde_json::Value>(method.into(), params)
            .await
            .map_err(|e| derr(format!("{method}: {e}")))
    }

    /// Mine `n` blocks now.
    pub async fn mine(&self, n: u64) -> Result<(), DevnetError> {
        self.call("hardhat_mine", vec![format!("{n:#x}").into()])
            .await
            .map(|_| ())
    }

    /// Mine a block per transaction (on), or only on [`Devnet::mine`] (off).
    pub async fn set_automine(&self, on: bool) -> Result<(), DevnetError> {
        self.call("evm_setAutomine", vec![on.into()])
            .await
            .map(|_| ())
    }

    /// The base fee of the next block, wei.
    pub async fn set_next_base_fee(&self, wei: u128) -> Result<(), DevnetError> {
        self.call(
            "hardhat_setNextBlockBaseFeePerGas",
            vec![format!("{wei:#x}").into()],
        )
        .await
        .map(|_| ())
    }

    /// Set an account's native balance, wei.
    pub async fn set_balance(&self, a: Address, wei: U256) -> Result<(), DevnetError> {
        self.call(
            "hardhat_setBalance",
            vec![a.to_string().into(), format!("{wei:#x}").into()],
        )
        .await
        .map(|_| ())
    }

    /// Sign and send a transaction from `signer` (automine must be on) and wait for its receipt; returns
    /// the created contract's address for a deployment.
    pub async fn send(
        &self,
        signer: &PrivateKeySigner,
        to: TxKind,
        input: Bytes,
    ) -> Result<Option<Address>, DevnetError> {
        let p = &self.provider;
        let e = |e: alloy::transports::TransportError| derr(e.to_string());
        let from = signer.address();
        let nonce = p.get_transaction_count(from).pending().await.map_err(e)?;
        let mut req = TransactionRequest::default()
            .from(from)
            .input(input.clone().into());
        if let TxKind::Call(a) = to {
            req = req.to(a);
        } else {
            req.to = Some(TxKind::Create);
        }
        let gas = p.estimate_gas(req).await.map_err(e)?;
        let block = p
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(e)?
            .ok_or_else(|| derr("no head"))?;
        let base = u128::from(block.header.base_fee_per_gas.unwrap_or(1_000_000_000));
        let mut tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit: gas * 3 / 2,
            max_fee_per_gas: base * 2 + 1_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            value: U256::ZERO,
            access_list: Default::default(),
            input,
        };
        let sig = signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| derr(e.to_string()))?;
        let env = TxEnvelope::from(tx.into_signed(sig));
        let hash: B256 = *env.tx_hash();
        let _pending = p
            .send_raw_transaction(&env.encoded_2718())
            .await
            .map_err(e)?;
        for _ in 0..200 {
            if let Some(r) = p.get_transaction_receipt(hash).await.map_err(e)? {
                if !r.status() {
                    return Err(derr(format!("transaction {hash} reverted")));
                }
                return Ok(r.contract_address);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(derr(format!("no receipt for {hash} (is automine off?)")))
    }

    /// Deploy `contracts/TestToken.sol` with `deployer` as its owner.
    pub async fn deploy_token(
        &self,
        deployer: &PrivateKeySigner,
        name: &str,
        symbol: &str,
        decimals: u8,
    ) -> Result<Address, DevnetError> {
        let mut code = hex::decode(TEST_TOKEN_BIN.trim()).map_err(|e| derr(e.to_string()))?;
        type Ctor = (sol_data::String, sol_data::String, sol_data::Uint<8>);
        code.extend(Ctor::abi_encode_params(&(
            name.to_string(),
            symbol.to_string(),
            decimals,
        )));
        self.send(deployer, TxKind::Create, code.into())
            .await?
            .ok_or_else(|| derr("no contract address"))
    }

    /// Deploy `contracts/BalanceReader.sol` (the Multicall3 subset).
    pub async fn deploy_balance_reader(
        &self,
        deployer: &PrivateKeySigner,
    ) -> Result<Address, DevnetError> {
        let code = hex::decode(BALANCE_READER_BIN.trim()).map_err(|e| derr(e.to_string()))?;
        self.send(deployer, TxKind::Create, code.into())
            .await?
            .ok_or_else(|| derr("no contract address"))
    }

    /// Mint test tokens (the deployer is the owner).
    pub async fn mint(
        &self,
        owner: &PrivateKeySigner,
        token: Address,
        to: Address,
        raw: U256,
    ) -> Result<(), DevnetError> {
        let data = ITestToken::mintCall { to, amount: raw }.abi_encode();
        self.send(owner, TxKind::Call(token), data.into())
            .await
            .map(|_| ())
    }

    /// A token balance read straight from the node (independent of the chain client).
    pub async fn token_balance(&self, token: Address, owner: Address) -> Result<U256, DevnetError> {
        let req = TransactionRequest::default()
            .to(token)
            .input(IERC20::balanceOfCall { account: owner }.abi_encode().into());
        let out = self
            .provider
            .call(req)
            .await
            .map_err(|e| derr(e.to_string()))?;
        IERC20::balanceOfCall::abi_decode_returns(&out).map_err(|e| derr(e.to_string()))
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.stop();
    }
}

fn unavailable(e: &DevnetError) {
    if std::env::var("BALLAST_REQUIRE_DEVNET").is_ok_and(|v| v == "1") {
        panic!("BALLAST_REQUIRE_DEVNET=1 but {e}");
    }
    // Written to the process's stderr directly, past the test harness's capture, so a skip is seen even
    // when the (passing) test's output is hidden.
    static EXPLAINED: OnceLock<()> = OnceLock::new();
    let mut err = std::io::stderr().lock();
    if EXPLAINED.set(()).is_ok() {
        let _ = writeln!(
            err,
            "\nSKIPPED: the local EVM node (hardhat {HARDHAT_VERSION} from npm) cannot start here, so the tests \
             that need it do not run: {e}\n(set BALLAST_REQUIRE_DEVNET=1 to make this a failure, as CI does)"
        );
    }
    let name = std::thread::current().name().unwrap_or("?").to_string();
    let _ = writeln!(err, "SKIPPED (no local EVM node): {name}");
}

/// A new node for `chain_id`, or `None` (with the reason printed) when it cannot start.
pub fn start_or_skip(chain_id: u64) -> Option<Devnet> {
    match Devnet::start(chain_id) {
        Ok(d) => Some(d),
        Err(e) => {
            unavailable(&e);
            None
        }
    }
}

/// The process-wide node for `chain_id`, or `None` (with the reason printed) when it cannot start.
pub fn shared_or_skip(chain_id: u64) -> Option<&'static Devnet> {
    match Devnet::shared(chain_id) {
        Ok(d) => Some(d),
        Err(e) => {
            unavailable(&e);
            None
        }
    }
}
