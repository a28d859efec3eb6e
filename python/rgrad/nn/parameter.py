"""``rgrad.nn.Parameter`` and ``rgrad.nn.Buffer``: tensors that modules register on assignment."""

from .. import _C

Tensor = _C.Tensor

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A tensor that is a module parameter: assigning one as a module attribute registers it in
    ``parameters()``. It shares storage with `data` and requires grad by default.

    Args:
        data: the parameter's tensor (an empty float tensor when omitted).
        requires_grad: whether the parameter requires gradient. Default: ``True``.

    Example::

        >>> p = nn.Parameter(torch.zeros(2))
        >>> p.requires_grad
        True
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from .._creation import empty
            data = empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not {type(data).__name__}")
        # A fresh leaf over the same storage, as torch's `_make_subclass(cls, data.detach())`.
        p = Tensor.__new__(cls, data.detach())
        p.requires_grad_(requires_grad)
        return p

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (Tensor.__reduce_ex__(self, protocol), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = type(self)(self.detach().clone(), self.requires_grad)
        memo[id(self)] = out
        return out


def _rebuild_parameter(tensor_reduce, requires_grad):
    fn, args = tensor_reduce
    return Parameter(fn(*args), requires_grad)


class _BufferMeta(type):
    # Like torch, a Buffer is a plain tensor flagged `_is_buffer`; isinstance checks the flag.
    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(metaclass=_BufferMeta):
    """A tensor that, assigned as a module attribute, is registered as a buffer.

    Args:
        data: the buffer's tensor.
        persistent: whether the buffer is part of the module's ``state_dict``. Default: ``True``.
    """

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            from .._creation import empty
            data = empty(0)
        t = data.detach()
        t._is_buffer = True
        t.persistent = persistent
        return t
