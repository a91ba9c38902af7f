//! `softmax` and `log_softmax` along an axis.
//!
//! For `y = softmax(x)`, the Jacobian is `diag(y) − y·yᵀ` along the axis, so the vector-Jacobian
//! product is `y·(g − Σ g·y)`; for `y = log_softmax(x)` it is `g − softmax(x)·Σ g`, with
//! `softmax(x) = e^y`. On numbers one fused pass computes each ([`kernels::softmax_backward`]);
//! recorded, they are the same formulas in tensor operations.

use std::borrow::Cow;

use super::{Explain, Numbers, Op, Recorded, Rule};
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels;
use crate::tensor::shape::{norm_axis_or_scalar, Result};
use crate::tensor::tape::Tensor;

/// `y = softmax(x)` (or `log_softmax(x)` if `log`) along `axis`.
#[derive(Clone, Debug)]
pub(crate) struct Softmax {
    pub x: usize,
    pub axis: usize,
    pub log: bool,
}

impl<T: Element> Rule<T> for Softmax {
    fn name(&self) -> Cow<'static, str> {
        if self.log { "log_softmax" } else { "softmax" }.into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        let name: Cow<'static, str> = <Self as Rule<f32>>::name(self);
        format!("{name}({}, axis {})", cx.name(self.x), self.axis)
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let (x, gy, yn) = (self.x, cx.grad(y), cx.name(y));
        let rule = if self.log {
            format!("{gy} − softmax({}) ⊙ Σ_axis {gy}", cx.name(x))
        } else {
            format!("{yn} ⊙ ({gy} − Σ_axis {gy} ⊙ {yn})")
        };
        vec![(x, format!("{} = {rule}   {}", cx.grad(x), cx.shape(x)))]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let mut dx = cx.buffer(g.len());
        let dims = kernels::around(y.shape(), self.axis);
        kernels::softmax_backward(y.data(), g, dims, self.log, &mut dx);
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        _cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let a = [self.axis as isize];
        let dx = if self.log {
            // g − softmax(x)·Σg, with softmax(x) = e^y.
            g - y.exp() * g.sum(&a, true)?
        } else {
            // y·(g − Σ g·y).
            y * (g - (g * y).sum(&a, true)?)
        };
        out.push((self.x, dx));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let dx = cx.or_zeros(tangent(self.x), self.x);
        if self.log {
            // dx − Σ softmax(x)·dx, with softmax(x) = e^y.
            let a = [self.axis as isize];
            Ok(dx - (y.exp() * dx).sum(&a, true)?)
        } else {
            // softmax's Jacobian is symmetric, so its tangent is its vector-Jacobian product.
            let mut out = Vec::with_capacity(1);
            self.vjp_recorded(cx, y, dx, &mut out)?;
            Ok(out[0].1)
        }
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    #[track_caller]
    fn softmax_impl(self, op: &'static str, axis: isize, log: bool) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let Some(a) = norm_axis_or_scalar(op, axis, x.shape())? else {
            // A 0-d tensor is one element along its one axis, as PyTorch sees it.
            return self
                .reshape_to(vec![1])?
                .softmax_impl(op, 0, log)?
                .reshape_to(vec![]);
        };
        let mut out = self.tape.buffer(x.numel());
        kernels::softmax(x.data(), kernels::around(x.shape(), a), log, &mut out);
        let v = Array::from_parts(out, x.shape());
        let node = Op::Softmax(Softmax {
            x: self.id,
            axis: a,
            log,
        });
        Ok(self.tape.record(v, node, &[self.id]))
    }
    /// `e^x / Σ e^x` along `axis`, computed after subtracting the maximum (finite for any
    /// finite logits).
    #[track_caller]
    pub fn softmax(self, axis: isize) -> Result<Tensor<'t, T>> {
        self.softmax_impl("softmax", axis, false)
    }
    /// `x − log Σ e^x` along `axis`, numerically stable.
    #[track_caller]
    pub fn log_softmax(self, axis: isize) -> Result<Tensor<'t, T>> {
        self.softmax_impl("log_softmax", axis, true)
    }
}
