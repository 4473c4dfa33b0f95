//! Time for the edges. The pure core never reads a clock; the I/O layer takes its time from a [`Clock`], so
//! tests and backtests can drive it by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use ballast_core::model::TimestampMs;

/// A source of the current time in unix milliseconds.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> TimestampMs;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> TimestampMs {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock moved by hand (tests, simulations). Cloning shares the time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: TimestampMs) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start)))
    }

    pub fn set(&self, t: TimestampMs) {
        self.0.store(t, Ordering::SeqCst);
    }

    pub fn advance(&self, ms: i64) -> TimestampMs {
        self.0.fetch_add(ms, Ordering::SeqCst) + ms
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> TimestampMs {
        self.0.load(Ordering::SeqCst)
    }
}

/// A clock that follows tokio's time (so `#[tokio::test(start_paused = true)]` tests run in virtual time),
/// anchored at a wall-clock epoch when it is created.
#[derive(Clone, Debug)]
pub struct TokioClock {
    start: tokio::time::Instant,
    epoch_ms: TimestampMs,
}

impl TokioClock {
    pub fn new(epoch_ms: TimestampMs) -> Self {
        TokioClock {
            start: tokio::time::Instant::now(),
            epoch_ms,
        }
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> TimestampMs {
        self.epoch_ms + self.start.elapsed().as_millis() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_by_clones() {
        let c = ManualClock::new(1000);
        let d = c.clone();
        assert_eq!(c.advance(500), 1500);
        assert_eq!(d.now_ms(), 1500);
        d.set(7);
        assert_eq!(c.now_ms(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let c = TokioClock::new(1_000_000);
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        assert_eq!(c.now_ms(), 1_060_000);
    }
}
