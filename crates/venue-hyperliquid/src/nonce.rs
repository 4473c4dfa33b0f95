//! Nonces, on both sides of the wire.
//!
//! The client takes each request's nonce from one atomic counter per signing key, fast-forwarded to the
//! current time in ms: strictly increasing across every task and every client object in the process that
//! signs with that key, and never further from the clock than the burst of requests requires.
//!
//! The venue (and the local server) keeps the 100 highest nonces per signer: a new nonce must lie within
//! `(now - 2 days, now + 1 day)`, must not be in the set, and must be above the smallest of the set once the
//! set is full.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use alloy::primitives::Address;

/// A strictly increasing nonce source for one signing key.
#[derive(Debug, Default)]
pub struct NonceSource(AtomicU64);

impl NonceSource {
    /// The next nonce: `max(last + 1, now_ms)`.
    pub fn next(&self, now_ms: u64) -> u64 {
        let mut last = self.0.load(Ordering::Relaxed);
        loop {
            let n = (last + 1).max(now_ms);
            match self
                .0
                .compare_exchange_weak(last, n, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return n,
                Err(seen) => last = seen,
            }
        }
    }

    /// The last nonce handed out (0 before the first).
    pub fn last(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// The process-wide nonce source of a signing key: every client signing with the same key shares it.
pub fn for_signer(signer: Address) -> Arc<NonceSource> {
    static SOURCES: OnceLock<Mutex<HashMap<Address, Arc<NonceSource>>>> = OnceLock::new();
    let mut m = SOURCES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    m.entry(signer).or_default().clone()
}

/// How many nonces the venue remembers per signer.
pub const KEPT_NONCES: usize = 100;
/// A nonce may be at most this far in the past...
pub const NONCE_PAST_MS: u64 = 2 * 24 * 3600 * 1000;
/// ...and at most this far in the future.
pub const NONCE_FUTURE_MS: u64 = 24 * 3600 * 1000;

/// The venue's record of one signer's nonces.
#[derive(Debug, Default, Clone)]
pub struct NonceSet {
    kept: BTreeSet<u64>,
}

impl NonceSet {
    /// Accept and record `nonce` at time `now_ms`, or say why not (in the venue's words).
    pub fn accept(&mut self, nonce: u64, now_ms: u64) -> Result<(), String> {
        if nonce <= now_ms.saturating_sub(NONCE_PAST_MS) || nonce >= now_ms + NONCE_FUTURE_MS {
            return Err(format!(
                "Invalid nonce: nonce {nonce} is outside the allowed window around {now_ms}"
            ));
        }
        if self.kept.contains(&nonce) {
            return Err(format!("Invalid nonce: duplicate nonce {nonce}"));
        }
        if self.kept.len() >= KEPT_NONCES {
            let floor = *self.kept.first().expect("the set is full");
            if nonce <= floor {
                return Err(format!("Invalid nonce: nonce too low {nonce} < {floor}"));
            }
            self.kept.pop_first();
        }
        self.kept.insert(nonce);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nonces_follow_the_clock_and_never_repeat() {
        let s = NonceSource::default();
        assert_eq!(s.next(1000), 1000);
        assert_eq!(s.next(1000), 1001);
        assert_eq!(s.next(900), 1002);
        assert_eq!(s.next(5000), 5000);
    }

    #[test]
    fn one_source_per_key_across_threads() {
        let k = Address::repeat_byte(0x42);
        let a = for_signer(k);
        let b = for_signer(k);
        assert!(Arc::ptr_eq(&a, &b));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = for_signer(k);
                std::thread::spawn(move || (0..2000).map(|_| s.next(7)).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "every nonce is unique");
    }

    #[test]
    fn the_venue_keeps_the_highest_hundred() {
        let now = 1_700_000_000_000u64;
        let mut set = NonceSet::default();
        for i in 0..100 {
            set.accept(now + i, now).unwrap();
        }
        assert_eq!(
            set.accept(now + 5, now).unwrap_err(),
            format!("Invalid nonce: duplicate nonce {}", now + 5)
        );
        // Full: anything at or below the smallest kept is too low, even if never used.
        assert!(set.accept(now - 1, now).unwrap_err().contains("too low"));
        set.accept(now + 500, now).unwrap();
        // The smallest was evicted: now + 0 is below the floor.
        assert!(set.accept(now, now).is_err());
        // Out-of-order within the kept range is fine.
        set.accept(now + 300, now).unwrap();
        assert!(
            set.accept(now - NONCE_PAST_MS, now)
                .unwrap_err()
                .contains("window")
        );
        assert!(
            set.accept(now + NONCE_FUTURE_MS, now)
                .unwrap_err()
                .contains("window")
        );
    }

    proptest! {
        #[test]
        fn prop_accepted_nonces_are_unique(ns in proptest::collection::vec(0u64..300, 1..400)) {
            let now = 1_000_000_000u64;
            let mut set = NonceSet::default();
            let mut accepted = Vec::new();
            for n in ns {
                if set.accept(now + n, now).is_ok() {
                    prop_assert!(!accepted.contains(&n));
                    accepted.push(n);
                }
            }
        }
    }
}
