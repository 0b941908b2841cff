"""Copies a directory of .npy files, transposing some: the same tensors in another layout.

Usage: relayout.py SRC DST [NAMES:PERM | NAMES:repeat:AXIS:COUNT ...]
NAMES is one file stem or several (`q,k,v`); PERM is numpy's transpose axes
(`0,2,1,3` turns [B, H, T, D] into [B, T, H, D] and back); `repeat` repeats each index
of AXIS COUNT times in a row (numpy's repeat: group g becomes heads g*COUNT ..
g*COUNT + COUNT - 1, as a model repeats grouped heads on the host). Other files are
copied as they are, so that DST holds every tensor a `tmixc run --inputs=DST` needs."""
import os
import sys

import numpy as np

src, dst = sys.argv[1], sys.argv[2]
perms = {}
for item in sys.argv[3:]:
    names, how = item.split(":", 1)
    if how.startswith("repeat:"):
        _, axis, count = how.split(":")
        change = (lambda a, axis=int(axis), count=int(count): np.repeat(a, count, axis=axis))
    else:
        axes = tuple(int(axis) for axis in how.split(","))
        change = (lambda a, axes=axes: np.transpose(a, axes))
    for name in names.split(","):
        perms[name] = change
os.makedirs(dst, exist_ok=True)
for file in sorted(os.listdir(src)):
    if not file.endswith(".npy"):
        continue
    data = np.load(os.path.join(src, file))
    change = perms.pop(file[:-4], None)
    if change is not None:
        data = np.ascontiguousarray(change(data))
    np.save(os.path.join(dst, file), data)
if perms:
    sys.exit("relayout.py: no file for " + ", ".join(sorted(perms)))
