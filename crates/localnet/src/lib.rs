//! Local venue servers that speak Hyperliquid's and Binance's real REST protocols over the simulated
//! exchange, and the chain bridge that links them to EVM nodes. They are what the official Python clients,
//! ballast's own clients, paper mode and `ballast venues serve` talk to; nothing in the product's live path
//! depends on them.

pub mod binance;
pub mod bridge;
pub mod hyperliquid;
pub mod serve;
