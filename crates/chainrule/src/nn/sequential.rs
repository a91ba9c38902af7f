//! A chain of modules.

use super::{Context, Module};
use crate::model_file::NamedTensor;
use crate::tensor::{Array, Tensor, TensorError};

/// Modules applied one after the other, as `nn.Sequential`; parameters are named by position
/// (`0.weight`, `0.bias`, `2.weight`, ...), as in PyTorch's `state_dict`.
///
/// ```
/// use chainrule::nn::{Linear, Module, ReLU, Sequential};
/// use chainrule::rand::Rng;
///
/// let mut rng = Rng::new(0);
/// let net = Sequential::new()
///     .with(Linear::new(2, 4, &mut rng))
///     .with(ReLU)
///     .with(Linear::new(4, 1, &mut rng));
/// assert_eq!(net.len(), 3);
/// assert_eq!(net.num_parameters(), 2 * 4 + 4 + 4 + 1);
/// assert_eq!(net.named_parameters()[2].0, "2.weight");
/// ```
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module + Send + Sync>>,
}

impl Sequential {
    /// An empty chain (the identity).
    pub fn new() -> Self {
        Self::default()
    }

    /// The chain with `layer` appended.
    pub fn with(mut self, layer: impl Module + Send + Sync + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer.
    pub fn push(&mut self, layer: Box<dyn Module + Send + Sync>) {
        self.layers.push(layer);
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layers.
    pub fn layers(&self) -> &[Box<dyn Module + Send + Sync>] {
        &self.layers
    }
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Module for Sequential {
    fn forward<'t>(
        &self,
        mut x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        for layer in &self.layers {
            x = layer.forward(x, ctx)?;
        }
        Ok(x)
    }

    fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for (name, a) in layer.named_parameters() {
                out.push((format!("{i}.{name}"), a));
            }
        }
        out
    }

    fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            for (name, a) in layer.parameters_mut() {
                out.push((format!("{i}.{name}"), a));
            }
        }
        out
    }

    fn for_each_parameter_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Array<f32>)) {
        for layer in &mut self.layers {
            layer.for_each_parameter_mut(f);
        }
    }

    fn named_buffers(&self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for mut b in layer.named_buffers() {
                b.name = format!("{i}.{}", b.name);
                out.push(b);
            }
        }
        out
    }

    fn set_buffers(&mut self, buffers: &[NamedTensor]) {
        let mut rest = buffers;
        for layer in &mut self.layers {
            let n = layer.named_buffers().len();
            assert!(rest.len() >= n, "too few buffers for the layers");
            let (mine, others) = rest.split_at(n);
            if n > 0 {
                layer.set_buffers(mine);
            }
            rest = others;
        }
        assert!(rest.is_empty(), "more buffers than the layers have");
    }

    fn set_training(&mut self, training: bool) {
        for layer in &mut self.layers {
            layer.set_training(training);
        }
    }

    fn describe(&self) -> String {
        let inner: Vec<String> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| format!("  ({i}): {}", l.describe()))
            .collect();
        format!("Sequential(\n{}\n)", inner.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{BatchNorm2d, Conv2d, Flatten, Linear, ReLU};
    use crate::tensor::Conv2dOptions;
    use crate::util::rand::Rng;

    /// What a training step updates through `for_each_parameter_mut` is what `parameters_mut`
    /// names, array for array and in order, for layers that override it and layers that don't.
    #[test]
    fn each_parameter_is_visited_in_the_order_of_the_names() {
        let mut rng = Rng::new(3);
        let mut net = Sequential::new()
            .with(Conv2d::new(
                1,
                2,
                3,
                Conv2dOptions::default(),
                false,
                &mut rng,
            ))
            .with(BatchNorm2d::new(2))
            .with(ReLU)
            .with(Flatten::default())
            .with(Linear::new(8, 3, &mut rng));
        let named: Vec<*const f32> = net
            .parameters_mut()
            .into_iter()
            .map(|(_, a)| a.data().as_ptr())
            .collect();
        let mut visited = Vec::new();
        net.for_each_parameter_mut(&mut |a| visited.push(a.data().as_ptr()));
        assert_eq!(named.len(), 5);
        assert_eq!(visited, named);
    }
}
