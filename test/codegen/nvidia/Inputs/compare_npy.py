"""compare_npy.py EXPECTED_DIR ACTUAL_DIR TOL NAME...: ||a - e|| / ||e|| per output
(infinite entries must match exactly); prints PASS or FAIL with the errors."""
import sys

import numpy as np

expected_dir, actual_dir, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
worst, report = 0.0, []
for name in sys.argv[4:]:
    e = np.load(f"{expected_dir}/{name}.npy").astype(np.float64)
    a = np.load(f"{actual_dir}/{name}.npy").astype(np.float64)
    finite = np.isfinite(e)
    err = float("inf") if a.shape != e.shape or not np.array_equal(finite, np.isfinite(a)) \
        else np.linalg.norm(a[finite] - e[finite]) / max(np.linalg.norm(e[finite]), 1e-30)
    worst = max(worst, err)
    report.append(f"{name}={err:.3e}")
print(("PASS " if worst < tol else "FAIL ") + " ".join(report))
