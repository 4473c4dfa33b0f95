//! `[[chain]]` sections: EVM chains, their RPC endpoints, fee caps, tokens and accounts.
//!
//! Secrets never appear in the file: an RPC URL that embeds a key is given as the name of an environment
//! variable (`rpc_url_env`), and a signing key as an environment variable (`key_env`) or an encrypted
//! keystore whose password is in an environment variable. Nothing here reads those variables; the chain
//! client does when it connects, so `config check` works without secrets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::Address;
use rust_decimal::Decimal;

use super::PositionCfg;
use super::reader::{Diagnostics, Field, FromField, Obj, Problem, choice};

/// Which implementation serves a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainKind {
    /// A real EVM node over JSON-RPC.
    Evm,
    /// The in-process simulated ledger (paper mode, demo).
    Sim,
}

/// Where the RPC URL comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RpcSource {
    Url(String),
    /// The name of an environment variable holding the URL.
    Env(String),
}

/// Where a signing key comes from. The key itself is never in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The name of an environment variable holding the hex private key.
    Env(String),
    /// An encrypted JSON keystore (resolved against the config file's directory) and the name of the
    /// environment variable holding its password.
    Keystore { path: PathBuf, password_env: String },
    /// A well-known development key (`dev_key = N`): public, worthless, for simulated chains only (paper
    /// mode and the demo run with no secrets).
    Dev(u32),
}

/// The development key number `n`: derived from a public formula, so anyone can spend with it. Only ever
/// accepted on `kind = "sim"` chains.
pub fn dev_signer(n: u32) -> alloy::signers::local::PrivateKeySigner {
    use sha2::{Digest, Sha256};
    let mut attempt = 0u32;
    loop {
        let mut h = Sha256::new();
        h.update(b"ballast/dev-key/v1/");
        h.update(n.to_be_bytes());
        h.update(attempt.to_be_bytes());
        if let Ok(s) = alloy::signers::local::PrivateKeySigner::from_slice(&h.finalize()) {
            return s;
        }
        attempt += 1;
    }
}

/// One of our accounts on a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountCfg {
    pub address: Address,
    /// `None`: watch only (balances are read, nothing is sent from it).
    pub key: Option<KeySource>,
}

/// One ERC20 token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCfg {
    pub asset: String,
    pub address: Address,
    /// Checked against the contract's `decimals()` when the chain connects.
    pub decimals: u8,
}

/// One configured chain.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainCfg {
    pub name: String,
    pub kind: ChainKind,
    pub chain_id: u64,
    /// Required for `kind = "evm"`.
    pub rpc: Option<RpcSource>,
    /// Blocks on top of the including block (itself counted) before a transfer counts as done.
    pub confirmations: u64,
    /// Cap on `maxFeePerGas`, in gwei.
    pub max_fee_gwei: Decimal,
    /// Cap on `maxPriorityFeePerGas`, in gwei.
    pub max_priority_fee_gwei: Decimal,
    /// A Multicall3-compatible contract for one-call balance reads.
    pub multicall: Option<Address>,
    /// Symbol of the chain's native asset (gas).
    pub native_asset: String,
    pub tokens: Vec<TokenCfg>,
    pub accounts: Vec<AccountCfg>,
    /// Addresses a venue may be asked to withdraw to on this chain. Defaults to the accounts.
    pub withdrawal_allowlist: Vec<Address>,
    /// Timeout of one RPC request.
    pub rpc_timeout: Duration,
    /// A head block older than this marks the chain stale (no new moves from it).
    pub stale_after: Option<Duration>,
    /// A transaction pending this long is replaced with higher fees.
    pub replace_after: Duration,
    /// Fee increase of a replacement, in bps (at least 1000: nodes require +10%).
    pub fee_bump_bps: u32,
    /// Widest block range of one `eth_getLogs` request.
    pub max_log_blocks: u64,
    /// Block time of a simulated chain.
    pub block_time: Duration,
    /// Line of the `[[chain]]` header.
    pub line: usize,
}

impl ChainCfg {
    pub fn token(&self, asset: &str) -> Option<&TokenCfg> {
        self.tokens.iter().find(|t| t.asset == asset)
    }

    /// Decimals of an asset on this chain (18 for the native asset).
    pub fn decimals_of(&self, asset: &str) -> Option<u32> {
        if asset == self.native_asset {
            Some(18)
        } else {
            self.token(asset).map(|t| u32::from(t.decimals))
        }
    }

    /// The accounts that can sign.
    pub fn signing_accounts(&self) -> impl Iterator<Item = &AccountCfg> {
        self.accounts.iter().filter(|a| a.key.is_some())
    }
}

/// An address: 0x + 40 hex digits. Mixed case must be a valid EIP-55 checksum (a typo is caught).
pub fn parse_address(s: &str) -> Result<Address, String> {
    let s = s.trim();
    let digits = s.strip_prefix("0x").ok_or("an address starts with 0x")?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("an address is 0x followed by 40 hex digits".into());
    }
    let mixed = digits.bytes().any(|b| b.is_ascii_lowercase())
        && digits.bytes().any(|b| b.is_ascii_uppercase());
    if mixed {
        Address::parse_checksummed(s, None)
            .map_err(|_| "the mixed-case address fails its EIP-55 checksum (a typo?)".to_string())
    } else {
        s.parse::<Address>().map_err(|e| e.to_string())
    }
}

fn address_field(f: &Field, d: &mut Diagnostics) -> Option<Address> {
    let s = String::from_field(f, d)?;
    match parse_address(&s) {
        Ok(a) if a == Address::ZERO => {
            f.invalid(d, "the zero address is not allowed");
            None
        }
        Ok(a) => Some(a),
        Err(e) => {
            f.invalid(d, format!("{s:?}: {e}"));
            None
        }
    }
}

fn req_address(o: &mut Obj, d: &mut Diagnostics, key: &str) -> Option<Address> {
    match o.field(key) {
        Some(f) => address_field(&f, d),
        None => {
            d.error(o.span.clone(), &o.path, format!("missing key `{key}`"));
            None
        }
    }
}

/// The name of an environment variable: refuses something that looks like the secret itself.
fn env_name(o: &mut Obj, d: &mut Diagnostics, key: &str) -> Option<String> {
    let f = o.field(key)?;
    let s = String::from_field(&f, d)?;
    let hexish = s.strip_prefix("0x").unwrap_or(&s);
    if hexish.len() >= 32 && hexish.bytes().all(|b| b.is_ascii_hexdigit()) {
        f.invalid(
            d,
            "this looks like a secret, not the name of an environment variable: remove it from the file \
             and put it in the environment",
        );
        return None;
    }
    if s.contains("://") {
        f.invalid(
            d,
            "give the name of an environment variable holding the URL, not the URL",
        );
        return None;
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        f.invalid(d, format!("{s:?} is not an environment variable name"));
        return None;
    }
    Some(s)
}

fn positive_gwei(o: &mut Obj, d: &mut Diagnostics, key: &str) -> Option<Decimal> {
    let f = o.field(key)?;
    let v = Decimal::from_field(&f, d)?;
    if v <= Decimal::ZERO {
        f.invalid(d, format!("{v} must be above 0"));
        return None;
    }
    if v.normalize().scale() > 9 {
        f.invalid(d, format!("{v} has more than 9 decimals (below 1 wei)"));
        return None;
    }
    Some(v)
}

fn read_tokens(o: &mut Obj, d: &mut Diagnostics, chain: &str) -> Vec<TokenCfg> {
    let mut out: Vec<TokenCfg> = Vec::new();
    let Some(f) = o.field("token") else {
        return out;
    };
    for mut t in f.objs(d) {
        let asset: Option<String> = t.req(d, "asset");
        let address = req_address(&mut t, d, "address");
        let decimals = match t.field("decimals") {
            Some(df) => u8::from_field(&df, d).filter(|v| {
                let ok = *v <= 28;
                if !ok {
                    df.invalid(
                        d,
                        format!(
                            "{v} is above 28 (ballast counts amounts with at most 28 decimals)"
                        ),
                    );
                }
                ok
            }),
            None => {
                d.error(t.span.clone(), &t.path, "missing key `decimals`");
                None
            }
        };
        if let Some(a) = &asset
            && out.iter().any(|x| &x.asset == a)
        {
            d.error(
                t.span.clone(),
                format!("{}.asset", t.path),
                format!("token {a:?} is declared twice on chain {chain:?}"),
            );
        }
        if let Some(addr) = address
            && let Some(x) = out
                .iter()
                .find(|x| x.address == addr && addr != Address::ZERO)
        {
            d.error(
                t.span.clone(),
                format!("{}.address", t.path),
                format!("{addr} is already token {:?} on chain {chain:?}", x.asset),
            );
        }
        t.finish(d);
        // Kept with placeholders when only the address or decimals were bad (already reported), so a
        // position on this token is not reported again as unknown.
        if let Some(asset) = asset {
            out.push(TokenCfg {
                asset,
                address: address.unwrap_or(Address::ZERO),
                decimals: decimals.unwrap_or(18),
            });
        }
    }
    out
}

fn read_accounts(
    o: &mut Obj,
    d: &mut Diagnostics,
    base_dir: &Path,
    is_sim: bool,
) -> Vec<AccountCfg> {
    let mut out: Vec<AccountCfg> = Vec::new();
    let Some(f) = o.field("account") else {
        d.error(
            o.span.clone(),
            &o.path,
            "missing `[[chain.account]]`: at least one account (address, and key_env or keystore to send)",
        );
        return out;
    };
    for mut a in f.objs(d) {
        let address = req_address(&mut a, d, "address");
        let key_env = env_name(&mut a, d, "key_env");
        let keystore: Option<String> = a.opt(d, "keystore").ok().flatten();
        let password_env = env_name(&mut a, d, "password_env");
        let dev_key = match a.field("dev_key") {
            Some(f) if !is_sim => {
                f.invalid(
                    d,
                    "development keys are public: only simulated chains (kind = \"sim\") accept them",
                );
                None
            }
            Some(f) => u32::from_field(&f, d).map(|n| (n, f)),
            None => None,
        };
        if let Some((n, f)) = &dev_key {
            let derived = dev_signer(*n).address();
            if key_env.is_some() || keystore.is_some() {
                f.invalid(d, "give one of `dev_key`, `key_env` or `keystore`");
            } else if address.is_some_and(|a| a != derived) {
                f.invalid(
                    d,
                    format!("dev_key {n} is the key of {derived}, not of this account's address"),
                );
            }
        }
        let key = match (key_env, keystore, password_env) {
            _ if dev_key.is_some() => dev_key.map(|(n, _)| KeySource::Dev(n)),
            (Some(_), Some(_), _) => {
                d.error(
                    a.span.clone(),
                    &a.path,
                    "give either `key_env` or `keystore`, not both",
                );
                None
            }
            (Some(env), None, None) => Some(KeySource::Env(env)),
            (Some(_), None, Some(_)) => {
                d.error(
                    a.span.clone(),
                    format!("{}.password_env", a.path),
                    "`password_env` goes with `keystore`",
                );
                None
            }
            (None, Some(path), Some(password_env)) => {
                let p = PathBuf::from(&path);
                Some(KeySource::Keystore {
                    path: if p.is_absolute() { p } else { base_dir.join(p) },
                    password_env,
                })
            }
            (None, Some(_), None) => {
                d.error(
                    a.span.clone(),
                    &a.path,
                    "missing key `password_env` (the environment variable holding the keystore password)",
                );
                None
            }
            (None, None, Some(_)) => {
                d.error(
                    a.span.clone(),
                    format!("{}.password_env", a.path),
                    "`password_env` goes with `keystore`",
                );
                None
            }
            (None, None, None) => None,
        };
        if let Some(addr) = address
            && out.iter().any(|x| x.address == addr)
        {
            d.error(
                a.span.clone(),
                format!("{}.address", a.path),
                format!("account {addr} is declared twice"),
            );
        }
        a.finish(d);
        if let Some(address) = address {
            out.push(AccountCfg { address, key });
        }
    }
    out
}

fn read_one(mut o: Obj, d: &mut Diagnostics, base_dir: &Path) -> Option<ChainCfg> {
    let line = o.span.as_ref().map(|s| d.line_of(s.start)).unwrap_or(0);
    let name: Option<String> = o.req(d, "name");
    let label = name.clone().unwrap_or_else(|| o.path.clone());
    let kind = match o.field("kind") {
        Some(f) => choice(&f, d, &[("evm", ChainKind::Evm), ("sim", ChainKind::Sim)]),
        None => Some(ChainKind::Evm),
    };
    let chain_id: Option<u64> = o.req(d, "chain_id");
    if chain_id == Some(0) {
        d.error(
            o.span.clone(),
            format!("{}.chain_id", o.path),
            "0 is not a chain id",
        );
    }
    let url: Option<String> = o.opt(d, "rpc_url").ok().flatten();
    let url_env = env_name(&mut o, d, "rpc_url_env");
    let rpc_given = url.is_some() || url_env.is_some();
    let rpc = match (url, url_env) {
        (Some(_), Some(_)) => {
            d.error(
                o.span.clone(),
                &o.path,
                "give either `rpc_url` or `rpc_url_env`, not both",
            );
            None
        }
        (Some(u), None) => {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                d.error(
                    o.span.clone(),
                    format!("{}.rpc_url", o.path),
                    "an RPC URL starts with http:// or https://",
                );
            }
            Some(RpcSource::Url(u))
        }
        (None, Some(e)) => Some(RpcSource::Env(e)),
        (None, None) => None,
    };
    let is_sim = kind == Some(ChainKind::Sim);
    if kind == Some(ChainKind::Evm) && !rpc_given {
        d.error(
            o.span.clone(),
            &o.path,
            "missing key `rpc_url_env` (or `rpc_url`) for an EVM chain",
        );
    }
    let confirmations = match o.field("confirmations") {
        Some(f) => u64::from_field(&f, d).filter(|v| {
            let ok = (1..=10_000).contains(v);
            if !ok {
                f.invalid(d, format!("{v} is outside 1..=10000"));
            }
            ok
        }),
        None if is_sim => Some(1),
        None => {
            d.error(o.span.clone(), &o.path, "missing key `confirmations`");
            None
        }
    };
    let cap = |o: &mut Obj, d: &mut Diagnostics, key: &str, sim_default: i64| {
        if o.contains(key) {
            positive_gwei(o, d, key)
        } else if is_sim {
            Some(Decimal::from(sim_default))
        } else {
            d.error(
                o.span.clone(),
                &o.path,
                format!("missing key `{key}` (the fee cap, in gwei)"),
            );
            None
        }
    };
    let max_fee_gwei = cap(&mut o, d, "max_fee_gwei", 100);
    let max_priority_fee_gwei = cap(&mut o, d, "max_priority_fee_gwei", 2);
    if let (Some(fee), Some(prio)) = (max_fee_gwei, max_priority_fee_gwei)
        && prio > fee
    {
        d.error(
            o.span.clone(),
            format!("{}.max_priority_fee_gwei", o.path),
            format!("{prio} is above max_fee_gwei ({fee})"),
        );
    }
    let multicall = o.field("multicall").and_then(|f| address_field(&f, d));
    let native_asset = o.or(d, "native_asset", "ETH".to_string());
    let rpc_timeout = o.or(d, "rpc_timeout", Duration::from_secs(10));
    let stale_after: Option<Duration> = o.opt(d, "stale_after").ok().flatten();
    let replace_after = o.or(d, "replace_after", Duration::from_secs(180));
    let fee_bump_bps = match o.field("fee_bump_bps") {
        Some(f) => u32::from_field(&f, d)
            .filter(|v| {
                let ok = (1000..=10_000).contains(v);
                if !ok {
                    f.invalid(
                        d,
                        format!(
                            "{v} is outside 1000..=10000 (nodes refuse a replacement below +10%)"
                        ),
                    );
                }
                ok
            })
            .unwrap_or(1250),
        None => 1250,
    };
    let max_log_blocks = match o.field("max_log_blocks") {
        Some(f) => u64::from_field(&f, d)
            .filter(|v| {
                let ok = *v >= 1;
                if !ok {
                    f.invalid(d, "must be at least 1");
                }
                ok
            })
            .unwrap_or(2000),
        None => 2000,
    };
    let block_time = match o.field("block_time") {
        Some(f) if !is_sim => {
            f.invalid(d, "`block_time` is for simulated chains (kind = \"sim\")");
            Duration::from_secs(2)
        }
        Some(f) => match Duration::from_field(&f, d) {
            Some(v) if v.is_zero() => {
                f.invalid(d, "must be longer than 0s");
                Duration::from_secs(2)
            }
            Some(v) => v,
            None => Duration::from_secs(2),
        },
        None => Duration::from_secs(2),
    };
    let tokens = read_tokens(&mut o, d, &label);
    if tokens.iter().any(|t| t.asset == native_asset) {
        d.error(
            o.span.clone(),
            format!("{}.token", o.path),
            format!("{native_asset:?} is the native asset of chain {label:?}, not a token"),
        );
    }
    let accounts = read_accounts(&mut o, d, base_dir, is_sim);
    let withdrawal_allowlist = match o.field("withdrawal_allowlist") {
        Some(f) => match f.value() {
            Some(toml_edit::Value::Array(arr)) => {
                let mut out = Vec::new();
                for (i, v) in arr.iter().enumerate() {
                    let path = format!("{}[{i}]", f.path);
                    let span = v.span().or(f.span.clone());
                    match v.as_str().map(parse_address) {
                        Some(Ok(a)) if a != Address::ZERO => out.push(a),
                        Some(Ok(_)) => d.error(span, path, "the zero address is not allowed"),
                        Some(Err(e)) => d.error(span, path, e),
                        None => d.error(span, path, "expected an address string"),
                    }
                }
                out
            }
            _ => {
                f.wrong_type(d, "an array of addresses");
                Vec::new()
            }
        },
        None => accounts.iter().map(|a| a.address).collect(),
    };
    o.finish(d);
    // A chain with a name is returned even when other fields were bad (those are reported already and no
    // `Config` will exist), so the cross-checks do not repeat its problems as "unknown chain".
    Some(ChainCfg {
        name: name?,
        kind: kind.unwrap_or(ChainKind::Evm),
        chain_id: chain_id.unwrap_or(0),
        rpc,
        confirmations: confirmations.unwrap_or(1),
        max_fee_gwei: max_fee_gwei.unwrap_or_default(),
        max_priority_fee_gwei: max_priority_fee_gwei.unwrap_or_default(),
        multicall,
        native_asset,
        tokens,
        accounts,
        withdrawal_allowlist,
        rpc_timeout,
        stale_after,
        replace_after,
        fee_bump_bps,
        max_log_blocks,
        block_time,
        line,
    })
}

/// Read every `[[chain]]` section.
pub fn read(root: &mut Obj, d: &mut Diagnostics) -> Vec<ChainCfg> {
    let mut out: Vec<ChainCfg> = Vec::new();
    let Some(f) = root.field("chain") else {
        return out;
    };
    let base_dir = Path::new(d.file())
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for o in f.objs(d) {
        let span = o.span.clone();
        let path = o.path.clone();
        let Some(c) = read_one(o, d, &base_dir) else {
            continue;
        };
        if let Some(prev) = out.iter().find(|x| x.name == c.name) {
            d.error(
                span,
                format!("{path}.name"),
                format!(
                    "chain {:?} is declared twice (first at line {})",
                    c.name, prev.line
                ),
            );
            continue;
        }
        if let Some(prev) = out
            .iter()
            .find(|x| x.chain_id == c.chain_id && c.chain_id != 0)
        {
            d.error(
                span,
                format!("{path}.chain_id"),
                format!(
                    "chain id {} is already chain {:?} (line {})",
                    c.chain_id, prev.name, prev.line
                ),
            );
        }
        out.push(c);
    }
    out
}

/// When chains are configured, every position must name one of them and an asset it carries, and must not
/// round to more decimals than the token has.
pub fn check_positions(chains: &[ChainCfg], positions: &[PositionCfg], d: &mut Diagnostics) {
    if chains.is_empty() {
        return;
    }
    let names: Vec<&str> = chains.iter().map(|c| c.name.as_str()).collect();
    for (i, p) in positions.iter().enumerate() {
        let mut report = |field: &str, message: String| {
            d.problems.push(Problem {
                file: d.file().to_string(),
                line: Some(p.line),
                path: format!("position[{i}].{field}"),
                message,
            })
        };
        let Some(c) = chains.iter().find(|c| c.name == p.key.chain) else {
            report(
                "chain",
                format!(
                    "chain {:?} has no [[chain]] section (configured chains: {})",
                    p.key.chain,
                    names.join(", ")
                ),
            );
            continue;
        };
        match c.decimals_of(&p.key.asset) {
            None => {
                let mut assets: Vec<&str> = c.tokens.iter().map(|t| t.asset.as_str()).collect();
                assets.push(&c.native_asset);
                report(
                    "asset",
                    format!(
                        "asset {:?} is not a token of chain {:?} (it has: {})",
                        p.key.asset,
                        c.name,
                        assets.join(", ")
                    ),
                );
            }
            Some(dec) if p.decimals > dec => report(
                "decimals",
                format!(
                    "{} rounds to {} decimals but {} on {} has {dec}",
                    p.key, p.decimals, p.key.asset, c.name
                ),
            ),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    const BASE: &str = r#"
[controller]
min_order_value = "1"

[[position]]
chain = "arb"
asset = "USDC"
target = "100"

[[position]]
chain = "op"
asset = "USDT"
target = "100"
"#;

    const CHAINS: &str = r#"
[[chain]]
name = "arb"
chain_id = 42161
rpc_url_env = "ARB_RPC_URL"
confirmations = 3
max_fee_gwei = "1.5"
max_priority_fee_gwei = "0.01"
multicall = "0xcA11bde05977b3631167028862bE2a173976CA11"
withdrawal_allowlist = ["0x70997970c51812dc3a010c7d01b50e0d17dc79c8"]

[[chain.token]]
asset = "USDC"
address = "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"
decimals = 6

[[chain.account]]
address = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
key_env = "ARB_HOT_KEY"

[[chain.account]]
address = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"

[[chain]]
name = "op"
kind = "sim"
chain_id = 10
block_time = "500ms"

[[chain.token]]
asset = "USDT"
address = "0x94b008aA00579c1307B0EF2c499aD98a8ce58e58"
decimals = 6

[[chain.account]]
address = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
keystore = "keys/op.json"
password_env = "OP_KEYSTORE_PASSWORD"
"#;

    fn errors(src: &str) -> Vec<String> {
        match Config::parse("/etc/ballast/c.toml", src) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn chains_are_read_with_defaults() {
        let c = Config::parse("/etc/ballast/c.toml", &format!("{BASE}{CHAINS}")).unwrap();
        assert_eq!(c.chains.len(), 2);
        let arb = &c.chains[0];
        assert_eq!(arb.kind, ChainKind::Evm);
        assert_eq!(arb.rpc, Some(RpcSource::Env("ARB_RPC_URL".into())));
        assert_eq!(arb.confirmations, 3);
        assert_eq!(arb.max_fee_gwei, Decimal::new(15, 1));
        assert_eq!(arb.token("USDC").unwrap().decimals, 6);
        assert_eq!(arb.accounts.len(), 2);
        assert_eq!(
            arb.accounts[0].key,
            Some(KeySource::Env("ARB_HOT_KEY".into()))
        );
        assert_eq!(arb.accounts[1].key, None);
        assert_eq!(arb.signing_accounts().count(), 1);
        assert_eq!(arb.withdrawal_allowlist.len(), 1);
        assert_eq!(arb.fee_bump_bps, 1250);
        assert_eq!(arb.decimals_of("ETH"), Some(18));
        let op = &c.chains[1];
        assert_eq!(op.kind, ChainKind::Sim);
        assert_eq!(op.confirmations, 1);
        assert_eq!(op.block_time, Duration::from_millis(500));
        assert_eq!(
            op.accounts[0].key,
            Some(KeySource::Keystore {
                path: PathBuf::from("/etc/ballast/keys/op.json"),
                password_env: "OP_KEYSTORE_PASSWORD".into()
            })
        );
        assert_eq!(op.withdrawal_allowlist, vec![op.accounts[0].address]);
    }

    #[test]
    fn every_chain_error_has_a_line_and_a_path() {
        let src = format!("{BASE}{CHAINS}")
            .replace("confirmations = 3\n", "")
            .replace(
                "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
                "0xaf88d065e77c8cC2239327C5EDb3A432268e5832",
            )
            .replace(
                "key_env = \"ARB_HOT_KEY\"",
                "key_env = \"0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\"",
            )
            .replace("chain_id = 10", "chain_id = 42161")
            .replace(
                "max_priority_fee_gwei = \"0.01\"",
                "max_priority_fee_gwei = \"2\"",
            );
        let errs = errors(&src);
        assert_eq!(
            errs,
            vec![
                "/etc/ballast/c.toml:15: chain[0]: missing key `confirmations`",
                "/etc/ballast/c.toml:15: chain[0].max_priority_fee_gwei: 2 is above max_fee_gwei (1.5)",
                "/etc/ballast/c.toml:26: chain[0].token[0].address: \"0xaf88d065e77c8cC2239327C5EDb3A432268e5832\": \
                 the mixed-case address fails its EIP-55 checksum (a typo?)",
                "/etc/ballast/c.toml:31: chain[0].account[0].key_env: this looks like a secret, not the name of an \
                 environment variable: remove it from the file and put it in the environment",
                "/etc/ballast/c.toml:36: chain[1].chain_id: chain id 42161 is already chain \"arb\" (line 15)",
            ]
        );
        assert!(
            errs.iter().all(|e| !e.contains("bec39a17")),
            "a secret is never echoed"
        );
    }

    #[test]
    fn positions_must_match_chains_tokens_and_decimals() {
        let src = format!(
            "{BASE}[[position]]\nchain = \"base\"\nasset = \"USDC\"\ntarget = \"1\"\n{CHAINS}"
        )
        .replace(
            "asset = \"USDT\"\ntarget",
            "asset = \"DAI\"\ndecimals = 8\ntarget",
        )
        .replace(
            "asset = \"USDC\"\ntarget = \"100\"",
            "asset = \"USDC\"\ntarget = \"100\"\ndecimals = 8",
        );
        let errs = errors(&src);
        assert_eq!(
            errs,
            vec![
                "/etc/ballast/c.toml:5: position[0].decimals: arb/USDC rounds to 8 decimals but USDC on arb has 6",
                "/etc/ballast/c.toml:11: position[1].asset: asset \"DAI\" is not a token of chain \"op\" (it has: USDT, ETH)",
                "/etc/ballast/c.toml:16: position[2].chain: chain \"base\" has no [[chain]] section (configured chains: arb, op)",
            ]
        );
    }

    #[test]
    fn key_and_rpc_sources_are_exclusive_and_complete() {
        let src = format!("{BASE}{CHAINS}")
            .replace(
                "rpc_url_env = \"ARB_RPC_URL\"",
                "rpc_url_env = \"ARB_RPC_URL\"\nrpc_url = \"http://127.0.0.1:8545\"",
            )
            .replace("password_env = \"OP_KEYSTORE_PASSWORD\"\n", "")
            .replace(
                "block_time = \"500ms\"",
                "block_time = \"500ms\"\nfee_bump_bps = 500",
            );
        let errs = errors(&src);
        assert_eq!(
            errs,
            vec![
                "/etc/ballast/c.toml:15: chain[0]: give either `rpc_url` or `rpc_url_env`, not both",
                "/etc/ballast/c.toml:43: chain[1].fee_bump_bps: 500 is outside 1000..=10000 (nodes refuse a \
                 replacement below +10%)",
                "/etc/ballast/c.toml:50: chain[1].account[0]: missing key `password_env` (the environment variable \
                 holding the keystore password)",
            ]
        );
    }

    #[test]
    fn dev_keys_are_for_simulated_chains_and_must_match() {
        let dev0 = dev_signer(0).address();
        assert_eq!(dev0, dev_signer(0).address(), "deterministic");
        assert_ne!(dev0, dev_signer(1).address());
        let sim = format!("{BASE}{CHAINS}").replace(
            "keystore = \"keys/op.json\"\npassword_env = \"OP_KEYSTORE_PASSWORD\"",
            "dev_key = 0",
        );
        let wrong = errors(&sim);
        assert_eq!(wrong.len(), 1, "{wrong:?}");
        assert!(
            wrong[0].contains(&format!("dev_key 0 is the key of {dev0}")),
            "{wrong:?}"
        );
        let right = sim.replacen(
            "address = \"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266\"\ndev_key",
            &format!("address = \"{dev0}\"\ndev_key"),
            1,
        );
        let c = Config::parse("/etc/ballast/c.toml", &right).unwrap();
        assert_eq!(c.chains[1].accounts[0].key, Some(KeySource::Dev(0)));
        let evm = right.replace("key_env = \"ARB_HOT_KEY\"", "dev_key = 0");
        let errs = errors(&evm);
        assert!(
            errs.iter().any(|e| e.contains("only simulated chains")),
            "{errs:?}"
        );
    }

    #[test]
    fn addresses_are_checked() {
        assert!(parse_address("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266").is_ok());
        assert!(parse_address("0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266").is_ok());
        assert!(parse_address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").is_ok());
        assert!(parse_address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267").is_err());
        assert!(parse_address("f39fd6e51aad88f6f4ce6ab8827279cfffb92266").is_err());
        assert!(parse_address("0xf39fd6e51aad88f6f4ce6ab8827279cfffb9226").is_err());
    }
}
