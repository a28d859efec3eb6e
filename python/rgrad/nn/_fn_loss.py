"""Loss functions of rgrad.nn.functional, with torch's signatures, reductions and errors.

The hot losses (mse, nll/cross_entropy, bce, bce-with-logits, smooth_l1, huber) compute their
forward on detached tensors in a few large ops and record one graph node named as torch's
(``MseLossBackward0``, ``NllLossBackward0``, ...) whose backward is again a few large ops; the
others are composed from differentiable ops as torch composes them. Under create_graph=True the
node backwards are built from the original inputs, so second derivatives flow through every loss
(nll's gradient does not depend on its input, and log_softmax's node carries cross_entropy's).
"""

import warnings

from .. import _C
from .._functions import broadcast_shapes
from .._indexing_ops import where

Tensor = _C.Tensor

__all__ = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
]

_EPSILON = 1e-12  # torch's clamp of x*(1-x) in bce's backward and of the norms in cosine losses


# ----- reductions ---------------------------------------------------------------------------

def _reduction_of(reduction, size_average=None, reduce=None, stacklevel=3):
    """torch's mapping of the deprecated size_average/reduce pair onto `reduction`, with its
    ValueError for an unknown mode."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else ("sum" if reduce else "none")
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' "
                      "instead.", stacklevel=stacklevel)
        return reduction
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      stacklevel=stacklevel)
        return "mean"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _weighted_reduce(loss, weight, reduction):
    """torch's manual path of mse/l1 with an elementwise `weight`: the mean divides by sum(weight)."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / weight.sum()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


# ----- one named graph node per loss -------------------------------------------------------

_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they have "
          "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
          "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
          "if you need to access saved tensors after calling backward.")


class _LossNode:
    """The ctx of a loss node: holds the backward closure (and so its saved tensors) until the
    engine releases the graph."""

    __slots__ = ("backward",)

    def __init__(self, backward):
        self.backward = backward

    def _release(self):
        self.backward = None


def _call_node(node, grad):
    if node.backward is None:
        raise RuntimeError(_FREED)
    return node.backward(grad)


def _record(name, inputs, out, backward):
    """Makes `out` (computed from detached tensors) the output of a node called `name` whose
    ``backward(grad)`` returns one gradient (or None) per tensor of `inputs`."""
    if _C.is_grad_enabled() and any(t.requires_grad for t in inputs):
        _C._record_function(name, list(inputs), [out], _call_node, _LossNode(backward))
    return out


def _scale(g, reduction, n):
    """The upstream gradient as a factor of the elementwise derivative."""
    return g / n if reduction == "mean" else g


def _expand_pair(input, target):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", stacklevel=4)
        shape = tuple(broadcast_shapes(input.shape, target.shape))
        input, target = input.expand(shape), target.expand(shape)
    return input, target


def _pointwise_loss(name, input, target, reduction, value_and_derivative):
    """A loss l(input - target) with derivative l'(d): one node, two outputs' grads (input, -input)."""
    d = input.detach() - target.detach()
    loss, deriv = value_and_derivative(d)
    out = _reduce(loss, reduction)
    n = d.numel()

    def backward(g):
        gi = deriv(input - target if _C.is_grad_enabled() else d) * _scale(g, reduction, n)
        return gi if input.requires_grad else None, -gi if target.requires_grad else None

    return _record(name, (input, target), out, backward)


# ----- regression losses -------------------------------------------------------------------

def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target) ** 2``, reduced by `reduction`; an elementwise
    `weight` (same size as input) makes 'mean' divide by ``weight.sum()``."""
    reduction = _reduction_of(reduction, size_average, reduce)
    input, target = _expand_pair(input, target)
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        return _weighted_reduce((input - target).pow(2) * weight, weight, reduction)
    return _pointwise_loss("MseLossBackward0", input, target, reduction,
                           lambda d: (d * d, lambda d: 2 * d))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``|input - target|``, reduced by `reduction`."""
    reduction = _reduction_of(reduction, size_average, reduce)
    input, target = _expand_pair(input, target)
    loss = (input - target).abs()
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        return _weighted_reduce(loss * weight, weight, reduction)
    return _reduce(loss, reduction)


def _huber_parts(d, delta):
    a = d.abs()
    return a < delta, a


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (d = input - target);
    beta = 0 is the L1 loss."""
    reduction = _reduction_of(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    input, target = _expand_pair(input, target)
    if beta == 0.0:
        return _reduce((input - target).abs(), reduction)

    def value_and_derivative(d):
        small, a = _huber_parts(d, beta)
        return (where(small, d * d * (0.5 / beta), a - 0.5 * beta),
                lambda d: where(_huber_parts(d, beta)[0], d / beta, d.sign()))

    return _pointwise_loss("SmoothL1LossBackward0", input, target, reduction, value_and_derivative)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``0.5 d**2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)`` (d = input - target)."""
    reduction = _reduction_of(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    input, target = _expand_pair(input, target)

    def value_and_derivative(d):
        small, a = _huber_parts(d, delta)
        return (where(small, d * d * 0.5, (a - 0.5 * delta) * delta),
                lambda d: where(_huber_parts(d, delta)[0], d, d.sign() * delta))

    if weight is None:
        return _pointwise_loss("HuberLossBackward0", input, target, reduction, value_and_derivative)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    loss = _pointwise_loss("HuberLossBackward0", input, target, "none", value_and_derivative) * weight
    return _reduce(loss, reduction)


# ----- classification losses ---------------------------------------------------------------

def _check_nll_shapes(input, target, weight):
    nd = input.dim()
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    if nd != 1 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0]}).")
    if nd <= 2:
        if target.dim() > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if not (nd == 1 and target.dim() == 0) and input.shape[0] != target.shape[0]:
            raise RuntimeError(f"size mismatch (got input: {list(input.shape)}, target: {list(target.shape)})")
    elif tuple(target.shape[1:]) != tuple(input.shape[2:]):
        raise RuntimeError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}, got "
                           f"{list(target.shape)}")
    n_classes = input.shape[1] if nd > 1 else input.shape[0]
    if weight is not None and (weight.dim() != 1 or weight.numel() != n_classes):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no classes but "
                           f"got weight tensor of shape: {list(weight.shape)}")
    if target.dtype not in (_C.int64, _C.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_scalar_type(target.dtype)}")


def _scalar_type(dtype):
    """torch's ScalarType name of a dtype, as its kernels' messages print it."""
    return _SCALAR_TYPES.get(dtype.name, dtype.name)


_SCALAR_TYPES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
                 "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _nll(input, target, weight, ignore_index, reduction):
    """nll_loss on an input with classes on dim 1 (a batch dim added for unbatched input)."""
    unbatched = input.dim() == 1
    x = input.detach()
    if unbatched:
        x, target = x.unsqueeze(0), target.reshape(1)
    n_classes = x.shape[1]
    target = target.long() if target.dtype != _C.int64 else target
    ignored = target == ignore_index
    any_ignored = bool(ignored.any())
    safe = target.masked_fill(ignored, 0) if any_ignored else target
    if safe.numel():
        bad = (safe < 0) | (safe >= n_classes)
        if bool(bad.any()):
            raise IndexError(f"Target {int(target[bad].reshape(-1)[0])} is out of bounds.")
    index = safe.unsqueeze(1)
    w = None
    if weight is not None:
        w = weight.detach().to(x.dtype)[safe]
    if any_ignored:
        w = (w if w is not None else x.new_ones(safe.shape)).masked_fill(ignored, 0)
    picked = x.gather(1, index).squeeze(1)
    loss = -(picked * w) if w is not None else -picked
    if reduction == "none":
        out = loss
        total = None
    else:
        out = loss.sum()
        total = (w.sum() if w is not None else safe.numel()) if reduction == "mean" else None
        if total is not None:
            out = out / total
    if unbatched and reduction == "none":
        out = out.squeeze(0)
    # torch runs 3-d and >4-d inputs through its 2-d kernel on an (N, C, 1, -1) view, so their
    # unreduced loss comes out of a view.
    flat = reduction == "none" and (input.dim() == 3 or input.dim() > 4)
    if flat:
        out = out.reshape(safe.shape[0], 1, -1)

    def backward(g):
        if unbatched and reduction == "none":
            g = g.unsqueeze(0)
        if flat:
            g = g.reshape(tuple(safe.shape))
        coef = -g if total is None else -g / total
        src = (coef * w if w is not None else coef).expand(tuple(safe.shape))
        if any_ignored:  # where every target is ignored, 0 * (g / 0) would be nan
            src = src.masked_fill(ignored, 0)
        src = src.unsqueeze(1)
        grad = x.new_zeros(tuple(x.shape)).scatter_(1, index, src.contiguous())
        return grad.squeeze(0) if unbatched else grad

    name = "NllLoss2DBackward0" if input.dim() >= 3 else "NllLossBackward0"
    out = _record(name, (input,), out, backward)
    return out.view(tuple(safe.shape)) if flat else out


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class-index `target` under log-probabilities `input`.

    Shape: input (C), (N, C) or (N, C, d1, ...); target (), (N) or (N, d1, ...) of class indices
    in [0, C) or `ignore_index`. 'mean' divides by the summed weights of the non-ignored targets.
    """
    reduction = _reduction_of(reduction, size_average, reduce)
    _check_nll_shapes(input, target, weight)
    return _nll(input, target, weight, ignore_index, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy between logits `input` and `target`: class indices (as nll_loss) or class
    probabilities (a float tensor of input's shape).

    Shape: input (C), (N, C) or (N, C, d1, ...); target of class indices (), (N), (N, d1, ...), or
    probabilities of input's shape. `label_smoothing` in [0, 1] mixes the target with the uniform
    distribution.

    Example::

        >>> loss = F.cross_entropy(torch.randn(3, 5, requires_grad=True), torch.tensor([1, 0, 4]))
        >>> loss.backward()
    """
    reduction = _reduction_of(reduction, size_average, reduce)
    class_dim = 0 if input.dim() == 1 else 1
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if tuple(input.shape) == tuple(target.shape):
        if not target.is_floating_point():
            raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                               f"{_scalar_type(target.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        n_classes = input.shape[class_dim]
        if weight is not None and (weight.dim() != 1 or weight.numel() != n_classes):
            raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {n_classes} classes "
                               f"or no classes but got weight tensor of shape: {list(weight.shape)}")
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing, class_dim, n_classes)
    _check_nll_shapes(input, target, weight)
    n_classes = input.shape[class_dim]
    logp = input.log_softmax(class_dim)
    nll = _nll(logp, target, weight, ignore_index, reduction)
    if label_smoothing <= 0.0:
        return nll
    # torch's label smoothing: nll mixed with the (weighted) mean of -logp over classes.
    if weight is not None:
        shape = [1] * logp.dim()
        shape[class_dim] = n_classes
        smooth = -(logp * weight.view(shape)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    ignored = target == ignore_index
    smooth = smooth.masked_fill(ignored, 0.0)
    if reduction == "mean":
        kept = ~ignored
        denom = weight[target[kept]].sum() if weight is not None else kept.sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing, class_dim, n_classes):
    logp = input.log_softmax(class_dim)
    if label_smoothing > 0.0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target
    if weight is not None:
        shape = [1] * logp.dim()
        shape[class_dim] = n_classes
        prod = prod * weight.view(shape)
    if reduction == "none":
        return -prod.sum(class_dim)
    if reduction == "sum":
        return -prod.sum()
    if input.numel() == 0:
        return -prod.sum().fill_(float("nan"))
    return -prod.sum() / (input.numel() // n_classes)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """``-w (t log x + (1 - t) log(1 - x))`` for probabilities `input`; each log is clamped to
    >= -100 as in torch, so the loss stays finite at 0 and 1."""
    reduction = _reduction_of(reduction, size_average, reduce)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) "
                         "is deprecated. Please ensure they have the same size.")
    x, t = input.detach(), target.detach()
    if x.numel() and bool(((x < 0) | (x > 1)).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    w = None
    if weight is not None:
        w = weight.detach().expand(tuple(broadcast_shapes(target.shape, weight.shape)))
    log_x, log_1mx = x.log().clamp(min=-100), (-x).log1p().clamp(min=-100)
    loss = -(t * log_x + (1 - t) * log_1mx)
    if w is not None:
        loss = loss * w
    out = _reduce(loss, reduction)
    n = x.numel()

    def backward(g):
        g = _scale(g, reduction, n)
        if w is not None:
            g = g * w
        # Built from the original inputs under create_graph=True, so second derivatives flow.
        xi, ti = (input, target) if _C.is_grad_enabled() else (x, t)
        gi = (xi - ti) / ((1 - xi) * xi).clamp(min=_EPSILON) * g if input.requires_grad else None
        gt = None
        if target.requires_grad:
            gt = ((-xi).log1p().clamp(min=-100) - xi.log().clamp(min=-100)) * g
        return gi, gt

    return _record("BinaryCrossEntropyBackward0", (input, target), out, backward)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross entropy in one numerically stable expression:
    ``(1 - t) x + lw (log1p(exp(-|x|)) + max(-x, 0))`` with ``lw = 1 + (pos_weight - 1) t``."""
    reduction = _reduction_of(reduction, size_average, reduce)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    x, t = input.detach(), target.detach()
    w = None if weight is None else weight.detach()
    pw = None if pos_weight is None else pos_weight.detach()
    softplus_neg = (-x.abs()).exp().log1p() + (-x).clamp(min=0)  # log(1 + exp(-x)), stable
    if pw is not None:
        loss = (1 - t) * x + ((pw - 1) * t + 1) * softplus_neg
    else:
        loss = (1 - t) * x + softplus_neg
    if w is not None:
        loss = loss * w
    out = _reduce(loss, reduction)
    n = x.numel()

    def backward(g):
        # Built from the original inputs, so create_graph=True gives second derivatives.
        xi, ti = (input, target) if _C.is_grad_enabled() else (x, t)
        g = _scale(g, reduction, n)
        if w is not None:
            g = g * w
        gi = gt = None
        if input.requires_grad:
            if pw is not None:
                pt = pw * ti
                gi = ((pt + 1 - ti) * xi.sigmoid() - pt) * g
            else:
                gi = (xi.sigmoid() - ti) * g
        if target.requires_grad:
            if pw is not None:
                gt = (_log_sigmoid(-xi) - _log_sigmoid(xi) * pw) * g
            else:
                gt = -xi * g
        return gi, gt

    return _record("BinaryCrossEntropyWithLogitsBackward0", (input, target), out, backward)


def _log_sigmoid(x):
    return -((-x.abs()).exp().log1p() + (-x).clamp(min=0))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL divergence ``target (log target - input)`` with log-probabilities `input`
    (and `target` too if `log_target`); 'batchmean' divides the sum by the batch size."""
    if size_average is not None or reduce is not None:
        reduction = _reduction_of(reduction, size_average, reduce)
        batchmean = False
    else:
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                          "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                          "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                          stacklevel=2)
        batchmean = reduction == "batchmean"
        reduction = _reduction_of("sum" if batchmean else reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # xlogy(t, t): 0 where t == 0.
        loss = where(target == 0, target.new_zeros(()), target * target.log()) - target * input
    out = _reduce(loss, reduction)
    if batchmean and input.dim() != 0:
        out = out / input.shape[0]
    return out


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """``1 - cos(x1, x2)`` where target == 1, ``max(0, cos(x1, x2) - margin)`` where target == -1.

    Shape: input1, input2 (N, D) or (D); target (N) or ()."""
    reduction = _reduction_of(reduction, size_average, reduce)
    td = target.dim()
    if td not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if td == 1 and not (input1.dim() == 2 and input2.dim() == 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with sizes "
                           f"{list(input1.shape)} and {list(input2.shape)}.")
    if td == 0 and not (input1.dim() == 1 and input2.dim() == 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with sizes "
                           f"{list(input1.shape)} and {list(input2.shape)}.")
    prod = (input1 * input2).sum(td)
    mag1 = (input1 * input1).sum(td) + _EPSILON
    mag2 = (input2 * input2).sum(td) + _EPSILON
    cos = prod / (mag1 * mag2).sqrt()
    zeros = cos.new_zeros(())
    pos = where(target == 1, 1 - cos, zeros)
    neg = where(target == -1, (cos - margin).clamp(min=0), zeros)
    return _reduce(pos + neg, reduction)
