"""rgrad: a PyTorch-compatible deep-learning library with a Rust core.

Use it as ``import rgrad as torch``::

    >>> import rgrad as torch
    >>> x = torch.tensor([[1., 2.], [3., 4.]])
    >>> (x * 2 + 1).shape
    rgrad.Size([2, 2])
"""

import sys as _sys

from . import _C
from ._C import (  # noqa: F401
    Tensor,
    Generator,
    dtype,
    device,
    bool,
    uint8,
    int8,
    int16,
    int32,
    int64,
    float16,
    bfloat16,
    float32,
    float64,
    manual_seed,
    seed,
    initial_seed,
    get_default_dtype,
    set_default_dtype,
    promote_types,
    can_cast,
)
from ._size import Size
from ._tensor_str import set_printoptions, get_printoptions, printoptions  # noqa: F401
from ._creation import (  # noqa: F401
    tensor,
    as_tensor,
    from_numpy,
    asarray,
    empty,
    zeros,
    ones,
    full,
    eye,
    arange,
    range,
    linspace,
    logspace,
    empty_like,
    zeros_like,
    ones_like,
    full_like,
    rand,
    randn,
    randint,
    randperm,
    rand_like,
    randn_like,
    randint_like,
    normal,
    bernoulli,
    default_generator,
    is_tensor,
    numel,
    result_type,
    from_dlpack,
    scalar_tensor,
    set_default_device,
    get_default_device,
)
from . import _tensor  # noqa: F401  (adds the Python-side Tensor methods)
from ._functions import *  # noqa: F401,F403
from ._functions import __all__ as _fn_all
from ._reduce import *  # noqa: F401,F403
from ._reduce import __all__ as _reduce_all, return_types  # noqa: F401
from ._indexing_ops import *  # noqa: F401,F403
from ._indexing_ops import __all__ as _idx_all
from ._matmul import *  # noqa: F401,F403
from ._matmul import __all__ as _mm_all
from ._random import *  # noqa: F401,F403
from ._random import __all__ as _random_all
from . import autograd  # noqa: F401
from .autograd.grad_mode import (  # noqa: F401
    no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled, is_inference_mode_enabled,
)
from ._return_types import return_types  # noqa: F401
from . import linalg, nn, optim, utils, gpu  # noqa: F401

cuda = gpu  # torch's spelling, so `torch.cuda.is_available()` code runs
OutOfMemoryError = gpu.OutOfMemoryError
_sys.modules[__name__ + ".cuda"] = gpu
from .serialization import *  # noqa: F401,F403
from .serialization import __all__ as _ser_all
from ._linalg import *  # noqa: F401,F403
from ._linalg import __all__ as _linalg_all

_C._set_size_class(Size)

# torch's dtype aliases.
float = float32
double = float64
half = float16
long = int64
int = int32
short = int16

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Generator", "dtype", "device", "Size",
    "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
    "float", "double", "half", "long", "int", "short",
    "manual_seed", "seed", "initial_seed", "get_default_dtype", "set_default_dtype",
    "promote_types", "can_cast", "result_type", "set_printoptions", "get_printoptions",
    "tensor", "as_tensor", "from_numpy", "asarray", "empty", "zeros", "ones", "full", "eye",
    "arange", "linspace", "logspace", "empty_like", "zeros_like", "ones_like", "full_like",
    "rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like", "normal",
    "bernoulli", "default_generator", "is_tensor", "numel", "from_dlpack", "scalar_tensor",
    "set_default_device", "get_default_device",
] + list(_fn_all) + list(_reduce_all) + list(_idx_all) + list(_mm_all) + list(_linalg_all) + list(_ser_all) + list(_random_all)
