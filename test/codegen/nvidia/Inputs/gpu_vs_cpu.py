"""gpu_vs_cpu.py SPEC KERNEL SIZES TARGET WORK [--fix=D=64] [--set=x=1] [--uniform=g=-3:0]:
builds KERNEL of SPEC for TARGET (tmixc build), makes random inputs from its manifest
(floats standard normal, or uniform in [LO, HI) for the tensors named by --uniform, such
as a recurrence's gates, all rounded to bf16; `doc` as sorted document ids, other
integer tensors as lengths in 1..M), runs the CPU path (tmixc run --outputs) and the GPU
(tmix-cuda-run) on them, and prints PASS/FAIL with ||gpu - cpu|| / ||cpu|| per output
(tolerance 1e-2). Tools from PATH."""
import os
import subprocess
import sys

import numpy as np


def dim_size(dim, sizes):
    """A manifest dim's value: a literal, a size symbol, or `N+1`."""
    if dim.isdigit():
        return int(dim)
    symbol, _, offset = dim.partition("+")
    return sizes[symbol] + (int(offset) if offset else 0)


def manifest_of(path):
    args, results, sizes = [], [], []
    for line in open(path):
        words = line.split("#")[0].split()
        if not words:
            continue
        if words[0] == "sizes":
            sizes = words[1:]
        elif words[0] == "sequences":  # sequences OFFSETS TIME: packed sequences
            for arg in args:
                if arg["name"] == words[1]:
                    arg["offsets_of"] = words[2]
        elif words[0] in ("arg", "result"):
            param = {"name": words[1], "tensor": words[2] == "tensor", "dtype": words[3],
                     "dims": [w for w in words[4:] if "=" not in w], "layout": None}
            for w in words[4:]:
                if w.startswith("layout="):  # stored position -> logical dim
                    param["layout"] = [int(p) for p in w[len("layout="):].split(",")]
            (args if words[0] == "arg" else results).append(param)
    return args, results, sizes


def logical_view(param, stored):
    """The array as the kernel indexes it: the stored one with its axes permuted by the
    manifest's layout (a view, not a copy)."""
    if not param["layout"]:
        return stored
    return np.transpose(stored, [param["layout"].index(l) for l in range(stored.ndim)])


def options(extra):
    """--fix=S=N (symbols fixed at compile time), --set=x=1, --uniform=NAME=LO:HI."""
    fix = [e[len("--fix="):] for e in extra if e.startswith("--fix=")]
    sets = [e for e in extra if e.startswith("--set=")]
    uniform = {}
    for e in extra:
        if e.startswith("--uniform="):
            name, bounds = e[len("--uniform="):].split("=")
            uniform[name] = tuple(float(b) for b in bounds.split(":"))
    return fix, sets, uniform


def scalar_values(manifest, sets):
    """The scalar arguments' values: the manifest's defaults, --set=x=1 on top."""
    values = {}
    for line in open(manifest):
        words = line.split()
        if words and words[0] == "arg":
            for w in words:
                if w.startswith("default="):
                    values[words[1]] = float(w[len("default="):])
    for entry in sets:
        name, value = entry[len("--set="):].split("=")
        values[name] = float(value)
    return values


def make_inputs(args, sizes, uniform, inputs):
    """Random inputs for the tensor arguments of a manifest, as .npy files in `inputs`."""
    rng = np.random.default_rng(7)
    for arg in args:
        if not arg["tensor"]:
            continue
        shape = [dim_size(d, sizes) for d in arg["dims"]]
        if "offsets_of" in arg:
            # Offsets that split T into the sequences: 0, sorted cut points, T.
            steps = sizes[arg["offsets_of"]]
            cuts = np.sort(rng.integers(0, steps + 1, size=shape[0] - 2))
            value = np.concatenate([[0], cuts, [steps]]).astype(
                np.int64 if arg["dtype"] == "i64" else np.int32)
        elif arg["dtype"] in ("i32", "i64"):
            if arg["name"] == "doc":
                value = np.sort(rng.integers(0, 4, size=shape), axis=-1)
            else:
                value = rng.integers(1, sizes.get("M", sizes.get("N", 1)) + 1, size=shape)
            value = value.astype(np.int32)
        else:
            if arg["name"] in uniform:
                x = rng.uniform(*uniform[arg["name"]], size=shape).astype(np.float32)
            else:
                x = rng.standard_normal(shape).astype(np.float32)
            value = (x.view(np.uint32) & 0xFFFF0000).view(np.float32)
        np.save(os.path.join(inputs, arg["name"] + ".npy"), value)


TOLERANCE = 1e-2  # ||gpu - cpu|| / ||cpu||: 16-bit operands and P


def compare(kernel, results, cpu, gpu, elementwise=None):
    """PASS/FAIL with ||gpu - cpu|| / ||cpu|| per output (tolerance 1e-2); an output
    named in `elementwise` (name -> bound) is held to max |gpu - cpu| / max(|cpu|, 1)
    (relative above 1, absolute below) under its own bound instead."""
    elementwise = elementwise or {}
    failed, report = False, []
    for result in results:
        e = np.load(os.path.join(cpu, result["name"] + ".npy")).astype(np.float64)
        a = np.load(os.path.join(gpu, result["name"] + ".npy")).astype(np.float64)
        finite = np.isfinite(e)
        bound = elementwise.get(result["name"])
        if a.shape != e.shape or not np.array_equal(finite, np.isfinite(a)):
            err = float("inf")
        elif bound is not None:
            err = float(np.max(np.abs(a[finite] - e[finite]) /
                               np.maximum(np.abs(e[finite]), 1.0), initial=0.0))
        else:
            err = np.linalg.norm(a[finite] - e[finite]) / max(np.linalg.norm(e[finite]), 1e-30)
        failed |= not err < (TOLERANCE if bound is None else bound)
        report.append(f"{result['name']}={err:.3e}")
    return ("FAIL " if failed else "PASS ") + kernel + " " + " ".join(report)


def build_kernel(spec, kernel, target, fix, work, run, schedule=None):
    """`tmixc build` of one kernel into WORK/art (symbols `fix` fixed, `--schedule`
    values `schedule`); returns its manifest and the folders WORK/in, WORK/cpu and
    WORK/`run` (inputs, the CPU path's outputs, the run's outputs), made."""
    folders = [os.path.join(work, d) for d in ("in", "cpu", run)]
    for d in folders:
        os.makedirs(d, exist_ok=True)
    art = os.path.join(work, "art")
    build = ["tmixc", "build", spec, f"--target={target}", f"--kernel={kernel}", "-o", art]
    if fix:
        build.append("--sizes=" + ",".join(fix))
    if schedule:
        build.append("--schedule=" + schedule)
    subprocess.run(build, check=True)
    return os.path.join(art, f"{kernel}.{target}.manifest"), folders


def main():
    spec, kernel, sizes_text, target, work = sys.argv[1:6]
    extra = sys.argv[6:]
    fix, sets, uniform = options(extra)
    sizes = dict(kv.split("=") for kv in sizes_text.split(","))
    sizes = {k: int(v) for k, v in sizes.items()}
    manifest, (inputs, cpu, gpu) = build_kernel(spec, kernel, target, fix, work, "gpu")
    args, results, _ = manifest_of(manifest)
    make_inputs(args, sizes, uniform, inputs)
    subprocess.run(["tmixc", "run", spec, f"--kernel={kernel}", f"--sizes={sizes_text}",
                    f"--inputs={inputs}", f"--outputs={cpu}"] + sets, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["tmix-cuda-run", manifest, f"--inputs={inputs}", f"--outputs={gpu}"]
                   + sets, check=True)
    print(compare(kernel, results, cpu, gpu))


if __name__ == "__main__":
    main()
