//! Binance spot: the client and the local server that speaks its wire protocol (venues.md section B).
//!
//! - [`signing`]: HMAC-SHA256 and Ed25519 over the exact query + body bytes.
//! - [`filters`]: exchangeInfo filters, applied with exact decimals by the client and the server.
//! - [`ratelimit`]: weight and order-count windows, headers, back-off.
//! - [`keys`]: credentials from the environment, a key file or a keystore.
//! - [`wire`]: the JSON shapes both sides share.
//! - [`client`]: [`client::BinanceClient`], the [`ballast_exec::Venue`] implementation.
//! - [`wallet`]: deposits and withdrawals (SAPI), with the withdrawal allow-list.
//! - [`server`]: the local server (axum) on the simulated exchange; [`server_cfg`] reads its `[binance]` section.

pub mod client;
pub mod config;
mod errors;
pub mod filters;
mod http;
pub mod keys;
pub mod ratelimit;
pub mod signing;
mod wallet;
pub mod wire;

pub use client::BinanceClient;
pub use keys::Credentials;
