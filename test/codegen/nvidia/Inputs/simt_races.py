"""Checks simt.py's race detector (Accesses) on hand-made access patterns: each race
it must report, and the patterns it must let through. Prints one line per case."""
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from simt import Accesses, EmulationError  # noqa: E402


def accesses(*steps):
    """Runs (interval, write, flat indices, threads) steps on a fresh 8 x 8 view; returns
    the error's text, or 'ok'."""
    view = Accesses((8, 8))
    try:
        for interval, write, flat, threads in steps:
            view.record(np.array(flat), np.array(threads), interval, write)
    except EmulationError as error:
        return str(error)
    return "ok"


R, W = False, True
cases = {
    "two writers of one element": [(0, W, [3, 5, 3], [0, 1, 2])],
    "read of another's write": [(0, W, [7], [4]), (0, R, [7], [5])],
    "write over another's read": [(0, R, [9], [1]), (0, W, [9], [2])],
    "write over two readers": [(0, R, [9, 9], [1, 2]), (0, W, [9], [1])],
    "write over readers of two accesses": [(0, R, [9], [1]), (0, R, [9], [2]),
                                           (0, W, [9], [1])],
    "write over another's write": [(0, W, [2], [0]), (0, W, [2], [1])],
    # Allowed: a thread's own accesses, and anything after a barrier.
    "own write then read then write": [(0, W, [6], [3]), (0, R, [6], [3]),
                                       (0, W, [6], [3])],
    "shared reads": [(0, R, [1, 1, 2], [0, 1, 2]), (0, R, [1], [5])],
    "write after a barrier": [(0, R, [9, 9], [1, 2]), (1, W, [9], [3]),
                              (2, R, [9, 9], [0, 4])],
}
for name, steps in cases.items():
    print(f"{name}: {accesses(*steps)}")
