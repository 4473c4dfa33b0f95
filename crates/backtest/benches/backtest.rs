//! Backtest speed on a synthetic relayer recording of 30 days at 1-minute resolution for 40 positions
//! (1.7M balance cells): reading and parsing it, one `fast` replay of ballast, all four strategies, and one
//! tuning candidate. Targets (issue 4): a year x 40 positions backtests in at most twice its parse time and
//! within 10 s; `tune` evaluates 256 candidates over 30 days x 40 positions within 20 s.
//!
//! The recordings are generated once into `target/bench-data/relayer-{30,365}d-40` (60 MB and 730 MB).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};

use ballast_backtest::recording::{ReadOptions, Recording};
use ballast_backtest::replay::{self, Prepared, ReplayOptions, Strategy};
use ballast_backtest::synth::{self, Kind, SynthSpec};
use ballast_backtest::tune::Params;
use ballast_config::Config;

fn data(days: u32) -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join(format!("target/bench-data/relayer-{days}d-40"));
    if !dir.join("config.toml").exists() {
        let spec = SynthSpec {
            kind: Kind::Relayer,
            days,
            positions: 40,
            seed: 5,
            ..SynthSpec::default()
        };
        synth::write(&spec, &dir).expect("write the bench recording");
    }
    dir
}

fn bench(c: &mut Criterion) {
    let dir = data(30);
    let cfg = Config::load(dir.join("config.toml")).unwrap();
    let rec = Recording::read_dir(&dir, ReadOptions::default()).unwrap();
    let opts = ReplayOptions::default();
    let mut g = c.benchmark_group("backtest_30d_40");
    g.sample_size(10);
    g.bench_function("read_and_parse", |b| {
        b.iter(|| Recording::read_dir(&dir, ReadOptions::default()).unwrap())
    });
    g.bench_function("replay_ballast_fast", |b| {
        b.iter(|| replay::run(&cfg, &rec, Strategy::Ballast, &opts).unwrap())
    });
    g.bench_function("replay_all_four_fast", |b| {
        b.iter(|| replay::run_many(&cfg, &rec, &Strategy::ALL, &opts).unwrap())
    });
    // One tuning candidate: the replay on a prepared recording, as `tune` runs it.
    let prep = Prepared::new(&cfg, &rec).unwrap();
    let cand = Params::of(&cfg).apply(&cfg);
    g.bench_function("tune_candidate", |b| {
        b.iter(|| replay::run_prepared(&cand, &prep, Strategy::Ballast, &opts).unwrap())
    });
    g.finish();
}

/// The year: parse alone, then the whole backtest (parse and the four strategies in parallel), as
/// `ballast backtest` does it.
fn year(c: &mut Criterion) {
    let dir = data(365);
    let cfg = Config::load(dir.join("config.toml")).unwrap();
    let opts = ReplayOptions::default();
    let mut g = c.benchmark_group("backtest_365d_40");
    g.sample_size(10);
    g.bench_function("read_and_parse", |b| {
        b.iter(|| Recording::read_dir(&dir, ReadOptions::default()).unwrap())
    });
    g.bench_function("read_parse_and_replay_all_four_fast", |b| {
        b.iter(|| {
            let rec = Recording::read_dir(&dir, ReadOptions::default()).unwrap();
            replay::run_many(&cfg, &rec, &Strategy::ALL, &opts).unwrap()
        })
    });
    g.bench_function("read_parse_and_replay_ballast_fast", |b| {
        b.iter(|| {
            let rec = Recording::read_dir(&dir, ReadOptions::default()).unwrap();
            replay::run(&cfg, &rec, Strategy::Ballast, &opts).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench, year);
criterion_main!(benches);
