"""emulated_grad_vs_cpu.py SPEC KERNEL SIZES WORK [--fix=D=64] [--set=name=value]
[--uniform=name=lo:hi] [--corrupt=WHAT] [--rope-theta=T]: the GPU backward of an
attention spec (tmix-derive-attention-grad with recompute-dq, tmix-tile-attention-grad,
then tmix-lower-attention-grad-to-nvgpu, canonicalize, cse) run by the emulator (simt.py)
on every CTA of its kernels, part "key_value" (dk, dv), part "query" (dq) and, when
the spec has one, part "params" (the gradients of the float arguments its sink, its
score or its rope reads; rope's from the rows' terms that the other two store),
against the CPU path's backward (tmixc run --grad) on the same inputs, o, lse and
d_o. Prints PASS/FAIL with ||emulated - cpu|| / ||cpu|| per gradient (bound 1e-2: the
operands and P, dS are rounded to 16 bits), or EMULATION ERROR and what the emulator
found. With a learnable rope, each row's term of theta's gradient is checked against
float64 from the emulated dq and dk at theta = T (--rope-theta), and what rope reads
against the CPU's within the bound times the terms' cancellation, sum |row terms| /
|their sum|: the terms of q's rows and k's nearly cancel, and each carries the 16-bit
operands' error. Tools from PATH."""
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
    its shared bytes, and its workspace (words, per symbols), or None."""
    header = re.search(r'sym_name = "' + name + r'".*', kernel_ir)
    assert header, f"no kernel {name} in the lowered IR"
    abi = re.search(r"#tmix\.kernel<sizes = \[([^\]]*)\], grid = \[([^\]]*)\].*?"
                    r"shared_bytes = (\d+)([^>]*)>", header.group(0))
    symbols = [s.strip() for s in abi.group(1).split(",") if s.strip()]
    grid = [entry.strip().rsplit(":", 1) for entry in abi.group(2).split(",")]
    workspace = None
    words = re.search(r"workspace = (\d+)(?: per \[([^\]]*)\])?", abi.group(4))
    if words:
        workspace = (int(words.group(1)),
                     [s.strip() for s in (words.group(2) or "").split(",") if s.strip()])
    return symbols, grid, int(abi.group(3)), workspace


def emulate(module, kernel_ir, name, values, sizes, corrupt, order_seed=None,
            workspace_words=None):
    """Runs every CTA of kernel `name`. A kernel with a workspace gets one (its per-CTA
    counters zero, its other words `workspace_words` when given: the last launch's, as
    the runtime leaves them), and its CTAs run in the order of a permutation drawn with
    `order_seed`, so that any of a program's CTAs may be the last. Returns the
    workspace."""
    symbols, grid, shared_bytes, workspace = kernel_launch(kernel_ir, name)
    size_values = np.array([sizes[s] for s in symbols], np.int64)
    blocks = math.prod(-(-(int(d) if d.isdigit() else sizes[d]) // int(t)) for d, t in grid)
    function = simt.find_kernel(module, name)
    args = values + [size_values]
    order = range(blocks)
    words = None
    if workspace:
        count, per = workspace
        total = blocks + count * math.prod(sizes[s] for s in per)
        words = np.zeros(total, np.int64) if workspace_words is None else workspace_words
        assert words.size == total
        words[:blocks] = 0
        args.append(words)
        order = np.random.default_rng(order_seed).permutation(blocks)
    for block in order:
        try:
            simt.Cta(function, args, int(block), shared_bytes, corrupt=corrupt,
                     blocks=blocks).run()
        except simt.EmulationError as error:
            print(f"EMULATION ERROR ({name}, CTA {block}): {error}")
            sys.exit(1)
    return words


def main():
    spec, kernel, sizes_text, work = sys.argv[1:5]
    fix, sets, uniform = gpu_vs_cpu.options(sys.argv[5:])
    corrupt = None
    theta = None
    for e in sys.argv[5:]:
        if e.startswith("--corrupt="):
            corrupt = e[len("--corrupt="):]
        if e.startswith("--rope-theta="):
            theta = float(e[len("--rope-theta="):])
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

    defaults = gpu_vs_cpu.scalar_values(manifest, sets)

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

    # A learnable rope's theta (rope_rows): parts "key_value" and "query" store each
    # row's term of its gradient, f32 [B, HK, M] and [B, H, N], for part "params".
    derived = subprocess.run(
        ["tmix-opt", "-", "--tmix-derive-attention-grad=recompute-dq=1"], input=spec_ir,
        check=True, capture_output=True, text=True).stdout
    rope_rows = "rope_rows" in derived
    # What rope reads: the targets of the tmix.rope_grad's accumulates.
    rope_grad = re.search(r"tmix\.rope_grad \{(.*?)tmix\.yield", derived, re.S)
    rope_reads = set(re.findall(r"tmix\.accumulate %(\w+)", rope_grad.group(1))
                     if rope_grad else [])
    key_value, key_value_views = gradients(args[1:3])
    query, query_views = gradients(args[:1])
    rows = [np.full(view.shape[:3], np.nan, np.float32)
            for view in (key_value_views[0], query_views[0])] if rope_rows else []
    key_rows, query_rows = rows[:1], rows[1:]  # empty without rope_rows
    emulate(module, kernel_ir, kernel + "_grad_kv", values + key_value_views + key_rows,
            sizes, corrupt)
    emulate(module, kernel_ir, kernel + "_grad_q", values + query_views + query_rows, sizes,
            corrupt)
    # Part "params": the gradients of the float arguments the sink or the score reads,
    # in argument order, those that the CPU path wrote.
    params = [a for a in args[3:]
              if os.path.exists(os.path.join(cpu, "d_" + a["name"] + ".npy"))]
    param_grads = []
    if params:
        param_grads, param_views = gradients(params)
        name = kernel + "_grad_params"
        params_in = values + rows + param_views
        words = emulate(module, kernel_ir, name, params_in, sizes, corrupt, 1)
        if words is not None:
            # Rows split over CTAs: a second launch, its CTAs in another order over the
            # first's stale workspace, must give the same bits.
            first = [grad.copy() for grad in param_grads]
            for grad in param_grads:
                grad.fill(np.nan)
            emulate(module, kernel_ir, name, params_in, sizes, corrupt, 2, words)
            for param, before, after in zip(params, first, param_grads):
                if not np.array_equal(before, after, equal_nan=True):
                    print(f"FAIL {kernel} grad: d_{param['name']} differs between two "
                          "launches whose CTAs ran in different orders")
                    sys.exit(1)

    report, failed = [], False
    cancellation = 1.0
    if rope_rows:
        terms = np.concatenate([r.ravel() for r in rows]).astype(np.float64)
        cancellation = np.abs(terms).sum() / max(abs(terms.sum()), 1e-30)
        if theta is not None:
            # Each row's term against float64 from the emulated gradients: sum over the
            # pairs p of (dx[p + D/2] x[p] - dx[p] x[p + D/2]) pos (d angle / d theta).
            # The kernels sum dq and dk before rounding them to a 16-bit spec's type.
            rows_bound = 1e-5 if args[0]["dtype"] == "f32" else 1e-2
            for rows_of, x, dx in ((rows[0], values[1], key_value_views[0]),
                                   (rows[1], values[0], query_views[0])):
                dim = x.shape[3]
                half, p = dim // 2, np.arange(dim // 2)
                pos = np.arange(x.shape[2])[:, None]
                angle = pos * theta ** (-2.0 * p / dim)
                x, dx = x.astype(np.float64), dx.astype(np.float64)
                cross = dx[..., half:] * x[..., :half] - dx[..., :half] * x[..., half:]
                want = (cross * angle * (-2.0 * p / dim / theta)).sum(-1)
                error = np.abs(rows_of - want).max() / max(np.abs(want).max(), 1e-30)
                failed |= not error < rows_bound
                report.append(f"rows={error:.2e}")
        report.append(f"cancellation={cancellation:.1f}")
    for param, got in zip(args[:3] + params, query + key_value + param_grads):
        want = np.load(os.path.join(cpu, "d_" + param["name"] + ".npy")).astype(np.float64)
        error = np.linalg.norm(got.astype(np.float64) - want) / max(np.linalg.norm(want),
                                                                   1e-30)
        bound = TOLERANCE * (cancellation if param["name"] in rope_reads else 1.0)
        failed |= not error < bound  # NaN (an element never written) fails
        report.append(f"d_{param['name']}={error:.2e}")
    print(("FAIL " if failed else "PASS ") + kernel + " grad " + " ".join(report))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
