"""emulated_grad_vs_cpu.py SPEC KERNEL SIZES WORK [--fix=D=64] [--set=name=value]
[--uniform=name=lo:hi] [--corrupt=WHAT]: the GPU backward of an attention spec
(tmix-derive-attention-grad with recompute-dq, tmix-tile-attention-grad, then
tmix-lower-attention-grad-to-nvgpu, canonicalize, cse) run by the emulator (simt.py)
on every CTA of its kernels, part "key_value" (dk, dv), part "query" (dq) and, when
the spec has one, part "params" (the gradients of the float arguments its sink or its
score reads),
against the CPU path's backward (tmixc run --grad) on the same inputs, o, lse and
d_o. Prints PASS/FAIL with ||emulated - cpu|| / ||cpu|| per gradient (bound 1e-2: the
operands and P, dS are rounded to 16 bits), or EMULATION ERROR and what the emulator
found. Tools from PATH."""
import math
import os
import re
import subprocess
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_vs_cpu  # noqa: E402
import simt  # noqa: E402

TOLERANCE = 1e-2


def kernel_launch(kernel_ir, name):
    """The size symbols and the grid (dim, tile) pairs of kernel `name`'s #tmix.kernel,
    and its shared bytes."""
    header = re.search(r'sym_name = "' + name + r'".*', kernel_ir)
    assert header, f"no kernel {name} in the lowered IR"
    abi = re.search(r"#tmix\.kernel<sizes = \[([^\]]*)\], grid = \[([^\]]*)\].*?"
                    r"shared_bytes = (\d+)", header.group(0))
    symbols = [s.strip() for s in abi.group(1).split(",") if s.strip()]
    grid = [entry.strip().rsplit(":", 1) for entry in abi.group(2).split(",")]
    return symbols, grid, int(abi.group(3))


def emulate(module, kernel_ir, name, values, sizes, corrupt):
    symbols, grid, shared_bytes = kernel_launch(kernel_ir, name)
    size_values = np.array([sizes[s] for s in symbols], np.int64)
    blocks = math.prod(-(-(int(d) if d.isdigit() else sizes[d]) // int(t)) for d, t in grid)
    function = simt.find_kernel(module, name)
    for block in range(blocks):
        try:
            simt.Cta(function, values + [size_values], block, shared_bytes,
                     corrupt=corrupt).run()
        except simt.EmulationError as error:
            print(f"EMULATION ERROR ({name}, CTA {block}): {error}")
            sys.exit(1)


def main():
    spec, kernel, sizes_text, work = sys.argv[1:5]
    fix, sets, uniform = gpu_vs_cpu.options(sys.argv[5:])
    corrupt = None
    for e in sys.argv[5:]:
        if e.startswith("--corrupt="):
            corrupt = e[len("--corrupt="):]
    sizes = {k: int(v) for k, v in (kv.split("=") for kv in sizes_text.split(","))}
    # The forward's manifest names the arguments, their dims and layouts: the inputs.
    manifest, (inputs, cpu, emulated) = gpu_vs_cpu.build_kernel(spec, kernel, "sm_80", fix,
                                                                work, "emu")
    args, results, _ = gpu_vs_cpu.manifest_of(manifest)
    gpu_vs_cpu.make_inputs(args, sizes, uniform, inputs)
    # The CPU backward: o, lse, d_o (drawn) and the gradients, under the backward's names.
    subprocess.run(["tmixc", "run", spec, f"--kernel={kernel}", f"--sizes={sizes_text}",
                    "--grad", f"--inputs={inputs}", f"--outputs={cpu}"] + sets, check=True,
                   stdout=subprocess.DEVNULL)
    spec_ir = subprocess.run(["tmixc", "emit", spec, "--stage=spec", f"--kernel={kernel}"],
                             check=True, capture_output=True, text=True).stdout
    lower = "--tmix-lower-attention-grad-to-nvgpu"
    if fix:
        lower += "=specialize=" + ",".join(fix)
    kernel_ir = subprocess.run(
        ["tmix-opt", "-", "--tmix-derive-attention-grad=recompute-dq=1",
         "--tmix-tile-attention-grad", lower,
         "--canonicalize", "--cse", "--mlir-print-op-generic"],
        input=spec_ir, check=True, capture_output=True, text=True).stdout
    module = simt.parse(kernel_ir)

    defaults = {}
    for line in open(manifest):
        words = line.split()
        if words and words[0] == "arg":
            for w in words:
                if w.startswith("default="):
                    defaults[words[1]] = float(w[len("default="):])
    for entry in sets:
        name, value = entry[len("--set="):].split("=")
        defaults[name] = float(value)

    def load(param, folder, name):
        stored = np.load(os.path.join(folder, name + ".npy")).astype(np.float32)
        return gpu_vs_cpu.logical_view(param, stored)

    # The backward's arguments: the forward's, then o, lse, d_o (and d_lse).
    values = []
    for arg in args:
        values.append(load(arg, inputs, arg["name"]) if arg["tensor"]
                      else np.full(simt.THREADS, defaults[arg["name"]]))
    output, lse_name = results[0], (results[1]["name"] if len(results) > 1 else "lse")
    values.append(load(output, cpu, output["name"]))
    values.append(np.load(os.path.join(cpu, lse_name + ".npy")).astype(np.float32))
    values.append(load(output, cpu, "d_" + output["name"]))
    if len(results) > 1:  # the forward has lse among its outputs: its loss may read it
        values.append(np.load(os.path.join(cpu, "d_" + lse_name + ".npy")).astype(np.float32))

    def gradients(params):
        stored = [np.full(np.load(os.path.join(cpu, "d_" + p["name"] + ".npy")).shape,
                          np.nan, np.float32) for p in params]
        return stored, [gpu_vs_cpu.logical_view(p, s) for p, s in zip(params, stored)]

    key_value, key_value_views = gradients(args[1:3])
    emulate(module, kernel_ir, kernel + "_grad_kv", values + key_value_views, sizes, corrupt)
    query, query_views = gradients(args[:1])
    emulate(module, kernel_ir, kernel + "_grad_q", values + query_views, sizes, corrupt)
    # Part "params": the gradients of the float arguments the sink or the score reads,
    # in argument order, those that the CPU path wrote.
    params = [a for a in args[3:]
              if os.path.exists(os.path.join(cpu, "d_" + a["name"] + ".npy"))]
    param_grads = []
    if params:
        param_grads, param_views = gradients(params)
        emulate(module, kernel_ir, kernel + "_grad_params", values + param_views, sizes,
                corrupt)

    report, failed = [], False
    for param, got in zip(args[:3] + params, query + key_value + param_grads):
        want = np.load(os.path.join(cpu, "d_" + param["name"] + ".npy")).astype(np.float64)
        error = np.linalg.norm(got.astype(np.float64) - want) / max(np.linalg.norm(want),
                                                                   1e-30)
        failed |= not error < TOLERANCE  # NaN (an element never written) fails
        report.append(f"d_{param['name']}={error:.2e}")
    print(("FAIL " if failed else "PASS ") + kernel + " grad " + " ".join(report))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
