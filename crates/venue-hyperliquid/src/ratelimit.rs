//! Hyperliquid's rate limits, modelled on the client and enforced by the local server.
//!
//! - **Per IP**: a weight of 1200 per minute. An `/exchange` request weighs `1 + floor(n / 40)` for a batch
//!   of n; `/info` requests weigh 2 (`l2Book`, `allMids`, `clearinghouseState`, `orderStatus`,
//!   `spotClearinghouseState`, `exchangeStatus`), 60 (`userRole`) or 20 (the rest), plus 1 per 20 items
//!   returned by the fill and history requests.
//! - **Per address** (actions only): 10000 requests plus 1 per USDC of cumulative traded volume; a batch of n
//!   counts n; cancels may go to `min(cap + 100000, 2 * cap)`; once exhausted, 1 request per 10 s. The venue
//!   reports it through `userRateLimit`.

use std::collections::VecDeque;

use ballast_core::model::TimestampMs;
use ballast_exec::RateHeadroom;

/// IP weight budget per minute.
pub const IP_WEIGHT_PER_MINUTE: u32 = 1200;
/// Requests every address starts with.
pub const ADDRESS_INITIAL_BUFFER: u64 = 10_000;
/// Once the address budget is spent, one request per this many ms.
pub const ADDRESS_THROTTLED_INTERVAL_MS: i64 = 10_000;
const MINUTE_MS: i64 = 60_000;

/// Weight of an `/exchange` request carrying a batch of `batch_len`.
pub fn exchange_weight(batch_len: usize) -> u32 {
    1 + (batch_len / 40) as u32
}

/// Base weight of an `/info` request by its `type`.
pub fn info_weight(request_type: &str) -> u32 {
    match request_type {
        "l2Book"
        | "allMids"
        | "clearinghouseState"
        | "orderStatus"
        | "spotClearinghouseState"
        | "exchangeStatus" => 2,
        "userRole" => 60,
        _ => 20,
    }
}

/// Extra weight of an `/info` response by the number of items it returned.
pub fn info_items_weight(request_type: &str, items: usize) -> u32 {
    match request_type {
        "userFills"
        | "userFillsByTime"
        | "historicalOrders"
        | "recentTrades"
        | "fundingHistory"
        | "userFunding"
        | "userNonFundingLedgerUpdates" => (items / 20) as u32,
        "candleSnapshot" => (items / 60) as u32,
        _ => 0,
    }
}

/// The address budget cap for a cumulative traded volume (USDC).
pub fn address_cap(cum_volume: rust_decimal::Decimal) -> u64 {
    use rust_decimal::prelude::ToPrimitive;
    ADDRESS_INITIAL_BUFFER + cum_volume.floor().to_u64().unwrap_or(u64::MAX / 2)
}

/// The larger cap cancels get.
pub fn cancel_cap(cap: u64) -> u64 {
    (cap + 100_000).min(cap * 2)
}

/// Weights spent over a sliding minute.
#[derive(Debug, Clone)]
pub struct WeightWindow {
    limit: u32,
    entries: VecDeque<(TimestampMs, u32)>,
    used: u32,
}

impl WeightWindow {
    pub fn new(limit: u32) -> Self {
        WeightWindow {
            limit,
            entries: VecDeque::new(),
            used: 0,
        }
    }

    fn expire(&mut self, now: TimestampMs) {
        while let Some(&(t, w)) = self.entries.front() {
            if t + MINUTE_MS > now {
                break;
            }
            self.used -= w;
            self.entries.pop_front();
        }
    }

    /// Take `weight` now, or say in how many ms enough weight frees up.
    pub fn try_take(&mut self, now: TimestampMs, weight: u32) -> Result<(), u64> {
        self.expire(now);
        if self.used + weight <= self.limit {
            self.add(now, weight);
            return Ok(());
        }
        // Free entries in order until the weight fits.
        let mut freed = 0;
        for &(t, w) in &self.entries {
            freed += w;
            if self.used - freed + weight <= self.limit {
                return Err((t + MINUTE_MS - now).max(1) as u64);
            }
        }
        Err(MINUTE_MS as u64)
    }

    /// Count weight that was spent regardless (e.g. the per-item weight known after a response).
    pub fn add(&mut self, now: TimestampMs, weight: u32) {
        if weight == 0 {
            return;
        }
        self.used += weight;
        self.entries.push_back((now, weight));
    }

    pub fn used(&mut self, now: TimestampMs) -> u32 {
        self.expire(now);
        self.used
    }

    /// Share of the budget still free.
    pub fn fraction(&mut self, now: TimestampMs) -> f64 {
        let used = self.used(now);
        (1.0 - used as f64 / self.limit.max(1) as f64).clamp(0.0, 1.0)
    }

    /// When the oldest weight leaves the window.
    pub fn next_release(&mut self, now: TimestampMs) -> Option<u64> {
        self.expire(now);
        self.entries
            .front()
            .map(|&(t, _)| (t + MINUTE_MS - now).max(1) as u64)
    }
}

/// The per-address action budget: last read from `userRateLimit`, counted locally in between.
#[derive(Debug, Clone, Default)]
pub struct AddressBudget {
    cap: u64,
    used: u64,
    known: bool,
    last_throttled: Option<TimestampMs>,
}

impl AddressBudget {
    /// Replace the model with what the venue reported.
    pub fn update(&mut self, used: u64, cap: u64) {
        self.used = used;
        self.cap = cap;
        self.known = true;
    }

    /// Count `n` requests sent.
    pub fn spend(&mut self, n: u64) {
        self.used += n;
    }

    pub fn is_known(&self) -> bool {
        self.known
    }

    /// May `n` more requests go out now? Exhausted budgets allow one request per 10 s.
    pub fn check(&mut self, now: TimestampMs, n: u64, cancel: bool) -> Result<(), u64> {
        if !self.known {
            return Ok(());
        }
        let cap = if cancel {
            cancel_cap(self.cap)
        } else {
            self.cap
        };
        if self.used + n <= cap {
            return Ok(());
        }
        match self.last_throttled {
            Some(t) if now - t < ADDRESS_THROTTLED_INTERVAL_MS => {
                Err((t + ADDRESS_THROTTLED_INTERVAL_MS - now) as u64)
            }
            _ => {
                self.last_throttled = Some(now);
                Ok(())
            }
        }
    }

    /// Share of the budget still free (1.0 while unknown).
    pub fn fraction(&self) -> f64 {
        if !self.known || self.cap == 0 {
            return if self.known { 0.0 } else { 1.0 };
        }
        (1.0 - self.used as f64 / self.cap as f64).clamp(0.0, 1.0)
    }
}

/// The client's model of both budgets.
#[derive(Debug)]
pub struct RateModel {
    ip: std::sync::Mutex<WeightWindow>,
    address: std::sync::Mutex<AddressBudget>,
}

impl Default for RateModel {
    fn default() -> Self {
        Self::new(IP_WEIGHT_PER_MINUTE)
    }
}

impl RateModel {
    pub fn new(ip_weight_per_minute: u32) -> Self {
        RateModel {
            ip: std::sync::Mutex::new(WeightWindow::new(ip_weight_per_minute)),
            address: std::sync::Mutex::new(AddressBudget::default()),
        }
    }

    fn ip(&self) -> std::sync::MutexGuard<'_, WeightWindow> {
        self.ip.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn addr(&self) -> std::sync::MutexGuard<'_, AddressBudget> {
        self.address.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Before an `/info` request.
    pub fn before_info(&self, now: TimestampMs, request_type: &str) -> Result<(), u64> {
        self.ip().try_take(now, info_weight(request_type))
    }

    /// After an `/info` response with `items` elements.
    pub fn after_info(&self, now: TimestampMs, request_type: &str, items: usize) {
        self.ip().add(now, info_items_weight(request_type, items));
    }

    /// Before an action of `batch_len` items (both budgets).
    pub fn before_action(
        &self,
        now: TimestampMs,
        batch_len: usize,
        cancel: bool,
    ) -> Result<(), u64> {
        self.addr().check(now, batch_len as u64, cancel)?;
        self.ip().try_take(now, exchange_weight(batch_len))?;
        self.addr().spend(batch_len as u64);
        Ok(())
    }

    /// What `userRateLimit` said.
    pub fn update_address(&self, used: u64, cap: u64) {
        self.addr().update(used, cap);
    }

    pub fn address_known(&self) -> bool {
        self.addr().is_known()
    }

    /// The tighter of the two budgets.
    pub fn headroom(&self, now: TimestampMs) -> RateHeadroom {
        let mut ip = self.ip();
        let ip_frac = ip.fraction(now);
        let addr_frac = self.addr().fraction();
        let fraction = ip_frac.min(addr_frac);
        let retry_after_ms = if ip_frac <= 0.0 {
            ip.next_release(now)
        } else if addr_frac <= 0.0 {
            Some(ADDRESS_THROTTLED_INTERVAL_MS as u64)
        } else {
            None
        };
        RateHeadroom {
            fraction,
            retry_after_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_docs() {
        assert_eq!(exchange_weight(1), 1);
        assert_eq!(exchange_weight(39), 1);
        assert_eq!(exchange_weight(40), 2);
        assert_eq!(exchange_weight(85), 3);
        assert_eq!(info_weight("l2Book"), 2);
        assert_eq!(info_weight("orderStatus"), 2);
        assert_eq!(info_weight("userRole"), 60);
        assert_eq!(info_weight("spotMeta"), 20);
        assert_eq!(info_items_weight("userFills", 45), 2);
        assert_eq!(info_items_weight("l2Book", 45), 0);
        assert_eq!(cancel_cap(10_000), 20_000);
        assert_eq!(cancel_cap(1_000_000), 1_100_000);
    }

    #[test]
    fn the_window_slides() {
        let mut w = WeightWindow::new(100);
        assert!(w.try_take(0, 60).is_ok());
        assert!(w.try_take(10_000, 40).is_ok());
        // Full: 1 more frees when the first entry leaves at 60 s.
        assert_eq!(w.try_take(20_000, 1), Err(40_000));
        assert!(w.fraction(20_000) < 1e-9);
        assert!(w.try_take(60_000, 50).is_ok());
        assert_eq!(w.used(60_000), 90);
    }

    #[test]
    fn an_exhausted_address_gets_one_request_per_ten_seconds() {
        let mut b = AddressBudget::default();
        assert!(
            b.check(0, 1_000_000, false).is_ok(),
            "unknown budget is not blocked"
        );
        b.update(10_000, 10_000);
        assert!(b.check(0, 1, false).is_ok());
        assert_eq!(b.check(1000, 1, false), Err(9000));
        assert!(b.check(1000, 1, true).is_ok(), "cancels have a larger cap");
        assert!(b.check(10_000, 1, false).is_ok());
        assert_eq!(b.fraction(), 0.0);
    }

    #[test]
    fn headroom_is_the_tighter_budget() {
        let m = RateModel::new(1000);
        assert_eq!(m.headroom(0).fraction, 1.0);
        m.before_info(0, "spotMeta").unwrap();
        assert!((m.headroom(0).fraction - 0.98).abs() < 1e-9);
        m.update_address(9_000, 10_000);
        assert!((m.headroom(0).fraction - 0.1).abs() < 1e-9);
        m.before_action(0, 40, false).unwrap();
        assert!((m.headroom(0).fraction - 0.096).abs() < 1e-9);
    }
}
