//! Execution quality on the simulated markets: ballast's auction against an immediate IOC and a linear
//! auction (the full table is in BENCHMARKS.md; `ballast auction-bench` prints it).

use ballast_sim::quality::{self, BenchSpec, Strategy};

#[test]
fn ballast_costs_less_than_paying_the_spread_and_still_fills() {
    let spec = BenchSpec::standard(2);
    let outcomes = quality::run(&spec);
    let rows = quality::summarize(&outcomes);
    let row = |s: Strategy, m: &str| {
        rows.iter()
            .find(|r| r.strategy == s && r.market == m)
            .unwrap()
            .clone()
    };
    for m in ["binance USDCUSDT", "hyperliquid USDT0/USDC", "all"] {
        let (b, ioc, lin) = (
            row(Strategy::Ballast, m),
            row(Strategy::Ioc, m),
            row(Strategy::Linear, m),
        );
        assert!(
            b.fill_rate >= 0.95,
            "{m}: ballast fill rate {}",
            b.fill_rate
        );
        assert!(
            b.mean_cost_bps < ioc.mean_cost_bps,
            "{m}: ballast {} vs ioc {}",
            b.mean_cost_bps,
            ioc.mean_cost_bps
        );
        assert!(
            b.mean_cost_bps < lin.mean_cost_bps,
            "{m}: ballast {} vs linear {}",
            b.mean_cost_bps,
            lin.mean_cost_bps
        );
    }
    // On the zero-maker-fee market the auction earns the spread instead of paying it: at most 30 % of the
    // IOC's cost (here below zero).
    let (b, ioc) = (
        row(Strategy::Ballast, "binance USDCUSDT"),
        row(Strategy::Ioc, "binance USDCUSDT"),
    );
    assert!(
        b.mean_cost_bps <= 0.3 * ioc.mean_cost_bps,
        "{} vs {}",
        b.mean_cost_bps,
        ioc.mean_cost_bps
    );
    // Every outcome is accounted: one per strategy per order.
    assert_eq!(outcomes.len() % 3, 0);
    let table = quality::table(&rows);
    assert!(table.contains("IOC 1% through the book"));
}
