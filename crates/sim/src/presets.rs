//! Ready-made simulated markets resembling the stablecoin pairs ballast trades. Their rules follow the venues'
//! published rules; the liquidity numbers are plausible round figures for deep stable pairs (a tight touch
//! that refills, deeper levels growing, a steady flow of small takers with a heavy tail), not a calibration
//! to recorded data. Every value can be overridden in configuration.

use rust_decimal::Decimal;

use super::config::MarketCfg;
use super::liquidity::{LiquidityCfg, MidSource, SizeDist};
use ballast_core::order::rules::{MarketRules, PriceGrid};

/// Names accepted by [`preset`] and by `preset = "..."` in configuration.
pub const PRESETS: &[&str] = &["hyperliquid-usdt0-usdc", "binance-usdcusdt"];

/// A preset by name.
pub fn preset(name: &str) -> Option<MarketCfg> {
    match name {
        "hyperliquid-usdt0-usdc" => Some(hyperliquid_usdt0_usdc()),
        "binance-usdcusdt" => Some(binance_usdcusdt()),
        _ => None,
    }
}

/// Hyperliquid spot `USDT0/USDC`: 5 significant figures and at most `8 - szDecimals` = 6 decimals (so a
/// tick of 0.0001 above 1 and 0.00001 below it), szDecimals 2, minimum order value 10 USDC, maker 0.04% and
/// taker 0.07%. The mid starts just below 1, where the grid is fine (0.1 bp).
pub fn hyperliquid_usdt0_usdc() -> MarketCfg {
    MarketCfg {
        rules: MarketRules {
            market: "USDT0/USDC".into(),
            base: "USDT0".into(),
            quote: "USDC".into(),
            grid: PriceGrid::SigFigs {
                sig_figs: 5,
                max_decimals: 6,
            },
            lot: Decimal::new(1, 2),
            min_qty: Decimal::ZERO,
            max_qty: Decimal::ZERO,
            min_notional: Decimal::from(10),
            maker_fee: Decimal::new(4, 4),
            taker_fee: Decimal::new(7, 4),
        },
        liquidity: Some(LiquidityCfg {
            mid: MidSource::Walk { start: 0.9999 },
            step_ms: 1000,
            volatility_bps: 0.03,
            reversion_half_life_ms: Some(3_600_000),
            jump_rate_per_hour: 0.5,
            jump_mean_bps: 1.5,
            half_spread_bps: 0.3,
            levels: 12,
            level_spacing_ticks: 2,
            level_qty: Decimal::from(20_000),
            level_growth: 1.25,
            size_jitter: 0.2,
            refill_below: 0.8,
            taker_rate_per_s: 0.25,
            taker_size: SizeDist::LogNormal {
                median: 1_500.0,
                sigma: 1.2,
            },
            taker_max_qty: Some(Decimal::from(500_000)),
            taker_max_slippage_bps: 10.0,
            taker_buy_share: 0.5,
        }),
    }
}

/// Binance spot `USDCUSDT`: tick 0.0001, step 1, minimum notional 5, maker 0% and taker 0.01%. The mid
/// starts half way between 1.0000 and 1.0001, so the book is one tick wide.
pub fn binance_usdcusdt() -> MarketCfg {
    MarketCfg {
        rules: MarketRules {
            market: "USDCUSDT".into(),
            base: "USDC".into(),
            quote: "USDT".into(),
            grid: PriceGrid::Tick {
                tick: Decimal::new(1, 4),
            },
            lot: Decimal::ONE,
            min_qty: Decimal::ONE,
            max_qty: Decimal::from(9_000_000),
            min_notional: Decimal::from(5),
            maker_fee: Decimal::ZERO,
            taker_fee: Decimal::new(1, 4),
        },
        liquidity: Some(LiquidityCfg {
            mid: MidSource::Walk { start: 1.00005 },
            step_ms: 1000,
            volatility_bps: 0.02,
            reversion_half_life_ms: Some(3_600_000),
            jump_rate_per_hour: 0.3,
            jump_mean_bps: 1.0,
            half_spread_bps: 0.0,
            levels: 10,
            level_spacing_ticks: 1,
            level_qty: Decimal::from(400_000),
            level_growth: 1.4,
            size_jitter: 0.2,
            refill_below: 0.8,
            taker_rate_per_s: 1.5,
            taker_size: SizeDist::LogNormal {
                median: 4_000.0,
                sigma: 1.4,
            },
            taker_max_qty: Some(Decimal::from(3_000_000)),
            taker_max_slippage_bps: 5.0,
            taker_buy_share: 0.5,
        }),
    }
}
