//! Symbol filters (venues.md B3, Binance `filters.md`), checked in exact decimal arithmetic. The client applies
//! them before sending (so a bad order never costs a request) and the local server applies the same code to
//! answer `-1013 Filter failure: X` and `-1111` exactly as Binance does.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::wire::SymbolInfo;
use ballast_core::model::Side;
use ballast_core::order::rules::{MarketRules, PriceGrid};

/// One entry of a symbol's `filters`. Filters ballast does not use are kept as [`Filter::Other`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "filterType")]
pub enum Filter {
    #[serde(rename = "PRICE_FILTER", rename_all = "camelCase")]
    Price {
        min_price: Decimal,
        max_price: Decimal,
        tick_size: Decimal,
    },
    #[serde(rename = "LOT_SIZE", rename_all = "camelCase")]
    LotSize {
        min_qty: Decimal,
        max_qty: Decimal,
        step_size: Decimal,
    },
    /// Legacy minimum notional.
    #[serde(rename = "MIN_NOTIONAL", rename_all = "camelCase")]
    MinNotional {
        min_notional: Decimal,
        #[serde(default)]
        apply_to_market: bool,
        #[serde(default)]
        avg_price_mins: u32,
    },
    #[serde(rename = "NOTIONAL", rename_all = "camelCase")]
    Notional {
        min_notional: Decimal,
        #[serde(default)]
        apply_min_to_market: bool,
        #[serde(default)]
        max_notional: Decimal,
        #[serde(default)]
        apply_max_to_market: bool,
        #[serde(default)]
        avg_price_mins: u32,
    },
    #[serde(rename = "PERCENT_PRICE_BY_SIDE", rename_all = "camelCase")]
    PercentPriceBySide {
        bid_multiplier_up: Decimal,
        bid_multiplier_down: Decimal,
        ask_multiplier_up: Decimal,
        ask_multiplier_down: Decimal,
        #[serde(default)]
        avg_price_mins: u32,
    },
    #[serde(rename = "MAX_NUM_ORDERS", rename_all = "camelCase")]
    MaxNumOrders { max_num_orders: u32 },
    #[serde(other)]
    Other,
}

impl Filter {
    /// The `filterType` as Binance names it (used in `Filter failure: X`).
    pub fn name(&self) -> &'static str {
        match self {
            Filter::Price { .. } => "PRICE_FILTER",
            Filter::LotSize { .. } => "LOT_SIZE",
            Filter::MinNotional { .. } => "MIN_NOTIONAL",
            Filter::Notional { .. } => "NOTIONAL",
            Filter::PercentPriceBySide { .. } => "PERCENT_PRICE_BY_SIDE",
            Filter::MaxNumOrders { .. } => "MAX_NUM_ORDERS",
            Filter::Other => "OTHER",
        }
    }
}

/// A limit order broke a filter: Binance answers `-1013 "Filter failure: {filter}"`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Filter failure: {filter}")]
pub struct FilterFailure {
    pub filter: &'static str,
    /// What exactly is wrong (for logs; Binance's message carries only the filter name).
    pub detail: String,
}

/// A parameter has more decimals than its asset allows: `-1111 "Parameter '{param}' has too much precision."`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Parameter '{param}' has too much precision.")]
pub struct TooMuchPrecision {
    pub param: &'static str,
}

/// The trading rules of one symbol, gathered from its `exchangeInfo` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolRules {
    pub symbol: String,
    pub status: String,
    pub base: String,
    pub quote: String,
    pub base_precision: u32,
    pub quote_precision: u32,
    pub cancel_replace_allowed: bool,
    pub amend_allowed: bool,
    /// In the order the symbol lists them; checks run in this order.
    pub filters: Vec<Filter>,
}

fn multiple_of(x: Decimal, step: Decimal) -> bool {
    step.is_zero() || (x % step).is_zero()
}

impl SymbolRules {
    pub fn from_info(s: &SymbolInfo) -> SymbolRules {
        SymbolRules {
            symbol: s.symbol.clone(),
            status: s.status.clone(),
            base: s.base_asset.clone(),
            quote: s.quote_asset.clone(),
            base_precision: s.base_asset_precision,
            quote_precision: s.quote_asset_precision,
            cancel_replace_allowed: s.cancel_replace_allowed,
            amend_allowed: s.amend_allowed,
            filters: s
                .filters
                .iter()
                .filter(|f| !matches!(f, Filter::Other))
                .cloned()
                .collect(),
        }
    }

    /// `-1111`: a price with more decimals than the quote asset, or a quantity with more than the base asset.
    pub fn check_precision(&self, price: Decimal, qty: Decimal) -> Result<(), TooMuchPrecision> {
        if qty.normalize().scale() > self.base_precision {
            return Err(TooMuchPrecision { param: "quantity" });
        }
        if price.normalize().scale() > self.quote_precision {
            return Err(TooMuchPrecision { param: "price" });
        }
        Ok(())
    }

    /// Every price, size and value filter on a limit order, in the symbol's order. `reference` is the
    /// reference (average) price PERCENT_PRICE_BY_SIDE compares with; the check is skipped without one.
    /// `open_orders` is the account's open order count on the symbol, for MAX_NUM_ORDERS.
    pub fn check(
        &self,
        side: Side,
        price: Decimal,
        qty: Decimal,
        reference: Option<Decimal>,
        open_orders: Option<u32>,
    ) -> Result<(), FilterFailure> {
        for f in &self.filters {
            let fail = |detail: String| {
                Err(FilterFailure {
                    filter: f.name(),
                    detail,
                })
            };
            match f {
                Filter::Price {
                    min_price,
                    max_price,
                    tick_size,
                } => {
                    if !min_price.is_zero() && price < *min_price {
                        return fail(format!("price {price} below minPrice {min_price}"));
                    }
                    if !max_price.is_zero() && price > *max_price {
                        return fail(format!("price {price} above maxPrice {max_price}"));
                    }
                    if !multiple_of(price, *tick_size) {
                        return fail(format!(
                            "price {price} is not a multiple of tickSize {tick_size}"
                        ));
                    }
                }
                Filter::LotSize {
                    min_qty,
                    max_qty,
                    step_size,
                } => {
                    if qty < *min_qty || qty <= Decimal::ZERO {
                        return fail(format!("quantity {qty} below minQty {min_qty}"));
                    }
                    if !max_qty.is_zero() && qty > *max_qty {
                        return fail(format!("quantity {qty} above maxQty {max_qty}"));
                    }
                    if !multiple_of(qty, *step_size) {
                        return fail(format!(
                            "quantity {qty} is not a multiple of stepSize {step_size}"
                        ));
                    }
                }
                Filter::MinNotional { min_notional, .. } => {
                    let v = price * qty;
                    if v < *min_notional {
                        return fail(format!("notional {v} below minNotional {min_notional}"));
                    }
                }
                Filter::Notional {
                    min_notional,
                    max_notional,
                    ..
                } => {
                    let v = price * qty;
                    if v < *min_notional {
                        return fail(format!("notional {v} below minNotional {min_notional}"));
                    }
                    if !max_notional.is_zero() && v > *max_notional {
                        return fail(format!("notional {v} above maxNotional {max_notional}"));
                    }
                }
                Filter::PercentPriceBySide {
                    bid_multiplier_up,
                    bid_multiplier_down,
                    ask_multiplier_up,
                    ask_multiplier_down,
                    ..
                } => {
                    let Some(r) = reference.filter(|r| !r.is_zero()) else {
                        continue;
                    };
                    let (up, down) = match side {
                        Side::Buy => (bid_multiplier_up, bid_multiplier_down),
                        Side::Sell => (ask_multiplier_up, ask_multiplier_down),
                    };
                    if price > r * up || price < r * down {
                        return fail(format!(
                            "price {price} outside [{}, {}] around the reference {r}",
                            r * down,
                            r * up
                        ));
                    }
                }
                Filter::MaxNumOrders { max_num_orders } => {
                    if let Some(n) = open_orders
                        && n >= *max_num_orders
                    {
                        return fail(format!("{n} open orders, the maximum is {max_num_orders}"));
                    }
                }
                Filter::Other => {}
            }
        }
        Ok(())
    }

    pub fn tick(&self) -> Decimal {
        self.filters
            .iter()
            .find_map(|f| match f {
                Filter::Price { tick_size, .. } => Some(*tick_size),
                _ => None,
            })
            .unwrap_or(Decimal::ZERO)
    }

    /// The largest minimum notional of NOTIONAL and MIN_NOTIONAL.
    pub fn min_notional(&self) -> Decimal {
        self.filters
            .iter()
            .filter_map(|f| match f {
                Filter::Notional { min_notional, .. }
                | Filter::MinNotional { min_notional, .. } => Some(*min_notional),
                _ => None,
            })
            .max()
            .unwrap_or(Decimal::ZERO)
    }

    /// The market rules the executor works with: the tick grid, lot, limits and the account's fee rates.
    pub fn market_rules(&self, maker_fee: Decimal, taker_fee: Decimal) -> MarketRules {
        let (min_qty, max_qty, lot) = self
            .filters
            .iter()
            .find_map(|f| match f {
                Filter::LotSize {
                    min_qty,
                    max_qty,
                    step_size,
                } => Some((*min_qty, *max_qty, *step_size)),
                _ => None,
            })
            .unwrap_or((
                Decimal::ZERO,
                Decimal::ZERO,
                Decimal::new(1, self.base_precision),
            ));
        let tick = match self.tick() {
            t if t.is_zero() => Decimal::new(1, self.quote_precision),
            t => t,
        };
        MarketRules {
            market: self.symbol.clone(),
            base: self.base.clone(),
            quote: self.quote.clone(),
            grid: PriceGrid::Tick {
                tick: tick.normalize(),
            },
            lot: lot.normalize(),
            min_qty: min_qty.normalize(),
            max_qty: max_qty.normalize(),
            min_notional: self.min_notional().normalize(),
            maker_fee: maker_fee.normalize(),
            taker_fee: taker_fee.normalize(),
        }
    }
}

/// Render a decimal with exactly `scale` decimals, as Binance writes amounts (`"0.00010000"`).
pub fn fixed(x: Decimal, scale: u32) -> Decimal {
    let mut y = x;
    y.rescale(scale);
    y
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn rules() -> SymbolRules {
        let filters: Vec<Filter> = serde_json::from_str(
            r#"[{"filterType":"PRICE_FILTER","minPrice":"0.00010000","maxPrice":"2.00000000","tickSize":"0.00010000"},
                {"filterType":"LOT_SIZE","minQty":"1.00000000","maxQty":"9000000.00000000","stepSize":"1.00000000"},
                {"filterType":"ICEBERG_PARTS","limit":10},
                {"filterType":"NOTIONAL","minNotional":"5.00000000","applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5},
                {"filterType":"PERCENT_PRICE_BY_SIDE","bidMultiplierUp":"1.2","bidMultiplierDown":"0.2","askMultiplierUp":"5","askMultiplierDown":"0.8","avgPriceMins":1},
                {"filterType":"MAX_NUM_ORDERS","maxNumOrders":200}]"#,
        )
        .unwrap();
        assert_eq!(filters[2], Filter::Other);
        SymbolRules {
            symbol: "USDCUSDT".into(),
            status: "TRADING".into(),
            base: "USDC".into(),
            quote: "USDT".into(),
            base_precision: 8,
            quote_precision: 8,
            cancel_replace_allowed: true,
            amend_allowed: true,
            filters: filters
                .into_iter()
                .filter(|f| *f != Filter::Other)
                .collect(),
        }
    }

    fn failing(side: Side, p: &str, q: &str, r: Option<&str>) -> Option<&'static str> {
        rules()
            .check(side, d(p), d(q), r.map(d), Some(0))
            .err()
            .map(|e| e.filter)
    }

    #[test]
    fn each_filter_fails_with_its_name() {
        assert_eq!(failing(Side::Buy, "1.0001", "10", Some("1")), None);
        assert_eq!(
            failing(Side::Buy, "1.00015", "10", None),
            Some("PRICE_FILTER")
        );
        assert_eq!(
            failing(Side::Buy, "2.0001", "10", None),
            Some("PRICE_FILTER")
        );
        assert_eq!(
            failing(Side::Buy, "0.00005", "10", None),
            Some("PRICE_FILTER")
        );
        assert_eq!(failing(Side::Buy, "1", "10.5", None), Some("LOT_SIZE"));
        assert_eq!(failing(Side::Buy, "1", "0", None), Some("LOT_SIZE"));
        assert_eq!(failing(Side::Buy, "1", "4", None), Some("NOTIONAL"));
        assert_eq!(
            failing(Side::Buy, "1.5", "10", Some("1")),
            Some("PERCENT_PRICE_BY_SIDE")
        );
        assert_eq!(
            failing(Side::Sell, "0.7", "10", Some("1")),
            Some("PERCENT_PRICE_BY_SIDE")
        );
        assert_eq!(failing(Side::Sell, "1.5", "10", Some("1")), None);
        let r = rules();
        assert_eq!(
            r.check(Side::Buy, d("1"), d("10"), None, Some(200))
                .unwrap_err()
                .filter,
            "MAX_NUM_ORDERS"
        );
    }

    #[test]
    fn precision_counts_significant_decimals_only() {
        let r = rules();
        assert!(
            r.check_precision(d("1.00000000"), d("10.000000000"))
                .is_ok()
        );
        assert_eq!(
            r.check_precision(d("1"), d("0.000000001"))
                .unwrap_err()
                .param,
            "quantity"
        );
        assert_eq!(
            r.check_precision(d("1.000000001"), d("1"))
                .unwrap_err()
                .param,
            "price"
        );
    }

    #[test]
    fn market_rules_use_the_tick_grid() {
        let m = rules().market_rules(d("0"), d("0.0001"));
        assert_eq!(m.grid, PriceGrid::Tick { tick: d("0.0001") });
        assert_eq!((m.lot, m.min_qty, m.min_notional), (d("1"), d("1"), d("5")));
        assert!(m.check(d("1.0001"), d("10")).is_ok());
        assert_eq!(fixed(d("0.0001"), 8).to_string(), "0.00010000");
    }
}
