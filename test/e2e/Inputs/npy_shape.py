"""Prints the shape of each .npy file given, one per line, read from its header alone
(no numpy): npy_shape.py FILE..."""
import ast
import struct
import sys

for path in sys.argv[1:]:
    with open(path, "rb") as f:
        magic = f.read(6)
        assert magic == b"\x93NUMPY", path + " is not a .npy file"
        major = f.read(2)[0]
        length_format = "<H" if major == 1 else "<I"
        (length,) = struct.unpack(length_format, f.read(struct.calcsize(length_format)))
        header = ast.literal_eval(f.read(length).decode("latin1"))
    print(header["shape"])
