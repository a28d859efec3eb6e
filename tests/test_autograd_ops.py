"""Gradients of every differentiable op family, compared with torch on the same float64 inputs:
elementwise unary/binary (tensor, scalar and reversed forms, broadcasting), casts, views,
indexing and setitem, gather/scatter, where/masked_fill, cat/stack, the matmul family,
reductions, and in-place ops on non-leaf tensors. Every case runs on contiguous leaves and, where
the inputs have 2+ dims, on transposed and sliced (non-contiguous) leaves. Gradients are checked
both through ``autograd.grad`` and through ``backward`` into ``.grad``."""

import numpy as np
import pytest

import rgrad
from helpers import (FLOAT64_REASON, WIDE_FLOAT, assert_matches, cpu_only_cases, from_np, requires_torch,
                     torch)

pytestmark = requires_torch

LIBS = (rgrad, torch)


# ----- the helper every test here goes through ----------------------------------------------

def make_array(shape, seed, domain="normal"):
    """Deterministic float64 data in an op's domain (values away from kinks and poles)."""
    rng = np.random.default_rng(1000 + seed)
    if isinstance(domain, np.ndarray):
        return domain.astype(np.float64)
    if domain == "normal":
        a = rng.standard_normal(shape)
    elif domain == "pos":
        a = rng.uniform(0.5, 2.0, shape)
    elif domain == "unit":
        a = rng.uniform(-0.9, 0.9, shape)
    elif domain == "gt1":
        a = rng.uniform(1.2, 3.0, shape)
    elif domain == "nonzero":
        a = rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    elif domain == "offint":  # away from integers, where floor/round/remainder jump
        a = rng.integers(-3, 3, shape) + rng.uniform(0.1, 0.4, shape)
    else:
        raise ValueError(domain)
    return np.asarray(a, dtype=np.float64)


def leaf(lib, a, layout="contig", dtype=None):
    """A leaf tensor holding a's values with the given memory layout: contiguous, transposed
    (last two dims swapped in memory) or sliced (every other element of a wider buffer)."""
    if layout == "T" and a.ndim >= 2:
        t = from_np(lib, np.ascontiguousarray(np.swapaxes(a, -1, -2))).transpose(-1, -2)
    elif layout == "slice" and a.ndim >= 1:
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],))
        big[..., ::2] = a
        t = from_np(lib, big)[..., ::2]
    else:
        t = from_np(lib, a.copy())
    if dtype is not None:
        t = t.to(getattr(lib, dtype))
    return t.detach().requires_grad_(True)


def _outputs(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


def _plain(t):
    return None if t is None else torch.from_numpy(t.detach().numpy(force=True).copy())


def run_both(fn, arrays, layout="contig", dtypes=None, grad_seed=500):
    """Runs fn(lib, *leaves) on rgrad and torch; returns per library (outputs, grads via
    autograd.grad, grads via backward into .grad)."""
    res = {}
    for lib in LIBS:
        xs = [leaf(lib, a, layout, None if dtypes is None else dtypes[i]) for i, a in enumerate(arrays)]
        ys = _outputs(fn(lib, *xs))
        diff = [y for y in ys if y.requires_grad]
        gos = [from_np(lib, make_array(tuple(y.shape), grad_seed + k)).to(y.dtype) for k, y in enumerate(diff)]
        grads = lib.autograd.grad(diff, xs, gos, retain_graph=True, allow_unused=True) if diff else None
        if diff:
            lib.autograd.backward(diff, gos)
        dot = [x.grad for x in xs]
        if lib is torch:  # torch may answer with ZeroTensors, which numpy() refuses
            grads = grads if grads is None else tuple(_plain(g) for g in grads)
            dot = [_plain(g) for g in dot]
        res[lib] = (ys, grads, dot, xs)
    return res


def check_grad(fn, shapes, *, domain="normal", layout="contig", dtypes=None, rtol=1e-9, atol=1e-11, seed=0):
    """fn(lib, *xs) gives the same outputs and the same input gradients on rgrad as on torch,
    with a random (not all-ones) upstream gradient for every differentiable output."""
    domains = domain if isinstance(domain, (list, tuple)) else [domain] * len(shapes)
    arrays = [make_array(s, seed + i, d) for i, (s, d) in enumerate(zip(shapes, domains))]
    res = run_both(fn, arrays, layout, dtypes)
    (ys, gs, dot_grads, xs), (tys, tgs, tdot_grads, txs) = res[rgrad], res[torch]
    assert len(ys) == len(tys)
    for y, ty in zip(ys, tys):
        assert isinstance(y, rgrad.Tensor)
        assert y.requires_grad == ty.requires_grad, (y.requires_grad, ty.requires_grad)
        assert_matches(y.detach(), ty.detach(), rtol=rtol, atol=atol)
    assert (gs is None) == (tgs is None)
    if tgs is None:
        return
    assert len(gs) == len(tgs)
    for i, (g, tg, dg, tdg) in enumerate(zip(gs, tgs, dot_grads, tdot_grads)):
        assert (g is None) == (tg is None), f"input {i}: {g} vs {tg}"
        assert (dg is None) == (tdg is None), f"input {i} .grad: {dg} vs {tdg}"
        if tg is not None:
            assert not g.requires_grad
            assert_matches(g, tg, rtol=rtol, atol=atol)
        if tdg is not None:
            assert_matches(dg, tdg, rtol=rtol, atol=atol)
    for x in xs:
        assert x.is_leaf and x.grad_fn is None


LAYOUTS = ["contig", "T", "slice"]


# ----- unary elementwise ------------------------------------------------------------------

UNARY = [
    ("abs", "nonzero"), ("neg", "normal"), ("exp", "normal"), ("exp2", "normal"), ("expm1", "normal"),
    ("log", "pos"), ("log2", "pos"), ("log10", "pos"), ("log1p", "pos"), ("sqrt", "pos"), ("rsqrt", "pos"),
    ("reciprocal", "nonzero"), ("square", "normal"), ("sin", "normal"), ("cos", "normal"), ("tan", "unit"),
    ("asin", "unit"), ("acos", "unit"), ("atan", "normal"), ("sinh", "normal"), ("cosh", "normal"),
    ("tanh", "normal"), ("asinh", "normal"), ("acosh", "gt1"), ("atanh", "unit"), ("sigmoid", "normal"),
    ("erf", "normal"), ("erfc", "normal"), ("erfinv", "unit"), ("floor", "offint"), ("ceil", "offint"),
    ("trunc", "offint"), ("frac", "offint"), ("relu", "nonzero"), ("sign", "nonzero"), ("round", "offint"),
    ("negative", "normal"), ("absolute", "nonzero"), ("arcsin", "unit"), ("arctan", "normal"),
    ("fix", "offint"), ("sgn", "nonzero"), ("positive", "normal"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, domain, layout):
    check_grad(lambda lib, x: getattr(lib, name)(x), [(3, 4)], domain=domain, layout=layout)


@pytest.mark.parametrize("name,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_method_0d_and_size1(name, domain):
    check_grad(lambda lib, x: getattr(x, name)(), [()], domain=domain)
    check_grad(lambda lib, x: getattr(x, name)(), [(1, 3, 1)], domain=domain)


@pytest.mark.parametrize("name,domain", [u for u in UNARY if u[0] in
                                         ("exp", "log", "sqrt", "sin", "tanh", "sigmoid", "abs", "neg", "relu")])
def test_unary_size0(name, domain):
    check_grad(lambda lib, x: getattr(lib, name)(x), [(0, 3)], domain=domain)


COMPOSITE_UNARY = {
    "clamp": (lambda lib, x: lib.clamp(x, -0.5, 0.7), "normal"),
    "clamp_min": (lambda lib, x: lib.clamp(x, min=-0.2), "normal"),
    "clamp_max": (lambda lib, x: x.clamp(max=0.3), "normal"),
    "clip": (lambda lib, x: x.clip(-0.5, 0.5), "normal"),
    "logit": (lambda lib, x: lib.logit(x), "unit01"),
    "logit_eps": (lambda lib, x: lib.logit(x, eps=0.2), "unit01"),
    "nan_to_num": (lambda lib, x: lib.nan_to_num(x), "normal"),
    "round_decimals": (lambda lib, x: lib.round(x, decimals=1), "offint"),
    "float_power": (lambda lib, x: x.pow(3), "normal"),
}


@pytest.mark.parametrize("name", list(COMPOSITE_UNARY))
def test_composite_unary(name):
    fn, domain = COMPOSITE_UNARY[name]
    if domain == "unit01":
        arr = np.random.default_rng(3).uniform(0.05, 0.95, (3, 4))
        domain = arr
    check_grad(fn, [(3, 4)], domain=domain, layout="T")


# ----- binary elementwise -----------------------------------------------------------------

BINARY = {
    "add": (lambda lib, x, y: lib.add(x, y), "normal", "normal"),
    "add_alpha": (lambda lib, x, y: lib.add(x, y, alpha=2.5), "normal", "normal"),
    "sub": (lambda lib, x, y: x - y, "normal", "normal"),
    "sub_alpha": (lambda lib, x, y: x.sub(y, alpha=-1.5), "normal", "normal"),
    "rsub": (lambda lib, x, y: lib.rsub(x, y, alpha=2), "normal", "normal"),
    "mul": (lambda lib, x, y: x * y, "normal", "normal"),
    "multiply": (lambda lib, x, y: lib.multiply(x, y), "normal", "normal"),
    "div": (lambda lib, x, y: x / y, "normal", "nonzero"),
    "true_divide": (lambda lib, x, y: lib.true_divide(x, y), "normal", "nonzero"),
    "pow": (lambda lib, x, y: x ** y, "pos", "normal"),
    "maximum": (lambda lib, x, y: lib.maximum(x, y), "normal", "normal"),
    "minimum": (lambda lib, x, y: lib.minimum(x, y), "normal", "normal"),
    "atan2": (lambda lib, x, y: lib.atan2(x, y), "normal", "nonzero"),
    "remainder": (lambda lib, x, y: lib.remainder(x, y), "normal", "nonzero"),
    "fmod": (lambda lib, x, y: lib.fmod(x, y), "normal", "nonzero"),
    "fmax": (lambda lib, x, y: lib.fmax(x, y), "normal", "normal"),
    "fmin": (lambda lib, x, y: lib.fmin(x, y), "normal", "normal"),
    "hypot": (lambda lib, x, y: lib.hypot(x, y), "nonzero", "nonzero"),
    "lerp_scalar": (lambda lib, x, y: lib.lerp(x, y, 0.3), "normal", "normal"),
}

BROADCAST_SHAPES = [
    ((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (3,)), ((3, 2), ()), ((2, 1, 3), (1,)),
    ((1,), (2, 3)), ((4, 1, 1), (1, 3, 2)),
]


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_broadcast(name, shapes):
    fn, d1, d2 = BINARY[name]
    check_grad(fn, list(shapes), domain=[d1, d2])


@pytest.mark.parametrize("layout", ["T", "slice"])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_noncontiguous(name, layout):
    fn, d1, d2 = BINARY[name]
    check_grad(fn, [(3, 4), (3, 4)], domain=[d1, d2], layout=layout)
    check_grad(fn, [(2, 3, 4), (3, 4)], domain=[d1, d2], layout=layout)


def test_binary_same_tensor_twice():
    check_grad(lambda lib, x: x * x, [(3, 4)])
    check_grad(lambda lib, x: x / x.exp() + x, [(3, 4)])
    check_grad(lambda lib, x: lib.maximum(x, x), [(5,)])


def test_lerp_tensor_weight():
    check_grad(lambda lib, x, y, w: lib.lerp(x, y, w), [(3, 4), (4,), (3, 1)])


TIES = np.array([[1.0, 2.0, -1.0, 3.0], [0.5, 0.5, 2.0, -2.0]])


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
def test_binary_ties(name):
    check_grad(lambda lib, x, y: getattr(lib, name)(x, y), [(2, 4), (2, 4)], domain=[TIES, TIES[:, ::-1].copy()])
    check_grad(lambda lib, x, y: getattr(lib, name)(x, y), [(2, 4), (2, 4)], domain=[TIES, TIES.copy()])


SCALAR_FORMS = {
    "x+2": lambda lib, x: x + 2, "2+x": lambda lib, x: 2 + x, "x-2": lambda lib, x: x - 2,
    "2-x": lambda lib, x: 2 - x, "x*3": lambda lib, x: x * 3, "3*x": lambda lib, x: 3 * x,
    "x/3": lambda lib, x: x / 3, "3/x": lambda lib, x: 3 / x, "x**2": lambda lib, x: x ** 2,
    "x**3": lambda lib, x: x ** 3, "x**0.5": lambda lib, x: x.abs() ** 0.5, "x**-1.5": lambda lib, x: x.abs() ** -1.5,
    "x**0": lambda lib, x: x ** 0, "x**1": lambda lib, x: x ** 1, "2**x": lambda lib, x: 2 ** x,
    "pow(x,2.5)": lambda lib, x: lib.pow(x.abs(), 2.5), "pow(2,x)": lambda lib, x: lib.pow(2.0, x),
    "x%1.5": lambda lib, x: x % 1.5, "fmod(x,1.5)": lambda lib, x: lib.fmod(x, 1.5),
    "remainder(x,-1.5)": lambda lib, x: lib.remainder(x, -1.5), "-x": lambda lib, x: -x,
    "x.add(1,alpha)": lambda lib, x: x.add(1.5, alpha=2), "x.div(2)": lambda lib, x: x.div(2),
    "x.mul(True)": lambda lib, x: x.mul(True), "x*0-d": lambda lib, x: x * lib.tensor(2.0),
    "0-d*x": lambda lib, x: lib.tensor(2.0, dtype=lib.float64) * x,
    "x.rsub(2)": lambda lib, x: lib.rsub(x, 2), "atan2(x,0-d)": lambda lib, x: lib.atan2(x, lib.tensor(0.7, dtype=lib.float64)),
    "maximum(x,0-d)": lambda lib, x: lib.maximum(x, lib.tensor(0.1, dtype=lib.float64)),
}


@pytest.mark.parametrize("name", cpu_only_cases(SCALAR_FORMS, {"0-d*x", "atan2(x,0-d)", "maximum(x,0-d)"}))
def test_scalar_forms(name):
    check_grad(SCALAR_FORMS[name], [(3, 4)], domain="nonzero", layout="T")


def test_pow_at_zero():
    # torch masks the base gradient where the exponent is 0 and the exponent gradient where base is 0
    z = np.array([0.0, 1.0, 2.0, 0.0])
    check_grad(lambda lib, x, y: x ** y, [(4,), (4,)], domain=[z, np.array([2.0, 0.0, 3.0, 1.0])])
    check_grad(lambda lib, x: x ** 2, [(4,)], domain=z)
    check_grad(lambda lib, x: 0.0 ** x, [(4,)], domain=np.array([1.0, 2.0, 0.5, 3.0]))


# ----- dtype casts ------------------------------------------------------------------------

CASTS = {
    "float": lambda lib, x: x.float() * 2,
    "to_float32": lambda lib, x: x.to(lib.float32).exp(),
    "roundtrip": lambda lib, x: x.float().double() * x,
    "half": lambda lib, x: x.half().float(),
    "type": lambda lib, x: x.type(lib.float32),
    "to_dtype_kw": lambda lib, x: x.to(dtype=lib.float32),
    "double_noop": lambda lib, x: x.double(),
    "mixed_promote": lambda lib, x: x.float() + x,
}


@pytest.mark.parametrize("name", cpu_only_cases(CASTS, {"roundtrip", "double_noop"}))
def test_casts(name):
    check_grad(CASTS[name], [(3, 4)], rtol=1e-3, atol=1e-3)


@pytest.mark.cpu_only(reason=FLOAT64_REASON)
def test_mixed_dtype_leaves():
    # a float32 leaf's gradient is float32 even when it meets a float64 one
    check_grad(lambda lib, x, y: x * y, [(3, 4), (4,)], dtypes=["float32", "float64"], rtol=1e-5, atol=1e-6)
    check_grad(lambda lib, x, y: (x @ y.float()), [(3, 4), (4,)], dtypes=["float32", "float64"], rtol=1e-5, atol=1e-6)


def test_cast_to_integer_stops_grad():
    for lib in LIBS:
        x = lib.ones(3, dtype=getattr(lib, WIDE_FLOAT), requires_grad=True)
        assert x.to(lib.int64).requires_grad is False
        assert x.long().grad_fn is None
        assert (x > 0).requires_grad is False
        assert x.argmax().requires_grad is False


def test_clone_contiguous():
    check_grad(lambda lib, x: x.clone() * 2, [(3, 4)], layout="T")
    check_grad(lambda lib, x: x.contiguous(), [(3, 4)], layout="T")
    check_grad(lambda lib, x: lib.clone(x).exp(), [(3, 4)], layout="slice")


# ----- views ------------------------------------------------------------------------------

VIEWS = {
    "view": ((3, 4), lambda lib, x: x.view(4, 3)),
    "view-1": ((3, 4), lambda lib, x: x.view(-1)),
    "view_as": ((3, 4), lambda lib, x: x.view(2, 6).view_as(x)),
    "reshape": ((3, 4), lambda lib, x: x.reshape(2, 2, 3)),
    "reshape_T": ((3, 4), lambda lib, x: x.t().reshape(-1)),
    "flatten": ((2, 3, 4), lambda lib, x: x.flatten()),
    "flatten1": ((2, 3, 4), lambda lib, x: x.flatten(1)),
    "unflatten": ((2, 12), lambda lib, x: x.unflatten(1, (3, 4))),
    "permute": ((2, 3, 4), lambda lib, x: x.permute(2, 0, 1)),
    "transpose": ((2, 3, 4), lambda lib, x: x.transpose(0, 2)),
    "t": ((3, 4), lambda lib, x: x.t()),
    "T": ((3, 4), lambda lib, x: x.T),
    "mT": ((2, 3, 4), lambda lib, x: x.mT),
    "expand": ((3, 1), lambda lib, x: x.expand(2, 3, 4)),
    "expand-1": ((3, 1), lambda lib, x: x.expand(-1, 5)),
    "expand_as": ((1, 4), lambda lib, x: x.expand_as(lib.zeros(3, 4))),
    "broadcast_to": ((4,), lambda lib, x: lib.broadcast_to(x, (3, 4))),
    "squeeze": ((1, 3, 1, 4), lambda lib, x: x.squeeze()),
    "squeeze1": ((3, 1, 4), lambda lib, x: x.squeeze(1)),
    "squeeze_noop": ((3, 4), lambda lib, x: x.squeeze(0)),
    "unsqueeze": ((3, 4), lambda lib, x: x.unsqueeze(0)),
    "unsqueeze-1": ((3, 4), lambda lib, x: x.unsqueeze(-1)),
    "narrow": ((3, 5), lambda lib, x: x.narrow(1, 1, 3)),
    "select": ((3, 4), lambda lib, x: x.select(0, 1)),
    "select-1": ((3, 4), lambda lib, x: x.select(-1, -1)),
    "as_strided": ((3, 4), lambda lib, x: x.as_strided((2, 2), (1, 2), 1)),
    "as_strided_overlap": ((3, 4), lambda lib, x: x.as_strided((3, 3), (1, 1))),
    "diagonal": ((3, 4), lambda lib, x: x.diagonal()),
    "diagonal_off": ((3, 4), lambda lib, x: x.diagonal(offset=1)),
    "diagonal_neg": ((4, 3), lambda lib, x: lib.diagonal(x, -1)),
    "diagonal_3d": ((2, 3, 4), lambda lib, x: x.diagonal(0, 0, 2)),
    "split": ((4, 6), lambda lib, x: x.split(4, dim=1)),
    "split_sizes": ((4, 6), lambda lib, x: lib.split(x, [1, 3], dim=0)),
    "chunk": ((4, 6), lambda lib, x: x.chunk(3, dim=1)),
    "chunk_uneven": ((5, 2), lambda lib, x: lib.chunk(x, 2)),
    "unbind": ((3, 4), lambda lib, x: x.unbind(1)),
    "unbind0": ((3, 4), lambda lib, x: lib.unbind(x)),
    "movedim": ((2, 3, 4), lambda lib, x: x.movedim(0, -1)),
    "movedim_multi": ((2, 3, 4), lambda lib, x: lib.movedim(x, (0, 1), (2, 0))),
    "swapaxes": ((2, 3, 4), lambda lib, x: x.swapaxes(0, 1)),
    "chain": ((3, 4), lambda lib, x: x.t().unsqueeze(0).expand(2, 4, 3).reshape(8, 3)[1::3]),
    "view_then_mul": ((3, 4), lambda lib, x: x.view(12)[2:9] * x.view(12)[3:10]),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(VIEWS))
def test_views(name, layout):
    shape, fn = VIEWS[name]
    if layout != "contig" and name.startswith(("view", "as_strided")):
        # view() needs compatible strides and as_strided addresses raw storage: contiguous only
        pytest.skip("view()/as_strided depend on the leaf's memory layout")
    check_grad(fn, [shape], layout=layout)


def test_split_unused_outputs():
    # only one output of a multi-output view takes part: the others get no gradient
    check_grad(lambda lib, x: x.split(2, dim=0)[1] * 3, [(6, 2)])
    check_grad(lambda lib, x: x.unbind(0)[0] + x.unbind(0)[2], [(3, 4)])


# ----- indexing ---------------------------------------------------------------------------

def _idx(lib, v):
    return lib.tensor(v)


INDEXING = {
    "int": lambda lib, x: x[1],
    "neg_int": lambda lib, x: x[-1, 2],
    "slice": lambda lib, x: x[1:3],
    "col": lambda lib, x: x[:, 1],
    "step": lambda lib, x: x[::2, 1::2],
    "ellipsis": lambda lib, x: x[..., 1],
    "none": lambda lib, x: x[None, :, None, 1:],
    "list": lambda lib, x: x[[0, 2]],
    "list_dup": lambda lib, x: x[[0, 0, 2, 0]],
    "tensor_2d": lambda lib, x: x[_idx(lib, [[0, 1], [2, 2]])],
    "pair": lambda lib, x: x[[0, 1, 1], [1, 2, 1]],
    "col_list": lambda lib, x: x[:, [3, 0, 0]],
    "mixed": lambda lib, x: x[1:, _idx(lib, [2, 0])],
    "neg_index": lambda lib, x: x[_idx(lib, [-1, 0])],
    "mask": lambda lib, x: x[x > 0],
    "row_mask": lambda lib, x: x[_idx(lib, [True, False, True])],
    "scalar_tensor": lambda lib, x: x[_idx(lib, 1)],
    "index_select": lambda lib, x: lib.index_select(x, 1, _idx(lib, [3, 1, 1])),
    "masked_select": lambda lib, x: lib.masked_select(x, x < 0.2),
    "take": lambda lib, x: lib.take(x, _idx(lib, [0, 5, 11, 5])),
}


@pytest.mark.parametrize("layout", ["contig", "T"])
@pytest.mark.parametrize("name", list(INDEXING))
def test_indexing(name, layout):
    check_grad(INDEXING[name], [(3, 4)], layout=layout)


def test_indexing_3d():
    check_grad(lambda lib, x: x[:, [0, 2], 1:], [(2, 3, 4)])
    check_grad(lambda lib, x: x[[1, 0], :, [3, 3]], [(2, 3, 4)])
    check_grad(lambda lib, x: x[..., [0, 0, 1]], [(2, 3, 4)], layout="T")


def _setitem(key_fn, value_shape=None, scalar=None):
    def fn(lib, x, *v):
        y = x * 1.0
        y[key_fn(lib, y)] = scalar if scalar is not None else v[0]
        return y
    return fn


SETITEM = {
    "row": (_setitem(lambda lib, y: 0), (4,)),
    "row_broadcast": (_setitem(lambda lib, y: 1), (1,)),
    "col": (_setitem(lambda lib, y: (slice(None), 1)), (3,)),
    "slice_step": (_setitem(lambda lib, y: (slice(1, None), slice(None, None, 2))), (2, 2)),
    "element": (_setitem(lambda lib, y: (1, 2)), ()),
    "list": (_setitem(lambda lib, y: [0, 2]), (2, 4)),
    "tensor_idx": (_setitem(lambda lib, y: (lib.tensor([0, 2]), lib.tensor([1, 3]))), (2,)),
    "mask_scalar": (_setitem(lambda lib, y: y > 0, scalar=0.0), None),
    "slice_scalar": (_setitem(lambda lib, y: (slice(None), slice(0, 2)), scalar=5.0), None),
    "ellipsis": (_setitem(lambda lib, y: (Ellipsis, 0)), (3,)),
}


@pytest.mark.parametrize("name", list(SETITEM))
def test_setitem(name):
    fn, vshape = SETITEM[name]
    shapes = [(3, 4)] + ([vshape] if vshape is not None else [])
    check_grad(fn, shapes)
    check_grad(fn, shapes, layout="T")


def test_setitem_then_use_and_view_write():
    def f(lib, x, v):
        y = x.sin()
        y[1] = v * 2
        return y * x

    check_grad(f, [(3, 4), (4,)])

    def g(lib, x, v):
        y = x * 2
        y[:, 0][1:] = v       # write through a view of a view
        return y

    check_grad(g, [(3, 4), (2,)])


# ----- gather / scatter / where / masked_fill / cat / stack ----------------------------------

GATHER = {
    "gather": ((3, 4), lambda lib, x: lib.gather(x, 1, lib.tensor([[0, 3, 3], [1, 1, 1], [2, 0, 1]]))),
    "gather0": ((3, 4), lambda lib, x: x.gather(0, lib.tensor([[2, 0, 1, 2]]))),
    "gather_neg": ((2, 3, 4), lambda lib, x: x.gather(-1, lib.tensor([[[0], [3], [1]], [[2], [2], [0]]]))),
}


@pytest.mark.parametrize("layout", ["contig", "T"])
@pytest.mark.parametrize("name", list(GATHER))
def test_gather(name, layout):
    shape, fn = GATHER[name]
    check_grad(fn, [shape], layout=layout)


SCATTER_IDX = [[2, 0], [1, 3], [0, 1]]  # no duplicates within a row: scatter is deterministic


def test_scatter():
    check_grad(lambda lib, x, s: x.scatter(1, lib.tensor(SCATTER_IDX), s), [(3, 4), (3, 2)])
    check_grad(lambda lib, x, s: lib.scatter(x, 1, lib.tensor(SCATTER_IDX), s), [(3, 4), (3, 2)], layout="T")
    check_grad(lambda lib, x: x.scatter(1, lib.tensor(SCATTER_IDX), 2.5), [(3, 4)])
    check_grad(lambda lib, x, s: x.scatter(0, lib.tensor([[0, 2, 1, 0]]), s), [(3, 4), (1, 4)])


def test_scatter_add():
    idx = [[0, 0, 3], [1, 1, 1], [2, 3, 2]]  # duplicates accumulate
    check_grad(lambda lib, x, s: x.scatter_add(1, lib.tensor(idx), s), [(3, 4), (3, 3)])
    check_grad(lambda lib, x, s: lib.scatter_add(x, 1, lib.tensor(idx), s), [(3, 4), (3, 3)], layout="T")


def test_scatter_inplace_on_nonleaf():
    def f(lib, x, s):
        y = x * 1.5
        y.scatter_(1, lib.tensor(SCATTER_IDX), s)
        return y

    check_grad(f, [(3, 4), (3, 2)])

    def g(lib, x, s):
        y = x.sin()
        y.scatter_add_(0, lib.tensor([[0, 2, 2, 1]]), s)
        return y

    check_grad(g, [(3, 4), (1, 4)])


WHERE = {
    "where": (lambda lib, x, y: lib.where(x > 0, x, y), [(3, 4), (3, 4)]),
    "where_bcast": (lambda lib, x, y: lib.where(y > 0.1, x, y), [(3, 1), (4,)]),
    "where_scalar": (lambda lib, x: lib.where(x > 0, x, 0.0), [(3, 4)]),
    "where_scalar_first": (lambda lib, x: lib.where(x > 0, -1.0, x), [(3, 4)]),
    "where_method": (lambda lib, x, y: x.where(x < y, y), [(3, 4), (3, 4)]),
    "masked_fill": (lambda lib, x: x.masked_fill(x > 0.5, 0.0), [(3, 4)]),
    "masked_fill_bcast": (lambda lib, x: lib.masked_fill(x, lib.tensor([True, False, True, False]), 2.0), [(3, 4)]),
    "masked_fill_tensor_value": (lambda lib, x, v: x.masked_fill(x > 0, v), [(3, 4), ()]),
    "masked_fill_inplace": (lambda lib, x: (x * 2).masked_fill_(x < 0, 1.0), [(3, 4)]),
}


@pytest.mark.parametrize("layout", ["contig", "T"])
@pytest.mark.parametrize("name", list(WHERE))
def test_where_masked_fill(name, layout):
    fn, shapes = WHERE[name]
    check_grad(fn, shapes, layout=layout)


CATS = {
    "cat0": (lambda lib, x, y: lib.cat([x, y]), [(2, 4), (3, 4)]),
    "cat1": (lambda lib, x, y: lib.cat((x, y), dim=1), [(3, 2), (3, 4)]),
    "cat_neg": (lambda lib, x, y, z: lib.cat([x, y, z], dim=-1), [(2, 1), (2, 3), (2, 2)]),
    "cat_same": (lambda lib, x: lib.cat([x, x * 2, x]), [(2, 3)]),
    "cat_empty": (lambda lib, x, y: lib.cat([x, y]), [(0, 3), (2, 3)]),
    "concat": (lambda lib, x, y: lib.concat([x, y], 1), [(2, 3), (2, 1)]),
    "stack0": (lambda lib, x, y: lib.stack([x, y]), [(3, 4), (3, 4)]),
    "stack2": (lambda lib, x, y: lib.stack([x, y], dim=2), [(3, 4), (3, 4)]),
    "stack_neg": (lambda lib, x, y: lib.stack((x, y), -1), [(3,), (3,)]),
    "hstack": (lambda lib, x, y: lib.hstack([x, y]), [(3, 2), (3, 1)]),
    "vstack": (lambda lib, x, y: lib.vstack([x, y]), [(2,), (2,)]),
}


@pytest.mark.parametrize("layout", ["contig", "T"])
@pytest.mark.parametrize("name", list(CATS))
def test_cat_stack(name, layout):
    fn, shapes = CATS[name]
    check_grad(fn, shapes, layout=layout)


def test_cat_with_non_grad_input():
    def f(lib, x):
        return lib.cat([lib.ones(2, 3, dtype=x.dtype), x, lib.zeros(1, 3, dtype=x.dtype)])

    check_grad(f, [(2, 3)])


MISC_SHAPE_OPS = {
    "flip": ((3, 4), lambda lib, x: x.flip(1)),
    "flip01": ((3, 4), lambda lib, x: lib.flip(x, (0, 1))),
    "roll": ((3, 4), lambda lib, x: x.roll(1, 1)),
    "roll_flat": ((3, 4), lambda lib, x: lib.roll(x, 5)),
    "repeat": ((2, 3), lambda lib, x: x.repeat(2, 1, 2)),
    "tile": ((2, 3), lambda lib, x: lib.tile(x, (3,))),
    "tril": ((3, 4), lambda lib, x: x.tril()),
    "triu1": ((3, 4), lambda lib, x: lib.triu(x, 1)),
    "rot90": ((3, 4), lambda lib, x: lib.rot90(x)),
}


@pytest.mark.parametrize("name", list(MISC_SHAPE_OPS))
def test_misc_shape_ops(name):
    shape, fn = MISC_SHAPE_OPS[name]
    check_grad(fn, [shape], layout="T")


# ----- matmul family ----------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((5, 2, 3), (3,)),
    ((3,), (5, 3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((5, 1, 2, 3), (6, 3, 4)),
    ((1, 2, 3), (4, 3, 2)), ((2, 1, 4, 3), (1, 5, 3, 2)), ((1, 1, 3), (3,)), ((7, 1, 3), (1, 3, 1)),
    ((2, 0), (0, 3)), ((0, 3), (3, 2)),
]


@pytest.mark.parametrize("layout", ["contig", "T"])
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul(sa, sb, layout):
    check_grad(lambda lib, a, b: lib.matmul(a, b), [sa, sb], layout=layout)


def test_matmul_operator_and_same_operand():
    check_grad(lambda lib, a, b: a @ b, [(3, 4), (4, 2)], layout="slice")
    check_grad(lambda lib, a: a @ a.t(), [(3, 4)])
    check_grad(lambda lib, a: a @ a, [(3, 3)], layout="T")


MATMUL_OPS = {
    "mm": (lambda lib, a, b: lib.mm(a, b), [(2, 3), (3, 4)]),
    "mm_method": (lambda lib, a, b: a.mm(b), [(4, 1), (1, 3)]),
    "bmm": (lambda lib, a, b: lib.bmm(a, b), [(3, 2, 4), (3, 4, 5)]),
    "mv": (lambda lib, a, v: lib.mv(a, v), [(3, 4), (4,)]),
    "dot": (lambda lib, a, b: lib.dot(a, b), [(5,), (5,)]),
    "vdot": (lambda lib, a, b: lib.vdot(a, b), [(5,), (5,)]),
    "inner": (lambda lib, a, b: lib.inner(a, b), [(2, 3), (4, 3)]),
    "outer": (lambda lib, a, b: lib.outer(a, b), [(3,), (4,)]),
    "addmm": (lambda lib, c, a, b: lib.addmm(c, a, b), [(2, 4), (2, 3), (3, 4)]),
    "addmm_scaled": (lambda lib, c, a, b: lib.addmm(c, a, b, beta=0.5, alpha=-2.0), [(2, 4), (2, 3), (3, 4)]),
    "addmm_bcast": (lambda lib, c, a, b: lib.addmm(c, a, b), [(4,), (2, 3), (3, 4)]),
    "addmm_beta0": (lambda lib, c, a, b: lib.addmm(c, a, b, beta=0), [(2, 4), (2, 3), (3, 4)]),
    "baddbmm": (lambda lib, c, a, b: lib.baddbmm(c, a, b, beta=2.0, alpha=0.5), [(3, 2, 4), (3, 2, 5), (3, 5, 4)]),
    "baddbmm_bcast": (lambda lib, c, a, b: lib.baddbmm(c, a, b), [(1, 4), (3, 2, 5), (3, 5, 4)]),
    "addmv": (lambda lib, c, a, v: lib.addmv(c, a, v, alpha=3), [(3,), (3, 4), (4,)]),
    "addbmm": (lambda lib, c, a, b: lib.addbmm(c, a, b), [(2, 4), (3, 2, 5), (3, 5, 4)]),
    "tensordot1": (lambda lib, a, b: lib.tensordot(a, b, dims=1), [(2, 3), (3, 4)]),
    "tensordot2": (lambda lib, a, b: lib.tensordot(a, b, dims=([1, 0], [0, 2])), [(3, 2, 4), (2, 5, 3)]),
    "tensordot0": (lambda lib, a, b: lib.tensordot(a, b, dims=0), [(2,), (3,)]),
    "kron": (lambda lib, a, b: lib.kron(a, b), [(2, 3), (3, 2)]),
    "kron_1d": (lambda lib, a, b: lib.kron(a, b), [(2,), (3,)]),
    "einsum_mm": (lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    "einsum_bmm": (lambda lib, a, b: lib.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 5)]),
    "einsum_trace": (lambda lib, a: lib.einsum("ii", a), [(3, 3)]),
    "einsum_diag": (lambda lib, a: lib.einsum("ii->i", a), [(3, 3)]),
    "einsum_sum": (lambda lib, a: lib.einsum("ij->", a), [(3, 4)]),
    "einsum_outer": (lambda lib, a, b: lib.einsum("i,j->ij", a, b), [(3,), (4,)]),
    "einsum_transpose": (lambda lib, a: lib.einsum("ijk->kji", a), [(2, 3, 4)]),
    "einsum_3": (lambda lib, a, b, c: lib.einsum("ij,jk,kl->il", a, b, c), [(2, 3), (3, 4), (4, 2)]),
    "einsum_ellipsis": (lambda lib, a, b: lib.einsum("...ij,...jk->...ik", a, b), [(2, 2, 3), (2, 3, 1)]),
    "einsum_bcast": (lambda lib, a, b: lib.einsum("bij,jk->bik", a, b), [(2, 3, 4), (4, 2)]),
    "einsum_list": (lambda lib, a, b: lib.einsum("ij,ij->i", [a, b]), [(3, 4), (3, 4)]),
}


@pytest.mark.parametrize("layout", ["contig", "T"])
@pytest.mark.parametrize("name", list(MATMUL_OPS))
def test_matmul_ops(name, layout):
    fn, shapes = MATMUL_OPS[name]
    check_grad(fn, shapes, layout=layout)


# ----- reductions -------------------------------------------------------------------------

REDUCE_DIMS = [{}, {"dim": 0}, {"dim": -1}, {"dim": 1, "keepdim": True}, {"dim": (0, 2)},
               {"dim": (0, 2), "keepdim": True}, {"dim": (-1, 0, 1)}]
SUM_LIKE = ["sum", "mean", "nansum", "nanmean", "logsumexp", "amax", "amin", "prod", "var", "std"]


def _reduce_call(lib, x, name, kw):
    if name == "logsumexp" and "dim" not in kw:
        kw = dict(kw, dim=tuple(range(x.dim())))
    if name == "prod":
        if isinstance(kw.get("dim"), tuple):
            pytest.skip("prod takes a single dim")
    return getattr(lib, name)(x, **kw)


@pytest.mark.parametrize("kw", REDUCE_DIMS, ids=str)
@pytest.mark.parametrize("name", SUM_LIKE)
def test_reductions(name, kw):
    check_grad(lambda lib, x: _reduce_call(lib, x, name, kw), [(2, 3, 4)], domain="nonzero")


@pytest.mark.parametrize("name", SUM_LIKE)
def test_reductions_noncontiguous(name):
    check_grad(lambda lib, x: _reduce_call(lib, x, name, {"dim": 1}), [(2, 3, 4)], layout="T", domain="nonzero")
    check_grad(lambda lib, x: _reduce_call(lib, x, name, {}), [(3, 4)], layout="slice", domain="nonzero")


@pytest.mark.parametrize("name", SUM_LIKE)
def test_reductions_size1(name):
    if name in ("var", "std"):
        pytest.skip("a single sample has no unbiased variance (NaN/inf gradients)")
    check_grad(lambda lib, x: _reduce_call(lib, x, name, {"dim": 1}), [(3, 1, 2)], domain="nonzero")
    check_grad(lambda lib, x: _reduce_call(lib, x, name, {"dim": 0}), [(1, 4)], domain="nonzero")
    if name != "logsumexp":
        check_grad(lambda lib, x: getattr(x, name)(), [()], domain="nonzero")


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var", "std", "logsumexp"])
def test_reductions_method_and_dim_list(name):
    check_grad(lambda lib, x: getattr(x, name)(dim=[0, 1]), [(2, 3, 4)])


@pytest.mark.parametrize("kw", [{}, {"dim": 0}, {"dim": 1, "keepdim": True}, {"correction": 0},
                                {"unbiased": False}, {"dim": (0, 1), "correction": 2}], ids=str)
@pytest.mark.parametrize("name", ["var", "std", "var_mean", "std_mean"])
def test_var_std_options(name, kw):
    check_grad(lambda lib, x: getattr(lib, name)(x, **kw), [(3, 4)])


def test_sum_mean_dtype_arg():
    check_grad(lambda lib, x: x.sum(dtype=lib.float32), [(3, 4)], rtol=1e-6, atol=1e-6)


@pytest.mark.cpu_only(reason=FLOAT64_REASON)
def test_mean_dtype_arg_float64():
    check_grad(lambda lib, x: lib.mean(x.float(), 1, dtype=lib.float64), [(3, 4)], rtol=1e-6, atol=1e-6)


PROD_DATA = {
    "one_zero": np.array([[1.5, 0.0, 2.0], [0.5, -1.0, 3.0]]),
    "two_zeros": np.array([[0.0, 0.0, 2.0], [0.5, 0.0, 3.0]]),
    "all_zero": np.zeros((2, 3)),
}


@pytest.mark.parametrize("kw", [{}, {"dim": 1}, {"dim": 0, "keepdim": True}], ids=str)
@pytest.mark.parametrize("data", list(PROD_DATA))
def test_prod_zeros(data, kw):
    check_grad(lambda lib, x: x.prod(**kw), [(2, 3)], domain=PROD_DATA[data])


TIE_DATA = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [2.0, -1.0, 2.0, 2.0]])


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_ties_split_evenly(name):
    check_grad(lambda lib, x: getattr(x, name)(), [(3, 4)], domain=TIE_DATA)
    check_grad(lambda lib, x: getattr(x, name)(1), [(3, 4)], domain=TIE_DATA)
    check_grad(lambda lib, x: getattr(x, name)(0, keepdim=True), [(3, 4)], domain=TIE_DATA)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_full_ties(name):
    # max()/min() without dim: torch spreads the gradient evenly over the ties
    check_grad(lambda lib, x: getattr(x, name)(), [(3, 4)], domain=TIE_DATA)
    check_grad(lambda lib, x: getattr(lib, name)(x), [(3, 4)])


DIM_SELECT = {
    "max_dim": lambda lib, x: x.max(1),
    "max_dim0_keep": lambda lib, x: lib.max(x, 0, keepdim=True),
    "min_dim": lambda lib, x: x.min(-1),
    "max_values": lambda lib, x: x.max(dim=1).values * 2,
    "median": lambda lib, x: x.median(),
    "median_dim": lambda lib, x: x.median(1),
    "median_dim_keep": lambda lib, x: lib.median(x, 0, keepdim=True),
    "kthvalue": lambda lib, x: x.kthvalue(2, 1),
    "kthvalue0": lambda lib, x: lib.kthvalue(x, 3, 0, keepdim=True),
    "sort": lambda lib, x: x.sort(1),
    "sort_desc": lambda lib, x: lib.sort(x, 0, descending=True),
    "topk": lambda lib, x: x.topk(2, 1),
    "topk_small": lambda lib, x: lib.topk(x, 2, 0, largest=False),
    "topk_unsorted_sum": lambda lib, x: x.topk(3).values.sum(-1),
    "cummax": lambda lib, x: x.cummax(1),
    "cummin": lambda lib, x: lib.cummin(x, 0),
    "cumsum": lambda lib, x: x.cumsum(1),
    "cumsum0": lambda lib, x: lib.cumsum(x, 0),
    "cumprod": lambda lib, x: x.cumprod(1),
    "cumprod0": lambda lib, x: lib.cumprod(x, -2),
    "aminmax": lambda lib, x: lib.aminmax(x, dim=1),
    "nanmedian": lambda lib, x: x.nanmedian(1),
}


@pytest.mark.parametrize("layout", ["contig", "T"])
@pytest.mark.parametrize("name", list(DIM_SELECT))
def test_dim_select_reductions(name, layout):
    check_grad(DIM_SELECT[name], [(4, 5)], layout=layout)


def test_cumprod_with_zeros():
    z = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 2.0, 0.0, 3.0]])
    check_grad(lambda lib, x: x.cumprod(1), [(2, 4)], domain=z)


def test_mode_gradient():
    data = np.array([[1.0, 2.0, 2.0, 3.0], [4.0, 4.0, 1.0, 1.0], [0.5, 0.5, 0.5, 0.5]])
    # which of the equal elements receives the gradient is an implementation choice in torch;
    # the values (and that exactly one element per row receives it) are what is compared
    for lib in LIBS:
        x = from_np(lib, data.copy()).requires_grad_()
        v, i = lib.mode(x, 1)
        v.sum().backward()
        g = x.grad.detach().cpu().numpy() if lib is torch else x.grad.cpu().numpy()
        np.testing.assert_array_equal(g.sum(1), np.ones(3))
        rows = np.arange(3)
        np.testing.assert_array_equal(g[rows, i.cpu().numpy()], np.ones(3))
    tv = torch.mode(from_np(torch, data), 1).values.cpu().numpy()
    np.testing.assert_array_equal(rgrad.mode(from_np(rgrad, data), 1).values.cpu().numpy(), tv)


NORMS = [{}, {"p": 1}, {"p": 3}, {"p": float("inf")}, {"p": -float("inf")}, {"dim": 1}, {"p": 1, "dim": 0},
         {"p": 2, "dim": 1, "keepdim": True}, {"p": "fro"}, {"p": 0.5, "dim": 1}]


@pytest.mark.parametrize("kw", NORMS, ids=str)
def test_norm(kw):
    check_grad(lambda lib, x: x.norm(**kw), [(3, 4)], domain="nonzero")
    check_grad(lambda lib, x: lib.norm(x, **kw), [(3, 4)], domain="nonzero", layout="T")


def test_norm_at_zero():
    # torch defines the 2-norm's gradient at 0 as 0 (not NaN)
    check_grad(lambda lib, x: x.norm(), [(3,)], domain=np.zeros(3))


SOFTMAX = {
    "softmax1": lambda lib, x: lib.softmax(x, 1),
    "softmax0": lambda lib, x: x.softmax(0),
    "softmax_neg": lambda lib, x: lib.softmax(x, dim=-1),
    "log_softmax1": lambda lib, x: lib.log_softmax(x, 1),
    "log_softmax0": lambda lib, x: x.log_softmax(dim=0),
    "softmax_dtype": lambda lib, x: lib.softmax(x.float(), 1, dtype=lib.float64),
    "log_softmax_of_softmax": lambda lib, x: lib.log_softmax(lib.softmax(x, 1), 0),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", cpu_only_cases(SOFTMAX, {"softmax_dtype"}))
def test_softmax(name, layout):
    rtol = 1e-6 if "dtype" in name else 1e-9
    check_grad(SOFTMAX[name], [(3, 4)], layout=layout, rtol=rtol, atol=rtol)


def test_softmax_3d_and_size1():
    check_grad(lambda lib, x: lib.softmax(x, 1), [(2, 3, 4)], layout="T")
    check_grad(lambda lib, x: lib.log_softmax(x, 1), [(2, 1, 4)])
    check_grad(lambda lib, x: lib.softmax(x, 0), [()])


# ----- composites built from many ops (a small MLP-style loss) ------------------------------

def test_mlp_like_loss():
    def f(lib, x, w1, b1, w2):
        h = lib.tanh(x @ w1 + b1)
        logits = h @ w2
        return -lib.log_softmax(logits, 1)[lib.arange(4), lib.tensor([0, 2, 1, 2])].mean()

    check_grad(f, [(4, 3), (3, 5), (5,), (5, 3)])


def test_long_chain_of_views_and_ops():
    def f(lib, x):
        y = x.reshape(2, 6).t()
        z = y[1:5].exp() * y[:4].sin()
        return z.sum(0).unsqueeze(1).expand(2, 3).cumsum(1)

    check_grad(f, [(3, 4)], layout="T")


# ----- in-place ops on non-leaf tensors ---------------------------------------------------

def _inplace(method, *args, pre=lambda lib, x: x * 1.5, **kw):
    def fn(lib, x, *others):
        y = pre(lib, x)
        getattr(y, method)(*[o for o in others], *args, **kw)
        return y
    return fn


INPLACE = {
    "add_": (_inplace("add_"), [(3, 4), (3, 4)]),
    "add_scalar": (_inplace("add_", 2.0), [(3, 4)]),
    "add_alpha": (_inplace("add_", alpha=3.0), [(3, 4), (4,)]),
    "sub_": (_inplace("sub_"), [(3, 4), (1, 4)]),
    "mul_": (_inplace("mul_"), [(3, 4), (3, 4)]),
    "mul_scalar": (_inplace("mul_", 3.0), [(3, 4)]),
    "div_": (_inplace("div_"), [(3, 4), (3, 1)]),
    "pow_": (_inplace("pow_", 2), [(3, 4)]),
    "copy_": (_inplace("copy_"), [(3, 4), (3, 4)]),
    "copy_bcast": (_inplace("copy_"), [(3, 4), (4,)]),
    "exp_": (_inplace("exp_"), [(3, 4)]),
    "sigmoid_": (_inplace("sigmoid_"), [(3, 4)]),
    "tanh_": (_inplace("tanh_"), [(3, 4)]),
    "sin_": (_inplace("sin_"), [(3, 4)]),
    "neg_": (_inplace("neg_"), [(3, 4)]),
    "clamp_": (_inplace("clamp_", -0.5, 0.5), [(3, 4)]),
    "zero_": (_inplace("zero_"), [(3, 4)]),
    "fill_": (_inplace("fill_", 2.0), [(3, 4)]),
    "relu_": (_inplace("relu_"), [(3, 4)]),
    "abs_": (_inplace("abs_"), [(3, 4)]),
    "masked_fill_": (lambda lib, x: (x * 2).masked_fill_(x > 0, 0.5), [(3, 4)]),
    "lerp_": (lambda lib, x, y: (x * 2).lerp_(y, 0.25), [(3, 4), (3, 4)]),
    "chain": (lambda lib, x, y: (x * 2).add_(y).mul_(y).exp_(), [(3, 4), (3, 4)]),
    "iadd_operator": (lambda lib, x, y: (lambda z: (z.__iadd__(y), z)[1])(x * 1.0), [(3, 4), (3, 4)]),
    "imul_operator": (lambda lib, x, y: (lambda z: (z.__imul__(y), z)[1])(x.sin()), [(3, 4), (3, 4)]),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_nonleaf(name):
    fn, shapes = INPLACE[name]
    check_grad(fn, shapes)


def _view_inplace(view, op):
    def fn(lib, x, *others):
        y = x * 2.0
        op(view(y), *others)
        return y
    return fn


VIEW_INPLACE = {
    "row_mul_": (_view_inplace(lambda y: y[0], lambda v: v.mul_(3)), [(3, 4)]),
    "col_add_": (_view_inplace(lambda y: y[:, 1], lambda v, z: v.add_(z)), [(3, 4), (3,)]),
    "t_add_": (_view_inplace(lambda y: y.t(), lambda v, z: v.add_(z)), [(3, 4), (4, 3)]),
    "diag_zero_": (_view_inplace(lambda y: y.diagonal(), lambda v: v.zero_()), [(3, 4)]),
    "narrow_exp_": (_view_inplace(lambda y: y.narrow(1, 1, 2), lambda v: v.exp_()), [(3, 4)]),
    "view_copy_": (_view_inplace(lambda y: y.view(-1)[::5], lambda v, z: v.copy_(z)), [(3, 4), (3,)]),
}


@pytest.mark.parametrize("name", list(VIEW_INPLACE))
def test_inplace_on_view_of_nonleaf(name):
    fn, shapes = VIEW_INPLACE[name]
    check_grad(fn, shapes)


def test_view_seen_after_base_modified():
    # a view taken before the base is modified in place sees the new values and their history
    def f(lib, x, z):
        y = x * 2.0
        v = y[1]
        y.mul_(z)
        return v * 1.0

    check_grad(f, [(3, 4), (3, 4)])

    def g(lib, x, z):
        y = x * 2.0
        v = y.t()
        y[0] = z
        return v.exp()

    check_grad(g, [(3, 4), (4,)])


# ----- cases torch refuses: rgrad must refuse them the same way ----------------------------

def check_same_error(fn, shapes):
    """fn(lib, *leaves) followed by backward raises on torch; rgrad raises the same type and
    message (at construction or at backward, wherever torch does)."""
    arrays = [make_array(s, i, "nonzero") for i, s in enumerate(shapes)]
    outcome = []
    for lib in (torch, rgrad):
        xs = [leaf(lib, a) for a in arrays]
        try:
            y = fn(lib, *xs)
            y.sum().backward()
        except Exception as e:  # noqa: BLE001 - compared below
            outcome.append((type(e).__name__, str(e)))
        else:
            outcome.append(("no error", ""))
    assert outcome[0][0] != "no error"
    assert outcome[1] == outcome[0]


def _unbind_mul(lib, x, z):
    y = x * 2.0
    y.unbind(0)[2].mul_(z)
    return y


def _split_add(lib, x):
    y = x * 2.0
    y.split(1)[0].add_(1)
    return y


TORCH_REFUSES = {
    "self_mul_": (lambda lib, x: (lambda y: y.mul_(y))(x * 1.0), [(3, 4)]),
    "exp_out_modified": (lambda lib, x: (lambda y: y.add_(1))(x.exp()), [(3, 4)]),
    "sigmoid_out_mul_": (lambda lib, x, z: (lambda y: y.mul_(z))(x.sigmoid()), [(3, 4), (3, 4)]),
    "unbind_view_inplace": (_unbind_mul, [(3, 4), (4,)]),
    "split_view_inplace": (_split_add, [(3, 4)]),
    "scalar_remainder_tensor": (lambda lib, x: 1.5 % x, [(3, 4)]),
    "scatter_src_bigger_than_index": (lambda lib, x, s: x.scatter(1, lib.tensor(SCATTER_IDX), s), [(3, 4), (3, 3)]),
}


@pytest.mark.parametrize("name", list(TORCH_REFUSES))
def test_same_refusal_as_torch(name):
    fn, shapes = TORCH_REFUSES[name]
    check_same_error(fn, shapes)
