//! `gradcheck`: compares the gradients the tape computes with central finite differences, as
//! PyTorch's `torch.autograd.gradcheck`; `gradgradcheck` does the same for the gradients of the
//! gradients, as `torch.autograd.gradgradcheck`.

use std::fmt;

use super::array::Array;
use super::shape::TensorError;
use super::tape::{Tape, Tensor};

/// Tolerances of [`gradcheck_with`]; the defaults are PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// The finite-difference step (default `1e-6`).
    pub eps: f64,
    /// Absolute tolerance (default `1e-5`).
    pub atol: f64,
    /// Relative tolerance, against the numerical value (default `1e-3`).
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// Why a gradient check failed.
#[derive(Clone, Debug, PartialEq)]
pub enum GradcheckError {
    /// The function itself returned an error.
    Op(TensorError),
    /// One entry of the Jacobian differs.
    Mismatch {
        /// The output element (row-major index into the output).
        output: usize,
        /// Which input.
        input: usize,
        /// The element of that input (row-major index).
        element: usize,
        /// `d output / d input[element]` from the backward sweep.
        analytic: f64,
        /// The same from central differences.
        numerical: f64,
    },
    /// The gradient recorded by [`Tape::grad_graph_with`] differs from the one of
    /// [`Tensor::backward`] (checked by [`gradgradcheck`]).
    RecordedMismatch {
        /// Which input.
        input: usize,
        /// The element of that input (row-major index).
        element: usize,
        /// The recorded gradient's value.
        recorded: f64,
        /// The backward sweep's value.
        backward: f64,
    },
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradcheckError::Op(e) => write!(f, "gradcheck: the function failed: {e}"),
            GradcheckError::Mismatch {
                output,
                input,
                element,
                analytic,
                numerical,
            } => write!(
                f,
                "gradcheck: Jacobian mismatch for output {output} with respect to input {input} \
                 (element {element}): analytic {analytic:e}, numerical {numerical:e}"
            ),
            GradcheckError::RecordedMismatch {
                input,
                element,
                recorded,
                backward,
            } => write!(
                f,
                "gradgradcheck: the recorded gradient of input {input} (element {element}) is \
                 {recorded:e}, the backward sweep gives {backward:e}"
            ),
        }
    }
}

impl std::error::Error for GradcheckError {}

impl From<TensorError> for GradcheckError {
    fn from(e: TensorError) -> Self {
        GradcheckError::Op(e)
    }
}

/// What a passing check compared.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckReport {
    /// The number of Jacobian entries compared.
    pub entries: usize,
    /// The largest absolute difference found.
    pub max_abs_error: f64,
}

/// Checks the Jacobian of `f` at `inputs` against central finite differences in `f64`, with
/// PyTorch's default tolerances (eps `1e-6`, atol `1e-5`, rtol `1e-3`).
///
/// `f` receives the inputs as variables on a fresh tape and returns any tensor computed from
/// them. On failure the error names the output and input index with both values.
///
/// ```
/// use chainrule::tensor::{gradcheck, Array};
///
/// let a = Array::<f64>::randn(&[2, 3], 1);
/// let b = Array::<f64>::randn(&[3], 2);
/// gradcheck(|x| Ok(x[0].mul(x[1])?.tanh()), &[a, b]).unwrap();
/// ```
pub fn gradcheck<F>(f: F, inputs: &[Array<f64>]) -> Result<GradcheckReport, GradcheckError>
where
    F: for<'t> Fn(&[Tensor<'t, f64>]) -> Result<Tensor<'t, f64>, TensorError>,
{
    gradcheck_with(f, inputs, GradcheckOptions::default())
}

/// [`gradcheck`] with chosen tolerances.
pub fn gradcheck_with<F>(
    f: F,
    inputs: &[Array<f64>],
    opts: GradcheckOptions,
) -> Result<GradcheckReport, GradcheckError>
where
    F: for<'t> Fn(&[Tensor<'t, f64>]) -> Result<Tensor<'t, f64>, TensorError>,
{
    let eval = |xs: &[Array<f64>]| -> Result<Vec<f64>, TensorError> {
        let tape = Tape::<f64>::new();
        // Variables, not constants: `f` may itself differentiate (see `gradgradcheck`).
        let vars: Vec<_> = xs.iter().map(|a| tape.var(a.clone())).collect();
        Ok(f(&vars)?.to_vec())
    };

    // Analytic Jacobian, one backward sweep per output element.
    let tape = Tape::<f64>::new();
    let vars: Vec<_> = inputs.iter().map(|a| tape.var(a.clone())).collect();
    let y = f(&vars)?;
    let n_out = y.numel();
    let shape = y.shape();
    let mut analytic: Vec<Vec<Vec<f64>>> = Vec::with_capacity(n_out);
    for j in 0..n_out {
        tape.zero_grad();
        let rows: Vec<Vec<f64>> = if y.requires_grad() {
            let mut seed = vec![0.0; n_out];
            seed[j] = 1.0;
            y.backward_with(&Array::from_vec(seed, &shape)?)?;
            vars.iter()
                .map(|v| {
                    v.grad()
                        .map_or_else(|| vec![0.0; v.numel()], |g| g.to_vec())
                })
                .collect()
        } else {
            vars.iter().map(|v| vec![0.0; v.numel()]).collect()
        };
        analytic.push(rows);
    }

    // Numerical Jacobian, one pair of evaluations per input element.
    let mut entries = 0;
    let mut max_abs_error: f64 = 0.0;
    for (input, a) in inputs.iter().enumerate() {
        for element in 0..a.numel() {
            let shifted = |delta: f64| {
                let mut xs = inputs.to_vec();
                let mut data = a.to_vec();
                data[element] += delta;
                xs[input] = Array::from_vec(data, a.shape()).expect("same shape");
                eval(&xs)
            };
            let (plus, minus) = (shifted(opts.eps)?, shifted(-opts.eps)?);
            for output in 0..n_out {
                let numerical = (plus[output] - minus[output]) / (2.0 * opts.eps);
                let an = analytic[output][input][element];
                let err = (an - numerical).abs();
                entries += 1;
                if err.is_nan() || err > opts.atol + opts.rtol * numerical.abs() {
                    return Err(GradcheckError::Mismatch {
                        output,
                        input,
                        element,
                        analytic: an,
                        numerical,
                    });
                }
                max_abs_error = max_abs_error.max(err);
            }
        }
    }
    Ok(GradcheckReport {
        entries,
        max_abs_error,
    })
}

/// Checks second derivatives, as PyTorch's `torch.autograd.gradgradcheck`: the recorded
/// gradient of `f` ([`Tape::grad_graph_with`], seeded with a fixed random adjoint `u` of the
/// output's shape) is itself a function of the inputs, and [`gradcheck`] compares its
/// derivatives (a backward sweep through the recorded backward) with central differences of it.
///
/// That alone would pass a recorded gradient that is wrong but smooth, so the recorded gradient
/// is first compared with [`Tensor::backward`]'s at the same point, and `f`'s own first
/// derivatives with central differences: the three checks together leave no derivative
/// unchecked.
///
/// ```
/// use chainrule::tensor::{gradgradcheck, Array};
///
/// let a = Array::<f64>::randn(&[2, 3], 1);
/// let b = Array::<f64>::randn(&[3, 2], 2);
/// gradgradcheck(|x| Ok(x[0].matmul(x[1])?.tanh()), &[a, b]).unwrap();
/// ```
pub fn gradgradcheck<F>(f: F, inputs: &[Array<f64>]) -> Result<GradcheckReport, GradcheckError>
where
    F: for<'t> Fn(&[Tensor<'t, f64>]) -> Result<Tensor<'t, f64>, TensorError>,
{
    gradgradcheck_with(f, inputs, GradcheckOptions::default())
}

/// [`gradgradcheck`] with chosen tolerances.
pub fn gradgradcheck_with<F>(
    f: F,
    inputs: &[Array<f64>],
    opts: GradcheckOptions,
) -> Result<GradcheckReport, GradcheckError>
where
    F: for<'t> Fn(&[Tensor<'t, f64>]) -> Result<Tensor<'t, f64>, TensorError>,
{
    // The recorded gradient against the backward sweep's, along an adjoint `u` of the output
    // that stays fixed, so that every evaluation below differentiates the same function.
    let tape = Tape::<f64>::new();
    let vars: Vec<_> = inputs.iter().map(|a| tape.var(a.clone())).collect();
    let y = f(&vars)?;
    let u = Array::<f64>::randn(&y.shape(), 0x6772_6164);
    let recorded = tape.grad_graph_with(y, tape.constant(u.clone()), &vars)?;
    if y.requires_grad() {
        y.backward_with(&u)?;
    }
    let mut max_abs_error: f64 = 0.0;
    for (input, (v, r)) in vars.iter().zip(&recorded).enumerate() {
        let backward = v
            .grad()
            .map_or_else(|| vec![0.0; v.numel()], |g| g.to_vec());
        for (element, (&r, &b)) in r.to_vec().iter().zip(&backward).enumerate() {
            let err = (r - b).abs();
            if err.is_nan() || err > opts.atol + opts.rtol * b.abs() {
                return Err(GradcheckError::RecordedMismatch {
                    input,
                    element,
                    recorded: r,
                    backward: b,
                });
            }
            max_abs_error = max_abs_error.max(err);
        }
    }
    let first = gradcheck_with(&f, inputs, opts)?;
    // The first derivative, recorded, as one flat tensor.
    gradcheck_with(
        |xs: &[Tensor<'_, f64>]| {
            let Some(x0) = xs.first() else {
                return Err(TensorError::new("gradgradcheck", "no inputs"));
            };
            let tape = x0.tape();
            let y = f(xs)?;
            let grads = tape.grad_graph_with(y, tape.constant(u.clone()), xs)?;
            let flat = grads
                .into_iter()
                .map(|g| g.reshape(&[-1]))
                .collect::<Result<Vec<_>, _>>()?;
            Tensor::concat(&flat, 0)
        },
        inputs,
        opts,
    )
    .map(|second| GradcheckReport {
        entries: first.entries + second.entries,
        max_abs_error: max_abs_error
            .max(first.max_abs_error)
            .max(second.max_abs_error),
    })
}
