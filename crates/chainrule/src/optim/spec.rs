//! The registry of optimizers: each one by the name a person types (`sgd`, `momentum`,
//! `nesterov`, `adam`, `adamw`), its settings with their defaults, and the optimizer they build
//! on `f32` (training) or `f64` (descending an expression).
//!
//! `momentum` and `nesterov` are SGD with a momentum of 0.9 by default (and Nesterov's
//! look-ahead for the second); `sgd` has no momentum unless one is given.
//!
//! ```
//! use chainrule::optim::{Optimizer, OptimizerKind, OptimizerSpec};
//!
//! let kind: OptimizerKind = "nesterov".parse().unwrap();
//! let spec = OptimizerSpec::new(kind, 0.1);
//! assert_eq!(spec.to_string(), "nesterov (lr 0.1, momentum 0.9)");
//! let mut opt = spec.build::<f64>().unwrap();
//! let mut x = vec![1.0];
//! opt.step(&mut [&mut x], &[&[2.0]]); // b = 2, g + 0.9·b = 3.8
//! assert!((x[0] - 0.62).abs() < 1e-15);
//! ```

use std::fmt;
use std::str::FromStr;

use super::{Adam, AdamConfig, AdamW, AdamWConfig, ConfigError, Float, Optimizer, Sgd, SgdConfig};
use crate::util::format::fmt_sig;

/// The optimizers by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// [`Sgd`], with no momentum unless one is given.
    Sgd,
    /// [`Sgd`] with momentum (0.9 unless another is given).
    Momentum,
    /// [`Sgd`] with Nesterov momentum (0.9 unless another is given).
    Nesterov,
    /// [`Adam`].
    Adam,
    /// [`AdamW`], with decoupled weight decay (0.01 unless another is given).
    AdamW,
}

impl OptimizerKind {
    /// Every optimizer, in the order the help lists them.
    pub const ALL: [OptimizerKind; 5] = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adam,
        OptimizerKind::AdamW,
    ];

    /// The name: `sgd`, `momentum`, `nesterov`, `adam`, `adamw`.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Nesterov => "nesterov",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }

    /// Whether it is stochastic gradient descent (with or without momentum).
    pub fn is_sgd(self) -> bool {
        matches!(
            self,
            OptimizerKind::Sgd | OptimizerKind::Momentum | OptimizerKind::Nesterov
        )
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = ConfigError;

    /// Reads a name, ignoring case and surrounding spaces.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let name = s.trim().to_ascii_lowercase();
        OptimizerKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or(ConfigError::UnknownOptimizer { name })
    }
}

/// An optimizer and all its settings, with PyTorch's names; those an optimizer does not use
/// are ignored by it (momentum by Adam, the betas by SGD).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimizerSpec {
    /// Which optimizer.
    pub kind: OptimizerKind,
    /// The learning rate.
    pub lr: f64,
    /// SGD's momentum factor.
    pub momentum: f64,
    /// SGD's dampening of the momentum buffer.
    pub dampening: f64,
    /// SGD's Nesterov momentum (needs a momentum > 0 and no dampening).
    pub nesterov: bool,
    /// The weight decay (an L2 penalty for SGD and Adam, decoupled for AdamW); `None` for the
    /// optimizer's default (0, or 0.01 for AdamW), see [`OptimizerSpec::effective_weight_decay`].
    pub weight_decay: Option<f64>,
    /// Adam's decay rates of the moments.
    pub betas: (f64, f64),
    /// Adam's term added to the denominator.
    pub eps: f64,
    /// Adam's AMSGrad variant.
    pub amsgrad: bool,
}

impl OptimizerSpec {
    /// `kind` with learning rate `lr` and the other settings at their defaults: PyTorch's, and
    /// a momentum of 0.9 for `momentum` and `nesterov`.
    pub fn new(kind: OptimizerKind, lr: f64) -> Self {
        let momentum = match kind {
            OptimizerKind::Momentum | OptimizerKind::Nesterov => 0.9,
            _ => 0.0,
        };
        OptimizerSpec {
            kind,
            lr,
            momentum,
            dampening: 0.0,
            nesterov: kind == OptimizerKind::Nesterov,
            weight_decay: None,
            betas: (0.9, 0.999),
            eps: 1e-8,
            amsgrad: false,
        }
    }

    /// The optimizer called `name` (see [`OptimizerKind::from_str`]) with learning rate `lr`.
    pub fn named(name: &str, lr: f64) -> Result<Self, ConfigError> {
        Ok(Self::new(name.parse()?, lr))
    }

    /// The weight decay the optimizer uses: the one given, else 0.01 for AdamW and 0 for the
    /// others.
    pub fn effective_weight_decay(&self) -> f64 {
        self.weight_decay.unwrap_or(match self.kind {
            OptimizerKind::AdamW => AdamWConfig::new(self.lr).weight_decay,
            _ => 0.0,
        })
    }

    /// Checks every setting the optimizer uses, as PyTorch does.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.kind {
            k if k.is_sgd() => self.sgd().validate(),
            OptimizerKind::Adam => self.adam().validate(),
            _ => self.adamw().validate(),
        }
    }

    /// The optimizer, on `f32` or `f64` parameters, or the first setting out of range.
    pub fn build<T: Float>(&self) -> Result<Box<dyn Optimizer<T>>, ConfigError> {
        Ok(match self.kind {
            k if k.is_sgd() => Box::new(Sgd::try_new(self.sgd())?),
            OptimizerKind::Adam => Box::new(Adam::try_new(self.adam())?),
            _ => Box::new(AdamW::try_new(self.adamw())?),
        })
    }

    fn sgd(&self) -> SgdConfig {
        SgdConfig::new(self.lr)
            .momentum(self.momentum)
            .dampening(self.dampening)
            .nesterov(self.nesterov)
            .weight_decay(self.effective_weight_decay())
    }

    fn adam(&self) -> AdamConfig {
        AdamConfig::new(self.lr)
            .betas(self.betas.0, self.betas.1)
            .eps(self.eps)
            .weight_decay(self.effective_weight_decay())
            .amsgrad(self.amsgrad)
    }

    fn adamw(&self) -> AdamWConfig {
        AdamWConfig::new(self.lr)
            .betas(self.betas.0, self.betas.1)
            .eps(self.eps)
            .weight_decay(self.effective_weight_decay())
            .amsgrad(self.amsgrad)
    }

    /// The settings that matter to this optimizer, in words: `lr 0.01, momentum 0.9` (the
    /// learning rate always; the others where they are not zero, or are Adam's).
    pub fn settings(&self) -> String {
        let num = |x: f64| fmt_sig(x, 6, 1e-4..1e6);
        let mut s = format!("lr {}", num(self.lr));
        if self.kind.is_sgd() {
            if self.momentum != 0.0 {
                s += &format!(", momentum {}", num(self.momentum));
            }
            if self.dampening != 0.0 {
                s += &format!(", dampening {}", num(self.dampening));
            }
            if self.nesterov && self.kind != OptimizerKind::Nesterov {
                s += ", nesterov";
            }
        } else {
            s += &format!(
                ", betas {}, {}, eps {}",
                num(self.betas.0),
                num(self.betas.1),
                num(self.eps)
            );
            if self.amsgrad {
                s += ", amsgrad";
            }
        }
        let wd = self.effective_weight_decay();
        if wd != 0.0 {
            s += &format!(", weight decay {}", num(wd));
        }
        s
    }
}

impl fmt::Display for OptimizerSpec {
    /// The banner line's words: `momentum (lr 0.01, momentum 0.9)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind, self.settings())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three steps of `spec` on one parameter from 1 with the gradients 2, 1, -1.
    fn three_steps<T: Float>(spec: &OptimizerSpec) -> Vec<T> {
        let mut opt = spec.build::<T>().unwrap();
        let mut x = vec![T::from_f64(1.0)];
        let mut seen = Vec::new();
        for g in [2.0, 1.0, -1.0] {
            opt.step(&mut [&mut x], &[&[T::from_f64(g)]]);
            seen.push(x[0]);
        }
        seen
    }

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() <= tol, "got {got:?}, expected {want:?}");
        }
    }

    #[test]
    fn sgd_with_momentum_dampening_and_weight_decay_is_pytorchs() {
        // torch.optim.SGD, by hand: d = g + λθ; b = d at the first step, then μb + (1-τ)d;
        // θ ← θ - γb. With γ = 0.1, μ = 0.9, τ = 0.5, λ = 0.1:
        //   d1 = 2.1,       b1 = 2.1,       θ1 = 0.79
        //   d2 = 1.079,     b2 = 2.4295,    θ2 = 0.54705
        //   d3 = -0.945295, b3 = 1.7139025, θ3 = 0.37565975
        let mut spec = OptimizerSpec::new(OptimizerKind::Sgd, 0.1);
        spec.momentum = 0.9;
        spec.dampening = 0.5;
        spec.weight_decay = Some(0.1);
        let want = [0.79, 0.54705, 0.37565975];
        assert_close(&three_steps::<f64>(&spec), &want, 1e-15);
        let on_f32: Vec<f64> = three_steps::<f32>(&spec)
            .into_iter()
            .map(f64::from)
            .collect();
        assert_close(&on_f32, &want, 1e-6);
    }

    #[test]
    fn nesterov_looks_ahead_by_the_momentum() {
        // b1 = 2, d1 = 2 + 0.9·2 = 3.8; b2 = 2.8, d2 = 3.52; b3 = 1.52, d3 = 0.368.
        let spec = OptimizerSpec::named("nesterov", 0.1).unwrap();
        assert_close(&three_steps::<f64>(&spec), &[0.62, 0.268, 0.2312], 1e-15);
        // The same as sgd with --momentum 0.9 and --nesterov.
        let mut sgd = OptimizerSpec::new(OptimizerKind::Sgd, 0.1);
        sgd.momentum = 0.9;
        sgd.nesterov = true;
        assert_eq!(three_steps::<f64>(&sgd), three_steps::<f64>(&spec));
        assert_eq!(sgd.to_string(), "sgd (lr 0.1, momentum 0.9, nesterov)");
    }

    #[test]
    fn plain_sgd_and_momentum_by_hand() {
        let sgd = OptimizerSpec::new(OptimizerKind::Sgd, 0.1);
        assert_close(&three_steps::<f64>(&sgd), &[0.8, 0.7, 0.8], 1e-15);
        // b = 2, 2.8, 1.52: θ = 0.8, 0.52, 0.368.
        let momentum = OptimizerSpec::new(OptimizerKind::Momentum, 0.1);
        assert_close(&three_steps::<f64>(&momentum), &[0.8, 0.52, 0.368], 1e-15);
    }

    #[test]
    fn nesterov_without_momentum_is_refused_as_pytorch_refuses_it() {
        let mut spec = OptimizerSpec::new(OptimizerKind::Sgd, 0.1);
        spec.nesterov = true;
        let e = spec.validate().unwrap_err();
        assert_eq!(
            e,
            ConfigError::Nesterov {
                momentum: 0.0,
                dampening: 0.0
            }
        );
        assert!(spec.build::<f32>().is_err());
        let mut damped = OptimizerSpec::new(OptimizerKind::Nesterov, 0.1);
        damped.dampening = 0.1;
        assert!(damped.to_string().contains("dampening 0.1"));
        assert_eq!(
            damped.validate().unwrap_err().to_string(),
            "Nesterov momentum requires a momentum > 0 and zero dampening (got momentum 0.9, \
             dampening 0.1)"
        );
    }

    #[test]
    fn names_defaults_and_banners() {
        for kind in OptimizerKind::ALL {
            assert_eq!(kind.name().parse::<OptimizerKind>(), Ok(kind));
        }
        assert_eq!(" AdamW ".parse::<OptimizerKind>(), Ok(OptimizerKind::AdamW));
        assert_eq!(
            "rmsprop".parse::<OptimizerKind>().unwrap_err().to_string(),
            "unknown optimizer 'rmsprop' (expected one of sgd, momentum, nesterov, adam, adamw)"
        );
        let adamw = OptimizerSpec::new(OptimizerKind::AdamW, 0.02);
        assert_eq!(adamw.effective_weight_decay(), 0.01);
        assert_eq!(
            adamw.to_string(),
            "adamw (lr 0.02, betas 0.9, 0.999, eps 1e-8, weight decay 0.01)"
        );
        assert_eq!(
            OptimizerSpec::new(OptimizerKind::Adam, 1.0).effective_weight_decay(),
            0.0
        );
        assert_eq!(
            OptimizerSpec::new(OptimizerKind::Sgd, 0.5).to_string(),
            "sgd (lr 0.5)"
        );
        let e = OptimizerSpec::new(OptimizerKind::Adam, -1.0)
            .validate()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid learning rate -1: it must be a finite number >= 0"
        );
    }
}
