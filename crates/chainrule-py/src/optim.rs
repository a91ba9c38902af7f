//! The library's optimizers (`torch.optim`'s update formulas), stepping Python tensors in place.

use chainrule::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, ConfigError, CosineAnnealing, LrSchedule, Optimizer,
    OptimizerState, Sgd, SgdConfig, StepLr,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::errors::invalid;
use crate::local::Local;
use crate::tensor::py::{is_f64, PyTensor};
use crate::tensor::state::{Dtype, St};

enum Inner {
    F32(Box<dyn Optimizer<f32>>),
    F64(Box<dyn Optimizer<f64>>),
}

/// The update rule of an optimizer, applied to a list of parameters by `step`; `chainrule.optim`
/// builds `SGD`, `Adam` and `AdamW` on it.
#[pyclass(name = "_Optimizer", module = "chainrule", frozen)]
pub struct PyOptimizer {
    inner: Local<std::cell::RefCell<Option<Inner>>>,
    kind: String,
    settings: Local<std::cell::Cell<Settings>>,
    /// The sizes of the parameters of the first step: the state is made for them.
    sizes: Local<std::cell::RefCell<Option<Vec<usize>>>>,
}

#[derive(Clone, Copy)]
struct Settings {
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    weight_decay: f64,
    betas: (f64, f64),
    eps: f64,
    amsgrad: bool,
}

fn config_err(e: ConfigError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

impl Settings {
    fn build<T: chainrule::optim::Float>(&self, kind: &str) -> PyResult<Box<dyn Optimizer<T>>> {
        Ok(match kind {
            "sgd" => Box::new(
                Sgd::try_new(
                    SgdConfig::new(self.lr)
                        .momentum(self.momentum)
                        .dampening(self.dampening)
                        .nesterov(self.nesterov)
                        .weight_decay(self.weight_decay),
                )
                .map_err(config_err)?,
            ),
            "adam" => Box::new(
                Adam::try_new(
                    AdamConfig::new(self.lr)
                        .betas(self.betas.0, self.betas.1)
                        .eps(self.eps)
                        .weight_decay(self.weight_decay)
                        .amsgrad(self.amsgrad),
                )
                .map_err(config_err)?,
            ),
            "adamw" => Box::new(
                AdamW::try_new(
                    AdamWConfig::new(self.lr)
                        .betas(self.betas.0, self.betas.1)
                        .eps(self.eps)
                        .weight_decay(self.weight_decay)
                        .amsgrad(self.amsgrad),
                )
                .map_err(config_err)?,
            ),
            other => return Err(invalid(format!("unknown optimizer '{other}'"))),
        })
    }
}

/// One step of `opt` on the parameters (leaf tensors of type `T`): each is updated in place
/// from its `.grad` (zeros for a parameter that has none).
fn step_with<T: Dtype + chainrule::optim::Float>(
    opt: &mut dyn Optimizer<T>,
    params: &[Bound<'_, PyTensor>],
) -> PyResult<()> {
    let mut states: Vec<_> = params
        .iter()
        .map(|p| p.get().handle().state.borrow_mut())
        .collect();
    let mut zeros: Vec<Vec<T>> = Vec::new();
    let mut owned = Vec::with_capacity(states.len());
    for (i, s) in states.iter_mut().enumerate() {
        match T::get_mut(s) {
            Some(St::Owned(o)) if !o.freed => {
                o.forget_recording();
                owned.push(o)
            }
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "parameter {i} is not a leaf tensor of {}: optimizers update tensors made \
                     from data with requires_grad=True",
                    T::NUMPY
                )))
            }
        }
    }
    for o in &owned {
        if o.grad.is_none() {
            zeros.push(vec![T::ZERO; o.value.numel()]);
        }
    }
    // The gradients are read while the values are written: hold the gradient arrays apart
    // (shared, not copied).
    let grads: Vec<Option<chainrule::tensor::Array<T>>> =
        owned.iter().map(|o| o.grad.clone()).collect();
    let mut z = zeros.iter();
    let g: Vec<&[T]> = grads
        .iter()
        .map(|g| match g {
            Some(g) => g.data(),
            None => z.next().expect("one per missing gradient").as_slice(),
        })
        .collect();
    let mut values: Vec<&mut [T]> = owned.iter_mut().map(|o| o.value.data_mut()).collect();
    opt.step(&mut values, &g);
    Ok(())
}

#[pymethods]
impl PyOptimizer {
    #[new]
    #[pyo3(signature = (kind, lr, momentum = 0.0, dampening = 0.0, nesterov = false, weight_decay = 0.0, betas = (0.9, 0.999), eps = 1e-8, amsgrad = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: &str,
        lr: f64,
        momentum: f64,
        dampening: f64,
        nesterov: bool,
        weight_decay: f64,
        betas: (f64, f64),
        eps: f64,
        amsgrad: bool,
    ) -> PyResult<PyOptimizer> {
        let settings = Settings {
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
            betas,
            eps,
            amsgrad,
        };
        // Checked now, so that a bad setting fails at construction, as in PyTorch.
        settings.build::<f32>(kind)?;
        Ok(PyOptimizer {
            inner: Local(std::cell::RefCell::new(None)),
            kind: kind.to_string(),
            settings: Local(std::cell::Cell::new(settings)),
            sizes: Local(std::cell::RefCell::new(None)),
        })
    }

    /// One update of `params` (the same list, in the same order, at every step).
    fn step(&self, params: Vec<Bound<'_, PyTensor>>) -> PyResult<()> {
        if params.is_empty() {
            return Ok(());
        }
        let is64 = is_f64(params[0].get().handle());
        let mut inner = self.inner.borrow_mut();
        if inner.is_none() {
            *inner = Some(if is64 {
                Inner::F64(self.settings.get().build(&self.kind)?)
            } else {
                Inner::F32(self.settings.get().build(&self.kind)?)
            });
        }
        let groups: Vec<usize> = params
            .iter()
            .map(|p| p.get().dims().iter().product())
            .collect();
        {
            let mut sizes = self.sizes.borrow_mut();
            match sizes.as_ref() {
                Some(l) if *l != groups => {
                    return Err(invalid(format!(
                        "the optimizer's state was made for parameters of sizes {l:?}, this \
                         step has {groups:?}: give the same parameters at every step"
                    )))
                }
                Some(_) => {}
                None => *sizes = Some(groups),
            }
        }
        match inner.as_mut().expect("made above") {
            Inner::F32(o) => step_with::<f32>(o.as_mut(), &params),
            Inner::F64(o) => step_with::<f64>(o.as_mut(), &params),
        }
    }

    /// The learning rate of the next step.
    #[getter]
    fn lr(&self) -> f64 {
        match self.inner.borrow().as_ref() {
            Some(Inner::F32(o)) => o.lr(),
            Some(Inner::F64(o)) => o.lr(),
            None => self.settings.get().lr,
        }
    }

    #[setter]
    fn set_lr(&self, lr: f64) -> PyResult<()> {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "invalid learning rate {lr}: it must be a finite number >= 0"
            )));
        }
        match self.inner.borrow_mut().as_mut() {
            Some(Inner::F32(o)) => o.set_lr(lr),
            Some(Inner::F64(o)) => o.set_lr(lr),
            None => {}
        }
        // Kept for an optimizer not built yet.
        let mut s = self.settings.get();
        s.lr = lr;
        self.settings.set(s);
        Ok(())
    }

    /// The number of steps taken.
    #[getter]
    fn steps(&self) -> u64 {
        match self.inner.borrow().as_ref() {
            Some(Inner::F32(o)) => o.steps_taken(),
            Some(Inner::F64(o)) => o.steps_taken(),
            None => 0,
        }
    }

    /// The state: `(name, step, lr, [(buffer name, list of floats)])`.
    fn state(&self) -> (String, u64, f64, Vec<(String, Vec<f64>)>) {
        match self.inner.borrow().as_ref() {
            Some(Inner::F32(o)) => {
                let s = o.state();
                let b = s
                    .buffers
                    .into_iter()
                    .map(|(n, v)| (n, v.into_iter().map(f64::from).collect()))
                    .collect();
                (s.optimizer, s.step, s.lr, b)
            }
            Some(Inner::F64(o)) => {
                let s = o.state();
                (s.optimizer, s.step, s.lr, s.buffers)
            }
            None => (self.kind.clone(), 0, self.settings.get().lr, Vec::new()),
        }
    }

    /// Restores a state saved by `state()`; `float64` says which type the parameters have.
    fn load_state(
        &self,
        state: (String, u64, f64, Vec<(String, Vec<f64>)>),
        float64: bool,
    ) -> PyResult<()> {
        let (optimizer, step, lr, buffers) = state;
        let lengths = buffer_lengths(&OptimizerState {
            optimizer: optimizer.clone(),
            step,
            lr,
            buffers: buffers.clone(),
        });
        *self.sizes.borrow_mut() = lengths;
        let mut inner = self.inner.borrow_mut();
        if inner.is_none() {
            *inner = Some(if float64 {
                Inner::F64(self.settings.get().build(&self.kind)?)
            } else {
                Inner::F32(self.settings.get().build(&self.kind)?)
            });
        }
        match inner.as_mut().expect("made above") {
            Inner::F32(o) => o
                .load_state(&OptimizerState {
                    optimizer,
                    step,
                    lr,
                    buffers: buffers
                        .into_iter()
                        .map(|(n, v)| (n, v.into_iter().map(|x| x as f32).collect()))
                        .collect(),
                })
                .map_err(invalid),
            Inner::F64(o) => o
                .load_state(&OptimizerState {
                    optimizer,
                    step,
                    lr,
                    buffers,
                })
                .map_err(invalid),
        }
    }
}

/// The lengths of the parameter groups a state was made for (`None` before the first step).
fn buffer_lengths<T>(s: &OptimizerState<T>) -> Option<Vec<usize>> {
    let first_kind = s.buffers.first()?.0.split('.').next()?.to_string();
    Some(
        s.buffers
            .iter()
            .filter(|(n, _)| n.split('.').next() == Some(first_kind.as_str()))
            .map(|(_, v)| v.len())
            .collect(),
    )
}

/// The learning rate of a schedule at `epoch`: `"step"` (StepLR, `a` = step size, `b` =
/// gamma) or `"cosine"` (CosineAnnealingLR, `a` = T_max, `b` = eta_min), from the library's
/// closed forms.
#[pyfunction]
pub fn _schedule_lr(kind: &str, base_lr: f64, epoch: u64, a: f64, b: f64) -> PyResult<f64> {
    match kind {
        "step" => {
            if a < 1.0 {
                return Err(PyValueError::new_err("step_size must be at least 1"));
            }
            Ok(StepLr {
                step_size: a as u64,
                gamma: b,
            }
            .lr_at(base_lr, epoch))
        }
        "cosine" => {
            if a < 1.0 {
                return Err(PyValueError::new_err("T_max must be at least 1"));
            }
            Ok(CosineAnnealing {
                t_max: a as u64,
                eta_min: b,
            }
            .lr_at(base_lr, epoch))
        }
        other => Err(invalid(format!("unknown schedule '{other}'"))),
    }
}

/// Scales the gradients of `params` so that their joint L2 norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_`; returns the norm before clipping.
#[pyfunction]
pub fn clip_grad_norm_(params: Vec<Bound<'_, PyTensor>>, max_norm: f64) -> PyResult<f64> {
    if params.is_empty() {
        return Ok(0.0);
    }
    if is_f64(params[0].get().handle()) {
        clip::<f64>(&params, max_norm)
    } else {
        clip::<f32>(&params, max_norm)
    }
}

fn clip<T: Dtype + chainrule::optim::Float>(
    params: &[Bound<'_, PyTensor>],
    max_norm: f64,
) -> PyResult<f64> {
    let mut states: Vec<_> = params
        .iter()
        .map(|p| p.get().handle().state.borrow_mut())
        .collect();
    let mut grads: Vec<&mut [T]> = Vec::new();
    for s in states.iter_mut() {
        if let Some(St::Owned(o)) = T::get_mut(s) {
            if let Some(g) = o.grad.as_mut() {
                grads.push(g.data_mut());
            }
        } else {
            return Err(PyTypeError::new_err(
                "clip_grad_norm_: every parameter must be a leaf tensor of one type",
            ));
        }
    }
    Ok(chainrule::optim::clip_grad_norm(&mut grads, max_norm))
}
