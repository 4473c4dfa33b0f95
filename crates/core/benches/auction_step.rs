//! One auction step: a timer event and `poll_action` producing a repriced order (a replace one tick lower),
//! on a Binance-style tick grid and a Hyperliquid-style significant-figure grid. Target: under 1 us.
//! `step+result` also feeds the replace's result back, the whole per-step work of the state machine.
// A benchmark measures wall time; the rule against clocks is for the core's own code.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;

use ballast_core::auction::{Action, Auction, AuctionParams, Event, Reprice, Schedule, Shape};
use ballast_core::model::Side;
use ballast_core::order::{MarketRules, OrderState, OrderStatus, PriceGrid};

const T0: i64 = 1_700_000_000_000;
const STEP_MS: i64 = 1_000;
const STEPS: i64 = 500;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn rules(grid: PriceGrid) -> MarketRules {
    MarketRules {
        market: "USDCUSDT".into(),
        base: "USDC".into(),
        quote: "USDT".into(),
        grid,
        lot: d("0.01"),
        min_qty: d("0.01"),
        max_qty: Decimal::ZERO,
        min_notional: d("5"),
        maker_fee: Decimal::ZERO,
        taker_fee: d("0.0001"),
    }
}

fn status(req: &ballast_core::order::OrderRequest) -> OrderStatus {
    OrderStatus {
        client_id: req.client_id.clone(),
        venue_order_id: "1".into(),
        market: req.market.clone(),
        side: req.side,
        price: req.price,
        qty: req.qty,
        filled: Decimal::ZERO,
        avg_price: None,
        state: OrderState::Open,
        updated_ms: 0,
    }
}

/// A sell of 250,000 from 2.5 % above the reference to 2.5 % below over 500 s, a step a second: about one
/// tick (1 bp) per step. The first order is placed and resting; the book is known (its bid below the floor, so
/// every step moves the price).
fn resting(grid: PriceGrid) -> Auction {
    let params = AuctionParams {
        intent: "bench".into(),
        side: Side::Sell,
        quantity: d("250000"),
        reference: d("1.0001"),
        start_ms: T0,
        schedule: Schedule {
            start_bps: d("250"),
            floor_bps: d("250"),
            shape: Shape::Linear,
            duration_ms: STEPS * STEP_MS,
            step_ms: STEP_MS,
            taker_ms: 0,
            deadline_ms: STEPS * STEP_MS + 10_000,
        },
        reprice: Reprice::Replace,
    };
    let mut a = Auction::new(params, rules(grid)).unwrap();
    a.handle(
        T0,
        Event::Book {
            best_bid: Some(d("0.9500")),
            best_ask: Some(d("0.9502")),
        },
    );
    let Some(Action::Place(req)) = a.poll_action(T0, 1.0) else {
        panic!("no first order")
    };
    a.handle(
        T0,
        Event::Status {
            client_id: req.client_id.clone(),
            status: Some(status(&req)),
        },
    );
    a
}

/// Answer a replace as the venue would (accepted, nothing filled).
fn feed_result(a: &mut Auction, t: i64, action: Option<Action>) {
    match action {
        Some(Action::Replace { old, new, .. }) => a.handle(
            t,
            Event::Replaced {
                status: status(&new),
                old,
                new: new.client_id,
            },
        ),
        other => panic!("expected a replace, got {other:?}"),
    }
}

/// Run `iters` steps (in fresh auctions of `STEPS - 1` steps each); time the step, or the step and its result.
fn run(base: &Auction, iters: u64, with_result: bool) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters as i64;
    while left > 0 {
        let n = left.min(STEPS - 1);
        left -= n;
        let mut a = base.clone();
        for k in 1..=n {
            let t = T0 + k * STEP_MS;
            let start = Instant::now();
            a.handle(t, Event::Timer);
            let action = a.poll_action(black_box(t), 1.0);
            if with_result {
                feed_result(&mut a, t, action);
                total += start.elapsed();
            } else {
                total += start.elapsed();
                feed_result(&mut a, t, action);
            }
        }
        black_box(a.take_audit());
    }
    total
}

fn grids() -> [(&'static str, PriceGrid); 2] {
    [
        ("tick", PriceGrid::Tick { tick: d("0.0001") }),
        (
            "sigfig",
            PriceGrid::SigFigs {
                sig_figs: 5,
                max_decimals: 6,
            },
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("auction_step");
    for (name, grid) in grids() {
        let base = resting(grid);
        // Sanity: the step does produce a repriced order.
        let mut probe = base.clone();
        probe.handle(T0 + STEP_MS, Event::Timer);
        assert!(matches!(
            probe.poll_action(T0 + STEP_MS, 1.0),
            Some(Action::Replace { .. })
        ));
        // The step alone (timer + poll_action -> replace), timed one by one inside a running auction; the
        // replace's result is fed back untimed so the next step reprices again.
        g.bench_function(format!("step/{name}"), |b| {
            b.iter_custom(|iters| run(&base, iters, false))
        });
        // The step and its result, timed together.
        g.bench_function(format!("step+result/{name}"), |b| {
            b.iter_custom(|iters| run(&base, iters, true))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
