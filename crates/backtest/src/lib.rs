//! Backtests against recorded balances: recordings, synthetic data, counterfactual replay through the same
//! portfolio computer, planner and auction as the live job, metrics, baselines and tuning.

pub mod execution;

/// Give a fieldless enum its command-line names: `NAMES`, `Display` and `FromStr` (whose error lists the
/// names), so the CLI builds its parsers from them.
#[macro_export]
macro_rules! named_enum {
    ($t:ident { $($name:literal => $v:path),+ $(,)? }) => {
        impl $t {
            /// Every value, by its command-line name.
            pub const NAMES: &'static [(&'static str, $t)] = &[$(($name, $v)),+];
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let name = Self::NAMES.iter().find(|(_, v)| v == self).map(|(s, _)| *s);
                f.write_str(name.unwrap_or("?"))
            }
        }

        impl std::str::FromStr for $t {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                Self::NAMES.iter().find(|(n, _)| *n == s).map(|(_, v)| *v).ok_or_else(|| {
                    let names: Vec<&str> = Self::NAMES.iter().map(|(n, _)| *n).collect();
                    format!("`{s}` is not one of: {}", names.join(", "))
                })
            }
        }
    };
}

mod metrics;
pub mod record;
pub mod recording;
pub mod replay;
pub mod report;
pub mod synth;
pub mod tune;
pub use metrics::{PositionMetrics, TotalMetrics};
