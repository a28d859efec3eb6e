"""``rgrad.nn.utils``: gradient clipping, parameter/vector conversion, weight and spectral
normalisation and (``rnn``) packed sequences."""

from . import clip_grad, convert_parameters, rnn  # noqa: F401
from .clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .init import skip_init
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters", "skip_init", "weight_norm", "remove_weight_norm",
           "spectral_norm", "remove_spectral_norm"]
