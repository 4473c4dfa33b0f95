//! Market rules: the price and size grid of a venue's market, its minimum order value and fees, and exact
//! rounding onto that grid.
//!
//! Hyperliquid spot prices have at most 5 significant figures and at most `8 - szDecimals` decimals (integer
//! prices are always allowed); Binance prices are multiples of `tickSize`. Sizes are multiples of a lot
//! (`10^-szDecimals` on Hyperliquid, `stepSize` on Binance). All arithmetic is exact (`Decimal`).

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::model::Side;

/// How a venue's price grid is defined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PriceGrid {
    /// Multiples of a tick (Binance `PRICE_FILTER.tickSize`).
    Tick { tick: Decimal },
    /// At most `sig_figs` significant figures and at most `max_decimals` decimals; integers always valid
    /// (Hyperliquid: 5 and `8 - szDecimals` on spot, `6 - szDecimals` on perps).
    SigFigs { sig_figs: u32, max_decimals: u32 },
}

/// Which way to round a price that is off the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toward {
    /// Away from the other side of the book: down for a buy, up for a sell (a passive quote never becomes
    /// more aggressive by rounding).
    Passive,
    /// Toward the other side: up for a buy, down for a sell.
    Aggressive,
}

/// The rules of one market.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketRules {
    /// Venue symbol, e.g. `USDCUSDT` (Binance) or `USDT0/USDC` (Hyperliquid).
    pub market: String,
    pub base: String,
    pub quote: String,
    pub grid: PriceGrid,
    /// Size step (lot).
    pub lot: Decimal,
    pub min_qty: Decimal,
    /// 0 for no maximum.
    pub max_qty: Decimal,
    /// Minimum price x quantity, in quote units.
    pub min_notional: Decimal,
    /// Fee rates (0.0001 = 1 bp). Negative maker fees are rebates.
    pub maker_fee: Decimal,
    pub taker_fee: Decimal,
}

/// Why an order does not fit a market's rules.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    #[error("price {0} is not positive")]
    NonPositivePrice(Decimal),
    #[error("price {price} is off the grid ({grid})")]
    OffGrid { price: Decimal, grid: String },
    #[error("size {qty} is not a multiple of the lot {lot}")]
    OffLot { qty: Decimal, lot: Decimal },
    #[error("size {qty} is below the minimum {min}")]
    BelowMinQty { qty: Decimal, min: Decimal },
    #[error("size {qty} is above the maximum {max}")]
    AboveMaxQty { qty: Decimal, max: Decimal },
    #[error("order value {value} is below the minimum {min}")]
    BelowMinNotional { value: Decimal, min: Decimal },
}

impl MarketRules {
    /// Is this price on the grid?
    pub fn price_on_grid(&self, price: Decimal) -> bool {
        price > Decimal::ZERO && self.round_price(price, Side::Buy, Toward::Passive) == price
    }

    /// Round a price onto the grid for an order on `side`.
    pub fn round_price(&self, price: Decimal, side: Side, toward: Toward) -> Decimal {
        // Buy+Passive and Sell+Aggressive round down; the others up.
        let down = matches!(
            (side, toward),
            (Side::Buy, Toward::Passive) | (Side::Sell, Toward::Aggressive)
        );
        let r = match &self.grid {
            PriceGrid::Tick { tick } => round_to_step(price, *tick, down),
            PriceGrid::SigFigs {
                sig_figs,
                max_decimals,
            } => round_sig_figs(price, *sig_figs, *max_decimals, down),
        };
        r.normalize()
    }

    /// The next grid price strictly beyond `price` in the given direction (`up` = higher).
    pub fn next_price(&self, price: Decimal, up: bool) -> Decimal {
        let p = self.round_price(
            price,
            if up { Side::Sell } else { Side::Buy },
            Toward::Passive,
        );
        if p != price.normalize() {
            return p;
        }
        match &self.grid {
            PriceGrid::Tick { tick } => {
                if up {
                    p + tick
                } else {
                    (p - tick).max(*tick)
                }
            }
            PriceGrid::SigFigs {
                sig_figs,
                max_decimals,
            } => {
                let step = sig_fig_step(p, *sig_figs, *max_decimals, up);
                let n = if up { p + step } else { p - step };
                self.round_price(n, if up { Side::Sell } else { Side::Buy }, Toward::Passive)
            }
        }
    }

    /// Round a size down to the lot.
    pub fn round_qty(&self, qty: Decimal) -> Decimal {
        round_to_step(qty, self.lot, true).normalize()
    }

    /// Check an order against every rule.
    pub fn check(&self, price: Decimal, qty: Decimal) -> Result<(), RuleViolation> {
        if price <= Decimal::ZERO {
            return Err(RuleViolation::NonPositivePrice(price));
        }
        if !self.price_on_grid(price) {
            return Err(RuleViolation::OffGrid {
                price,
                grid: self.grid_text(),
            });
        }
        if self.round_qty(qty) != qty.normalize() {
            return Err(RuleViolation::OffLot { qty, lot: self.lot });
        }
        if qty < self.min_qty || qty <= Decimal::ZERO {
            return Err(RuleViolation::BelowMinQty {
                qty,
                min: self.min_qty.max(self.lot),
            });
        }
        if self.max_qty > Decimal::ZERO && qty > self.max_qty {
            return Err(RuleViolation::AboveMaxQty {
                qty,
                max: self.max_qty,
            });
        }
        let value = price * qty;
        if value < self.min_notional {
            return Err(RuleViolation::BelowMinNotional {
                value,
                min: self.min_notional,
            });
        }
        Ok(())
    }

    fn grid_text(&self) -> String {
        match &self.grid {
            PriceGrid::Tick { tick } => format!("tick {tick}"),
            PriceGrid::SigFigs {
                sig_figs,
                max_decimals,
            } => {
                format!("{sig_figs} significant figures, {max_decimals} decimals")
            }
        }
    }

    /// Fee for a fill.
    pub fn fee(&self, notional: Decimal, maker: bool) -> Decimal {
        notional
            * if maker {
                self.maker_fee
            } else {
                self.taker_fee
            }
    }
}

fn round_to_step(x: Decimal, step: Decimal, down: bool) -> Decimal {
    if step <= Decimal::ZERO {
        return x;
    }
    let q = x / step;
    let n = if down { q.floor() } else { q.ceil() };
    n * step
}

/// Round to at most `sig` significant figures and `max_dp` decimals; integers are always allowed.
fn round_sig_figs(x: Decimal, sig: u32, max_dp: u32, down: bool) -> Decimal {
    if x <= Decimal::ZERO {
        return x;
    }
    let strategy = if down {
        RoundingStrategy::ToZero
    } else {
        RoundingStrategy::AwayFromZero
    };
    // Integer prices are always valid: round only the fraction away when the integer part already has
    // `sig` or more digits.
    let int_digits = digits_before_point(x);
    let dp = if int_digits >= sig as i64 {
        0
    } else if int_digits > 0 {
        (sig as i64 - int_digits).min(max_dp as i64) as u32
    } else {
        // 0.000ddddd: leading zeros after the point do not count as significant.
        let lead = leading_fraction_zeros(x);
        ((lead + sig as i64).min(max_dp as i64)).max(0) as u32
    };
    x.round_dp_with_strategy(dp, strategy)
}

/// Smallest price increment at `p` on a sig-fig grid, in the given direction.
fn sig_fig_step(p: Decimal, sig: u32, max_dp: u32, up: bool) -> Decimal {
    let int_digits = digits_before_point(p);
    let dp: i64 = if int_digits >= sig as i64 {
        0
    } else if int_digits > 0 {
        (sig as i64 - int_digits).min(max_dp as i64)
    } else {
        (leading_fraction_zeros(p) + sig as i64).min(max_dp as i64)
    };
    // Going down from a power of ten the grid gets one digit finer (1.0000 -> 0.99999).
    let dp = if !up && is_power_of_ten(p) && int_digits < sig as i64 {
        (dp + 1).min(max_dp as i64)
    } else {
        dp
    };
    Decimal::new(1, dp.max(0) as u32)
}

fn is_power_of_ten(p: Decimal) -> bool {
    let n = p.normalize();
    let m = n.mantissa();
    m > 0
        && m.to_string()
            .trim_start_matches('1')
            .chars()
            .all(|c| c == '0')
        && m.to_string().starts_with('1')
}

fn digits_before_point(x: Decimal) -> i64 {
    let i = x.trunc();
    if i.is_zero() {
        0
    } else {
        i.normalize().to_string().trim_start_matches('-').len() as i64
    }
}

fn leading_fraction_zeros(x: Decimal) -> i64 {
    // For 0 < x < 1: the number of zeros right after the point.
    let s = x.normalize().to_string();
    match s.split_once('.') {
        Some((_, frac)) => frac.chars().take_while(|c| *c == '0').count() as i64,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn hl(sz_decimals: u32) -> MarketRules {
        MarketRules {
            market: "USDT0/USDC".into(),
            base: "USDT0".into(),
            quote: "USDC".into(),
            grid: PriceGrid::SigFigs {
                sig_figs: 5,
                max_decimals: 8 - sz_decimals,
            },
            lot: Decimal::new(1, sz_decimals),
            min_qty: Decimal::ZERO,
            max_qty: Decimal::ZERO,
            min_notional: d("10"),
            maker_fee: d("0.0004"),
            taker_fee: d("0.0007"),
        }
    }

    fn bn() -> MarketRules {
        MarketRules {
            market: "USDCUSDT".into(),
            base: "USDC".into(),
            quote: "USDT".into(),
            grid: PriceGrid::Tick { tick: d("0.0001") },
            lot: d("1"),
            min_qty: d("1"),
            max_qty: d("9000000"),
            min_notional: d("5"),
            maker_fee: d("0"),
            taker_fee: d("0.0001"),
        }
    }

    #[test]
    fn hyperliquid_price_rules_from_the_docs() {
        let perp = |sz: u32| MarketRules {
            grid: PriceGrid::SigFigs {
                sig_figs: 5,
                max_decimals: 6 - sz,
            },
            ..hl(sz)
        };
        // 1234.5 valid, 1234.56 not (6 significant figures).
        assert!(perp(0).price_on_grid(d("1234.5")));
        assert!(!perp(0).price_on_grid(d("1234.56")));
        // 0.001234 valid, 0.0012345 not (more than 6 decimals on a perp with szDecimals 0).
        assert!(perp(0).price_on_grid(d("0.001234")));
        assert!(!perp(0).price_on_grid(d("0.0012345")));
        // szDecimals 1: 0.01234 valid, 0.012345 not.
        assert!(perp(1).price_on_grid(d("0.01234")));
        assert!(!perp(1).price_on_grid(d("0.012345")));
        // Integer prices always valid.
        assert!(perp(0).price_on_grid(d("123456")));
        assert!(!perp(0).price_on_grid(d("12345.6")));
        // Spot: 0.0001234 valid with szDecimals 0 or 1, not above 2.
        assert!(hl(0).price_on_grid(d("0.0001234")));
        assert!(hl(1).price_on_grid(d("0.0001234")));
        assert!(!hl(3).price_on_grid(d("0.0001234")));
        // Stablecoins: >= 1 has 4 decimals, < 1 may have 5.
        assert!(hl(2).price_on_grid(d("1.0001")));
        assert!(!hl(2).price_on_grid(d("1.00015")));
        assert!(hl(2).price_on_grid(d("0.99985")));
    }

    #[test]
    fn rounding_goes_toward_the_passive_side() {
        let r = hl(2);
        assert_eq!(
            r.round_price(d("1.00015"), Side::Sell, Toward::Passive),
            d("1.0002")
        );
        assert_eq!(
            r.round_price(d("1.00015"), Side::Buy, Toward::Passive),
            d("1.0001")
        );
        assert_eq!(
            r.round_price(d("1.00015"), Side::Buy, Toward::Aggressive),
            d("1.0002")
        );
        let b = bn();
        assert_eq!(
            b.round_price(d("0.99987"), Side::Sell, Toward::Passive),
            d("0.9999")
        );
        assert_eq!(
            b.round_price(d("0.99987"), Side::Buy, Toward::Passive),
            d("0.9998")
        );
    }

    #[test]
    fn next_price_steps_across_powers_of_ten() {
        let r = hl(2);
        assert_eq!(r.next_price(d("1.0000"), false), d("0.99999"));
        assert_eq!(r.next_price(d("0.99999"), true), d("1"));
        assert_eq!(r.next_price(d("1.0001"), false), d("1"));
        let b = bn();
        assert_eq!(b.next_price(d("1.0000"), false), d("0.9999"));
        assert_eq!(b.next_price(d("1.0000"), true), d("1.0001"));
    }

    #[test]
    fn checks_name_the_rule() {
        let b = bn();
        assert!(b.check(d("1.0001"), d("10")).is_ok());
        assert!(matches!(
            b.check(d("1.00015"), d("10")),
            Err(RuleViolation::OffGrid { .. })
        ));
        assert!(matches!(
            b.check(d("1"), d("10.5")),
            Err(RuleViolation::OffLot { .. })
        ));
        assert!(matches!(
            b.check(d("1"), d("4")),
            Err(RuleViolation::BelowMinNotional { .. })
        ));
        assert!(matches!(
            b.check(d("1"), d("0")),
            Err(RuleViolation::BelowMinQty { .. })
        ));
        assert_eq!(hl(2).round_qty(d("12.345")), d("12.34"));
    }

    proptest! {
        #[test]
        fn prop_rounded_prices_are_on_the_grid_and_passive(mant in 1u64..10_000_000_000, scale in 0u32..12, sz in 0u32..6, sell: bool) {
            let p = Decimal::new(mant as i64, scale);
            prop_assume!(p >= Decimal::new(1, 2));
            let side = if sell { Side::Sell } else { Side::Buy };
            for r in [hl(sz), bn()] {
                let q = r.round_price(p, side, Toward::Passive);
                prop_assert!(r.price_on_grid(q), "{q} from {p}");
                if sell { prop_assert!(q >= p) } else { prop_assert!(q <= p) }
                let n = r.next_price(q, sell);
                prop_assert!(r.price_on_grid(n));
                if sell { prop_assert!(n > q) } else if q > Decimal::new(1, 1) { prop_assert!(n < q) }
            }
        }
    }
}
