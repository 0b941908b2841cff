"""emulated_recurrence_grad_vs_cpu.py SPEC KERNEL SIZES WORK [--fix=K=64] [--set=x=1]
[--uniform=name=lo:hi]: the GPU backward of a recurrence (tmix-derive-recurrence-grad,
then tmix-lower-recurrence-grad-to-nvgpu, canonicalize, cse) run by the emulator
(simt.py) on every CTA of its kernel, in a shuffled order (any of a point's CTAs may be
the last, which sums the others' shares), against the CPU path's backward (tmixc run
--grad: the chunked adjoint) on the same inputs and output gradients. A second launch,
its CTAs in another order over the first's stale workspace, must give the same bits.
Gradients that several parallel points share (a scalar, a per-head constant under the
batch) come out per point, as on the CPU, and are summed here over the dims their
argument lacks. Prints PASS/FAIL with ||emulated - cpu|| / ||cpu|| per gradient (bound
1e-4: f32 throughout, the CPU's chunked adjoint sums in another order; 1e-3 for the
gradients summed over the steps), or EMULATION ERROR and what the emulator found. The
time dim is T in the specs it runs. Tools from PATH."""
import os
import re
import subprocess
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulated_grad_vs_cpu  # noqa: E402
import gpu_vs_cpu  # noqa: E402
import simt  # noqa: E402

TOLERANCE = 1e-4
# A gradient summed over the steps (a scalar, SSD's A): its terms cancel, and the two
# sum them in different orders (the CPU through its running sums).
SUM_TOLERANCE = 1e-3


def result_dims(spec_ir, kernel):
    """The adjoint's results: name -> logical dims (its per-point types)."""
    header = re.search(r"tmix\.recurrence @" + kernel + r"_grad\(.*?\) -> \((.*?)\) time",
                       spec_ir)
    assert header, f"no adjoint {kernel}_grad in the derived spec"
    dims = {}
    for name, shape in re.findall(r"(\w+): !tmix\.tensor<\[([^\]]*)\]", header.group(1)):
        dims[name] = [d.strip() for d in shape.split(",") if d.strip()]
    for name in re.findall(r"(\w+): f32(?:,|$)", header.group(1)):
        dims[name] = []
    return dims


def main():
    spec, kernel, sizes_text, work = sys.argv[1:5]
    fix, sets, uniform = gpu_vs_cpu.options(sys.argv[5:])
    sizes = {k: int(v) for k, v in (kv.split("=") for kv in sizes_text.split(","))}
    manifest, (inputs, cpu, _) = gpu_vs_cpu.build_kernel(spec, kernel, "sm_80", fix, work,
                                                         "emu")
    args, results, _ = gpu_vs_cpu.manifest_of(manifest)
    gpu_vs_cpu.make_inputs(args, sizes, uniform, inputs)
    # The CPU backward: the forward's outputs, their gradients (drawn) and the
    # gradients of the arguments, summed into the arguments' shapes.
    subprocess.run(["tmixc", "run", spec, f"--kernel={kernel}", f"--sizes={sizes_text}",
                    "--grad", f"--inputs={inputs}", f"--outputs={cpu}"] + sets, check=True,
                   stdout=subprocess.DEVNULL)
    spec_ir = subprocess.run(["tmixc", "emit", spec, "--stage=spec", "--grad",
                              f"--kernel={kernel}"],
                             check=True, capture_output=True, text=True).stdout
    options = ["target=sm_80"] + (["specialize=" + ",".join(fix)] if fix else [])
    lower = "--tmix-lower-recurrence-grad-to-nvgpu"
    if fix:
        lower += "=specialize=" + ",".join(fix)
    kernel_ir = subprocess.run(
        ["tmix-opt", "-", "--tmix-schedule=" + " ".join(options), "--tmix-tile-recurrence",
         lower, "--canonicalize", "--cse", "--mlir-print-op-generic"],
        input=spec_ir, check=True, capture_output=True, text=True).stdout
    module = simt.parse(kernel_ir)

    defaults = gpu_vs_cpu.scalar_values(manifest, sets)

    def load(param, folder, name):
        stored = np.load(os.path.join(folder, name + ".npy"))
        if stored.dtype.kind == "f":
            stored = stored.astype(np.float32)
        return gpu_vs_cpu.logical_view(param, stored)

    # The adjoint's arguments: the forward's, then d_<r> for each of its outputs.
    values = []
    for arg in args:
        values.append(load(arg, inputs, arg["name"]) if arg["tensor"]
                      else np.full(simt.THREADS, defaults[arg["name"]]))
    for result in results:
        values.append(load(result, cpu, "d_" + result["name"]))

    # Its results, per point: an argument's layout where they have its dims.
    per_point = result_dims(spec_ir, kernel)
    by_name = {a["name"]: a for a in args}

    def logical_dims(arg):
        """The manifest lists the stored dims; its layout maps them to the logical."""
        if not arg["layout"]:
            return arg["dims"]
        return [arg["dims"][arg["layout"].index(p)] for p in range(len(arg["dims"]))]
    grads = []
    for name, dims in per_point.items():
        arg = by_name[name[len("d_"):]]
        shape = [gpu_vs_cpu.dim_size(d, sizes) for d in dims] or [1]
        same = dims == logical_dims(arg)
        stored_shape = shape
        if same and arg["layout"]:
            stored_shape = [shape[arg["layout"][p]] for p in range(len(shape))]
        stored = np.full(stored_shape, np.nan, np.float32)
        param = dict(arg, layout=arg["layout"] if same else None)
        grads.append((name, arg, dims, stored, gpu_vs_cpu.logical_view(param, stored)))
    views = [view for _, _, _, _, view in grads]

    name = kernel + "_grad"
    words = emulated_grad_vs_cpu.emulate(module, kernel_ir, name, values + views, sizes,
                                         None, 1)
    first = [stored.copy() for _, _, _, stored, _ in grads]
    for _, _, _, stored, _ in grads:
        stored.fill(np.nan)
    emulated_grad_vs_cpu.emulate(module, kernel_ir, name, values + views, sizes, None, 2,
                                 words)
    for (grad_name, _, _, stored, _), before in zip(grads, first):
        if not np.array_equal(before, stored, equal_nan=True):
            print(f"FAIL {kernel} grad: {grad_name} differs between two launches whose "
                  "CTAs ran in different orders")
            sys.exit(1)

    report, failed = [], False
    for grad_name, arg, dims, _, view in grads:
        got = view.astype(np.float64)
        arg_dims = logical_dims(arg)
        if dims != arg_dims:
            # Per point: summed over the dims the argument lacks; a group dim G the
            # argument has in place of the point's H takes the sum over its H / G
            # heads (heads g H/G .. (g + 1) H/G - 1, as the kernel reads them).
            got_dims = list(dims)
            for missing in [d for d in arg_dims if d not in dims]:
                axis = next(a for a, d in enumerate(got_dims) if d not in arg_dims)
                groups = gpu_vs_cpu.dim_size(missing, sizes)
                shape = list(got.shape)
                got = got.reshape(shape[:axis] + [groups, shape[axis] // groups] +
                                  shape[axis + 1:]).sum(axis=axis + 1)
                got_dims[axis] = missing
            kept, remaining = [], list(arg_dims)
            for axis, dim in enumerate(got_dims):
                if dim in remaining:
                    remaining.remove(dim)
                    kept.append(axis)
            got = got.sum(axis=tuple(a for a in range(len(got_dims)) if a not in kept))
            order = [got_dims[a] for a in kept]
            got = np.transpose(got, [order.index(d) for d in arg_dims])
        want = load(arg, cpu, grad_name).astype(np.float64).reshape(got.shape)
        error = np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30)
        bound = TOLERANCE if "T" in dims else SUM_TOLERANCE
        failed |= not error < bound  # NaN (an element never written) fails
        report.append(f"{grad_name}={error:.2e}")
    print(("FAIL " if failed else "PASS ") + kernel + " grad " + " ".join(report))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
