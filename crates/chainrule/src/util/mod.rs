//! Helpers every layer may use: the seeded random number generator ([`rand`]), files
//! written whole or not at all ([`files`]), and text for output: numbers, JSON, escaping
//! and tables ([`format`](mod@format)).

pub mod fastmath;
pub mod files;
pub mod format;
pub mod rand;

use std::cell::Cell;

/// Sets a flag back to its earlier value when dropped, also when a panic unwinds through its
/// scope: how `no_grad` and `detect_anomaly` restore their settings.
pub(crate) struct Restore<'a>(pub &'a Cell<bool>, pub bool);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.0.set(self.1);
    }
}
