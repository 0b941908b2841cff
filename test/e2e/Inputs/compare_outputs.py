"""Compares the .npy outputs of two `tmixc run --outputs` directories.

Usage: compare_outputs.py DIR_A DIR_B TOL
Prints `AGREE name rel=<x>` per output when ‖a − b‖ / ‖b‖ <= TOL, else `DIFFER ...`;
exits 1 if any differs."""
import os
import sys

import numpy as np

dir_a, dir_b, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
status = 0
for name in sorted(os.listdir(dir_b)):
    a = np.load(os.path.join(dir_a, name)).astype(np.float64)
    b = np.load(os.path.join(dir_b, name)).astype(np.float64)
    norm = np.linalg.norm(b)
    rel = np.linalg.norm(a - b) / (norm if norm > 0 else 1.0)
    ok = rel <= tol and np.all(np.isfinite(a))
    status |= not ok
    print("%s %s rel=%.3e" % ("AGREE" if ok else "DIFFER", name[:-4], rel))
sys.exit(status)
