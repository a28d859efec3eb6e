"""rgrad.nn.utils (being written)."""
