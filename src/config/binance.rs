//! `[[venue]]` settings specific to binance (kind = "binance"), read from the same table as the common keys.

use super::reader::{Diagnostics, Obj};

/// Settings of a binance venue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {}

/// Take this kind's keys from a `[[venue]]` table.
pub fn read(_o: &mut Obj, _d: &mut Diagnostics) -> Option<Settings> {
    Some(Settings {})
}
