"""Writes float32 .npy inputs with chosen distributions for `tmixc run --inputs=DIR`.

Usage: recurrence_inputs.py DIR SEED NAMES=SHAPE:DIST ...

NAMES is one argument name or several (`q,k,v`), each drawn in turn; SHAPE is
`1x2x300x16`; DIST is one of
  uniform:LO:HI    uniform in [LO, HI]
  unitrows:LO:HI   uniform, then each last-axis row scaled to unit L2 norm
  const:C          every element C
`tmixc run --inputs` needs every tensor argument: give the plain ones uniform:-1:1.
Arrays are drawn in the order given, so appending names leaves the others' values."""
import os
import sys

import numpy as np

out_dir, seed = sys.argv[1], int(sys.argv[2])
os.makedirs(out_dir, exist_ok=True)
rng = np.random.default_rng(seed)


def draw(shape, kind, params):
    if kind == "uniform":
        return rng.uniform(float(params[0]), float(params[1]), shape)
    if kind == "unitrows":
        data = rng.uniform(float(params[0]), float(params[1]), shape)
        return data / np.maximum(np.linalg.norm(data, axis=-1, keepdims=True), 1e-30)
    if kind == "const":
        return np.full(shape, float(params[0]))
    sys.exit("unknown distribution '%s'" % kind)


for spec in sys.argv[3:]:
    names, rest = spec.split("=", 1)
    shape_text, dist = rest.split(":", 1)
    shape = tuple(int(x) for x in shape_text.split("x"))
    kind, *params = dist.split(":")
    for name in names.split(","):
        data = draw(shape, kind, params)
        np.save(os.path.join(out_dir, name + ".npy"), data.astype(np.float32))
