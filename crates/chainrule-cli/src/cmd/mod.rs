//! One module per subcommand.

pub mod bench;
pub mod check;
pub mod demo;
pub mod explain;
pub mod grad;
pub mod graph;
pub mod plot;
pub mod report;
