"""rgrad.optim (being written)."""
