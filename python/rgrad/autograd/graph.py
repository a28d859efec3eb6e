"""Graph node type (``grad_fn`` objects are instances of ``Node``)."""

from .. import _C

Node = _C.Node

__all__ = ["Node"]
