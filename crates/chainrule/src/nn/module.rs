//! The [`Module`] trait and the [`Context`] a forward pass records into.

use std::fmt;

use crate::model_file::{ElementType, NamedTensor};
use crate::tensor::{Array, Tape, Tensor, TensorError};
use crate::util::rand::Rng;

/// What a forward pass needs besides its input: the tape to record on, the parameters recorded so
/// far (in the order of [`Module::named_parameters`]), and a random number generator for dropout.
pub struct Context<'t> {
    tape: &'t Tape<f32>,
    params: Vec<Tensor<'t, f32>>,
    rng: Rng,
    grad: bool,
}

impl<'t> Context<'t> {
    /// A context for training: parameters are recorded as variables, so `backward` reaches them;
    /// `seed` seeds the generator dropout draws its masks from.
    pub fn new(tape: &'t Tape<f32>, seed: u64) -> Self {
        Self::with_rng(tape, Rng::new(seed))
    }

    /// A context for training that draws from `rng`.
    pub fn with_rng(tape: &'t Tape<f32>, rng: Rng) -> Self {
        Context {
            tape,
            params: Vec::new(),
            rng,
            grad: true,
        }
    }

    /// A context for inference: parameters are recorded as constants (nothing to differentiate).
    pub fn inference(tape: &'t Tape<f32>) -> Self {
        Context {
            grad: false,
            ..Self::new(tape, 0)
        }
    }

    /// The tape.
    pub fn tape(&self) -> &'t Tape<f32> {
        self.tape
    }

    /// Records a parameter (sharing its data, copying nothing) and remembers it.
    ///
    /// A parameter used twice (a tied weight, as a GPT's token embedding and output layer) is
    /// recorded once: the same array (the same data, not equal numbers) given again returns the
    /// tensor of its first use, so that its gradient adds the contributions of both uses and
    /// the optimizer sees one parameter.
    pub fn param(&mut self, value: &Array<f32>) -> Tensor<'t, f32> {
        if value.numel() > 0 {
            let tape = self.tape;
            let same = |t: &&Tensor<'t, f32>| {
                let nodes = tape.nodes.borrow();
                let v = &nodes[t.id()].value;
                v.shape() == value.shape() && std::ptr::eq(v.data().as_ptr(), value.data().as_ptr())
            };
            if let Some(&t) = self.params.iter().find(same) {
                return t;
            }
        }
        let t = if self.grad {
            self.tape.var(value.clone())
        } else {
            self.tape.constant(value.clone())
        };
        self.params.push(t);
        t
    }

    /// The parameters recorded so far, in the order they were used.
    pub fn parameters(&self) -> &[Tensor<'t, f32>] {
        &self.params
    }

    /// The random number generator (for dropout masks).
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Gives back the generator, advanced by the masks drawn.
    pub fn into_rng(self) -> Rng {
        self.rng
    }
}

/// A layer or a network of layers: a forward pass, named parameters and buffers, and a training
/// mode.
///
/// `forward` takes `&self`: a forward pass records on a tape and changes nothing, so a model can
/// be shared (between threads too). The one exception is batch normalisation in training mode,
/// which updates its running statistics as PyTorch's does; it keeps them behind a lock
/// ([`BatchNorm2d`](super::BatchNorm2d)), which no other layer pays for, rather than making every
/// forward pass of every layer take `&mut self`.
///
/// [`Module::forward`] must record its parameters with [`Context::param`] in the order of
/// [`Module::named_parameters`], which is also the order of [`Module::parameters_mut`]; the
/// training loop relies on it to pair gradients with parameters.
///
/// ```
/// use chainrule::nn::{Context, Linear, Module};
/// use chainrule::rand::Rng;
/// use chainrule::tensor::{Array, Tape};
///
/// let layer = Linear::new(3, 2, &mut Rng::new(0));
/// let tape = Tape::<f32>::new();
/// let y = layer.forward(tape.constant(Array::ones(&[4, 3])), &mut Context::inference(&tape)).unwrap();
/// assert_eq!(y.shape(), vec![4, 2]);
/// ```
pub trait Module {
    /// The output for a batch `x` (rows are samples).
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError>;

    /// The parameters with their PyTorch `state_dict` names (`weight`, `bias`, `0.weight`, ...).
    fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
        Vec::new()
    }

    /// The same parameters, to change in place, in the same order.
    fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
        Vec::new()
    }

    /// Hands each parameter to `f`, to change in place, in the order of
    /// [`parameters_mut`](Module::parameters_mut) but without building their names: what a
    /// training step calls, once per step. The default goes through `parameters_mut`; layers
    /// override it where the names would be most of the work.
    fn for_each_parameter_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Array<f32>)) {
        for (_, a) in self.parameters_mut() {
            f(a);
        }
    }

    /// The buffers, with their PyTorch `state_dict` names: numbers saved and loaded with the
    /// parameters but not trained, such as batch normalisation's `running_mean`, `running_var`
    /// and `num_batches_tracked` (none for most layers).
    fn named_buffers(&self) -> Vec<NamedTensor> {
        Vec::new()
    }

    /// Replaces the buffers by `buffers`, which are in the order of [`Module::named_buffers`]
    /// with the same names and shapes ([`Module::load_state_dict`] checks that first).
    ///
    /// # Panics
    /// If `buffers` does not have that length.
    fn set_buffers(&mut self, buffers: &[NamedTensor]) {
        assert!(buffers.is_empty(), "this module has no buffers");
    }

    /// Switches between training (`true`: dropout active, batch statistics) and evaluation
    /// (`false`) mode.
    fn set_training(&mut self, _training: bool) {}

    /// A one-line description, as PyTorch prints the module (`Linear(in_features=4, ...)`).
    fn describe(&self) -> String;

    /// The number of parameters (numbers, not tensors).
    fn num_parameters(&self) -> usize {
        self.named_parameters().iter().map(|(_, a)| a.numel()).sum()
    }

    /// The parameters and then the buffers as named tensors, as PyTorch's `state_dict`.
    fn state_dict(&self) -> Vec<NamedTensor> {
        let mut out: Vec<NamedTensor> = self
            .named_parameters()
            .into_iter()
            .map(|(name, a)| NamedTensor {
                name,
                shape: a.shape().to_vec(),
                data: a.to_vec(),
                dtype: ElementType::F32,
            })
            .collect();
        out.extend(self.named_buffers());
        out
    }

    /// Loads parameters and buffers saved by [`Module::state_dict`] (or by PyTorch): every one
    /// must be present with its shape, and no other tensor may be (as PyTorch's strict
    /// loading). On error nothing is changed.
    fn load_state_dict(&mut self, tensors: &[NamedTensor]) -> Result<(), StateDictError> {
        let buffers = self.named_buffers();
        let expected: Vec<(String, Vec<usize>)> = self
            .named_parameters()
            .into_iter()
            .map(|(n, a)| (n, a.shape().to_vec()))
            .chain(buffers.into_iter().map(|b| (b.name, b.shape)))
            .collect();
        let mut found = Vec::with_capacity(expected.len());
        for (name, shape) in &expected {
            let t = tensors
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| StateDictError::Missing(name.clone()))?;
            if &t.shape != shape {
                return Err(StateDictError::Shape {
                    name: name.clone(),
                    expected: shape.clone(),
                    found: t.shape.clone(),
                });
            }
            found.push(t);
        }
        if let Some(extra) = tensors
            .iter()
            .find(|t| !expected.iter().any(|(n, _)| *n == t.name))
        {
            return Err(StateDictError::Unexpected(extra.name.clone()));
        }
        let params = self.parameters_mut();
        let n_params = params.len();
        for ((_, p), t) in params.into_iter().zip(&found) {
            p.data_mut().copy_from_slice(&t.data);
        }
        let buffers: Vec<NamedTensor> = found[n_params..].iter().map(|&t| t.clone()).collect();
        self.set_buffers(&buffers);
        Ok(())
    }
}

/// Why saved parameters do not fit a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateDictError {
    /// A parameter of the module is not among the tensors.
    Missing(String),
    /// A tensor that is no parameter of the module.
    Unexpected(String),
    /// A tensor with another shape than the parameter of the same name.
    Shape {
        /// The tensor's name.
        name: String,
        /// The parameter's shape.
        expected: Vec<usize>,
        /// The tensor's shape.
        found: Vec<usize>,
    },
    /// Two tensors of parameters the architecture ties together (one parameter under two
    /// names) hold different numbers.
    Untied {
        /// The second name.
        name: String,
        /// The name of the parameter it is tied to.
        tied_to: String,
    },
}

impl fmt::Display for StateDictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateDictError::Missing(n) => {
                write!(f, "tensor '{n}' is missing (the architecture needs it)")
            }
            StateDictError::Unexpected(n) => {
                write!(f, "tensor '{n}' is not a parameter of this architecture")
            }
            StateDictError::Shape {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor '{name}' has shape {found:?} but the architecture needs {expected:?}"
            ),
            StateDictError::Untied { name, tied_to } => write!(
                f,
                "tensor '{name}' differs from '{tied_to}', but the architecture ties them (one \
                 parameter)"
            ),
        }
    }
}

impl std::error::Error for StateDictError {}
