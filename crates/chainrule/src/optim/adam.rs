//! Adam and AdamW.

use super::state::{self, OptimizerState, StateError};
use super::{check_range, ConfigError, Float, Optimizer, Shapes};
use crate::tensor::kernels::isa::vectorized;
use crate::tensor::kernels::parallel::{par_blocks, SendPtr, CHUNK, PAR_MIN};

/// The settings of [`Adam`], with PyTorch's names and defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// The learning rate γ (PyTorch's default 0.001).
    pub lr: f64,
    /// The decay rates (β₁, β₂) of the moment estimates (default 0.9, 0.999).
    pub betas: (f64, f64),
    /// The term ε added to the denominator (default 1e-8).
    pub eps: f64,
    /// The L2 penalty λ added to the gradient, `g ← g + λθ` (default 0).
    pub weight_decay: f64,
    /// Use the maximum of the second moments so far (AMSGrad; default off).
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig::new(1e-3)
    }
}

impl AdamConfig {
    /// PyTorch's defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdamConfig {
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }

    /// With decay rates `(beta1, beta2)`.
    pub fn betas(self, beta1: f64, beta2: f64) -> Self {
        AdamConfig {
            betas: (beta1, beta2),
            ..self
        }
    }

    /// With denominator term `eps`.
    pub fn eps(self, eps: f64) -> Self {
        AdamConfig { eps, ..self }
    }

    /// With weight decay `weight_decay`.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        AdamConfig {
            weight_decay,
            ..self
        }
    }

    /// With AMSGrad on or off.
    pub fn amsgrad(self, amsgrad: bool) -> Self {
        AdamConfig { amsgrad, ..self }
    }

    /// Checks the ranges PyTorch checks.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate(self.lr, self.betas, self.eps, self.weight_decay)
    }
}

fn validate(lr: f64, betas: (f64, f64), eps: f64, wd: f64) -> Result<(), ConfigError> {
    check_range(
        "learning rate",
        lr,
        lr >= 0.0 && lr.is_finite(),
        "a finite number >= 0",
    )?;
    check_range("beta1", betas.0, (0.0..1.0).contains(&betas.0), "in [0, 1)")?;
    check_range("beta2", betas.1, (0.0..1.0).contains(&betas.1), "in [0, 1)")?;
    check_range(
        "epsilon",
        eps,
        eps >= 0.0 && eps.is_finite(),
        "a finite number >= 0",
    )?;
    check_range(
        "weight decay",
        wd,
        wd >= 0.0 && wd.is_finite(),
        "a finite number >= 0",
    )
}

/// The settings of [`AdamW`]: those of Adam, but the weight decay is decoupled and defaults to
/// 0.01.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// The learning rate γ (default 0.001).
    pub lr: f64,
    /// The decay rates (β₁, β₂) of the moment estimates (default 0.9, 0.999).
    pub betas: (f64, f64),
    /// The term ε added to the denominator (default 1e-8).
    pub eps: f64,
    /// The decoupled weight decay λ, `θ ← θ - γλθ` before the Adam step (default 0.01).
    pub weight_decay: f64,
    /// Use the maximum of the second moments so far (AMSGrad; default off).
    pub amsgrad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig::new(1e-3)
    }
}

impl AdamWConfig {
    /// PyTorch's defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdamWConfig {
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    }

    /// With decay rates `(beta1, beta2)`.
    pub fn betas(self, beta1: f64, beta2: f64) -> Self {
        AdamWConfig {
            betas: (beta1, beta2),
            ..self
        }
    }

    /// With denominator term `eps`.
    pub fn eps(self, eps: f64) -> Self {
        AdamWConfig { eps, ..self }
    }

    /// With decoupled weight decay `weight_decay`.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        AdamWConfig {
            weight_decay,
            ..self
        }
    }

    /// With AMSGrad on or off.
    pub fn amsgrad(self, amsgrad: bool) -> Self {
        AdamWConfig { amsgrad, ..self }
    }

    /// Checks the ranges PyTorch checks.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate(self.lr, self.betas, self.eps, self.weight_decay)
    }
}

/// The moments shared by Adam and AdamW.
#[derive(Clone, Debug, Default)]
struct Moments<T> {
    shapes: Shapes,
    step: u64,
    exp_avg: Vec<Vec<T>>,
    exp_avg_sq: Vec<Vec<T>>,
    max_exp_avg_sq: Vec<Vec<T>>,
}

/// The hyper-parameters of one step: the learning rate, the betas, epsilon, the weight decay and
/// AMSGrad.
type Hyper = (f64, (f64, f64), f64, f64, bool);

/// One Adam step; `decoupled` is AdamW's weight decay, otherwise it is added to the gradient.
///
/// The loops run in the widest vector registers the processor has (the same arithmetic in the
/// same order on each lane, so every width gives the same numbers): the update touches every
/// parameter at every step, and with the baseline's four lanes it took a third of a small
/// network's training time. From [`PAR_MIN`] parameters on, blocks of [`CHUNK`] run on both
/// cores (each element's arithmetic is the same, so the numbers are too).
///
/// `decays[g]` false exempts group `g` from the weight decay (all groups decay without it).
#[allow(clippy::too_many_arguments)]
fn adam_step<T: Float>(
    who: &str,
    m: &mut Moments<T>,
    params: &mut [&mut [T]],
    grads: &[&[T]],
    hyper: Hyper,
    decoupled: bool,
    decays: Option<&[bool]>,
) {
    let amsgrad = hyper.4;
    if m.shapes.check(who, params, grads) {
        let zeros =
            || -> Vec<Vec<T>> { params.iter().map(|p| vec![T::default(); p.len()]).collect() };
        m.exp_avg = zeros();
        m.exp_avg_sq = zeros();
        m.max_exp_avg_sq = if amsgrad { zeros() } else { Vec::new() };
    }
    m.step += 1;
    let c = Constants::new(hyper, m.step, decoupled);
    let decays_group = |gi: usize| decays.is_none_or(|d| d.get(gi).copied().unwrap_or(true));
    let total: usize = params.iter().map(|p| p.len()).sum();
    if total < PAR_MIN || rayon::current_num_threads() < 2 {
        for (gi, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let vm = m.max_exp_avg_sq.get_mut(gi).map(|v| &mut v[..]);
            let (ma, va) = (&mut m.exp_avg[gi][..], &mut m.exp_avg_sq[gi][..]);
            update(p, g, ma, va, vm, &c, decays_group(gi));
        }
        return;
    }
    // Blocks of at most CHUNK elements of one group each, over raw pointers: every block
    // touches its own range of each of the group's arrays.
    let mut blocks = Vec::with_capacity(total / CHUNK + params.len());
    for (gi, p) in params.iter().enumerate() {
        for start in (0..p.len()).step_by(CHUNK) {
            blocks.push((gi, start, CHUNK.min(p.len() - start)));
        }
    }
    let ptrs = |v: &mut Vec<Vec<T>>| -> Vec<SendPtr<T>> {
        v.iter_mut().map(|a| SendPtr(a.as_mut_ptr())).collect()
    };
    let (pp, ma, va, vm) = (
        params
            .iter_mut()
            .map(|p| SendPtr(p.as_mut_ptr()))
            .collect::<Vec<_>>(),
        ptrs(&mut m.exp_avg),
        ptrs(&mut m.exp_avg_sq),
        ptrs(&mut m.max_exp_avg_sq),
    );
    par_blocks(blocks.len(), &|b| {
        let (gi, start, len) = blocks[b];
        // SAFETY: the blocks are disjoint ranges of each group's arrays, which all hold as
        // many elements as the group's parameters (checked by `shapes.check`), and outlive
        // `par_blocks`.
        unsafe {
            let part = |p: SendPtr<T>| std::slice::from_raw_parts_mut(p.get().add(start), len);
            update(
                part(pp[gi]),
                &grads[gi][start..start + len],
                part(ma[gi]),
                part(va[gi]),
                vm.get(gi).map(|&v| part(v)),
                &c,
                decays_group(gi),
            );
        }
    });
}

/// The numbers of one step that do not depend on the element.
#[derive(Clone, Copy)]
struct Constants<T> {
    lr: f64,
    wd: f64,
    amsgrad: bool,
    decoupled: bool,
    bias1: T,
    bias2: T,
    b1: T,
    b2: T,
    one_b1: T,
    one_b2: T,
    lr_t: T,
    eps_t: T,
}

impl<T: Float> Constants<T> {
    fn new((lr, (beta1, beta2), eps, wd, amsgrad): Hyper, step: u64, decoupled: bool) -> Self {
        let t = step as f64;
        Constants {
            lr,
            wd,
            amsgrad,
            decoupled,
            bias1: T::from_f64(1.0 - beta1.powf(t)),
            bias2: T::from_f64(1.0 - beta2.powf(t)),
            b1: T::from_f64(beta1),
            b2: T::from_f64(beta2),
            one_b1: T::from_f64(1.0 - beta1),
            one_b2: T::from_f64(1.0 - beta2),
            lr_t: T::from_f64(lr),
            eps_t: T::from_f64(eps),
        }
    }
}

/// The update of one group's parameters `p` (or a range of them) from their gradients `g`,
/// the moments `ma` and `va`, and with AMSGrad the largest second moments `vm`, in the widest
/// vector registers the processor has (AVX-512 only when the crate is built with its `avx512`
/// feature, as every other loop).
fn update<T: Float>(
    p: &mut [T],
    g: &[T],
    ma: &mut [T],
    va: &mut [T],
    vm: Option<&mut [T]>,
    c: &Constants<T>,
    decays: bool,
) {
    vectorized(
        #[inline(always)]
        || {
            let Constants {
                lr,
                amsgrad,
                decoupled,
                bias1,
                bias2,
                b1,
                b2,
                one_b1,
                one_b2,
                lr_t,
                eps_t,
                ..
            } = *c;
            let wd = if decays { c.wd } else { 0.0 };
            let (wd_t, decay) = (T::from_f64(wd), T::from_f64(1.0 - lr * wd));
            // One plain loop per case, over zipped slices, so that each compiles to vector code; every
            // case does the arithmetic of the formula above, in the same order.
            let moments = |ma: &mut T, va: &mut T, d: T| {
                *ma = b1 * *ma + one_b1 * d;
                *va = b2 * *va + one_b2 * d * d;
            };
            let update = |theta: &mut T, ma: T, v: T| {
                let m_hat = ma / bias1;
                let v_hat = v / bias2;
                *theta = *theta - lr_t * m_hat / (v_hat.sqrt() + eps_t);
            };
            let lanes = p
                .iter_mut()
                .zip(g.iter())
                .zip(ma.iter_mut().zip(va.iter_mut()));
            if let (true, Some(vm)) = (amsgrad, vm) {
                for (((theta, &grad), (ma, va)), vm) in lanes.zip(vm.iter_mut()) {
                    let mut d = grad;
                    if wd != 0.0 {
                        if decoupled {
                            *theta = *theta * decay;
                        } else {
                            d = d + wd_t * *theta;
                        }
                    }
                    moments(ma, va, d);
                    if *va > *vm || va.value().is_nan() {
                        // Also carries a NaN forward, as torch.maximum does.
                        *vm = *va;
                    }
                    update(theta, *ma, *vm);
                }
            } else if wd == 0.0 {
                for ((theta, &grad), (ma, va)) in lanes {
                    moments(ma, va, grad);
                    update(theta, *ma, *va);
                }
            } else if decoupled {
                for ((theta, &grad), (ma, va)) in lanes {
                    *theta = *theta * decay;
                    moments(ma, va, grad);
                    update(theta, *ma, *va);
                }
            } else {
                for ((theta, &grad), (ma, va)) in lanes {
                    let d = grad + wd_t * *theta;
                    moments(ma, va, d);
                    update(theta, *ma, *va);
                }
            }
        },
    )
}

impl<T: Float> Moments<T> {
    fn kinds(amsgrad: bool) -> &'static [&'static str] {
        if amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        }
    }

    fn state(&self, name: &str, lr: f64, amsgrad: bool) -> OptimizerState<T> {
        let buffers = if self.shapes.lengths().is_none() {
            Vec::new()
        } else if amsgrad {
            state::save(
                Self::kinds(true),
                &[&self.exp_avg, &self.exp_avg_sq, &self.max_exp_avg_sq],
            )
        } else {
            state::save(Self::kinds(false), &[&self.exp_avg, &self.exp_avg_sq])
        };
        OptimizerState {
            optimizer: name.to_string(),
            step: self.step,
            lr,
            buffers,
        }
    }

    fn load(
        &mut self,
        name: &str,
        amsgrad: bool,
        saved: &OptimizerState<T>,
    ) -> Result<(), StateError> {
        let (mut bufs, lengths) = state::load(name, Self::kinds(amsgrad), saved)?;
        self.max_exp_avg_sq = if amsgrad {
            bufs.pop().unwrap_or_default()
        } else {
            Vec::new()
        };
        self.exp_avg_sq = bufs.pop().unwrap_or_default();
        self.exp_avg = bufs.pop().unwrap_or_default();
        self.shapes.set(lengths);
        self.step = saved.step;
        Ok(())
    }
}

/// Adam as `torch.optim.Adam`.
///
/// For each step t = 1, 2, … and each parameter θ with gradient g (all moments start at 0):
///
/// ```text
/// if λ ≠ 0:  g ← g + λ θ
/// m ← β₁ m + (1 - β₁) g
/// v ← β₂ v + (1 - β₂) g²
/// m̂ ← m / (1 - β₁ᵗ)
/// v̂ ← v / (1 - β₂ᵗ)        or, with AMSGrad:  v_max ← max(v_max, v),  v̂ ← v_max / (1 - β₂ᵗ)
/// θ ← θ - γ m̂ / (√v̂ + ε)
/// ```
///
/// ```
/// use chainrule::optim::{Adam, AdamConfig, Optimizer};
///
/// // The first Adam step moves each parameter by about the learning rate, whatever the gradient.
/// let mut adam = Adam::new(AdamConfig::new(0.1));
/// let mut x = vec![1.0_f64, -3.0];
/// adam.step(&mut [&mut x], &[&[250.0, -0.004]]);
/// assert!((x[0] - 0.9).abs() < 1e-9 && (x[1] + 2.9).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct Adam<T> {
    config: AdamConfig,
    moments: Moments<T>,
    decays: Option<Vec<bool>>,
}

/// AdamW as `torch.optim.AdamW`: Adam with decoupled weight decay.
///
/// Each step first shrinks every parameter, `θ ← θ - γλθ`, then takes the Adam step of
/// [`Adam`] with the raw gradient (no `λθ` added to it).
///
/// ```
/// use chainrule::optim::{AdamW, AdamWConfig, Optimizer};
///
/// // With a zero gradient only the decay acts: θ ← (1 - 0.1·0.5) θ.
/// let mut opt = AdamW::new(AdamWConfig::new(0.1).weight_decay(0.5));
/// let mut x = vec![2.0_f64];
/// opt.step(&mut [&mut x], &[&[0.0]]);
/// assert!((x[0] - 1.9).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct AdamW<T> {
    config: AdamWConfig,
    moments: Moments<T>,
    decays: Option<Vec<bool>>,
}

impl<T: Float> AdamW<T> {
    /// The same optimizer with weight decay only on the parameter groups whose flag is true,
    /// as PyTorch's parameter groups `[{"params": decay, "weight_decay": λ}, {"params": rest,
    /// "weight_decay": 0}]`; nanoGPT's `configure_optimizers` decays the weights of two or more
    /// dimensions and not the biases and layer norms. Groups past the end of `decays` decay.
    ///
    /// ```
    /// use chainrule::optim::{AdamW, AdamWConfig, Optimizer};
    ///
    /// let mut opt = AdamW::new(AdamWConfig::new(0.1).weight_decay(0.5)).with_decays(vec![true, false]);
    /// let (mut w, mut b) = (vec![2.0_f64], vec![2.0_f64]);
    /// opt.step(&mut [&mut w, &mut b], &[&[0.0], &[0.0]]);
    /// assert_eq!((w[0], b[0]), (1.9, 2.0));
    /// ```
    pub fn with_decays(mut self, decays: Vec<bool>) -> Self {
        self.decays = Some(decays);
        self
    }

    /// Which parameter groups decay (`None`: all of them).
    pub fn decays(&self) -> Option<&[bool]> {
        self.decays.as_deref()
    }
}

/// The constructors and the [`Optimizer`] implementation of [`Adam`] and [`AdamW`], which differ
/// only in their names, their configuration type and whether the decay is decoupled.
macro_rules! adam_optimizer {
    ($Name:ident, $Config:ident, $display:literal, $name:literal, decoupled: $decoupled:literal) => {
        impl<T: Float> $Name<T> {
            /// An optimizer with these settings.
            ///
            /// # Panics
            #[doc = concat!(
                "If a setting is out of range (see [`", stringify!($Config), "::validate`]); [`",
                stringify!($Name), "::try_new`] returns the error instead."
            )]
            pub fn new(config: $Config) -> Self {
                Self::try_new(config).unwrap_or_else(|e| panic!("{e}"))
            }

            /// An optimizer with these settings, or the first one out of range.
            pub fn try_new(config: $Config) -> Result<Self, ConfigError> {
                config.validate()?;
                Ok($Name {
                    config,
                    moments: Moments::default(),
                    decays: None,
                })
            }

            /// The settings (with the current learning rate).
            pub fn config(&self) -> &$Config {
                &self.config
            }
        }

        impl<T: Float> Optimizer<T> for $Name<T> {
            fn step(&mut self, params: &mut [&mut [T]], grads: &[&[T]]) {
                let c = self.config;
                adam_step(
                    $display,
                    &mut self.moments,
                    params,
                    grads,
                    (c.lr, c.betas, c.eps, c.weight_decay, c.amsgrad),
                    $decoupled,
                    self.decays.as_deref(),
                );
            }

            fn lr(&self) -> f64 {
                self.config.lr
            }

            fn set_lr(&mut self, lr: f64) {
                self.config.lr = lr;
            }

            fn steps_taken(&self) -> u64 {
                self.moments.step
            }

            fn name(&self) -> &'static str {
                $name
            }

            fn state(&self) -> OptimizerState<T> {
                self.moments.state($name, self.config.lr, self.config.amsgrad)
            }

            fn load_state(&mut self, saved: &OptimizerState<T>) -> Result<(), StateError> {
                self.moments.load($name, self.config.amsgrad, saved)?;
                self.config.lr = saved.lr;
                Ok(())
            }

            fn reset(&mut self) {
                self.moments = Moments::default();
            }
        }
    };
}

adam_optimizer!(Adam, AdamConfig, "Adam", "adam", decoupled: false);
adam_optimizer!(AdamW, AdamWConfig, "AdamW", "adamw", decoupled: true);
