"""Models written by ``chainrule train --save``, as Python modules."""


import numpy as _np

from .. import _core, no_grad
from . import layers as _layers
from .layers import Dropout, Linear
from .module import Sequential


class Classifier(Sequential):
    """The network of a model file: a ``Sequential`` of layers (``Linear`` layers and
    activations, or convolutions, batch normalisations, pooling, ``Flatten``...: the layout of
    the file's ``torch.nn.Sequential``), with the file's class names (``classes``), loss,
    input standardisation (``mean``, ``std``) and, for a convolutional network, the shape of
    one image (``input_shape``, ``[channels, height, width]``; rows of features are reshaped
    to it)."""

    input_shape = None

    def standardize(self, features):
        """The features as the network takes them: standardised as in training."""
        x = _np.asarray(features, dtype=_np.float32)
        shape = None if self.input_shape is None else tuple(self.input_shape)
        n = int(_np.prod(shape)) if shape else (None if self.mean is None else len(self.mean))
        if shape and x.ndim >= 3 and x.shape[-3:] == shape:
            x = x.reshape(x.shape[:-3] + (n,))
        if n is not None and (x.ndim < 1 or x.shape[-1] != n):
            what = f"images of {list(shape)} ({n} values)" if shape else f"{n} features"
            raise ValueError(f"predict: the network takes {what}, not rows of shape "
                             f"{list(x.shape)}")
        if self.mean is not None:
            x = (x - self.mean) / self.std
        if shape:
            x = x.reshape(x.shape[:-1] + shape)
        return x

    def predict(self, features):
        """The predicted class index of each row of ``features`` (as they come, standardised
        here; for a convolutional network images, or rows of their values), or the predicted
        values for a regression model, as ``chainrule predict``."""
        with no_grad():
            out = self(_core.tensor(self.standardize(features))).numpy()
        if self.loss == "cross_entropy":
            return out.argmax(axis=1)
        if self.loss == "binary_cross_entropy":
            return (out[:, 0] > 0).astype(_np.int64)
        return out


def load_model(path):
    """The model in ``path``, written by ``chainrule train --save``, checked as ``chainrule
    predict`` (or ``chainrule generate``) checks it (a bad file raises ``ModelFileError``), in
    evaluation mode: a :class:`Classifier` for a perceptron or a convolutional network (its
    buffers, such as batch normalisation's running statistics, loaded too), a
    :class:`chainrule.nn.GPT` for a language model (``--model gpt``)."""
    if _core.load_metadata(str(path)).get("format") == "chainrule.gpt":
        from .transformer import GPT
        return GPT.from_file(path)
    info = _core._load_network(str(path))
    if info["kind"] == "mlp":
        sizes = list(info["sizes"])
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                # The class of chainrule.nn with PyTorch's name (`LeakyReLU`), its defaults.
                layers.append(getattr(_layers, info["activation"])())
                if info["dropout"] > 0:
                    layers.append(Dropout(info["dropout"]))
        model = Classifier(*layers)
    else:
        model = Classifier(*[getattr(_layers, name)(**kwargs) for name, kwargs in info["layers"]])
        object.__setattr__(model, "input_shape", tuple(info["input_shape"]))
    model.load_state_dict(info["tensors"])
    model.eval()
    mean, std = info["mean"], info["std"]
    object.__setattr__(model, "classes", list(info["classes"]))
    object.__setattr__(model, "loss", info["loss"])
    object.__setattr__(model, "mean", None if mean is None else _np.asarray(mean, dtype=_np.float32))
    object.__setattr__(model, "std", None if std is None else _np.asarray(std, dtype=_np.float32))
    return model


__all__ = ["Classifier", "load_model"]
