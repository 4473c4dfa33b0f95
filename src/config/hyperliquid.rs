//! `[[venue]]` settings specific to hyperliquid (kind = "hyperliquid"), read from the same table as the common keys.

use super::reader::{Diagnostics, Obj};

/// Settings of a hyperliquid venue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {}

/// Take this kind's keys from a `[[venue]]` table.
pub fn read(_o: &mut Obj, _d: &mut Diagnostics) -> Option<Settings> {
    Some(Settings {})
}
