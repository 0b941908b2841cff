"""Runs tmixc and tmix-cuda-run on hostile inputs: each must end with exactly one
`<tool>: error:` line on stderr and exit status 1, within a time limit: never a crash,
a hang, a sanitizer report, a partial output or a silent success.

    hostile_inputs.py EXAMPLES_DIR INPUTS_DIR WORK_DIR

Prints one line per probe (`ok NAME` or `FAIL NAME: why`) and a closing
`hostile inputs: N of M give one clear error`; exits 1 if any probe failed.
Every probe is a reproduction from issue 11 or a neighbour of one."""
import os
import re
import shutil
import stat
import struct
import subprocess
import sys

EXAMPLES, INPUTS, WORK = sys.argv[1:4]
TIME_LIMIT_S = 30
I64_MAX = str(2**63 - 1)
NO_DRIVER = {"TMIX_LIBCUDA": "/nonexistent/libcuda.so.1"}


def npy(path, shape, values=None, descr="<f4", header_shape=None):
    """Writes a .npy of `shape` (float32 unless `descr` says otherwise); `header_shape`
    lies about the shape in the header."""
    count = 1
    for extent in shape:
        count *= extent
    shown = header_shape if header_shape is not None else shape
    shape_repr = "(" + ", ".join(str(x) for x in shown) + ("," if len(shown) == 1 else "") + ")"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_repr)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    values = values if values is not None else [0.25 * (e % 7) - 0.5 for e in range(count)]
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % count, *values))


def fresh(name):
    path = os.path.join(WORK, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def causal_inputs(name, n=5):
    """A folder with q, k, v for examples/causal.tmix at B=1, H=1, N=n."""
    folder = fresh(name)
    for arg in "qkv":
        npy(os.path.join(folder, arg + ".npy"), [1, 1, n, 64])
    return folder


def causal(*options):
    return ["tmixc", "run", os.path.join(EXAMPLES, "causal.tmix")] + list(options)


SIZES = "--sizes=B=1,H=1,N=5"


def setup_probes():
    """(name, argv, extra environment, regex the error line must match)."""
    probes = []

    def probe(name, argv, expect="", env=None):
        probes.append((name, argv, env or {}, expect))

    # ---- schedules: sizes that reach tiles, buffers and allocations ----
    for key, value in [("block_n", I64_MAX), ("block_n", "2147483648"),
                       ("block_m", I64_MAX), ("block_n", "100000000"),
                       ("block_m", "1000000"), ("lanes", "0"), ("lanes", "65"),
                       ("vector_registers", "3"), ("block_n", "-1"), ("block_m", "0x10")]:
        probe("schedule-%s=%s" % (key, value),
              causal(SIZES, "--schedule=%s=%s" % (key, value)), "schedule")
    gla = os.path.join(EXAMPLES, "gla.tmix")
    gla_sizes = "--sizes=B=1,H=1,T=5,K=16,V=16"
    for value in [I64_MAX, "2147483648", "100000000"]:
        probe("schedule-chunk=" + value,
              ["tmixc", "run", gla, gla_sizes, "--schedule=chunked,chunk=" + value],
              "schedule")
    probe("schedule-form", ["tmixc", "run", gla, gla_sizes, "--schedule=sideways"],
          "schedule")
    # Each value in range, but their product makes too much scratch: the lowering's error.
    for stage in ["kernel", "llvm"]:
        probe("emit-%s-scratch" % stage,
              ["tmixc", "emit", os.path.join(EXAMPLES, "causal.tmix"), "--stage=" + stage,
               "--schedule=block_m=4096,block_n=4096"], "scratch")
    probe("run-scratch", causal(SIZES, "--schedule=block_m=4096,block_n=4096"), "scratch")

    # ---- sizes ----
    probe("sizes-2^32-heads", causal("--sizes=B=4294967296,H=4294967296,N=1"))
    probe("sizes-i64-max", causal("--sizes=B=1,H=1,N=" + I64_MAX))
    probe("sizes-beyond-i64", causal("--sizes=B=1,H=1,N=99999999999999999999"))
    probe("sizes-negative", causal("--sizes=B=1,H=-1,N=5"))

    # ---- scalars ----
    scalars = os.path.join(INPUTS, "scalars.tmix")
    for setting in ["offset=" + I64_MAX, "offset=-" + I64_MAX, "offset=1e3",
                    "gain=1e400", "gain=-1e400", "gain=nan", "gain=1e39", "gain=0x"]:
        probe("set-" + setting,
              ["tmixc", "run", scalars, "--sizes=B=1,H=1,N=5", "--set=" + setting], "--set")
    window = os.path.join(EXAMPLES, "sliding_window.tmix")
    probe("set-i32-overflow", ["tmixc", "run", window, "--sizes=B=1,H=2,HK=1,N=5",
                               "--set=window=2147483648"], "--set")

    # ---- --inputs ----
    folder = causal_inputs("fifo")
    os.unlink(os.path.join(folder, "q.npy"))
    os.mkfifo(os.path.join(folder, "q.npy"))
    probe("inputs-fifo", causal("--inputs=" + folder), "q.npy")
    folder = causal_inputs("devzero")
    os.unlink(os.path.join(folder, "k.npy"))
    os.symlink("/dev/zero", os.path.join(folder, "k.npy"))
    probe("inputs-dev-zero", causal("--inputs=" + folder), "k.npy")
    folder = causal_inputs("dangling")
    os.unlink(os.path.join(folder, "v.npy"))
    os.symlink(os.path.join(folder, "nowhere.npy"), os.path.join(folder, "v.npy"))
    probe("inputs-dangling-symlink", causal("--inputs=" + folder), "v.npy")
    folder = causal_inputs("missing")
    os.unlink(os.path.join(folder, "q.npy"))
    probe("inputs-missing-file", causal("--inputs=" + folder), "q.npy")
    folder = causal_inputs("directory")
    os.unlink(os.path.join(folder, "q.npy"))
    os.mkdir(os.path.join(folder, "q.npy"))
    probe("inputs-directory", causal("--inputs=" + folder), "q.npy")
    folder = causal_inputs("huge-header")
    npy(os.path.join(folder, "q.npy"), [1, 1, 5, 64],
        header_shape=[2**31, 2**31, 2**31, 64])
    probe("inputs-header-lies-huge", causal("--inputs=" + folder), "q.npy")
    folder = causal_inputs("short-header")
    npy(os.path.join(folder, "q.npy"), [1, 1, 5, 64], header_shape=[1, 1, 6, 64])
    probe("inputs-truncated-data", causal("--inputs=" + folder), "q.npy")
    folder = causal_inputs("truncated")
    with open(os.path.join(folder, "q.npy"), "r+b") as f:
        f.truncate(9)
    probe("inputs-truncated-header", causal("--inputs=" + folder), "q.npy")
    folder = causal_inputs("int-for-float")
    npy(os.path.join(folder, "q.npy"), [1, 1, 5, 64], descr="<i4",
        values=None)
    probe("inputs-wrong-dtype", causal("--inputs=" + folder), "q.npy")
    folder = causal_inputs("shape")
    npy(os.path.join(folder, "k.npy"), [1, 1, 6, 64])
    probe("inputs-shape-mismatch", causal("--inputs=" + folder))
    probe("inputs-not-a-folder", causal(SIZES, "--inputs=/nonexistent/folder"))

    # ---- --outputs and build -o ----
    target = os.path.join(fresh("outputs-symlink"), "target")
    with open(target, "w") as f:
        f.write("keep me\n")
    probe("outputs-not-a-folder", causal(SIZES, "--outputs=" + target))
    probe("build-into-a-file", ["tmixc", "build", os.path.join(EXAMPLES, "causal.tmix"),
                                "--target=sm_80", "-o", target])
    probe("build-unknown-target", ["tmixc", "build", os.path.join(EXAMPLES, "causal.tmix"),
                                   "--target=sm_75", "-o", fresh("build-sm75")])

    # ---- GPU manifests given to tmix-cuda-run (no driver: every check comes first) ----
    art = fresh("art")
    subprocess.run(["tmixc", "build", os.path.join(EXAMPLES, "causal.tmix"),
                    "--target=sm_80", "-o", art], check=True, capture_output=True)
    manifest_path = os.path.join(art, "causal.sm_80.manifest")
    with open(manifest_path) as f:
        manifest = f.read()
    cuda_inputs = causal_inputs("cuda-inputs", n=10)
    cuda_outputs = fresh("cuda-outputs")

    def manifest_probe(name, text, expect="manifest"):
        path = os.path.join(art, name + ".manifest")
        with open(path, "w") as f:
            f.write(text)
        probe("manifest-" + name, ["tmix-cuda-run", path, "--inputs=" + cuda_inputs,
                                   "--outputs=" + cuda_outputs], expect, NO_DRIVER)

    def replaced(pattern, replacement):
        text, count = re.subn(pattern, replacement, manifest, flags=re.M)
        assert count > 0, pattern
        return text

    manifest_probe("ptx-outside", replaced(r"^ptx .*$", "ptx ../../../../etc/passwd"))
    manifest_probe("ptx-absolute", replaced(r"^ptx .*$", "ptx /etc/passwd"))
    manifest_probe("cubin-outside", replaced(r"^cubin .*$", "cubin ../causal.sm_80.cubin"))
    manifest_probe("shared-2^32", replaced(r"^shared_bytes .*$", "shared_bytes 4294967296"))
    manifest_probe("shared-negative", replaced(r"^shared_bytes .*$", "shared_bytes -1"))
    manifest_probe("threads-0", replaced(r"^block_threads .*$", "block_threads 0"))
    manifest_probe("threads-huge", replaced(r"^block_threads .*$", "block_threads 4096"))
    manifest_probe("grid-tile-i64-max", replaced(r"N:64", "N:" + I64_MAX))
    manifest_probe("grid-tile-0", replaced(r"N:64", "N:0"))
    manifest_probe("arg-repeated", replaced(r"^(arg q .*)$", r"\1\n\1"))
    # The manifest's ABI no longer matches the kernel's parameters.
    manifest_probe("arg-missing", replaced(r"^arg k .*\n", ""), "parameters")
    manifest_probe("kernel-twice", replaced(r"^(kernel .*)$", r"\1\n\1"))
    manifest_probe("kernel-missing", replaced(r"^kernel .*\n", ""))
    manifest_probe("unknown-key", manifest + "launch_everything 1\n")
    manifest_probe("version-2", replaced(r"^tmix-gpu-manifest 1", "tmix-gpu-manifest 2"))
    manifest_probe("empty", "")
    manifest_probe("binary", "\x00\x01\x02\xff" * 64)
    if os.path.exists(os.path.join(art, "causal.sm_80.cubin")):  # built where ptxas is
        truncated = os.path.join(art, "truncated.cubin")
        with open(os.path.join(art, "causal.sm_80.cubin"), "rb") as f:
            cubin = f.read()
        with open(truncated, "wb") as f:
            f.write(cubin[: len(cubin) // 3])
        manifest_probe("cubin-truncated", replaced(r"^cubin .*$", "cubin truncated.cubin"),
                       "cubin")
        manifest_probe("cubin-missing", replaced(r"^cubin .*$", "cubin nothing.cubin"),
                       "cubin")
    manifest_probe("ptx-missing", replaced(r"^ptx .*$", "ptx nothing.ptx"), "PTX")
    fifo = os.path.join(art, "fifo.manifest")
    os.mkfifo(fifo)
    probe("manifest-fifo", ["tmix-cuda-run", fifo, "--inputs=" + cuda_inputs,
                            "--outputs=" + cuda_outputs], "manifest", NO_DRIVER)
    os.symlink("/dev/zero", os.path.join(art, "zero.manifest"))
    probe("manifest-dev-zero", ["tmix-cuda-run", os.path.join(art, "zero.manifest"),
                                "--inputs=" + cuda_inputs, "--outputs=" + cuda_outputs],
          "manifest", NO_DRIVER)
    run = ["tmix-cuda-run", manifest_path, "--inputs=" + cuda_inputs,
           "--outputs=" + cuda_outputs]
    probe("cuda-run-unknown-size", run + ["--sizes=Q=3"], "Q", NO_DRIVER)
    probe("cuda-run-unknown-scalar", run + ["--set=nothing=3"], "nothing", NO_DRIVER)
    probe("cuda-run-tensor-maps-garbage", run + ["--tensor-maps=garbage"], "tensor-maps",
          NO_DRIVER)
    return probes


def check(name, argv, env, expect):
    tool = argv[0]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                                timeout=TIME_LIMIT_S, env={**os.environ, **env},
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "no answer within %d s (a hang)" % TIME_LIMIT_S
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    if result.returncode < 0:
        return "killed by signal %d: %s" % (-result.returncode, result.stderr[-300:])
    if result.returncode != 1:
        return "exit status %d (stdout: %s)" % (result.returncode, result.stdout[-200:])
    if "Sanitizer" in result.stderr or "runtime error:" in result.stderr:
        return "a sanitizer report: " + result.stderr[-300:]
    if len(errors) != 1 or not errors[0].startswith(tool + ": error: "):
        return "expected one '%s: error:' line, got: %s" % (tool, result.stderr[-300:])
    if expect and not re.search(re.escape(expect), errors[0]):
        return "the error does not mention '%s': %s" % (expect, errors[0])
    return None


def main():
    os.makedirs(WORK, exist_ok=True)
    probes = setup_probes()
    failures = 0
    for name, argv, env, expect in probes:
        why = check(name, argv, env, expect)
        if why:
            failures += 1
            print("FAIL %s: %s" % (name, why))
        else:
            print("ok %s" % name)
    print("hostile inputs: %d of %d give one clear error" % (len(probes) - failures,
                                                              len(probes)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
