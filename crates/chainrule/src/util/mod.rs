//! Helpers every layer may use: the seeded random number generator ([`rand`]) and files
//! written whole or not at all ([`files`]).

pub mod files;
pub mod rand;
