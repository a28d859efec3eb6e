"""Grad-mode context managers (also usable as decorators), as ``torch.autograd.grad_mode``."""

import functools
import inspect
import sys

from .. import _C

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]


def is_grad_enabled():
    """Whether operations are recorded for autograd on this thread."""
    return _C.is_grad_enabled()


class _DecoratorContextManager:
    """A context manager that also decorates functions; a decorated generator function runs
    each of its steps under the mode, as in torch."""

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            return self._wrap_generator(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper

    def _wrap_generator(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            gen = func(*args, **kwargs)
            try:
                with self.clone():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            gen.close()
                        raise
                    except BaseException:
                        with self.clone():
                            response = gen.throw(*sys.exc_info())
                    else:
                        with self.clone():
                            response = gen.send(request)
            except StopIteration as e:
                return e.value
        return wrapper

    def clone(self):
        return self.__class__()


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """Also usable as a bare decorator (``@no_grad`` without parentheses)."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecoratorContextManager):
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


class enable_grad(_NoParamDecoratorContextManager):
    """Enables gradient recording inside the block, even within ``no_grad``."""

    def __enter__(self):
        self.prev = _C._set_grad_enabled(True)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)


class set_grad_enabled(_DecoratorContextManager):
    """Sets grad mode to ``mode``; works as a function call, a context manager or a decorator."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, not "
                            f"{type(mode).__name__}")
        self.mode = mode
        self.prev = _C._set_grad_enabled(mode)

    def __call__(self, func):
        # used as a decorator, the mode applies to calls only: undo what __init__ set
        _C._set_grad_enabled(self.prev)
        return super().__call__(func)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)

    def clone(self):
        # a fresh instance set at __enter__ time, not at decoration time
        return _SetGradEnabledAtEnter(self.mode)


class _SetGradEnabledAtEnter:
    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.prev = _C._set_grad_enabled(self.mode)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)


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
