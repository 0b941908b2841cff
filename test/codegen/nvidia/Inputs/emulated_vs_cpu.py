"""emulated_vs_cpu.py SPEC KERNEL SIZES WORK [--fix=K=64] [--uniform=g=-3:0]: the GPU
kernel of a spec (tmix-lower-recurrence-to-nvgpu or tmix-lower-attention-to-nvgpu,
canonicalize, cse: the IR that the NVVM lowering takes) run by the SIMT emulator of simt.py on every CTA of its grid,
against the CPU path (tmixc run) on the same inputs (gpu_vs_cpu.py's), printing
PASS/FAIL with ||emulated - cpu|| / ||cpu|| per output. Checks the kernel's indexing,
fragment layouts, barriers and numerics where no GPU is at hand. Tools from PATH."""
import math
import os
import subprocess
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_vs_cpu  # noqa: E402
import simt  # noqa: E402


def launch_of(path):
    """grid (pairs of dim, tile), shared_bytes and the scalar defaults of a manifest."""
    grid, shared, defaults = [], 0, {}
    for line in open(path):
        words = line.split()
        if words and words[0] == "grid":
            grid = [w.rsplit(":", 1) for w in words[1:]]
        elif words and words[0] == "shared_bytes":
            shared = int(words[1])
        elif words and words[0] == "arg":
            for w in words:
                if w.startswith("default="):
                    defaults[words[1]] = float(w[len("default="):])
    return grid, shared, defaults


def main():
    spec, kernel, sizes_text, work = sys.argv[1:5]
    fix, sets, uniform = gpu_vs_cpu.options(sys.argv[5:])
    sizes = {k: int(v) for k, v in (kv.split("=") for kv in sizes_text.split(","))}
    art, inputs, cpu, emulated = (os.path.join(work, d) for d in ("art", "in", "cpu", "emu"))
    for d in (inputs, cpu, emulated):
        os.makedirs(d, exist_ok=True)
    build = ["tmixc", "build", spec, "--target=sm_80", f"--kernel={kernel}", "-o", art]
    if fix:
        build.append("--sizes=" + ",".join(fix))
    subprocess.run(build, check=True)
    manifest = os.path.join(art, f"{kernel}.sm_80.manifest")
    args, results, symbols = gpu_vs_cpu.manifest_of(manifest)
    grid, shared_bytes, defaults = launch_of(manifest)
    spec_ir = subprocess.run(["tmixc", "emit", spec, "--stage=spec", f"--kernel={kernel}"],
                             check=True, capture_output=True, text=True).stdout
    kind = "recurrence" if spec_ir.lstrip().startswith("module {\n  tmix.recurrence") \
        or "tmix.recurrence @" + kernel in spec_ir else "attention"
    lower = f"--tmix-lower-{kind}-to-nvgpu"
    if fix:
        lower += "=specialize=" + ",".join(fix)
    kernel_ir = subprocess.run(["tmix-opt", "-", lower, "--canonicalize", "--cse",
                                "--mlir-print-op-generic"], input=spec_ir, check=True,
                               capture_output=True, text=True).stdout
    gpu_vs_cpu.make_inputs(args, sizes, uniform, inputs)
    subprocess.run(["tmixc", "run", spec, f"--kernel={kernel}", f"--sizes={sizes_text}",
                    f"--inputs={inputs}", f"--outputs={cpu}"] + sets, check=True,
                   stdout=subprocess.DEVNULL)

    # ---- the kernel's ABI: tensors, scalars, outputs, sizes ----
    for entry in sets:  # --set=name=value overrides a scalar's default
        name, value = entry[len("--set="):].split("=")
        defaults[name] = float(value)
    values = []
    for arg in args:
        if arg["tensor"]:
            values.append(np.load(os.path.join(inputs, arg["name"] + ".npy")).astype(np.float32))
        else:
            values.append(np.full(simt.THREADS, defaults[arg["name"]]))
    outputs = []
    for result in results:
        shape = [int(d) if d.isdigit() else sizes[d] for d in result["dims"]]
        outputs.append(np.full(shape, np.nan, np.float32))
    size_values = np.array([sizes[s] for s in symbols], np.int64)
    module = simt.parse(kernel_ir)
    function = simt.find_kernel(module, kernel)
    blocks = math.prod(-(-(int(d) if d.isdigit() else sizes[d]) // int(t)) for d, t in grid)
    for block in range(blocks):
        simt.Cta(function, values + outputs + [size_values], block, shared_bytes).run()
    for result, value in zip(results, outputs):
        np.save(os.path.join(emulated, result["name"] + ".npy"), value)
    print(gpu_vs_cpu.compare(kernel, results, cpu, emulated))


if __name__ == "__main__":
    main()
