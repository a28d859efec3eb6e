"""rgrad.nn modules: flatten (being written)."""

__all__ = []
