//! Helpers every layer may use: the seeded random number generator ([`rand`]), files
//! written whole or not at all ([`files`]), and text for output: numbers, JSON, escaping
//! and tables ([`format`](mod@format)).

pub mod fastmath;
pub mod files;
pub mod format;
pub mod rand;
