//! The pieces of a transformer, as nanoGPT's `model.py` writes them: a projection with an
//! optional bias, causal self-attention with one fused query-key-value projection, the
//! position-wise MLP, and the pre-norm block with residual connections.

use super::{Context, Dropout, LayerNorm, Module};
use crate::tensor::{Array, Tensor, TensorError};
use crate::util::rand::Rng;

/// The parameters of `module`, each name behind `prefix.` (`attn.` + `c_attn.weight`).
pub(crate) fn prefixed<'a>(
    prefix: &str,
    params: Vec<(String, &'a Array<f32>)>,
) -> impl Iterator<Item = (String, &'a Array<f32>)> + 'a {
    let prefix = prefix.to_string();
    params
        .into_iter()
        .map(move |(n, a)| (format!("{prefix}.{n}"), a))
}

/// [`prefixed`] for the mutable parameters.
pub(crate) fn prefixed_mut<'a>(
    prefix: &str,
    params: Vec<(String, &'a mut Array<f32>)>,
) -> impl Iterator<Item = (String, &'a mut Array<f32>)> + 'a {
    let prefix = prefix.to_string();
    params
        .into_iter()
        .map(move |(n, a)| (format!("{prefix}.{n}"), a))
}

/// [`Module::named_parameters`] and [`Module::parameters_mut`] of a module made of named
/// submodules, each one's parameters behind its name, in the order given.
macro_rules! submodule_parameters {
    ($($name:ident),+) => {
        fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
            let mut v = Vec::new();
            $(v.extend(prefixed(stringify!($name), self.$name.named_parameters()));)+
            v
        }

        fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
            let mut v = Vec::new();
            $(v.extend(prefixed_mut(stringify!($name), self.$name.parameters_mut()));)+
            v
        }
    };
}

/// A fully connected layer over the last dimension, `x · Wᵀ (+ b)`, as `nn.Linear(in, out,
/// bias=...)` in a transformer: the input may have any leading dimensions (`[batch, time,
/// in]`), the weight is `[out, in]` and the bias, when there is one, `[out]`.
///
/// [`Projection::normal`] draws the weight from a normal distribution and zeros the bias, as
/// GPT-2 initialises its layers.
#[derive(Clone, Debug)]
pub struct Projection {
    /// The weight, `[out_features, in_features]`.
    pub weight: Array<f32>,
    /// The bias, `[out_features]`, if the layer has one.
    pub bias: Option<Array<f32>>,
}

impl Projection {
    /// A layer from `in_features` to `out_features` with weights from the normal distribution
    /// of mean 0 and standard deviation `std`, and a zero bias when `bias` is true.
    pub fn normal(
        in_features: usize,
        out_features: usize,
        bias: bool,
        std: f64,
        rng: &mut Rng,
    ) -> Self {
        let w = (0..in_features * out_features)
            .map(|_| rng.normal_with(0.0, std) as f32)
            .collect();
        Projection {
            weight: Array::from_vec(w, &[out_features, in_features]).expect("sizes agree"),
            bias: bias.then(|| Array::zeros(&[out_features])),
        }
    }

    /// The number of inputs.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The number of outputs.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

/// `x · wᵀ + b` over the last dimension of `x`, for any leading dimensions (`x · wᵀ` when there
/// is no bias).
pub(crate) fn project<'t>(
    x: Tensor<'t, f32>,
    w: Tensor<'t, f32>,
    b: Option<Tensor<'t, f32>>,
) -> Result<Tensor<'t, f32>, TensorError> {
    let mut shape = x.shape();
    let inner = shape.last().copied().unwrap_or(1);
    if shape.len() == 2 {
        return x.linear(w, b);
    }
    let rows = shape[..shape.len().saturating_sub(1)]
        .iter()
        .product::<usize>();
    let y = x.reshape(&[rows, inner])?.linear(w, b)?;
    if let Some(last) = shape.last_mut() {
        *last = y.shape()[1];
    }
    y.reshape(&shape)
}

impl Module for Projection {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let w = ctx.param(&self.weight);
        let b = self.bias.as_ref().map(|b| ctx.param(b));
        project(x, w, b)
    }

    fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
        let mut v = vec![("weight".to_string(), &self.weight)];
        v.extend(self.bias.iter().map(|b| ("bias".to_string(), b)));
        v
    }

    fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
        let mut v = vec![("weight".to_string(), &mut self.weight)];
        v.extend(self.bias.iter_mut().map(|b| ("bias".to_string(), b)));
        v
    }

    fn describe(&self) -> String {
        format!(
            "Linear(in_features={}, out_features={}, bias={})",
            self.in_features(),
            self.out_features(),
            if self.bias.is_some() { "True" } else { "False" }
        )
    }
}

/// Multi-head causal self-attention, as nanoGPT's `CausalSelfAttention`: one projection
/// `c_attn` gives the queries, keys and values side by side (`[batch, time, 3·channels]`),
/// each position attends to itself and the positions before it in each of `heads` heads, and
/// `c_proj` mixes the heads' outputs.
///
/// Without dropout (or in evaluation mode) the attention is the fused
/// [`Tensor::causal_self_attention`], which never forms the `[time, time]` weights; with
/// dropout it is composed from its operations (scores, causal mask, softmax, dropout on the
/// weights, product with the values), as PyTorch's `scaled_dot_product_attention` with
/// `dropout_p`. [`CausalSelfAttention::weights`] gives the attention weights themselves.
#[derive(Clone, Debug)]
pub struct CausalSelfAttention {
    /// The query-key-value projection, `channels → 3·channels`.
    pub c_attn: Projection,
    /// The output projection, `channels → channels`.
    pub c_proj: Projection,
    /// The number of heads (dividing the channels).
    pub heads: usize,
    /// The dropout on the attention weights and on the output.
    pub dropout: f64,
    training: bool,
}

impl CausalSelfAttention {
    /// Attention over `channels` with `heads` heads; weights from the normal distribution of
    /// standard deviation 0.02 (`c_proj`'s `proj_std`), biases zero.
    ///
    /// # Panics
    /// If `heads` is 0 or does not divide `channels` (checked by [`super::GptConfig::validate`]).
    pub fn new(
        channels: usize,
        heads: usize,
        bias: bool,
        dropout: f64,
        proj_std: f64,
        rng: &mut Rng,
    ) -> Self {
        assert!(
            heads > 0 && channels % heads == 0,
            "{heads} heads do not divide {channels} channels"
        );
        CausalSelfAttention {
            c_attn: Projection::normal(channels, 3 * channels, bias, 0.02, rng),
            c_proj: Projection::normal(channels, channels, bias, proj_std, rng),
            heads,
            dropout,
            training: true,
        }
    }

    /// The attention weights of every head, `[batch, heads, time, time]` (row `i` sums to 1
    /// over the positions `j ≤ i`), for inputs `x` of `[batch, time, channels]`.
    pub fn weights<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let qkv = self.c_attn.forward(x, ctx)?;
        let (q, k, _) = self.split_heads(qkv)?;
        attention_weights(q, k)
    }

    /// Queries, keys and values of the packed projection, each `[batch, heads, time, size]`.
    #[allow(clippy::type_complexity)]
    fn split_heads<'t>(
        &self,
        qkv: Tensor<'t, f32>,
    ) -> Result<(Tensor<'t, f32>, Tensor<'t, f32>, Tensor<'t, f32>), TensorError> {
        let s = qkv.shape();
        let (b, t, c) = (s[0], s[1], s[2] / 3);
        let h = self.heads;
        let parts = qkv.split(c, 2)?;
        let mut heads = parts
            .into_iter()
            .map(|p| p.reshape(&[b, t, h, c / h])?.transpose(1, 2));
        let mut next = || heads.next().expect("split in three parts");
        Ok((next()?, next()?, next()?))
    }
}

/// `softmax(q·kᵀ/√size)` with the causal mask, `[batch, heads, time, time]`.
fn attention_weights<'t>(
    q: Tensor<'t, f32>,
    k: Tensor<'t, f32>,
) -> Result<Tensor<'t, f32>, TensorError> {
    let s = q.shape();
    let (t, d) = (s[2], s[3]);
    let scores = q.matmul(k.transpose(-2, -1)?)? * (1.0 / (d.max(1) as f64).sqrt());
    let causal = Array::from_vec(
        (0..t * t).map(|i| i % t <= i / t).collect::<Vec<bool>>(),
        &[t, t],
    )?;
    let masked = Tensor::where_cond(
        &causal,
        scores,
        q.tape().constant(Array::full(&[1], f32::NEG_INFINITY)),
    )?;
    masked.softmax(-1)
}

impl CausalSelfAttention {
    /// [`Module::forward`] on the positions as rows, `[batch·time, channels]` (sequence after
    /// sequence), as a GPT keeps them: the projections need no reshaping.
    pub fn forward_rows<'t>(
        &self,
        x: Tensor<'t, f32>,
        time: usize,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let s = x.shape();
        if s.len() != 2 || time == 0 || s[0] % time != 0 {
            return Err(TensorError::new(
                "attention",
                format!("expected [batch·time, channels] rows of sequences of {time}, got {s:?}"),
            ));
        }
        let (b, c) = (s[0] / time, s[1]);
        let qkv = self.c_attn.forward(x, ctx)?.reshape(&[b, time, 3 * c])?;
        let y = if self.training && self.dropout > 0.0 {
            let (q, k, v) = self.split_heads(qkv)?;
            let w = Dropout::new(self.dropout).forward(attention_weights(q, k)?, ctx)?;
            w.matmul(v)?.transpose(1, 2)?
        } else {
            qkv.causal_self_attention(self.heads)?
        };
        let y = self.c_proj.forward(y.reshape(&[b * time, c])?, ctx)?;
        resid_dropout(y, self.dropout, self.training, ctx)
    }
}

/// `f` applied to `x` `[batch, time, channels]` as the `[batch · time, channels]` rows it
/// takes (with `time` for the causal mask), and its result given `x`'s shape back; an error
/// naming `op` when `x` has another number of dimensions.
fn over_rows<'t>(
    op: &'static str,
    x: Tensor<'t, f32>,
    f: impl FnOnce(Tensor<'t, f32>, usize) -> Result<Tensor<'t, f32>, TensorError>,
) -> Result<Tensor<'t, f32>, TensorError> {
    let s = x.shape();
    if s.len() != 3 {
        return Err(TensorError::new(
            op,
            format!("expected [batch, time, channels], got {s:?}"),
        ));
    }
    let rows = x.reshape(&[s[0] * s[1], s[2]])?;
    f(rows, s[1])?.reshape(&s)
}

impl Module for CausalSelfAttention {
    /// The attention of `x`, `[batch, time, channels]`.
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        over_rows("attention", x, |rows, time| {
            self.forward_rows(rows, time, ctx)
        })
    }

    submodule_parameters!(c_attn, c_proj);

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn describe(&self) -> String {
        format!(
            "CausalSelfAttention(channels={}, heads={})",
            self.c_proj.out_features(),
            self.heads
        )
    }
}

/// Dropout with probability `p` in training mode, the identity otherwise.
fn resid_dropout<'t>(
    y: Tensor<'t, f32>,
    p: f64,
    training: bool,
    ctx: &mut Context<'t>,
) -> Result<Tensor<'t, f32>, TensorError> {
    if training && p > 0.0 {
        Dropout::new(p).forward(y, ctx)
    } else {
        Ok(y)
    }
}

/// The position-wise network of a transformer block, as nanoGPT's `MLP`: `c_fc` to four times
/// the channels, GELU (the exact, erf form), `c_proj` back, dropout.
#[derive(Clone, Debug)]
#[allow(clippy::upper_case_acronyms)]
pub struct MLP {
    /// The expansion, `channels → 4·channels`.
    pub c_fc: Projection,
    /// The projection back, `4·channels → channels`.
    pub c_proj: Projection,
    /// The dropout on the output.
    pub dropout: f64,
    training: bool,
}

impl MLP {
    /// The MLP over `channels`; weights from the normal distribution of standard deviation
    /// 0.02 (`proj_std` for `c_proj`), biases zero.
    pub fn new(channels: usize, bias: bool, dropout: f64, proj_std: f64, rng: &mut Rng) -> Self {
        MLP {
            c_fc: Projection::normal(channels, 4 * channels, bias, 0.02, rng),
            c_proj: Projection::normal(4 * channels, channels, bias, proj_std, rng),
            dropout,
            training: true,
        }
    }
}

impl Module for MLP {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let h = self.c_fc.forward(x, ctx)?.gelu();
        let y = self.c_proj.forward(h, ctx)?;
        resid_dropout(y, self.dropout, self.training, ctx)
    }

    submodule_parameters!(c_fc, c_proj);

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn describe(&self) -> String {
        format!("MLP(channels={})", self.c_fc.in_features())
    }
}

/// A pre-norm transformer block, as nanoGPT's `Block`: `x + attn(ln_1(x))`, then
/// `x + mlp(ln_2(x))`.
#[derive(Clone, Debug)]
pub struct Block {
    /// The normalisation before attention.
    pub ln_1: LayerNorm,
    /// The attention.
    pub attn: CausalSelfAttention,
    /// The normalisation before the MLP.
    pub ln_2: LayerNorm,
    /// The MLP.
    pub mlp: MLP,
}

impl Block {
    /// A block over `channels` with `heads` heads; `proj_std` is the standard deviation of
    /// both `c_proj` weights (nanoGPT's `0.02/√(2·n_layer)`).
    pub fn new(
        channels: usize,
        heads: usize,
        bias: bool,
        dropout: f64,
        proj_std: f64,
        rng: &mut Rng,
    ) -> Self {
        Block {
            ln_1: LayerNorm::new(channels, bias),
            attn: CausalSelfAttention::new(channels, heads, bias, dropout, proj_std, rng),
            ln_2: LayerNorm::new(channels, bias),
            mlp: MLP::new(channels, bias, dropout, proj_std, rng),
        }
    }
}

impl Block {
    /// [`Module::forward`] on the positions as rows, `[batch·time, channels]`.
    pub fn forward_rows<'t>(
        &self,
        x: Tensor<'t, f32>,
        time: usize,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let a = self
            .attn
            .forward_rows(self.ln_1.forward(x, ctx)?, time, ctx)?;
        let x = x.add(a)?;
        let m = self.mlp.forward(self.ln_2.forward(x, ctx)?, ctx)?;
        x.add(m)
    }
}

impl Module for Block {
    /// The block applied to `x`, `[batch, time, channels]`.
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        over_rows("block", x, |rows, time| self.forward_rows(rows, time, ctx))
    }

    submodule_parameters!(ln_1, attn, ln_2, mlp);

    fn set_training(&mut self, training: bool) {
        self.attn.set_training(training);
        self.mlp.set_training(training);
    }

    fn describe(&self) -> String {
        format!("Block({}, {})", self.attn.describe(), self.mlp.describe())
    }
}
