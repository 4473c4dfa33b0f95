//! One controller + planner cycle (`Engine::cycle`: PID step, target resolution, routing, anti-windup feedback)
//! for 50 and 1,000 positions with 4 routes into each position. Targets: 5 us and 100 us.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use ballast_core::control::{
    ControlParams, Gains, Observation, PortfolioComputer, PositionSpec, Target,
};
use ballast_core::engine::Engine;
use ballast_core::model::{PositionKey, from_f64};
use ballast_core::params::{Redistribution, Rounding};
use ballast_core::plan::{PlanContext, PlanParams, Planner, RouteSpec};

fn scenario(n: usize, seed: u64) -> (Engine, Observation, PlanContext) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let specs: Vec<PositionSpec> = (0..n)
        .map(|i| PositionSpec {
            key: PositionKey::new(
                format!("chain{}", i / 2),
                if i % 2 == 0 { "USDC" } else { "USDT" },
            ),
            target: Target::Amount(1_000_000.0),
            band: None,
            min_units: 0.0,
            tier: (i % 3) as u8,
            decimals: 6,
        })
        .collect();
    let mut routes = Vec::new();
    for to in 0..n {
        for k in 0..4 {
            let from = (to + 1 + k * 7 + rng.random_range(0..3)) % n;
            if from != to {
                routes.push(RouteSpec::new(
                    k % 2,
                    from,
                    to,
                    Decimal::from(rng.random_range(0..20)),
                    Decimal::from(rng.random_range(0..5)),
                    None,
                ));
            }
        }
    }
    let params = ControlParams {
        gains: Gains {
            kp: 0.5,
            ki: 0.05,
            kd: 0.0,
            d_filter: 10.0,
            tracking_periods: None,
            bumpless_periods: 1.0,
            integral_limit: 1.0,
        },
        gain_period_ms: 3_600_000.0,
        interval_ms: 300_000.0,
        max_dt_ms: 3_000_000.0,
        min_order_value: 100.0,
        max_move_value: f64::INFINITY,
        settle_bps: 0.0,
        deadband_scale: 1.0,
        deficits_only: false,
        integrate_in_band: false,
        steer_past: 0.0,
        mode: Redistribution::Proportional,
    };
    let plan = PlanParams {
        min_order_value: 100.0,
        max_order_value: 250_000.0,
        max_cycle_turnover: Some(0.05),
        max_fee_rate: 0.025,
        rounding: Rounding::Down,
    };
    let planner = Planner::new(
        &specs,
        routes,
        vec![
            ("binance".into(), u32::MAX),
            ("hyperliquid".into(), u32::MAX),
        ],
        plan,
    );
    let engine = Engine {
        computer: PortfolioComputer::new(specs, params),
        planner,
    };
    let obs = Observation {
        balances: (0..n)
            .map(|_| {
                from_f64(rng.random_range(500_000.0..1_500_000.0))
                    .unwrap()
                    .round_dp(6)
            })
            .collect(),
        pending: (0..n)
            .map(|_| {
                from_f64(rng.random_range(-10_000.0..10_000.0))
                    .unwrap()
                    .round_dp(6)
            })
            .collect(),
        prices: (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    Decimal::ONE
                } else {
                    Decimal::new(9998, 4)
                }
            })
            .collect(),
        stale: vec![false; n],
    };
    let ctx = PlanContext {
        pending_orders: vec![Some(0), Some(0)],
        declined: vec![false, false],
        hold_all: None,
    };
    (engine, obs, ctx)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("cycle");
    for n in [50usize, 1000] {
        let (mut engine, obs, ctx) = scenario(n, 7);
        let mut now = 0i64;
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("controller+planner", n), &n, |b, _| {
            b.iter(|| {
                now += 300_000;
                let audit = engine.cycle(now, &obs, &ctx).expect("cycle");
                std::hint::black_box(audit.plan.orders.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
