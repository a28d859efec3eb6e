"""``rgrad.nn.Module``: the base class of all neural-network modules, as torch.nn.Module."""

import functools
import itertools
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from ... import _C
from ..._tensor import RemovableHandle
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ..parameter import Buffer, Parameter

Tensor = _C.Tensor

__all__ = ["Module", "register_module_forward_pre_hook", "register_module_forward_hook"]

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"
_hook_ids = itertools.count()
# Hooks registered for every module (register_module_forward_*_hook).
_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()


# One {id(tensor): (tensor, converted)} memo per outermost Module._apply call.
_apply_memos = []


def _converted(memo, t, convert):
    hit = memo.get(id(t))
    if hit is None:
        # The source is kept alive in the memo so that its id is not reused during the call.
        hit = memo[id(t)] = (t, convert(t))
    return hit[1]


def _typename(obj):
    if isinstance(obj, Tensor):
        return obj.type()
    cls = obj if isinstance(obj, type) else type(obj)
    module = cls.__module__
    return cls.__qualname__ if module in ("", "builtins") else f"{module}.{cls.__qualname__}"


def _addindent(s, num_spaces):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join(num_spaces * " " + line for line in lines)


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _add_hook(hooks, hook, prepend, kwargs_set=None, with_kwargs=False, always_set=None, always_call=False):
    hid = next(_hook_ids)
    hooks[hid] = hook
    if prepend:
        hooks.move_to_end(hid, last=False)
    if with_kwargs:
        kwargs_set[hid] = True
    if always_call:
        always_set[hid] = True

    def remove():
        for d in (hooks, kwargs_set, always_set):
            if d is not None:
                d.pop(hid, None)
    handle = RemovableHandle(remove)
    handle.id = hid
    return handle


def register_module_forward_pre_hook(hook):
    """Registers ``hook(module, args)`` to run before every module's forward."""
    return _add_hook(_global_forward_pre_hooks, hook, False)


def register_module_forward_hook(hook, *, always_call=False):
    """Registers ``hook(module, args, output)`` to run after every module's forward."""
    return _add_hook(_global_forward_hooks, hook, False)


class _IdentityWithGradHook(Function):
    # Identity on tensors whose backward hands the incoming gradients to `callback`, which may
    # return replacements.
    @staticmethod
    def forward(ctx, callback, *tensors):
        ctx.callback = callback
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        new = ctx.callback(grads)
        return (None,) + tuple(grads if new is None else new)


class _BackwardHooks:
    """Runs one call's full backward (pre-)hooks: identity nodes around the positional tensor
    inputs and the outputs see grad_input and grad_output."""

    def __init__(self, module):
        self.module = module
        self.n_inputs = 0
        self.input_positions = []
        self.grad_output = None

    def wrap_inputs(self, args):
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(tensor_pos)
        self.input_positions = [k for k, i in enumerate(tensor_pos) if args[i].requires_grad]
        diff = [i for i in tensor_pos if args[i].requires_grad]
        if not diff:
            return args
        wrapped = _IdentityWithGradHook.apply(self._on_grad_input, *(args[i] for i in diff))
        args = list(args)
        for i, t in zip(diff, wrapped):
            args[i] = t
        return tuple(args)

    def wrap_outputs(self, result):
        is_tensor = isinstance(result, Tensor)
        outs = (result,) if is_tensor else result
        if not isinstance(outs, tuple) or not any(isinstance(o, Tensor) and o.requires_grad for o in outs):
            return result
        pos = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        wrapped = _IdentityWithGradHook.apply(self._on_grad_output, *(outs[i] for i in pos))
        outs = list(outs)
        for i, t in zip(pos, wrapped):
            outs[i] = t
        return outs[0] if is_tensor else tuple(outs)

    def _on_grad_output(self, grads):
        m = self.module
        for hook in m._backward_pre_hooks.values():
            res = hook(m, grads)
            if res is not None:
                grads = tuple(res) if isinstance(res, (tuple, list)) else (res,)
        self.grad_output = grads
        if not self.input_positions:
            # No input needs a gradient: the hooks run now, with grad_input all None.
            if m._backward_hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with respect to module "
                              "outputs since no inputs require gradients. See https://docs.pytorch.org/docs/main/"
                              "generated/torch.nn.Module.html#torch.nn.Module.register_full_backward_hook for more "
                              "details.", stacklevel=5)
            for hook in m._backward_hooks.values():
                hook(m, (None,) * self.n_inputs, grads)
        return grads

    def _on_grad_input(self, grads):
        m = self.module
        full = [None] * self.n_inputs
        for k, g in zip(self.input_positions, grads):
            full[k] = g
        grad_input = tuple(full)
        for hook in m._backward_hooks.values():
            res = hook(m, grad_input, self.grad_output)
            if res is not None:
                if len(res) != len(grad_input):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {len(res)}, "
                                       f"but expected {len(grad_input)}")
                grad_input = tuple(res)
        return tuple(grad_input[k] for k in self.input_positions)


class Module:
    r"""Base class for all neural-network modules.

    Subclasses assign parameters, buffers and submodules as attributes in ``__init__`` (after
    ``super().__init__()``) and define ``forward``; calling the module runs ``forward`` with the
    registered hooks.

    Example::

        >>> class Model(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = nn.Linear(4, 2)
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
    """

    dump_patches = False
    _version = 1
    call_super_init = False

    def __init__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                            f"'{next(iter(kwargs))}'")
        if args:
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument but "
                            f"{len(args) + 1} were given")
        # Set through the instance dict: __setattr__ relies on these existing.
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks_always_called"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_state_dict_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_post_hooks"] = OrderedDict()

    def forward(self, *input):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    # ----- calling -------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        # The common case (no hooks anywhere) goes straight to forward.
        if (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or self._backward_pre_hooks
                or _global_forward_pre_hooks or _global_forward_hooks):
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    _call_impl = __call__

    def _call_with_hooks(self, args, kwargs):
        for hid, hook in itertools.chain(_global_forward_pre_hooks.items(), self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                                           f"but got {res}.")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        bw = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            bw = _BackwardHooks(self)
            args = bw.wrap_inputs(args)
        try:
            result = self.forward(*args, **kwargs)
        except Exception:
            # always_call hooks still run when forward raises.
            for hid, hook in self._forward_hooks.items():
                if hid in self._forward_hooks_always_called:
                    if hid in self._forward_hooks_with_kwargs:
                        hook(self, args, kwargs, None)
                    else:
                        hook(self, args, None)
            raise
        for hid, hook in itertools.chain(_global_forward_hooks.items(), self._forward_hooks.items()):
            if hid in self._forward_hooks_with_kwargs:
                res = hook(self, args, kwargs, result)
            else:
                res = hook(self, args, result)
            if res is not None:
                result = res
        if bw is not None:
            result = bw.wrap_outputs(result)
        return result

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Registers ``hook(module, args) -> None or new args`` (or, with ``with_kwargs=True``,
        ``hook(module, args, kwargs) -> None or (args, kwargs)``) to run before forward.
        Returns a handle whose ``remove()`` unregisters it."""
        return _add_hook(self._forward_pre_hooks, hook, prepend, self._forward_pre_hooks_with_kwargs, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """Registers ``hook(module, args, output) -> None or new output`` (or, with
        ``with_kwargs=True``, ``hook(module, args, kwargs, output)``) to run after forward.
        Returns a handle whose ``remove()`` unregisters it."""
        return _add_hook(self._forward_hooks, hook, prepend, self._forward_hooks_with_kwargs, with_kwargs,
                         self._forward_hooks_always_called, always_call)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Registers ``hook(module, grad_output) -> None or new grad_output``, called when the
        gradients with respect to the module's outputs have been computed."""
        return _add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """Registers ``hook(module, grad_input, grad_output) -> None or new grad_input``, called
        when the gradients with respect to the module's positional tensor inputs have been
        computed (``grad_input`` entries are None for inputs that do not require grad)."""
        return _add_hook(self._backward_hooks, hook, prepend)

    def _register_state_dict_hook(self, hook):
        """Registers ``hook(module, state_dict, prefix, local_metadata) -> None or new state_dict``,
        run by ``state_dict`` after this module's entries are added."""
        return _add_hook(self._state_dict_hooks, hook, False)

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """Registers ``hook([module,] state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)``, run before this module's entries are loaded."""
        return _add_hook(self._load_state_dict_pre_hooks, functools.partial(hook, self) if with_module else hook,
                         False)

    def register_load_state_dict_pre_hook(self, hook):
        """Registers ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)``, run before this module's entries are loaded."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def register_load_state_dict_post_hook(self, hook):
        """Registers ``hook(module, incompatible_keys)`` to run after ``load_state_dict``."""
        return _add_hook(self._load_state_dict_post_hooks, hook, False)

    # ----- attribute registration -----------------------------------------------------------

    def register_buffer(self, name, tensor, persistent=True):
        """Adds a buffer: module state that is not a parameter (e.g. BatchNorm's running mean).

        Args:
            name: the buffer's attribute name.
            tensor: the buffer, or ``None`` (then it is skipped by ``buffers()`` and ``state_dict``).
            persistent: whether the buffer is part of ``state_dict``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError('buffer name can\'t contain "."')
        if name == "":
            raise KeyError('buffer name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(torch Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name, param):
        """Adds a parameter (an ``nn.Parameter`` or ``None``) under `name`."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"parameter name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError('parameter name can\'t contain "."')
        if name == "":
            raise KeyError('parameter name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(torch.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created "
                             f"explicitly. To express '{name}' as a function of another Tensor, compute the value in "
                             "the forward() method.")
        self._parameters[name] = param

    def add_module(self, name, module):
        """Adds a child module under `name` (``None`` keeps the name without a module)."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    register_module = add_module

    def __getattr__(self, name):
        # Only reached when normal lookup fails: parameters, buffers and modules live in dicts.
        d = self.__dict__
        if "_parameters" in d:
            params = d["_parameters"]
            if name in params:
                return params[name]
        if "_buffers" in d:
            buffers = d["_buffers"]
            if name in buffers:
                return buffers[name]
        if "_modules" in d:
            modules = d["_modules"]
            if name in modules:
                return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        d = self.__dict__

        def remove_from(*containers):
            for c in containers:
                if name in c:
                    if isinstance(c, dict):
                        del c[name]
                    else:
                        c.discard(name)

        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(torch.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        else:
            modules = d.get("_modules")
            if isinstance(value, Module):
                if modules is None:
                    raise AttributeError("cannot assign module before Module.__init__() call")
                remove_from(d, self._parameters, self._buffers, self._non_persistent_buffers_set)
                modules[name] = value
            elif modules is not None and name in modules:
                if value is not None:
                    raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                    "(torch.nn.Module or None expected)")
                modules[name] = value
            else:
                buffers = d.get("_buffers")
                is_buffer = isinstance(value, Buffer)
                if is_buffer or (buffers is not None and name in buffers):
                    if value is not None and not isinstance(value, Tensor):
                        raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                        "(torch.nn.Buffer, torch.Tensor or None expected)")
                    if is_buffer:
                        persistent = value.persistent
                    else:
                        persistent = name not in self._non_persistent_buffers_set
                    if is_buffer:
                        remove_from(d, self._parameters, self._modules)
                    self.register_buffer(name, value, persistent)
                else:
                    object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = itertools.chain(dir(type(self)), self.__dict__, self._parameters, self._modules, self._buffers)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def __setstate__(self, state):
        self.__dict__.update(state)

    # ----- traversal -----------------------------------------------------------------------

    def _named_members(self, get_members_fn, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members_fn(module):
                if v is None or v in memo:
                    continue
                if remove_duplicate:
                    memo.add(v)
                yield (module_prefix + "." + k if module_prefix else k), v

    def parameters(self, recurse=True):
        """Iterates over the module's parameters (and its submodules' when `recurse`)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Iterates over ``(name, parameter)`` with dotted names such as ``'fc1.weight'``."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        """Iterates over the module's buffers (and its submodules' when `recurse`)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Iterates over ``(name, buffer)`` with dotted names such as ``'bn.running_mean'``."""
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def children(self):
        """Iterates over the immediate child modules."""
        for _, m in self.named_children():
            yield m

    def named_children(self):
        """Iterates over ``(name, module)`` for the immediate child modules."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def modules(self):
        """Iterates over all modules in the tree, this one first."""
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Iterates over ``(name, module)`` for all modules in the tree, this one first (name ``''``)."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def get_submodule(self, target):
        """Returns the submodule at dotted path `target` (``''`` is this module)."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def _get_owner(self, target):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        return mod, name

    def get_parameter(self, target):
        """Returns the parameter at dotted path `target`."""
        mod, name = self._get_owner(target)
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target):
        """Returns the buffer at dotted path `target`."""
        mod, name = self._get_owner(target)
        if name not in mod._buffers:
            raise AttributeError("`" + name + "` is not a buffer")
        return getattr(mod, name)

    def apply(self, fn):
        """Calls ``fn(m)`` on every submodule (children first) and on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ----- modes and gradients -------------------------------------------------------------

    def train(self, mode=True):
        """Sets training mode (``True``) or evaluation mode on this module and its children."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Sets evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Sets ``requires_grad`` on every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Resets the parameters' gradients: to ``None`` (default) or to zero."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g.zero_()

    # ----- conversions ---------------------------------------------------------------------

    def _apply(self, fn, recurse=True):
        # rgrad tensors cannot change dtype in place, so a converted parameter is a new Parameter
        # object (its gradient converted alongside). One conversion per tensor for the whole
        # call keeps tied weights tied.
        top = not _apply_memos
        if top:
            _apply_memos.append({})
        memo = _apply_memos[-1]
        try:
            if recurse:
                for module in self.children():
                    module._apply(fn)
            for key, param in self._parameters.items():
                if param is not None:
                    self._parameters[key] = _converted(memo, param, lambda p: self._convert_param(p, fn))
            for key, buf in self._buffers.items():
                if buf is not None:
                    self._buffers[key] = _converted(memo, buf, fn)
        finally:
            if top:
                _apply_memos.pop()
        return self

    @staticmethod
    def _convert_param(param, fn):
        with no_grad():
            applied = fn(param)
        if applied is param:
            return param
        new = Parameter(applied, param.requires_grad)
        if param.grad is not None:
            with no_grad():
                new.grad = fn(param.grad)
        return new

    def to(self, *args, **kwargs):
        """Moves/casts parameters and buffers in place: ``to(device)``, ``to(dtype)``,
        ``to(device, dtype)``, ``to(tensor)``. Only floating-point tensors change dtype; every
        tensor changes device. Parameters stay Parameters with their ``requires_grad`` (their
        gradients move alongside), but a moved parameter is a new object, unlike torch's which
        keep their identity: build optimizers after moving the model.

        Example::

            >>> model = nn.Linear(4, 2).to('cuda' if torch.cuda.is_available() else 'cpu')
        """
        from ..._tensor import _parse_to
        dtype, device, _ = _parse_to(args, dict(kwargs))
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError("nn.Module.to only accepts floating point or complex dtypes, but got desired "
                            f"dtype={dtype}")

        def convert(t):
            if dtype is not None and t.is_floating_point():
                return t.to(device=device, dtype=dtype)
            return t.to(device=device) if device is not None else t
        return self._apply(convert)

    def cpu(self):
        """Moves all parameters and buffers to the CPU."""
        return self.to("cpu")

    def cuda(self, device=None):
        """Moves all parameters and buffers to the GPU."""
        from ..._tensor import _gpu_device
        return self.to(_gpu_device(device))

    def gpu(self, device=None):
        """rgrad's spelling of :meth:`cuda`."""
        return self.cuda(device)

    def type(self, dst_type):
        return self._apply(lambda t: t.type(dst_type))

    def _cast_floats(self, dtype):
        return self._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)

    def float(self):
        """Casts floating-point parameters and buffers to float32."""
        return self._cast_floats(_C.float32)

    def double(self):
        """Casts floating-point parameters and buffers to float64."""
        return self._cast_floats(_C.float64)

    def half(self):
        """Casts floating-point parameters and buffers to float16."""
        return self._cast_floats(_C.float16)

    def bfloat16(self):
        """Casts floating-point parameters and buffers to bfloat16."""
        return self._cast_floats(_C.bfloat16)

    def to_empty(self, *, device=None, recurse=True):
        """Replaces parameters and buffers by uninitialised tensors of the same shape on
        `device` (their current device when None)."""
        from ..._creation import empty_like
        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def share_memory(self):
        return self

    # ----- state dict ----------------------------------------------------------------------

    def get_extra_state(self):
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never be called.")

    def set_extra_state(self, state):
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never be called.")

    def _has_extra_state(self):
        return type(self).get_extra_state is not Module.get_extra_state

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        if self._has_extra_state():
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """Returns an ordered dict of the parameters and persistent buffers under dotted names
        (detached unless `keep_vars`)."""
        if args:
            # torch's deprecated positional form: (destination, prefix, keep_vars).
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        metadata = getattr(destination, "_metadata", None)
        if metadata is not None:
            metadata[prefix[:-1]] = {"version": self._version}
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            result = hook(self, destination, prefix, {})
            if result is not None:
                destination = result
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        assign = local_metadata.get("assign_to_params_buffers", False)
        local_state = {k: v for k, v in self._parameters.items() if v is not None}
        local_state.update((k, v) for k, v in self._buffers.items()
                           if v is not None and k not in self._non_persistent_buffers_set)
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            input_param = state_dict[key]
            if not isinstance(input_param, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected torch.Tensor or Tensor-like '
                                  f"object from checkpoint but received {type(input_param)}")
                continue
            if param.dim() == 0 and input_param.dim() == 1:
                input_param = input_param[0]
            if input_param.shape != param.shape:
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {input_param.shape} from "
                                  f"checkpoint, the shape in current model is {param.shape}.")
                continue
            try:
                with no_grad():
                    if assign:
                        if isinstance(param, Parameter):
                            new = input_param if isinstance(input_param, Parameter) else \
                                Parameter(input_param, param.requires_grad)
                            self._parameters[name] = new
                        else:
                            self._buffers[name] = input_param
                    else:
                        param.copy_(input_param)
            except Exception as ex:
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions in the model are '
                                  f"{param.size()} and whose dimensions in the checkpoint are {input_param.size()}, "
                                  f"an exception occurred : {ex.args}.")
        extra_state_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if self._has_extra_state():
            if extra_state_key in state_dict:
                self.set_extra_state(state_dict[extra_state_key])
            elif strict:
                missing_keys.append(extra_state_key)
        elif strict and extra_state_key in state_dict:
            unexpected_keys.append(extra_state_key)
        if strict:
            for key in state_dict.keys():
                if key.startswith(prefix) and key != extra_state_key:
                    input_name = key[len(prefix):].split(".", 1)
                    if len(input_name) > 1:
                        if input_name[0] not in self._modules:
                            unexpected_keys.append(key)
                    elif input_name[0] not in local_state:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copies parameters and buffers from `state_dict` into this module and its children.

        Args:
            state_dict: a mapping as returned by ``state_dict()``.
            strict: raise unless the keys match exactly. Default: ``True``.
            assign: replace the module's tensors by the state dict's instead of copying into them.

        Returns:
            ``NamedTuple(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys, unexpected_keys, error_msgs = [], [], []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)

        def load(module, local_state_dict, prefix=""):
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = assign
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True, missing_keys,
                                         unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state_dict.items() if k.startswith(child_prefix)},
                         child_prefix)
            incompatible = _IncompatibleKeys(missing_keys, unexpected_keys)
            for hook in module._load_state_dict_post_hooks.values():
                if hook(module, incompatible) is not None:
                    raise RuntimeError("load_state_dict post hook should not return a value")

        load(self, state_dict)
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(error_msgs)))
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # ----- printing ------------------------------------------------------------------------

    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The module-specific part of the repr (e.g. ``in_features=4, out_features=2``)."""
        return ""

    def __repr__(self):
        extra_repr = self.extra_repr()
        extra_lines = extra_repr.split("\n") if extra_repr else []
        child_lines = ["(" + key + "): " + _addindent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main_str = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main_str += extra_lines[0]
            else:
                main_str += "\n  " + "\n  ".join(lines) + "\n"
        return main_str + ")"
