//! The `fast` fill model against the `book` fill model: the same auctions on the same markets should cost
//! and fill alike.

use rust_decimal::Decimal;

use ballast_backtest::execution::{BookVenue, FastVenue, SwapOutcome, work_auction, work_ioc};
use ballast_core::auction::Schedule;
use ballast_core::model::Side;
use ballast_sim::{AccountCfg, MarketCfg, SimExchange, SimExchangeCfg, presets};

const T0: i64 = 1_767_225_600_000;

fn exchange(m: &MarketCfg, seed: u64) -> SimExchange {
    let cfg = SimExchangeCfg {
        seed,
        markets: vec![m.clone()],
        accounts: vec![AccountCfg {
            name: "me".into(),
            balances: [m.rules.base.clone(), m.rules.quote.clone()]
                .into_iter()
                .map(|a| (a, Decimal::from(100_000_000)))
                .collect(),
        }],
        networks: vec![],
    };
    let mut ex = SimExchange::new(&cfg, T0).unwrap();
    ex.advance_to(T0 + 600_000);
    ex
}

struct Stats {
    cost: f64,
    fill_rate: f64,
    time_s: f64,
}

fn stats(v: &[SwapOutcome], qty: Decimal, start: i64) -> Stats {
    let costs: Vec<f64> = v.iter().filter_map(|o| o.cost_bps).collect();
    let full: Vec<&SwapOutcome> = v.iter().filter(|o| o.filled >= qty).collect();
    Stats {
        cost: costs.iter().sum::<f64>() / costs.len().max(1) as f64,
        fill_rate: full.len() as f64 / v.len() as f64,
        time_s: full
            .iter()
            .map(|o| (o.end_ms - start) as f64 / 1000.0)
            .sum::<f64>()
            / full.len().max(1) as f64,
    }
}

fn compare(m: MarketCfg, multiple: &str) -> (Stats, Stats, Stats, Stats) {
    let qty = m
        .rules
        .round_qty(m.liquidity.as_ref().unwrap().level_qty * multiple.parse::<Decimal>().unwrap());
    let schedule = Schedule::default();
    let start = T0 + 600_000;
    let (mut book, mut fast, mut book_ioc, mut fast_ioc) = (vec![], vec![], vec![], vec![]);
    for seed in 0..16u64 {
        for side in [Side::Sell, Side::Buy] {
            let mut ex = exchange(&m, seed);
            let mut bv = BookVenue::new(&mut ex, "me", &m.rules.market).unwrap();
            book.push(
                work_auction(
                    &mut bv,
                    side,
                    qty,
                    &schedule,
                    &format!("b{seed}"),
                    start,
                    500,
                    50,
                )
                .unwrap()
                .0,
            );
            let mut fv = FastVenue::new(m.rules.clone(), m.liquidity.clone().unwrap(), seed, start);
            fast.push(
                work_auction(
                    &mut fv,
                    side,
                    qty,
                    &schedule,
                    &format!("f{seed}"),
                    start,
                    500,
                    50,
                )
                .unwrap()
                .0,
            );
            let mut ex = exchange(&m, seed);
            let mut bv = BookVenue::new(&mut ex, "me", &m.rules.market).unwrap();
            book_ioc.push(work_ioc(&mut bv, side, qty, 100.0, "i", start));
            let mut fv = FastVenue::new(m.rules.clone(), m.liquidity.clone().unwrap(), seed, start);
            fast_ioc.push(work_ioc(&mut fv, side, qty, 100.0, "i", start));
        }
    }
    (
        stats(&book, qty, start),
        stats(&fast, qty, start),
        stats(&book_ioc, qty, start),
        stats(&fast_ioc, qty, start),
    )
}

#[test]
fn fast_model_matches_the_book_model() {
    for (m, mult) in [
        (presets::binance_usdcusdt(), "0.5"),
        (presets::binance_usdcusdt(), "2"),
        (presets::hyperliquid_usdt0_usdc(), "0.5"),
        (presets::hyperliquid_usdt0_usdc(), "2"),
    ] {
        let name = m.rules.market.clone();
        let (b, f, bi, fi) = compare(m, mult);
        eprintln!(
            "{name} x{mult}: auction cost book {:.2} fast {:.2} | fill {:.2} {:.2} | time {:.0}s {:.0}s | ioc cost book {:.2} fast {:.2}",
            b.cost, f.cost, b.fill_rate, f.fill_rate, b.time_s, f.time_s, bi.cost, fi.cost
        );
        assert!(
            (b.cost - f.cost).abs() <= 0.3,
            "{name} x{mult}: auction cost book {} fast {}",
            b.cost,
            f.cost
        );
        assert!(
            (b.fill_rate - f.fill_rate).abs() <= 0.1,
            "{name} x{mult}: fill rate book {} fast {}",
            b.fill_rate,
            f.fill_rate
        );
        assert!(
            (bi.cost - fi.cost).abs() <= 0.3,
            "{name} x{mult}: ioc cost book {} fast {}",
            bi.cost,
            fi.cost
        );
        assert!(b.time_s > 0.0 && f.time_s > 0.0);
        assert!(
            (b.time_s - f.time_s).abs() <= 0.25 * b.time_s.max(f.time_s),
            "{name} x{mult}: time book {} fast {}",
            b.time_s,
            f.time_s
        );
    }
}

/// A recorded quote path (`market.csv` in a replay) moves both fill models' markets: an auction started after
/// the recorded mid stepped from 1 to 0.97 trades near 0.97, not near the modelled mid.
#[test]
fn both_models_trade_at_the_recorded_quotes() {
    use ballast_sim::{MidSource, PathPoint};
    let mut m = presets::binance_usdcusdt();
    let step_at = T0 + 900_000;
    let path = vec![
        PathPoint {
            ts: T0,
            bid: 0.9999,
            ask: 1.0001,
        },
        PathPoint {
            ts: step_at,
            bid: 0.9699,
            ask: 0.9701,
        },
    ];
    m.liquidity.as_mut().unwrap().mid = MidSource::Path(path.into());
    let qty = Decimal::from(20_000);
    let price = |o: &SwapOutcome| {
        assert!(o.filled > Decimal::ZERO, "{o:?}");
        ballast_core::model::to_f64(o.notional / o.filled)
    };
    for side in [Side::Sell, Side::Buy] {
        for (start, near) in [(T0 + 600_000, 1.0), (step_at + 60_000, 0.97)] {
            let mut ex = exchange(&m, 3);
            ex.advance_to(start);
            let mut bv = BookVenue::new(&mut ex, "me", &m.rules.market).unwrap();
            let book = work_auction(
                &mut bv,
                side,
                qty,
                &Schedule::default(),
                "b",
                start,
                500,
                50,
            )
            .unwrap()
            .0;
            let mut fv = FastVenue::new(m.rules.clone(), m.liquidity.clone().unwrap(), 3, start);
            let fast = work_auction(
                &mut fv,
                side,
                qty,
                &Schedule::default(),
                "f",
                start,
                500,
                50,
            )
            .unwrap()
            .0;
            for (name, o) in [("book", &book), ("fast", &fast)] {
                let p = price(o);
                assert!(
                    (p - near).abs() < 0.002,
                    "{name} {side:?} at {start}: traded at {p}, want ~{near}"
                );
                assert!(
                    (ballast_core::model::to_f64(o.arrival) - near).abs() < 0.001,
                    "{name}: arrival {}",
                    o.arrival
                );
            }
        }
    }
}
