//! One decision cycle of the pure core: measure -> control step -> plan -> feed the routed amounts back.
//!
//! The same [`Engine`] runs in `ballast plan`, in backtests and in the service, so every caller makes the
//! same decisions from the same inputs. It does no I/O: the caller passes the time, the observation and the
//! venues' state, and executes the orders it gets back.

use crate::control::{
    ControlParams, ControllerState, Observation, PortfolioComputer, PositionSpec, StepAudit,
    StepError,
};
use crate::model::TimestampMs;
use crate::plan::{Plan, PlanContext, Planner};

/// The audit of one cycle: what the controller commanded and what the planner routed.
#[derive(Clone, Debug, PartialEq)]
pub struct CycleAudit {
    pub step: StepAudit,
    pub plan: Plan,
}

/// Controller plus planner for one configuration.
#[derive(Clone, Debug)]
pub struct Engine {
    pub computer: PortfolioComputer,
    pub planner: Planner,
}

impl Engine {
    /// An engine for these positions (in configuration order), routes and controller parameters.
    pub fn new(specs: Vec<PositionSpec>, planner: Planner, params: ControlParams) -> Self {
        Engine {
            computer: PortfolioComputer::new(specs, params),
            planner,
        }
    }

    /// Run one cycle. The planner's routed amounts are reported to the controller's anti-windup at once;
    /// report fills later with [`Engine::record_filled`].
    pub fn cycle(
        &mut self,
        now: TimestampMs,
        obs: &Observation,
        ctx: &PlanContext,
    ) -> Result<CycleAudit, StepError> {
        let step = self.computer.step(now, obs)?;
        let plan = self.planner.plan(&step, ctx);
        self.computer.record_applied(&plan.routed);
        Ok(CycleAudit { step, plan })
    }

    /// Report what the executor really moved per position (base units, signed like the commands).
    pub fn record_filled(&mut self, applied: &[f64]) {
        self.computer.record_applied(applied);
    }

    /// Adopt a reloaded configuration: gains (bumpless), targets, bands, tiers and limits. Routes and venues
    /// come from the new planner; controller state is kept per position.
    pub fn adopt(&mut self, specs: Vec<PositionSpec>, planner: Planner, params: ControlParams) {
        self.planner = planner;
        self.computer.set_specs(specs);
        self.computer.set_params(params);
    }

    pub fn export_state(&self) -> ControllerState {
        self.computer.export_state()
    }

    pub fn import_state(&mut self, s: &ControllerState) {
        self.computer.import_state(s);
    }
}
