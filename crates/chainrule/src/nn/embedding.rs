//! The embedding table: one learned vector per token.

use super::{Context, Module};
use crate::tensor::{Array, Tensor, TensorError};
use crate::util::rand::Rng;

/// A table of `num_embeddings` vectors of `embedding_dim` numbers, looked up by index, as
/// PyTorch's `nn.Embedding`: the weight is `[num_embeddings, embedding_dim]`, and the output for
/// indices of shape `[..]` is `[.., embedding_dim]`, row `i` of the weight at each index `i`.
///
/// The lookup is a gather of rows ([`Tensor::index_select`]); its gradient scatters the
/// output's gradient back and adds it into the rows, so a token seen twice in a batch gets the
/// sum of both. With a `padding_idx`, that row gets no gradient (it keeps its value, zeros
/// after [`Embedding::new`]), as in PyTorch.
///
/// ```
/// use chainrule::nn::{Context, Embedding};
/// use chainrule::rand::Rng;
/// use chainrule::tensor::{Array, Tape};
///
/// let emb = Embedding::new(10, 3, &mut Rng::new(0));
/// let tape = Tape::<f32>::new();
/// let mut ctx = Context::new(&tape, 0);
/// let ids = Array::from_vec(vec![1, 4, 1, 0], &[2, 2]).unwrap();
/// let x = emb.lookup(&ids, &mut ctx).unwrap();
/// assert_eq!(x.shape(), vec![2, 2, 3]);
/// x.sum_all().backward().unwrap();
/// let g = ctx.parameters()[0].grad().unwrap();
/// assert_eq!(&g.data()[3..6], &[2.0, 2.0, 2.0]); // row 1 is used twice
/// assert_eq!(&g.data()[6..9], &[0.0, 0.0, 0.0]); // row 2 not at all
/// ```
#[derive(Clone, Debug)]
pub struct Embedding {
    /// The table, `[num_embeddings, embedding_dim]`.
    pub weight: Array<f32>,
    /// The row that gets no gradient (PyTorch's `padding_idx`), if any.
    pub padding_idx: Option<usize>,
}

impl Embedding {
    /// A table initialised as PyTorch does, every number from the standard normal
    /// distribution.
    pub fn new(num_embeddings: usize, embedding_dim: usize, rng: &mut Rng) -> Self {
        Self::normal(num_embeddings, embedding_dim, 1.0, rng)
    }

    /// A table with every number from the normal distribution of mean 0 and standard
    /// deviation `std` (GPT-2's initialisation uses 0.02).
    pub fn normal(num_embeddings: usize, embedding_dim: usize, std: f64, rng: &mut Rng) -> Self {
        let data = (0..num_embeddings * embedding_dim)
            .map(|_| rng.normal_with(0.0, std) as f32)
            .collect();
        Embedding {
            weight: Array::from_vec(data, &[num_embeddings, embedding_dim]).expect("sizes agree"),
            padding_idx: None,
        }
    }

    /// The same table with row `padding_idx` set to zeros and excluded from the gradient, as
    /// `nn.Embedding(..., padding_idx=i)`.
    ///
    /// # Panics
    /// If `padding_idx` is not a row of the table.
    pub fn with_padding_idx(mut self, padding_idx: usize) -> Self {
        let d = self.embedding_dim();
        assert!(
            padding_idx < self.num_embeddings(),
            "padding_idx {padding_idx} is not a row of a table of {}",
            self.num_embeddings()
        );
        self.weight.data_mut()[padding_idx * d..(padding_idx + 1) * d].fill(0.0);
        self.padding_idx = Some(padding_idx);
        self
    }

    /// The number of rows (the vocabulary's size, for tokens).
    pub fn num_embeddings(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The length of each vector.
    pub fn embedding_dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The vectors of `ids` (any shape), `[.., embedding_dim]`; an error names an index out of
    /// the table.
    pub fn lookup<'t>(
        &self,
        ids: &Array<usize>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let w = ctx.param(&self.weight);
        embedding(w, ids, self.padding_idx)
    }
}

/// The rows of `weight` (`[rows, dim]`) at `ids` (any shape), `[.., dim]`, as
/// `torch.nn.functional.embedding`: a gather whose gradient scatters and adds into the rows.
/// With `padding_idx`, that row passes its value but no gradient.
///
/// ```
/// use chainrule::nn::embedding;
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f64>::new();
/// let w = tape.var(Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
/// let ids = Array::from_vec(vec![1, 0, 1], &[3]).unwrap();
/// let y = embedding(w, &ids, Some(0)).unwrap();
/// assert_eq!(y.to_vec(), vec![3.0, 4.0, 1.0, 2.0, 3.0, 4.0]);
/// y.sum_all().backward().unwrap();
/// assert_eq!(w.grad().unwrap().to_vec(), vec![0.0, 0.0, 2.0, 2.0]);
/// ```
pub fn embedding<'t, T: crate::tensor::Element>(
    weight: Tensor<'t, T>,
    ids: &Array<usize>,
    padding_idx: Option<usize>,
) -> Result<Tensor<'t, T>, TensorError> {
    let ws = weight.shape();
    if ws.len() != 2 {
        return Err(TensorError::new(
            "embedding",
            format!("the weight must be [rows, dim], not {ws:?}"),
        ));
    }
    if let Some(&bad) = ids.data().iter().find(|&&i| i >= ws[0]) {
        return Err(TensorError::new(
            "embedding",
            format!("index {bad} is out of a table of {} rows", ws[0]),
        ));
    }
    let table = match padding_idx {
        // The padding row's value without its gradient: the detached copy of the table
        // (shared data, no copy) for that row, the table itself for the others.
        Some(p) if p < ws[0] => {
            let keep = Array::from_vec((0..ws[0]).map(|r| r != p).collect(), &[ws[0], 1])?;
            Tensor::where_cond(&keep, weight, weight.detach())?
        }
        _ => weight,
    };
    let rows = table.index_select(0, &ids.reshape(&[ids.numel()])?)?;
    let mut shape = ids.shape().to_vec();
    shape.push(ws[1]);
    rows.reshape(&shape)
}

impl Module for Embedding {
    /// The vectors of the indices held (as whole numbers) in `x`; the token indices usually
    /// come as a list instead, through [`Embedding::lookup`].
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let ids = indices_of(&x.value(), "embedding")?;
        self.lookup(&ids, ctx)
    }

    fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
        vec![("weight".into(), &self.weight)]
    }

    fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
        vec![("weight".into(), &mut self.weight)]
    }

    fn describe(&self) -> String {
        let pad = self
            .padding_idx
            .map_or(String::new(), |p| format!(", padding_idx={p}"));
        format!(
            "Embedding({}, {}{pad})",
            self.num_embeddings(),
            self.embedding_dim()
        )
    }
}

/// The whole non-negative numbers of `x` as indices, or an error naming the first that is not.
pub(crate) fn indices_of(x: &Array<f32>, op: &'static str) -> Result<Array<usize>, TensorError> {
    let mut ids = Vec::with_capacity(x.numel());
    for &v in x.data() {
        if !(v >= 0.0 && v.fract() == 0.0 && v < 16_777_216.0) {
            return Err(TensorError::new(
                op,
                format!("{v} is not an index (a whole number from 0)"),
            ));
        }
        ids.push(v as usize);
    }
    Array::from_vec(ids, x.shape())
}
