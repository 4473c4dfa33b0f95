//! Replays of synthetic recordings: the strategies on the same flows and markets.

use ballast::backtest::recording::Recording;
use ballast::backtest::replay::{self, FillModel, ReplayOptions, Strategy};
use ballast::backtest::synth::{self, Kind, SynthSpec};
use ballast::config::Config;

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

#[test]
fn experiment() {
    let (_d, cfg, rec) = relayer(7, 10, 7);
    let opts = ReplayOptions {
        fill_model: FillModel::Fast,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let runs = replay::run_many(&cfg, &rec, &Strategy::ALL, &opts).unwrap();
    eprintln!("{:?}", t.elapsed());
    for r in &runs {
        let t = &r.total;
        eprintln!(
            "{:>10} iae {:8.2} ise {:6.3} outside {:5.3} shortfalls {:4} unserved {:10.0} turnover {:6.2} fees {:8.0} IS {:8.0} orders {} flips {} legs {} swaps {}",
            r.strategy.name(),
            t.iae,
            t.ise,
            t.time_outside_band,
            t.shortfall_events,
            t.unserved_outflow,
            t.turnover,
            t.fees,
            t.implementation_shortfall,
            t.orders,
            t.side_flips,
            r.swaps.legs,
            r.swaps.swaps
        );
    }
}
