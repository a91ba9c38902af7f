//! Learning-rate schedules, as PyTorch's closed forms.

use std::f64::consts::PI;

/// A learning rate that depends on the epoch (or step) number.
///
/// Apply it with [`super::Optimizer::set_lr`] before each epoch:
///
/// ```
/// use chainrule::optim::{LrSchedule, Optimizer, Sgd, SgdConfig, StepLr};
///
/// let base = 0.1;
/// let schedule = StepLr { step_size: 2, gamma: 0.5 };
/// let mut sgd = Sgd::<f64>::new(SgdConfig::new(base));
/// let mut seen = Vec::new();
/// for epoch in 0..5 {
///     sgd.set_lr(schedule.lr_at(base, epoch));
///     seen.push(sgd.lr());
/// }
/// assert_eq!(seen, [0.1, 0.1, 0.05, 0.05, 0.025]);
/// ```
pub trait LrSchedule {
    /// The learning rate for epoch `epoch` (counted from 0) when it starts at `base_lr`.
    fn lr_at(&self, base_lr: f64, epoch: u64) -> f64;
}

/// Multiplies the learning rate by `gamma` every `step_size` epochs:
/// `lr = base_lr · gamma^⌊epoch / step_size⌋` (`torch.optim.lr_scheduler.StepLR`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLr {
    /// The number of epochs between two decays (at least 1).
    pub step_size: u64,
    /// The factor of each decay.
    pub gamma: f64,
}

impl LrSchedule for StepLr {
    /// # Panics
    /// If `step_size` is 0.
    fn lr_at(&self, base_lr: f64, epoch: u64) -> f64 {
        assert!(self.step_size > 0, "StepLr: step_size must be at least 1");
        let k = epoch / self.step_size;
        base_lr * self.gamma.powf(k as f64)
    }
}

/// Cosine annealing from the base rate down to `eta_min` over `t_max` epochs:
/// `lr = eta_min + (base_lr - eta_min) · (1 + cos(π · epoch / t_max)) / 2`
/// (the closed form of `torch.optim.lr_scheduler.CosineAnnealingLR`; past `t_max` the cosine
/// climbs back, as PyTorch's closed form does).
///
/// ```
/// use chainrule::optim::{CosineAnnealing, LrSchedule};
///
/// let s = CosineAnnealing { t_max: 10, eta_min: 0.0 };
/// assert_eq!(s.lr_at(1.0, 0), 1.0);
/// assert!((s.lr_at(1.0, 5) - 0.5).abs() < 1e-15);
/// assert!(s.lr_at(1.0, 10).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineAnnealing {
    /// The number of epochs of the half period (at least 1).
    pub t_max: u64,
    /// The lowest learning rate.
    pub eta_min: f64,
}

impl LrSchedule for CosineAnnealing {
    /// # Panics
    /// If `t_max` is 0.
    fn lr_at(&self, base_lr: f64, epoch: u64) -> f64 {
        assert!(self.t_max > 0, "CosineAnnealing: t_max must be at least 1");
        let phase = PI * epoch as f64 / self.t_max as f64;
        self.eta_min + (base_lr - self.eta_min) * (1.0 + phase.cos()) / 2.0
    }
}

/// How the learning rate changes over a run, by name: `none` (constant), `cosine` (cosine
/// annealing to 0 over the run, step by step) or `step` (divided by 10 after each third of the
/// epochs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScheduleKind {
    /// The base rate throughout.
    #[default]
    Constant,
    /// [`CosineAnnealing`] from the base rate to 0, over the steps after the warm-up.
    Cosine,
    /// [`StepLr`] with `gamma` 0.1 every third of the epochs (at least every epoch).
    Step,
}

impl ScheduleKind {
    /// The name (`none`, `cosine`, `step`).
    pub fn name(self) -> &'static str {
        match self {
            ScheduleKind::Constant => "none",
            ScheduleKind::Cosine => "cosine",
            ScheduleKind::Step => "step",
        }
    }
}

impl std::fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ScheduleKind {
    type Err = super::ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ScheduleKind::Constant,
            ScheduleKind::Cosine,
            ScheduleKind::Step,
        ]
        .into_iter()
        .find(|k| k.name() == s.trim())
        .ok_or_else(|| super::ConfigError::UnknownSchedule {
            name: s.to_string(),
        })
    }
}

/// The learning rate of every optimizer step of a run: a linear warm-up over `warmup` steps,
/// then the schedule of `kind` over the rest.
///
/// During the warm-up, step `t` (from 0) uses `base · (t + 1) / warmup`, as a linear ramp from
/// nearly 0 that reaches the base rate at the last warm-up step; a warm-up longer than the run
/// is shortened to the run.
///
/// ```
/// use chainrule::optim::{Schedule, ScheduleKind};
///
/// let s = Schedule { kind: ScheduleKind::Cosine, warmup: 10 };
/// // 4 epochs of 25 steps.
/// assert_eq!(s.lr_at(0.1, 0, 25, 4), 0.01);
/// assert_eq!(s.lr_at(0.1, 9, 25, 4), 0.1);
/// assert!((s.lr_at(0.1, 55, 25, 4) - 0.05).abs() < 1e-12); // half way through the cosine
/// let step = Schedule { kind: ScheduleKind::Step, warmup: 0 };
/// assert_eq!(step.lr_at(0.1, 3 * 25, 25, 9), 0.010000000000000002); // the start of epoch 4
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// The shape after the warm-up.
    pub kind: ScheduleKind,
    /// The number of warm-up steps (0: none).
    pub warmup: u64,
}

impl Schedule {
    /// Whether the rate is the base rate at every step.
    pub fn is_constant(&self) -> bool {
        self.kind == ScheduleKind::Constant && self.warmup == 0
    }

    /// The rate of step `step` (from 0) of a run of `epochs` epochs of `steps_per_epoch` steps,
    /// from `base_lr`.
    pub fn lr_at(&self, base_lr: f64, step: u64, steps_per_epoch: u64, epochs: u64) -> f64 {
        let total = steps_per_epoch.max(1) * epochs.max(1);
        let warmup = self.warmup.min(total);
        if step < warmup {
            return base_lr * (step + 1) as f64 / warmup as f64;
        }
        match self.kind {
            ScheduleKind::Constant => base_lr,
            ScheduleKind::Cosine => CosineAnnealing {
                t_max: (total - warmup).max(1),
                eta_min: 0.0,
            }
            .lr_at(base_lr, (step - warmup).min(total - warmup)),
            ScheduleKind::Step => StepLr {
                step_size: (epochs / 3).max(1),
                gamma: 0.1,
            }
            .lr_at(base_lr, step / steps_per_epoch.max(1)),
        }
    }
}

/// A linear warmup, then a cosine decay to a minimum, then the minimum: nanoGPT's `get_lr`.
///
/// For step `it` (from 0) and base rate `lr`:
///
/// ```text
/// it < warmup:           lr · (it + 1) / (warmup + 1)
/// it > decay_steps:      min_lr
/// otherwise:             min_lr + (lr - min_lr) · (1 + cos(π · (it - warmup) / (decay_steps - warmup))) / 2
/// ```
///
/// ```
/// use chainrule::optim::{LrSchedule, WarmupCosine};
///
/// let s = WarmupCosine { warmup: 100, decay_steps: 2000, min_lr: 1e-4 };
/// assert_eq!(s.lr_at(1e-3, 0), 1e-3 / 101.0);
/// assert_eq!(s.lr_at(1e-3, 100), 1e-3);
/// assert!((s.lr_at(1e-3, 1050) - 5.5e-4).abs() < 1e-12);
/// assert_eq!(s.lr_at(1e-3, 2001), 1e-4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupCosine {
    /// The number of warmup steps.
    pub warmup: u64,
    /// The step at which the rate reaches `min_lr` (nanoGPT's `lr_decay_iters`).
    pub decay_steps: u64,
    /// The lowest rate.
    pub min_lr: f64,
}

impl LrSchedule for WarmupCosine {
    fn lr_at(&self, base_lr: f64, it: u64) -> f64 {
        if it < self.warmup {
            return base_lr * (it + 1) as f64 / (self.warmup + 1) as f64;
        }
        if it > self.decay_steps {
            return self.min_lr;
        }
        let span = self.decay_steps.saturating_sub(self.warmup);
        let ratio = if span == 0 {
            1.0
        } else {
            (it - self.warmup) as f64 / span as f64
        };
        let coeff = 0.5 * (1.0 + (PI * ratio).cos());
        self.min_lr + coeff * (base_lr - self.min_lr)
    }
}
