"""In-place random fills (``uniform_``, ``normal_``, ``bernoulli_``, ...) and ``multinomial``.

Every draw comes from rgrad's Philox generator (``_C._random``), so ``manual_seed`` and
``generator=`` reproduce them. Values are drawn in float64 (float32 for float32 tensors) and
transformed with tensor ops, then written with ``copy_``: as in torch, filling a leaf that requires
grad outside ``no_grad`` raises, and a filled non-leaf passes no gradient to what it held before.
"""

import math

from . import _C

Tensor = _C.Tensor

__all__ = ["multinomial"]


def _draw(t, kind, a, b, generator):
    # float32 arithmetic for every dtype but float64, as the GPU draws
    dt = _C.float64 if t.dtype == _C.float64 else _C.float32
    return _C._random(kind, list(t.shape), float(a), float(b), dt, generator, t.device)


def _fill(t, sample):
    # Samples are drawn on t's device; copy_ casts them to its dtype.
    t.copy_(sample)
    return t


def _method(fn):
    setattr(Tensor, fn.__name__, fn)
    return fn


def _check_float(t, name):
    if not t.is_floating_point():
        raise RuntimeError(f'"{name}_cpu" not implemented for \'{t.dtype._kernel_name}\'')



@_method
def uniform_(self, a=0.0, b=1.0, *, generator=None, **kwargs):
    """Fills self with samples of U(a, b) (torch also spells the bounds ``from``/``to``)."""
    a, b = kwargs.pop("from", a), kwargs.pop("to", b)
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    return _fill(self, _draw(self, "uniform", a, b, generator))


@_method
def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fills self with samples of N(mean, std²)."""
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _fill(self, _draw(self, "normal", mean, std, generator))


@_method
def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fills self with exp(N(mean, std²))."""
    _check_float(self, "log_normal")
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _fill(self, _draw(self, "normal", mean, std, generator).exp())


@_method
def exponential_(self, lambd=1.0, *, generator=None):
    """Fills self with samples of Exp(lambd): -log(1 - U) / lambd."""
    _check_float(self, "exponential")
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    u = _draw(self, "uniform", 0.0, 1.0, generator)
    return _fill(self, (-u).log1p() / -lambd)


@_method
def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fills self with median + sigma * tan(pi * (U - 1/2))."""
    _check_float(self, "cauchy")
    if sigma <= 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    u = _draw(self, "uniform", 0.0, 1.0, generator)
    return _fill(self, ((u - 0.5) * math.pi).tan() * sigma + median)


@_method
def geometric_(self, p, *, generator=None):
    """Fills self with the number of Bernoulli(p) trials up to the first success (>= 1)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    u = _draw(self, "uniform", 0.0, 1.0, generator)
    return _fill(self, ((-u).log1p() / math.log1p(-p)).ceil().clamp(min=1))


@_method
def random_(self, from_=None, to=None, *, generator=None, **kwargs):
    """``random_()``: integers in [0, 2^mantissa] for floats or [0, max] for ints;
    ``random_(to)``: [0, to); ``random_(from, to)``: [from, to)."""
    from_ = kwargs.pop("from", from_)
    if from_ is not None and to is None:
        lo, hi = 0, from_
    elif from_ is None:
        lo, hi = 0, _random_upper(self.dtype)
    else:
        lo, hi = from_, to
    if lo >= hi:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={lo} >= to={hi}")
    return _fill(self, _C._random("randint", list(self.shape), float(lo), float(hi), _C.int64, generator,
                                      self.device))


def _random_upper(d):
    bits = {"float32": 24, "float64": 53, "float16": 11, "bfloat16": 8, "bool": 1, "uint8": 8, "int8": 7,
            "int16": 15, "int32": 31, "int64": 63}[d.name]
    return 2 if d == _C.bool else 2 ** bits + (1 if d.is_floating_point else 0)


@_method
def bernoulli_(self, p=0.5, *, generator=None):
    """Fills self with 1 with probability `p` (a number or a tensor broadcast to self), else 0."""
    u = _draw(self, "uniform", 0.0, 1.0, generator)
    if isinstance(p, Tensor):
        if ((p < 0) | (p > 1)).any():
            raise RuntimeError("bernoulli_ expects all elements of p to be in [0, 1]")
        p = p.detach()
    elif not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return _fill(self, u < p)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Draws `num_samples` category indices per row of the (unnormalised) probabilities `input`
    (1-D or 2-D). Without replacement each row's draws are distinct (Gumbel top-k); with
    replacement they are independent (inverse CDF).

    Example::

        >>> torch.multinomial(torch.tensor([0., 10., 3., 0.]), 2)
        tensor([1, 2])
    """
    if input.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.is_floating_point():
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype._kernel_name}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = input.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    # Drawn on the CPU in float64 (which cannot live on the GPU); the indices move back.
    probs = input.detach().cpu().double()
    rows = probs.reshape(-1, n)
    if (rows < 0).any() or not rows.isfinite().all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    total = rows.sum(-1, keepdim=True)
    if (total <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    shape = [rows.shape[0], num_samples]
    if replacement:
        cdf = (rows / total).cumsum(-1)
        u = _C._random("uniform", shape, 0.0, 1.0, _C.float64, generator)
        from ._reduce import searchsorted
        idx = searchsorted(cdf, u, right=True).clamp(max=n - 1)
    else:
        u = _C._random("uniform", list(rows.shape), 0.0, 1.0, _C.float64, generator)
        # zero-probability categories get key -inf: drawn last, only once the others are used up
        keys = rows.log() - (-u.clamp(min=1e-300).log()).log()
        idx = keys.topk(num_samples, -1).indices
    idx = idx.reshape(list(input.shape[:-1]) + [num_samples])
    if input.device.type != "cpu":
        idx = idx._to_device(input.device)
    if out is not None:
        return out.copy_(idx)
    return idx


Tensor.multinomial = multinomial
