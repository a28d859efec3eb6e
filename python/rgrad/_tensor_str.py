"""Tensor printing for rgrad: a pure-Python/numpy port of PyTorch's
``torch/_tensor_str.py``.

The goal is that ``repr`` of an rgrad tensor is character-for-character
identical to ``repr`` of the torch tensor holding the same values, with
``torch.`` replaced by ``rgrad.`` (``dtype=rgrad.float16``) and CUDA devices
replaced by rgrad's device names (``device='gpu:0'``).

The core calls :func:`format_tensor` with a numpy array holding the tensor's
values; everything else (options, formatter, summarization, line wrapping,
suffixes) mirrors torch's implementation step by step, including its quirks.

Only numpy and the standard library are imported here (never torch).
"""

import contextlib
import dataclasses
import functools
import math
from typing import Any, Dict, List, Optional

import numpy as np

__all__ = [
    "PRINT_OPTS",
    "set_printoptions",
    "get_printoptions",
    "printoptions",
    "format_tensor",
]

inf = math.inf


@dataclasses.dataclass
class __PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: Optional[bool] = None


PRINT_OPTS = __PrinterOptions()


def set_printoptions(
    precision=None,
    threshold=None,
    edgeitems=None,
    linewidth=None,
    profile=None,
    sci_mode=None,
):
    r"""Set options for printing. Items shamelessly taken from NumPy.

    Args:
        precision: Number of digits of precision for floating point output
            (default = 4).
        threshold: Total number of array elements which trigger summarization
            rather than full `repr` (default = 1000).
        edgeitems: Number of array items in summary at beginning and end of
            each dimension (default = 3).
        linewidth: The number of characters per line for the purpose of
            inserting line breaks (default = 80). Thresholded matrices will
            ignore this parameter.
        profile: Sane defaults for pretty printing. Can override with any of
            the above options. (any one of `default`, `short`, `full`)
        sci_mode: Enable (True) or disable (False) scientific notation. If
            None (default) is specified, the value is chosen automatically.
            Like torch, every call resets ``sci_mode`` to the value passed
            (``None`` when omitted).
    """
    if profile is not None:
        if profile == "default":
            PRINT_OPTS.precision = 4
            PRINT_OPTS.threshold = 1000
            PRINT_OPTS.edgeitems = 3
            PRINT_OPTS.linewidth = 80
        elif profile == "short":
            PRINT_OPTS.precision = 2
            PRINT_OPTS.threshold = 1000
            PRINT_OPTS.edgeitems = 2
            PRINT_OPTS.linewidth = 80
        elif profile == "full":
            PRINT_OPTS.precision = 4
            PRINT_OPTS.threshold = inf
            PRINT_OPTS.edgeitems = 3
            PRINT_OPTS.linewidth = 80

    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> Dict[str, Any]:
    r"""Gets the current options for printing, as a dictionary that
    can be passed as ``**kwargs`` to set_printoptions().
    """
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    r"""Context manager that temporarily changes the print options.  Accepted
    arguments are same as :func:`set_printoptions`."""
    old_kwargs = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old_kwargs)


# ---------------------------------------------------------------------------
# dtype bookkeeping
# ---------------------------------------------------------------------------

_FLOAT_NAMES = frozenset(
    {
        "float16",
        "bfloat16",
        "float32",
        "float64",
        "float8_e4m3fn",
        "float8_e4m3fnuz",
        "float8_e5m2",
        "float8_e5m2fnuz",
        "float8_e8m0fnu",
    }
)
_COMPLEX_NAMES = frozenset({"complex32", "complex64", "complex128"})
_INT_NAMES = frozenset(
    {"uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64"}
)
_ALIASES = {
    "half": "float16",
    "float": "float32",
    "double": "float64",
    "cfloat": "complex64",
    "cdouble": "complex128",
    "chalf": "complex32",
    "short": "int16",
    "int": "int32",
    "long": "int64",
}


def _canonical_dtype_name(dtype_name, arr):
    if dtype_name is None:
        name = str(arr.dtype)
    else:
        name = str(dtype_name)
    for pre in ("rgrad.", "torch.", "numpy.", "np."):
        if name.startswith(pre):
            name = name[len(pre):]
    return _ALIASES.get(name, name)


def _dtype_kind(name, arr):
    """'f' floating, 'c' complex, 'b' bool, 'i' integer."""
    if name in _FLOAT_NAMES:
        return "f"
    if name in _COMPLEX_NAMES:
        return "c"
    if name == "bool":
        return "b"
    if name in _INT_NAMES:
        return "i"
    k = arr.dtype.kind
    if k == "f":
        return "f"
    if k == "c":
        return "c"
    if k == "b":
        return "b"
    return "i"


def _round_to_bfloat16(a):
    """Round float values to the nearest bfloat16 (ties to even); exact
    bfloat16 values are returned unchanged."""
    a32 = np.array(a, dtype=np.float32, order="C")  # copy; keeps 0-d shape
    bits = a32.reshape(-1).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    out = rounded.view(np.float32).reshape(a32.shape)
    return np.where(np.isnan(a32), a32, out)


def _normalize_values(arr, name, kind):
    """Bring ``arr`` into the representation the printer works on: float64 for
    floating tensors (rounded to the tensor's dtype, which is a no-op for the
    exact values the core passes), complex128 for complex ones, and the
    original integer/bool array otherwise."""
    if kind == "f":
        if arr.dtype.kind == "c":
            arr = arr.real
        if name == "float32":
            arr = arr.astype(np.float32, copy=False)
        elif name == "float16":
            arr = arr.astype(np.float16, copy=False)
        elif name == "bfloat16":
            arr = _round_to_bfloat16(arr)
        return arr.astype(np.float64, copy=False)
    if kind == "c":
        if name in ("complex64",):
            arr = arr.astype(np.complex64, copy=False)
        elif name == "complex32":
            arr = arr.astype(np.complex64, copy=False)
            arr = (
                arr.real.astype(np.float16).astype(np.float64)
                + 1j * arr.imag.astype(np.float16).astype(np.float64)
            )
        return arr.astype(np.complex128, copy=False)
    if kind == "b":
        return arr.astype(np.bool_, copy=False)
    if arr.dtype.kind not in "iu":
        arr = arr.astype(np.int64)
    return arr


# ---------------------------------------------------------------------------
# The formatter
# ---------------------------------------------------------------------------


def _width_candidates(vals):
    """Values whose formatted width is maximal among ``vals`` (nonzero, finite).

    For the fixed formats (``.Nf``/``.0f``) the string length is nondecreasing
    in ``|v|`` for each sign; for ``.Ne`` it depends on the sign and on the
    number of exponent digits, and the (rounded) exponent is monotone in
    ``|v|``.  So the extremes of each sign group cover the maximum width.
    """
    out = []
    pos = vals[vals > 0]
    if pos.size:
        out.append(float(pos.min()))
        out.append(float(pos.max()))
    neg = vals[vals < 0]
    if neg.size:
        out.append(float(neg.min()))
        out.append(float(neg.max()))
    return out


class _Formatter:
    def __init__(self, values, floating_dtype):
        # ``values`` is a numpy array (any shape); float64 when floating.
        self.floating_dtype = floating_dtype
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1

        tensor_view = np.asarray(values).reshape(-1)

        if not self.floating_dtype:
            if tensor_view.size == 0:
                return
            if tensor_view.dtype == np.bool_:
                candidates = np.unique(tensor_view).tolist()
            else:
                candidates = [tensor_view.min().item(), tensor_view.max().item()]
            for value in candidates:
                value_str = f"{value}"
                self.max_width = max(self.max_width, len(value_str))

        else:
            tensor_view = tensor_view.astype(np.float64, copy=False)
            nonzero_finite_vals = tensor_view[
                np.isfinite(tensor_view) & (tensor_view != 0)
            ]

            if nonzero_finite_vals.size == 0:
                # no valid number, do nothing
                return

            nonzero_finite_abs = np.abs(nonzero_finite_vals)
            nonzero_finite_min = float(nonzero_finite_abs.min())
            nonzero_finite_max = float(nonzero_finite_abs.max())

            if not np.all(nonzero_finite_vals == np.ceil(nonzero_finite_vals)):
                self.int_mode = False

            with np.errstate(over="ignore"):
                ratio = float(np.float64(nonzero_finite_max) / nonzero_finite_min)
            self.sci_mode = (
                ratio > 1000.0
                or nonzero_finite_max > 1.0e8
                or nonzero_finite_min < 1.0e-4
                if PRINT_OPTS.sci_mode is None
                else PRINT_OPTS.sci_mode
            )

            candidates = _width_candidates(nonzero_finite_vals)
            if self.int_mode:
                # in int_mode for floats, all numbers are integers, and we append a decimal to nonfinites
                # to indicate that the tensor is of floating type. add 1 to the len to account for this.
                if self.sci_mode:
                    for value in candidates:
                        value_str = f"{{:.{PRINT_OPTS.precision}e}}".format(value)
                        self.max_width = max(self.max_width, len(value_str))
                else:
                    for value in candidates:
                        value_str = f"{value:.0f}"
                        self.max_width = max(self.max_width, len(value_str) + 1)
            else:
                # Check if scientific representation should be used.
                if self.sci_mode:
                    for value in candidates:
                        value_str = f"{{:.{PRINT_OPTS.precision}e}}".format(value)
                        self.max_width = max(self.max_width, len(value_str))
                else:
                    for value in candidates:
                        value_str = f"{{:.{PRINT_OPTS.precision}f}}".format(value)
                        self.max_width = max(self.max_width, len(value_str))

    def width(self):
        return self.max_width

    def format(self, value):
        if self.floating_dtype:
            if self.sci_mode:
                ret = f"{{:{self.max_width}.{PRINT_OPTS.precision}e}}".format(value)
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{{:.{PRINT_OPTS.precision}f}}".format(value)
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def _identity(x):
    return x


def _scalar_str(self, formatter1, formatter2=None):
    if formatter2 is not None:
        real_str = _scalar_str(self.real, formatter1)
        imag_str = (_scalar_str(self.imag, formatter2) + "j").lstrip()
        # handles negative numbers, +0.0, -0.0
        if imag_str[0] == "+" or imag_str[0] == "-":
            return real_str + imag_str
        else:
            return real_str + "+" + imag_str
    else:
        return formatter1.format(self.item())


def _vector_str(self, indent, summarize, formatter1, formatter2=None, prep=_identity):
    # length includes spaces and comma between elements
    element_length = formatter1.width() + 2
    if formatter2 is not None:
        # width for imag_formatter + an extra j for complex
        element_length += formatter2.width() + 1

    elements_per_line = max(
        1, math.floor((PRINT_OPTS.linewidth - indent) / (element_length))
    )

    def _val_formatter(val, formatter1=formatter1, formatter2=formatter2):
        if formatter2 is not None:
            real_str = formatter1.format(val.real)
            imag_str = (formatter2.format(val.imag) + "j").lstrip()
            # handles negative numbers, +0.0, -0.0
            if imag_str[0] == "+" or imag_str[0] == "-":
                return real_str + imag_str
            else:
                return real_str + "+" + imag_str
        else:
            return formatter1.format(val)

    if summarize and not PRINT_OPTS.edgeitems:
        # Deal with edge case that negative zero is zero
        data = ["..."]
    elif summarize and self.shape[0] > 2 * PRINT_OPTS.edgeitems:
        data = (
            [_val_formatter(val) for val in prep(self[: PRINT_OPTS.edgeitems]).tolist()]
            + [" ..."]
            + [_val_formatter(val) for val in prep(self[-PRINT_OPTS.edgeitems :]).tolist()]
        )
    else:
        data = [_val_formatter(val) for val in prep(self).tolist()]

    data_lines = [
        data[i : i + elements_per_line] for i in range(0, len(data), elements_per_line)
    ]
    lines = [", ".join(line) for line in data_lines]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


# formatter2 is only used for printing complex tensors.
# For complex tensors, formatter1 and formatter2 are the formatters for tensor.real
# and tensor.imag respectively
def _tensor_str_with_formatter(
    self, indent, summarize, formatter1, formatter2=None, prep=_identity
):
    dim = self.ndim

    if dim == 0:
        return _scalar_str(prep(self), formatter1, formatter2)

    if dim == 1:
        return _vector_str(self, indent, summarize, formatter1, formatter2, prep)

    if summarize and self.shape[0] > 2 * PRINT_OPTS.edgeitems:
        slices = (
            [
                _tensor_str_with_formatter(
                    self[i], indent + 1, summarize, formatter1, formatter2, prep
                )
                for i in range(PRINT_OPTS.edgeitems)
            ]
            + ["..."]
            + [
                _tensor_str_with_formatter(
                    self[i], indent + 1, summarize, formatter1, formatter2, prep
                )
                for i in range(len(self) - PRINT_OPTS.edgeitems, len(self))
            ]
        )
    else:
        slices = [
            _tensor_str_with_formatter(
                self[i], indent + 1, summarize, formatter1, formatter2, prep
            )
            for i in range(self.shape[0])
        ]

    tensor_str = ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices)
    return "[" + tensor_str + "]"


def get_summarized_data(self):
    dim = self.ndim
    if dim == 0:
        return self
    if dim == 1:
        if self.shape[0] > 2 * PRINT_OPTS.edgeitems:
            return np.concatenate(
                (self[: PRINT_OPTS.edgeitems], self[-PRINT_OPTS.edgeitems :])
            )
        else:
            return self
    if not PRINT_OPTS.edgeitems:
        return np.empty([0] * dim, dtype=self.dtype)
    elif self.shape[0] > 2 * PRINT_OPTS.edgeitems:
        start = [self[i] for i in range(PRINT_OPTS.edgeitems)]
        end = [self[i] for i in range(len(self) - PRINT_OPTS.edgeitems, len(self))]
        return np.stack([get_summarized_data(x) for x in (start + end)])
    else:
        return np.stack([get_summarized_data(x) for x in self])


def _tensor_str(self, indent, kind, prep=_identity):
    """``self`` is the raw numpy array, ``kind`` as in _dtype_kind; ``prep``
    normalizes the (small) pieces that are actually looked at, so summarizing
    a huge tensor never converts the whole array."""
    if self.size == 0:
        return "[]"

    summarize = self.size > PRINT_OPTS.threshold

    data = prep(get_summarized_data(self) if summarize else self)
    if kind == "c":
        real_formatter = _Formatter(data.real, True)
        imag_formatter = _Formatter(data.imag, True)
        return _tensor_str_with_formatter(
            self, indent, summarize, real_formatter, imag_formatter, prep
        )
    else:
        formatter = _Formatter(data, kind == "f")
        return _tensor_str_with_formatter(self, indent, summarize, formatter, None, prep)


def _add_suffixes(tensor_str, suffixes, indent, force_newline):
    tensor_strs = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        suffix_len = len(suffix)
        if force_newline or last_line_len + suffix_len + 2 > PRINT_OPTS.linewidth:
            tensor_strs.append(",\n" + " " * indent + suffix)
            last_line_len = indent + suffix_len
            force_newline = False
        else:
            tensor_strs.append(", " + suffix)
            last_line_len += suffix_len + 2
    tensor_strs.append(")")
    return "".join(tensor_strs)


def _grad_fn_name(grad_fn):
    if isinstance(grad_fn, str):
        name = grad_fn
        if name.startswith("<") and name.endswith(">"):
            name = name[1:-1]
        return name
    name = getattr(grad_fn, "name", None)
    if callable(name):
        name = name()
    if isinstance(name, str) and name:
        return name.rsplit("::", 1)[-1]
    return type(grad_fn).__name__


def format_tensor(
    arr,
    *,
    dtype_name,
    is_default_dtype_for_kind,
    device=None,
    requires_grad=False,
    grad_fn=None,
    prefix="tensor(",
    indent=None,
) -> str:
    """Return the torch-identical ``repr`` of a tensor holding ``arr``.

    Args:
        arr: numpy array with the tensor's values and shape (float16/bfloat16
            values as float32, ints as any integer array, bool as bool).
        dtype_name: the tensor's dtype, e.g. ``"float32"``, ``"bfloat16"``.
        is_default_dtype_for_kind: for floating/complex dtypes, whether the
            dtype is the default float dtype (or the matching complex one);
            then ``dtype=`` is not printed.  For integer and bool dtypes torch's
            fixed rule applies (``int64`` and ``bool`` are never shown, other
            integer dtypes always are) whatever this flag says.
        device: ``None`` (or ``"cpu"``) for CPU, else e.g. ``"gpu:0"``.
        requires_grad: prints ``requires_grad=True`` when there is no grad_fn.
        grad_fn: name of the grad_fn (``"MulBackward0"``) or ``None``.
        prefix: the opening text, ``"tensor("`` by default.
        indent: continuation indent; ``len(prefix)`` by default.
    """
    arr = np.asarray(arr)
    name = _canonical_dtype_name(dtype_name, arr)
    kind = _dtype_kind(name, arr)
    self = arr
    prep = functools.partial(_normalize_values, name=name, kind=kind)

    if indent is None:
        indent = len(prefix)
    suffixes: List[str] = []

    if device is not None and str(device) != "cpu":
        suffixes.append("device='" + str(device) + "'")

    if kind in ("f", "c"):
        has_default_dtype = bool(is_default_dtype_for_kind)
    else:
        has_default_dtype = name in ("int64", "bool")
    dtype_str = "rgrad." + name
    shape = tuple(int(s) for s in self.shape)

    if self.size == 0:
        # Explicitly print the shape if it is not (0,), to match NumPy behavior
        if self.ndim != 1:
            suffixes.append("size=" + str(shape))

        # In an empty tensor, there are no elements to infer if the dtype
        # should be int64, so it must be shown explicitly.
        is_default_float = kind == "f" and bool(is_default_dtype_for_kind)
        if not is_default_float:
            suffixes.append("dtype=" + dtype_str)
        tensor_str = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append("size=" + str(shape))

        if not has_default_dtype:
            suffixes.append("dtype=" + dtype_str)

        tensor_str = _tensor_str(self, indent, kind, prep)

    grad_fn_name = None
    if grad_fn is not None:
        grad_fn_name = _grad_fn_name(grad_fn)

    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")

    return _add_suffixes(prefix + tensor_str, suffixes, indent, force_newline=False)
