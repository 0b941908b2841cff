"""Writes random float32 .npy files, bf16-representable: random_npy.py DIR NAME=D0xD1x...
[:SCALE] ...: standard normal values times SCALE (1 when absent)."""
import sys

import numpy as np

rng = np.random.default_rng(1)
for item in sys.argv[2:]:
    name, shape = item.split("=")
    shape, _, scale = shape.partition(":")
    x = rng.standard_normal([int(d) for d in shape.split("x")]) * float(scale or 1)
    x = x.astype(np.float32)
    bits = x.view(np.uint32) & 0xFFFF0000  # truncated to bf16: every dtype sees the same
    np.save(f"{sys.argv[1]}/{name}.npy", bits.view(np.float32))
