"""The data sets the library ships: scikit-learn's handwritten digits, Fisher's iris, and two
moons, as NumPy arrays."""

from collections import namedtuple

from . import _core

__all__ = ["Dataset", "digits", "iris", "moons"]

Dataset = namedtuple("Dataset", ["features", "targets", "class_names", "feature_names"])
Dataset.__doc__ = """A data set: ``features`` ``[n, f]`` float32, ``targets`` (int64 class
labels, or float32 values), ``class_names`` and ``feature_names`` (``None`` when unnamed)."""


def digits():
    """scikit-learn's handwritten digits: 1,797 images of 8×8 pixels (64 features, 0 to 16) in
    10 classes, as the command line's ``--data digits``."""
    return Dataset(*_core._dataset("digits"))


def iris():
    """Fisher's iris flowers: 150 samples of four measurements in 3 classes."""
    return Dataset(*_core._dataset("iris"))


def moons(n_samples=200, noise=0.1, seed=0):
    """Two interleaving half circles (scikit-learn's ``make_moons`` algorithm, the library's
    random numbers): classes 0 and 1."""
    return Dataset(*_core._dataset("moons", n_samples, noise, seed))
