//! Backtests against recorded balances: recordings, synthetic data, counterfactual replay through the same
//! portfolio computer, planner and auction as the live job, metrics, baselines and tuning.

pub mod execution;
pub mod metrics;
pub mod recording;
pub mod replay;
pub mod summary;
pub mod synth;
