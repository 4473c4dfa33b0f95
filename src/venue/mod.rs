//! Venue implementations of [`crate::exec::Venue`]: the simulator, and the Hyperliquid and Binance clients
//! with their local wire-protocol servers.

pub mod binance;
pub mod bridge;
pub mod hyperliquid;
pub mod paper;
pub mod serve;
pub mod sim;
