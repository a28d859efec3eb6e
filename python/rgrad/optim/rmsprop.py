"""``rgrad.optim.RMSprop``."""

from .. import _C
from .._creation import tensor, zeros_like
from .optimizer import (Optimizer, _check_eps, _check_lr, _check_nonneg, _get_scalar_dtype, _lerp_, _run_closure,
                        _to_scalar, _use_grad_for_differentiable)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""Implements the RMSprop algorithm, as torch.optim.RMSprop.

    Args:
        params (iterable): iterable of parameters or named parameters to optimize or dicts
            defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-2)
        alpha (float, optional): smoothing constant (default: 0.99)
        eps (float, optional): term added to the denominator (default: 1e-8)
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0)
        momentum (float, optional): momentum factor (default: 0)
        centered (bool, optional): normalize by an estimate of the gradient's variance (default: False)
        maximize (bool, optional): maximize the objective instead of minimizing (default: False)

    Example:
        >>> optimizer = rgrad.optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.9)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        _check_eps(eps)
        _check_nonneg(momentum, "momentum")
        _check_nonneg(weight_decay, "weight_decay")
        _check_nonneg(alpha, "alpha")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _run_closure(closure)
        for group in self.param_groups:
            momentum, centered = group["momentum"], group["centered"]
            params, grads, square_avgs, grad_avgs, bufs, steps = [], [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = tensor(0.0, dtype=_get_scalar_dtype())
                    state["square_avg"] = zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = zeros_like(p)
                    if centered:
                        state["grad_avg"] = zeros_like(p)
                params.append(p)
                grads.append(p.grad)
                square_avgs.append(state["square_avg"])
                steps.append(state["step"])
                if momentum > 0:
                    bufs.append(state["momentum_buffer"])
                if centered:
                    grad_avgs.append(state["grad_avg"])
            if not params:
                continue
            grad_avgs = grad_avgs if centered else None
            bufs = bufs if momentum > 0 else None
            hp = {"lr": _to_scalar(group["lr"]), "alpha": group["alpha"], "eps": group["eps"],
                  "weight_decay": group["weight_decay"], "momentum": momentum, "centered": centered,
                  "maximize": group["maximize"]}
            if not _C._fused_rmsprop(params, grads, square_avgs, grad_avgs, bufs, steps, **hp):
                _composite_rmsprop(params, grads, square_avgs, grad_avgs, bufs, steps, **hp)
        return loss


def _composite_rmsprop(params, grads, square_avgs, grad_avgs, bufs, steps, *, lr, alpha, eps, weight_decay, momentum,
                       centered, maximize):
    """torch's single-tensor RMSprop, op for op, for tensors the fused kernel does not take."""
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        square_avg = square_avgs[i]
        steps[i] += 1
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        square_avg.mul_(alpha).add_(grad * (1 - alpha) * grad)
        if centered:
            grad_avg = _lerp_(grad_avgs[i], grad, 1 - alpha)
            avg = square_avg.add(grad_avg * -1 * grad_avg).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg = avg.add_(eps)
        if momentum > 0:
            bufs[i].mul_(momentum).add_(grad / avg)
            param.add_(bufs[i], alpha=-lr)
        else:
            param.add_(grad * -lr / avg)
