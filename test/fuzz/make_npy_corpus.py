"""Writes the seed corpus of tmix-npy-fuzzer into test/fuzz/corpus/npy/ (run with a
python3 that has NumPy; the files are committed, this records how they were made).

Valid files of every dtype the reader knows, 0-d, empty, Fortran order, big-endian and
versions 2.0 and 3.0, then dtypes it refuses and malformed files, each under 4 KiB."""
import io
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "npy")
rng = np.random.default_rng(0)


def image(array, version=None):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
    return buffer.getvalue()


def handmade(descr, shape, data=b"", fortran="False"):
    """A version 1.0 file with a header written by hand, padded as NumPy pads it."""
    header = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + data


def save(name, data):
    assert len(data) < 4096, name
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


os.makedirs(OUT, exist_ok=True)
for old in os.listdir(OUT):
    os.remove(os.path.join(OUT, old))

floats = rng.standard_normal((2, 3))
for dtype in ["f2", "f4", "f8"]:
    save(f"{dtype}-2x3.npy", image(floats.astype("<" + dtype)))
for dtype in ["i1", "i2", "i4", "i8", "u1", "u2", "u4"]:
    save(f"{dtype}-3.npy", image(np.array([0, 1, 100], dtype="<" + dtype)))
save("i1-extremes.npy", image(np.array([-128, 127], dtype="i1")))
save("u4-max.npy", image(np.array([0, 2**32 - 1], dtype="<u4")))
save("bool-5.npy", image(np.array([True, False, True, True, False])))
save("bool-bytes.npy", image(np.array([0, 1, 2], dtype="u1")).replace(b"|u1", b"|b1"))
save("f4-0d.npy", image(np.float32(3.5).reshape(())))
save("f4-empty.npy", image(np.zeros((0,), np.float32)))
save("f4-2x0x3.npy", image(np.zeros((2, 0, 3), np.float32)))
save("f4-rank4.npy", image(rng.standard_normal((1, 2, 3, 4)).astype(np.float32)))
save("f4-nan-inf.npy", image(np.array([np.nan, np.inf, -np.inf, -0.0], np.float32)))
save("f4-fortran.npy", image(np.asfortranarray(floats.astype(np.float32))))
save("f4-big-endian.npy", image(floats.astype(">f4")))
save("i1-big-endian-marker.npy", image(np.array([1, 2], dtype="i1")).replace(b"|i1", b">i1"))
save("f4-native-order.npy", image(floats.astype("<f4")).replace(b"<f4", b"=f4"))
save("f4-v2.npy", image(floats.astype(np.float32), version=(2, 0)))
save("f4-v3.npy", image(floats.astype(np.float32), version=(3, 0)))
# Refused dtypes: complex, unicode, a structured record, a datetime.
save("c8.npy", image(np.array([1 + 2j], np.complex64)))
save("unicode.npy", image(np.array(["ab"], "<U2")))
save("structured.npy", image(np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])))
save("datetime.npy", image(np.array(["2024-01-01"], "datetime64[D]")))

# Malformed: each the valid float32 file with one thing wrong.
good = image(floats.astype(np.float32))
save("bad-magic.npy", b"\x93NUMPZ" + good[6:])
save("bad-version.npy", good[:6] + b"\x04\x00" + good[8:])
save("truncated-preamble.npy", good[:9])
save("truncated-header.npy", good[:40])
save("truncated-data.npy", good[:-5])
save("trailing-data.npy", good + b"\x00\x00\x00\x00")
save("header-length-too-big.npy", good[:8] + b"\xff\xff" + good[10:])
save("header-no-shape.npy", good.replace(b"'shape': (2, 3), ", b"'shapf': (2, 3), "))
save("header-negative-dim.npy", good.replace(b"(2, 3)", b"(2,-3)"))
save("header-huge-dims.npy", handmade("'<f4'", "(4294967296, 4294967296, 4294967296)"))
save("header-int64-overflow-then-zero.npy", handmade("'<f4'", "(4294967296, 2147483648, 0)"))
save("header-python2-long.npy", handmade("'<f4'", "(2L, 3L)", floats.astype("<f4").tobytes()))
save("header-list-shape.npy", handmade("'<f4'", "[2, 3]", floats.astype("<f4").tobytes()))
save("header-unclosed.npy", good.replace(b"}", b" "))
save("header-duplicate-key.npy", good.replace(b"'fortran_order'", b"'descr'        "))
save("empty.npy", b"")
