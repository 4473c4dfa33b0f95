//! Rate limits (venues.md B6): request weight per IP and order counts per account, counted in fixed windows
//! aligned to the clock (a minute window starts at second 0). The server counts with [`FixedWindow`]s and
//! reports usage in `X-MBX-USED-WEIGHT-1M` / `X-MBX-ORDER-COUNT-10S` / `-1D`; the client reads those headers
//! and the `exchangeInfo.rateLimits` into a [`Tracker`], throttles itself before a limit is hit, and honours
//! `Retry-After` after a 429 or 418.

use reqwest::header::HeaderMap;

use super::wire::RateLimit;
use ballast_core::model::TimestampMs;
use ballast_exec::RateHeadroom;

/// What a budget counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `REQUEST_WEIGHT`, per IP.
    Weight,
    /// `ORDERS`, per account.
    Orders,
    /// `RAW_REQUESTS`, per IP.
    Raw,
}

/// A window length as Binance writes it: `intervalNum` and `SECOND`/`MINUTE`/`HOUR`/`DAY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interval {
    pub num: u32,
    /// `S`, `M`, `H` or `D`.
    pub letter: char,
}

impl Interval {
    pub fn ms(self) -> i64 {
        let unit = match self.letter {
            'S' => 1_000,
            'M' => 60_000,
            'H' => 3_600_000,
            _ => 86_400_000,
        };
        unit * self.num as i64
    }

    /// The header suffix: `1M`, `10S`, `1D`.
    pub fn suffix(self) -> String {
        format!("{}{}", self.num, self.letter)
    }

    pub fn name(self) -> &'static str {
        match self.letter {
            'S' => "SECOND",
            'M' => "MINUTE",
            'H' => "HOUR",
            _ => "DAY",
        }
    }

    fn from_name(name: &str, num: u32) -> Option<Interval> {
        let letter = match name {
            "SECOND" => 'S',
            "MINUTE" => 'M',
            "HOUR" => 'H',
            "DAY" => 'D',
            _ => return None,
        };
        Some(Interval { num, letter })
    }

    /// Parse a header suffix such as `1m` or `10S`.
    fn from_suffix(s: &str) -> Option<Interval> {
        let (num, letter) = s.split_at(s.len().checked_sub(1)?);
        let letter = letter.chars().next()?.to_ascii_uppercase();
        if !matches!(letter, 'S' | 'M' | 'H' | 'D') {
            return None;
        }
        Some(Interval {
            num: num.parse().ok()?,
            letter,
        })
    }
}

/// A counter over fixed windows aligned to multiples of its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedWindow {
    pub interval: Interval,
    pub limit: u64,
    start: TimestampMs,
    used: u64,
}

impl FixedWindow {
    pub fn new(interval: Interval, limit: u64) -> Self {
        FixedWindow {
            interval,
            limit,
            start: 0,
            used: 0,
        }
    }

    fn roll(&mut self, now: TimestampMs) {
        let len = self.interval.ms();
        let start = now.div_euclid(len) * len;
        if start != self.start {
            self.start = start;
            self.used = 0;
        }
    }

    /// Usage in the window containing `now`.
    pub fn used(&mut self, now: TimestampMs) -> u64 {
        self.roll(now);
        self.used
    }

    /// Milliseconds until the window containing `now` ends.
    pub fn remaining_ms(&self, now: TimestampMs) -> u64 {
        let len = self.interval.ms();
        (now.div_euclid(len) * len + len - now).max(1) as u64
    }

    /// Count `n`; returns the new usage, or `Err(ms until the window ends)` when it goes past the limit
    /// (the excess is still counted, as on Binance).
    pub fn add(&mut self, now: TimestampMs, n: u64) -> Result<u64, u64> {
        self.roll(now);
        self.used += n;
        if self.used > self.limit {
            Err(self.remaining_ms(now))
        } else {
            Ok(self.used)
        }
    }

    /// Record a usage reported by the venue at `now`.
    pub fn set(&mut self, now: TimestampMs, used: u64) {
        self.roll(now);
        self.used = used;
    }

    /// Would `n` more fit in the window containing `now`?
    pub fn fits(&mut self, now: TimestampMs, n: u64) -> Result<(), u64> {
        self.roll(now);
        if self.used + n > self.limit {
            Err(self.remaining_ms(now))
        } else {
            Ok(())
        }
    }

    /// Share of the budget left in the window containing `now`.
    pub fn fraction_left(&mut self, now: TimestampMs) -> f64 {
        self.roll(now);
        if self.limit == 0 {
            return 0.0;
        }
        (1.0 - self.used as f64 / self.limit as f64).clamp(0.0, 1.0)
    }
}

/// The `rateLimits` entries of `exchangeInfo` for a set of windows.
pub fn describe(windows: &[(Kind, FixedWindow)]) -> Vec<RateLimit> {
    windows
        .iter()
        .map(|(k, w)| RateLimit {
            rate_limit_type: match k {
                Kind::Weight => "REQUEST_WEIGHT",
                Kind::Orders => "ORDERS",
                Kind::Raw => "RAW_REQUESTS",
            }
            .into(),
            interval: w.interval.name().into(),
            interval_num: w.interval.num,
            limit: w.limit,
        })
        .collect()
}

/// Binance's production defaults, used until `exchangeInfo` says otherwise.
pub fn default_windows() -> Vec<(Kind, FixedWindow)> {
    vec![
        (
            Kind::Weight,
            FixedWindow::new(
                Interval {
                    num: 1,
                    letter: 'M',
                },
                6000,
            ),
        ),
        (
            Kind::Orders,
            FixedWindow::new(
                Interval {
                    num: 10,
                    letter: 'S',
                },
                100,
            ),
        ),
        (
            Kind::Orders,
            FixedWindow::new(
                Interval {
                    num: 1,
                    letter: 'D',
                },
                200_000,
            ),
        ),
        (
            Kind::Raw,
            FixedWindow::new(
                Interval {
                    num: 5,
                    letter: 'M',
                },
                61_000,
            ),
        ),
    ]
}

/// The client's picture of its budgets.
#[derive(Clone, Debug)]
pub struct Tracker {
    windows: Vec<(Kind, FixedWindow)>,
    /// After a 429/418: no request before this time (server clock, ms).
    blocked_until: Option<TimestampMs>,
    /// True after a 418 (IP ban): stop everything until `blocked_until`.
    banned: bool,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            windows: default_windows(),
            blocked_until: None,
            banned: false,
        }
    }
}

impl Tracker {
    /// Take the limits `exchangeInfo` published.
    pub fn set_limits(&mut self, limits: &[RateLimit]) {
        let mut windows = Vec::new();
        for l in limits {
            let kind = match l.rate_limit_type.as_str() {
                "REQUEST_WEIGHT" => Kind::Weight,
                "ORDERS" => Kind::Orders,
                "RAW_REQUESTS" => Kind::Raw,
                _ => continue,
            };
            let Some(iv) = Interval::from_name(&l.interval, l.interval_num) else {
                continue;
            };
            // Keep what was already counted in a window that is still the same.
            let mut w = FixedWindow::new(iv, l.limit);
            if let Some((_, old)) = self
                .windows
                .iter()
                .find(|(k, o)| *k == kind && o.interval == iv)
            {
                w.start = old.start;
                w.used = old.used;
            }
            windows.push((kind, w));
        }
        if !windows.is_empty() {
            self.windows = windows;
        }
    }

    pub fn limits(&self) -> Vec<RateLimit> {
        describe(&self.windows)
    }

    /// Read `X-MBX-USED-WEIGHT-*` and `X-MBX-ORDER-COUNT-*` from a response seen at `now` (server clock).
    pub fn observe(&mut self, headers: &HeaderMap, now: TimestampMs) {
        for (name, value) in headers {
            let n = name.as_str();
            let (kind, suffix) = if let Some(s) = n.strip_prefix("x-mbx-used-weight-") {
                (Kind::Weight, s)
            } else if let Some(s) = n.strip_prefix("x-mbx-order-count-") {
                (Kind::Orders, s)
            } else {
                continue;
            };
            let (Some(iv), Some(used)) = (
                Interval::from_suffix(suffix),
                value
                    .to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok()),
            ) else {
                continue;
            };
            match self
                .windows
                .iter_mut()
                .find(|(k, w)| *k == kind && w.interval == iv)
            {
                Some((_, w)) => w.set(now, used),
                None => {
                    // A window exchangeInfo did not announce: track it with an unknown (infinite) limit.
                    let mut w = FixedWindow::new(iv, u64::MAX);
                    w.set(now, used);
                    self.windows.push((kind, w));
                }
            }
        }
    }

    /// Before sending a request of `weight` (and one order if `order`): `Err(ms)` when it would go past a
    /// limit or the client is in a back-off, so the request is not sent.
    pub fn admit(&mut self, now: TimestampMs, weight: u64, order: bool) -> Result<(), u64> {
        if let Some(until) = self.blocked_until {
            if now < until {
                return Err((until - now) as u64);
            }
            self.blocked_until = None;
            self.banned = false;
        }
        let cost = |k: Kind| match k {
            Kind::Weight => weight,
            Kind::Raw => 1,
            Kind::Orders => u64::from(order),
        };
        let mut wait = 0u64;
        for (k, w) in &mut self.windows {
            if let Err(ms) = w.fits(now, cost(*k)) {
                wait = wait.max(ms);
            }
        }
        if wait > 0 {
            return Err(wait);
        }
        for (k, w) in &mut self.windows {
            let _ = w.add(now, cost(*k));
        }
        Ok(())
    }

    /// A 429 (or a 418 ban): nothing is sent before `now + retry_after_ms`.
    pub fn back_off(&mut self, now: TimestampMs, retry_after_ms: u64, ban: bool) {
        let until = now + retry_after_ms as i64;
        self.blocked_until = Some(self.blocked_until.map_or(until, |u| u.max(until)));
        self.banned |= ban;
    }

    /// Remaining back-off at `now`, if any.
    pub fn blocked_for(&self, now: TimestampMs) -> Option<u64> {
        self.blocked_until
            .filter(|u| *u > now)
            .map(|u| (u - now) as u64)
    }

    pub fn banned(&self) -> bool {
        self.banned
    }

    /// The tightest budget's share left, and when it frees up if exhausted.
    pub fn headroom(&mut self, now: TimestampMs) -> RateHeadroom {
        if let Some(ms) = self.blocked_for(now) {
            return RateHeadroom {
                fraction: 0.0,
                retry_after_ms: Some(ms),
            };
        }
        let mut fraction: f64 = 1.0;
        let mut retry = None;
        for (_, w) in &mut self.windows {
            if w.limit == u64::MAX {
                continue;
            }
            let f = w.fraction_left(now);
            if f < fraction {
                fraction = f;
            }
            if f <= 0.0 {
                let ms = w.remaining_ms(now);
                retry = Some(retry.map_or(ms, |r: u64| r.max(ms)));
            }
        }
        RateHeadroom {
            fraction,
            retry_after_ms: retry,
        }
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn windows_are_fixed_and_aligned() {
        let mut w = FixedWindow::new(
            Interval {
                num: 1,
                letter: 'M',
            },
            10,
        );
        assert_eq!(w.add(60_500, 10), Ok(10));
        assert_eq!(w.add(61_000, 1), Err(59_000));
        // The next minute starts empty.
        assert_eq!(w.add(120_000, 1), Ok(1));
    }

    #[test]
    fn tracker_reads_headers_and_throttles_itself() {
        let mut t = Tracker::default();
        t.set_limits(&[RateLimit {
            rate_limit_type: "REQUEST_WEIGHT".into(),
            interval: "MINUTE".into(),
            interval_num: 1,
            limit: 100,
        }]);
        let mut h = HeaderMap::new();
        h.insert("x-mbx-used-weight-1m", HeaderValue::from_static("95"));
        t.observe(&h, 1_000);
        assert!((t.headroom(1_000).fraction - 0.05).abs() < 1e-9);
        assert_eq!(t.admit(1_000, 10, false), Err(59_000));
        assert_eq!(t.admit(1_000, 5, false), Ok(()));
        // A new minute: the count from the header no longer applies.
        assert_eq!(t.admit(60_000, 10, false), Ok(()));
        t.back_off(60_000, 2_000, false);
        assert_eq!(t.admit(61_000, 1, false), Err(1_000));
        assert_eq!(t.headroom(61_000).retry_after_ms, Some(1_000));
        assert_eq!(t.admit(62_000, 1, false), Ok(()));
    }
}
