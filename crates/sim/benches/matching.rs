//! The simulated matching engine (`venue::sim::OrderBook`) on a mixed workload: about 45% passive adds (1-19
//! ticks from the mid), 35% cancels of random live orders (some already filled) and 20% aggressive orders
//! sweeping up to 20 ticks into the book. The book starts with 2,000 orders over 40 levels a side and settles
//! near a thousand; 100,000 operations make about 60,000 trades. Target: at least 1,000,000 order operations
//! per second.
//!
//! `units`: the integer API the liquidity model uses; `decimal`: the `Decimal` API with the full market
//! rules check that accounts' orders go through; `exchange`: `SimExchange::place`/`cancel` for accounts
//! (holds, fees, order history), for scale. `simulated_hour`: one hour of a preset market's liquidity model
//! (elements are simulated seconds).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use ballast_core::model::Side;
use ballast_exec::TimeInForce;
use ballast_sim::{
    AccountCfg, MarketCfg, NewOrder, OrderBook, OrderRef, Owner, SimExchange, SimExchangeCfg, Tape,
    presets,
};

const OPS: usize = 100_000;
const MID: u64 = 10_000; // 1.0000 at tick 0.0001

#[derive(Clone, Copy)]
enum Op {
    Add { side: Side, price: u64, lots: u64 },
    Cancel { pick: usize },
    Take { side: Side, price: u64, lots: u64 },
}

fn ops(seed: u64) -> Vec<Op> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..OPS)
        .map(|_| {
            let x: f64 = r.random();
            let side = if r.random::<bool>() {
                Side::Buy
            } else {
                Side::Sell
            };
            if x < 0.45 {
                let away = r.random_range(1..20u64);
                let price = match side {
                    Side::Buy => MID - away,
                    Side::Sell => MID + away,
                };
                Op::Add {
                    side,
                    price,
                    lots: r.random_range(10..1000),
                }
            } else if x < 0.80 {
                Op::Cancel {
                    pick: r.random_range(0..usize::MAX),
                }
            } else {
                let price = match side {
                    Side::Buy => MID + 20,
                    Side::Sell => MID - 20,
                };
                Op::Take {
                    side,
                    price,
                    lots: r.random_range(100..2000),
                }
            }
        })
        .collect()
}

fn seeded_book() -> (OrderBook, Vec<u64>, u64) {
    let mut b = OrderBook::new(presets::binance_usdcusdt().rules).unwrap();
    let mut tape = Tape::default();
    let mut live = Vec::new();
    let mut id = 1;
    for level in 1..=40u64 {
        for _ in 0..25 {
            for (side, price) in [(Side::Buy, MID - level), (Side::Sell, MID + level)] {
                b.place_units(id, Owner(0), side, price, 500, TimeInForce::Gtc, &mut tape)
                    .unwrap();
                live.push(id);
                id += 1;
            }
        }
    }
    (b, live, id)
}

/// Runs the workload through the integer API, or (`decimal`) through the `Decimal` API with the rules check;
/// returns the number of trades.
fn run(
    book: &mut OrderBook,
    live: &mut Vec<u64>,
    mut id: u64,
    ops: &[Op],
    tape: &mut Tape,
    decimal: bool,
) -> usize {
    let mut trades = 0;
    let place =
        |book: &mut OrderBook, id, owner, side, price: u64, lots: u64, tif, tape: &mut Tape| {
            if decimal {
                let px = Decimal::new(price as i64, 4);
                book.place(id, owner, side, px, Decimal::from(lots), tif, tape)
            } else {
                book.place_units(id, owner, side, price, lots, tif, tape)
            }
        };
    for op in ops {
        match *op {
            Op::Add { side, price, lots } => {
                let _ = place(
                    book,
                    id,
                    Owner(0),
                    side,
                    price,
                    lots,
                    TimeInForce::Gtc,
                    tape,
                );
                live.push(id);
                id += 1;
            }
            Op::Cancel { pick } => {
                if !live.is_empty() {
                    let victim = live.swap_remove(pick % live.len());
                    book.cancel(victim);
                }
            }
            Op::Take { side, price, lots } => {
                let _ = place(
                    book,
                    id,
                    Owner(1),
                    side,
                    price,
                    lots,
                    TimeInForce::Ioc,
                    tape,
                );
                id += 1;
            }
        }
        trades += tape.trades().len();
        tape.clear();
    }
    trades
}

fn exchange() -> SimExchange {
    let big = Decimal::from(1_000_000_000_000i64);
    let cfg = SimExchangeCfg {
        seed: 1,
        markets: vec![MarketCfg {
            liquidity: None,
            ..presets::binance_usdcusdt()
        }],
        accounts: ["maker", "taker"]
            .iter()
            .map(|n| AccountCfg {
                name: n.to_string(),
                balances: [("USDC".to_string(), big), ("USDT".to_string(), big)].into(),
            })
            .collect(),
        networks: vec![],
    };
    let mut ex = SimExchange::new(&cfg, 0).unwrap();
    for level in 1..=40u64 {
        for _ in 0..25 {
            for (side, price) in [(Side::Buy, MID - level), (Side::Sell, MID + level)] {
                ex.place("maker", order(side, price, 500, TimeInForce::Gtc), 0)
                    .unwrap();
            }
        }
    }
    ex
}

fn order(side: Side, price: u64, lots: u64, tif: TimeInForce) -> NewOrder {
    NewOrder {
        market: "USDCUSDT".into(),
        side,
        price: Decimal::new(price as i64, 4),
        qty: Decimal::from(lots),
        tif,
        client_id: None,
    }
}

fn run_exchange(ex: &mut SimExchange, ops: &[Op]) {
    let mut live: Vec<u64> = ex
        .open_orders("maker", None)
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    for op in ops {
        match *op {
            Op::Add { side, price, lots } => {
                if let Ok(p) = ex.place("maker", order(side, price, lots, TimeInForce::Gtc), 0) {
                    live.push(p.order.id);
                }
            }
            Op::Cancel { pick } => {
                if !live.is_empty() {
                    let victim = live.swap_remove(pick % live.len());
                    let _ = ex.cancel("maker", None, &OrderRef::Id(victim), 0);
                }
            }
            Op::Take { side, price, lots } => {
                let _ = ex.place("taker", order(side, price, lots, TimeInForce::Ioc), 0);
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let ops = ops(7);
    // The workload keeps a populated book and really matches.
    let (mut book, mut live, id) = seeded_book();
    let trades = run(&mut book, &mut live, id, &ops, &mut Tape::default(), false);
    eprintln!(
        "workload: {OPS} ops, {trades} trades, {} orders resting at the end",
        book.len()
    );
    assert!(trades > OPS / 4 && book.len() > 200);
    let mut g = c.benchmark_group("matching");
    g.throughput(Throughput::Elements(OPS as u64));
    g.sample_size(20);
    for (name, decimal) in [("units", false), ("decimal", true)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                seeded_book,
                |(mut book, mut live, id)| {
                    run(
                        &mut book,
                        &mut live,
                        id,
                        &ops,
                        &mut Tape::default(),
                        decimal,
                    );
                    book
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.bench_function("exchange", |b| {
        b.iter_batched(
            exchange,
            |mut ex| {
                run_exchange(&mut ex, &ops);
                ex
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// One simulated hour of each preset's liquidity model (mid steps, re-quotes, takers), to size backtests.
fn simulate(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulated_hour");
    g.sample_size(10);
    g.throughput(Throughput::Elements(3600));
    for name in presets::PRESETS {
        let cfg = SimExchangeCfg {
            seed: 3,
            markets: vec![presets::preset(name).unwrap()],
            ..SimExchangeCfg::default()
        };
        g.bench_function(*name, |b| {
            b.iter(|| {
                let mut ex = SimExchange::new(&cfg, 0).unwrap();
                ex.advance_to(3_600_000);
                ex
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench, simulate);
criterion_main!(benches);
