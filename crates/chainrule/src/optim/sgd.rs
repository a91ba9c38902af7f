//! Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight decay.

use super::state::{self, OptimizerState, StateError};
use super::{check_range, ConfigError, Float, Optimizer, Shapes};

/// The settings of [`Sgd`], with PyTorch's names and defaults (all zero but the learning rate).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// The learning rate γ.
    pub lr: f64,
    /// The momentum factor μ (0 for plain gradient descent).
    pub momentum: f64,
    /// The dampening τ of the momentum buffer.
    pub dampening: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
    /// The L2 penalty λ added to the gradient: `g ← g + λθ`.
    pub weight_decay: f64,
}

impl SgdConfig {
    /// Plain gradient descent with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        SgdConfig {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    /// With momentum factor `momentum`.
    pub fn momentum(self, momentum: f64) -> Self {
        SgdConfig { momentum, ..self }
    }

    /// With dampening `dampening`.
    pub fn dampening(self, dampening: f64) -> Self {
        SgdConfig { dampening, ..self }
    }

    /// With Nesterov momentum on or off.
    pub fn nesterov(self, nesterov: bool) -> Self {
        SgdConfig { nesterov, ..self }
    }

    /// With weight decay `weight_decay`.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        SgdConfig {
            weight_decay,
            ..self
        }
    }

    /// Checks the ranges PyTorch checks.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "learning rate",
            self.lr,
            self.lr >= 0.0 && self.lr.is_finite(),
            "a finite number >= 0",
        )?;
        check_range(
            "momentum",
            self.momentum,
            self.momentum >= 0.0 && self.momentum.is_finite(),
            "a finite number >= 0",
        )?;
        check_range(
            "dampening",
            self.dampening,
            self.dampening.is_finite(),
            "a finite number",
        )?;
        check_range(
            "weight decay",
            self.weight_decay,
            self.weight_decay >= 0.0 && self.weight_decay.is_finite(),
            "a finite number >= 0",
        )?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(ConfigError::Nesterov {
                momentum: self.momentum,
                dampening: self.dampening,
            });
        }
        Ok(())
    }
}

/// Stochastic gradient descent as `torch.optim.SGD`.
///
/// For each step t = 1, 2, … and each parameter θ with gradient g:
///
/// ```text
/// if λ ≠ 0:  g ← g + λ θ
/// if μ ≠ 0:  b ← g                      (t = 1)
///            b ← μ b + (1 - τ) g        (t > 1)
///            g ← g + μ b   if nesterov,  else  g ← b
/// θ ← θ - γ g
/// ```
///
/// ```
/// use chainrule::optim::{Optimizer, Sgd, SgdConfig};
///
/// let mut sgd = Sgd::new(SgdConfig::new(0.1).momentum(0.9));
/// let mut x = vec![1.0_f64];
/// sgd.step(&mut [&mut x], &[&[2.0]]); // b = 2,           x = 1 - 0.1·2
/// sgd.step(&mut [&mut x], &[&[1.0]]); // b = 0.9·2 + 1,   x = 0.8 - 0.1·2.8
/// assert!((x[0] - 0.52).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct Sgd<T> {
    config: SgdConfig,
    shapes: Shapes,
    step: u64,
    momentum_buffer: Vec<Vec<T>>,
}

impl<T: Float> Sgd<T> {
    /// An optimizer with these settings.
    ///
    /// # Panics
    /// If a setting is out of range (see [`SgdConfig::validate`]); [`Sgd::try_new`] returns the
    /// error instead.
    pub fn new(config: SgdConfig) -> Self {
        Self::try_new(config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// An optimizer with these settings, or the first one out of range.
    pub fn try_new(config: SgdConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Sgd {
            config,
            shapes: Shapes::default(),
            step: 0,
            momentum_buffer: Vec::new(),
        })
    }

    /// The settings (with the current learning rate).
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    fn kinds(&self) -> &'static [&'static str] {
        if self.config.momentum != 0.0 {
            &["momentum_buffer"]
        } else {
            &[]
        }
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut [&mut [T]], grads: &[&[T]]) {
        let fresh = self.shapes.check("SGD", params, grads);
        let c = self.config;
        let (lr, mu, wd) = (
            T::from_f64(c.lr),
            T::from_f64(c.momentum),
            T::from_f64(c.weight_decay),
        );
        let one_minus_tau = T::from_f64(1.0 - c.dampening);
        if fresh && c.momentum != 0.0 {
            self.momentum_buffer = params.iter().map(|p| vec![T::default(); p.len()]).collect();
        }
        if c.momentum == 0.0 && c.weight_decay == 0.0 {
            // Plain descent, the same arithmetic as below without the per-element branches: it
            // vectorises, and large tensors are split across threads (each element is updated
            // once, by one thread, so the result does not depend on the split).
            for (p, g) in params.iter_mut().zip(grads) {
                crate::tensor::kernels::for_chunks(p, |chunk, start| {
                    for (theta, &grad) in chunk.iter_mut().zip(&g[start..]) {
                        *theta = *theta - lr * grad;
                    }
                });
            }
            self.step += 1;
            return;
        }
        let first = self.step == 0;
        for (gi, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            for (j, (theta, &grad)) in p.iter_mut().zip(g.iter()).enumerate() {
                let mut d = grad;
                if c.weight_decay != 0.0 {
                    d = d + wd * *theta;
                }
                if c.momentum != 0.0 {
                    let b = &mut self.momentum_buffer[gi][j];
                    *b = if first {
                        d
                    } else {
                        mu * *b + one_minus_tau * d
                    };
                    d = if c.nesterov { d + mu * *b } else { *b };
                }
                *theta = *theta - lr * d;
            }
        }
        self.step += 1;
    }

    fn lr(&self) -> f64 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    fn steps_taken(&self) -> u64 {
        self.step
    }

    fn name(&self) -> &'static str {
        "sgd"
    }

    fn state(&self) -> OptimizerState<T> {
        let buffers = if self.kinds().is_empty() {
            Vec::new()
        } else {
            state::save(self.kinds(), &[&self.momentum_buffer])
        };
        OptimizerState {
            optimizer: "sgd".to_string(),
            step: self.step,
            lr: self.config.lr,
            buffers,
        }
    }

    fn load_state(&mut self, saved: &OptimizerState<T>) -> Result<(), StateError> {
        let (mut bufs, lengths) = state::load("sgd", self.kinds(), saved)?;
        self.momentum_buffer = bufs.pop().unwrap_or_default();
        self.shapes.set(lengths);
        self.step = saved.step;
        self.config.lr = saved.lr;
        Ok(())
    }

    fn reset(&mut self) {
        self.shapes = Shapes::default();
        self.step = 0;
        self.momentum_buffer.clear();
    }
}
