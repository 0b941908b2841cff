#!/usr/bin/env python3
"""nan-propagation.test: inputs with NaN for Inputs/nan_attention.tmix, and the rows of
the outputs that are NaN.

Usage: nan_attention.py make DIR CASE   writes DIR/{q,k,v,sinks}.npy (B=1, H=2, N=40,
                                        D=16, random f32) with NaN placed by CASE
       nan_attention.py rows DIR        prints, per output in DIR, the (h, i) rows that
                                        hold a NaN, and those that are all NaN
"""
import os
import sys

import numpy as np

B, H, N, D = 1, 2, 40, 16

# Where each case puts its NaN: (tensor, index).
CASES = {
    "k_key5": [("k", (0, 0, 5, 3))],  # key 5 of head 0: rows 5.. of head 0 see it
    "k_key30": [("k", (0, 1, 30, 0))],  # a later KV tile of head 1
    "q_all": [("q", np.s_[...])],  # every score NaN: every row NaN, none empty
    "q_row7": [("q", (0, 1, 7, 2))],  # one query row
    "k_key12": [("k", (0, 0, 12, 1))],  # with first=10: rows 0..9 stay empty
    "sink_h1": [("sinks", (1,))],  # a NaN sink: every row of head 1
}


def make(path, case):
    rng = np.random.default_rng(0)
    tensors = {name: rng.uniform(-1, 1, (B, H, N, D)).astype(np.float32)
               for name in ("q", "k", "v")}
    tensors["sinks"] = rng.uniform(-1, 1, (H,)).astype(np.float32)
    for name, index in CASES[case]:
        tensors[name][index] = np.nan
    os.makedirs(path, exist_ok=True)
    for name, tensor in tensors.items():
        np.save(os.path.join(path, name + ".npy"), tensor)


def ranges(values):
    """[5, 6, 7, 9] -> '5-7,9'."""
    out, start = [], None
    for n, x in enumerate(values):
        if start is None:
            start = x
        if n + 1 == len(values) or values[n + 1] != x + 1:
            out.append(str(start) if start == x else "%d-%d" % (start, x))
            start = None
    return ",".join(out) or "none"


def rows(path):
    for name in ("o", "lse"):
        out = np.load(os.path.join(path, name + ".npy"))
        nan = np.isnan(out)
        for h in range(H):
            some = nan[0, h] if name == "lse" else nan[0, h].any(-1)
            every = nan[0, h] if name == "lse" else nan[0, h].all(-1)
            empty = (np.isneginf(out[0, h]) if name == "lse"
                     else (out[0, h] == 0).all(-1))
            print("%s h=%d nan=%s all_nan=%s empty=%s" % (
                name, h, ranges(list(np.flatnonzero(some))),
                ranges(list(np.flatnonzero(every))), ranges(list(np.flatnonzero(empty)))))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    else:
        rows(sys.argv[2])
