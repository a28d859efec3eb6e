"""rgrad.optim: optimizers (torch.optim's API) and learning-rate schedulers.

SGD, Adam/AdamW, RMSprop and Adagrad update each parameter group with one fused Rust kernel call;
Adamax, NAdam and RAdam are composed from in-place tensor ops, following torch's single-tensor code.
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .lookahead import Lookahead
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adagrad", "Adam", "Adamax", "AdamW", "Lookahead", "NAdam", "Optimizer", "RAdam", "RMSprop", "SGD",
           "lr_scheduler"]
