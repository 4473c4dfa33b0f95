//! Hyperliquid: a thin client that implements [`ballast_exec::Venue`] against `api.hyperliquid.xyz` (or its
//! testnet), and a local server that speaks the same wire protocol on loopback, executing on the simulated
//! exchange. The two hold each other honest: the server re-serializes and verifies every signed action as the
//! venue does, so a client bug that the venue would answer with "User or API Wallet ... does not exist" fails
//! the same way here.
//!
//! - [`signing`]: the L1 (phantom agent) and user-signed (EIP-712) schemes, and the key holder.
//! - [`wire`]: typed actions in the venue's exact field order, the envelope and responses.
//! - [`info`]: `/info` requests and responses.
//! - [`format`]: price and size rules and the wire form of decimals.
//! - [`nonce`]: per-key nonce counters (client) and the 100-highest nonce set (server).
//! - [`ratelimit`]: the IP weight and per-address request budgets.
//! - [`client`]: [`HyperliquidClient`], the `Venue` implementation.
//! - [`server`]: the local server (`ballast venues serve`).
//!
//! User documentation: `docs/HYPERLIQUID.md`.

mod client;
pub mod config;
pub mod errors;
pub mod format;
mod http;
pub mod info;
mod market;
pub mod nonce;
pub mod ratelimit;
pub mod signing;
pub mod wallet;
pub mod wire;

pub use client::ClientInitError;
pub use client::{ClientOptions, HyperliquidClient};
pub use market::{MarketInfo, Universe};
pub use signing::{KeySigner, Network};
