"""``skip_init``: build a module without running its parameter initialisation."""

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """Returns ``module_cls(*args, **kwargs)``; its parameters' values are unspecified and are
    meant to be overwritten. (rgrad runs the initialisation anyway: it costs one fill per
    parameter.)"""
    if "device" not in module_cls.__init__.__code__.co_varnames:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)
