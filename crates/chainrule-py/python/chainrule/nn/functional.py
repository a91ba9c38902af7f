"""``torch.nn.functional``'s place for :mod:`chainrule.functional` (``import
chainrule.nn.functional as F``): the same functions."""

from ..functional import *  # noqa: F401,F403
from ..functional import __all__  # noqa: F401
