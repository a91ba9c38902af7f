//! Optimizers, learning-rate schedules and gradient clipping, with PyTorch's update formulas.
//!
//! [`OptimizerSpec`] is the registry of optimizers by name (`sgd`, `momentum`, `nesterov`,
//! `adam`, `adamw`) with their settings and defaults, from which both the training loop (on
//! `f32`) and gradient descent on an expression (on `f64`) build theirs.
//!
//! The optimizers ([`Sgd`], [`Adam`], [`AdamW`]) update *parameter groups*: a list of flat slices
//! of numbers, each with a gradient slice of the same length. A vector of `f64` variables is one
//! group; a network's weight matrices and bias vectors, stored in flat `f32` buffers, are one group
//! each. The per-parameter state (momentum buffers, moment estimates) is created on the first
//! [`Optimizer::step`] with the groups' lengths, and every later step checks that it is given
//! groups of the same lengths.
//!
//! Every formula is the one documented for `torch.optim`, step for step, so a run here and the
//! same run with PyTorch agree up to rounding.
//!
//! ```
//! use chainrule::optim::{Optimizer, Sgd, SgdConfig};
//!
//! // Minimise f(x) = x² from x = 1 with plain gradient descent: x ← x - 0.1 · 2x.
//! let mut x = vec![1.0_f64];
//! let mut sgd = Sgd::new(SgdConfig::new(0.1));
//! for _ in 0..3 {
//!     let grad = vec![2.0 * x[0]];
//!     sgd.step(&mut [&mut x], &[&grad]);
//! }
//! assert!((x[0] - 0.8_f64.powi(3)).abs() < 1e-15);
//! ```

mod adam;
mod clip;
mod schedule;
mod sgd;
mod spec;
mod state;

pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use clip::clip_grad_norm;
pub use schedule::{CosineAnnealing, LrSchedule, Schedule, ScheduleKind, StepLr, WarmupCosine};
pub use sgd::{Sgd, SgdConfig};
pub use spec::{OptimizerKind, OptimizerSpec};
pub use state::{OptimizerState, StateError};

use std::fmt;

use crate::ops::Real;

/// The number types an optimizer can update: `f64` and `f32`.
///
/// Hyper-parameters are `f64`; they are converted with [`Float::from_f64`] where they meet the
/// parameters.
pub trait Float: Real + PartialOrd + fmt::Debug + Default + Send + Sync + 'static {
    /// The nearest value of this type to `x`.
    fn from_f64(x: f64) -> Self;
}

impl Float for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
}

impl Float for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

/// An update rule for parameter groups, given their gradients.
///
/// The trait is object-safe, so a `Box<dyn Optimizer<f64>>` can be chosen at run time.
pub trait Optimizer<T: Float> {
    /// Updates every parameter group in place from its gradient (one optimizer step).
    ///
    /// # Panics
    /// If `params` and `grads` have different numbers of groups, if a group and its gradient
    /// have different lengths, or if the groups differ from those of the first step (the state
    /// was created for them). The message names the group and both lengths.
    fn step(&mut self, params: &mut [&mut [T]], grads: &[&[T]]);

    /// The learning rate used by the next step.
    fn lr(&self) -> f64;

    /// Changes the learning rate from the next step on (what a schedule does).
    fn set_lr(&mut self, lr: f64);

    /// How many steps were taken (PyTorch's `state["step"]`).
    fn steps_taken(&self) -> u64;

    /// The optimizer's name, as in [`OptimizerState::optimizer`]: `"sgd"`, `"adam"` or `"adamw"`.
    fn name(&self) -> &'static str;

    /// A copy of the state a checkpoint needs: step count, learning rate and every buffer.
    fn state(&self) -> OptimizerState<T>;

    /// Restores a state saved by [`Optimizer::state`] from an optimizer of the same kind and
    /// settings; on error nothing is changed.
    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<(), StateError>;

    /// Forgets every buffer and the step count, as a freshly made optimizer.
    fn reset(&mut self);
}

/// Optimizer settings that cannot work: a hyper-parameter out of its range (named as PyTorch
/// names it), Nesterov momentum without momentum, or a name that is not an optimizer.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A hyper-parameter outside its range.
    OutOfRange {
        /// The hyper-parameter, e.g. `learning rate`.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The values allowed, e.g. `a finite number >= 0`.
        range: &'static str,
    },
    /// Nesterov momentum with no momentum, or with dampening (PyTorch refuses both).
    Nesterov {
        /// The momentum given.
        momentum: f64,
        /// The dampening given.
        dampening: f64,
    },
    /// A name that is none of [`OptimizerKind::ALL`].
    UnknownOptimizer {
        /// The name given.
        name: String,
    },
    /// A name that is no learning-rate schedule ([`ScheduleKind`]).
    UnknownSchedule {
        /// The name given.
        name: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::OutOfRange { name, value, range } => {
                write!(f, "invalid {name} {value}: it must be {range}")
            }
            ConfigError::Nesterov {
                momentum,
                dampening,
            } => write!(
                f,
                "Nesterov momentum requires a momentum > 0 and zero dampening (got momentum \
                 {momentum}, dampening {dampening})"
            ),
            ConfigError::UnknownOptimizer { name } => {
                write!(f, "unknown optimizer '{name}' (expected one of ")?;
                for (i, k) in OptimizerKind::ALL.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(k.name())?;
                }
                f.write_str(")")
            }
            ConfigError::UnknownSchedule { name } => write!(
                f,
                "unknown learning-rate schedule '{name}' (choose none, cosine or step)"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn check_range(
    name: &'static str,
    value: f64,
    ok: bool,
    range: &'static str,
) -> Result<(), ConfigError> {
    if ok && !value.is_nan() {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { name, value, range })
    }
}

/// The lengths of the parameter groups an optimizer's state was made for, with the checks.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Shapes(Option<Vec<usize>>);

impl Shapes {
    /// Checks `params` against `grads` and against the recorded lengths, recording them on the
    /// first call. Returns `true` when the state has just been created.
    pub(crate) fn check<T>(&mut self, who: &str, params: &[&mut [T]], grads: &[&[T]]) -> bool {
        assert_eq!(
            params.len(),
            grads.len(),
            "{who}: {} parameter groups but {} gradients",
            params.len(),
            grads.len()
        );
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            assert_eq!(
                p.len(),
                g.len(),
                "{who}: parameter group {i} has {} values but its gradient has {}",
                p.len(),
                g.len()
            );
        }
        match &self.0 {
            None => {
                self.0 = Some(params.iter().map(|p| p.len()).collect());
                true
            }
            Some(shapes) => {
                assert_eq!(
                    shapes.len(),
                    params.len(),
                    "{who}: the state was made for {} parameter groups, this step has {}",
                    shapes.len(),
                    params.len()
                );
                for (i, (&n, p)) in shapes.iter().zip(params).enumerate() {
                    assert_eq!(
                        n,
                        p.len(),
                        "{who}: parameter group {i} had {n} values when the state was made, now {}",
                        p.len()
                    );
                }
                false
            }
        }
    }

    pub(crate) fn lengths(&self) -> Option<&[usize]> {
        self.0.as_deref()
    }

    pub(crate) fn set(&mut self, lengths: Option<Vec<usize>>) {
        self.0 = lengths;
    }
}

#[cfg(test)]
mod tests;
