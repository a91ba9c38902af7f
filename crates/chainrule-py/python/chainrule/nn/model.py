"""Models written by ``chainrule train --save``, as Python modules."""


import numpy as _np

from .. import _core, no_grad
from .layers import GELU, Dropout, Linear, ReLU, Sigmoid, Tanh
from .module import Sequential

_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU}


class Classifier(Sequential):
    """The network of a model file: a ``Sequential`` of ``Linear`` layers and activations (the
    layout of ``torch.nn.Sequential``), with the file's class names (``classes``), loss and
    input standardisation (``mean``, ``std``)."""

    def standardize(self, features):
        """The features as the network takes them: standardised as in training."""
        x = _np.asarray(features, dtype=_np.float32)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x

    def predict(self, features):
        """The predicted class index of each row of ``features`` (as they come, standardised
        here), or the predicted values for a regression model, as ``chainrule predict``."""
        with no_grad():
            out = self(_core.tensor(self.standardize(features))).numpy()
        if self.loss == "cross_entropy":
            return out.argmax(axis=1)
        if self.loss == "binary_cross_entropy":
            return (out[:, 0] > 0).astype(_np.int64)
        return out


def load_model(path):
    """The model in ``path`` (written by ``chainrule train --save``), checked as ``chainrule
    predict`` checks it (a bad file raises ``ModelFileError``)."""
    sizes, activation, dropout, loss, classes, mean, std, tensors = _core._load_network(str(path))
    sizes = [int(s) for s in sizes.split("-")]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(Dropout(dropout))
    model = Classifier(*layers)
    model.load_state_dict(tensors)
    model.eval()
    object.__setattr__(model, "classes", list(classes))
    object.__setattr__(model, "loss", loss)
    object.__setattr__(model, "mean", None if mean is None else _np.asarray(mean, dtype=_np.float32))
    object.__setattr__(model, "std", None if std is None else _np.asarray(std, dtype=_np.float32))
    return model


__all__ = ["Classifier", "load_model"]
