"""Custom differentiable operations: ``autograd.Function`` with ``forward``/``backward``
static methods, as in torch."""

from .. import _C
from .grad_mode import no_grad

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` object passed to ``forward`` and ``backward``."""

    def __init__(self):
        self._saved = ()
        self._released = False
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_differentiable = set()

    def save_for_backward(self, *tensors):
        """Saves tensors for ``backward``; read them back as ``ctx.saved_tensors``."""
        self._saved = tuple(tensors)
        self._versions = tuple(None if t is None else t._version for t in tensors)

    def save_for_forward(self, *tensors):
        self._saved_forward = tuple(tensors)

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors after "
                "they have already been freed). Saved intermediate values of the graph are freed when you call "
                ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
                "graph a second time or if you need to access saved tensors after calling backward.")
        for t, v in zip(self._saved, self._versions):
            if t is not None and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{t.type()} {list(t.shape)}] is at version {t._version}; expected version {v} "
                    "instead. Hint: enable anomaly detection to find the operation that failed to compute its "
                    "gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    def _release(self):
        self._saved = ()
        self._released = True


class FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_cls = cls


class Function(metaclass=FunctionMeta):
    """Base class of custom autograd operations.

    Subclass it with ``@staticmethod forward(ctx, *args)`` and ``@staticmethod backward(ctx,
    *grad_outputs)``, then call ``MyFn.apply(*args)``.

    Example::

        >>> class Exp(rgrad.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         y = x.exp()
        ...         ctx.save_for_backward(y)
        ...         return y
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         (y,) = ctx.saved_tensors
        ...         return g * y
    """

    def __init__(self, *args, **kwargs):
        pass

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor
        ctx = FunctionCtx()
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        is_tuple = isinstance(out, tuple)
        outs = out if is_tuple else (out,)
        if not (_C.is_grad_enabled() and any(ctx.needs_input_grad)):
            return out
        # Outputs that alias inputs get their own identity so the node can own them.
        fixed = []
        for o in outs:
            if isinstance(o, Tensor) and any(o is a for a in tensor_args):
                o = o.view_as(o)
            fixed.append(o)
        diff_outs = [o for o in fixed if isinstance(o, Tensor) and id(o) not in ctx._non_differentiable
                     and o.is_floating_point()]
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        n_args = len(args)
        user_backward = cls.backward
        out_index = [i for i, o in enumerate(fixed) if any(o is d for d in diff_outs)]
        n_outs = len(fixed)

        def backward_fn(ctx_, *grads):
            full = [None] * n_outs
            for k, i in enumerate(out_index):
                full[i] = grads[k]
            res = user_backward(ctx_, *full)
            if not isinstance(res, tuple):
                res = (res,)
            if len(res) < n_args:
                raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of gradients "
                                   f"(expected {n_args}, got {len(res)})")
            return tuple(res[i] for i in positions)

        _C._record_function(cls.__name__ + "Backward", tensor_args, diff_outs, backward_fn, ctx)
        return tuple(fixed) if is_tuple else fixed[0]


def once_differentiable(fn):
    return fn


class NestedIOFunction(Function):
    pass
