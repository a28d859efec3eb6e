"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their single-step cells, with torch's
parameter names, shapes, initialisation, input conventions and gate layouts.

Inputs may be padded tensors or ``nn.utils.rnn.PackedSequence``; both run as a sequence of
time steps over a shrinking batch. The input projection of a whole layer is one matmul over all
timesteps; the time loop then does only the recurrent matmul and a few elementwise ops per step."""

import math
import numbers
import warnings

from ..._creation import empty, zeros
from ..._indexing_ops import cat, stack
from .. import functional as F, init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ----- one timestep ----------------------------------------------------------------------
# xw is the input projection of this step, W_ih x + b_ih, plus b_hh where it can be folded in
# (everywhere but GRU, whose b_hn sits inside r * (W_hn h + b_hn)). w_hh_t is W_hh transposed.

def _rnn_step(xw, h, w_hh_t, relu):
    pre = xw.addmm(h, w_hh_t)
    return pre.relu() if relu else pre.tanh()


def _lstm_step(xw, h, c, w_hh_t, w_hr_t):
    gates = xw.addmm(h, w_hh_t)
    H = c.shape[-1]
    # Gate order is (i, f, g, o); one sigmoid over all four is cheaper than three slices.
    s = gates.sigmoid()
    i, f, o = s.narrow(-1, 0, H), s.narrow(-1, H, H), s.narrow(-1, 3 * H, H)
    g = gates.narrow(-1, 2 * H, H).tanh()
    c = f * c + i * g
    h = o * c.tanh()
    if w_hr_t is not None:
        h = h.mm(w_hr_t)
    return h, c


def _gru_step(xw, h, w_hh_t, b_hh):
    hh = h.mm(w_hh_t) if b_hh is None else b_hh.addmm(h, w_hh_t)
    H = h.shape[-1]
    rz = (xw.narrow(-1, 0, 2 * H) + hh.narrow(-1, 0, 2 * H)).sigmoid()
    r, z = rz.narrow(-1, 0, H), rz.narrow(-1, H, H)
    n = (xw.narrow(-1, 2 * H, H) + r * hh.narrow(-1, 2 * H, H)).tanh()
    # (1 - z) * n + z * h
    return n + z * (h - n)


def _input_bias(mode, b_ih, b_hh):
    if b_ih is None:
        return None
    return b_ih if mode == "GRU" else b_ih + b_hh


def _step(mode, xw, h, c, w_hh_t, b_hh, w_hr_t):
    if mode == "LSTM":
        return _lstm_step(xw, h, c, w_hh_t, w_hr_t)
    if mode == "GRU":
        return _gru_step(xw, h, w_hh_t, b_hh), None
    return _rnn_step(xw, h, w_hh_t, mode == "RNN_RELU"), None


def _run_direction(mode, xw, batch_sizes, h0, c0, weights, reverse):
    """One layer in one direction. xw: the input projections of every step, time step by time
    step ((sum of batch_sizes, G): step t is the next batch_sizes[t] rows, sequences sorted
    longest first); h0/c0: (B, H). Returns (outputs (sum of batch_sizes, H_out), h_n, c_n)."""
    _, w_hh, _, b_hh, w_hr = weights
    w_hh_t = w_hh.t()
    w_hr_t = None if w_hr is None else w_hr.t()
    b_hh = b_hh if mode == "GRU" else None
    offsets = [0]
    for b in batch_sizes[:-1]:
        offsets.append(offsets[-1] + b)
    T = len(batch_sizes)
    outs = [None] * T
    if not reverse:
        h, c = h0, c0
        # Sequences that end leave the running batch from the bottom; keep their final states.
        done_h, done_c = [], []
        for t in range(T):
            b = batch_sizes[t]
            if b < h.shape[0]:
                done_h.append(h.narrow(0, b, h.shape[0] - b))
                h = h.narrow(0, 0, b)
                if c is not None:
                    done_c.append(c.narrow(0, b, c.shape[0] - b))
                    c = c.narrow(0, 0, b)
            h, c = _step(mode, xw.narrow(0, offsets[t], b), h, c, w_hh_t, b_hh, w_hr_t)
            outs[t] = h
        if done_h:
            h = cat([h] + done_h[::-1])
            c = None if c is None else cat([c] + done_c[::-1])
    else:
        # Backwards in time, shorter sequences join (with their initial state) as they start.
        b = batch_sizes[-1]
        h = h0 if b == h0.shape[0] else h0.narrow(0, 0, b)
        c = c0 if c0 is None or b == c0.shape[0] else c0.narrow(0, 0, b)
        for t in range(T - 1, -1, -1):
            b = batch_sizes[t]
            if b > h.shape[0]:
                h = cat([h, h0.narrow(0, h.shape[0], b - h.shape[0])])
                if c is not None:
                    c = cat([c, c0.narrow(0, c.shape[0], b - c.shape[0])])
            h, c = _step(mode, xw.narrow(0, offsets[t], b), h, c, w_hh_t, b_hh, w_hr_t)
            outs[t] = h
    return cat(outs), h, c


class RNNBase(Module):
    """Base class of ``RNN``, ``LSTM`` and ``GRU``: builds the per-layer, per-direction
    parameters ``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (and ``weight_hr_l{k}`` for an LSTM with ``proj_size``)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=3)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        num_directions = 2 if bidirectional else 1
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        kw = {"dtype": dtype, "device": device}
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
            for direction in range(num_directions):
                suffix = "_reverse" if direction == 1 else ""
                params = [("weight_ih", (gate_size, layer_input_size)), ("weight_hh", (gate_size, real_hidden_size))]
                if bias:
                    params += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    params.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for base, shape in params:
                    name = f"{base}_l{layer}{suffix}"
                    setattr(self, name, Parameter(empty(shape, **kw)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def _flat_weights(self):
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self):
        """A no-op kept for torch compatibility (it only matters to cuDNN)."""

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # ----- forward ------------------------------------------------------------------------

    def _layer_weights(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""
        return tuple(getattr(self, f"{base}_l{layer}{suffix}", None)
                     for base in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))

    def check_input(self, input, batch_sizes=None):
        w = self._flat_weights[0]
        if input.dtype != w.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({w.dtype}). Convert "
                             f"input: input.to({w.dtype}), or convert model: model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(f"input must have {expected_input_dim} dimensions, got {input.dim()}")
        if self.input_size != input.shape[-1]:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{input.shape[-1]}")

    def get_expected_hidden_size(self, input, batch_sizes=None):
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.shape[0] if self.batch_first else input.shape[1]
        num_directions = 2 if self.bidirectional else 1
        h = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, h)

    def check_hidden_size(self, hx, expected_hidden_size, msg="Expected hidden size {}, got {}"):
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(tuple(expected_hidden_size), list(hx.shape)))

    def _run(self, x, batch_sizes, h0, c0):
        """x: (sum of batch_sizes, in), time step by time step; h0/c0: (layers * dirs, B, H).
        Returns (output (sum of batch_sizes, dirs * H_out), h_n, c_n)."""
        num_directions = 2 if self.bidirectional else 1
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(num_directions):
                k = layer * num_directions + d
                weights = self._layer_weights(layer, d)
                w_ih, _, b_ih, b_hh, _ = weights
                # The input projection of every timestep at once.
                xw = F.linear(x, w_ih, _input_bias(self.mode, b_ih, b_hh))
                out, h, c = _run_direction(self.mode, xw, batch_sizes, h0[k], None if c0 is None else c0[k],
                                           weights, reverse=d == 1)
                outs.append(out)
                hs.append(h)
                cs.append(c)
            x = outs[0] if num_directions == 1 else cat(outs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, stack(hs), (stack(cs) if c0 is not None else None)

    def _run_padded(self, input, h0, c0):
        """input (L, N, in) or batch-first; returns output in the same layout, h_n, c_n."""
        x = self._time_major(input)
        L, N = x.shape[0], x.shape[1]
        out, h_n, c_n = self._run(x.reshape(L * N, x.shape[2]), [N] * L, h0, c0)
        out = out.reshape(L, N, out.shape[-1])
        return (out.transpose(0, 1) if self.batch_first else out), h_n, c_n

    def _run_packed(self, packed, h0, c0):
        """Runs a PackedSequence; h0/c0 are in the caller's batch order, as are h_n/c_n."""
        if packed.sorted_indices is not None:
            h0 = h0.index_select(1, packed.sorted_indices)
            c0 = None if c0 is None else c0.index_select(1, packed.sorted_indices)
        out, h_n, c_n = self._run(packed.data, [int(b) for b in packed.batch_sizes.tolist()], h0, c0)
        if packed.unsorted_indices is not None:
            h_n = h_n.index_select(1, packed.unsorted_indices)
            c_n = None if c_n is None else c_n.index_select(1, packed.unsorted_indices)
        return type(packed)(out, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices), h_n, c_n

    def _forward_single_state(self, name, input, hx):
        """RNN's and GRU's forward: one hidden state per layer and direction."""
        if isinstance(input, PackedSequence):
            if hx is None:
                hx = self._zeros_hidden(input.data, int(input.batch_sizes[0]), self.hidden_size)
            self.check_input(input.data, input.batch_sizes)
            self.check_hidden_size(hx, self.get_expected_hidden_size(input.data, input.batch_sizes))
            output, h_n, _ = self._run_packed(input, hx, None)
            return output, h_n
        input, is_batched = self._prepare(input, name)
        if hx is not None:
            if not is_batched and hx.dim() != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor")
            if is_batched and hx.dim() != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
            if not is_batched:
                hx = hx.unsqueeze(1)
        else:
            hx = self._zeros_hidden(input, self._batch(input), self.hidden_size)
        self.check_input(input)
        self.check_hidden_size(hx, self.get_expected_hidden_size(input))
        output, h_n, _ = self._run_padded(input, hx, None)
        if not is_batched:
            return output.squeeze(self._batch_dim()), h_n.squeeze(1)
        return output, h_n

    def _prepare(self, input, name):
        """Checks the rank and adds the batch dim to unbatched input."""
        if input.dim() not in (2, 3):
            sep = " tensor" if name == "RNN" else ""
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{sep} instead")
        is_batched = input.dim() == 3
        if not is_batched:
            input = input.unsqueeze(self._batch_dim())
        return input, is_batched

    def _batch_dim(self):
        return 0 if self.batch_first else 1

    def _batch(self, input):
        return input.shape[self._batch_dim()]

    def _zeros_hidden(self, input, batch, size):
        num_directions = 2 if self.bidirectional else 1
        return zeros((self.num_layers * num_directions, batch, size), dtype=input.dtype, device=input.device)

    def _time_major(self, input):
        return input.transpose(0, 1) if self.batch_first else input


class RNN(RNNBase):
    r"""Multi-layer Elman RNN: :math:`h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`
    (or ReLU).

    Args:
        input_size, hidden_size, num_layers=1, nonlinearity='tanh' ('relu'), bias=True,
        batch_first=False, dropout=0.0 (between layers, training only), bidirectional=False.

    Shape:
        input (L, N, H_in), (N, L, H_in) with batch_first, unbatched (L, H_in), or a PackedSequence
        (then output is one too); h_0 (D * num_layers, N, H_out) or (D * num_layers, H_out).
        Returns (output (L, N, D * H_out), h_n (D * num_layers, N, H_out)).

    Example::

        >>> rnn = nn.RNN(10, 20, 2)
        >>> output, hn = rnn(rgrad.randn(5, 3, 10), rgrad.randn(2, 3, 20))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward_single_state("RNN", input, hx)


class GRU(RNNBase):
    r"""Multi-layer gated recurrent unit, with torch's gate layout (r, z, n):

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}),\quad z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz})\\
        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})),\quad h' = (1 - z) \odot n + z \odot h

    Args and shapes as :class:`RNN` (no ``nonlinearity``).

    Example::

        >>> gru = nn.GRU(10, 20, 2)
        >>> output, hn = gru(rgrad.randn(5, 3, 10))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward_single_state("GRU", input, hx)


class LSTM(RNNBase):
    r"""Multi-layer long short-term memory, with torch's gate layout (i, f, g, o):

    .. math::
        c_t = f \odot c_{t-1} + i \odot g,\quad h_t = o \odot \tanh(c_t)

    and, with ``proj_size > 0``, :math:`h_t = W_{hr} (o \odot \tanh(c_t))`.

    Args: as :class:`RNN` (no ``nonlinearity``) plus ``proj_size=0``.

    Shape:
        input as :class:`RNN`; hx = (h_0 (D * num_layers, N, H_out), c_0 (D * num_layers, N, H_cell)).
        Returns (output (L, N, D * H_out), (h_n, c_n)).

    Example::

        >>> lstm = nn.LSTM(10, 20, 2)
        >>> output, (hn, cn) = lstm(rgrad.randn(5, 3, 10))
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input, batch_sizes=None):
        expected = self.get_expected_hidden_size(input, batch_sizes)
        return expected[:2] + (self.hidden_size,)

    def check_forward_args(self, input, hidden, batch_sizes=None):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def forward(self, input, hx=None):
        real_hidden_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        if isinstance(input, PackedSequence):
            if hx is None:
                batch = int(input.batch_sizes[0])
                hx = (self._zeros_hidden(input.data, batch, real_hidden_size),
                      self._zeros_hidden(input.data, batch, self.hidden_size))
            self.check_forward_args(input.data, hx, input.batch_sizes)
            output, h_n, c_n = self._run_packed(input, hx[0], hx[1])
            return output, (h_n, c_n)
        input, is_batched = self._prepare(input, "LSTM")
        if hx is None:
            batch = self._batch(input)
            hx = (self._zeros_hidden(input, batch, real_hidden_size),
                  self._zeros_hidden(input, batch, self.hidden_size))
        elif is_batched:
            if hx[0].dim() != 3 or hx[1].dim() != 3:
                raise RuntimeError("For batched 3-D input, hx and cx should also be 3-D but got "
                                   f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
        else:
            if hx[0].dim() != 2 or hx[1].dim() != 2:
                raise RuntimeError("For unbatched 2-D input, hx and cx should also be 2-D but got "
                                   f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        self.check_forward_args(input, hx)
        output, h_n, c_n = self._run_padded(input, hx[0], hx[1])
        if not is_batched:
            return output.squeeze(self._batch_dim()), (h_n.squeeze(1), c_n.squeeze(1))
        return output, (h_n, c_n)


# ----- cells ----------------------------------------------------------------------------

class RNNCellBase(Module):
    """Base class of the single-step cells: parameters ``weight_ih`` (chunks * hidden, input),
    ``weight_hh`` (chunks * hidden, hidden), ``bias_ih``, ``bias_hh``."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), dtype=dtype, device=device))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _begin(self, name, input, hxs):
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected {self.input_size}")
        out = []
        for k, h in enumerate(hxs):
            if h is None:
                h = zeros((input.shape[0], self.hidden_size), dtype=input.dtype, device=input.device)
            else:
                if not is_batched:
                    h = h.unsqueeze(0)
                if h.shape[0] != input.shape[0]:
                    raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{k} batch size "
                                       f"{h.shape[0]}")
                if h.shape[1] != self.hidden_size:
                    raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.shape[1]}, expected "
                                       f"{self.hidden_size}")
            out.append(h)
        return input, is_batched, out

    def _xw(self, input, fold_hh):
        bias = self.bias_ih
        if bias is not None and fold_hh:
            bias = bias + self.bias_hh
        return F.linear(input, self.weight_ih, bias)


class RNNCell(RNNCellBase):
    r"""One Elman RNN step: :math:`h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})` (or ReLU).

    Shape: input (N, H_in) or (H_in,); hidden (N, H) or (H,), zeros when omitted. Returns h'.

    Example::

        >>> cell = nn.RNNCell(10, 20)
        >>> h = cell(rgrad.randn(3, 10))
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        input, is_batched, (hx,) = self._begin("RNNCell", input, [hx])
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        h = _rnn_step(self._xw(input, True), hx, self.weight_hh.t(), self.nonlinearity == "relu")
        return h if is_batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    r"""One LSTM step (gates i, f, g, o): :math:`c' = f \odot c + i \odot g`, :math:`h' = o \odot \tanh(c')`.

    Shape: input (N, H_in) or (H_in,); hx = (h, c) each (N, H) or (H,), zeros when omitted.
    Returns (h', c').

    Example::

        >>> cell = nn.LSTMCell(10, 20)
        >>> h, c = cell(rgrad.randn(3, 10))
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None:
            for idx, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got {value.dim()}D instead")
        input, is_batched, (h, c) = self._begin("LSTMCell", input, [None, None] if hx is None else list(hx))
        h, c = _lstm_step(self._xw(input, True), h, c, self.weight_hh.t(), None)
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    r"""One GRU step (gates r, z, n):
    :math:`n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn}))`, :math:`h' = (1 - z) \odot n + z \odot h`.

    Shape: input (N, H_in) or (H_in,); hidden (N, H) or (H,), zeros when omitted. Returns h'.

    Example::

        >>> cell = nn.GRUCell(10, 20)
        >>> h = cell(rgrad.randn(3, 10))
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        input, is_batched, (hx,) = self._begin("GRUCell", input, [hx])
        h = _gru_step(self._xw(input, False), hx, self.weight_hh.t(), self.bias_hh)
        return h if is_batched else h.squeeze(0)
