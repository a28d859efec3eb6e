"""``rgrad.optim.Lookahead``: k steps forward, 1 step back (Zhang et al., 2019). Not part of
torch core; follows the paper and timm's ``Lookahead``."""

from collections import defaultdict

from .optimizer import Optimizer, _use_grad_for_differentiable

__all__ = ["Lookahead"]

_SLOW = "lookahead_slow_buff"


class Lookahead(Optimizer):
    r"""Wraps any optimizer (the "fast" one) with Lookahead.

    Slow weights start as a copy of the parameters. Every ``k`` steps of the inner optimizer,
    ``slow += alpha * (fast - slow)`` and the parameters are reset to the slow weights.

    ``param_groups`` are shared with the inner optimizer (so LR schedulers work on either) and
    carry ``lookahead_k``, ``lookahead_alpha`` and ``lookahead_step``. ``state_dict`` is the
    inner optimizer's, with each parameter's slow weights under ``"lookahead_slow_buff"``.

    Args:
        optimizer (Optimizer): the inner optimizer.
        k (int, optional): number of inner steps between synchronisations (default: 5)
        alpha (float, optional): slow-weights step size (default: 0.5)

    Example:
        >>> optimizer = rgrad.optim.Lookahead(rgrad.optim.Adam(model.parameters()), k=5, alpha=0.5)
        >>> loss_fn(model(input), target).backward()
        >>> optimizer.step()
    """

    def __init__(self, optimizer, k=5, alpha=0.5):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"Invalid slow update rate: {alpha}")
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"Invalid lookahead steps: {k}")
        self.optimizer = optimizer
        self._init_hooks()
        self.defaults = optimizer.defaults
        self.defaults.update(lookahead_k=k, lookahead_alpha=alpha, lookahead_step=0)
        # Slow weights live here, not in the inner state: inner optimizers create their state
        # lazily when a parameter's state dict is empty.
        self.state = defaultdict(dict)
        for group in self.param_groups:
            self._init_group(group)

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, groups):
        self.optimizer.param_groups = groups

    def _init_group(self, group):
        group.setdefault("lookahead_k", self.defaults["lookahead_k"])
        group.setdefault("lookahead_alpha", self.defaults["lookahead_alpha"])
        group.setdefault("lookahead_step", 0)
        for p in group["params"]:
            if _SLOW not in self.state[p]:
                self.state[p][_SLOW] = p.detach().clone()

    def add_param_group(self, param_group):
        self.optimizer.add_param_group(param_group)
        self._init_group(self.param_groups[-1])

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none)

    def sync_lookahead(self):
        """Moves the slow weights toward the parameters and resets the parameters to them."""
        for group in self.param_groups:
            self._update_slow(group)

    def _update_slow(self, group):
        alpha = group["lookahead_alpha"]
        for fast in group["params"]:
            slow = self.state[fast][_SLOW]
            slow.add_((fast - slow) * alpha)
            fast.copy_(slow)

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Runs one step of the inner optimizer, then synchronises every ``k`` steps.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = self.optimizer.step(closure) if closure is not None else self.optimizer.step()
        for group in self.param_groups:
            self._init_group(group)
            group["lookahead_step"] += 1
            if group["lookahead_step"] % group["lookahead_k"] == 0:
                self._update_slow(group)
        return loss

    def state_dict(self):
        """The inner optimizer's state dict, with the slow weights added to each parameter's state."""
        sd = self.optimizer.state_dict()
        ids = {}
        for group, packed in zip(self.param_groups, sd["param_groups"]):
            ids.update({id(p): i for p, i in zip(group["params"], packed["params"])})
        state = {k: dict(v) for k, v in sd["state"].items()}
        for p, s in self.state.items():
            state.setdefault(ids[id(p)], {})[_SLOW] = s[_SLOW]
        return {"state": state, "param_groups": sd["param_groups"]}

    def load_state_dict(self, state_dict):
        saved = {k: dict(v) for k, v in state_dict["state"].items()}
        slow = {k: v.pop(_SLOW) for k, v in saved.items() if _SLOW in v}
        inner = {k: v for k, v in saved.items() if v}
        self.optimizer.load_state_dict({"state": inner, "param_groups": state_dict["param_groups"]})
        params = [p for g in self.param_groups for p in g["params"]]
        ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        self.state = defaultdict(dict)
        for p, i in zip(params, ids):
            self.state[p][_SLOW] = slow[i].to(dtype=p.dtype).clone() if i in slow else p.detach().clone()

    def __repr__(self):
        return f"Lookahead({self.optimizer!r})"
