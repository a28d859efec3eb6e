"""``rgrad.gpu`` (also reachable as ``rgrad.cuda``): the GPU device's status.

The wgpu backend is not part of this build yet, so no GPU is ever available; code written as
``device = 'cuda' if torch.cuda.is_available() else 'cpu'`` takes the CPU path.
"""

__all__ = ["is_available", "device_count", "synchronize", "manual_seed", "manual_seed_all"]


def is_available():
    """Whether an rgrad GPU device can be used (False: this build has no GPU backend)."""
    return False


def device_count():
    """The number of rgrad GPU devices (0 in this build)."""
    return 0


def synchronize(device=None):
    """Waits for queued GPU work; nothing is ever queued in this build."""


def manual_seed(seed):
    """Seeds the GPU generator; rgrad's one Philox generator serves every device."""
    from . import _C
    _C.manual_seed(seed)


manual_seed_all = manual_seed
