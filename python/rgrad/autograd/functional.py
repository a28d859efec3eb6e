"""Higher-level differentiation helpers: ``jacobian`` and ``hessian`` (as
``torch.autograd.functional``), built on ``autograd.grad``."""

__all__ = ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"]


def _as_tuple(x):
    return (tuple(x), True) if isinstance(x, (tuple, list)) else ((x,), False)


def _prep(inputs, create_graph):
    return tuple(i.detach().requires_grad_(True) if not create_graph or not i.requires_grad else i.view_as(i)
                 for i in inputs)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J)."""
    from . import grad
    ins, tup = _as_tuple(inputs)
    ins = _prep(ins, create_graph)
    from .grad_mode import enable_grad
    with enable_grad():
        out = func(*ins)
        outs, out_tup = _as_tuple(out)
        vs = _as_tuple(v)[0] if v is not None else None
        g = grad(outs, ins, vs, create_graph=create_graph, allow_unused=True, materialize_grads=True)
    res = tuple(x if create_graph else x.detach() for x in g)
    o = tuple(x if create_graph else x.detach() for x in outs)
    return (o if out_tup else o[0]), (res if tup else res[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for one input and one output a tensor of shape
    ``out.shape + in.shape``; tuples of them for several."""
    from . import grad
    from .grad_mode import enable_grad
    from .. import zeros, stack
    ins, in_tup = _as_tuple(inputs)
    ins = _prep(ins, create_graph)
    with enable_grad():
        out = func(*ins)
        outs, out_tup = _as_tuple(out)
        result = []
        for o in outs:
            flat = o.reshape(-1)
            rows = [[] for _ in ins]
            for k in range(flat.numel()):
                gs = grad(flat[k], ins, retain_graph=True, create_graph=create_graph, allow_unused=True)
                for j, (g, i) in enumerate(zip(gs, ins)):
                    rows[j].append(zeros(i.shape, dtype=i.dtype, device=i.device) if g is None else g)
            per_in = []
            for j, i in enumerate(ins):
                if rows[j]:
                    jac = stack(rows[j]).reshape(tuple(o.shape) + tuple(i.shape))
                else:
                    jac = zeros(tuple(o.shape) + tuple(i.shape), dtype=i.dtype, device=i.device)
                per_in.append(jac if create_graph else jac.detach())
            result.append(tuple(per_in))
    if not out_tup and not in_tup:
        return result[0][0]
    if not out_tup:
        return result[0]
    if not in_tup:
        return tuple(r[0] for r in result)
    return tuple(result)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar function ``func`` at ``inputs``."""
    from . import grad
    ins, in_tup = _as_tuple(inputs)

    def gradient(*xs):
        out = func(*xs)
        return grad(out, xs, create_graph=True, allow_unused=True, materialize_grads=True)

    jac = jacobian(gradient, ins, create_graph=create_graph)
    if not in_tup:
        return jac[0][0]
    return jac


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v) via the double-vjp trick."""
    from .. import zeros_like
    from . import grad
    from .grad_mode import enable_grad
    ins, tup = _as_tuple(inputs)
    ins = _prep(ins, True)
    vs = _as_tuple(v)[0] if v is not None else tuple(zeros_like(i) + 1 for i in ins)
    with enable_grad():
        out = func(*ins)
        outs, out_tup = _as_tuple(out)
        us = tuple(zeros_like(o).requires_grad_(True) for o in outs)
        g = grad(outs, ins, us, create_graph=True, allow_unused=True, materialize_grads=True)
        jv = grad(g, us, vs, create_graph=create_graph, allow_unused=True, materialize_grads=True)
    o = tuple(x.detach() for x in outs)
    jv = tuple(x if create_graph else x.detach() for x in jv)
    return (o if out_tup else o[0]), (jv if out_tup else jv[0])


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    from . import grad
    from .grad_mode import enable_grad
    ins, tup = _as_tuple(inputs)
    ins = _prep(ins, True)
    vs = _as_tuple(v)[0]
    with enable_grad():
        out = func(*ins)
        g = grad(out, ins, create_graph=True, allow_unused=True, materialize_grads=True)
        h = grad(g, ins, vs, create_graph=create_graph, allow_unused=True, materialize_grads=True)
    h = tuple(x if create_graph else x.detach() for x in h)
    return out.detach(), (h if tup else h[0])


hvp = vhp
