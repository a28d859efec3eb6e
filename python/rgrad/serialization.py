"""rgrad.save / rgrad.load (being written)."""

__all__ = []
