"""Recurrent layers, attention and transformer blocks against torch: the same weights are
copied into both, then outputs and gradients (inputs and parameters) are compared."""

import warnings

import numpy as np
import pytest

import rgrad
from helpers import FLOAT64_REASON, assert_matches, requires_torch, torch

# torch's own notes about its internal kernels (oneDNN, nested tensors) are not under test.
pytestmark = [requires_torch,
              pytest.mark.filterwarnings("ignore:.*(oneDNN|nested tensors is in prototype).*:UserWarning")]

nn = rgrad.nn
F = rgrad.nn.functional

RTOL, ATOL = 1e-5, 1e-5


def _match(t, expected, rtol=RTOL, atol=ATOL, cpu_result=False):
    assert_matches(t.detach(), expected.detach(), rtol=rtol, atol=atol, cpu_result=cpu_result)


def _rg(t, requires_grad=False):
    out = rgrad.tensor(t.detach().cpu().numpy())
    if requires_grad:
        out.requires_grad_(True)
    return out


def _pair(*shape, dtype=None, requires_grad=True, gen=None):
    """The same random tensor for torch and rgrad (both leaves)."""
    t = torch.randn(*shape, generator=gen, dtype=dtype or torch.float32)
    return t.clone().requires_grad_(requires_grad), _rg(t, requires_grad)


def _copy_params(rg_mod, th_mod):
    """Asserts torch's parameter names, order and shapes, then copies torch's values in."""
    th = dict(th_mod.named_parameters())
    rg = dict(rg_mod.named_parameters())
    assert list(rg) == list(th)
    for name, p in rg.items():
        assert tuple(p.shape) == tuple(th[name].shape), name
        with rgrad.no_grad():
            p.copy_(_rg(th[name]))


def _backward(outs_th, outs_rg, seed=0):
    """Backpropagates sum(out * random cotangent) over every output, in both libraries."""
    g = torch.Generator().manual_seed(seed)
    loss_th, loss_rg = 0, 0
    for o_th, o_rg in zip(outs_th, outs_rg):
        ct = torch.randn(o_th.shape, generator=g)
        loss_th = loss_th + (o_th * ct).sum()
        loss_rg = loss_rg + (o_rg * _rg(ct)).sum()
    loss_th.backward()
    loss_rg.backward()


def _assert_grads(rg_mod, th_mod, rtol=RTOL, atol=ATOL):
    th = dict(th_mod.named_parameters())
    for name, p in rg_mod.named_parameters():
        assert p.grad is not None, name
        _match(p.grad, th[name].grad, rtol=rtol, atol=atol)


def _flat(out):
    """Flattens (output, h) / (output, (h, c)) into a tuple of tensors."""
    res = []
    for o in out if isinstance(out, tuple) else (out,):
        res.extend(_flat(o) if isinstance(o, tuple) else [o])
    return res


# ----- scaled_dot_product_attention ---------------------------------------------------------

SDPA_CASES = [
    dict(),
    dict(is_causal=True),
    dict(is_causal=True, L=5, S=3),
    dict(is_causal=True, L=3, S=6),
    dict(scale=0.3),
    dict(mask="bool"),
    dict(mask="bool_bcast"),
    dict(mask="float"),
    dict(mask="float_full"),
    dict(mask="bool_dead_row"),
    dict(gqa=True),
]


@pytest.mark.parametrize("case", SDPA_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "plain")
def test_sdpa_matches_torch(case):
    torch.manual_seed(0)
    L, S, E, Ev = case.get("L", 4), case.get("S", 6), 8, 5
    Hq, Hk = (4, 2) if case.get("gqa") else (3, 3)
    q_th, q_rg = _pair(2, Hq, L, E)
    k_th, k_rg = _pair(2, Hk, S, E)
    v_th, v_rg = _pair(2, Hk, S, Ev)
    mask_th = None
    kind = case.get("mask")
    if kind == "bool":
        mask_th = torch.rand(2, Hq, L, S) > 0.3
        mask_th[..., 0] = True
    elif kind == "bool_bcast":
        mask_th = torch.rand(L, S) > 0.3
        mask_th[:, 0] = True
    elif kind == "float":
        mask_th = torch.randn(L, S)
    elif kind == "float_full":
        mask_th = torch.randn(2, 1, L, S)
        mask_th[:, :, 1, 2] = float("-inf")
    elif kind == "bool_dead_row":
        mask_th = torch.rand(L, S) > 0.3
        mask_th[1] = False  # a query that may attend to nothing: torch gives zeros there
    kw = {k: case[k] for k in ("is_causal", "scale") if k in case}
    if case.get("gqa"):
        kw["enable_gqa"] = True
    mask_rg = None if mask_th is None else _rg(mask_th)
    out_th = torch.nn.functional.scaled_dot_product_attention(q_th, k_th, v_th, attn_mask=mask_th, **kw)
    out_rg = F.scaled_dot_product_attention(q_rg, k_rg, v_rg, attn_mask=mask_rg, **kw)
    _match(out_rg, out_th, rtol=RTOL, atol=ATOL)
    _backward([out_th], [out_rg])
    for a_rg, a_th in ((q_rg, q_th), (k_rg, k_th), (v_rg, v_th)):
        _match(a_rg.grad, a_th.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.cpu_only(reason=FLOAT64_REASON)
def test_sdpa_float64_and_3d():
    torch.manual_seed(1)
    q_th, q_rg = _pair(3, 5, 4, dtype=torch.float64)
    k_th, k_rg = _pair(3, 7, 4, dtype=torch.float64)
    v_th, v_rg = _pair(3, 7, 2, dtype=torch.float64)
    out_th = torch.nn.functional.scaled_dot_product_attention(q_th, k_th, v_th)
    out_rg = F.scaled_dot_product_attention(q_rg, k_rg, v_rg)
    _match(out_rg, out_th, rtol=1e-12, atol=1e-12)


def test_sdpa_dropout_train_statistics():
    # dropout_p is applied whenever > 0: with p = 1 every weight is dropped, so the output is 0.
    q = rgrad.randn(2, 3, 4)
    assert float(F.scaled_dot_product_attention(q, q, q, dropout_p=1.0).abs().sum()) == 0.0


def test_sdpa_errors_match_torch():
    q, m = rgrad.randn(2, 3, 4), rgrad.ones(3, 3, dtype=rgrad.bool)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=m, is_causal=True)
    with pytest.raises(RuntimeError, match="Expected query, key, and value to have the same dtype"):
        F.scaled_dot_product_attention(q, q, q.half())


# ----- RNN / LSTM / GRU -----------------------------------------------------------------------

RNN_CASES = [
    ("RNN", dict()),
    ("RNN", dict(nonlinearity="relu", num_layers=2)),
    ("RNN", dict(bidirectional=True, batch_first=True)),
    ("RNN", dict(bias=False, h0=True)),
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, bidirectional=True, h0=True)),
    ("LSTM", dict(proj_size=3, num_layers=2, h0=True)),
    ("LSTM", dict(proj_size=3, bidirectional=True, batch_first=True)),
    ("LSTM", dict(bias=False, batch_first=True, h0=True)),
    ("LSTM", dict(unbatched=True, h0=True, bidirectional=True)),
    ("GRU", dict()),
    ("GRU", dict(num_layers=3, bidirectional=True, batch_first=True, h0=True)),
    ("GRU", dict(bias=False)),
    ("GRU", dict(unbatched=True, batch_first=True)),
    ("RNN", dict(unbatched=True, h0=True)),
]


def _rnn_pair(kind, kw, input_size=5, hidden=6):
    kw = {k: v for k, v in kw.items() if k not in ("h0", "unbatched")}
    th = getattr(torch.nn, kind)(input_size, hidden, **kw)
    rg = getattr(nn, kind)(input_size, hidden, **kw)
    _copy_params(rg, th)
    return th, rg


@pytest.mark.parametrize("kind,kw", RNN_CASES, ids=lambda c: c if isinstance(c, str) else
                         "-".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_rnn_matches_torch(kind, kw):
    torch.manual_seed(0)
    th, rg = _rnn_pair(kind, kw)
    L, N, D = 4, 3, 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    h_out = kw.get("proj_size") or 6
    unbatched = kw.get("unbatched")
    shape = (L, 5) if unbatched else ((N, L, 5) if kw.get("batch_first") else (L, N, 5))
    x_th, x_rg = _pair(*shape)
    args_th, args_rg = [x_th], [x_rg]
    hidden_leaves = []
    if kw.get("h0"):
        hshape = (D * layers, h_out) if unbatched else (D * layers, N, h_out)
        h_th, h_rg = _pair(*hshape)
        hidden_leaves.append((h_rg, h_th))
        if kind == "LSTM":
            cshape = hshape[:-1] + (6,)
            c_th, c_rg = _pair(*cshape)
            hidden_leaves.append((c_rg, c_th))
            args_th.append((h_th, c_th))
            args_rg.append((h_rg, c_rg))
        else:
            args_th.append(h_th)
            args_rg.append(h_rg)
    out_th, out_rg = _flat(th(*args_th)), _flat(rg(*args_rg))
    assert len(out_th) == len(out_rg)
    for o_rg, o_th in zip(out_rg, out_th):
        _match(o_rg, o_th, rtol=RTOL, atol=ATOL)
    _backward(out_th, out_rg)
    _match(x_rg.grad, x_th.grad, rtol=1e-4, atol=1e-5)
    for a_rg, a_th in hidden_leaves:
        _match(a_rg.grad, a_th.grad, rtol=1e-4, atol=1e-5)
    _assert_grads(rg, th, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind,kw", [("LSTM", dict(num_layers=2, bidirectional=True)),
                                     ("LSTM", dict(proj_size=2, h0=True, batch_first=True)),
                                     ("GRU", dict(bidirectional=True, h0=True)),
                                     ("RNN", dict(num_layers=2, nonlinearity="relu"))],
                         ids=["lstm-bi-2layer", "lstm-proj-h0", "gru-bi-h0", "rnn-relu"])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_rnn_packed_sequence_matches_torch(kind, kw, enforce_sorted):
    from torch.nn.utils import rnn as th_rnn
    from rgrad.nn.utils import rnn as rg_rnn
    torch.manual_seed(0)
    th, rg = _rnn_pair(kind, kw)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    bf = kw.get("batch_first", False)
    x_th, x_rg = _pair(*((4, 5, 5) if bf else (5, 4, 5)))
    packed_th = th_rnn.pack_padded_sequence(x_th, lengths, batch_first=bf, enforce_sorted=enforce_sorted)
    packed_rg = rg_rnn.pack_padded_sequence(x_rg, lengths, batch_first=bf, enforce_sorted=enforce_sorted)
    args_th, args_rg, leaves = [packed_th], [packed_rg], [(x_rg, x_th)]
    if kw.get("h0"):
        D = 2 if kw.get("bidirectional") else 1
        h_th, h_rg = _pair(D, 4, kw.get("proj_size") or 6)
        leaves.append((h_rg, h_th))
        if kind == "LSTM":
            c_th, c_rg = _pair(D, 4, 6)
            leaves.append((c_rg, c_th))
            args_th.append((h_th, c_th))
            args_rg.append((h_rg, c_rg))
        else:
            args_th.append(h_th)
            args_rg.append(h_rg)
    out_th, hid_th = th(*args_th)
    out_rg, hid_rg = rg(*args_rg)
    assert isinstance(out_rg, rg_rnn.PackedSequence)
    assert out_rg.batch_sizes.tolist() == out_th.batch_sizes.tolist()
    pad_th, len_th = th_rnn.pad_packed_sequence(out_th, batch_first=bf, padding_value=-2.0)
    pad_rg, len_rg = rg_rnn.pad_packed_sequence(out_rg, batch_first=bf, padding_value=-2.0)
    assert len_rg.tolist() == len_th.tolist()
    outs_th, outs_rg = [pad_th] + _flat(hid_th), [pad_rg] + _flat(hid_rg)
    for o_rg, o_th in zip(outs_rg, outs_th):
        _match(o_rg, o_th)
    _backward(outs_th, outs_rg)
    for a_rg, a_th in leaves:
        _match(a_rg.grad, a_th.grad, rtol=1e-4, atol=1e-5)
    _assert_grads(rg, th, rtol=1e-4, atol=1e-5)


def test_pack_pad_sequence_utils_match_torch():
    from torch.nn.utils import rnn as th_rnn
    from rgrad.nn.utils import rnn as rg_rnn
    torch.manual_seed(0)
    seqs_th = [torch.randn(n, 2) for n in (3, 5, 1)]
    seqs_rg = [_rg(s) for s in seqs_th]
    for side in ("right", "left"):
        for bf in (False, True):
            _match(rg_rnn.pad_sequence(seqs_rg, batch_first=bf, padding_value=7.0, padding_side=side),
                   th_rnn.pad_sequence(seqs_th, batch_first=bf, padding_value=7.0, padding_side=side))
    packed_th = th_rnn.pack_sequence(seqs_th, enforce_sorted=False)
    packed_rg = rg_rnn.pack_sequence(seqs_rg, enforce_sorted=False)
    _match(packed_rg.data, packed_th.data)
    for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        # batch_sizes stays on the CPU, as torch's does
        _match(getattr(packed_rg, name), getattr(packed_th, name), cpu_result=name == "batch_sizes")
    padded_th, lengths_th = th_rnn.pad_packed_sequence(packed_th, total_length=6)
    padded_rg, lengths_rg = rg_rnn.pad_packed_sequence(packed_rg, total_length=6)
    _match(padded_rg, padded_th)
    _match(lengths_rg, lengths_th, cpu_result=True)  # on the CPU, as torch's
    for a, b in zip(rg_rnn.unpack_sequence(packed_rg), th_rnn.unpack_sequence(packed_th)):
        _match(a, b)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        rg_rnn.pack_padded_sequence(rgrad.randn(3, 2, 1), [1, 3])


def test_rnn_dropout_between_layers():
    torch.manual_seed(0)
    # p = 1 drops every output of layer 0 in training (deterministic in both); eval ignores dropout.
    th, rg = _rnn_pair("LSTM", dict(num_layers=2, dropout=1.0))
    x_th, x_rg = _pair(4, 2, 5)
    for train in (True, False):
        th.train(train)
        rg.train(train)
        for o_rg, o_th in zip(_flat(rg(x_rg)), _flat(th(x_th))):
            _match(o_rg, o_th, rtol=RTOL, atol=ATOL)


@pytest.mark.cpu_only(reason=FLOAT64_REASON)
def test_rnn_float64():
    torch.manual_seed(0)
    th = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True).double()
    rg = nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=rgrad.float64)
    _copy_params(rg, th)
    x_th, x_rg = _pair(5, 2, 3, dtype=torch.float64)
    for o_rg, o_th in zip(_flat(rg(x_rg)), _flat(th(x_th))):
        _match(o_rg, o_th, rtol=1e-12, atol=1e-12)


def test_rnn_param_names_shapes_and_init():
    rgrad.manual_seed(0)
    for kind, kw in [("RNN", dict(num_layers=2, bidirectional=True)),
                     ("LSTM", dict(num_layers=2, proj_size=2, bidirectional=True, bias=False)),
                     ("GRU", dict(num_layers=3))]:
        th = getattr(torch.nn, kind)(7, 5, **kw)
        rg = getattr(nn, kind)(7, 5, **kw)
        assert [(n, tuple(p.shape)) for n, p in rg.named_parameters()] == \
               [(n, tuple(p.shape)) for n, p in th.named_parameters()]
        # U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter: in range, pooled std bound/sqrt(3).
        bound = 1 / np.sqrt(5)
        vals = np.concatenate([p.detach().cpu().numpy().ravel() for p in rg.parameters()])
        assert vals.min() >= -bound and vals.max() <= bound
        assert abs(vals.std() - bound / np.sqrt(3)) < 0.1 * bound
        assert repr(rg) == repr(th)
        assert [[tuple(w.shape) for w in ws] for ws in rg.all_weights] == \
               [[tuple(w.shape) for w in ws] for ws in th.all_weights]


def test_rnn_errors_match_torch():
    rnn, lstm = nn.RNN(3, 4), nn.LSTM(3, 4)
    cases = [
        (lambda: rnn(rgrad.randn(2, 2, 5)), RuntimeError, "input.size(-1) must be equal to input_size"),
        (lambda: rnn(rgrad.randn(2, 2, 2, 3)), ValueError, "RNN: Expected input to be 2D or 3D, got 4D tensor"),
        (lambda: rnn(rgrad.randn(2, 2, 3), rgrad.randn(1, 3, 4)), RuntimeError, "Expected hidden size"),
        (lambda: rnn(rgrad.randn(2, 3), rgrad.randn(1, 1, 4)), RuntimeError, "For unbatched 2-D input, hx"),
        (lambda: lstm(rgrad.randn(2, 2, 3), (rgrad.randn(1, 2, 4), rgrad.randn(1, 2, 5))), RuntimeError,
         "Expected hidden[1] size"),
        (lambda: nn.RNN(3, 4, nonlinearity="gelu"), ValueError, "Unknown nonlinearity 'gelu'"),
        (lambda: nn.GRU(3, 4, proj_size=2), ValueError, "proj_size argument is only supported for LSTM"),
        (lambda: nn.LSTM(3, 4, proj_size=4), ValueError, "proj_size has to be smaller than hidden_size"),
        (lambda: nn.LSTMCell(3, 4)(rgrad.randn(2, 5)), RuntimeError, "input has inconsistent input_size: got 5"),
        (lambda: nn.GRUCell(3, 4)(rgrad.randn(2, 3), rgrad.randn(3, 4)), RuntimeError,
         "Input batch size 2 doesn't match hidden0 batch size 3"),
        (lambda: nn.LSTMCell(3, 4)(rgrad.randn(2, 3), (rgrad.randn(2, 4), rgrad.randn(2, 5))), RuntimeError,
         "hidden1 has inconsistent hidden_size: got 5, expected 4"),
    ]
    for fn, exc, msg in cases:
        with pytest.raises(exc) as info:
            fn()
        assert msg in str(info.value)


@pytest.mark.parametrize("kind,variant", [(k, v) for k in ("RNNCell", "LSTMCell", "GRUCell")
                                          for v in ("batched", "unbatched", "no_hx", "no_bias")]
                         + [("RNNCell", "relu")])
def test_cells_match_torch(kind, variant):
    torch.manual_seed(0)
    kw = {"bias": False} if variant == "no_bias" else ({"nonlinearity": "relu"} if variant == "relu" else {})
    th, rg = getattr(torch.nn, kind)(5, 4, **kw), getattr(nn, kind)(5, 4, **kw)
    _copy_params(rg, th)
    assert repr(rg) == repr(th)
    lead = () if variant == "unbatched" else (3,)
    x_th, x_rg = _pair(*lead, 5)
    args_th, args_rg, leaves = [x_th], [x_rg], [(x_rg, x_th)]
    if variant != "no_hx":
        h_th, h_rg = _pair(*lead, 4)
        leaves.append((h_rg, h_th))
        if kind == "LSTMCell":
            c_th, c_rg = _pair(*lead, 4)
            leaves.append((c_rg, c_th))
            args_th.append((h_th, c_th))
            args_rg.append((h_rg, c_rg))
        else:
            args_th.append(h_th)
            args_rg.append(h_rg)
    out_th, out_rg = _flat(th(*args_th)), _flat(rg(*args_rg))
    for o_rg, o_th in zip(out_rg, out_th):
        _match(o_rg, o_th, rtol=RTOL, atol=ATOL)
    _backward(out_th, out_rg)
    for a_rg, a_th in leaves:
        _match(a_rg.grad, a_th.grad, rtol=1e-4, atol=1e-5)
    _assert_grads(rg, th, rtol=1e-4, atol=1e-5)


# ----- MultiheadAttention ---------------------------------------------------------------------

MHA_CASES = [
    dict(),
    dict(batch_first=True),
    dict(need_weights=False),
    dict(average_attn_weights=False),
    dict(bias=False),
    dict(add_bias_kv=True, attn_mask="bool2d", key_padding_mask="bool"),
    dict(add_zero_attn=True, key_padding_mask="bool", need_weights=False),
    dict(cross=True, kdim=3, vdim=7),
    dict(cross=True, batch_first=True, attn_mask="float3d"),
    dict(kv_same=True, key_padding_mask="float", attn_mask="float2d"),
    dict(attn_mask="bool3d", need_weights=False),
    dict(attn_mask="causal", is_causal=True, need_weights=False),
    dict(unbatched=True, key_padding_mask="bool"),
    dict(unbatched=True, attn_mask="bool3d", need_weights=False),
]


def _mask(kind, L, S, N, H, gen):
    if kind is None:
        return None
    if kind == "causal":
        return torch.triu(torch.full((L, S), float("-inf")), diagonal=1)
    shape = {"bool2d": (L, S), "float2d": (L, S), "bool3d": (N * H, L, S), "float3d": (N * H, L, S),
             "bool": (N, S), "float": (N, S)}[kind]
    if kind.startswith("bool"):
        m = torch.rand(shape, generator=gen) > 0.7
        m[..., 0] = False  # every query keeps one key
        return m
    return torch.randn(shape, generator=gen)


@pytest.mark.parametrize("case", MHA_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "plain")
def test_multihead_attention_matches_torch(case):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    E, H, L, S, N = 8, 2, 4, 5, 3
    ctor = {k: case[k] for k in ("batch_first", "bias", "add_bias_kv", "add_zero_attn", "kdim", "vdim")
            if k in case}
    th, rg = torch.nn.MultiheadAttention(E, H, **ctor), nn.MultiheadAttention(E, H, **ctor)
    _copy_params(rg, th)
    unbatched = case.get("unbatched")
    bf = case.get("batch_first") and not unbatched

    def shape(seq, feat):
        return (seq, feat) if unbatched else ((N, seq, feat) if bf else (seq, N, feat))

    q_th, q_rg = _pair(*shape(L, E))
    leaves = [(q_rg, q_th)]
    if case.get("cross"):
        k_th, k_rg = _pair(*shape(S, case.get("kdim", E)))
        v_th, v_rg = _pair(*shape(S, case.get("vdim", E)))
        leaves += [(k_rg, k_th), (v_rg, v_th)]
    elif case.get("kv_same"):
        k_th, k_rg = _pair(*shape(S, E))
        v_th, v_rg = k_th, k_rg
        leaves.append((k_rg, k_th))
    else:
        S = L
        k_th, k_rg, v_th, v_rg = q_th, q_rg, q_th, q_rg
    am = _mask(case.get("attn_mask"), L, S, 1 if unbatched else N, H, gen)
    kpm = _mask(case.get("key_padding_mask"), L, S, 1 if unbatched else N, H, gen)
    if unbatched and kpm is not None:
        kpm = kpm[0]
    fwd = {k: case[k] for k in ("need_weights", "average_attn_weights", "is_causal") if k in case}
    out_th = th(q_th, k_th, v_th, attn_mask=am, key_padding_mask=kpm, **fwd)
    out_rg = rg(q_rg, k_rg, v_rg, attn_mask=None if am is None else _rg(am),
                key_padding_mask=None if kpm is None else _rg(kpm), **fwd)
    assert (out_rg[1] is None) == (out_th[1] is None)
    outs_th = [o for o in out_th if o is not None]
    outs_rg = [o for o in out_rg if o is not None]
    for o_rg, o_th in zip(outs_rg, outs_th):
        _match(o_rg, o_th, rtol=1e-5, atol=1e-5)
    _backward(outs_th, outs_rg)
    for a_rg, a_th in leaves:
        _match(a_rg.grad, a_th.grad, rtol=1e-4, atol=1e-5)
    _assert_grads(rg, th, rtol=1e-4, atol=1e-5)


def test_multihead_attention_params_and_init():
    for kw in [dict(), dict(kdim=3, vdim=5, add_bias_kv=True), dict(bias=False)]:
        th, rg = torch.nn.MultiheadAttention(8, 2, **kw), nn.MultiheadAttention(8, 2, **kw)
        assert [(n, tuple(p.shape)) for n, p in rg.named_parameters()] == \
               [(n, tuple(p.shape)) for n, p in th.named_parameters()]
    rg = nn.MultiheadAttention(8, 2)
    assert float(rg.in_proj_bias.abs().sum()) == 0 and float(rg.out_proj.bias.abs().sum()) == 0
    bound = np.sqrt(6 / (8 + 24))  # xavier_uniform_ on the (24, 8) packed weight
    w = rg.in_proj_weight.detach().cpu().numpy()
    assert w.min() >= -bound and w.max() <= bound
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)


def test_multihead_attention_is_causal_needs_mask():
    mha, x = nn.MultiheadAttention(4, 2), rgrad.randn(3, 1, 4)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)


# ----- Transformer ----------------------------------------------------------------------------

ENC_CASES = [
    dict(),
    dict(activation="gelu", norm_first=True),
    dict(batch_first=True, src_key_padding_mask=True),
    dict(bias=False, src_mask="causal", is_causal=True),
    dict(activation="callable", src_mask="bool"),
    dict(unbatched=True),
]


def _enc_kwargs(case, lib):
    kw = {k: case[k] for k in ("norm_first", "batch_first", "bias") if k in case}
    act = case.get("activation")
    if act == "callable":
        kw["activation"] = lib.nn.functional.silu
    elif act is not None:
        kw["activation"] = act
    return kw


def _enc_inputs(case, S=5, N=2, E=8, H=2):
    gen = torch.Generator().manual_seed(3)
    unbatched = case.get("unbatched")
    shape = (S, E) if unbatched else ((N, S, E) if case.get("batch_first") else (S, N, E))
    x_th, x_rg = _pair(*shape)
    masks_th = {}
    if case.get("src_mask") == "causal":
        masks_th["src_mask"] = torch.nn.Transformer.generate_square_subsequent_mask(S)
    elif case.get("src_mask") == "bool":
        m = torch.rand(S, S, generator=gen) > 0.6
        m.fill_diagonal_(False)
        masks_th["src_mask"] = m
    if case.get("src_key_padding_mask"):
        kpm = torch.zeros(N, S, dtype=torch.bool)
        kpm[1, -2:] = True
        masks_th["src_key_padding_mask"] = kpm
    if "is_causal" in case:
        masks_th["is_causal"] = case["is_causal"]
    masks_rg = {k: (_rg(v) if isinstance(v, torch.Tensor) else v) for k, v in masks_th.items()}
    return x_th, x_rg, masks_th, masks_rg


@pytest.mark.parametrize("case", ENC_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "plain")
def test_transformer_encoder_layer_matches_torch(case):
    torch.manual_seed(0)
    th = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **_enc_kwargs(case, torch))
    rg = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **_enc_kwargs(case, rgrad))
    _copy_params(rg, th)
    x_th, x_rg, m_th, m_rg = _enc_inputs(case)
    out_th, out_rg = th(x_th, **m_th), rg(x_rg, **m_rg)
    _match(out_rg, out_th, rtol=1e-5, atol=1e-5)
    _backward([out_th], [out_rg])
    _match(x_rg.grad, x_th.grad, rtol=1e-4, atol=1e-5)
    _assert_grads(rg, th, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", [dict(), dict(batch_first=True, src_key_padding_mask=True),
                                  dict(src_mask="causal")], ids=["plain", "padding", "causal"])
def test_transformer_encoder_matches_torch(case):
    torch.manual_seed(0)
    kw = _enc_kwargs(case, torch)
    th_layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **kw)
    th = torch.nn.TransformerEncoder(th_layer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    rg_layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **kw)
    rg = nn.TransformerEncoder(rg_layer, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False)
    _copy_params(rg, th)
    # The clones own their parameters: layer 1 must not share layer 0's.
    assert rg.layers[0].linear1.weight is not rg.layers[1].linear1.weight
    x_th, x_rg, m_th, m_rg = _enc_inputs(case)
    m_th = {("mask" if k == "src_mask" else k): v for k, v in m_th.items()}
    m_rg = {("mask" if k == "src_mask" else k): v for k, v in m_rg.items()}
    out_th, out_rg = th(x_th, **m_th), rg(x_rg, **m_rg)
    _match(out_rg, out_th, rtol=1e-5, atol=1e-5)
    _backward([out_th], [out_rg])
    _match(x_rg.grad, x_th.grad, rtol=1e-4, atol=1e-5)
    _assert_grads(rg, th, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("left_aligned", [True, False])
def test_transformer_encoder_inference_padding_matches_torch(left_aligned):
    # Under no_grad in eval, torch packs a left-aligned padded batch into a nested tensor and
    # returns zeros at the padded positions; otherwise padded positions are computed normally.
    torch.manual_seed(0)
    th = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                                     norm=torch.nn.LayerNorm(8)).eval()
    rg = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                               norm=nn.LayerNorm(8)).eval()
    _copy_params(rg, th)
    x = torch.randn(3, 5, 8)
    kpm = torch.zeros(3, 5, dtype=torch.bool)
    kpm[1, -2:] = True
    if not left_aligned:
        kpm[2, 0] = True
    with torch.no_grad():
        out_th = th(x, src_key_padding_mask=kpm)
    with rgrad.no_grad():
        out_rg = rg(_rg(x), src_key_padding_mask=_rg(kpm))
    _match(out_rg, out_th)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_matches_torch(norm_first):
    torch.manual_seed(0)
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, dropout=0.0,
              norm_first=norm_first, batch_first=True)
    with warnings.catch_warnings(record=True) as w_th:
        warnings.simplefilter("always")
        th = torch.nn.Transformer(**kw)
    with warnings.catch_warnings(record=True) as w_rg:
        warnings.simplefilter("always")
        rg = nn.Transformer(**kw)
    # norm_first rules out torch's nested-tensor path, with the same warning.
    assert [str(w.message) for w in w_rg] == [str(w.message) for w in w_th]
    _copy_params(rg, th)
    src_th, src_rg = _pair(2, 6, 8)
    tgt_th, tgt_rg = _pair(2, 4, 8)
    mask_th = torch.nn.Transformer.generate_square_subsequent_mask(4)
    mask_rg = nn.Transformer.generate_square_subsequent_mask(4)
    _match(mask_rg, mask_th)
    kpm = torch.zeros(2, 6, dtype=torch.bool)
    kpm[0, -1] = True
    out_th = th(src_th, tgt_th, tgt_mask=mask_th, src_key_padding_mask=kpm, memory_key_padding_mask=kpm)
    out_rg = rg(src_rg, tgt_rg, tgt_mask=mask_rg, src_key_padding_mask=_rg(kpm), memory_key_padding_mask=_rg(kpm))
    _match(out_rg, out_th, rtol=1e-5, atol=1e-5)
    _backward([out_th], [out_rg])
    _match(src_rg.grad, src_th.grad, rtol=1e-4, atol=1e-5)
    _match(tgt_rg.grad, tgt_th.grad, rtol=1e-4, atol=1e-5)
    _assert_grads(rg, th, rtol=1e-4, atol=1e-5)


def test_transformer_encoder_layer_bad_activation():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
