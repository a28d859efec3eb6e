"""``rgrad.optim.Adam`` (and the shared implementation of AdamW)."""

from .. import _C
from .._creation import tensor, zeros_like
from .optimizer import (Optimizer, _check_betas, _check_eps, _check_lr, _get_scalar_dtype, _lerp_, _run_closure,
                        _to_scalar, _use_grad_for_differentiable)

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""Implements the Adam algorithm, as torch.optim.Adam.

    Each group is updated by one fused kernel call over all its parameters (float32/float64,
    contiguous); other groups take an equivalent composite path.

    Args:
        params (iterable): iterable of parameters or named parameters to optimize or dicts
            defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-3)
        betas (tuple[float, float], optional): coefficients for the running averages of the
            gradient and its square (default: (0.9, 0.999))
        eps (float, optional): term added to the denominator for numerical stability (default: 1e-8)
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0)
        amsgrad (bool, optional): use the AMSGrad variant (default: False)
        maximize (bool, optional): maximize the objective instead of minimizing (default: False)
        decoupled_weight_decay (bool, optional): AdamW's decoupled decay (default: False)
        foreach, capturable, differentiable, fused: accepted for compatibility.

    Example:
        >>> optimizer = rgrad.optim.Adam(model.parameters(), lr=1e-3)
        >>> loss_fn(model(input), target).backward()
        >>> optimizer.step()
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_lr(lr)
        _check_eps(eps)
        _check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        betas = (_to_scalar(betas[0]), _to_scalar(betas[1]))
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)

    def _init_group(self, group):
        params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = [], [], [], [], [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            params.append(p)
            grads.append(p.grad)
            state = self.state[p]
            if len(state) == 0:
                state["step"] = tensor(0.0, dtype=_get_scalar_dtype())
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = zeros_like(p)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            if group["amsgrad"]:
                max_exp_avg_sqs.append(state["max_exp_avg_sq"])
            steps.append(state["step"])
        return params, grads, exp_avgs, exp_avg_sqs, (max_exp_avg_sqs if group["amsgrad"] else None), steps

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _run_closure(closure)
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = self._init_group(group)
            if not params:
                continue
            beta1, beta2 = group["betas"]
            hp = {"lr": _to_scalar(group["lr"]), "beta1": _to_scalar(beta1), "beta2": _to_scalar(beta2),
                  "eps": group["eps"], "weight_decay": group["weight_decay"], "amsgrad": group["amsgrad"],
                  "maximize": group["maximize"], "decoupled_weight_decay": group["decoupled_weight_decay"]}
            if not _C._fused_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, **hp):
                _composite_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, **hp)
        return loss


def _composite_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2, eps,
                    weight_decay, amsgrad, maximize, decoupled_weight_decay):
    """torch's single-tensor Adam, op for op, for tensors the fused kernel does not take."""
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        exp_avg, exp_avg_sq, step_t = exp_avgs[i], exp_avg_sqs[i], steps[i]
        step_t += 1
        if weight_decay != 0:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        _lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * (1 - beta2) * grad)
        step = step_t.item()
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        if amsgrad:
            max_exp_avg_sqs[i].copy_(max_exp_avg_sqs[i].maximum(exp_avg_sq))
            denom = (max_exp_avg_sqs[i].sqrt() / bias_correction2_sqrt).add_(eps)
        else:
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
        param.add_(exp_avg * -step_size / denom)
