"""Writes float32 .npy inputs with chosen distributions for `tmixc run --inputs=DIR`.

Usage: recurrence_inputs.py DIR SEED NAME=SHAPE:DIST ...

SHAPE is `1x2x300x16`; DIST is one of
  uniform:LO:HI    uniform in [LO, HI]
  unitrows:LO:HI   uniform, then each last-axis row scaled to unit L2 norm
  const:C          every element C
Arguments not written here are made by tmixc (uniform in [-1, 1])."""
import os
import sys

import numpy as np

out_dir, seed = sys.argv[1], int(sys.argv[2])
os.makedirs(out_dir, exist_ok=True)
rng = np.random.default_rng(seed)
for spec in sys.argv[3:]:
    name, rest = spec.split("=", 1)
    shape_text, dist = rest.split(":", 1)
    shape = tuple(int(x) for x in shape_text.split("x"))
    kind, *params = dist.split(":")
    if kind == "uniform":
        data = rng.uniform(float(params[0]), float(params[1]), shape)
    elif kind == "unitrows":
        data = rng.uniform(float(params[0]), float(params[1]), shape)
        data /= np.maximum(np.linalg.norm(data, axis=-1, keepdims=True), 1e-30)
    elif kind == "const":
        data = np.full(shape, float(params[0]))
    else:
        sys.exit("unknown distribution '%s'" % kind)
    np.save(os.path.join(out_dir, name + ".npy"), data.astype(np.float32))
