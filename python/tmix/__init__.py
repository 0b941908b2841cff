"""tmix: attention and token-mixing kernels from a few lines of spec.

    import tmix
    mod = tmix.compile(open("swa_alibi.tmix").read())
    f = mod["swa_alibi"]
    o, lse = f(q, k, v, window=256)          # numpy arrays or torch tensors

Tensors pass without a copy when their last dim is contiguous (any other strides are
read in place), so a [B, N, H, D] buffer may be given as its [B, H, N, D] view. Outputs
are allocated as the inputs are (numpy arrays for numpy inputs, torch tensors for torch
ones, on their device), or written into `out=`. CUDA tensors run the GPU kernel on the
current stream. `f.torch_op()` registers the kernel as a PyTorch custom
op (eager and `torch.compile(fullgraph=True)`); an attention spec's op has a backward
derived from the spec (CPU), and calling `f` with inputs that require grad uses it. Every bad input raises: `TypeError`
(a dtype or device), `ValueError` (a shape, a stride, a missing scalar) or
`tmix.CompileError` (a spec error, `file:line:col: error: ...`).
"""

import sys

from . import _tmix

__all__ = ["CompileError", "Kernel", "Module", "cache_info", "compile", "compile_file",
           "__version__"]

__version__ = _tmix.version()

CompileError = _tmix.CompileError
CompileError.__module__ = "tmix"
CompileError.__doc__ = "A spec that does not compile; the message says where (file:line:col)."

# The C API's dtype codes (tmix.h) by name, and the numpy names of those numpy has.
_DTYPE_NAMES = ("f32", "f16", "bf16", "i32", "i64", "bool")
_NUMPY_DTYPES = {"f32": "float32", "f16": "float16", "i32": "int32", "i64": "int64",
                 "bool": "bool"}
_TORCH_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "i32": "int32",
                 "i64": "int64", "bool": "bool"}
_SCHEMA_TYPES = {"f32": "float", "f16": "float", "bf16": "float", "i32": "int",
                 "i64": "int", "bool": "bool"}


def _shape_of(value):
    """The shape of a tensor argument (a described torch tensor is a tuple), or None."""
    if isinstance(value, tuple):
        return value[2] if len(value) == 6 else None
    return getattr(value, "shape", None)


class _Param:
    __slots__ = ("name", "is_tensor", "dtype", "dims", "has_default", "default")

    def __init__(self, name, is_tensor, dtype, dims, has_default, default):
        self.name = name
        self.is_tensor = is_tensor
        self.dtype = _DTYPE_NAMES[dtype]
        self.dims = dims  # (symbol or None, literal size or offset) per stored dim
        self.has_default = has_default
        self.default = default

    def declared(self):
        def spell(dim):
            symbol, value = dim
            if symbol is None:
                return str(value)
            return symbol if value == 0 else f"{symbol} + {value}"
        return f"{self.dtype}[{', '.join(spell(d) for d in self.dims)}]"


def _torch():
    """torch if the program imported it (tmix never imports it for numpy users)."""
    return sys.modules.get("torch")


_FLOATS = ("f32", "f16", "bf16")


def _is_scalar_tensor(param, value):
    """Whether `value` is a one-element float torch tensor given for the float scalar
    `param`: a learnable scalar when it requires grad (docs/training.md)."""
    torch = _torch()
    return (torch is not None and isinstance(value, torch.Tensor) and param.dtype in _FLOATS
            and value.numel() == 1 and value.is_floating_point())


_torch_codes = None  # torch dtype -> the C API's dtype code, made on first use


def _describe(tensor, name):
    """A torch tensor as the extension's tuple (pointer, dtype code, shape, strides,
    device, index): a fraction of a DLPack export's cost per call."""
    global _torch_codes
    if _torch_codes is None:
        torch = _torch()
        _torch_codes = {getattr(torch, _TORCH_DTYPES[name]): code
                        for code, name in enumerate(_DTYPE_NAMES)}
    code = _torch_codes.get(tensor.dtype)
    if code is None:
        raise TypeError(f"'{name}' is {tensor.dtype}, which tmix does not take (f32, f16, "
                        "bf16, i32, i64 or bool)")
    if tensor.is_cpu:
        device, index = 0, 0
    elif tensor.is_cuda:
        device, index = 1, tensor.device.index or 0
    else:
        raise TypeError(f"'{name}' is on '{tensor.device}': tmix runs on the CPU and CUDA "
                        "devices")
    return (tensor.data_ptr(), code, tuple(tensor.shape), tensor.stride(), device, index)


class Kernel:
    """One compiled spec. Call it with the spec's arguments, positionally or by name."""

    def __init__(self, handle, target, module):
        self._handle = handle
        self._module = module  # for the CUDA kernel of the same spec
        self.name = handle.name
        self.target = target
        self.args = [_Param(*p) for p in handle.params(False)]
        self.outputs = [_Param(*p) for p in handle.params(True)]
        self._index = {p.name: i for i, p in enumerate(self.args)}
        self._ops = {}  # learnable_scalars -> the PyTorch op
        # Where each output dim's size comes from: (argument, its dim, what to add) from
        # the first tensor argument that declares the symbol, or (None, None, literal).
        first = {}
        for index, param in enumerate(self.args):
            if param.is_tensor:
                for position, (symbol, value) in enumerate(param.dims):
                    if symbol is not None:
                        first.setdefault(symbol, (index, position, -value))
        self._output_dims = [
            [(None, None, value) if symbol is None
             else (first[symbol][0], first[symbol][1], first[symbol][2] + value)
             for symbol, value in param.dims]
            for param in self.outputs]

    def __repr__(self):
        args = ", ".join(f"{p.name}: {p.declared()}" if p.is_tensor else f"{p.name}: {p.dtype}"
                         for p in self.args)
        outs = ", ".join(f"{p.name}: {p.declared()}" for p in self.outputs)
        return f"<tmix kernel {self.name}({args}) -> ({outs}) for {self.target}>"

    def _values(self, args, kwargs):
        """The call's values in the spec's argument order (None: a scalar's default)."""
        if len(args) > len(self.args):
            raise TypeError(f"{self.name}() takes {len(self.args)} arguments, "
                            f"{len(args)} were given")
        values = list(args) + [None] * (len(self.args) - len(args))
        given = [True] * len(args) + [False] * (len(self.args) - len(args))
        for name, value in kwargs.items():
            index = self._index.get(name)
            if index is None:
                raise TypeError(f"{self.name}() has no argument '{name}' (its arguments: "
                                f"{', '.join(self._index)})")
            if given[index]:
                raise TypeError(f"{self.name}() got argument '{name}' twice")
            values[index] = value
            given[index] = True
        for param, value, was_given in zip(self.args, values, given):
            if param.is_tensor and value is None:
                raise TypeError(f"{self.name}() is missing tensor argument '{param.name}' "
                                f"({param.declared()})")
            if not param.is_tensor and value is None and not param.has_default:
                raise TypeError(f"{self.name}() is missing scalar argument '{param.name}' "
                                f"({param.dtype}, no default)")
            if param.is_tensor and isinstance(value, tuple):
                raise TypeError(f"'{param.name}' must be a tensor (numpy array, torch tensor "
                                "or any DLPack tensor), not tuple")
            if not param.is_tensor and value is not None and not isinstance(
                    value, (bool, int, float)) and not _is_scalar_tensor(param, value):
                raise TypeError(f"scalar '{param.name}' ({param.dtype}) must be a number"
                                f"{' or a one-element float tensor' if param.dtype in _FLOATS else ''}, "
                                f"not {type(value).__name__}")
        return values

    def __call__(self, *args, out=None, **kwargs):
        if out is not None:
            out = list(out) if isinstance(out, (list, tuple)) else [out]
            for param, tensor in zip(self.outputs, out):
                if isinstance(tensor, tuple):
                    raise TypeError(f"output '{param.name}' must be a tensor, not tuple")
                writeable = getattr(getattr(tensor, "flags", None), "writeable", True)
                if not writeable:
                    raise ValueError(f"output '{param.name}' is read-only")
        values = self._values(args, kwargs)
        torch = _torch()
        if torch is not None and torch.is_grad_enabled() and any(
                isinstance(v, torch.Tensor) and v.requires_grad for v in values):
            # Gradients go through the PyTorch op and its derived backward.
            if out is not None:
                raise ValueError(f"'{self.name}': out= does not record gradients; call "
                                 "without it, or under torch.no_grad()")
            filled = [param.default if value is None else value
                      for param, value in zip(self.args, values)]
            if not any(not p.is_tensor and isinstance(v, torch.Tensor)
                       for p, v in zip(self.args, filled)):
                return self.torch_op(self._module._namespace())(*filled)
            # A scalar given as a tensor: the op whose float scalars are tensors.
            filled = [v if p.is_tensor or p.dtype not in _FLOATS or isinstance(v, torch.Tensor)
                      else torch.tensor(float(v)) for p, v in zip(self.args, filled)]
            return self.torch_op(self._module._namespace(), learnable_scalars=True)(*filled)
        if torch is not None:
            values = [v.item() if not p.is_tensor and isinstance(v, torch.Tensor) else v
                      for p, v in zip(self.args, values)]
        return self._run(values, out)

    def _run(self, values, out):
        """Launches on `values` (the spec's argument order, checked by _values or by the
        op's schema) into `out`, or into outputs allocated like the inputs."""
        torch = _torch()
        like = None  # the first torch tensor: outputs are made as it is
        if torch is not None:
            for index, value in enumerate(values):
                if isinstance(value, torch.Tensor):
                    like = like if like is not None else value
                    # The caller's list keeps the tensor alive through the launch.
                    values[index] = _describe(value, self.args[index].name)
        if out is None:
            # The shapes from the declared symbols, in Python: one DLPack export of each
            # input fewer than asking the library. The launch checks the whole call, so
            # inputs that disagree are still reported as such.
            shapes = self.output_shapes_of(
                [_shape_of(value) if param.is_tensor else None
                 for param, value in zip(self.args, values)])
            out = [self._allocate(param, shape, like)
                   for param, shape in zip(self.outputs, shapes)]
        tensors = out
        stream = 0
        if torch is not None:
            tensors = [_describe(t, p.name) if isinstance(t, torch.Tensor) else t
                       for p, t in zip(self.outputs, out)]
            if like is not None and like.is_cuda:
                # CUDA tensors run the GPU kernel of the spec, on the current stream.
                stream = torch.cuda.current_stream(like.device).cuda_stream
                if self.target == "cpu":
                    return self._module.kernel(self.name, "cuda")._launch(
                        values, tensors, out, stream)
        return self._launch(values, tensors, out, stream)

    def _launch(self, values, tensors, out, stream):
        self._handle.launch(values, tensors, stream)
        return out[0] if len(out) == 1 else tuple(out)

    def _allocate(self, param, shape, like):
        if like is not None:
            torch = _torch()
            return torch.empty(shape, dtype=getattr(torch, _TORCH_DTYPES[param.dtype]),
                               device=like.device)
        import numpy
        if param.dtype not in _NUMPY_DTYPES:
            raise TypeError(f"output '{param.name}' is {param.dtype}, which numpy has not: "
                            "pass torch tensors, or give out=")
        return numpy.empty(shape, dtype=_NUMPY_DTYPES[param.dtype])

    # ---- the PyTorch op ----

    def output_shapes_of(self, shapes):
        """The outputs' shapes for tensor arguments of `shapes` (one per argument, None
        for scalars), from the declared size symbols: what a fake tensor needs. A shape
        the call cannot have (a tensor of another rank) gets 0s: the launch says why."""
        result = []
        for dims in self._output_dims:
            out = []
            for arg, position, add in dims:
                if arg is None:
                    out.append(add)
                    continue
                shape = shapes[arg]
                size = shape[position] + add if shape is not None and position < len(shape) else 0
                out.append(size if not isinstance(size, int) or size >= 0 else 0)
            result.append(out)
        return result

    def _schema(self, learnable_scalars=False):
        def learnable(param):
            return learnable_scalars and not param.is_tensor and param.dtype in _FLOATS

        def default(param):
            if not param.has_default or learnable(param):
                return ""
            value = param.default
            if param.dtype == "bool":
                return "=True" if value else "=False"
            if _SCHEMA_TYPES[param.dtype] == "int":
                return f"={int(value)}"
            if value != value or value in (float("inf"), float("-inf")):
                return ""  # the schema has no spelling for these: the argument is required
            return f"={value!r}"
        # A schema's defaults are trailing (a derived backward kernel has o, lse and
        # d_o after the forward's scalars): a default before a required one is left out.
        trailing = len(self.args)
        while trailing > 0 and not self.args[trailing - 1].is_tensor and default(
                self.args[trailing - 1]):
            trailing -= 1
        args = ", ".join(f"Tensor {p.name}" if p.is_tensor or learnable(p)
                         else f"{_SCHEMA_TYPES[p.dtype]} {p.name}"
                              f"{default(p) if index >= trailing else ''}"
                         for index, p in enumerate(self.args))
        returns = ("Tensor" if len(self.outputs) == 1
                   else "(" + ", ".join("Tensor" for _ in self.outputs) + ")")
        return f"({args}) -> {returns}"

    def _derived(self, part, namespace, target="cpu"):
        """The PyTorch op of the derived kernel `<name>_<part>` (docs/training.md) for
        `target`, or None when the module has none (no such part)."""
        try:
            kernel = self._module.kernel(f"{self.name}_{part}", target)
        except ValueError:
            return None
        # A GPU's parts have their own signatures (no d_q_partial): ops of their own.
        return kernel, kernel.torch_op(namespace if target == "cpu" else namespace + "_cuda")

    def _backward(self, ctx, grads, namespace):
        """The gradients of the op's tensor inputs from those of its outputs: the
        derived backward kernels, on the device of the saved tensors."""
        torch = _torch()
        saved = list(ctx.saved_tensors)
        values = [saved.pop(0) if is_tensor else scalar
                  for is_tensor, scalar in zip(ctx.is_tensor, ctx.scalars)]
        o = saved.pop(0)
        target = "cuda" if o.is_cuda else "cpu"
        adjoint = self._derived("grad", namespace)
        # A recurrence's adjoint takes its arguments and its outputs' gradients (a spec
        # of that name that does not is someone else's).
        expected = [a.name for a in self.args] + ["d_" + out.name for out in self.outputs]
        if adjoint is not None and [a.name for a in adjoint[0].args] == expected:
            if target == "cuda":
                try:
                    kernel = self._module.kernel(f"{self.name}_grad", target)
                except ValueError as error:
                    # What the GPU kernel does not run yet (a vector state, a row gate
                    # given by value) says so.
                    raise RuntimeError(f"tmix: {error}; run the op on the CPU") from None
                # The gradients shared by several points come summed on the device.
                adjoint = kernel, kernel.torch_op(namespace + "_cuda")
            return self._recurrence_backward(ctx, values, [o] + saved, grads, adjoint)
        # On a GPU the parts are the GPUs' form: part "query" recomputes dq and part
        # "params" takes no partials, but rope's rows' terms (docs/training.md).
        # Part "params" walks the pairs again (for a pair bias, a scalar, a sink): run
        # only when autograd asks for a gradient it gives.
        params = self._derived("grad_params", namespace)
        params_needed = params is not None and self._any_needed(ctx, params[0].outputs)
        if target == "cuda" and params_needed:
            try:
                kernel = self._module.kernel(f"{self.name}_grad_params", target)
            except ValueError as error:
                # The GPUs give the gradients of a sink's params, of pair biases and of
                # params whose elements depend on (b, h) alone; a score's reads at an
                # element that depends on i or j (a relative-position table) need a
                # sum over the pairs of many CTAs in one order, which they do not have.
                raise RuntimeError(f"tmix: {error}; detach those arguments on the GPU, "
                                   "or run the op on the CPU") from None
            params = kernel, kernel.torch_op(namespace + "_cuda")
        grad_q = self._derived("grad_q", namespace, target)
        if grad_q is None:
            raise RuntimeError(f"tmix: '{self.name}' has no backward (its derivation "
                               "failed: `tmixc emit --stage=spec --grad` says why)")
        if len(self.outputs) == 2:
            lse = saved.pop(0)
            d_lse = grads[1] if grads[1] is not None else torch.zeros_like(lse)
            tail = [d_lse.contiguous()]
        else:
            # The spec has no lse output: the forward with lse recomputes it.
            lse = self._derived("forward", namespace, target)[1](*values)[1]
            tail = []
        d_o = grads[0] if grads[0] is not None else torch.zeros_like(o)
        call = values + [o, lse, d_o.to(o.dtype).contiguous()] + tail
        result = [None] * len(values)
        key_value = self._derived("grad_kv", namespace, target)[1](*call)
        if target == "cuda":
            # With a learnable rope theta (rope_rows) each part also gives its rows'
            # terms of theta's gradient, which part "params" sums: k's, then q's.
            result[1], result[2], *param_partials = key_value
            query = grad_q[1](*call)
            query = query if isinstance(query, tuple) else (query,)
            result[0], *rows_of_q = query
            param_partials += rows_of_q
        else:
            # dk, dv and dq's sums per key split (then those of the small params,
            # summed per key split as dq's are); dq from those (docs/training.md).
            result[1], result[2], q_partial, *param_partials = key_value
            result[0] = grad_q[1](*call, q_partial)
        if params_needed:
            outs = params[1](*call, *param_partials)
            outs = outs if isinstance(outs, tuple) else (outs,)
            self._place_gradients(ctx, values, params[0].outputs, outs, result)
        for index, needed in enumerate(ctx.needs_input_grad[:len(values)]):
            if needed and result[index] is None:
                raise RuntimeError(
                    f"tmix: '{self.args[index].name}' of '{self.name}' has no gradient: "
                    "only float tensors and scalars that the score, the sink, the scale "
                    "or rope reads have one (a mask reads without a derivative); detach it")
        return tuple(result)

    def _recurrence_backward(self, ctx, values, outputs, grads, adjoint):
        """A recurrence's gradients: its adjoint X_grad (docs/training.md) on the
        gradients of every output (zeros for those the loss does not read), which gives
        each float argument's gradient in the argument's shape."""
        torch = _torch()
        d_outputs = [(g if g is not None else torch.zeros_like(o)).to(o.dtype).contiguous()
                     for g, o in zip(grads, outputs)]
        outs = adjoint[1](*values, *d_outputs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        result = [None] * len(values)
        self._place_gradients(ctx, values, adjoint[0].outputs, outs, result)
        for index, needed in enumerate(ctx.needs_input_grad[:len(values)]):
            if needed and result[index] is None:
                # An argument the steps never read: its outputs do not depend on it.
                shape, dtype = ((values[index].shape, values[index].dtype)
                                if self.args[index].is_tensor else ctx.scalar_like[index])
                result[index] = torch.zeros(shape, dtype=dtype, device=outputs[0].device)
        return tuple(result)

    def _any_needed(self, ctx, params):
        """Whether autograd asks for the gradient of any argument `d_<arg>` of
        `params` names."""
        return any(ctx.needs_input_grad[self._index[param.name[len("d_"):]]]
                   for param in params)

    def _place_gradients(self, ctx, values, params, grads, result):
        """Each derived gradient `d_<arg>` into `result` at its argument: a tensor's in
        its dtype, a learnable scalar's in its tensor's shape and dtype."""
        for param, grad in zip(params, grads):
            index = self._index[param.name[len("d_"):]]
            if self.args[index].is_tensor:
                result[index] = grad.to(values[index].dtype)
            elif ctx.scalar_like[index] is not None:
                shape, dtype = ctx.scalar_like[index]
                result[index] = grad.reshape(shape).to(dtype)

    def torch_op(self, namespace="tmix", learnable_scalars=False):
        """Registers this kernel as the PyTorch custom op `torch.ops.<namespace>.<name>`
        (a CPU implementation and a fake one, so that it traces under torch.compile) and
        returns it. The op has the derived backward (docs/training.md): an attention
        spec's gives the gradients of q, k, v (on the CPU or, for CUDA tensors, the GPU)
        and of the float tensors its score, sink and scale read (on a GPU, a sink's,
        pair biases' and tables' with one index that depends on the pair); a
        recurrence's, those of every float tensor argument (on a GPU, for the
        recurrences its backward kernel runs: docs/training.md). With
        `learnable_scalars`, the op `<name>_learnable_scalars` takes the float scalar
        arguments as one-element tensors and gives their gradients too (a call whose
        scalar is a tensor that requires grad goes through it)."""
        if self._ops.get(learnable_scalars) is not None:
            return self._ops[learnable_scalars]
        import torch
        name = self.name + ("_learnable_scalars" if learnable_scalars else "")
        qualname = f"{namespace}::{name}"
        torch.library.define(qualname, self._schema(learnable_scalars))
        kernel = self

        def numbers(args):
            # Trailing defaulted scalars may be absent (None: the default); tensors given
            # for scalars are read as numbers.
            values = list(args) + [None] * (len(kernel.args) - len(args))
            return [v.item() if not p.is_tensor and isinstance(v, torch.Tensor) else v
                    for p, v in zip(kernel.args, values)]

        def run(*args):
            # Below autograd (the op's outputs get their grad_fn from register_autograd);
            # the schema has checked and completed the arguments.
            return kernel._run(numbers(args), None)

        def fake(*args):
            like = next(a for p, a in zip(kernel.args, args) if p.is_tensor)
            shapes = kernel.output_shapes_of(
                [a.shape if p.is_tensor else None for p, a in zip(kernel.args, args)])
            outs = tuple(like.new_empty(shape, dtype=getattr(torch, _TORCH_DTYPES[p.dtype]))
                         for p, shape in zip(kernel.outputs, shapes))
            return outs[0] if len(outs) == 1 else outs

        def setup_context(ctx, inputs, output):
            inputs = list(inputs) + [None] * (len(kernel.args) - len(inputs))
            ctx.is_tensor = [p.is_tensor for p in kernel.args]
            ctx.scalars = [None if p.is_tensor else (p.default if v is None else v)
                           for p, v in zip(kernel.args, numbers(inputs))]
            # The learnable scalars' shapes and dtypes, for their gradients.
            ctx.scalar_like = [(v.shape, v.dtype) if not p.is_tensor and
                               isinstance(v, torch.Tensor) else None
                               for p, v in zip(kernel.args, inputs)]
            outputs = output if isinstance(output, tuple) else (output,)
            ctx.save_for_backward(*[v for p, v in zip(kernel.args, inputs) if p.is_tensor],
                                  *outputs)

        def backward(ctx, *grads):
            return kernel._backward(ctx, grads, namespace)

        torch.library.impl(qualname, "CPU")(run)
        torch.library.impl(qualname, "CUDA")(run)
        torch.library.register_fake(qualname)(fake)
        torch.library.register_autograd(qualname, backward, setup_context=setup_context)
        self._ops[learnable_scalars] = getattr(getattr(torch.ops, namespace), name)
        return self._ops[learnable_scalars]


class Module:
    """The specs of one source. `module[name]` is its kernel, compiled once (and cached
    for the process): on the CPU, or, for CUDA tensors, on the GPU (target "cuda": device
    0's sm_80 or sm_90a; compiled on the first launch with each set of head dims).
    `module.kernel(name, target)` picks the target ("cpu", "cuda", "sm_80", "sm_90a")."""

    _modules = 0  # for the torch.library namespaces of the modules' ops

    def __init__(self, handle):
        self._handle = handle
        self._kernels = {}
        Module._modules += 1
        self._number = Module._modules

    def _namespace(self):
        """The torch.library namespace of the ops that calls with inputs requiring grad
        register: one per module, so that two modules may have specs of one name."""
        return f"tmix_module{self._number}"

    def names(self):
        return list(self._handle.names())

    def kernel(self, name, target="cpu"):
        key = (name, target)
        kernel = self._kernels.get(key)
        if kernel is None:
            if not isinstance(name, str):
                raise TypeError(f"a kernel name is a str, not {type(name).__name__}")
            kernel = Kernel(self._handle.kernel(name, target), target, self)
            self._kernels[key] = kernel
        return kernel

    def __getitem__(self, name):
        return self.kernel(name)

    def __repr__(self):
        return f"<tmix module: {', '.join(self.names())}>"


def cache_info():
    """What the process's kernel cache has done: kernels compiled, and its disk layer's
    hits, misses, stores and damaged entries rebuilt, with its folder ($TMIX_CACHE_DIR,
    else $XDG_CACHE_HOME/tmix, else ~/.cache/tmix; None with TMIX_DISK_CACHE=0). Raises
    RuntimeError when the folder was refused (not the user's own, or writable by
    others)."""
    return _tmix.cache_stats()


def compile(source, filename="<source>"):
    """Compiles spec source text into a Module; raises CompileError on a spec error."""
    if not isinstance(source, str):
        raise TypeError(f"tmix.compile takes the spec text (a str), not "
                        f"{type(source).__name__}; use tmix.compile_file for a path")
    return Module(_tmix.compile(source, filename))


def compile_file(path):
    """Compiles the .tmix file at `path`."""
    with open(path, encoding="utf-8") as file:
        return compile(file.read(), str(path))
