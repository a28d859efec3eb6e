"""Reverse-mode automatic differentiation, as ``torch.autograd``. The graph and the engine
live in the Rust core; this module is the Python surface."""

from .. import _C
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from . import functional, graph
from .gradcheck import gradcheck, gradgradcheck

__all__ = ["backward", "grad", "Function", "FunctionCtx", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "gradcheck", "gradgradcheck", "functional", "Variable",
           "once_differentiable", "set_detect_anomaly", "detect_anomaly"]


def _tensor_list(x):
    from .._tensor import Tensor
    if x is None:
        return None
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _make_grads(outputs, grads, is_grads_batched=False):
    from .. import ones_like
    from .._tensor import Tensor
    if grads is None:
        grads = [None] * len(outputs)
    elif isinstance(grads, Tensor):
        grads = [grads]
    else:
        grads = list(grads)
    if len(grads) < len(outputs):
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs" if not grads else
                           f"Mismatch in number of grad_outputs: got {len(grads)} but expected {len(outputs)}")
    # extra gradients are ignored, as torch zips outputs with grad_outputs
    out = []
    for i, (o, g) in enumerate(zip(outputs, grads)):
        if g is None:
            # an output outside the graph is reported by the engine ("element i of tensors ...")
            if o.requires_grad:
                if o.numel() != 1:
                    raise RuntimeError("grad can be implicitly created only for scalar outputs")
                if not o.is_floating_point():
                    raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {o.dtype}")
            g = ones_like(o)
        elif not isinstance(g, Tensor):
            from .. import tensor
            g = tensor(g, dtype=o.dtype, device=o.device)
        elif g.shape != o.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                               f"has a shape of {o.shape}.")
        out.append(g)
    return out


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulates the gradients of ``tensors`` into the ``.grad`` of the graph's leaves.

    Args:
        tensors: outputs to differentiate.
        grad_tensors: the gradients of the outputs (None for scalar outputs).
        retain_graph: keep saved tensors for another backward (default: ``create_graph``).
        create_graph: record the backward pass so the gradients are differentiable.
        inputs: accumulate only into these tensors.
    """
    if grad_variables is not None:
        grad_tensors = grad_variables
    outputs = _tensor_list(tensors)
    grads = _make_grads(outputs, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        ins = _tensor_list(inputs)
        if len(ins) == 0:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        res = _C._run_backward(outputs, grads, retain_graph, create_graph, ins, True)
        for t, g in zip(ins, res):
            if g is None:
                continue
            if t.grad is None:
                t.grad = g if create_graph else g.detach().clone()
            else:
                t.grad = t.grad + g if create_graph else t.grad.add_(g.detach())
        return
    _C._run_backward(outputs, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Returns the gradients of ``outputs`` with respect to ``inputs`` (a tuple), without
    touching any ``.grad``.

    Args:
        outputs: tensors to differentiate.
        inputs: tensors to differentiate with respect to.
        grad_outputs: gradients of the outputs (None for scalar outputs).
        retain_graph: keep the graph for another backward (default: ``create_graph``).
        create_graph: make the returned gradients differentiable.
        allow_unused: return None for inputs the outputs do not depend on instead of raising.
        materialize_grads: return zeros instead of None for unused inputs.
    """
    from .. import zeros_like
    outs = _tensor_list(outputs)
    ins = _tensor_list(inputs)
    if not ins:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = _make_grads(outs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    res = _C._run_backward(outs, grads, retain_graph, create_graph, ins, allow_unused)
    if materialize_grads:
        res = tuple(zeros_like(i) if g is None else g for g, i in zip(res, ins))
    return tuple(res)


def Variable(data, requires_grad=False, volatile=False):
    """The deprecated Variable wrapper: returns the tensor itself."""
    if requires_grad:
        data.requires_grad_(True)
    return data


class set_detect_anomaly:
    def __init__(self, mode, check_nan=True):
        self.mode = mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


class detect_anomaly(set_detect_anomaly):
    def __init__(self, check_nan=True):
        super().__init__(True, check_nan)
