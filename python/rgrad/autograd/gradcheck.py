"""Finite-difference checks of analytical gradients (float64), as ``torch.autograd.gradcheck``."""

import numpy as np

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    pass


def _inputs(inputs):
    from .._tensor import Tensor
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _outputs(out):
    from .._tensor import Tensor
    return (out,) if isinstance(out, Tensor) else tuple(o for o in out if isinstance(o, Tensor))


def _numerical_jacobian(fn, inputs, i, eps):
    """d(outputs)/d(inputs[i]) by central differences, one column per input element."""
    from .. import no_grad
    x = inputs[i]
    cols = []

    def set_(idx, v):
        # only the perturbation is hidden from autograd: fn itself may need grad mode
        # (gradgradcheck's fn calls autograd.grad with create_graph=True)
        with no_grad():
            x[idx] = v

    def evaluate():
        return [o.detach().cpu().clone().numpy().reshape(-1) for o in _outputs(fn(*inputs))]

    for k in range(x.numel()):
        idx = np.unravel_index(k, tuple(x.shape)) if x.dim() else ()
        orig = float(x[idx])
        set_(idx, orig + eps)
        plus = evaluate()
        set_(idx, orig - eps)
        minus = evaluate()
        set_(idx, orig)
        cols.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)]) if plus else np.zeros(0))
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def _analytical_jacobian(fn, inputs, diff_idx):
    from . import grad
    from .. import zeros_like
    outs = _outputs(fn(*inputs))
    total = sum(o.numel() for o in outs)
    jacs = [np.zeros((total, inputs[i].numel())) for i in diff_idx]
    row = 0
    for o in outs:
        flat = o.reshape(-1)
        for k in range(o.numel()):
            if not o.requires_grad:
                row += 1
                continue
            g = grad(flat[k], [inputs[i] for i in diff_idx], retain_graph=True, allow_unused=True)
            for j, gi in enumerate(g):
                if gi is not None:
                    jacs[j][row] = gi.detach().cpu().numpy().reshape(-1)
            row += 1
    return jacs


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    """Checks ``func``'s analytical gradients against central finite differences for every
    input that requires grad (use float64 inputs). Returns True or raises ``GradcheckError``."""
    inputs = _inputs(inputs)
    from .._tensor import Tensor
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them "
                         "have requires_grad=True.")
    analytical = _analytical_jacobian(func, inputs, diff_idx)
    for j, i in enumerate(diff_idx):
        numerical = _numerical_jacobian(func, inputs, i, eps)
        a = analytical[j]
        if numerical.shape != a.shape or not np.allclose(a, numerical, rtol=rtol, atol=atol):
            if not raise_exception:
                return False
            raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input {i},\n"
                                 f"numerical:{numerical}\nanalytical:{a}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False, masked=False):
    """Checks second derivatives: gradcheck of the function (inputs, v) -> v^T J at random v."""
    from . import grad
    from .. import randn
    inputs = _inputs(inputs)
    from .._tensor import Tensor
    outs = _outputs(func(*inputs))
    if grad_outputs is None:
        grad_outputs = tuple(randn(o.shape, dtype=o.dtype, device=o.device).requires_grad_(True) for o in outs)
    else:
        grad_outputs = _inputs(grad_outputs)
    n = len(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]

    def first(*args):
        ins, gos = args[:n], args[n:]
        o = _outputs(func(*ins))
        g = grad(o, [ins[i] for i in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(x for x in g if x is not None)

    return gradcheck(first, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
