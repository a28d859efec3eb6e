"""Part of rgrad.nn.functional (being written)."""

__all__ = []
