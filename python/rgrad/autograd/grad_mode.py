"""Grad-mode context managers (also usable as decorators), as ``torch.autograd.grad_mode``."""

import functools

from .. import _C

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]


def is_grad_enabled():
    """Whether operations are recorded for autograd on this thread."""
    return _C.is_grad_enabled()


class _DecoratorContextManager:
    """A context manager that also decorates functions (and generator functions are not
    special-cased, as in torch's simple form)."""

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_DecoratorContextManager):
    """Disables gradient recording inside the block (or decorated function).

    Example::

        >>> x = rgrad.ones(2, requires_grad=True)
        >>> with rgrad.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self):
        self.prev = False

    def __enter__(self):
        self.prev = _C._set_grad_enabled(False)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)


class enable_grad(_DecoratorContextManager):
    """Enables gradient recording inside the block, even within ``no_grad``."""

    def __enter__(self):
        self.prev = _C._set_grad_enabled(True)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)


class set_grad_enabled(_DecoratorContextManager):
    """Sets grad mode to ``mode``; works as a function call, a context manager or a decorator."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'mode' must be bool, not {type(mode).__name__}")
        self.mode = mode
        self.prev = _C._set_grad_enabled(mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)

    def clone(self):
        return self.__class__(self.mode)


_inference = [False]


def is_inference_mode_enabled():
    return _inference[0]


class inference_mode(_DecoratorContextManager):
    """Like ``no_grad`` (rgrad has no separate inference tensors)."""

    def __init__(self, mode=True):
        self.mode = mode

    def __enter__(self):
        self.prev = _C._set_grad_enabled(not self.mode and _C.is_grad_enabled())
        self.prev_inf = _inference[0]
        _inference[0] = self.mode

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)
        _inference[0] = self.prev_inf

    def clone(self):
        return self.__class__(self.mode)
