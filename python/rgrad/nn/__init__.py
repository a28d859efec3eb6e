"""``rgrad.nn``: neural-network building blocks with torch.nn's names and behaviour."""

from .parameter import *  # noqa: F401,F403
from .modules import *  # noqa: F401,F403
from . import functional, init, utils  # noqa: F401
