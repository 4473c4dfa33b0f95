//! The in-process simulated venue: order books, a liquidity model, balances and transfers.
//!
//! Layers, bottom up (see `docs/SIMULATOR.md`):
//! - [`OrderBook`]: one market's price-time-priority book on integer units ([`Units`]), trades on a [`Tape`].
//! - [`LiquidityModel`]: a fair mid (random walk with jumps, or a recorded path), background makers quoting
//!   levels around it and Poisson takers hitting the book.
//! - [`SimExchange`]: one venue with many markets and accounts, holds, fees, order history, fills, deposits
//!   and withdrawals. Synchronous and deterministic under its seed; the local Hyperliquid and Binance
//!   servers execute on it.
//! - [`SimVenue`]: the async [`ballast_exec::Venue`] over a shared `SimExchange`, with latency.
//!
//! Configuration (TOML, with lines in errors) is read by [`config::read_exchange`] and
//! [`config::read_sim_venue`]; [`presets`] has markets resembling Hyperliquid `USDT0/USDC` and Binance
//! `USDCUSDT`.

pub mod book;
pub mod config;
mod exchange;
mod liquidity;
pub mod presets;
pub mod quality;
mod transfers;
mod units;
mod venue;

pub use book::{OrderBook, OrderId, Owner, Placement, Tape, Trade};
pub use config::{AccountCfg, MarketCfg, SimExchangeCfg, SimVenueCfg};
pub use exchange::{
    AccountEvent, AssetAudit, NewOrder, OrderInfo, OrderRef, Placed, Replaced, SeqEvent, SimDepth,
    SimExchange, SimFill, SimLevel, SimOrderState, SimReject, SimSetupError,
};
pub use liquidity::LiquidityStats;
pub use liquidity::{LiquidityCfg, LiquidityModel, MidSource, PathPoint, SizeDist};
pub use transfers::{NetworkCfg, SimTransfer};
pub use units::Units;
pub use units::UnitsError;
pub use venue::{Latency, SimOps, SimVenue, to_venue_error};
