//! The scheduled rebalancing service: the leg lifecycle, the daemon loop, recovery, the pending API, hot
//! reload, the kill switch and metrics.

pub mod leg;
