"""Convolution, pooling, interpolation and fold/unfold (rgrad.nn.functional and their modules)
against torch: forward values and the gradients of every differentiable input."""

import math

import numpy as np
import pytest

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F
from helpers import FLOAT64_REASON, WIDE_FLOAT, assert_matches, f32_on_gpu, requires_torch, torch

pytestmark = requires_torch

if torch is not None:
    import torch.nn.functional as TF


def sample(shape, seed=0, dtype="float64"):
    # (float64 data become float32 under the GPU pass, on both sides)
    return f32_on_gpu(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def compare(fn_r, fn_t, arrays, *, rtol=1e-7, atol=1e-9, grad=True, seed=100):
    """Runs fn on rgrad and torch copies of `arrays` (None entries stay None); checks the
    outputs, then backpropagates the same random cotangent and checks every input's grad."""
    r_in = [None if a is None else rgrad.tensor(a, requires_grad=grad) for a in arrays]
    t_in = [None if a is None else torch.tensor(a, requires_grad=grad) for a in arrays]
    r_out, t_out = fn_r(*r_in), fn_t(*t_in)
    if isinstance(t_out, tuple):  # (values, indices): gradients flow through the values
        for r, t in zip(r_out, t_out):
            assert_matches(r.detach(), t, rtol=rtol, atol=atol)
        r_out, t_out = r_out[0], t_out[0]
    else:
        assert_matches(r_out.detach(), t_out, rtol=rtol, atol=atol)
    if not grad:
        return
    g = sample(tuple(t_out.shape), seed, str(t_out.dtype).replace("torch.", ""))
    r_out.backward(rgrad.tensor(g))
    t_out.backward(torch.tensor(g))
    for r, t in zip(r_in, t_in):
        if r is not None:
            assert_matches(r.grad, t.grad, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------------------------
# convolution

CONV2D_CASES = [
    # (N, C, H, W), (O, kh, kw), stride, padding, dilation, groups, bias
    ((2, 3, 7, 9), (4, 3, 3), 1, 0, 1, 1, True),
    ((1, 4, 8, 6), (6, 3, 2), (2, 1), (1, 2), 1, 2, True),
    ((2, 6, 10, 11), (6, 3, 3), 2, 1, (2, 1), 3, False),
    ((3, 2, 5, 5), (4, 1, 1), 1, 0, 1, 1, True),
    ((2, 4, 9, 9), (8, 3, 3), 1, "same", 2, 4, True),
    ((2, 3, 6, 7), (5, 4, 2), 1, "same", 1, 1, True),
    ((2, 3, 6, 7), (5, 2, 3), 1, "valid", 1, 1, False),
    ((1, 2, 12, 12), (2, 5, 5), 3, 2, 1, 1, True),
    ((2, 2, 4, 5), (3, 4, 5), 1, 0, 1, 1, True),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups,bias", CONV2D_CASES)
def test_conv2d(xs, ws, stride, padding, dilation, groups, bias):
    O, kh, kw = ws
    w = sample((O, xs[1] // groups, kh, kw), 1)
    b = sample((O,), 2) if bias else None
    kw_ = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    compare(lambda x, w, b: F.conv2d(x, w, b, **kw_), lambda x, w, b: TF.conv2d(x, w, b, **kw_),
            [sample(xs), w, b])


def test_conv2d_unbatched_and_noncontiguous():
    w, b = sample((5, 3, 3, 3), 1), sample((5,), 2)
    compare(lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1),
            [sample((3, 6, 5)), w, b])
    # transposed spatial dims and a channel-strided weight
    compare(lambda x, w, b: F.conv2d(x.transpose(2, 3), w[:, ::2], b, stride=2),
            lambda x, w, b: TF.conv2d(x.transpose(2, 3), w[:, ::2], b, stride=2),
            [sample((2, 3, 9, 8)), sample((5, 6, 3, 3), 1), b])


def test_conv2d_float32_benchmark_shape():
    compare(lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1),
            [sample((4, 3, 32, 32), 0, "float32"), sample((64, 3, 3, 3), 1, "float32"),
             sample((64,), 2, "float32")], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 2), (1, "same", 3, 1),
                                                            (3, 2, 2, 4)])
def test_conv1d(stride, padding, dilation, groups):
    kw_ = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    compare(lambda x, w, b: F.conv1d(x, w, b, **kw_), lambda x, w, b: TF.conv1d(x, w, b, **kw_),
            [sample((2, 4, 13)), sample((8, 4 // groups, 3), 1), sample((8,), 2)])


@pytest.mark.parametrize("xs,ws,stride,padding,output_padding,groups,dilation", [
    ((2, 3, 4, 5), (3, 2, 3, 3), 1, 0, 0, 1, 1),
    ((1, 4, 5, 3), (4, 3, 3, 2), 2, 1, 1, 1, 1),
    ((2, 4, 3, 4), (4, 2, 2, 3), (2, 3), (0, 1), (1, 2), 2, 1),
    ((2, 2, 4, 4), (2, 3, 3, 3), 2, 1, (1, 0), 1, (2, 1)),
    ((3, 6, 5, 5), (6, 1, 4, 4), 2, 1, 0, 3, 1),
])
def test_conv_transpose2d(xs, ws, stride, padding, output_padding, groups, dilation):
    kw_ = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    compare(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw_), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw_),
            [sample(xs), sample(ws, 1), sample((ws[1] * groups,), 2)])


def test_conv_transpose1d_unbatched():
    kw_ = dict(stride=3, padding=1, output_padding=2)
    compare(lambda x, w: F.conv_transpose1d(x, w, **kw_), lambda x, w: TF.conv_transpose1d(x, w, **kw_),
            [sample((4, 7)), sample((4, 2, 3), 1)])


def test_conv2d_double_backward():
    x, w = sample((2, 3, 6, 5)), sample((4, 3, 3, 3), 1)
    grads = []
    for lib, fn in ((rgrad, F.conv2d), (torch, TF.conv2d)):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        out = fn(xt, wt, stride=2, padding=1)
        gx, = lib.autograd.grad((out * out).sum(), xt, create_graph=True)
        (gx * lib.tensor(x)).sum().backward()
        grads.append((gx, xt.grad, wt.grad))
    for r, t in zip(*grads):
        assert_matches(r.detach(), t, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("call,message", [
    (lambda x, w: F.conv2d(x[0, 0], w), r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d"),
    (lambda x, w: F.conv2d(x[:, :2], w), r"expected input\[2, 2, 8, 8\] to have 3 channels, but got 2"),
    (lambda x, w: F.conv2d(x, w, stride=0), "non-positive stride is not supported"),
    (lambda x, w: F.conv2d(x, w, padding=-1), "negative padding is not supported"),
    (lambda x, w: F.conv2d(x, w, padding="same", stride=2), "padding='same' is not supported for strided"),
    (lambda x, w: F.conv2d(x[:, :, :2, :2], w), "Kernel size can't be greater than actual input size"),
    (lambda x, w: F.conv2d(x, w, rgrad.zeros(3)), "expected bias to be 1-dimensional with 4 elements"),
    pytest.param(lambda x, w: F.conv2d(x, w.double()), "expected scalar type Float but found Double",
                 marks=pytest.mark.cpu_only(reason=FLOAT64_REASON)),
    (lambda x, w: F.conv2d(x, w, stride=(1, 1, 1)), "a list of 2 values to match the convolution dimensions"),
])
def test_conv_errors(call, message):
    x, w = rgrad.zeros(2, 3, 8, 8), rgrad.zeros(4, 3, 3, 3)
    with pytest.raises(RuntimeError, match=message):
        call(x, w)


# ----------------------------------------------------------------------------------------------
# pooling

MAXPOOL_CASES = [
    # kernel, stride, padding, dilation, ceil_mode
    (2, None, 0, 1, False),
    (3, 2, 1, 1, False),
    (3, 2, 1, 1, True),
    ((2, 3), (1, 2), (1, 0), 1, True),
    (3, 1, 1, 2, False),
    (2, 3, 0, 1, True),
    ((3, 2), 2, (1, 1), (1, 2), True),
]


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", MAXPOOL_CASES)
def test_max_pool2d(kernel, stride, padding, dilation, ceil_mode):
    kw_ = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    for return_indices in (False, True):
        compare(lambda x: F.max_pool2d(x, return_indices=return_indices, **kw_),
                lambda x: TF.max_pool2d(x, return_indices=return_indices, **kw_), [sample((2, 3, 9, 8))])


def test_max_pool_unbatched_1d_and_overlap():
    compare(lambda x: F.max_pool2d(x, 3, 1, 1, return_indices=True),
            lambda x: TF.max_pool2d(x, 3, 1, 1, return_indices=True), [sample((3, 6, 7))])
    for ceil_mode in (False, True):
        kw_ = dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=ceil_mode, return_indices=True)
        compare(lambda x: F.max_pool1d(x, **kw_), lambda x: TF.max_pool1d(x, **kw_), [sample((2, 3, 10))])
    compare(lambda x: F.max_pool1d(x, 2), lambda x: TF.max_pool1d(x, 2), [sample((4, 9))])


def test_max_pool2d_all_inf_windows_and_double_backward():
    x = sample((1, 2, 5, 6))
    x[0, 0, :2, :3] = -np.inf  # windows at the top-left padding see only -inf
    kw_ = dict(kernel_size=3, stride=2, padding=1, return_indices=True)
    compare(lambda x: F.max_pool2d(x, **kw_), lambda x: TF.max_pool2d(x, **kw_), [x])
    grads = []
    for lib, fn in ((rgrad, F.max_pool2d), (torch, TF.max_pool2d)):
        xt = lib.tensor(sample((2, 3, 6, 7)), requires_grad=True)
        out = fn(xt, 3, 2, 1)
        gx, = lib.autograd.grad((out * out).sum(), xt, create_graph=True)
        (gx * gx).sum().backward()
        grads.append((gx, xt.grad))
    for r, t in zip(*grads):
        assert_matches(r.detach(), t)


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode", [(2, None, 0, False), (3, 2, 1, False),
                                                             (3, 2, 1, True), ((2, 3), (2, 1), (1, 1), True),
                                                             (3, 3, 1, True)])
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, None), (False, None), (True, 5)])
def test_avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    kw_ = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
               count_include_pad=count_include_pad, divisor_override=divisor_override)
    compare(lambda x: F.avg_pool2d(x, **kw_), lambda x: TF.avg_pool2d(x, **kw_), [sample((2, 3, 8, 7))])


def test_avg_pool1d_and_unbatched():
    for ceil_mode in (False, True):
        for cip in (False, True):
            kw_ = dict(kernel_size=3, stride=2, padding=1, ceil_mode=ceil_mode, count_include_pad=cip)
            compare(lambda x: F.avg_pool1d(x, **kw_), lambda x: TF.avg_pool1d(x, **kw_), [sample((2, 3, 10))])
    compare(lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2), [sample((3, 6, 5))])


@pytest.mark.parametrize("shape,size", [((2, 3, 8, 9), (5, 7)), ((2, 3, 8, 9), 1), ((2, 3, 8, 9), (4, 3)),
                                        ((3, 7, 5), (None, 3)), ((1, 2, 5, 5), (7, 8))])
def test_adaptive_pool2d(shape, size):
    compare(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), [sample(shape)])
    compare(lambda x: F.adaptive_max_pool2d(x, size, True), lambda x: TF.adaptive_max_pool2d(x, size, True),
            [sample(shape)])


def test_adaptive_pool1d():
    compare(lambda x: F.adaptive_avg_pool1d(x, 4), lambda x: TF.adaptive_avg_pool1d(x, 4), [sample((2, 3, 11))])
    compare(lambda x: F.adaptive_max_pool1d(x, 4, True), lambda x: TF.adaptive_max_pool1d(x, 4, True),
            [sample((2, 3, 11))])


@pytest.mark.parametrize("call,message", [
    (lambda x: F.max_pool2d(x, 3, padding=2), "pad should be at most half of effective kernel size"),
    (lambda x: F.max_pool2d(x[:, :, :2, :2], 3), r"Given input size: \(3x2x2\). Calculated output size: \(3x0x0\)"),
    (lambda x: F.max_pool2d(x, (3, 3, 3)), "max_pool2d: kernel_size must either be a single int"),
    (lambda x: F.avg_pool2d(x, 3, stride=0), "stride should not be zero"),
    (lambda x: F.adaptive_avg_pool2d(x, (2, 2, 2)), "adaptive_avg_pool2d: output_size must be 2"),
])
def test_pool_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call(rgrad.zeros(2, 3, 8, 8))


# ----------------------------------------------------------------------------------------------
# interpolation

@pytest.mark.parametrize("kwargs", [
    dict(size=(7, 5)), dict(scale_factor=2), dict(scale_factor=1.7), dict(scale_factor=(0.5, 3)),
    dict(size=(13, 3), mode="nearest-exact"), dict(scale_factor=1.5, mode="nearest-exact"),
    dict(size=(7, 9), mode="bilinear"), dict(size=(7, 9), mode="bilinear", align_corners=True),
    dict(scale_factor=2.3, mode="bilinear"), dict(size=(3, 2), mode="bilinear", align_corners=True),
    dict(scale_factor=(1.5, 0.7), mode="bilinear", recompute_scale_factor=True),
    dict(size=(4, 3), mode="area"), dict(size=1, mode="bilinear", align_corners=True),
])
def test_interpolate_2d(kwargs):
    compare(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs),
            [sample((2, 3, 5, 6), 0, "float32")], rtol=1e-5, atol=1e-6)


def test_interpolate_paths():
    # integer up/down-sampling (broadcast copy, strided view), a dim too long for the matmul
    # path, and non-finite input (which must not spread through zero weights)
    for kwargs in (dict(scale_factor=(3, 2)), dict(size=(2, 3)), dict(size=(3, 600), mode="bilinear"),
                   dict(size=(5, 700), mode="bilinear", align_corners=True)):
        compare(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs),
                [sample((2, 3, 6, 300), 0, "float32")], rtol=1e-5, atol=1e-6)
    x = sample((1, 2, 6, 5))
    x[0, 0, 2, 3], x[0, 1, 4, 0], x[0, 1, 0, 4] = np.inf, np.nan, -np.inf
    for kwargs in (dict(size=(9, 7), mode="bilinear"), dict(size=(4, 3), mode="area"), dict(scale_factor=1.5)):
        compare(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs), [x], grad=False)
    assert F.interpolate(rgrad.zeros(1, 1, 6, 6), size=(3, 2)).is_contiguous()


def test_interpolate_1d_3d():
    for kwargs in (dict(scale_factor=2.5, mode="linear"), dict(size=4, mode="linear", align_corners=True),
                   dict(size=9), dict(size=3, mode="area")):
        compare(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs), [sample((2, 3, 6))])
    for kwargs in (dict(size=(3, 5, 4), mode="trilinear"), dict(scale_factor=2)):
        compare(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs),
                [sample((1, 2, 4, 3, 5))])


def test_interpolate_errors():
    x = rgrad.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, size=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="Got 4D input, but linear mode needs 3D input"):
        F.interpolate(x, size=2, mode="linear")


# ----------------------------------------------------------------------------------------------
# fold / unfold

@pytest.mark.parametrize("kernel,dilation,padding,stride", [(3, 1, 0, 1), ((2, 3), (2, 1), (1, 2), (2, 1)),
                                                            (2, 1, 1, 2), (1, 1, 0, 1)])
def test_unfold_fold(kernel, dilation, padding, stride):
    kw_ = dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride)
    compare(lambda x: F.unfold(x, **kw_), lambda x: TF.unfold(x, **kw_), [sample((2, 3, 7, 8))])
    cols = TF.unfold(torch.zeros(2, 3, 7, 8), **kw_)
    compare(lambda c: F.fold(c, (7, 8), **kw_), lambda c: TF.fold(c, (7, 8), **kw_), [sample(tuple(cols.shape))])
    # Round trip: fold(unfold(x)) is x times each pixel's number of blocks.
    x = rgrad.tensor(sample((2, 3, 7, 8)))
    counts = F.fold(F.unfold(rgrad.ones(2, 3, 7, 8, dtype=x.dtype), **kw_), (7, 8), **kw_)
    assert_matches(F.fold(F.unfold(x, **kw_), (7, 8), **kw_), (x * counts).cpu().numpy(), rtol=1e-12, atol=1e-12)


def test_unfold_fold_unbatched():
    compare(lambda x: F.unfold(x, 2, stride=2), lambda x: TF.unfold(x, 2, stride=2), [sample((3, 4, 6))])
    compare(lambda c: F.fold(c, (4, 6), 2, stride=2), lambda c: TF.fold(c, (4, 6), 2, stride=2),
            [sample((12, 6))])
    with pytest.raises(RuntimeError, match="calculated number of sliding blocks 2 \\* 2 = 4"):
        F.fold(rgrad.zeros(1, 27, 5), (4, 4), 3)


# ----------------------------------------------------------------------------------------------
# modules

def module_pairs():
    return [
        ("Conv2d", (3, 64, 3), dict(padding=1)),
        ("Conv2d", (3, 4, (3, 2)), dict(stride=2, dilation=(2, 1), groups=1, bias=False)),
        ("Conv2d", (4, 8, 3), dict(padding="same", padding_mode="reflect", groups=2)),
        ("Conv2d", (2, 4, 3), dict(padding=(1, 2), padding_mode="circular")),
        ("Conv1d", (2, 4, 3), dict(padding="valid", padding_mode="replicate")),
        ("ConvTranspose2d", (4, 2, 3), dict(stride=2, output_padding=1, groups=2)),
        ("ConvTranspose1d", (2, 3, 4), dict(stride=2, padding=1, bias=False)),
        ("MaxPool2d", (2,), {}),
        ("MaxPool2d", ((2, 3),), dict(stride=1, padding=(1, 0), return_indices=True)),
        ("MaxPool1d", (3,), dict(ceil_mode=True)),
        ("AvgPool2d", (3, 2, 1, True, False), {}),
        ("AvgPool1d", (3,), dict(padding=1)),
        ("AdaptiveAvgPool2d", ((None, 3),), {}),
        ("AdaptiveAvgPool1d", (4,), {}),
        ("AdaptiveMaxPool2d", (3,), {}),
        ("AdaptiveMaxPool1d", (2,), {}),
        ("Upsample", (), dict(scale_factor=2)),
        ("Upsample", (), dict(size=(3, 4), mode="bilinear", align_corners=True)),
        ("UpsamplingNearest2d", (), dict(scale_factor=(2, 3))),
        ("UpsamplingBilinear2d", (), dict(size=4)),
        ("Unfold", (3,), dict(padding=1)),
        ("Fold", ((4, 5), 2), {}),
    ]


@pytest.mark.parametrize("name,args,kwargs", module_pairs())
def test_module_repr(name, args, kwargs):
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("Conv2d", (4, 6, 3), dict(padding="same", padding_mode="reflect", groups=2), (2, 4, 6, 5)),
    ("Conv2d", (2, 4, 3), dict(padding=(1, 2), padding_mode="circular", stride=2), (2, 2, 5, 6)),
    ("Conv1d", (2, 4, 3), dict(padding=1, padding_mode="replicate"), (2, 2, 7)),
    ("ConvTranspose2d", (4, 2, 3), dict(stride=2, output_padding=1, groups=2), (1, 4, 3, 4)),
])
def test_conv_module_forward(name, args, kwargs, shape):
    m = getattr(nn, name)(*args, **kwargs).to(getattr(rgrad, WIDE_FLOAT))
    mt = getattr(torch.nn, name)(*args, **kwargs).to(getattr(torch, WIDE_FLOAT))
    with torch.no_grad():
        mt.weight.copy_(torch.tensor(m.weight.detach().cpu().numpy()))
        mt.bias.copy_(torch.tensor(m.bias.detach().cpu().numpy()))
    compare(m, mt, [sample(shape)], grad=False)


def test_conv_transpose_output_size():
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = rgrad.zeros(1, 2, 4, 4)
    assert m(x, output_size=(8, 8)).shape == (1, 3, 8, 8)
    assert m(x, output_size=[1, 3, 7, 7]).shape == (1, 3, 7, 7)
    with pytest.raises(ValueError, match="requested an output size of"):
        m(x, output_size=(9, 9))


def test_conv_init_bounds():
    m = nn.Conv2d(6, 64, (3, 5), groups=2)
    bound = 1 / math.sqrt(3 * 3 * 5)
    assert m.weight.shape == (64, 3, 3, 5) and m.bias.shape == (64,)
    for p in (m.weight, m.bias):
        a = p.detach().cpu().numpy()
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.8 * bound
    # U(-b, b) has standard deviation b / sqrt(3).
    assert abs(m.weight.detach().cpu().numpy().std() - bound / math.sqrt(3)) < 0.1 * bound
    assert nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape == (4, 3, 3, 3)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
