//! One decision cycle of the pure core: measure -> control step -> plan -> feed the routed amounts back.
//!
//! The same [`Engine`] runs in `ballast plan`, in backtests and in the service, so every caller makes the
//! same decisions from the same inputs. It does no I/O: the caller passes the time, the observation and the
//! venues' state, and executes the orders it gets back.

use crate::config::Config;
use crate::control::{
    ControlParams, ControllerState, Observation, PortfolioComputer, StepAudit, StepError,
    specs_from_config,
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
    pub fn from_config(cfg: &Config) -> Self {
        let specs = specs_from_config(cfg);
        let planner = Planner::from_config(cfg, &specs);
        let computer = PortfolioComputer::new(
            specs,
            ControlParams::from_config(&cfg.controller, cfg.schedule.interval),
        );
        Engine { computer, planner }
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
    /// are rebuilt from the new file; controller state is kept per position.
    pub fn reload(&mut self, cfg: &Config) {
        let specs = specs_from_config(cfg);
        self.planner = Planner::from_config(cfg, &specs);
        self.computer.set_specs(specs);
        self.computer.set_params(ControlParams::from_config(
            &cfg.controller,
            cfg.schedule.interval,
        ));
    }

    pub fn export_state(&self) -> ControllerState {
        self.computer.export_state()
    }

    pub fn import_state(&mut self, s: &ControllerState) {
        self.computer.import_state(s);
    }
}
