//! Domain vocabulary shared by every module: positions, sides, money helpers and durations.
//!
//! Money (amounts, prices, values) is always [`Decimal`]. The control math converts to `f64` on normalised
//! values and back at the edge; the helpers for that live here so the conversions are done one way everywhere.

use std::fmt;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch. The pure core never reads a clock: callers pass this in.
pub type TimestampMs = i64;

/// One (chain, asset) inventory position, e.g. `arbitrum/USDC`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PositionKey {
    pub chain: String,
    pub asset: String,
}

impl PositionKey {
    pub fn new(chain: impl Into<String>, asset: impl Into<String>) -> Self {
        Self {
            chain: chain.into(),
            asset: asset.into(),
        }
    }
}

impl fmt::Display for PositionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.chain, self.asset)
    }
}

/// Side of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// +1 for a buy, -1 for a sell.
    pub fn sign(self) -> i32 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        })
    }
}

impl std::str::FromStr for Side {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "buy" | "b" | "bid" => Ok(Side::Buy),
            "sell" | "s" | "a" | "ask" => Ok(Side::Sell),
            other => Err(format!("unknown side {other:?} (expected buy or sell)")),
        }
    }
}

/// Powers of ten as f64, exact up to 1e22 (a table lookup instead of a `powi` library call on hot paths).
pub(crate) const POW10: [f64; 29] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28,
];

/// 10^dp as f64 (`dp` up to 28, the most a Decimal carries).
#[inline]
pub(crate) fn pow10_f64(dp: u32) -> f64 {
    POW10
        .get(dp as usize)
        .copied()
        .unwrap_or_else(|| 10f64.powi(dp as i32))
}

/// `x` rounded half away from zero to an integer, for |x| < 2^63 (callers check). Integer conversions
/// instead of `f64::round`, which is a library call on baseline x86-64.
#[inline]
pub(crate) fn round_i64(x: f64) -> i64 {
    let t = x as i64; // truncates toward zero
    let frac = x - t as f64; // exact for |x| < 2^52; 0 beyond (where x is already an integer)
    if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    }
}

/// Decimal to f64 for the control math. Values that do not fit become NaN, which the controller treats as
/// bad data (it holds and says why) rather than a number.
#[inline]
pub fn to_f64(d: Decimal) -> f64 {
    mantissa_to_f64(d.mantissa(), d.scale())
}

/// `m / 10^scale` as f64, for a decimal's mantissa (|m| < 2^96) and scale (at most 28): what [`to_f64`]
/// computes.
#[inline]
pub(crate) fn mantissa_to_f64(m: i128, scale: u32) -> f64 {
    // mantissa / 10^scale in one float division: within an ulp of the exact value, and an order of magnitude
    // faster than the exact conversion (which divides in u128).
    // Most mantissas fit in 64 bits, whose conversion is one instruction (i128's is a library call).
    let mf = if let Ok(m64) = i64::try_from(m) {
        m64 as f64
    } else {
        // Two 64-bit halves (|m| < 2^96): within an ulp, without the i128 library call.
        ((m >> 64) as i64 as f64) * 18_446_744_073_709_551_616.0 + (m as u64) as f64
    };
    mf / POW10[scale as usize]
}

/// f64 back to Decimal at the edge. Non-finite input gives `None`; the value is rounded to 12 decimal places,
/// far below any venue or token grid, so the float noise never reaches an order.
#[inline]
pub fn from_f64(x: f64) -> Option<Decimal> {
    if !x.is_finite() {
        return None;
    }
    Decimal::from_f64(x).map(|d| d.round_dp(12).normalize())
}

/// f64 to Decimal with `dp` decimal places, fast (integer arithmetic) for values that fit; the exact path
/// otherwise. For simulated quantities and prices where an error in the last place does not matter.
#[inline]
pub fn dec_dp(x: f64, dp: u32) -> Decimal {
    let scaled = x * pow10_f64(dp);
    if scaled.is_finite() && scaled.abs() < 9.0e18 {
        Decimal::new(round_i64(scaled), dp)
    } else {
        from_f64(x).map(|d| d.round_dp(dp)).unwrap_or_default()
    }
}

/// Round an amount down (toward zero) to `decimals` places: what is sent never exceeds what was sized.
pub fn floor_dp(d: Decimal, decimals: u32) -> Decimal {
    d.round_dp_with_strategy(decimals, rust_decimal::RoundingStrategy::ToZero)
}

/// Render a decimal without trailing zeros (`"100"`, `"0.5"`), the canonical form used in JSON output.
pub fn canonical(d: Decimal) -> String {
    let n = d.normalize();
    if n.is_zero() {
        "0".to_string()
    } else {
        n.to_string()
    }
}

/// Parse a human duration: `250ms`, `30s`, `5m`, `1h`, `1d`, or combinations like `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total_ms: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "{s:?} is not a duration (expected e.g. 30s, 5m, 1h, 250ms)"
            ));
        }
        let n: u128 = rest[..digits]
            .parse()
            .map_err(|_| format!("{s:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let mult: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("{s:?}: missing unit (ms, s, m, h or d)")),
            u => {
                return Err(format!(
                    "{s:?}: unknown unit {u:?} (expected ms, s, m, h or d)"
                ));
            }
        };
        total_ms = total_ms.saturating_add(n.saturating_mul(mult));
    }
    u64::try_from(total_ms)
        .map(Duration::from_millis)
        .map_err(|_| format!("{s:?}: duration too large"))
}

/// Format a duration the way [`parse_duration`] reads it.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    for (unit, len) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms.is_multiple_of(len) {
            return format!("{}{}", ms / len, unit);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m5").is_err());
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn decimal_helpers() {
        let d = Decimal::from_str("1.239999").unwrap();
        assert_eq!(floor_dp(d, 2), Decimal::from_str("1.23").unwrap());
        assert_eq!(canonical(Decimal::from_str("100.000").unwrap()), "100");
        assert_eq!(canonical(Decimal::from_str("-0.0").unwrap()), "0");
        assert_eq!(
            from_f64(0.1 + 0.2).unwrap(),
            Decimal::from_str("0.3").unwrap()
        );
        assert!(from_f64(f64::NAN).is_none());
        assert_eq!(to_f64(Decimal::from_str("2.5").unwrap()), 2.5);
    }

    proptest::proptest! {
        /// The fast conversion is within a few ulps of the exact one, for mantissas of every width (the
        /// 64-bit path and the two-halves path) and both signs.
        #[test]
        fn to_f64_matches_the_exact_conversion(hi in 0u32..u32::MAX, mid in proptest::num::u64::ANY, scale in 0u32..=28, neg: bool) {
            let wide = (u128::from(hi) << 64) | u128::from(mid);
            for m in [wide, u128::from(mid), u128::from(mid >> 20)] {
                let lo = m as u32;
                let mi = (m >> 32) as u32;
                let h = (m >> 64) as u32;
                let d = Decimal::from_parts(lo, mi, h, neg, scale);
                let exact = rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap();
                let fast = to_f64(d);
                let tol = exact.abs() * 4.0 * f64::EPSILON;
                proptest::prop_assert!((fast - exact).abs() <= tol, "{d}: {fast} vs {exact}");
            }
        }

        /// The integer rounding agrees with `f64::round` (half away from zero) below 2^62, including exact
        /// halves and values that are already integers.
        #[test]
        fn round_i64_matches_f64_round(x in -4.0e18f64..4.0e18, small in -1.0e6f64..1.0e6, k in -1_000_000i64..1_000_000) {
            for v in [x, small, k as f64 + 0.5, k as f64 - 0.5, k as f64] {
                proptest::prop_assert_eq!(round_i64(v), v.round() as i64, "{}", v);
            }
        }

        /// `dec_dp` gives the value rounded to `dp` places: within half a unit of the last place (plus float
        /// noise) of the exact decimal.
        #[test]
        fn dec_dp_rounds_to_the_grid(x in -1.0e9f64..1.0e9, dp in 0u32..=8) {
            let d = dec_dp(x, dp);
            proptest::prop_assert_eq!(d.scale(), dp);
            let err = (to_f64(d) - x).abs();
            proptest::prop_assert!(err <= 0.5 / pow10_f64(dp) + x.abs() * 1e-15, "{x} {dp} -> {d}");
        }
    }

    #[test]
    fn sides() {
        assert_eq!(Side::from_str("SELL").unwrap(), Side::Sell);
        assert_eq!(Side::Buy.opposite(), Side::Sell);
        assert_eq!(Side::Sell.sign(), -1);
    }
}
