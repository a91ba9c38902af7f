//! One module per subcommand.

pub mod bench;
pub mod check;
pub mod curves;
pub mod deep;
pub mod demo;
pub mod diff;
pub mod efficiency;
pub mod explain;
pub mod generate;
pub mod grad;
pub mod gradflow;
pub mod graph;
pub mod hessian;
pub mod lm_plots;
pub mod plot;
pub mod predict;
pub mod report;
pub mod train;
pub mod train_text;
pub mod training_page;
