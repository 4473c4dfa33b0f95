//! Operating the service: hot reload (a bad file keeps the old configuration, a good one changes gains
//! without an output jump), the kill switch persisted across a restart, and the daemon's commands over
//! HTTP with a token that never appears in any output, log line or the journal.

mod service_support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use ballast_service::{CycleOutcome, KillState};
use service_support::*;

fn commanded(svc: &ballast_service::Service) -> Vec<f64> {
    svc.status
        .read()
        .unwrap()
        .positions
        .iter()
        .map(|p| p.commanded)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_the_old_config_on_errors_and_changes_gains_bumplessly() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let path = write_config(dir.path(), &paper_config(&journal, "0.5", ""));
    let mut svc = start(&path).await;
    // Hold new moves so the measured error stays where it is: only the controller changes the output.
    svc.set_kill(KillState::ReduceOnly, "test: hold the plant", "test")
        .unwrap();
    let mut outs = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let o = svc.cycle().await.unwrap();
        assert!(matches!(o, CycleOutcome::HeldByKillSwitch(_)), "{o:?}");
        outs.push(commanded(&svc));
    }
    let v0 = svc.cfg.version().to_string();

    // A bad file: every error is reported with its line, the running configuration stays.
    std::fs::write(
        &path,
        paper_config(&journal, "7.5", "\n[service.breakers2]\nx = 1\n"),
    )
    .unwrap();
    let errs = svc.reload().expect_err("a bad file is refused");
    let text = errs.to_string();
    assert!(text.contains("kp"), "{text}");
    assert!(text.contains("breakers2"), "{text}");
    assert!(errs.0.len() >= 2, "every error is reported: {text}");
    assert!(errs.0.iter().all(|p| p.line.is_some()), "{text}");
    assert_eq!(svc.cfg.version(), v0, "the old configuration keeps running");
    assert_eq!(svc.cfg.controller.kp, 0.5);

    // A venue change needs a restart: reported, not applied.
    std::fs::write(
        &path,
        paper_config(&journal, "0.25", "").replace(
            "name = \"bn_b\"\nkind = \"binance\"",
            "name = \"bn_b\"\nkind = \"binance\"\nrecv_window = \"4s\"",
        ),
    )
    .unwrap();
    let rep = match svc.reload() {
        Ok(r) => r,
        Err(e) => panic!("a good file is applied: {e}"),
    };
    assert!(rep.applied);
    assert_ne!(rep.to, v0);
    assert_eq!(svc.cfg.controller.kp, 0.25, "gains reload");
    assert!(
        rep.restart_needed.iter().any(|r| r.contains("venues")),
        "{:?}",
        rep.restart_needed
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    svc.cycle().await.unwrap();
    let after = commanded(&svc);
    let (a, b, c) = (&outs[1], &outs[2], &after);
    let mut big = 0;
    for i in 0..a.len() {
        let normal = (b[i] - a[i]).abs();
        let jump = (c[i] - b[i]).abs();
        // Halving kp without bumpless transfer would drop the proportional part by half.
        assert!(
            jump <= 3.0 * normal + 1e-6 * b[i].abs().max(1.0),
            "position {i}: output jumped by {jump} at the reload (normal change per cycle {normal}; before {}, after {})",
            b[i],
            c[i]
        );
        if b[i].abs() > 1000.0 {
            big += 1;
        }
    }
    assert!(big > 0, "the test holds a real output: {b:?}");
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halt_survives_a_restart_and_holds_every_new_move() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let path = write_config(dir.path(), &paper_config(&journal, "0.5", ""));
    let mut svc = start(&path).await;
    svc.set_kill(KillState::Halted, "operator test", "cli")
        .unwrap();
    svc.shutdown().await;

    let mut svc = start(&path).await;
    assert_eq!(svc.kill_switch().state, KillState::Halted);
    assert_eq!(svc.kill_switch().reason, "operator test");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let o = svc.cycle().await.unwrap();
    assert!(matches!(o, CycleOutcome::HeldByKillSwitch(_)), "{o:?}");
    assert!(svc.journal.all_legs().unwrap().is_empty(), "no leg starts");
    svc.shutdown().await;

    // `ballast once` on the halted journal: exit code 3, nothing started.
    let out = Command::new(bin())
        .args(["once", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Resumed: the next run plans legs (the balances are off target).
    let mut svc = start(&path).await;
    assert_eq!(svc.kill_switch().state, KillState::Halted);
    svc.set_kill(KillState::Active, "resume", "cli").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let o = svc.cycle().await.unwrap();
    assert!(
        matches!(o, CycleOutcome::Ok { started } if started > 0),
        "{o:?}"
    );
    svc.shutdown().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cli(args: &[&str], token: Option<&str>) -> (i32, String) {
    let mut c = Command::new(bin());
    c.args(args).env_remove("BALLAST_TEST_TOKEN");
    if let Some(t) = token {
        c.env("BALLAST_TEST_TOKEN", t);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn the_daemon_over_http_with_a_token_that_never_leaks() {
    const TOKEN: &str = "tok-3f9a61c0d2e84b7d-SECRET";
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let path = write_config(dir.path(), &paper_config(&journal, "0.5", ""));
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut daemon = Command::new(bin())
        .args(["run", "--config"])
        .arg(&path)
        .args(["--http", &format!("127.0.0.1:{port}")])
        .env("BALLAST_TEST_TOKEN", TOKEN)
        .env("RUST_LOG", "debug")
        // Files, not pipes: a pipe nobody reads fills up and blocks the daemon's logging.
        .stdout(Stdio::from(
            std::fs::File::create(dir.path().join("daemon.out")).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("daemon.err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let mut outputs = Vec::new();
    let cfg = path.to_str().unwrap();
    // Wait for the endpoint and a few cycles.
    let mut up = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        let (code, out) = cli(&["status", "--config", cfg, "--url", &url], None);
        if code == 0 && out.contains("cycle") && !out.contains("cycle 0 ") {
            up = true;
            outputs.push(out);
            break;
        }
    }
    assert!(up, "the daemon answered /status");
    std::thread::sleep(Duration::from_secs(3));
    let metrics = http_get(port, "/metrics");
    for name in [
        "ballast_position_balance",
        "ballast_position_error",
        "ballast_cycle_seconds",
        "ballast_kill_switch",
    ] {
        assert!(metrics.contains(name), "/metrics has {name}:\n{metrics}");
    }
    outputs.push(metrics);
    // Wrong token and no token: refused, nothing changes.
    let (code, out) = cli(&["halt", "--config", cfg, "--url", &url], Some("wrong"));
    assert_ne!(code, 0, "{out}");
    outputs.push(out);
    let (code, out) = cli(&["halt", "--config", cfg, "--url", &url], None);
    assert_ne!(code, 0, "{out}");
    outputs.push(out);
    let (_, st) = cli(&["status", "--config", cfg, "--url", &url, "--json"], None);
    assert!(st.contains("\"active\""), "{st}");
    outputs.push(st);
    // The right token: halted, then reduce-only, then active.
    let (code, out) = cli(
        &["halt", "--config", cfg, "--url", &url, "--reason", "drill"],
        Some(TOKEN),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("halted"), "{out}");
    outputs.push(out);
    let (code, out) = cli(
        &["resume", "--config", cfg, "--url", &url, "--reduce-only"],
        Some(TOKEN),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("reduce_only"), "{out}");
    outputs.push(out);
    let (code, out) = cli(&["resume", "--config", cfg, "--url", &url], Some(TOKEN));
    assert_eq!(code, 0, "{out}");
    outputs.push(out);
    let (code, out) = cli(&["pending", "--config", cfg, "--url", &url], None);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("pending is JSON");
    assert!(v.is_object(), "{out}");
    outputs.push(out);

    // SIGINT: a clean stop.
    unsafe {
        libc_kill(daemon.id() as i32, 2);
    }
    let status = wait_timeout(&mut daemon, Duration::from_secs(60));
    let so = std::fs::read_to_string(dir.path().join("daemon.out")).unwrap();
    let se = std::fs::read_to_string(dir.path().join("daemon.err")).unwrap();
    let tail: Vec<&str> = se.lines().rev().take(40).collect();
    assert_eq!(
        status,
        Some(0),
        "a clean stop on SIGINT; log tail (newest first):\n{}",
        tail.join("\n")
    );
    assert!(se.contains("stopped"), "{se}");
    assert!(
        so.contains("position"),
        "the progress table is printed:\n{so}"
    );
    outputs.push(so);
    outputs.push(se);
    for o in &outputs {
        assert!(!o.contains(TOKEN), "the token leaked into an output:\n{o}");
    }
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token is in a file"
        );
    }
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn wait_timeout(c: &mut std::process::Child, d: Duration) -> Option<i32> {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        if let Some(s) = c.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = c.kill();
    None
}

/// `[service] log_file`: the log lines go to the file (appended, owner-only), stderr names it and carries no
/// log line, so the progress table on stdout stays readable; a file that cannot be written falls back to
/// stderr with a word.
#[test]
fn log_lines_go_to_the_configured_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let text = paper_config(&journal, "0.5", "").replace(
        "[service]\n",
        "[service]\nlog_file = \"logs/ballast.log\"\nprogress = false\n",
    );
    let path = write_config(dir.path(), &text);
    let log = dir.path().join("logs/ballast.log");
    let run = |p: &std::path::Path| {
        let o = Command::new(bin())
            .args(["once", "--config", p.to_str().unwrap(), "--log", "info"])
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (code, err) = run(&path);
    assert!(code == 0 || code == 4, "once exited {code}: {err}");
    assert!(
        err.contains(&format!("log lines go to {}", log.display())),
        "stderr names the file: {err}"
    );
    assert!(!err.contains("INFO"), "no log line on stderr: {err}");
    let first = std::fs::read_to_string(&log).unwrap();
    assert!(
        first.contains("INFO"),
        "the file has the log lines: {first}"
    );
    assert!(!first.contains('\u{1b}'), "no terminal colours in the file");
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "owner-only");
    // A second run appends.
    let (code, _) = run(&path);
    assert!(code == 0 || code == 4);
    let second = std::fs::read_to_string(&log).unwrap();
    assert!(second.len() > first.len() && second.starts_with(&first));
    // A log file where a directory is: stderr says so and gets the log lines.
    std::fs::create_dir_all(dir.path().join("blocked/ballast.log")).unwrap();
    let path = write_config(
        dir.path(),
        &text.replace("logs/ballast.log", "blocked/ballast.log"),
    );
    let (code, err) = run(&path);
    assert!(code == 0 || code == 4, "once exited {code}: {err}");
    assert!(err.contains("cannot write the log file"), "{err}");
    assert!(
        err.contains("INFO"),
        "the log lines fall back to stderr: {err}"
    );
}

/// A position outside its band that does not move says why on the table and in `/status`: here every route's
/// estimated cost is above a zero fee cap, and with the kill switch the moves are held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_says_why_a_position_outside_its_band_does_not_move() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let text = paper_config(&journal, "0.5", "").replace("max_fee_bps = 100", "max_fee_bps = 0");
    assert!(text.contains("max_fee_bps = 0"));
    let path = write_config(dir.path(), &text);
    let mut svc = start(&path).await;
    svc.cycle().await.unwrap();
    let (positions, table) = {
        let s = svc.status.read().unwrap();
        (s.positions.clone(), s.table())
    };
    let still: Vec<_> = positions
        .iter()
        .filter(|p| p.applied == 0.0 && p.commanded > 0.0)
        .collect();
    assert!(
        !still.is_empty(),
        "the paper book starts off target: {table}"
    );
    for p in &still {
        let why = p.why.as_deref().unwrap_or_default();
        assert!(
            why.contains("max_fee_bps 0"),
            "{}/{}: {why:?}\n{table}",
            p.chain,
            p.asset
        );
        assert!(table.contains(why), "{table}");
    }
    // Held by the kill switch: the reason is the hold.
    svc.set_kill(KillState::ReduceOnly, "test: hold", "test")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    svc.cycle().await.unwrap();
    let s = svc.status.read().unwrap();
    let held: Vec<_> = s.positions.iter().filter(|p| p.commanded != 0.0).collect();
    assert!(!held.is_empty());
    for p in held {
        let why = p.why.as_deref().unwrap_or_default();
        assert!(
            why.contains("no new move"),
            "{}/{}: {why:?}",
            p.chain,
            p.asset
        );
    }
}

/// Regression (issue 18): a SIGINT that arrived while the loop body ran (a cycle, a leg round, an HTTP
/// command) was lost, because each turn of the loop made a fresh `ctrl_c()`; only SIGTERM worked. Here the
/// body is kept busy by a stream of `POST /reload` commands (each handled in the loop) while the signal
/// comes: the daemon stops anyway.
#[test]
fn sigint_while_the_loop_is_busy_stops_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &paper_config(&dir.path().join("j.db"), "0.5", ""),
    );
    let port = free_port();
    let mut daemon = spawn_on(dir.path(), &path, port, Some("sigint-test-token"));
    let mut up = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        if http_get(port, "/status").contains("\"cycle\"") {
            up = true;
            break;
        }
    }
    assert!(up, "the daemon answered /status");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::net::TcpStream::connect(("127.0.0.1", port)).map(|mut s| {
                        use std::io::Write;
                        let _ = s.write_all(
                            b"POST /reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sigint-test-token\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                        let _ = s.read_to_end(&mut Vec::new());
                    });
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    unsafe {
        libc_kill(daemon.id() as i32, 2);
    }
    let end = std::time::Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(s) = daemon.try_wait().unwrap() {
            break s.code();
        }
        if std::time::Instant::now() > end {
            let _ = daemon.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in busy {
        b.join().unwrap();
    }
    assert_eq!(
        code,
        Some(0),
        "the daemon stopped cleanly on SIGINT: {}",
        std::fs::read_to_string(dir.path().join("daemon.err")).unwrap_or_default()
    );
}

/// Regression (issue 18): every `GET /pending` made fresh venue and chain reads and advanced the legs inside the
/// daemon loop, so a burst of unauthenticated requests held the cycles (3,000 at 200 concurrency: about 30 s).
/// It is served from the last look now: a burst answers at once, and the cycles go on.
#[test]
fn a_burst_of_pending_requests_does_not_hold_the_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &paper_config(&dir.path().join("j.db"), "0.5", ""),
    );
    let port = free_port();
    let mut daemon = spawn_on(dir.path(), &path, port, None);
    let cycle = || -> Option<u64> {
        let r = http_get(port, "/status");
        let body = r.split("\r\n\r\n").nth(1)?;
        serde_json::from_str::<serde_json::Value>(body).ok()?["cycle"].as_u64()
    };
    let mut first = None;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        if let Some(c) = cycle().filter(|c| *c >= 1)
            && http_get(port, "/pending").starts_with("HTTP/1.1 200")
        {
            first = Some(c);
            break;
        }
    }
    let first = first.expect("the daemon cycles and answers /pending");
    let t0 = std::time::Instant::now();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let answered = answered.clone();
            std::thread::spawn(move || {
                for _ in 0..40 {
                    if http_get(port, "/pending").starts_with("HTTP/1.1 200") {
                        answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let burst = t0.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    let last = cycle().unwrap();
    unsafe {
        libc_kill(daemon.id() as i32, 15);
    }
    let _ = daemon.wait();
    assert_eq!(answered.load(std::sync::atomic::Ordering::Relaxed), 2000);
    // One cycle a second: the burst and the 3 s after it saw their cycles.
    let expected = (burst + Duration::from_secs(3)).as_secs();
    assert!(
        last >= first + expected.saturating_sub(2),
        "cycles went from {first} to {last} over {:.1} s",
        (burst + Duration::from_secs(3)).as_secs_f64()
    );
}

/// `ballast run` on `port`, its output in files under `dir` (a pipe nobody reads would block it).
fn spawn_on(
    dir: &std::path::Path,
    cfg: &std::path::Path,
    port: u16,
    token: Option<&str>,
) -> std::process::Child {
    let mut c = Command::new(bin());
    c.args(["run", "--config"])
        .arg(cfg)
        .args(["--http", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::from(
            std::fs::File::create(dir.join("daemon.out")).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("daemon.err")).unwrap(),
        ));
    if let Some(t) = token {
        c.env("BALLAST_TEST_TOKEN", t);
    }
    c.spawn().unwrap()
}

/// Regression (issue 18): an endpoint beyond loopback is refused unless `http_public = true`, and a public one
/// answers reads only with the token.
#[test]
fn a_public_endpoint_needs_the_token_for_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &paper_config(&dir.path().join("j.db"), "0.5", ""),
    );
    // Beyond loopback without the setting: refused at start.
    let port = free_port();
    let o = Command::new(bin())
        .args(["run", "--config"])
        .arg(&path)
        .args(["--http", &format!("0.0.0.0:{port}"), "--cycles", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("beyond loopback"), "{err}");
    // Public (here on loopback): reads need the token too.
    let text = paper_config(&dir.path().join("j2.db"), "0.5", "")
        .replace("[service]\n", "[service]\nhttp_public = true\n");
    let path = write_config(dir.path(), &text);
    let port = free_port();
    let mut daemon = spawn_on(dir.path(), &path, port, Some("public-test-token"));
    let mut answered = None;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Write;
            let _ = s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if !out.is_empty() {
                answered = Some(out);
                break;
            }
        }
    }
    let plain = answered.expect("the endpoint answers");
    assert!(plain.starts_with("HTTP/1.1 401"), "{plain}");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    {
        use std::io::Write;
        s.write_all(
            b"GET /status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer public-test-token\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    }
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    unsafe {
        libc_kill(daemon.id() as i32, 15);
    }
    let _ = daemon.wait();
}
