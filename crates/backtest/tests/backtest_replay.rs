//! Replays of synthetic recordings: the strategies on the same flows and markets.

use ballast_backtest::recording::Recording;
use ballast_backtest::replay::{self, FillModel, ReplayOptions, Strategy};
use ballast_backtest::synth::{self, Kind, SynthSpec};
use ballast_config::Config;

fn relayer(days: u32, positions: usize, seed: u64) -> (tempfile::TempDir, Config, Recording) {
    let dir = tempfile::tempdir().unwrap();
    synth::write(
        &SynthSpec {
            kind: Kind::Relayer,
            days,
            positions,
            seed,
            ..Default::default()
        },
        dir.path(),
    )
    .unwrap();
    let cfg = Config::load(dir.path().join("config.toml")).unwrap();
    let rec = Recording::read_dir(dir.path(), Default::default()).unwrap();
    (dir, cfg, rec)
}

/// The replay is deterministic, conserves value, and the baselines behave as their definitions say.
#[test]
fn strategies_on_the_same_flows() {
    let (_d, cfg, rec) = relayer(4, 8, 7);
    let opts = ReplayOptions {
        fill_model: FillModel::Fast,
        ..Default::default()
    };
    let runs = replay::run_many(&cfg, &rec, &Strategy::ALL, &opts).unwrap();
    let again = replay::run_many(&cfg, &rec, &Strategy::ALL, &opts).unwrap();
    for (a, b) in runs.iter().zip(&again) {
        assert_eq!(
            a.total,
            b.total,
            "{} is not deterministic",
            a.strategy.name()
        );
    }
    let by = |s: Strategy| runs.iter().find(|r| r.strategy == s).unwrap();
    let none = by(Strategy::None);
    let ballast = by(Strategy::Ballast);
    let threshold = by(Strategy::Threshold);
    let ponly = by(Strategy::POnly);

    // Nobody acting: nothing moves, nothing is paid, and the flows push positions far outside their bands.
    assert_eq!(none.total.orders, 0);
    assert_eq!(none.total.fees, 0.0);
    assert_eq!(none.total.turnover, 0.0);
    assert!(none.total.time_outside_band > 0.3, "{:?}", none.total);

    for r in [ballast, threshold, ponly] {
        let t = &r.total;
        // Every strategy acting does far better than nobody, and pays for it.
        assert!(t.iae < 0.5 * none.total.iae, "{}: {t:?}", r.strategy.name());
        assert!(t.shortfall_events < none.total.shortfall_events / 4);
        assert!(t.orders > 0 && t.fees > 0.0 && t.turnover > 0.0);
        // Fees are a small share of what moved (stablecoin routes of a few bps plus fixed costs).
        assert!(
            t.fees < 0.01 * t.moved_value,
            "{}: {t:?}",
            r.strategy.name()
        );
        // Per-position sums agree with the totals.
        let sent: f64 = r.positions.iter().map(|p| p.sent).sum();
        assert!((sent - t.moved_value).abs() <= 1e-6 * t.moved_value.max(1.0));
        let flips: u32 = r.positions.iter().map(|p| p.side_flips).sum();
        assert_eq!(flips, t.side_flips);
    }
    // The threshold baseline refills deficits only: it never commands a position both ways.
    assert_eq!(threshold.total.side_flips, 0);
    // Only the auction replaces orders; the IOC and linear baselines never do.
    assert!(ballast.total.replaces > 0);
    assert_eq!(threshold.total.replaces, 0);
    assert_eq!(ponly.total.replaces, 0);
    // The maker-first auction pays less than crossing the spread at once.
    assert!(
        ballast.total.implementation_shortfall / ballast.total.moved_value
            < threshold.total.implementation_shortfall / threshold.total.moved_value
    );
}

/// A different market seed changes the executions but not the flows.
#[test]
fn seeds_change_markets_not_flows() {
    let (_d, cfg, rec) = relayer(2, 6, 11);
    let a = replay::run(&cfg, &rec, Strategy::None, &ReplayOptions::default()).unwrap();
    let b = replay::run(
        &cfg,
        &rec,
        Strategy::None,
        &ReplayOptions {
            seed: 99,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(a.total, b.total);
    let c = replay::run(&cfg, &rec, Strategy::Ballast, &ReplayOptions::default()).unwrap();
    let d = replay::run(
        &cfg,
        &rec,
        Strategy::Ballast,
        &ReplayOptions {
            seed: 99,
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(
        c.total.implementation_shortfall,
        d.total.implementation_shortfall
    );
}

/// `market.csv` drives the replay's markets: with the recorded USDC/USDT quotes 3 % off the prices the
/// portfolio is valued at, swaps cost percents (a sale of USDT loses 3 %, a purchase gains it back), in both
/// fill models; without it, a few bps.
#[test]
fn recorded_quotes_set_the_swap_prices() {
    let (dir, cfg, rec) = relayer(2, 6, 4);
    let opts = |fill_model| ReplayOptions {
        fill_model,
        ..Default::default()
    };
    let t0 = rec.times[0];
    std::fs::write(
        dir.path().join("market.csv"),
        format!("ts,venue,market,bid,ask\n{t0},binance,USDCUSDT,0.9700,0.9702\n"),
    )
    .unwrap();
    let quoted = Recording::read_dir(dir.path(), Default::default()).unwrap();
    for fill in [FillModel::Fast, FillModel::Book] {
        let plain = replay::run(&cfg, &rec, Strategy::Ballast, &opts(fill)).unwrap();
        let off = replay::run(&cfg, &quoted, Strategy::Ballast, &opts(fill)).unwrap();
        assert!(
            plain.swaps.swaps > 0 && off.swaps.swaps > 0,
            "{fill:?}: no swaps to compare"
        );
        let rate = |r: &replay::RunResult| r.total.fees / r.swaps.swapped_value;
        assert!(
            rate(&plain) < 0.002,
            "{fill:?}: {} without quotes",
            rate(&plain)
        );
        assert!(
            rate(&off) > 0.01,
            "{fill:?}: {} with quotes 3 % off",
            rate(&off)
        );
    }
}
