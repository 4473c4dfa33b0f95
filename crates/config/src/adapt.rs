//! Every from-config adapter: the core's parameter types built from a validated [`Config`].
//!
//! The core knows nothing of the configuration schema; these functions are the one place that maps a file's
//! settings onto the controller, the planner and the engine, so `ballast plan`, the backtests and the
//! service build them identically.

use std::time::Duration;

use ballast_core::control::{ControlParams, Gains, PositionSpec, Target};
use ballast_core::engine::Engine;
use ballast_core::model::to_f64;
use ballast_core::plan::{PlanParams, Planner, RouteSpec};

use crate::{Config, ControllerCfg, TargetSpec};

/// The controller's parameters from the `[controller]` table and the cycle interval.
fn control_params(c: &ControllerCfg, interval: Duration) -> ControlParams {
    let period_ms = c.gain_period.as_millis() as f64;
    ControlParams {
        gains: Gains {
            kp: c.kp,
            ki: c.ki,
            kd: c.kd,
            d_filter: c.d_filter,
            tracking_periods: c.tracking_time.map(|t| t.as_millis() as f64 / period_ms),
            bumpless_periods: (c.bumpless_time.as_millis() as f64 / period_ms).max(1e-6),
            integral_limit: f64::from(c.integral_limit_bps) / 10_000.0,
        },
        gain_period_ms: period_ms,
        interval_ms: interval.as_millis() as f64,
        max_dt_ms: c.max_dt.as_millis() as f64,
        min_order_value: to_f64(c.min_order_value),
        max_move_value: c.max_move_value.map(to_f64).unwrap_or(f64::INFINITY),
        settle_bps: f64::from(c.settle_bps),
        deadband_scale: c.deadband_scale,
        deficits_only: c.act_on == crate::ActOn::Deficits,
        integrate_in_band: c.integrate_in_band,
        steer_past: c.steer_past,
        mode: c.min_balance_mode,
    }
}

/// The positions of a configuration, in its order.
fn position_specs(cfg: &Config) -> Vec<PositionSpec> {
    cfg.positions
        .iter()
        .map(|p| PositionSpec {
            key: p.key.clone(),
            target: match p.target {
                TargetSpec::Amount(a) => Target::Amount(to_f64(a)),
                TargetSpec::WeightBps(w) => Target::Weight(f64::from(w) / 10_000.0),
            },
            band: p.band,
            min_units: p.min_balance.map(to_f64).unwrap_or(0.0),
            tier: p.tier,
            decimals: p.decimals,
        })
        .collect()
}

/// The planner's limits from the `[controller]` table.
fn plan_params(cfg: &Config) -> PlanParams {
    let c = &cfg.controller;
    PlanParams {
        min_order_value: to_f64(c.min_order_value),
        max_order_value: c.max_order_value.map(to_f64).unwrap_or(f64::INFINITY),
        max_cycle_turnover: c.max_cycle_turnover_bps.map(|b| f64::from(b) / 10_000.0),
        max_fee_rate: f64::from(c.max_fee_bps) / 10_000.0,
        rounding: c.amount_rounding,
    }
}

/// The planner over a configuration's routes and venues.
fn planner(cfg: &Config, specs: &[PositionSpec]) -> Planner {
    let routes = cfg
        .routes
        .iter()
        .map(|r| {
            RouteSpec::new(
                cfg.venues
                    .iter()
                    .position(|v| v.name == r.venue)
                    .expect("validated venue"),
                cfg.position_index(&r.from).expect("validated from"),
                cfg.position_index(&r.to).expect("validated to"),
                r.cost_bps,
                r.fixed_cost,
                r.market.clone(),
            )
        })
        .collect();
    let venues = cfg
        .venues
        .iter()
        .map(|v| (v.name.clone(), v.max_pending_orders))
        .collect();
    Planner::new(specs, routes, venues, plan_params(cfg))
}

/// The engine's parts for a configuration: its positions, its planner and the controller's parameters.
fn parts(cfg: &Config) -> (Vec<PositionSpec>, Planner, ControlParams) {
    let specs = position_specs(cfg);
    let planner = planner(cfg, &specs);
    let params = control_params(&cfg.controller, cfg.schedule.interval);
    (specs, planner, params)
}

/// Controller plus planner for a configuration.
pub fn engine(cfg: &Config) -> Engine {
    let (specs, planner, params) = parts(cfg);
    Engine::new(specs, planner, params)
}

/// Make `engine` adopt a reloaded configuration: gains (bumpless), targets, bands, tiers and limits; routes
/// and venues are rebuilt from the new file and controller state is kept per position.
pub fn reload(engine: &mut Engine, cfg: &Config) {
    let (specs, planner, params) = parts(cfg);
    engine.adopt(specs, planner, params);
}
