"""Random inputs for one kernel of bench/gpu, from its manifest: float tensors from a
normal distribution (rounded to bf16 so that every path sees the same values), the
integer tensors the examples use (document ids, key lengths) with their meaning.
Prints the --sizes string. Usage: make_inputs.py MANIFEST DIR"""
import sys

import numpy as np

from manifest import parse_manifest

SIZES = {"B": 1, "H": 4, "HK": 2, "N": 200, "M": 233, "R": 399, "D": 64, "T": 300}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# Recurrence inputs whose meaning bounds their values (a spec is a recurrence when it
# has the size T): decays below 1 so that states stay finite over T steps, as the
# models that use them draw them. Keys of a delta rule (a spec with `beta`) are unit
# rows, so that beta in [0, 2] keeps I - beta k k^T a contraction.
RECURRENCE_INPUTS = {
    "g": lambda rng, shape: np.log(sigmoid(rng.standard_normal(shape))) / 16,  # log decay
    "alpha": lambda rng, shape: rng.uniform(0.9, 1.0, shape),
    "beta": lambda rng, shape: rng.uniform(0.0, 2.0, shape),
    "gamma": lambda rng, shape: rng.uniform(0.9, 0.999, shape),
    "dt": lambda rng, shape: rng.uniform(0.001, 0.1, shape),
    "A": lambda rng, shape: -rng.uniform(1.0, 16.0, shape),
    "h0": lambda rng, shape: 0.1 * rng.standard_normal(shape),
}


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
    names = {arg["name"] for arg in manifest["args"]}
    recurrence, delta_rule = "T" in sizes, "beta" in names
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
        elif recurrence and arg["name"] in RECURRENCE_INPUTS:
            value = RECURRENCE_INPUTS[arg["name"]](rng, shape).astype(np.float32)
        else:
            value = rng.standard_normal(shape)
            if recurrence and arg["name"] == "k" and delta_rule:
                value /= np.linalg.norm(value, axis=-1, keepdims=True)
            value = bf16_round(value)
        np.save(f"{out}/{arg['name']}.npy", value)
    print(",".join(f"{k}={v}" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
