"""rgrad.utils.data (being written)."""
