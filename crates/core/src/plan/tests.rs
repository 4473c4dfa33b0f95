//! Planner tests: the behaviours of rebalancers.md section 1, conservation, tiers, fee cap, no route, and the
//! Valence acceptance numbers of section 2.

use std::str::FromStr;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::control::{ControlParams, Gains, Observation, PortfolioComputer, PositionSpec, Target};
use crate::model::{PositionKey, from_f64, to_f64};
use crate::params::{Redistribution, Rounding};

const HOUR: i64 = 3_600_000;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

struct Pos {
    chain: &'static str,
    asset: &'static str,
    target: f64,
    balance: f64,
    price: f64,
    tier: u8,
}

fn pos(chain: &'static str, asset: &'static str, target: f64, balance: f64) -> Pos {
    Pos {
        chain,
        asset,
        target,
        balance,
        price: 1.0,
        tier: 0,
    }
}

struct Setup {
    computer: PortfolioComputer,
    planner: Planner,
    obs: Observation,
}

fn params(kp: f64) -> ControlParams {
    ControlParams {
        gains: Gains {
            kp,
            ki: 0.0,
            kd: 0.0,
            d_filter: 0.0,
            tracking_periods: None,
            bumpless_periods: 1.0,
            integral_limit: 1.0,
        },
        gain_period_ms: HOUR as f64,
        interval_ms: HOUR as f64,
        max_dt_ms: 10.0 * HOUR as f64,
        min_order_value: 1.0,
        max_move_value: f64::INFINITY,
        settle_bps: 0.0,
        deadband_scale: 1.0,
        deficits_only: false,
        integrate_in_band: false,
        steer_past: 0.0,
        mode: Redistribution::Proportional,
    }
}

fn plan_params() -> PlanParams {
    PlanParams {
        min_order_value: 1.0,
        max_order_value: f64::INFINITY,
        max_cycle_turnover: None,
        max_fee_rate: 0.025,
        rounding: Rounding::Down,
    }
}

/// Routes: (venue index, from index, to index, cost bps, fixed cost).
fn setup(positions: &[Pos], routes: &[(usize, usize, usize, &str, &str)], pp: PlanParams) -> Setup {
    let specs: Vec<PositionSpec> = positions
        .iter()
        .map(|p| PositionSpec {
            key: PositionKey::new(p.chain, p.asset),
            target: Target::Amount(p.target),
            band: None,
            min_units: 0.0,
            tier: p.tier,
            decimals: 6,
        })
        .collect();
    let routes = routes
        .iter()
        .map(|(v, f, t, bps, fixed)| RouteSpec::new(*v, *f, *t, dec(bps), dec(fixed), None))
        .collect();
    let planner = Planner::new(
        &specs,
        routes,
        vec![("binance".into(), 2), ("hyperliquid".into(), 2)],
        pp,
    );
    let obs = Observation {
        balances: positions
            .iter()
            .map(|p| from_f64(p.balance).unwrap())
            .collect(),
        pending: vec![Decimal::ZERO; positions.len()],
        prices: positions
            .iter()
            .map(|p| from_f64(p.price).unwrap())
            .collect(),
        stale: vec![false; positions.len()],
    };
    Setup {
        computer: PortfolioComputer::new(specs, params(1.0)),
        planner,
        obs,
    }
}

fn ctx() -> PlanContext {
    PlanContext {
        pending_orders: vec![Some(0), Some(0)],
        declined: vec![false, false],
        hold_all: None,
    }
}

fn run(s: &mut Setup, c: &PlanContext) -> Plan {
    let step = s.computer.step(HOUR, &s.obs).unwrap();
    s.planner.plan(&step, c)
}

/// Skips rendered as (what, reason) text.
fn skips(s: &Setup, p: &Plan) -> Vec<(String, String)> {
    p.skipped
        .iter()
        .map(|k| (s.planner.skip_what(k), s.planner.skip_reason(k, p)))
        .collect()
}

fn order_values(p: &Plan) -> Vec<(usize, usize, Decimal)> {
    p.orders.iter().map(|o| (o.from, o.to, o.value)).collect()
}

#[test]
fn one_transfer_is_capped_at_min_of_deficit_and_excess() {
    let mut s = setup(
        &[
            pos("a", "USDC", 1000.0, 1100.0),
            pos("b", "USDC", 1000.0, 700.0),
        ],
        &[(0, 0, 1, "0", "0")],
        plan_params(),
    );
    let p = run(&mut s, &ctx());
    assert_eq!(order_values(&p), vec![(0, 1, dec("100"))]);
    // The deficit the excess could not fill is reported.
    assert!(
        skips(&s, &p)
            .iter()
            .any(|k| k.0.contains("deficit of 200.00 on b/USDC")),
        "{:?}",
        skips(&s, &p)
    );
}

#[test]
fn excess_is_drawn_lowest_tier_first_and_the_second_draw_is_sized_in_usd() {
    let mut weth = pos("a", "WETH", 1.0, 1.3);
    weth.price = 2000.0;
    weth.tier = 1;
    let mut usdt = pos("b", "USDT", 1000.0, 2000.0);
    usdt.tier = 2;
    let mut s = setup(
        &[weth, usdt, pos("c", "USDC", 1000.0, 0.0)],
        &[(0, 0, 2, "0", "0"), (0, 1, 2, "0", "0")],
        plan_params(),
    );
    let p = run(&mut s, &ctx());
    // 0.3 WETH (600 USD) first from the tier-1 source, then 400 USDT, not 400 WETH or 0.3 USDT.
    assert_eq!(p.orders.len(), 2);
    assert_eq!(
        (p.orders[0].from, p.orders[0].amount, p.orders[0].value),
        (0, dec("0.3"), dec("600"))
    );
    assert_eq!(
        (p.orders[1].from, p.orders[1].amount, p.orders[1].value),
        (1, dec("400"), dec("400"))
    );
}

#[test]
fn the_per_transfer_cap_limits_one_transfer() {
    let mut pp = plan_params();
    pp.max_order_value = 250.0;
    let mut s = setup(
        &[pos("a", "USDC", 0.0, 1000.0), pos("b", "USDC", 1000.0, 0.0)],
        &[(0, 0, 1, "0", "0")],
        pp,
    );
    let p = run(&mut s, &ctx());
    assert_eq!(order_values(&p), vec![(0, 1, dec("250"))]);
    assert!(
        (p.routed[1] - 250.0).abs() < 1e-9,
        "the cut is fed back: routed {:?}",
        p.routed
    );
}

#[test]
fn deficits_are_sorted_by_usd_value_not_units() {
    let mut weth = pos("a", "WETH", 1.0, 0.5);
    weth.price = 2000.0;
    let mut s = setup(
        &[
            weth,
            pos("b", "USDC", 1000.0, 500.0),
            pos("c", "USDT", 0.0, 800.0),
        ],
        &[(0, 2, 0, "0", "0"), (0, 2, 1, "0", "0")],
        plan_params(),
    );
    let p = run(&mut s, &ctx());
    // 0.5 WETH short (1000 USD) outranks 500 USDC short: it takes the whole 800 of excess.
    assert_eq!(order_values(&p), vec![(2, 0, dec("800"))]);
}

#[test]
fn one_excess_is_decremented_across_deficits() {
    let mut s = setup(
        &[
            pos("a", "USDC", 0.0, 500.0),
            pos("b", "USDC", 300.0, 0.0),
            pos("c", "USDC", 300.0, 0.0),
        ],
        &[(0, 0, 1, "0", "0"), (0, 0, 2, "0", "0")],
        plan_params(),
    );
    let p = run(&mut s, &ctx());
    let total: Decimal = p.orders.iter().map(|o| o.value).sum();
    assert_eq!(
        total,
        dec("500"),
        "never more than the excess: {:?}",
        order_values(&p)
    );
    assert_eq!(
        order_values(&p),
        vec![(0, 1, dec("300")), (0, 2, dec("200"))]
    );
}

#[test]
fn destination_priority_beats_cost() {
    let mut high = pos("b", "USDC", 300.0, 0.0);
    high.tier = 2;
    let cheap = pos("c", "USDC", 300.0, 0.0);
    let mut s = setup(
        &[pos("a", "USDC", 0.0, 300.0), high, cheap],
        &[(0, 0, 1, "100", "0"), (0, 0, 2, "1", "0")],
        plan_params(),
    );
    let p = run(&mut s, &ctx());
    assert_eq!(p.orders.len(), 1);
    assert_eq!(
        p.orders[0].to, 1,
        "the higher-tier deficit is served first, even at a higher cost"
    );
}

#[test]
fn within_a_tier_the_cheapest_route_wins_and_fee_cap_falls_back() {
    let positions = [pos("a", "USDC", 0.0, 500.0), pos("b", "USDC", 500.0, 0.0)];
    // Binance is cheaper than Hyperliquid.
    let mut s = setup(
        &positions,
        &[(0, 0, 1, "5", "0"), (1, 0, 1, "8", "0")],
        plan_params(),
    );
    let p = run(&mut s, &ctx());
    assert_eq!(p.orders[0].venue, 0);
    // Binance above the fee cap: skipped, the next route is tried.
    let mut s = setup(
        &positions,
        &[(0, 0, 1, "300", "0"), (1, 0, 1, "8", "0")],
        plan_params(),
    );
    let p = run(&mut s, &ctx());
    assert_eq!(p.orders.len(), 1);
    assert_eq!(p.orders[0].venue, 1);
    // Only the expensive route: no order, and a reason naming the fee cap.
    let mut s = setup(&positions, &[(0, 0, 1, "300", "0")], plan_params());
    let p = run(&mut s, &ctx());
    assert!(p.orders.is_empty());
    assert!(
        skips(&s, &p)
            .iter()
            .any(|k| k.1.contains("above max_fee_bps 250")),
        "{:?}",
        skips(&s, &p)
    );
    // A fixed cost that is too large a share of a small move also trips the cap.
    let mut s = setup(
        &[pos("a", "USDC", 0.0, 50.0), pos("b", "USDC", 50.0, 0.0)],
        &[(0, 0, 1, "0", "5")],
        plan_params(),
    );
    assert!(run(&mut s, &ctx()).orders.is_empty());
}

#[test]
fn a_declining_venue_falls_back_to_the_next_route() {
    let positions = [pos("a", "USDC", 0.0, 500.0), pos("b", "USDC", 500.0, 0.0)];
    let mut s = setup(
        &positions,
        &[(0, 0, 1, "5", "0"), (1, 0, 1, "8", "0")],
        plan_params(),
    );
    let mut c = ctx();
    c.declined[0] = true;
    let p = run(&mut s, &c);
    assert_eq!(p.orders[0].venue, 1);
}

#[test]
fn a_venue_at_its_pending_order_limit_gets_no_new_order() {
    let positions = [pos("a", "USDC", 0.0, 500.0), pos("b", "USDC", 500.0, 0.0)];
    let mut s = setup(&positions, &[(0, 0, 1, "5", "0")], plan_params());
    let mut c = ctx();
    c.pending_orders[0] = Some(2);
    let p = run(&mut s, &c);
    assert!(p.orders.is_empty());
    assert!(
        skips(&s, &p)
            .iter()
            .any(|k| k.1.contains("pending-order limit (2)")),
        "{:?}",
        skips(&s, &p)
    );
}

#[test]
fn an_unreadable_venue_is_skipped_and_hold_all_starts_nothing() {
    let positions = [pos("a", "USDC", 0.0, 500.0), pos("b", "USDC", 500.0, 0.0)];
    let mut s = setup(
        &positions,
        &[(0, 0, 1, "5", "0"), (1, 0, 1, "8", "0")],
        plan_params(),
    );
    let mut c = ctx();
    c.pending_orders[0] = None;
    let p = run(&mut s, &c);
    assert_eq!(p.orders.len(), 1);
    assert_eq!(p.orders[0].venue, 1, "the other venue keeps working");
    let mut s = setup(&positions, &[(0, 0, 1, "5", "0")], plan_params());
    let mut c = ctx();
    c.hold_all = Some("pending read failed on binance".into());
    let p = run(&mut s, &c);
    assert!(p.orders.is_empty());
    assert_eq!(p.skipped.len(), 2);
    assert!(
        skips(&s, &p)
            .iter()
            .all(|k| k.1.contains("pending read failed on binance"))
    );
}

#[test]
fn no_matching_route_gives_no_order_and_a_reason() {
    let mut s = setup(
        &[pos("a", "USDC", 0.0, 500.0), pos("b", "USDC", 500.0, 0.0)],
        &[],
        plan_params(),
    );
    let p = run(&mut s, &ctx());
    assert!(p.orders.is_empty());
    assert!(
        skips(&s, &p)
            .iter()
            .any(|k| k.1 == "no route leads to this position"),
        "{:?}",
        skips(&s, &p)
    );
    assert!(
        skips(&s, &p)
            .iter()
            .any(|k| k.1 == "no route leaves this position"),
        "{:?}",
        skips(&s, &p)
    );
    assert!(p.routed.iter().all(|r| *r == 0.0));
}

#[test]
fn costs_are_deducted_so_sent_equals_received_plus_cost() {
    let mut s = setup(
        &[
            pos("a", "USDC", 0.0, 10_000.0),
            pos("b", "USDC", 1000.0, 0.0),
        ],
        &[(0, 0, 1, "10", "1")],
        plan_params(),
    );
    let p = run(&mut s, &ctx());
    let o = &p.orders[0];
    assert_eq!(o.value, o.receive_value + o.est_cost);
    // Grossed up so the deficit is filled after costs: (1000 + 1) / (1 - 0.001).
    assert!((to_f64(o.receive_value) - 1000.0).abs() < 0.01, "{o:?}");
}

#[test]
fn the_cycle_turnover_cap_is_global_not_per_sell_asset() {
    // Valence's mistake: two sell assets with a 10 % cap sold 20 %. Here the cap holds across both.
    let mut pp = plan_params();
    pp.max_cycle_turnover = Some(0.10);
    let mut s = setup(
        &[
            pos("a", "USDC", 0.0, 500.0),
            pos("b", "USDT", 0.0, 500.0),
            pos("c", "USDC", 1000.0, 0.0),
        ],
        &[(0, 0, 2, "0", "0"), (0, 1, 2, "0", "0")],
        pp,
    );
    let p = run(&mut s, &ctx());
    let total: Decimal = p.orders.iter().map(|o| o.value).sum();
    assert_eq!(total, dec("100"), "10 % of a 1000 portfolio");
}

#[test]
fn amounts_are_rounded_down_to_the_source_decimals_with_the_residual_left() {
    let mut s = setup(
        &[
            pos("a", "USDC", 0.0, 1000.0),
            pos("b", "USDC", 100.1234567, 0.0),
        ],
        &[(0, 0, 1, "0", "0")],
        plan_params(),
    );
    let p = run(&mut s, &ctx());
    assert_eq!(p.orders[0].amount, dec("100.123456"));
}

#[test]
fn min_order_value_skips_small_orders() {
    let mut pp = plan_params();
    pp.min_order_value = 50.0;
    let mut s = setup(
        &[pos("a", "USDC", 0.0, 20.0), pos("b", "USDC", 100.0, 0.0)],
        &[(0, 0, 1, "0", "0")],
        pp,
    );
    let p = run(&mut s, &ctx());
    assert!(p.orders.is_empty());
    assert!(
        skips(&s, &p)
            .iter()
            .any(|k| k.1.contains("below min_order_value")),
        "{:?}",
        skips(&s, &p)
    );
}

/// Valence acceptance case (rebalancers.md section 2): 1000 A (the base), targets A 75 % / B 25 %, B worth
/// 1/1.5 base per unit, Kp 0.5, P only, minimum trade 10 A, sell amounts rounded up, auction proceeds rounded
/// down, each trade filled at the oracle price.
///
/// The first cycle sells 125 A and the second 63 A (1000 -> 875 -> 812), as in Valence's tests. From the third
/// cycle the published sequence (781, 766, then 7 below the minimum) needs auction proceeds above the oracle
/// price (Valence's tests fill through a descending auction that starts above the oracle); at the oracle price
/// the same formula gives 780 and 764, and then 8, which is also below the minimum and does not trade. Both
/// the formula and the stop on the minimum are what this test pins.
#[test]
fn valence_p_only_sequence() {
    let specs = vec![
        PositionSpec {
            key: PositionKey::new("neutron", "A"),
            target: Target::Weight(0.75),
            band: None,
            min_units: 0.0,
            tier: 0,
            decimals: 0,
        },
        PositionSpec {
            key: PositionKey::new("neutron", "B"),
            target: Target::Weight(0.25),
            band: None,
            min_units: 0.0,
            tier: 0,
            decimals: 0,
        },
    ];
    let mut cp = params(0.5);
    cp.min_order_value = 10.0;
    let mut computer = PortfolioComputer::new(specs.clone(), cp);
    let mut pp = plan_params();
    pp.min_order_value = 10.0;
    pp.rounding = Rounding::Up;
    let mut planner = Planner::new(
        &specs,
        vec![RouteSpec::new(0, 0, 1, Decimal::ZERO, Decimal::ZERO, None)],
        vec![("auction".into(), 1)],
        pp,
    );
    let price_b = Decimal::ONE / dec("1.5");
    let (mut a, mut b) = (Decimal::from(1000), Decimal::ZERO);
    let mut path = vec![a];
    let mut sells = vec![];
    for cycle in 0..6 {
        let obs = Observation {
            balances: vec![a, b],
            pending: vec![Decimal::ZERO; 2],
            prices: vec![Decimal::ONE, price_b],
            stale: vec![false; 2],
        };
        let step = computer.step((cycle + 1) * HOUR, &obs).unwrap();
        let plan = planner.plan(
            &step,
            &PlanContext {
                pending_orders: vec![Some(0)],
                declined: vec![false],
                hold_all: None,
            },
        );
        computer.record_applied(&plan.routed);
        if let Some(o) = plan.orders.first() {
            sells.push(o.amount);
            a -= o.amount;
            b += (o.amount * dec("1.5")).floor();
            path.push(a);
        } else {
            let hold = step.positions[0].hold.clone();
            assert!(
                matches!(hold, Some(crate::control::Hold::BelowMinOrder { .. })),
                "{hold:?}"
            );
            break;
        }
    }
    let path: Vec<String> = path.iter().map(|d| d.to_string()).collect();
    assert_eq!(path, vec!["1000", "875", "812", "780", "764"]);
    assert_eq!(sells, vec![dec("125"), dec("63"), dec("32"), dec("16")]);
}

proptest! {
    /// Conservation and limits on random portfolios and routes.
    #[test]
    fn prop_planner_conserves_value_and_respects_every_limit(
        n in 2usize..12,
        balances in proptest::collection::vec(0u32..5000, 12),
        targets in proptest::collection::vec(0u32..5000, 12),
        prices in proptest::collection::vec(1u32..4, 12),
        tiers in proptest::collection::vec(0u8..3, 12),
        edges in proptest::collection::vec((0usize..12, 0usize..12, 0u32..400, 0u32..20, 0usize..2), 1..40),
        max_order in 50u32..5000,
        turnover_bps in 100u32..10_000,
    ) {
        let positions: Vec<Pos> = (0..n).map(|i| Pos {
            chain: ["a","b","c","d","e","f","g","h","i","j","k","l"][i],
            asset: "X",
            target: f64::from(targets[i]),
            balance: f64::from(balances[i]),
            price: f64::from(prices[i]),
            tier: tiers[i],
        }).collect();
        let mut seen = std::collections::BTreeSet::new();
        let routes: Vec<(usize, usize, usize, String, String)> = edges.iter()
            .map(|(f, t, bps, fixed, v)| (*v, f % n, t % n, bps.to_string(), fixed.to_string()))
            .filter(|(v, f, t, _, _)| f != t && seen.insert((*v, *f, *t)))
            .collect();
        let route_refs: Vec<(usize, usize, usize, &str, &str)> = routes.iter().map(|(v, f, t, b, x)| (*v, *f, *t, b.as_str(), x.as_str())).collect();
        let mut pp = plan_params();
        pp.max_order_value = f64::from(max_order);
        pp.max_cycle_turnover = Some(f64::from(turnover_bps) / 10_000.0);
        let mut s = setup(&positions, &route_refs, pp.clone());
        let step = s.computer.step(HOUR, &s.obs).unwrap();
        let plan = s.planner.plan(&step, &ctx());

        let mut sent_by = vec![Decimal::ZERO; n];
        let mut recv_by = vec![Decimal::ZERO; n];
        let mut total_sent = Decimal::ZERO;
        let mut per_venue = [0u32; 2];
        for o in &plan.orders {
            // What is sent equals what is received plus the cost.
            prop_assert_eq!(o.value, o.receive_value + o.est_cost);
            prop_assert!(o.amount > Decimal::ZERO);
            prop_assert!(o.amount.scale() <= 6);
            prop_assert!(to_f64(o.value) <= pp.max_order_value + 1e-6);
            prop_assert!(to_f64(o.value) >= pp.min_order_value);
            prop_assert!(to_f64(o.est_cost) <= pp.max_fee_rate * to_f64(o.value) + 1e-6);
            sent_by[o.from] += o.value;
            recv_by[o.to] += o.receive_value;
            total_sent += o.value;
            per_venue[o.venue] += 1;
        }
        prop_assert!(per_venue.iter().all(|c| *c <= 2), "venue pending limit");
        prop_assert!(to_f64(total_sent) <= pp.max_cycle_turnover.unwrap() * step.portfolio_value + 1e-6);
        for k in 0..n {
            let cmd = step.positions[k].command;
            // No source sends more than its excess or its balance; no sink gets more than its deficit.
            prop_assert!(to_f64(sent_by[k]) <= (-cmd).max(0.0) + 1e-6);
            prop_assert!(to_f64(sent_by[k]) <= f64::from(balances[k]) * f64::from(prices[k]) + 1e-6);
            prop_assert!(to_f64(recv_by[k]) <= cmd.max(0.0) + 1e-6);
            // The feedback to the controller matches the orders.
            let routed = to_f64(recv_by[k]) - to_f64(sent_by[k]);
            prop_assert!((plan.routed[k] - routed).abs() < 1e-6);
            // A position never both sends and receives in one cycle.
            prop_assert!(sent_by[k].is_zero() || recv_by[k].is_zero());
        }
    }
}

fn banded(chain: &'static str, target: f64, balance: f64) -> Pos {
    pos(chain, "USDC", target, balance)
}

fn setup_banded(positions: &[Pos], routes: &[(usize, usize, usize, &str, &str)]) -> Setup {
    let mut s = setup(positions, routes, plan_params());
    let specs: Vec<PositionSpec> = s
        .computer
        .specs()
        .iter()
        .cloned()
        .map(|mut p| {
            p.band = Some(crate::params::BandSpec::Relative { bps: 2000 });
            p
        })
        .collect();
    s.computer = PortfolioComputer::new(specs, params(1.0));
    s
}

#[test]
fn a_deficit_draws_on_a_held_position_above_target() {
    // a sits inside its band above target (held); b fell out of its band.
    let mut s = setup_banded(
        &[banded("a", 1000.0, 1150.0), banded("b", 1000.0, 500.0)],
        &[(0, 0, 1, "0", "0")],
    );
    let p = run(&mut s, &ctx());
    assert_eq!(
        order_values(&p),
        vec![(0, 1, dec("150"))],
        "down to a's target, not below"
    );
    assert!((p.routed[0] + 150.0).abs() < 1e-9);
}

#[test]
fn an_excess_fills_held_positions_below_target() {
    let mut s = setup_banded(
        &[
            banded("a", 1000.0, 1500.0),
            banded("b", 1000.0, 900.0),
            banded("c", 1000.0, 950.0),
        ],
        &[(0, 0, 1, "0", "0"), (0, 0, 2, "0", "0")],
    );
    let p = run(&mut s, &ctx());
    assert_eq!(
        order_values(&p),
        vec![(0, 1, dec("100")), (0, 2, dec("50"))]
    );
    // The rest of the excess has nowhere to go, and says so.
    assert!(
        skips(&s, &p)
            .iter()
            .any(|k| k.0.contains("excess of 350.00 on a/USDC")),
        "{:?}",
        skips(&s, &p)
    );
}

#[test]
fn two_held_positions_are_never_paired() {
    let mut s = setup_banded(
        &[banded("a", 1000.0, 1150.0), banded("b", 1000.0, 900.0)],
        &[(0, 0, 1, "0", "0"), (0, 1, 0, "0", "0")],
    );
    let p = run(&mut s, &ctx());
    assert!(
        p.orders.is_empty(),
        "nothing moves inside the bands: {:?}",
        order_values(&p)
    );
    assert!(p.skipped.is_empty());
}

proptest! {
    /// The order's integer arithmetic gives exactly what `Decimal` gives: the same value and the same scale
    /// (so the same text in the audit), and the same f64.
    #[test]
    fn prop_exact_order_arithmetic_matches_decimal(
        am in 1i64..=999_999_999_999_999_999,
        a_scale in 0u32..=18,
        pm in 1i64..=999_999_999_999,
        p_scale in 0u32..=12,
        cm in 0i64..=999_999_999_999,
        c_scale in 0u32..=12,
    ) {
        let (a, p, c) = (Decimal::new(am, a_scale), Decimal::new(pm, p_scale), Decimal::new(cm, c_scale));
        match exact_value(a, p) {
            Some(v) => {
                let want = a * p;
                prop_assert_eq!((v.decimal().mantissa(), v.decimal().scale()), (want.mantissa(), want.scale()));
                prop_assert_eq!(v.to_f64().to_bits(), to_f64(want).to_bits());
                if let Some(r) = v.minus(c) {
                    let want_r = want - c;
                    prop_assert_eq!((r.decimal().mantissa(), r.decimal().scale()), (want_r.mantissa(), want_r.scale()));
                    prop_assert_eq!(r.to_f64().to_bits(), to_f64(want_r).to_bits());
                }
            }
            // Only a product past the mantissa or scale limits takes the general path.
            None => prop_assert!(a_scale + p_scale > 28 || (am as i128 * pm as i128).unsigned_abs() >= 1u128 << 96),
        }
    }
}
