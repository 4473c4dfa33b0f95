//! The core's own parameter types: how targets, bands, rounding and the `min_balance` override are given.
//! The configuration crate reads them from TOML; the core never depends on it.

use rust_decimal::Decimal;

/// How the `min_balance` override shrinks the other weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redistribution {
    /// Every other weight shrinks in proportion to itself.
    Proportional,
    /// The other weights are filled in the order of the file until the leftover runs out.
    Priority,
}

/// Rounding of order amounts to the source asset's decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Toward zero: an order never exceeds the sized move (default).
    Down,
    /// Away from zero, never beyond what the source holds (Valence-compatible).
    Up,
}

/// Which errors the controller acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ActOn {
    /// Deficits and excesses.
    #[default]
    Both,
    /// Deficits only: a position above its target is held and only serves as a counterparty.
    Deficits,
}

/// How a position's target is given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TargetSpec {
    /// Absolute amount in asset units.
    Amount(Decimal),
    /// Share of the weighted portfolio's value, in bps (all weights sum to 10000).
    WeightBps(u32),
}

/// The deadband of a position.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BandSpec {
    /// Absolute bounds in asset units.
    Absolute { low: Decimal, high: Decimal },
    /// +/- this many bps of the target value.
    Relative { bps: u32 },
}
