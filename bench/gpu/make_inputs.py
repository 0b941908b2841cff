"""Random inputs for one kernel of bench/gpu, from its manifest: float tensors from a
normal distribution (rounded to bf16 so that every path sees the same values), the
integer tensors the examples use (document ids, key lengths) with their meaning.
Prints the --sizes string. Usage: make_inputs.py MANIFEST DIR"""
import sys

import numpy as np

from manifest import parse_manifest

SIZES = {"B": 1, "H": 4, "HK": 2, "N": 200, "M": 233, "R": 399, "D": 64}


def bf16_round(x):
    bits = x.astype(np.float32).view(np.uint32)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.view(np.float32)


def main():
    manifest, out = parse_manifest(sys.argv[1]), sys.argv[2]
    sizes = {s: SIZES.get(s, 64) for s in manifest["sizes"]}
    sizes.update(manifest["specialize"])
    if "R" in sizes and "N" in sizes:
        sizes["R"] = 2 * sizes["N"] - 1  # relative-bias tables cover i - j + N - 1
    rng = np.random.default_rng(0)
    for arg in manifest["args"]:
        if not arg["tensor"]:
            continue
        shape = [sizes[d] if isinstance(d, str) else d for d in arg["dims"]]
        if arg["dtype"] in ("i32", "i64"):
            if arg["name"] == "doc":  # sorted document ids: a few packed documents
                ids = np.sort(rng.integers(0, 4, size=shape), axis=-1)
                value = ids.astype(np.int32)
            else:  # lengths (kv_len): between 1 and the key count
                value = rng.integers(1, sizes.get("M", sizes.get("N", 1)) + 1,
                                     size=shape).astype(np.int32)
        else:
            value = bf16_round(rng.standard_normal(shape))
        np.save(f"{out}/{arg['name']}.npy", value)
    print(",".join(f"{k}={v}" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
