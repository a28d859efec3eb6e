"""``rgrad.optim.NAdam``: Adam with Nesterov momentum."""

from .._creation import tensor, zeros_like
from .optimizer import (Optimizer, _check_betas, _check_eps, _check_lr, _check_nonneg, _get_scalar_dtype, _lerp_,
                        _run_closure, _to_scalar, _use_grad_for_differentiable)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""Implements the NAdam algorithm, as torch.optim.NAdam.

    Args:
        params (iterable): iterable of parameters or named parameters to optimize or dicts
            defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 2e-3)
        betas (tuple[float, float], optional): running-average coefficients (default: (0.9, 0.999))
        eps (float, optional): term added to the denominator (default: 1e-8)
        weight_decay (float, optional): weight decay (default: 0)
        momentum_decay (float, optional): momentum decay (default: 4e-3)
        decoupled_weight_decay (bool, optional): decay the weights as AdamW does (default: False)
        maximize (bool, optional): maximize the objective instead of minimizing (default: False)

    Example:
        >>> optimizer = rgrad.optim.NAdam(model.parameters())
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_lr(lr)
        _check_eps(eps)
        _check_betas(betas)
        _check_nonneg(weight_decay, "weight_decay")
        _check_nonneg(momentum_decay, "momentum_decay")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _run_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, wd, momentum_decay = _to_scalar(group["lr"]), group["eps"], group["weight_decay"], \
                group["momentum_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = tensor(0.0, dtype=_get_scalar_dtype())
                    state["mu_product"] = tensor(1.0, dtype=_get_scalar_dtype())
                    state["exp_avg"] = zeros_like(param)
                    state["exp_avg_sq"] = zeros_like(param)
                grad = param.grad if not group["maximize"] else -param.grad
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                mu_product, step_t = state["mu_product"], state["step"]
                step_t += 1
                step = step_t.item()
                bias_correction2 = 1 - beta2 ** step
                if wd != 0:
                    if group["decoupled_weight_decay"]:
                        param.mul_(1 - lr * wd)
                    else:
                        grad = grad.add(param, alpha=wd)
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                # mu_product is a float32 tensor in torch, so its rounding is part of the trajectory.
                mu_product *= mu
                _lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).add_(grad * (1 - beta2) * grad)
                denom = exp_avg_sq.div(bias_correction2).sqrt()
                mu_product_value = mu_product.item()
                mu_product_next = mu_product_value * mu_next
                denom.add_(eps)
                param.add_(grad * (-lr * (1.0 - mu) / (1.0 - mu_product_value)) / denom)
                param.add_(exp_avg * ((-lr * mu_next) / (1.0 - mu_product_next)) / denom)
        return loss
