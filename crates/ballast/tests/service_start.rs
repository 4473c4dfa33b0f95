//! Starting the service (regressions from issue 18): paper mode checks its inputs before it replaces the
//! previous run's journal; `--wait-for-lease` waits in paper mode too; a start that fails after taking the
//! lease gives it back.

mod service_support;

use std::sync::Arc;
use std::time::Duration;

use ballast_config::Config;
use ballast_exec::{Clock, SystemClock};
use ballast_service::{LEASE, Service, StartOptions};
use ballast_store::Journal;
use service_support::*;

fn opts(owner: &str, wait: Duration) -> StartOptions {
    StartOptions {
        owner: owner.into(),
        wait_for_lease: wait,
    }
}

async fn start_as(cfg: &std::path::Path, o: StartOptions) -> Result<Service, String> {
    logs();
    let cfg = Config::load(cfg).map_err(|e| e.to_string())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Service::start(cfg, clock, o)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper_start_with_bad_inputs_keeps_the_previous_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let good = paper_config(&journal, "0.5", "");
    let path = write_config(dir.path(), &good);
    let mut svc = start(&path).await;
    svc.cycle().await.unwrap();
    svc.shutdown().await;
    let rows = Journal::open(&journal)
        .unwrap()
        .audit_since(0, 100_000)
        .unwrap()
        .len();
    assert!(rows > 0);
    // The flows directory does not exist: the start fails, and the journal is the one it found.
    let bad = good.replace("[paper]\n", "[paper]\nflows = \"data/nope\"\n");
    assert_ne!(bad, good);
    let path = write_config(dir.path(), &bad);
    let e = start_as(&path, opts("second", Duration::ZERO))
        .await
        .err()
        .unwrap();
    assert!(e.contains("flows"), "{e}");
    let after = Journal::open(&journal)
        .unwrap()
        .audit_since(0, 100_000)
        .unwrap()
        .len();
    assert_eq!(after, rows, "the previous run's journal is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_lease_waits_in_paper_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &paper_config(&dir.path().join("j.db"), "0.5", ""),
    );
    let first = start(&path).await;
    // Without waiting, the second start is refused at once.
    let e = start_as(&path, opts("second", Duration::ZERO))
        .await
        .err()
        .unwrap();
    assert!(e.contains("lease"), "{e}");
    // With a wait, it takes over once the first stops (a second later).
    let t0 = std::time::Instant::now();
    let (second, ()) = tokio::join!(
        start_as(&path, opts("third", Duration::from_secs(20))),
        async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            first.shutdown().await;
        }
    );
    let svc = second.expect("the waiting start takes over");
    assert!(t0.elapsed() >= Duration::from_secs(1), "it waited");
    assert_eq!(svc.lease().owner, "third");
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_fails_after_the_lease_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    // A route through a market the paper venue does not simulate: refused while connecting the world,
    // after the lease was taken.
    let text = paper_config(&journal, "0.5", "")
        + "\n[[route]]\nvenue = \"bn_b\"\nfrom = { chain = \"eth\", asset = \"USDC\" }\nto = { chain = \"eth\", asset = \"USDT\" }\nmarket = \"BTCUSDT\"\n";
    let path = write_config(dir.path(), &text);
    let e = start_as(&path, opts("first", Duration::ZERO))
        .await
        .err()
        .unwrap();
    assert!(e.contains("BTCUSDT"), "{e}");
    let j = Journal::open(&journal).unwrap();
    let l = j
        .current_lease(LEASE)
        .unwrap()
        .expect("the lease was taken");
    let now = SystemClock.now_ms();
    assert!(
        l.expires_ms <= now,
        "the lease was given back ({} > {now})",
        l.expires_ms
    );
}
