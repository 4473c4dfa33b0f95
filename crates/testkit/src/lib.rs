//! Test support shared by the integration tests of several crates: real hardhat EVM nodes ([`devnet`]) and
//! the configuration text the tests write ([`config_text`]). Never a dependency of a product crate.

pub mod config_text;
pub mod devnet;
