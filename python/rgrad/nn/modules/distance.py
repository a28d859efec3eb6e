"""Distance modules: PairwiseDistance and CosineSimilarity."""

from .. import _fn_activation as F
from .module import Module

__all__ = ["PairwiseDistance", "CosineSimilarity"]


class PairwiseDistance(Module):
    r"""The `p`-norm of ``x1 - x2 + eps`` over the last dim.

    Shape: inputs ``(N, D)`` or ``(D)``, output ``(N)`` or ``()`` (``keepdim`` keeps the dim).
    """

    __constants__ = ["norm", "eps", "keepdim"]

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    r"""Cosine similarity of `x1` and `x2` along `dim`, each norm floored at `eps`.

    Shape: inputs ``(*, D, *)`` broadcastable, output without `dim`.
    """

    __constants__ = ["dim", "eps"]

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
