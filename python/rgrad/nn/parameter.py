"""rgrad.nn.Parameter (being written)."""

__all__ = []
