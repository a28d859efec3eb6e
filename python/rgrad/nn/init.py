"""rgrad.nn.init (being written)."""
