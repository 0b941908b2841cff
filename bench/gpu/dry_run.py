"""Runs bench.py's whole flow on the CPU, for a development machine without a GPU: the
tmix kernels are replaced by tmixc's CPU path (through .npy files), the peers run on
torch's CPU backends (or report n/a), times are wall-clock. It checks the plumbing (the
manifests, the inputs, the argument names, sizes and scalars each kernel gets, the
references and the tables), not the GPU kernels and not the numbers.

Usage (bench/.venv has torch; artifacts from prepare.sh):
  bench/.venv/bin/python bench/gpu/dry_run.py --tmixc=build/bin/tmixc \
      --length=256 --batch=1 --heads=2 --rec-length=300 --rec-batch=1 --rec-heads=2 --reps=1
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench  # noqa: E402
from manifest import caller_results, parse_manifest  # noqa: E402


def spec_file(kernel):
    for path in glob.glob(f"{ROOT}/examples/*.tmix") + glob.glob(f"{HERE}/*.tmix"):
        if re.search(rf"^(attention|recurrence) {kernel}\(", open(path).read(), re.M):
            return path
    raise LookupError(f"no spec file defines {kernel}")


class CpuKernel:
    """bench.Kernel's interface, computed by `tmixc run` on the CPU."""
    tmixc = None

    def __init__(self, lib, path):
        self.path, self.m = path, parse_manifest(path)
        self.name = self.m["kernel"]
        # A recurrence's backward X_grad is `tmixc run X --grad`, its output's gradient
        # read from the inputs folder.
        self.run_as = (self.name[:-len("_grad")] if self.m["gradients_summed"]
                       else self.name)
        self.spec = spec_file(self.run_as)

    def __call__(self, tensors, scalars, sizes):
        import numpy as np
        import torch
        with tempfile.TemporaryDirectory() as work:
            for arg in self.m["args"]:
                if arg["tensor"]:
                    t = tensors[arg["name"]]
                    # Integers in their declared width (i64 sequence offsets).
                    t = t.float() if t.is_floating_point() else t.to(
                        torch.int64 if arg["dtype"] == "i64" else torch.int32)
                    np.save(f"{work}/{arg['name']}.npy", t.numpy())
            command = [self.tmixc, "run", self.spec, f"--kernel={self.run_as}",
                       # like the launch: the manifest's size symbols only
                       "--sizes=" + ",".join(f"{k}={sizes[k]}" for k in self.m["sizes"]),
                       f"--inputs={work}", f"--outputs={work}/out"]
            if self.run_as != self.name:
                command.append("--grad")
            for arg in self.m["args"]:  # like the launch: the manifest's scalars only
                if not arg["tensor"] and arg["name"] in scalars:
                    value = scalars[arg["name"]]
                    if arg["dtype"] in ("i32", "i64", "bool"):
                        value = int(value)
                    command.append(f"--set={arg['name']}={value}")
            subprocess.run(command, check=True, capture_output=True, text=True)
            for result in caller_results(self.m):
                out = torch.from_numpy(np.load(f"{work}/out/{result['name']}.npy"))
                tensors[result["name"]].copy_(out.to(tensors[result["name"]].dtype))


class CpuRuntime:
    """libtmix_cuda's device query, answering for a pretend sm_90."""

    def tmix_cuda_device(self, name, size, major, minor):
        name.value = b"dry run on the CPU (kernels: tmixc's CPU path)"
        major._obj.value, minor._obj.value = 9, 0
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tmixc", default=f"{ROOT}/build/bin/tmixc")
    args, rest = parser.parse_known_args()
    CpuKernel.tmixc = os.path.abspath(args.tmixc)
    bench.DEVICE = "cpu"
    bench.Kernel = CpuKernel
    bench.load_runtime = lambda path: CpuRuntime()
    sys.argv = [sys.argv[0], "--lib=(none)"] + rest
    return bench.main()


if __name__ == "__main__":
    sys.exit(main())
