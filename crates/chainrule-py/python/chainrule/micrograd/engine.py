"""micrograd's ``engine`` module: its ``Value`` is :class:`chainrule.Value`."""

from .._core import Value

__all__ = ["Value"]
