"""Writes a small .npy file without numpy: write_npy.py PATH DTYPE SHAPE VALUES.

DTYPE is f4, i4 or b1; SHAPE is comma-separated; VALUES is a comma-separated list,
or `runs:L1,L2,...` for packed document ids (L1 zeros, then L2 ones, ...), or
`pattern:P` for the bits of the integer P repeated, or `random:SEED` for values
uniform in [-1, 1] (f4)."""
import random
import struct
import sys

path, dtype, shape_text, values_text = sys.argv[1:5]
shape = tuple(int(x) for x in shape_text.split(","))
count = 1
for extent in shape:
    count *= extent
if values_text.startswith("runs:"):
    values = []
    for doc, length in enumerate(int(x) for x in values_text[5:].split(",")):
        values += [doc] * length
elif values_text.startswith("pattern:"):
    pattern = int(values_text[8:])
    values = [(pattern >> (e % 31)) & 1 for e in range(count)]
elif values_text.startswith("random:"):
    generator = random.Random(int(values_text[7:]))
    values = [generator.uniform(-1, 1) for _ in range(count)]
else:
    values = [(float if dtype == "f4" else int)(x) for x in values_text.split(",")]
assert len(values) == count, (len(values), count)
descr = {"f4": "<f4", "i4": "<i4", "b1": "|b1"}[dtype]
shape_repr = "(" + ", ".join(str(x) for x in shape) + ("," if len(shape) == 1 else "") + ")"
header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_repr)
header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    fmt = "<%d%s" % (count, {"f4": "f", "i4": "i", "b1": "B"}[dtype])
    f.write(struct.pack(fmt, *values))
