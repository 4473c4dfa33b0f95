//! Hyperliquid's price and size rules, and the wire form of decimals.
//!
//! Prices have at most 5 significant figures and at most `8 - szDecimals` decimals on spot (integer prices are
//! always valid); sizes have at most `szDecimals` decimals, where spot uses the *base token's* `szDecimals`.
//! Spot orders must be worth at least 10 units of the quote token. On the wire every decimal is a string with
//! no trailing zeros (`"100"`, never `"100.0"`), because the action is hashed as sent.

use std::str::FromStr;

use rust_decimal::Decimal;

use ballast_exec::{MarketRules, PriceGrid, RuleViolation};

/// Largest number of decimals of a spot price before `szDecimals` is subtracted.
pub const SPOT_MAX_DECIMALS: u32 = 8;
/// Significant figures of a price.
pub const PRICE_SIG_FIGS: u32 = 5;
/// Minimum value of a spot order, in quote-token units.
pub const SPOT_MIN_VALUE: Decimal = Decimal::TEN;

/// The canonical wire form: no trailing zeros, no trailing point, no exponent, `"0"` for zero.
pub fn wire(d: Decimal) -> String {
    ballast_core::model::canonical(d)
}

/// Parse a decimal string as it may appear on the wire: optional `-`, digits, optional fraction.
/// Exponents, blanks and `+` are refused (the venue deserializes a plain decimal).
pub fn parse_wire(s: &str) -> Option<Decimal> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (body.contains('.') && frac.is_empty()) {
        return None;
    }
    Decimal::from_str(s).ok()
}

/// The rules of a spot pair whose base token has `sz_decimals`.
pub fn spot_rules(
    market: &str,
    base: &str,
    quote: &str,
    sz_decimals: u32,
    maker_fee: Decimal,
    taker_fee: Decimal,
) -> MarketRules {
    MarketRules {
        market: market.to_string(),
        base: base.to_string(),
        quote: quote.to_string(),
        grid: PriceGrid::SigFigs {
            sig_figs: PRICE_SIG_FIGS,
            max_decimals: SPOT_MAX_DECIMALS.saturating_sub(sz_decimals),
        },
        lot: Decimal::new(1, sz_decimals),
        min_qty: Decimal::ZERO,
        max_qty: Decimal::ZERO,
        min_notional: SPOT_MIN_VALUE,
        maker_fee,
        taker_fee,
    }
}

/// Why the venue would refuse an order's price or size, as its error strings say it (without the
/// ` asset=N` suffix).
pub fn venue_error_text(v: &RuleViolation, quote: &str) -> String {
    match v {
        RuleViolation::NonPositivePrice(_) | RuleViolation::OffGrid { .. } => {
            "Order has invalid price.".into()
        }
        RuleViolation::OffLot { .. } => "Order has invalid size.".into(),
        RuleViolation::BelowMinQty { .. } => "Order has zero size.".into(),
        RuleViolation::AboveMaxQty { .. } => "Order has invalid size.".into(),
        RuleViolation::BelowMinNotional { min, .. } => {
            format!("Order must have minimum value of {} {quote}.", wire(*min))
        }
    }
}

/// Python SDK's `float_to_int_for_hashing` on an exact decimal: `x * 10^8` as an integer, refused when that
/// drops a fraction of 0.001 or more (the SDK's tolerance).
pub fn int_for_hashing(x: Decimal) -> Result<i128, String> {
    let scaled = x
        .checked_mul(Decimal::from(100_000_000u64))
        .ok_or_else(|| format!("{x} is too large"))?;
    let rounded = scaled.round();
    if (scaled - rounded).abs() >= Decimal::new(1, 3) {
        return Err(format!("{x} has more than 8 decimals"));
    }
    i128::try_from(rounded).map_err(|_| format!("{x} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn wire_form_has_no_trailing_zeros() {
        assert_eq!(wire(d("100.0")), "100");
        assert_eq!(wire(d("0.10")), "0.1");
        assert_eq!(wire(d("-0.0")), "0");
        assert_eq!(wire(d("0.00076000")), "0.00076");
        assert_eq!(wire(d("987654321.0")), "987654321");
        assert_eq!(wire(d("87654321.12345678")), "87654321.12345678");
        assert_eq!(wire(d("1670.1")), "1670.1");
    }

    #[test]
    fn wire_parsing_is_strict() {
        assert_eq!(parse_wire("100.0"), Some(d("100")));
        assert_eq!(parse_wire("-1.5"), Some(d("-1.5")));
        for bad in ["", "1e3", " 1", "+1", ".5", "1.", "0x10", "1.2.3", "NaN"] {
            assert_eq!(parse_wire(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn official_int_for_hashing_vectors() {
        assert_eq!(int_for_hashing(d("123123123123")), Ok(12312312312300000000));
        assert_eq!(int_for_hashing(d("0.00001231")), Ok(1231));
        assert_eq!(int_for_hashing(d("1.033")), Ok(103300000));
        assert!(int_for_hashing(d("0.000012312312")).is_err());
        assert_eq!(int_for_hashing(d("1000")), Ok(100000000000));
    }

    #[test]
    fn spot_rules_follow_the_base_token_decimals() {
        let r = spot_rules(
            "USDT0/USDC",
            "USDT0",
            "USDC",
            2,
            Decimal::ZERO,
            Decimal::ZERO,
        );
        assert!(r.price_on_grid(d("0.99985")));
        assert!(!r.price_on_grid(d("1.00005")));
        assert!(r.price_on_grid(d("123456")));
        assert_eq!(r.lot, d("0.01"));
        let v = r.check(d("1"), d("9.99")).unwrap_err();
        assert_eq!(
            venue_error_text(&v, "USDC"),
            "Order must have minimum value of 10 USDC."
        );
        let v = r.check(d("1.00005"), d("20")).unwrap_err();
        assert_eq!(venue_error_text(&v, "USDC"), "Order has invalid price.");
    }
}
