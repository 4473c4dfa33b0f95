//! The pure core of ballast: the model, the order vocabulary, the portfolio computer ([`control`]), the
//! planner ([`plan`]), the Dutch auction ([`auction`]), one decision cycle ([`engine`]) and the leg state
//! machine ([`leg`]).
//!
//! Nothing here does I/O, reads a clock or draws from a global RNG: the time and every seed are arguments,
//! so the same inputs give the same decisions in `ballast plan`, in backtests and in the service. Every
//! decision returns an audit record that says why it acted or did not. This crate depends on no I/O crate;
//! `.ci/check-core-deps` and clippy's `disallowed-methods` (clippy.toml here) enforce it.

pub mod auction;
pub mod control;
pub mod engine;
pub mod leg;
pub mod model;
pub mod order;
pub mod params;
pub mod plan;
