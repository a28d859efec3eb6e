"""``rgrad.nn``: neural-network building blocks. So far only ``rgrad.nn.functional``."""

from . import functional  # noqa: F401
