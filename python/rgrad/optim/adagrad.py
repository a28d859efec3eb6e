"""``rgrad.optim.Adagrad``."""

from .. import _C
from .._creation import full_like, tensor
from .optimizer import (Optimizer, _check_eps, _check_lr, _check_nonneg, _get_scalar_dtype, _run_closure,
                        _to_scalar, _use_grad_for_differentiable)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Implements the Adagrad algorithm, as torch.optim.Adagrad. State is created for every
    parameter at construction, as in torch.

    Args:
        params (iterable): iterable of parameters or named parameters to optimize or dicts
            defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-2)
        lr_decay (float, optional): learning rate decay (default: 0)
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0)
        initial_accumulator_value (float, optional): initial value of the sum of squares (default: 0)
        eps (float, optional): term added to the denominator (default: 1e-10)
        maximize (bool, optional): maximize the objective instead of minimizing (default: False)

    Example:
        >>> optimizer = rgrad.optim.Adagrad(model.parameters(), lr=0.1)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        _check_nonneg(lr_decay, "lr_decay")
        _check_nonneg(weight_decay, "weight_decay")
        _check_nonneg(initial_accumulator_value, "initial_accumulator_value")
        _check_eps(eps)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = tensor(0.0, dtype=_get_scalar_dtype())
            state["sum"] = full_like(p, self.defaults["initial_accumulator_value"])
        return state

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
            states = [self._init_state(p) for p in params]
            sums = [s["sum"] for s in states]
            steps = [s["step"] for s in states]
            hp = {"lr": _to_scalar(group["lr"]), "lr_decay": group["lr_decay"], "weight_decay": group["weight_decay"],
                  "eps": group["eps"], "maximize": group["maximize"]}
            if not _C._fused_adagrad(params, grads, sums, steps, **hp):
                _composite_adagrad(params, grads, sums, steps, **hp)
        return loss


def _composite_adagrad(params, grads, sums, steps, *, lr, lr_decay, weight_decay, eps, maximize):
    """torch's single-tensor Adagrad, op for op, for tensors the fused kernel does not take."""
    for param, grad, state_sum, step_t in zip(params, grads, sums, steps):
        step_t += 1
        step = step_t.item()
        grad = grad if not maximize else -grad
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum.add_(grad * grad)
        std = state_sum.sqrt().add_(eps)
        param.add_(grad * -clr / std)
