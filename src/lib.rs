//! ballast keeps every (chain, asset) inventory position at its target.
//!
//! The core is pure and deterministic: [`control`] (the portfolio computer), [`plan`] (routing) and the
//! auction take the time and their inputs as arguments, do no I/O and return audit records that say why they
//! acted or did not. I/O lives at the edges, behind traits. See `docs/ARCHITECTURE.md`.

pub mod auction;
pub mod backtest;
pub mod chain;
pub mod cli;
pub mod config;
pub mod control;
pub mod engine;
pub mod exec;
pub mod inputs;
pub mod model;
pub mod plan;
pub mod service;
pub mod store;
pub mod venue;
