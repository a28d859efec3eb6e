"""``rgrad.optim.SGD``: stochastic gradient descent with momentum, Nesterov and weight decay."""

from .. import _C
from .._creation import empty_like
from .optimizer import Optimizer, _check_lr, _run_closure, _to_scalar, _use_grad_for_differentiable

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Implements stochastic gradient descent (optionally with momentum), as torch.optim.SGD.

    Each group is updated by one fused kernel call over all its parameters (float32/float64,
    contiguous); other groups take an equivalent composite path.

    Args:
        params (iterable): iterable of parameters or named parameters to optimize or dicts
            defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-3)
        momentum (float, optional): momentum factor (default: 0)
        dampening (float, optional): dampening for momentum (default: 0)
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0)
        nesterov (bool, optional): enables Nesterov momentum (default: False)
        maximize (bool, optional): maximize the objective instead of minimizing (default: False)
        foreach, differentiable, fused: accepted for compatibility; rgrad always fuses.

    Example:
        >>> optimizer = rgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> optimizer.zero_grad()
        >>> loss_fn(model(input), target).backward()
        >>> optimizer.step()
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach,
                    "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _run_closure(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            momentum = group["momentum"]
            bufs, first = None, [False] * len(params)
            if momentum != 0:
                bufs = []
                for k, p in enumerate(params):
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        # A fresh buffer takes the (decayed) gradient in this step.
                        buf = state["momentum_buffer"] = empty_like(p)
                        first[k] = True
                    bufs.append(buf)
            hp = {"lr": _to_scalar(group["lr"]), "momentum": momentum, "dampening": group["dampening"],
                  "weight_decay": _to_scalar(group["weight_decay"]), "nesterov": group["nesterov"],
                  "maximize": group["maximize"]}
            if not _C._fused_sgd(params, grads, bufs, first, **hp):
                _composite_sgd(params, grads, bufs, first, **hp)
        return loss


def _composite_sgd(params, grads, bufs, first, *, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """torch's single-tensor SGD, op for op, for tensors the fused kernel does not take."""
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        if momentum != 0:
            buf = bufs[i]
            if first[i]:
                buf.copy_(grad)
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = grad.add(buf, alpha=momentum) if nesterov else buf
        param.add_(grad, alpha=-lr)
