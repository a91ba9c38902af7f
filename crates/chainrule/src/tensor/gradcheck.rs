//! `gradcheck`: compares the gradients the tape computes with central finite differences, as
//! PyTorch's `torch.autograd.gradcheck`.

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
        let vars: Vec<_> = xs.iter().map(|a| tape.constant(a.clone())).collect();
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
