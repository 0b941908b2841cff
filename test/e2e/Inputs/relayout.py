"""Copies a directory of .npy files, transposing some: the same tensors in another layout.

Usage: relayout.py SRC DST [NAMES:PERM ...]
NAMES is one file stem or several (`q,k,v`); PERM is numpy's transpose axes
(`0,2,1,3` turns [B, H, T, D] into [B, T, H, D] and back). Other files are copied as
they are, so that DST holds every tensor a `tmixc run --inputs=DST` needs."""
import os
import sys

import numpy as np

src, dst = sys.argv[1], sys.argv[2]
perms = {}
for item in sys.argv[3:]:
    names, perm = item.split(":")
    for name in names.split(","):
        perms[name] = tuple(int(axis) for axis in perm.split(","))
os.makedirs(dst, exist_ok=True)
for file in sorted(os.listdir(src)):
    if not file.endswith(".npy"):
        continue
    data = np.load(os.path.join(src, file))
    perm = perms.pop(file[:-4], None)
    if perm is not None:
        data = np.ascontiguousarray(np.transpose(data, perm))
    np.save(os.path.join(dst, file), data)
if perms:
    sys.exit("relayout.py: no file for " + ", ".join(sorted(perms)))
