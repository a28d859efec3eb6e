"""Part of rgrad.nn.functional: normalisation (batch_norm, layer_norm, group_norm, instance_norm,
rms_norm), composed from differentiable reductions so gradients flow through the tape."""

from .. import _C
from ..autograd.grad_mode import no_grad

Tensor = _C.Tensor

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm"]


def _channel_shape(input):
    return (1, input.shape[1]) + (1,) * (input.dim() - 2)


def _update_running(running, stat, momentum):
    with no_grad():
        running.copy_(running * (1.0 - momentum) + stat.detach() * momentum)


def _scale_shift(input, mean, var, weight, bias, eps, shape):
    # y = (x - mean) / sqrt(var + eps) * w + b, folded into one multiply and one add over x.
    scale = (var + eps).rsqrt()
    if weight is not None:
        scale = scale * weight
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias
    return input * scale.reshape(shape) + shift.reshape(shape)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    r"""Normalises each channel (dim 1) over the batch and spatial dims.

    In `training`, uses the batch's statistics and, when given, updates `running_mean` and
    `running_var` in place: ``running = (1 - momentum) * running + momentum * stat``, with the
    unbiased batch variance. Otherwise uses the running statistics.
    """
    if input.dim() < 2:
        raise ValueError(f"Expected 2D or more input (got {input.dim()}D input)")
    shape = _channel_shape(input)
    if training:
        n = input.numel() // input.shape[1] if input.shape[1] else 0
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.size()}")
        dims = [0] + list(range(2, input.dim()))
        var, mean = _C._var(input, dims, 0, False, False, True)
        if running_mean is not None:
            _update_running(running_mean, mean, momentum)
        if running_var is not None:
            _update_running(running_var, var * (n / (n - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        mean, var = running_mean, running_var
    return _scale_shift(input, mean, var, weight, bias, eps, shape)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalises each channel of each sample over its spatial dims; running statistics, when
    given, track the batch average of the per-instance statistics."""
    if input.dim() < 3:
        raise ValueError(f"Expected 3D or more input (got {input.dim()}D input)")
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    n_sp = input.numel() // (input.shape[0] * input.shape[1]) if input.shape[0] * input.shape[1] else 0
    if n_sp <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.size()}")
    dims = list(range(2, input.dim()))
    var, mean = _C._var(input, dims, 0, True, False, True)
    if running_mean is not None:
        _update_running(running_mean, mean.mean((0,) + tuple(dims)), momentum)
    if running_var is not None:
        _update_running(running_var, (var * (n_sp / (n_sp - 1))).mean((0,) + tuple(dims)), momentum)
    out = (input - mean) * (var + eps).rsqrt()
    shape = _channel_shape(input)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _check_normalized_shape(input, normalized_shape):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input.shape[input.dim() - k:]) != normalized_shape or input.dim() < k:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*{''.join(', ' + str(s) for s in normalized_shape)}], but got input of size"
                           f"{list(input.shape)}")
    return list(range(input.dim() - k, input.dim()))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    r"""Normalises over the trailing `normalized_shape` dims:
    :math:`(x - \mathrm{E}[x]) / \sqrt{\mathrm{Var}[x] + \epsilon} \cdot w + b` (biased variance)."""
    dims = _check_normalized_shape(input, normalized_shape)
    var, mean = _C._var(input, dims, 0, True, False, True)
    out = (input - mean) * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def rms_norm(input, normalized_shape, weight=None, eps=None):
    r"""Root-mean-square normalisation over the trailing `normalized_shape` dims:
    :math:`x / \sqrt{\mathrm{E}[x^2] + \epsilon} \cdot w`; `eps` defaults to the dtype's machine epsilon."""
    dims = _check_normalized_shape(input, normalized_shape)
    if eps is None:
        import numpy as np
        eps = float(np.finfo(np.float64 if input.dtype == _C.float64 else np.float32).eps)
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Splits the channels (dim 1) into `num_groups` groups and normalises each group of each
    sample over its channels and spatial dims; then applies the per-channel affine."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups != 0:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    x = input.reshape(n, num_groups, -1)
    var, mean = _C._var(x, [2], 0, True, False, True)
    out = ((x - mean) * (var + eps).rsqrt()).reshape(tuple(input.shape))
    shape = _channel_shape(input)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out
