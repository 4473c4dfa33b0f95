//! Configuration text shared by the integration tests that write configuration files: an EVM chain on a
//! local node, its tokens and accounts, and the four-position, six-route book of the service tests.

use std::fmt::Display;

/// The fee caps the tests' chains use.
pub const FEE_CAPS: &str = "max_fee_gwei = \"100\"\nmax_priority_fee_gwei = \"5\"";

/// The head of a `[[chain]]` section; `source` is its `kind` and what it needs (see [`evm`]).
pub fn chain(name: &str, chain_id: u64, source: &str, confirmations: u64) -> String {
    format!(
        "\n[[chain]]\nname = \"{name}\"\nchain_id = {chain_id}\nconfirmations = {confirmations}\n{source}\n"
    )
}

/// The `source` of an EVM chain at `rpc`, with the fee caps.
pub fn evm(rpc: impl Display) -> String {
    format!("kind = \"evm\"\nrpc_url = \"{rpc}\"\n{FEE_CAPS}")
}

/// The `source` of a chain test's chain: the EVM node at `rpc`, or without one a simulated ledger with
/// 2 s blocks; both with the fee caps.
pub fn evm_or_sim(rpc: Option<&str>) -> String {
    match rpc {
        Some(u) => evm(u),
        None => format!("kind = \"sim\"\nblock_time = \"2s\"\n{FEE_CAPS}"),
    }
}

/// `[[chain.token]]` entries: (asset, contract address, decimals).
pub fn tokens(list: &[(&str, &dyn Display, u32)]) -> String {
    list.iter()
        .map(|(asset, address, decimals)| {
            format!(
                "\n[[chain.token]]\nasset = \"{asset}\"\naddress = \"{address}\"\ndecimals = {decimals}\n"
            )
        })
        .collect()
}

/// A `[[chain.account]]`; `key` is its key line (`key_env = "..."`, `dev_key = 1`) or empty (watch only).
pub fn account(address: impl Display, key: &str) -> String {
    format!("\n[[chain.account]]\naddress = \"{address}\"\n{key}\n")
}

/// The service tests' book: USDC and USDT on chains `eth` and `arb`, each at 200,000 with a 1 % band, and six
/// routes (both ways between the chains for each asset, and one swap on each chain), the i-th through
/// `venues[i]`.
pub fn stable_book(venues: [&str; 6]) -> String {
    let mut s = String::new();
    for (chain, asset) in [
        ("eth", "USDC"),
        ("arb", "USDC"),
        ("eth", "USDT"),
        ("arb", "USDT"),
    ] {
        s += &format!(
            "\n[[position]]\nchain = \"{chain}\"\nasset = \"{asset}\"\ntarget = \"200000\"\nband_bps = 100\ndecimals = 6\n"
        );
    }
    let routes = [
        (("eth", "USDC"), ("arb", "USDC"), None),
        (("arb", "USDC"), ("eth", "USDC"), None),
        (("eth", "USDC"), ("eth", "USDT"), Some("USDCUSDT")),
        (("arb", "USDT"), ("eth", "USDT"), None),
        (("eth", "USDT"), ("arb", "USDT"), None),
        (("arb", "USDT"), ("arb", "USDC"), Some("USDCUSDT")),
    ];
    for (venue, (from, to, market)) in venues.iter().zip(routes) {
        s += &format!(
            "\n[[route]]\nvenue = \"{venue}\"\nfrom = {{ chain = \"{}\", asset = \"{}\" }}\nto = {{ chain = \"{}\", asset = \"{}\" }}\ncost_bps = 2\nfixed_cost = \"1\"\n",
            from.0, from.1, to.0, to.1
        );
        if let Some(m) = market {
            s += &format!("market = \"{m}\"\n");
        }
    }
    s
}
