//! `[[chain]]` sections: EVM chains, their RPC endpoints, tokens and accounts.

use super::reader::{Diagnostics, Obj};

/// One configured chain.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainCfg {}

/// Read every `[[chain]]` section.
pub fn read(_root: &mut Obj, _d: &mut Diagnostics) -> Vec<ChainCfg> {
    Vec::new()
}
