"""emulated_vs_cpu.py SPEC KERNEL SIZES WORK [--fix=K=64] [--uniform=g=-3:0]
[--target=sm_90a] [--schedule=stages=1] [--corrupt=WHAT] [--eager]: the GPU kernel of a spec (tmix-lower-recurrence-to-nvgpu
or tmix-lower-attention-to-nvgpu, or with --target=sm_90a tmix-lower-attention-to-hopper;
then canonicalize, cse: the IR that the NVVM lowering takes) run by the emulator (simt.py,
hopper.py for sm_90a) on every CTA of its grid, against the CPU path (tmixc run) on the
same inputs (gpu_vs_cpu.py's), printing PASS/FAIL with ||emulated - cpu|| / ||cpu|| per
output (lse: max |emulated - cpu| / max(|cpu|, 1), under 1e-5), or EMULATION ERROR and
what the emulator found (a race, a read of a cp.async in flight, ...). Checks the
kernel's indexing, fragment layouts, barriers and numerics where no GPU is at hand.
--corrupt (the test-only faults of simt.py, or hopper.py for sm_90a) checks that the
emulator catches a wrong layout or protocol; --eager completes TMA copies as early as
possible instead of as late; --schedule builds the kernel with those values (tmixc
--schedule, the tmix-schedule pass). Tools from PATH."""
import math
import os
import subprocess
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_vs_cpu  # noqa: E402
import hopper  # noqa: E402
import simt  # noqa: E402

# Where the emulated launch puts things: the tensors (1 MiB apart) and the tensor maps.
TENSOR_ADDRESS = 0x7F0000000000
MAPS_ADDRESS = 0x7E0000000000
# The bound on lse, per element |emulated - cpu| / max(|cpu|, 1): the log of f32 sums of
# f32 exps, untouched by the 16-bit rounding of the operands and of P, it agrees to f32
# rounding (at most 3.3e-7 over the emulated cases with lse, 5e-8 in norm). One zero
# key too many moves it by 1.7e-3 at M = 100 (attention_variants.tmix's full_f32),
# where o moves by 6e-3 in norm: under o's bound.
LSE_TOLERANCE = 1e-5


def launch_of(path):
    """grid (pairs of dim, tile), shared_bytes and the scalar defaults of a manifest."""
    grid, shared, defaults, maps = [], 0, {}, []
    for line in open(path):
        words = line.split()
        if words and words[0] == "tma":  # tma ARG DTYPE box=COLUMNSxROWS swizzle=BYTES|none
            columns, rows = words[3][len("box="):].split("x")
            swizzle = words[4][len("swizzle="):]
            maps.append((words[1], words[2], int(columns), int(rows),
                         0 if swizzle == "none" else int(swizzle)))
        elif words and words[0] == "grid":
            grid = [w.rsplit(":", 1) for w in words[1:]]
        elif words and words[0] == "shared_bytes":
            shared = int(words[1])
        elif words and words[0] == "arg":
            for w in words:
                if w.startswith("default="):
                    defaults[words[1]] = float(w[len("default="):])
    return grid, shared, defaults, maps


def main():
    spec, kernel, sizes_text, work = sys.argv[1:5]
    fix, sets, uniform = gpu_vs_cpu.options(sys.argv[5:])
    target = "sm_80"
    corrupt, eager, schedule = None, False, None
    for e in sys.argv[5:]:
        if e.startswith("--target="):
            target = e[len("--target="):]
        elif e.startswith("--schedule="):
            schedule = e[len("--schedule="):]
        elif e.startswith("--corrupt="):
            corrupt = e[len("--corrupt="):]
        elif e == "--eager":
            eager = True
    sizes = {k: int(v) for k, v in (kv.split("=") for kv in sizes_text.split(","))}
    manifest, (inputs, cpu, emulated) = gpu_vs_cpu.build_kernel(spec, kernel, target, fix,
                                                                work, "emu", schedule)
    args, results, symbols = gpu_vs_cpu.manifest_of(manifest)
    grid, shared_bytes, defaults, maps = launch_of(manifest)
    spec_ir = subprocess.run(["tmixc", "emit", spec, "--stage=spec", f"--kernel={kernel}"],
                             check=True, capture_output=True, text=True).stdout
    kind = "recurrence" if spec_ir.lstrip().startswith("module {\n  tmix.recurrence") \
        or "tmix.recurrence @" + kernel in spec_ir else "attention"
    lower = f"--tmix-lower-{kind}-to-" + ("hopper" if target == "sm_90a" else "nvgpu")
    if fix:
        lower += "=specialize=" + ",".join(fix)
    # The schedule as tmixc chooses it: the target's default, the --schedule values on
    # top (block_m=64 on the command line is block-m=64 as a pass option); then the
    # tile program that the lowering runs.
    options = [f"target={target}"]
    for entry in schedule.split(",") if schedule else []:
        key, value = entry.split("=")
        options.append(key.replace("_", "-") + "=" + value)
    if fix:
        options.append("specialize=" + ",".join(fix))
    passes = ["--tmix-schedule=" + " ".join(options), "--tmix-tile-attention",
              "--tmix-tile-recurrence", lower]
    kernel_ir = subprocess.run(["tmix-opt", "-"] + passes + ["--canonicalize", "--cse",
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
    # Tensors as stored; the kernel gets their logical views (a layout permutes the axes).
    stored, values = [], []
    for arg in args:
        if arg["tensor"]:
            stored.append(np.load(os.path.join(inputs, arg["name"] + ".npy")).astype(np.float32))
            values.append(gpu_vs_cpu.logical_view(arg, stored[-1]))
        else:
            stored.append(None)
            values.append(np.full(simt.THREADS, defaults[arg["name"]]))
    stored_outputs, outputs = [], []
    for result in results:
        shape = [gpu_vs_cpu.dim_size(d, sizes) for d in result["dims"]]
        stored_outputs.append(np.full(shape, np.nan, np.float32))
        outputs.append(gpu_vs_cpu.logical_view(result, stored_outputs[-1]))
    size_values = np.array([sizes[s] for s in symbols], np.int64)
    module = simt.parse(kernel_ir)
    function = simt.find_kernel(module, kernel)
    blocks = math.prod(-(-(int(d) if d.isdigit() else sizes[d]) // int(t)) for d, t in grid)
    if target == "sm_90a":
        # The launch's global memory: each tensor argument's bytes at a device address,
        # and the tensor maps that the runtime would encode for them.
        memory, addresses = {}, {}
        for i, arg in enumerate(args):
            if arg["tensor"]:
                address = TENSOR_ADDRESS + (i << 26)  # as tmix-cuda-run --tensor-maps
                dtype = {"f16": np.float16, "f32": np.float32}.get(arg["dtype"])
                data = stored[i]
                if arg["dtype"] == "bf16":
                    raw = (data.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)
                elif dtype is not None:
                    raw = data.astype(dtype).view(np.uint8)
                else:
                    raw = data.astype(np.int32).view(np.uint8)
                memory[address] = raw.ravel()
                addresses[arg["name"]] = (address, data.shape, arg["dtype"])
        # The tensor maps: the cuTensorMapEncodeTiled arguments of the runtime itself
        # (tmix-cuda-run --tensor-maps), checked as the driver would.
        listing = subprocess.run(
            ["tmix-cuda-run", manifest, f"--inputs={inputs}", f"--sizes={sizes_text}",
             f"--tensor-maps={TENSOR_ADDRESS}"] + sets,
            check=True, capture_output=True, text=True).stdout.split("\n")
        tensor_maps = []
        for line, (name, dtype, _, _, _) in zip([l for l in listing if l], maps):
            words = line.split()
            assert words[:2] == ["tma", name], line
            params = {}
            for word in words[2:]:
                key, value = word.split("=")
                params[key] = [int(v) for v in value.split(",")] if "," in value or key in (
                    "globalDims", "globalStrides", "boxDims", "elementStrides") else int(value)
            assert params["dataType"] == hopper.DATA_TYPES[addresses[name][2]], \
                f"the tensor map of {name} has data type {params['dataType']}, " \
                f"the tensor is {addresses[name][2]}"
            hopper.check_tensor_map(params, memory)
            tensor_maps.append(params)
        assert len(tensor_maps) == len(maps)
        maps_arg = np.full(simt.THREADS, MAPS_ADDRESS, np.int64)
        try:
            for block in range(blocks):
                hopper.Cta(function, values + outputs + [size_values, maps_arg], block,
                           shared_bytes, tensor_maps, memory, corrupt=corrupt,
                           eager=eager).run()
        except hopper.EmulationError as error:
            print(f"EMULATION ERROR (CTA {block}): {error}")
            sys.exit(1)
    else:
        try:
            for block in range(blocks):
                simt.Cta(function, values + outputs + [size_values], block, shared_bytes,
                         corrupt=corrupt).run()
        except simt.EmulationError as error:
            print(f"EMULATION ERROR (CTA {block}): {error}")
            sys.exit(1)
    for result, value in zip(results, stored_outputs):
        np.save(os.path.join(emulated, result["name"] + ".npy"), value)
    print(gpu_vs_cpu.compare(kernel, results, cpu, emulated, {"lse": LSE_TOLERANCE}))


if __name__ == "__main__":
    main()
