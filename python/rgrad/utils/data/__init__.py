"""rgrad.utils.data: datasets, samplers and the DataLoader, with torch.utils.data's API."""

from .dataset import *  # noqa: F401,F403
from .sampler import *  # noqa: F401,F403
from .dataloader import *  # noqa: F401,F403
from . import dataset as _dataset, sampler as _sampler, dataloader as _dataloader

__all__ = list(_dataset.__all__) + list(_sampler.__all__) + list(_dataloader.__all__)
