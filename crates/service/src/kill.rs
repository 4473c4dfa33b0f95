//! The kill switch: active, reduce-only (finish working legs, start none), halted (cancel working orders;
//! legs stay where their funds are, and only observation goes on). Set from the command line, an
//! authenticated HTTP call or a breaker; kept in the journal, so a restart never resumes trading silently.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use ballast_core::model::TimestampMs;

/// The kill switch's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillState {
    Active,
    ReduceOnly,
    Halted,
}

impl KillState {
    pub fn as_str(self) -> &'static str {
        match self {
            KillState::Active => "active",
            KillState::ReduceOnly => "reduce_only",
            KillState::Halted => "halted",
        }
    }

    /// May a new leg start?
    pub fn may_start(self) -> bool {
        self == KillState::Active
    }

    /// May a working leg take its next irreversible step (deposit already sent: swap, withdraw)?
    pub fn may_continue(self) -> bool {
        self != KillState::Halted
    }
}

impl fmt::Display for KillState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KillState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.replace('-', "_").as_str() {
            "active" => Ok(KillState::Active),
            "reduce_only" => Ok(KillState::ReduceOnly),
            "halted" => Ok(KillState::Halted),
            other => Err(format!(
                "{other:?} is not a kill switch state (active, reduce_only, halted)"
            )),
        }
    }
}

/// The kill switch as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitch {
    pub state: KillState,
    pub reason: String,
    /// Who set it: `cli`, `http`, `breaker:<name>`, `start`.
    pub by: String,
    pub since_ms: TimestampMs,
}

impl KillSwitch {
    pub fn active(now: TimestampMs) -> Self {
        KillSwitch {
            state: KillState::Active,
            reason: "new journal".into(),
            by: "start".into(),
            since_ms: now,
        }
    }
}

/// The journal key of the kill switch.
pub const KV_KILL: &str = "kill_switch";
