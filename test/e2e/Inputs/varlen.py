"""Runs a recurrence over packed sequences and checks it against its dense twin run on
each sequence alone.

Usage: varlen.py SPEC PACKED DENSE WORKDIR SEED LENGTHS [options] ARG...

LENGTHS is the comma-separated sequence lengths (0 allowed). Each ARG describes
tensor arguments as NAMES:ROLE:DIMS:DIST (NAMES one name or several, `q,k`, each drawn
in turn), DIMS `3x12` (empty for none), DIST
`uniform:LO:HI` or `unitrows:LO:HI` (each last-axis row scaled to unit norm):
  tok1  per step, packed [1, T, DIMS]; the twin reads [1, len, DIMS]
  tok   per step, packed [T, DIMS] (no batch); the twin reads [1, len, DIMS]
  seq   per sequence, packed [N, DIMS]; the twin reads [1, DIMS]
  const the same [DIMS] for both
and NAME:offsets:i32|i64 names the offsets (cu_seqlens) argument.
Options:
  --out=NAME:ROLE[:INIT]  an output (ROLE tok1, tok or seq); a seq output that holds
                          a final state gives INIT (an argument, or `zero`) for the
                          sequences of length 0, which the twin cannot run
  --tmixc=FLAG            passed to both tmixc runs (--set=scale=0.5, --schedule=...)
  --tol=X                 the relative error allowed between the two (default 1e-5)

The packed run uses --check (its output is printed, for FileCheck); then every
nonempty sequence runs through the twin alone, and each output of the packed run must
agree with the twin's over that sequence's steps (and a final state with the twin's,
or with INIT for an empty sequence). Prints `AGREE <name> rel=...` per output, exits 1
on any difference."""
import os
import subprocess
import sys

import numpy as np

spec, packed, dense, workdir, seed, lengths_text = sys.argv[1:7]
lengths = [int(x) for x in lengths_text.split(",")]
offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
steps, count = int(offsets[-1]), len(lengths)
rng = np.random.default_rng(int(seed))
outs, flags, tol, args = [], [], 1e-5, []
for item in sys.argv[7:]:
    if item.startswith("--out="):
        outs.append(item[len("--out="):].split(":"))
    elif item.startswith("--tmixc="):
        flags.append(item[len("--tmixc="):])
    elif item.startswith("--tol="):
        tol = float(item[len("--tol="):])
    else:
        args.append(item.split(":"))


def dims_of(text):
    return tuple(int(x) for x in text.split("x")) if text else ()


def draw(shape, kind, lo, hi):
    data = rng.uniform(float(lo), float(hi), shape)
    if kind == "unitrows":
        data /= np.maximum(np.linalg.norm(data, axis=-1, keepdims=True), 1e-30)
    elif kind != "uniform":
        sys.exit("unknown distribution '%s'" % kind)
    return data.astype(np.float32)


packed_dir = os.path.join(workdir, "packed")
os.makedirs(packed_dir, exist_ok=True)
inputs = {}
for arg in args:
    role = arg[1]
    for name in arg[0].split(","):
        if role == "offsets":
            data = offsets.astype(np.int32 if arg[2] == "i32" else np.int64)
        else:
            rest = dims_of(arg[2])
            shape = {"tok1": (1, steps) + rest, "tok": (steps,) + rest,
                     "seq": (count,) + rest, "const": rest}[role]
            data = draw(shape, *arg[3:6])
        inputs[name] = (role, data)
        np.save(os.path.join(packed_dir, name + ".npy"), data)


def run(kernel, directory, check):
    command = ["tmixc", "run", spec, "--kernel=" + kernel, "--inputs=" + directory,
               "--outputs=" + os.path.join(directory, "out")] + flags
    if check:
        command.append("--check")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("%s failed:\n%s%s" % (" ".join(command), result.stdout, result.stderr))
    return result.stdout


sys.stdout.write(run(packed, packed_dir, check=True))


def steps_of(role, data, first, last):
    """The steps first .. last of a per-step tensor, as the twin's [1, len, ...]."""
    return data[:, first:last] if role == "tok1" else data[first:last][None]


status = 0
worst = {name: 0.0 for name, *_ in outs}
packed_out = {name: np.load(os.path.join(packed_dir, "out", name + ".npy")).astype(np.float64)
              for name, *_ in outs}
for index, length in enumerate(lengths):
    first, last = int(offsets[index]), int(offsets[index + 1])
    if length == 0:
        for name, role, *init in outs:
            if role != "seq":
                continue
            expected = (np.zeros_like(packed_out[name][index]) if init[0] == "zero"
                        else inputs[init[0]][1][index].astype(np.float64))
            if not np.array_equal(packed_out[name][index], expected):
                print("DIFFER %s: the empty sequence %d does not keep its initial state"
                      % (name, index))
                status = 1
        continue
    directory = os.path.join(workdir, "seq%d" % index)
    os.makedirs(directory, exist_ok=True)
    for name, (role, data) in inputs.items():
        if role == "offsets":
            continue
        if role in ("tok1", "tok"):
            data = steps_of(role, data, first, last)
        elif role == "seq":
            data = data[index][None]
        np.save(os.path.join(directory, name + ".npy"), data)
    run(dense, directory, check=False)
    for name, role, *_ in outs:
        got = packed_out[name]
        got = steps_of(role, got, first, last) if role != "seq" else got[index][None]
        want = np.load(os.path.join(directory, "out", name + ".npy")).astype(np.float64)
        if got.shape != want.shape:
            sys.exit("%s of sequence %d: packed %s, twin %s" % (name, index, got.shape,
                                                                want.shape))
        norm = np.linalg.norm(want)
        rel = np.linalg.norm(got - want) / (norm if norm > 0 else 1.0)
        worst[name] = max(worst[name], rel)
for name, rel in worst.items():
    ok = rel <= tol and np.all(np.isfinite(packed_out[name]))
    status |= not ok
    print("%s %s rel=%.3e (%d sequences, lengths %s)"
          % ("AGREE" if ok else "DIFFER", name, rel, count, lengths_text))
sys.exit(status)
