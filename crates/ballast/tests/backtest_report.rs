//! The backtest report on a short synthetic replay: every file exists and is well-formed, and holds the
//! replay's values.

use std::path::{Path, PathBuf};

use ballast_backtest::recording::Recording;
use ballast_backtest::replay::{self, FillModel, ReplayOptions, RunResult, Strategy};
use ballast_backtest::report::{self, BacktestReport, SERIES_HEADER};
use ballast_backtest::synth::{self, Kind, SynthSpec};
use ballast_config::Config;
use serde_json::Value;

struct Replay {
    _dir: tempfile::TempDir,
    cfg: Config,
    rec: Recording,
    opts: ReplayOptions,
    results: Vec<RunResult>,
}

fn replay(kind: Kind, days: u32, positions: usize, seed: u64) -> Replay {
    let dir = tempfile::tempdir().unwrap();
    synth::write(
        &SynthSpec {
            kind,
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
    let opts = ReplayOptions {
        fill_model: FillModel::Fast,
        seed,
        series_every_ms: 30 * 60_000,
        ..Default::default()
    };
    let results = replay::run_many(&cfg, &rec, &Strategy::ALL, &opts).unwrap();
    Replay {
        _dir: dir,
        cfg,
        rec,
        opts,
        results,
    }
}

fn write(r: &Replay, out: &Path) -> Vec<PathBuf> {
    report::write_dir(
        out,
        &BacktestReport {
            config: &r.cfg,
            recording: &r.rec,
            options: &r.opts,
            results: &r.results,
        },
    )
    .unwrap()
}

fn names(cfg: &Config) -> Vec<String> {
    cfg.positions.iter().map(|p| p.key.to_string()).collect()
}

/// A JSON number equals the replay's value (the file holds the shortest representation that reads back to
/// the same f64; serde_json's default parser may land one ulp away).
fn assert_num(v: &Value, expected: f64, what: &str) {
    let got = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"));
    assert!(
        (got - expected).abs() <= 1e-15 * expected.abs(),
        "{what}: {got} vs {expected}"
    );
}

fn assert_opt(v: &Value, expected: Option<f64>, what: &str) {
    match expected {
        Some(x) => assert_num(v, x, what),
        None => assert!(v.is_null(), "{what}: expected null, found {v}"),
    }
}

#[test]
fn a_report_has_every_file_well_formed_with_the_replay_values() {
    let r = replay(Kind::Relayer, 2, 4, 3);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("report");
    let files = write(&r, &dir);
    let pos = names(&r.cfg);

    // The files, in order.
    let mut expected: Vec<String> = vec![
        "report.json".into(),
        "series.csv".into(),
        "overview.svg".into(),
    ];
    for (p, n) in pos.iter().enumerate() {
        expected.push(report::position_file_name(p, n));
    }
    expected.push("error.svg".into());
    expected.push("cost.svg".into());
    let got: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(got, expected);
    for f in &files {
        assert!(f.starts_with(&dir) && f.is_file(), "{}", f.display());
    }

    // report.json
    let j: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["ballast_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        j["config"]["path"],
        r.cfg.source.display().to_string().as_str()
    );
    assert_eq!(j["config"]["digest"], r.cfg.digest.as_str());
    assert_eq!(j["config"]["version"], r.cfg.version());
    assert_eq!(j["seed"], 3);
    assert_eq!(j["fill_model"], "fast");
    assert_eq!(j["options"]["series_every_ms"], 30 * 60_000);
    assert_eq!(j["options"]["deposit_delay_ms"], r.opts.deposit_delay_ms);
    assert_eq!(
        j["options"]["schedule"]["deadline_ms"],
        r.opts.schedule.deadline_ms
    );
    let jr = &j["recording"];
    assert_eq!(jr["first_ms"], r.rec.times[0]);
    assert_eq!(jr["last_ms"], *r.rec.times.last().unwrap());
    assert_eq!(jr["first"], "2026-01-01T00:00:00Z");
    assert_eq!(jr["last"], "2026-01-03T00:00:00Z");
    assert_eq!(jr["hours"], 48.0);
    assert_eq!(jr["snapshots"], r.rec.len());
    assert_eq!(jr["skipped_rows"], 0);
    assert_eq!(jr["positions"].as_array().unwrap().len(), 4);
    let strategies = j["strategies"].as_array().unwrap();
    assert_eq!(strategies.len(), r.results.len());
    for (js, res) in strategies.iter().zip(&r.results) {
        let s = res.strategy.name();
        assert_eq!(js["strategy"], s);
        assert_eq!(js["cycles"], res.cycles);
        let t = &js["total"];
        let tm = &res.total;
        for (k, v) in [
            ("iae", tm.iae),
            ("ise", tm.ise),
            ("itae", tm.itae),
            ("max_deviation", tm.max_deviation),
            ("time_outside_band", tm.time_outside_band),
            ("shortfall_events", f64::from(tm.shortfall_events)),
            ("unserved_outflow", tm.unserved_outflow),
            ("turnover", tm.turnover),
            ("moved_value", tm.moved_value),
            ("fees", tm.fees),
            ("implementation_shortfall", tm.implementation_shortfall),
            ("orders", tm.orders as f64),
            ("replaces", tm.replaces as f64),
            ("side_flips", f64::from(tm.side_flips)),
            ("mean_overshoot", tm.mean_overshoot),
            ("hours", tm.hours),
        ] {
            assert_num(&t[k], v, &format!("{s} total.{k}"));
        }
        assert_opt(
            &t["mean_settling_hours"],
            tm.mean_settling_hours,
            &format!("{s} total.mean_settling_hours"),
        );
        let jp = js["positions"].as_array().unwrap();
        assert_eq!(jp.len(), res.positions.len());
        for (p, (jm, m)) in jp.iter().zip(&res.positions).enumerate() {
            assert_eq!(jm["position"], pos[p].as_str());
            for (k, v) in [
                ("iae", m.iae),
                ("ise", m.ise),
                ("itae", m.itae),
                ("max_deviation", m.max_deviation),
                ("time_outside_band", m.time_outside_band),
                ("shortfall_events", f64::from(m.shortfall_events)),
                ("unserved_outflow", m.unserved_outflow),
                ("sent", m.sent),
                ("received", m.received),
                ("fees", m.fees),
                ("side_flips", f64::from(m.side_flips)),
                ("disturbances", f64::from(m.disturbances)),
                ("mean_overshoot", m.mean_overshoot),
                ("max_overshoot", m.max_overshoot),
                ("unsettled", f64::from(m.unsettled)),
            ] {
                assert_num(&jm[k], v, &format!("{s} {}.{k}", pos[p]));
            }
            assert_opt(
                &jm["mean_settling_hours"],
                m.mean_settling_hours,
                &format!("{s} {}.mean_settling_hours", pos[p]),
            );
        }
        let sw = &js["swaps"];
        assert_eq!(sw["legs"], res.swaps.legs);
        assert_eq!(sw["swaps"], res.swaps.swaps);
        assert_num(
            &sw["swapped_value"],
            res.swaps.swapped_value,
            "swapped_value",
        );
    }
    // The replay did something, so the values checked are not all zeros.
    let ballast = &r.results[0];
    assert_eq!(ballast.strategy, Strategy::Ballast);
    assert!(ballast.total.orders > 0 && ballast.total.iae > 0.0);

    // series.csv: header, one row per (time, strategy, position), the replay's values.
    let mut csv = csv::Reader::from_path(dir.join("series.csv")).unwrap();
    assert_eq!(csv.headers().unwrap(), SERIES_HEADER.as_slice());
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    let expected_rows: usize = r.results.iter().map(|x| x.series.times.len() * 4).sum();
    assert_eq!(rows.len(), expected_rows);
    assert_eq!(expected_rows, 4 * (2 * 48 + 1) * 4, "2 days every 30 min");
    let close = |cell: &str, x: f64, what: &str| {
        let v: f64 = cell.parse().unwrap_or_else(|_| panic!("{what}: {cell:?}"));
        assert!(
            (v - x).abs() <= 1e-6 * x.abs().max(1.0),
            "{what}: {v} vs {x}"
        );
    };
    let mut it = rows.iter();
    for res in &r.results {
        let s = &res.series;
        for (t, ts) in s.times.iter().enumerate() {
            for (p, name) in pos.iter().enumerate() {
                let row = it.next().unwrap();
                assert_eq!(row.len(), 8);
                let parsed = chrono::DateTime::parse_from_rfc3339(&row[0]).unwrap();
                assert_eq!(parsed.timestamp_millis(), *ts);
                assert_eq!(&row[1], res.strategy.name());
                assert_eq!(&row[2], name);
                let what = format!("{} {name} t{t}", res.strategy.name());
                close(&row[3], s.value[t][p], &what);
                close(&row[4], s.target[t][p], &what);
                close(&row[5], s.low[t][p], &what);
                close(&row[6], s.high[t][p], &what);
                close(&row[7], s.cumulative_cost[t], &what);
            }
        }
    }

    // SVGs: well-formed XML, titles with the position names, one line per strategy in its color.
    let strategy_names: Vec<&str> = r.results.iter().map(|x| x.strategy.name()).collect();
    for f in &files[2..] {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(f).unwrap();
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{name} is not well-formed XML: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg", "{name}");
        let texts: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect();
        let has_text = |s: &str| texts.iter().any(|t| t.contains(s));
        let wanted_positions: Vec<&String> = if name.starts_with("position-") {
            let p = (1..=4)
                .find(|p| name.starts_with(&format!("position-{p:02}-")))
                .unwrap();
            vec![&pos[p - 1]]
        } else if name == "cost.svg" {
            vec![]
        } else {
            pos.iter().collect()
        };
        for p in wanted_positions {
            assert!(has_text(p), "{name} names {p}: {texts:?}");
        }
        for s in &strategy_names {
            assert!(has_text(s), "{name} has the legend entry {s}");
        }
        for (i, s) in strategy_names.iter().enumerate() {
            let color = report::strategy_color_hex(i);
            let lines = doc
                .descendants()
                .filter(|n| {
                    n.has_tag_name("polyline")
                        && n.attribute("stroke") == Some(color.as_str())
                        && n.attribute("points")
                            .is_some_and(|p| p.split_whitespace().count() >= 20)
                })
                .count();
            assert!(lines >= 1, "{name}: a line for {s} ({color})");
        }
        // Axis labels are dates.
        if name != "overview.svg" {
            assert!(
                has_text("Jan 01") || has_text("Jan 02"),
                "{name}: {texts:?}"
            );
            assert!(has_text("time (UTC)"), "{name}");
        }
    }
    let overview = std::fs::read_to_string(dir.join("overview.svg")).unwrap();
    assert!(overview.contains(r.cfg.version()));
}

#[test]
fn the_side_by_side_table_has_every_metric_per_strategy_in_order() {
    let r = replay(Kind::Treasury, 2, 4, 5);
    let t = report::side_by_side(&r.results);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 2 + 17, "{t}");
    let width = lines[0].chars().count();
    assert!(
        lines.iter().all(|l| l.chars().count() == width),
        "aligned:\n{t}"
    );
    let head: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(head, ["metric", "ballast", "none", "threshold", "p-only"]);
    for label in [
        "IAE",
        "ISE",
        "ITAE",
        "max deviation",
        "time outside band",
        "shortfall events",
        "unserved outflow",
        "turnover",
        "moved value",
        "fees",
        "implementation shortfall",
        "orders",
        "replaces",
        "side flips",
        "mean overshoot",
        "mean settling time",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(label)),
            "{label} in\n{t}"
        );
    }
    // Integer rows: the last columns are the strategies' values, in order.
    let row = |label: &str| -> Vec<String> {
        let l = lines.iter().find(|l| l.starts_with(label)).unwrap();
        let cells: Vec<&str> = l.split_whitespace().collect();
        cells[cells.len() - 4..]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let orders: Vec<String> = r
        .results
        .iter()
        .map(|x| x.total.orders.to_string())
        .collect();
    assert_eq!(row("orders"), orders);
    // The net part of the IAE never exceeds the IAE (|sum| <= sum of ||).
    let iae = row("IAE");
    let net = row("  of which net");
    for (a, b) in iae.iter().zip(&net) {
        let (a, b): (f64, f64) = (
            a.replace(',', "").parse().unwrap(),
            b.replace(',', "").parse().unwrap(),
        );
        assert!(b <= a + 1e-9, "net {b} > IAE {a}\n{t}");
    }
    let shortfalls: Vec<String> = r
        .results
        .iter()
        .map(|x| x.total.shortfall_events.to_string())
        .collect();
    assert_eq!(row("shortfall events"), shortfalls);
    assert_eq!(row("side flips")[1], "0", "none never moves");

    let md = report::side_by_side_markdown(&r.results);
    let mdl: Vec<&str> = md.lines().collect();
    assert_eq!(mdl.len(), 2 + 17);
    assert_eq!(mdl[0], "| metric | ballast | none | threshold | p-only |");
    assert_eq!(mdl[1], "|---|---:|---:|---:|---:|");
    for l in &mdl[2..] {
        assert_eq!(l.matches('|').count(), 6, "{l}");
    }
}

#[test]
fn long_runs_make_plots_of_bounded_size() {
    // Three weeks every 5 minutes for 6 positions: about 6000 samples per line.
    let dir = tempfile::tempdir().unwrap();
    let mut r = replay(Kind::Relayer, 21, 6, 9);
    r.opts.series_every_ms = 5 * 60_000;
    r.results = replay::run_many(
        &r.cfg,
        &r.rec,
        &[Strategy::Ballast, Strategy::Threshold],
        &r.opts,
    )
    .unwrap();
    assert!(r.results[0].series.times.len() > 6000);
    let files = write(&r, dir.path());
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "svg"))
    {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.len() < 1_500_000,
            "{}: {} bytes",
            f.display(),
            text.len()
        );
        let doc = roxmltree::Document::parse(&text).unwrap();
        for n in doc.descendants().filter(|n| n.has_tag_name("polyline")) {
            let points = n.attribute("points").unwrap().split_whitespace().count();
            assert!(points <= 1300, "{}: {points} points", f.display());
        }
    }
    // The CSV keeps every sample.
    let rows = csv::Reader::from_path(dir.path().join("series.csv"))
        .unwrap()
        .records()
        .count();
    assert_eq!(rows, 2 * r.results[0].series.times.len() * 6);
}

#[test]
fn without_a_time_series_the_report_has_json_and_an_empty_csv_but_no_plots() {
    let mut r = replay(Kind::Relayer, 1, 2, 1);
    r.opts.series_every_ms = 0;
    r.results = replay::run_many(&r.cfg, &r.rec, &[Strategy::Ballast], &r.opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = write(&r, dir.path());
    assert_eq!(files.len(), 2);
    let csv = std::fs::read_to_string(dir.path().join("series.csv")).unwrap();
    assert_eq!(csv, format!("{}\n", SERIES_HEADER.join(",")));
}

#[test]
fn an_unwritable_directory_is_an_error_naming_the_file() {
    let r = replay(Kind::Relayer, 1, 2, 1);
    let dir = tempfile::tempdir().unwrap();
    // A file where the report directory should be.
    let blocked = dir.path().join("report");
    std::fs::write(&blocked, "x").unwrap();
    let e = report::write_dir(
        &blocked,
        &BacktestReport {
            config: &r.cfg,
            recording: &r.rec,
            options: &r.opts,
            results: &r.results,
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with(&blocked.display().to_string()),
        "{e}"
    );
}

#[test]
#[ignore]
fn write_sample_report() {
    let r = replay(Kind::Relayer, 7, 10, 7);
    let out = PathBuf::from(std::env::var("REPORT_OUT").unwrap_or("/tmp/rep/out".into()));
    write(&r, &out);
    println!("{}", report::side_by_side(&r.results));
}

/// `ballast backtest` on the shipped relayer recording: the table on stdout is the report's side-by-side
/// table of the same replay, `--out` writes the report files, and `--quiet` prints nothing.
#[test]
fn the_backtest_command_prints_the_table_and_writes_the_report() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let data = root.join("config/data/relayer");
    let cfg = Config::load(data.join("config.toml")).unwrap();
    let rec = Recording::read_dir(&data, Default::default()).unwrap();
    let opts = ReplayOptions::default();
    let expected = replay::run_many(&cfg, &rec, &Strategy::ALL, &opts).unwrap();

    let out = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_ballast"))
            .arg("backtest")
            .arg("--config")
            .arg(data.join("config.toml"))
            .arg("--recording")
            .arg(&data)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    };
    let o = run(&[]);
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert!(
        stdout.contains(&report::side_by_side(&expected)),
        "{stdout}"
    );
    // No progress bar when stderr is not a terminal.
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let dir = out.path().join("report");
    let o = run(&["--quiet", "--out", dir.to_str().unwrap()]);
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["seed"], 1);
    assert_eq!(json["recording"]["snapshots"], rec.len());
    for (i, r) in expected.iter().enumerate() {
        let s = &json["strategies"][i];
        assert_eq!(s["strategy"], r.strategy.name());
        assert_num(&s["total"]["iae"], r.total.iae, "iae");
        assert_eq!(s["total"]["orders"], r.total.orders);
    }
    for f in ["series.csv", "overview.svg", "error.svg", "cost.svg"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("position-"))
            .count(),
        cfg.positions.len()
    );
}
