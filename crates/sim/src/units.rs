//! Integer units for one market: prices as integer multiples of `10^-scale`, sizes as whole lots.
//!
//! The book matches on these integers, so an operation never does decimal arithmetic. Conversions to and from
//! [`Decimal`] are exact: a price that is not a whole number of units, or a size that is not a whole number of
//! lots, has no unit form. The grid arithmetic here mirrors [`MarketRules`] exactly (tested against it).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use ballast_core::order::rules::{MarketRules, PriceGrid};

/// Price units (`price * 10^scale`).
pub type PriceUnits = u64;
/// Whole lots (`qty / lot`).
pub type Lots = u64;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Grid {
    /// Multiples of a tick, in units.
    Tick(u64),
    /// At most `sig` significant figures; whole prices (multiples of `one`) always valid.
    SigFigs { sig: u32, one: u64 },
}

/// The unit system of one market.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Units {
    scale: u32,
    grid: Grid,
    lot: Decimal,
}

/// Why a market's rules cannot be mapped to integer units.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnitsError {
    #[error("the lot must be positive, got {0}")]
    Lot(Decimal),
    #[error("the tick must be positive, got {0}")]
    Tick(Decimal),
    #[error("a price grid with {0} decimals is too fine (at most 12)")]
    Scale(u32),
    #[error("significant figures must be between 1 and 18, got {0}")]
    SigFigs(u32),
}

const MAX_SCALE: u32 = 12;

impl Units {
    pub fn new(rules: &MarketRules) -> Result<Units, UnitsError> {
        if rules.lot <= Decimal::ZERO {
            return Err(UnitsError::Lot(rules.lot));
        }
        let (scale, grid) = match &rules.grid {
            PriceGrid::Tick { tick } => {
                if *tick <= Decimal::ZERO {
                    return Err(UnitsError::Tick(*tick));
                }
                let t = tick.normalize();
                let scale = t.scale();
                if scale > MAX_SCALE {
                    return Err(UnitsError::Scale(scale));
                }
                // mantissa of a normalised positive tick at its own scale is the tick in units.
                (scale, Grid::Tick(t.mantissa() as u64))
            }
            PriceGrid::SigFigs {
                sig_figs,
                max_decimals,
            } => {
                if *max_decimals > MAX_SCALE {
                    return Err(UnitsError::Scale(*max_decimals));
                }
                if *sig_figs == 0 || *sig_figs > 18 {
                    return Err(UnitsError::SigFigs(*sig_figs));
                }
                (
                    *max_decimals,
                    Grid::SigFigs {
                        sig: *sig_figs,
                        one: 10u64.pow(*max_decimals),
                    },
                )
            }
        };
        Ok(Units {
            scale,
            grid,
            lot: rules.lot.normalize(),
        })
    }

    /// Decimals of the price units.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// The lot size.
    pub fn lot(&self) -> Decimal {
        self.lot
    }

    /// A price in units, when it is a positive whole number of units (on the grid or not).
    pub fn price_units(&self, price: Decimal) -> Option<PriceUnits> {
        if price <= Decimal::ZERO {
            return None;
        }
        let n = price.normalize();
        if n.scale() > self.scale {
            return None;
        }
        let m = n
            .mantissa()
            .checked_mul(10i128.pow(self.scale - n.scale()))?;
        u64::try_from(m).ok().filter(|u| *u <= i64::MAX as u64)
    }

    /// The price of a number of units.
    pub fn price(&self, units: PriceUnits) -> Decimal {
        Decimal::from_i128_with_scale(units as i128, self.scale).normalize()
    }

    /// A size in lots, when it is a whole, positive number of lots.
    pub fn lots(&self, qty: Decimal) -> Option<Lots> {
        if qty <= Decimal::ZERO {
            return None;
        }
        let q = qty.checked_div(self.lot)?;
        if !q.fract().is_zero() {
            return None;
        }
        q.to_u64()
    }

    /// The size of a number of lots.
    pub fn qty(&self, lots: Lots) -> Decimal {
        (self.lot * Decimal::from(lots)).normalize()
    }

    /// `price x qty` of a fill, exact.
    pub fn notional(&self, price: PriceUnits, lots: Lots) -> Decimal {
        (self.price(price) * self.qty(lots)).normalize()
    }

    /// An approximate float price (for the liquidity model).
    pub fn to_f64(&self, units: PriceUnits) -> f64 {
        units as f64 / 10f64.powi(self.scale as i32)
    }

    /// The grid price at or below (`down`) or at or above a float price; never below the first grid price.
    pub fn from_f64(&self, price: f64, down: bool) -> PriceUnits {
        let raw = (price.max(0.0) * 10f64.powi(self.scale as i32)).clamp(1.0, 4e18);
        let u = if down { raw.floor() } else { raw.ceil() } as u64;
        let r = if down {
            self.round_down(u)
        } else {
            self.round_up(u)
        };
        if r == 0 { self.round_up(1) } else { r }
    }

    /// Is this price (in units) on the grid?
    pub fn on_grid(&self, p: PriceUnits) -> bool {
        p > 0 && p.is_multiple_of(self.step_at(p))
    }

    /// The grid spacing that applies to prices with as many digits as `p`.
    fn step_at(&self, p: PriceUnits) -> u64 {
        match self.grid {
            Grid::Tick(t) => t,
            Grid::SigFigs { sig, one } => {
                let digits = p.max(1).ilog10() + 1;
                if digits <= sig {
                    1
                } else {
                    10u64.pow(digits - sig).min(one)
                }
            }
        }
    }

    /// The largest grid price at or below `p` (0 when there is none).
    pub fn round_down(&self, p: PriceUnits) -> PriceUnits {
        p - p % self.step_at(p)
    }

    /// The smallest grid price at or above `p`.
    pub fn round_up(&self, p: PriceUnits) -> PriceUnits {
        let s = self.step_at(p);
        let r = p % s;
        // A carry into one more digit lands on a coarser but still valid price (9999.9 -> 10000).
        if r == 0 { p } else { p + (s - r) }
    }

    /// The next grid price above `p`.
    pub fn next_up(&self, p: PriceUnits) -> PriceUnits {
        self.round_up(p + 1)
    }

    /// The next grid price below `p` (0 when there is none).
    pub fn next_down(&self, p: PriceUnits) -> PriceUnits {
        if p <= 1 { 0 } else { self.round_down(p - 1) }
    }

    /// Move `n` grid steps up (`n > 0`) or down; stops at the lowest grid price.
    pub fn step(&self, p: PriceUnits, n: i64) -> PriceUnits {
        let mut q = p;
        if n >= 0 {
            for _ in 0..n {
                q = self.next_up(q);
            }
        } else {
            for _ in 0..(-n) {
                let d = self.next_down(q);
                if d == 0 {
                    break;
                }
                q = d;
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;
    use crate::presets;
    use ballast_core::model::Side;
    use ballast_core::order::rules::Toward;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn conversions_are_exact_and_refuse_off_unit_values() {
        let r = presets::binance_usdcusdt().rules;
        let u = Units::new(&r).unwrap();
        assert_eq!(u.scale(), 4);
        assert_eq!(u.price_units(d("1.0001")), Some(10001));
        assert_eq!(u.price_units(d("1.00015")), None);
        assert_eq!(u.price_units(d("0")), None);
        assert_eq!(u.price(10001), d("1.0001"));
        assert_eq!(u.lots(d("12")), Some(12));
        assert_eq!(u.lots(d("12.5")), None);
        assert_eq!(u.notional(10001, 3), d("3.0003"));
        let h = Units::new(&presets::hyperliquid_usdt0_usdc().rules).unwrap();
        assert_eq!(h.lots(d("12.34")), Some(1234));
        assert_eq!(h.qty(1234), d("12.34"));
        assert_eq!(h.price_units(d("0.99999")), Some(999_990));
        assert!(h.on_grid(999_990));
        assert!(!h.on_grid(999_995));
        assert_eq!(h.next_up(999_990), 1_000_000);
        assert_eq!(h.next_down(1_000_000), 999_990);
        assert_eq!(h.next_up(1_000_000), 1_000_100);
        assert_eq!(h.from_f64(0.999_987, true), 999_980);
        assert_eq!(h.from_f64(1.000_01, false), 1_000_100);
    }

    #[test]
    fn bad_rules_are_refused() {
        let mut r = presets::binance_usdcusdt().rules;
        r.lot = Decimal::ZERO;
        assert_eq!(Units::new(&r), Err(UnitsError::Lot(Decimal::ZERO)));
    }

    proptest! {
        /// The integer grid agrees with `MarketRules` on validity, rounding and stepping.
        #[test]
        fn prop_unit_grid_matches_market_rules(mant in 1u64..2_000_000_000, scale in 0u32..9, sz in 0u32..5, tick_pow in 0u32..6, sell: bool) {
            let p = Decimal::new(mant as i64, scale);
            let mut hl = presets::hyperliquid_usdt0_usdc().rules;
            hl.grid = PriceGrid::SigFigs { sig_figs: 5, max_decimals: 8 - sz };
            let mut bn = presets::binance_usdcusdt().rules;
            bn.grid = PriceGrid::Tick { tick: Decimal::new(5, tick_pow) };
            for r in [hl, bn] {
                let u = Units::new(&r).unwrap();
                let side = if sell { Side::Sell } else { Side::Buy };
                let rounded = r.round_price(p, side, Toward::Passive);
                if let Some(pu) = u.price_units(p) {
                    prop_assert_eq!(u.on_grid(pu), r.price_on_grid(p), "{}", p);
                    let mine = if sell { u.round_up(pu) } else { u.round_down(pu) };
                    if mine > 0 && rounded > Decimal::ZERO {
                        prop_assert_eq!(u.price(mine), rounded, "{} {:?}", p, side);
                    }
                    if u.on_grid(pu) {
                        prop_assert_eq!(u.price(u.next_up(pu)), r.next_price(p, true));
                        let down = u.next_down(pu);
                        if down > 0 && r.next_price(p, false) < p {
                            prop_assert_eq!(u.price(down), r.next_price(p, false));
                        }
                    }
                }
            }
        }
    }
}
