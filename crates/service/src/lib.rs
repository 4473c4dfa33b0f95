//! The scheduled rebalancing service: the leg lifecycle, the daemon loop, recovery, the pending API, hot
//! reload, the kill switch and metrics. The operator's guide is `docs/SERVICE.md`.
//!
//! - [`leg`]: the state machine of one move (planned -> ... -> done, failed, expired);
//! - [`core::Service`]: the job: a cycle measures, decides ([`decide`], pure) and starts legs; rounds
//!   advance legs ([`driver`]) against one look at the world ([`observe`]);
//! - [`world`], [`paper`], [`bridge`]: the venues and chains, live or simulated;
//! - [`guard`]: every client order id journaled before it is sent;
//! - [`kill`], [`status`], [`daemon`], [`http`]: operating it.

mod core;
pub mod daemon;
pub mod decide;
mod driver;
mod guard;
mod http;
mod kill;
pub mod observe;
mod paper;
pub mod status;
pub mod world;

pub use core::{CycleOutcome, LEASE, ReloadReport, Service, ServiceError, StartOptions};
pub use guard::{GuardedVenue, VenueStats};
pub use kill::{KillState, KillSwitch};
pub use paper::PaperWorld;
