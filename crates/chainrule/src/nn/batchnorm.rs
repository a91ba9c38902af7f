//! Batch normalisation layers, with the running statistics PyTorch keeps as buffers.

use std::sync::{Mutex, MutexGuard};

use super::{Context, Module};
use crate::model_file::NamedTensor;
use crate::tensor::{Array, BatchNormOptions, Tensor, TensorError};

/// The running statistics of a batch normalisation: what it normalises by in evaluation mode.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningStats {
    /// The running mean of each channel (`running_mean`, starting at 0).
    pub mean: Array<f32>,
    /// The running unbiased variance of each channel (`running_var`, starting at 1).
    pub var: Array<f32>,
    /// The number of training batches seen (`num_batches_tracked`).
    pub num_batches_tracked: u64,
}

/// What the two batch normalisation layers share: the affine parameters, the settings and the
/// running statistics.
///
/// The statistics change during a training forward pass, which takes `&self` (see
/// [`Module`]); they sit behind a mutex so that the layer stays `Sync`. The lock is taken once
/// per forward pass and never contended in training, which runs one forward pass at a time.
#[derive(Debug)]
struct Norm {
    weight: Array<f32>,
    bias: Array<f32>,
    eps: f64,
    momentum: f64,
    training: bool,
    stats: Mutex<RunningStats>,
}

impl Clone for Norm {
    fn clone(&self) -> Self {
        Norm {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            eps: self.eps,
            momentum: self.momentum,
            training: self.training,
            stats: Mutex::new(self.lock().clone()),
        }
    }
}

impl Norm {
    fn new(features: usize) -> Self {
        Norm {
            weight: Array::ones(&[features]),
            bias: Array::zeros(&[features]),
            eps: 1e-5,
            momentum: 0.1,
            training: true,
            stats: Mutex::new(RunningStats {
                mean: Array::zeros(&[features]),
                var: Array::ones(&[features]),
                num_batches_tracked: 0,
            }),
        }
    }

    /// The statistics; a panic in another thread while it held them leaves them usable.
    fn lock(&self) -> MutexGuard<'_, RunningStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let w = ctx.param(&self.weight);
        let b = ctx.param(&self.bias);
        let options = BatchNormOptions {
            training: self.training,
            momentum: self.momentum,
            eps: self.eps,
        };
        let mut stats = self.lock();
        let RunningStats { mean, var, .. } = &mut *stats;
        let y = x.batch_norm(Some((mean, var)), w, b, options)?;
        if self.training {
            stats.num_batches_tracked += 1;
        }
        Ok(y)
    }

    fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
        vec![("weight".into(), &self.weight), ("bias".into(), &self.bias)]
    }

    fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
        vec![
            ("weight".into(), &mut self.weight),
            ("bias".into(), &mut self.bias),
        ]
    }

    fn named_buffers(&self) -> Vec<NamedTensor> {
        let s = self.lock();
        let tensor = |name: &str, a: &Array<f32>| {
            NamedTensor::new(name, a.shape().to_vec(), a.to_vec()).expect("sizes agree")
        };
        vec![
            tensor("running_mean", &s.mean),
            tensor("running_var", &s.var),
            NamedTensor::count("num_batches_tracked", s.num_batches_tracked),
        ]
    }

    fn set_buffers(&mut self, buffers: &[NamedTensor]) {
        let [mean, var, count] = buffers else {
            panic!(
                "batch normalisation has 3 buffers, {} were given",
                buffers.len()
            );
        };
        let s = self.stats.get_mut().unwrap_or_else(|e| e.into_inner());
        s.mean = Array::from_vec(mean.data.clone(), &mean.shape).expect("shape checked");
        s.var = Array::from_vec(var.data.clone(), &var.shape).expect("shape checked");
        s.num_batches_tracked = count.data.first().map_or(0, |&c| c.max(0.0) as u64);
    }

    fn describe(&self, kind: &str) -> String {
        format!(
            "{kind}({}, eps={}, momentum={}, affine=True, track_running_stats=True)",
            self.weight.numel(),
            python_float(self.eps),
            python_float(self.momentum)
        )
    }
}

/// A float as Python's `repr` writes it (`1e-05`, `0.1`), so descriptions read as PyTorch's.
fn python_float(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-4 || v.abs() >= 1e16) {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').expect("scientific notation");
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ("-", d),
            None => ("+", exp),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    } else {
        format!("{v:?}")
    }
}

macro_rules! batch_norm_layer {
    ($(#[$doc:meta])* $name:ident, $torch:literal, $accepts:literal, [$($rank:literal),+]) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name(Norm);

        impl $name {
            /// A layer over `features` channels, as PyTorch creates it: weight 1, bias 0,
            /// running mean 0, running variance 1, `eps` 1e-5, momentum 0.1, in training mode.
            pub fn new(features: usize) -> Self {
                $name(Norm::new(features))
            }

            /// The number of channels.
            pub fn num_features(&self) -> usize {
                self.0.weight.numel()
            }

            /// The scale of each channel (`weight`).
            pub fn weight(&self) -> &Array<f32> {
                &self.0.weight
            }

            /// The shift of each channel (`bias`).
            pub fn bias(&self) -> &Array<f32> {
                &self.0.bias
            }

            /// A copy of the running statistics.
            pub fn running_stats(&self) -> RunningStats {
                self.0.lock().clone()
            }

            /// The same layer with `momentum` (PyTorch's default 0.1).
            pub fn with_momentum(mut self, momentum: f64) -> Self {
                self.0.momentum = momentum;
                self
            }

            /// The same layer with `eps` (PyTorch's default 1e-5).
            pub fn with_eps(mut self, eps: f64) -> Self {
                self.0.eps = eps;
                self
            }
        }

        impl Module for $name {
            fn forward<'t>(
                &self,
                x: Tensor<'t, f32>,
                ctx: &mut Context<'t>,
            ) -> Result<Tensor<'t, f32>, TensorError> {
                let rank = x.ndim();
                if ![$($rank),+].contains(&rank) {
                    return Err(TensorError::new(
                        $torch,
                        format!(
                            concat!("expected ", $accepts, " input, got {}-D input of shape {:?}"),
                            rank,
                            x.shape()
                        ),
                    ));
                }
                self.0.forward(x, ctx)
            }

            fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
                self.0.named_parameters()
            }

            fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
                self.0.parameters_mut()
            }

            fn named_buffers(&self) -> Vec<NamedTensor> {
                self.0.named_buffers()
            }

            fn set_buffers(&mut self, buffers: &[NamedTensor]) {
                self.0.set_buffers(buffers)
            }

            fn set_training(&mut self, training: bool) {
                self.0.training = training;
            }

            fn describe(&self) -> String {
                self.0.describe($torch)
            }
        }
    };
}

batch_norm_layer!(
    /// Batch normalisation of rows, as PyTorch's `nn.BatchNorm1d`: each of the `C` features of
    /// an input `[batch, C]` (or `[batch, C, length]`) is normalised by its mean and variance
    /// over the batch (and the length) in training mode, by the running statistics in
    /// evaluation mode, then scaled by `weight` and shifted by `bias`.
    ///
    /// In training mode each forward pass updates the running statistics (momentum 0.1, the
    /// unbiased variance) and counts the batch in `num_batches_tracked`, as PyTorch does;
    /// [`Module::named_buffers`] gives all three under PyTorch's names.
    ///
    /// ```
    /// use chainrule::nn::{BatchNorm1d, Context, Module};
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let bn = BatchNorm1d::new(2);
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]).unwrap());
    /// let y = bn.forward(x, &mut Context::new(&tape, 0)).unwrap().to_vec();
    /// assert!((y[0] + 1.0).abs() < 1e-4 && (y[3] - 1.0).abs() < 1e-4);
    /// let stats = bn.running_stats();
    /// assert_eq!(stats.mean.to_vec(), vec![0.2, 2.0]);
    /// assert_eq!(stats.num_batches_tracked, 1);
    /// let names: Vec<String> = bn.state_dict().into_iter().map(|t| t.name).collect();
    /// assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    /// ```
    BatchNorm1d,
    "BatchNorm1d",
    "2-D or 3-D",
    [2, 3]
);

batch_norm_layer!(
    /// Batch normalisation of images, as PyTorch's `nn.BatchNorm2d`: each of the `C` channels
    /// of an input `[batch, C, height, width]` is normalised by its mean and variance over the
    /// batch and the pixels in training mode, by the running statistics in evaluation mode,
    /// then scaled by `weight` and shifted by `bias`. The running statistics are updated and
    /// saved as for [`BatchNorm1d`].
    ///
    /// ```
    /// use chainrule::nn::{BatchNorm2d, Context, Module};
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let mut bn = BatchNorm2d::new(3);
    /// assert_eq!(
    ///     bn.describe(),
    ///     "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    /// );
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::randn(&[4, 3, 5, 5], 0));
    /// bn.forward(x, &mut Context::new(&tape, 0)).unwrap();
    /// bn.set_training(false);
    /// let y = bn.forward(x, &mut Context::inference(&tape)).unwrap();
    /// assert_eq!(y.shape(), vec![4, 3, 5, 5]);
    /// assert_eq!(bn.running_stats().num_batches_tracked, 1); // evaluation does not count
    /// ```
    BatchNorm2d,
    "BatchNorm2d",
    "4-D",
    [4]
);

#[cfg(test)]
mod tests {
    use super::python_float;

    #[test]
    fn floats_are_written_as_python_writes_them() {
        assert_eq!(python_float(1e-5), "1e-05");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(1e-3), "0.001");
        assert_eq!(python_float(2.5e-12), "2.5e-12");
        assert_eq!(python_float(1.0), "1.0");
    }
}
