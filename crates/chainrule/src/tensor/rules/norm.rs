//! Normalisation layers' functions: `batch_norm` and `layer_norm`, as in
//! `torch.nn.functional`.
//!
//! Both are *fused*: on numbers they run as a few passes of [`crate::tensor::kernels::norm`]
//! instead of the ten or so element-wise operations they are made of. Their recorded products
//! (for second derivatives) come from their definitions written with ordinary tensor operations
//! (`definition` below), through [`super::super::sweep`]'s `vjp_by_definition` and
//! `jvp_by_definition`: the formula is written once, and the fast path is checked against it.

use std::borrow::Cow;

use super::{recorded_by_definition, Explain, Numbers, Op, Rule};
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels::{self, BatchNormDims};
use crate::tensor::shape::{fmt_shape, Result, TensorError};
use crate::tensor::tape::Tensor;

/// How [`Tensor::batch_norm`] normalises, with PyTorch's defaults: training (batch statistics),
/// momentum 0.1 for the running statistics, `eps` 1e-5.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormOptions {
    /// Normalise by the batch's statistics (and update the running ones), or, when false, by
    /// the running statistics.
    pub training: bool,
    /// The weight of the batch's statistics in the running ones.
    pub momentum: f64,
    /// Added to the variance before its square root.
    pub eps: f64,
}

impl Default for BatchNormOptions {
    fn default() -> Self {
        BatchNormOptions {
            training: true,
            momentum: 0.1,
            eps: 1e-5,
        }
    }
}

/// A training-mode batch normalisation, with the statistics it used.
#[derive(Clone, Debug)]
pub(crate) struct BatchNorm {
    pub x: usize,
    pub weight: Option<usize>,
    pub bias: Option<usize>,
    pub dims: BatchNormDims,
    pub eps: f64,
    pub mean: Vec<f64>,
    pub invstd: Vec<f64>,
}

/// The inputs of a normalisation: the input, then the weight and the bias when there are.
fn ids(x: usize, weight: Option<usize>, bias: Option<usize>) -> Vec<usize> {
    let mut v = vec![x];
    v.extend(weight);
    v.extend(bias);
    v
}

/// Pushes the gradients of a normalisation's input (when asked), weight and bias (when they
/// need one), giving back the buffers not wanted.
fn push_gradients<T: Element>(
    cx: &Numbers<'_, T>,
    out: &mut Vec<(usize, Vec<T>)>,
    (x, dx): (usize, Option<Vec<T>>),
    (weight, dw): (Option<usize>, Vec<T>),
    (bias, db): (Option<usize>, Vec<T>),
) {
    out.extend(dx.map(|dx| (x, dx)));
    for (id, d) in [(weight, dw), (bias, db)] {
        match id.filter(|&j| cx.needs(j)) {
            Some(j) => out.push((j, d)),
            None => cx.recycle(d),
        }
    }
}

/// The lines of a normalisation's backward step for [`Rule::explain_vjp`]: its input's (the
/// statistics taken `per` channel or row), and its weight's and bias's when it has them.
fn explain_norm(
    cx: &Explain<'_>,
    y: usize,
    (x, weight, bias): (usize, Option<usize>, Option<usize>),
    per: &str,
) -> Vec<(usize, String)> {
    let gy = cx.grad(y);
    let gamma = weight.map_or("1".to_string(), |w| cx.name(w).to_string());
    let mut lines = vec![(
        x,
        format!(
            "{} = {gamma}/σ ⊙ ({gy} − mean({gy}) − x̂ ⊙ mean({gy} ⊙ x̂)), {per}   {}",
            cx.grad(x),
            cx.shape(x)
        ),
    )];
    if let Some(w) = weight {
        lines.push((w, format!("{} = Σ {gy} ⊙ x̂   {}", cx.grad(w), cx.shape(w))));
    }
    if let Some(b) = bias {
        lines.push((b, format!("{} = Σ {gy}   {}", cx.grad(b), cx.shape(b))));
    }
    lines
}

impl BatchNorm {
    fn ids(&self) -> Vec<usize> {
        ids(self.x, self.weight, self.bias)
    }

    /// The definition: `(x − mean) / √(var + eps) · weight + bias`, statistics over every axis
    /// but the channels' (axis 1), `xs` being `[x, weight?, bias?]`.
    fn definition<'t, T: Element>(&self, xs: &[Tensor<'t, T>]) -> Result<Tensor<'t, T>> {
        let x = xs[0];
        let axes: Vec<isize> = (0..x.ndim() as isize).filter(|&a| a != 1).collect();
        let centred = x - x.mean(&axes, true)?;
        let var = (centred * centred).mean(&axes, true)?;
        let mut y = centred * (var + self.eps).powf(-0.5);
        let mut at = 1;
        let channel = |t: Tensor<'t, T>| {
            let mut shape = vec![1isize; x.ndim()];
            shape[1] = -1;
            t.reshape(&shape)
        };
        if self.weight.is_some() {
            y = y * channel(xs[at])?;
            at += 1;
        }
        if self.bias.is_some() {
            y = y + channel(xs[at])?;
        }
        Ok(y)
    }
}

impl<T: Element> Rule<T> for BatchNorm {
    fn name(&self) -> Cow<'static, str> {
        "batch_norm".into()
    }
    fn inputs(&self) -> Vec<usize> {
        self.ids()
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        explain_norm(cx, y, (self.x, self.weight, self.bias), "per channel")
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let x = cx.value(self.x);
        let c = self.dims.channels;
        let weight = self.weight.map(|w| cx.value(w).data());
        let mut dx = cx.needs(self.x).then(|| cx.buffer(x.numel()));
        let (mut dw, mut db) = (cx.buffer(c), cx.buffer(c));
        kernels::batch_norm_backward(
            x.data(),
            g,
            &self.dims,
            &self.mean,
            &self.invstd,
            weight,
            dx.as_deref_mut(),
            &mut dw,
            &mut db,
        );
        push_gradients(cx, out, (self.x, dx), (self.weight, dw), (self.bias, db));
    }
    recorded_by_definition!();
}

/// A layer normalisation over the last dimensions (`len` values per row), with the statistics
/// it used.
#[derive(Clone, Debug)]
pub(crate) struct LayerNorm {
    pub x: usize,
    pub weight: Option<usize>,
    pub bias: Option<usize>,
    /// How many trailing dimensions are normalised.
    pub dims: usize,
    pub rows: usize,
    pub len: usize,
    pub eps: f64,
    pub mean: Vec<f64>,
    pub invstd: Vec<f64>,
}

impl LayerNorm {
    fn ids(&self) -> Vec<usize> {
        ids(self.x, self.weight, self.bias)
    }

    /// The definition: `(x − mean) / √(var + eps) · weight + bias`, statistics over the last
    /// `dims` axes, `xs` being `[x, weight?, bias?]`.
    fn definition<'t, T: Element>(&self, xs: &[Tensor<'t, T>]) -> Result<Tensor<'t, T>> {
        let x = xs[0];
        let n = x.ndim() as isize;
        let axes: Vec<isize> = (n - self.dims as isize..n).collect();
        let centred = x - x.mean(&axes, true)?;
        let var = (centred * centred).mean(&axes, true)?;
        let mut y = centred * (var + self.eps).powf(-0.5);
        let mut at = 1;
        if self.weight.is_some() {
            y = y * xs[at];
            at += 1;
        }
        if self.bias.is_some() {
            y = y + xs[at];
        }
        Ok(y)
    }
}

impl<T: Element> Rule<T> for LayerNorm {
    fn name(&self) -> Cow<'static, str> {
        "layer_norm".into()
    }
    fn inputs(&self) -> Vec<usize> {
        self.ids()
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        explain_norm(cx, y, (self.x, self.weight, self.bias), "per row")
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let x = cx.value(self.x);
        let weight = self.weight.map(|w| cx.value(w).data());
        let mut dx = cx.needs(self.x).then(|| cx.buffer(x.numel()));
        let (mut dw, mut db) = (cx.buffer(self.len), cx.buffer(self.len));
        let blocks = kernels::layer_norm_blocks(self.rows, self.len);
        let mut scratch = cx.buffer(2 * self.len * blocks);
        kernels::layer_norm_backward(
            x.data(),
            g,
            self.rows,
            self.len,
            &self.mean,
            &self.invstd,
            weight,
            dx.as_deref_mut(),
            &mut dw,
            &mut db,
            &mut scratch,
        );
        cx.recycle(scratch);
        push_gradients(cx, out, (self.x, dx), (self.weight, dw), (self.bias, db));
    }
    recorded_by_definition!();
}

/// Checks that an optional per-feature parameter has `shape`.
fn check_param<T: Element>(
    op: &'static str,
    what: &str,
    t: Option<Tensor<'_, T>>,
    shape: &[usize],
) -> Result<()> {
    match t {
        Some(t) if t.shape() != shape => Err(TensorError::new(
            op,
            format!(
                "the {what} has shape {} but should have {}",
                fmt_shape(&t.shape()),
                fmt_shape(shape)
            ),
        )),
        _ => Ok(()),
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// Batch normalisation, as `torch.nn.functional.batch_norm`: the input is
    /// `[batch, channels, ...]`; each channel is normalised by its mean and (biased) variance
    /// over the batch and the other axes, then scaled by `weight` and shifted by `bias` (both
    /// `[channels]`, optional).
    ///
    /// In training (`options.training`), the batch's statistics are used, and the running ones,
    /// when given as `(running_mean, running_var)`, are updated: `r ← (1 − momentum)·r +
    /// momentum·s`, with the *unbiased* variance, as PyTorch. Otherwise the running statistics
    /// are used (and required).
    ///
    /// ```
    /// use chainrule::tensor::rules::norm::BatchNormOptions;
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]).unwrap());
    /// let (mut mean, mut var) = (Array::zeros(&[2]), Array::ones(&[2]));
    /// let y = x
    ///     .batch_norm(Some((&mut mean, &mut var)), None, None, BatchNormOptions::default())
    ///     .unwrap();
    /// let y = y.to_vec();
    /// assert!((y[0] + 1.0).abs() < 1e-5 && (y[2] - 1.0).abs() < 1e-5); // (1 − 2)/1, (3 − 2)/1
    /// assert_eq!(mean.to_vec(), vec![0.2, 2.0]); // 0.1 · (2, 20)
    /// ```
    #[track_caller]
    pub fn batch_norm(
        self,
        running: Option<(&mut Array<T>, &mut Array<T>)>,
        weight: impl Into<Option<Tensor<'t, T>>>,
        bias: impl Into<Option<Tensor<'t, T>>>,
        options: BatchNormOptions,
    ) -> Result<Tensor<'t, T>> {
        let (weight, bias) = (weight.into(), bias.into());
        let xs = self.shape();
        if xs.len() < 2 {
            return Err(TensorError::new(
                "batch_norm",
                format!(
                    "expected an input of shape [batch, channels, ...], got {}",
                    fmt_shape(&xs)
                ),
            ));
        }
        let c = xs[1];
        let dims = BatchNormDims {
            batch: xs[0],
            channels: c,
            len: xs[2..].iter().product(),
        };
        check_param("batch_norm", "weight", weight, &[c])?;
        check_param("batch_norm", "bias", bias, &[c])?;
        if let Some((m, v)) = &running {
            for (what, a) in [("running mean", &**m), ("running variance", &**v)] {
                if a.shape() != [c] {
                    return Err(TensorError::new(
                        "batch_norm",
                        format!(
                            "the {what} has shape {} but the input {} has {c} channels",
                            fmt_shape(a.shape()),
                            fmt_shape(&xs)
                        ),
                    ));
                }
            }
        }
        if !options.training {
            let Some((rm, rv)) = running else {
                return Err(TensorError::new(
                    "batch_norm",
                    "evaluation (training: false) needs the running statistics",
                ));
            };
            return self.batch_norm_eval(rm, rv, weight, bias, options.eps);
        }
        let m = dims.per_channel();
        if m < 2 {
            return Err(TensorError::new(
                "batch_norm",
                format!(
                    "expected more than 1 value per channel when training, got input of shape {}",
                    fmt_shape(&xs)
                ),
            ));
        }
        let x = self.value();
        let (mut mean, mut var) = (vec![0.0; c], vec![0.0; c]);
        kernels::batch_norm_stats(x.data(), &dims, &mut mean, &mut var);
        let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + options.eps).sqrt()).collect();
        if let Some((rm, rv)) = running {
            let (mo, unbias) = (options.momentum, m as f64 / (m - 1) as f64);
            for (r, &s) in rm.data_mut().iter_mut().zip(&mean) {
                *r = T::from_f64((1.0 - mo) * r.value() + mo * s);
            }
            for (r, &s) in rv.data_mut().iter_mut().zip(&var) {
                *r = T::from_f64((1.0 - mo) * r.value() + mo * s * unbias);
            }
        }
        let (wv, bv) = (weight.map(|t| t.value()), bias.map(|t| t.value()));
        let mut out = self.tape.buffer(x.numel());
        kernels::batch_norm_apply(
            x.data(),
            &dims,
            &mean,
            &invstd,
            wv.as_ref().map(|a| a.data()),
            bv.as_ref().map(|a| a.data()),
            &mut out,
        );
        let node = BatchNorm {
            x: self.id,
            weight: weight.map(|t| t.id),
            bias: bias.map(|t| t.id),
            dims,
            eps: options.eps,
            mean,
            invstd,
        };
        let ids = node.ids();
        Ok(self.tape.record(
            Array::from_parts(out, xs),
            Op::BatchNorm(Box::new(node)),
            &ids,
        ))
    }

    /// Evaluation-mode batch normalisation: the running statistics are constants, so this is
    /// an affine map per channel, recorded as ordinary operations.
    #[track_caller]
    fn batch_norm_eval(
        self,
        rm: &Array<T>,
        rv: &Array<T>,
        weight: Option<Tensor<'t, T>>,
        bias: Option<Tensor<'t, T>>,
        eps: f64,
    ) -> Result<Tensor<'t, T>> {
        let tape = self.tape;
        let mut shape = vec![1usize; self.ndim()];
        shape[1] = rm.numel();
        let per_channel = |v: Vec<T>| tape.constant(Array::from_parts(v, shape.clone()));
        let invstd = rv
            .data()
            .iter()
            .map(|&v| T::from_f64(1.0 / (v.value() + eps).sqrt()))
            .collect();
        let mut y = (self - per_channel(rm.to_vec())) * per_channel(invstd);
        let channel = |t: Tensor<'t, T>| t.reshape_to(shape.clone());
        if let Some(w) = weight {
            y = y * channel(w)?;
        }
        if let Some(b) = bias {
            y = y + channel(b)?;
        }
        Ok(y)
    }

    /// Layer normalisation, as `torch.nn.functional.layer_norm`: each row of the last
    /// `normalized_shape.len()` dimensions (which must equal `normalized_shape`) is normalised
    /// by its mean and (biased) variance, then scaled by `weight` and shifted by `bias` (both of
    /// `normalized_shape`, optional).
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_vec(vec![1.0, 2.0, 3.0, 10.0, 10.0, 10.0], &[2, 3]).unwrap());
    /// let y = x.layer_norm(&[3], None, None, 1e-5).unwrap().to_vec();
    /// assert!((y[0] + 1.2247).abs() < 1e-4 && y[1].abs() < 1e-12 && y[4] == 0.0);
    /// ```
    #[track_caller]
    pub fn layer_norm(
        self,
        normalized_shape: &[usize],
        weight: impl Into<Option<Tensor<'t, T>>>,
        bias: impl Into<Option<Tensor<'t, T>>>,
        eps: f64,
    ) -> Result<Tensor<'t, T>> {
        let (weight, bias) = (weight.into(), bias.into());
        let xs = self.shape();
        let k = normalized_shape.len();
        if k == 0 || k > xs.len() || xs[xs.len() - k..] != *normalized_shape {
            return Err(TensorError::new(
                "layer_norm",
                format!(
                    "the input {} does not end with the normalized shape {}",
                    fmt_shape(&xs),
                    fmt_shape(normalized_shape)
                ),
            ));
        }
        check_param("layer_norm", "weight", weight, normalized_shape)?;
        check_param("layer_norm", "bias", bias, normalized_shape)?;
        let len: usize = normalized_shape.iter().product();
        let rows = xs[..xs.len() - k].iter().product();
        let x = self.value();
        let (wv, bv) = (weight.map(|t| t.value()), bias.map(|t| t.value()));
        let mut out = self.tape.buffer(x.numel());
        let (mut mean, mut invstd) = (vec![0.0; rows], vec![0.0; rows]);
        kernels::layer_norm(
            x.data(),
            rows,
            len,
            eps,
            wv.as_ref().map(|a| a.data()),
            bv.as_ref().map(|a| a.data()),
            &mut out,
            &mut mean,
            &mut invstd,
        );
        let node = LayerNorm {
            x: self.id,
            weight: weight.map(|t| t.id),
            bias: bias.map(|t| t.id),
            dims: k,
            rows,
            len,
            eps,
            mean,
            invstd,
        };
        let ids = node.ids();
        Ok(self.tape.record(
            Array::from_parts(out, xs),
            Op::LayerNorm(Box::new(node)),
            &ids,
        ))
    }
}
