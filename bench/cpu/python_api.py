"""The Python package's cost: the call overhead above the kernel, and the same kernel
through Python and through `tmixc run --bench` (docs/benchmarks.md, "The Python
package"). Run with the checkout's .venv (torch, numpy) after a build:

    .venv/bin/python bench/cpu/python_api.py [--rounds 5]

Every figure is a median; the two sides of a comparison run interleaved, round by round,
so that drift in the machine's load falls on both.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tmix  # noqa: E402

SPEC = """
attention causal(q: f32[B, H, N, D], k: f32[B, H, N, D], v: f32[B, H, N, D])
    -> o: f32[B, H, N, D] {
  mask = j <= i
}
"""


def tmixc_median_ms(spec_path, sizes):
    """The kernel alone: `tmixc run --bench` (a median of 7 launches)."""
    out = subprocess.run([os.path.join(ROOT, "build", "bin", "tmixc"), "run", spec_path,
                          "--kernel=causal", f"--sizes={sizes}", "--bench"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"time_ms=([0-9.]+)", out).group(1))


def median_call_ms(call, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # torch's own pool must not compete with tmix's
    mod = tmix.compile(SPEC, "bench.tmix")
    kernel = mod["causal"]
    op = kernel.torch_op(namespace="tmix_bench")
    with tempfile.TemporaryDirectory() as folder:
        spec_path = os.path.join(folder, "bench.tmix")
        with open(spec_path, "w") as file:
            file.write(SPEC)
        cpu = platform.machine()
        if os.path.exists("/proc/cpuinfo"):
            with open("/proc/cpuinfo") as info:
                names = [line.split(":", 1)[1].strip() for line in info
                         if line.startswith("model name")]
            cpu = names[0] if names else cpu
        print(f"machine: {cpu}, {os.cpu_count()} cores; torch {torch.__version__}; "
              f"tmix {tmix.__version__}")

        # 1. Call overhead: a tiny problem, where the kernel costs microseconds.
        b, h, n, d = 1, 1, 16, 16
        sizes = f"B={b},H={h},N={n},D={d}"
        qn, kn, vn = (np.random.rand(b, h, n, d).astype(np.float32) for _ in range(3))
        qt, kt, vt = (torch.from_numpy(x) for x in (qn, kn, vn))
        out_n, out_t = np.empty_like(qn), torch.empty_like(qt)
        calls = {
            "numpy, out=": lambda: kernel(qn, kn, vn, out=out_n),
            "numpy, allocating": lambda: kernel(qn, kn, vn),
            "torch, allocating": lambda: kernel(qt, kt, vt),
            "torch, out=": lambda: kernel(qt, kt, vt, out=out_t),
            "torch op (torch.ops)": lambda: op(qt, kt, vt),
        }
        for call in calls.values():
            call()  # warm
        kernel_ms, per_call = [], {name: [] for name in calls}
        for _ in range(args.rounds):
            kernel_ms.append(tmixc_median_ms(spec_path, sizes))
            for name, call in calls.items():
                per_call[name].append(median_call_ms(call, 2000))
        kernel_us = statistics.median(kernel_ms) * 1e3
        print(f"\ncall overhead, causal f32 {sizes}: the kernel alone (tmixc run --bench) "
              f"{kernel_us:.1f} us")
        print("| call | median us per call | overhead above the kernel, us |")
        print("| --- | --- | --- |")
        for name, values in per_call.items():
            us = statistics.median(values) * 1e3
            print(f"| {name} | {us:.1f} | {us - kernel_us:.1f} |")

        # 2. A second process gets its kernel from the disk cache.
        child = ("import sys, time; t = time.perf_counter(); sys.path.insert(0, %r); "
                 "import tmix; t1 = time.perf_counter(); "
                 "tmix.compile(open(%r).read())['swa_alibi']; "
                 "print(1e3 * (time.perf_counter() - t1), tmix.cache_info()['compiled'])"
                 % (os.path.join(ROOT, "build", "python"),
                    os.path.join(ROOT, "examples", "swa_alibi.tmix")))
        cold, warm = [], []
        for round_ in range(args.rounds):
            cache = os.path.join(folder, f"cache{round_}")
            env = dict(os.environ, TMIX_CACHE_DIR=cache)
            for times in (cold, warm):
                ms, compiled = subprocess.run([sys.executable, "-c", child], env=env,
                                              capture_output=True, text=True,
                                              check=True).stdout.split()
                assert int(compiled) == (1 if times is cold else 0), "disk cache missed"
                times.append(float(ms))
        print(f"\nswa_alibi (examples/), compile + kernel in a new process: first "
              f"{statistics.median(cold):.1f} ms (LLVM runs), second "
              f"{statistics.median(warm):.1f} ms (from the disk cache)")

        # 3. The same kernel through Python and through tmixc, at a real size.
        b, h, n, d = 1, 8, 2048, 64
        sizes = f"B={b},H={h},N={n},D={d}"
        q, k, v = (torch.rand(b, h, n, d) for _ in range(3))
        out = torch.empty_like(q)
        kernel(q, k, v, out=out)
        python_ms, tmixc_ms = [], []
        for round_ in range(args.rounds):
            sides = [lambda: python_ms.append(median_call_ms(lambda: kernel(q, k, v, out=out), 7)),
                     lambda: tmixc_ms.append(tmixc_median_ms(spec_path, sizes))]
            for side in (sides if round_ % 2 == 0 else sides[::-1]):
                side()
        p, c = statistics.median(python_ms), statistics.median(tmixc_ms)
        print(f"\nsame kernel, causal f32 {sizes}: Python {p:.2f} ms, tmixc run --bench "
              f"{c:.2f} ms, Python / tmixc = {p / c:.3f}")


if __name__ == "__main__":
    main()
