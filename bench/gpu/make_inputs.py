"""Random inputs for one kernel of bench/gpu, from its manifest: float tensors from a
normal distribution (rounded to bf16 so that every path sees the same values), the
integer tensors the examples use (document ids, key lengths, packed sequences' offsets)
with their meaning, and DIR/scalars.txt: a value for each scalar without a default
(NAME=VALUE lines). Prints the --sizes string.
Usage: make_inputs.py MANIFEST DIR [SYMBOL=VALUE ...] (sizes other than SIZES')"""
import sys

import numpy as np

from manifest import parse_manifest, shape_of

SIZES = {"B": 1, "H": 4, "HK": 2, "G": 2, "N": 200, "M": 233, "R": 399, "D": 64, "T": 150}


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


# Scalars without a default (scalars.txt): fla's query scale as fla's tests draw it.
SCALARS = {"scale": 0.125}


def bf16_round(x):
    bits = x.astype(np.float32).view(np.uint32)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.view(np.float32)


def main():
    manifest, out = parse_manifest(sys.argv[1]), sys.argv[2]
    sizes = {s: SIZES.get(s, 64) for s in manifest["sizes"]}
    sizes.update(manifest["specialize"])
    # SYMBOL=VALUE arguments after DIR: other sizes than SIZES' (smaller data).
    sizes.update({k: int(v) for k, v in (a.split("=") for a in sys.argv[3:])})
    if "R" in sizes and "N" in sizes:
        sizes["R"] = 2 * sizes["N"] - 1  # relative-bias tables cover i - j + N - 1
    sequences = manifest["sequences"]
    if sequences:
        # Packed sequences: three of them, their offsets [N + 1] from 0 to T.
        offsets = next(a for a in manifest["args"] if a["name"] == sequences["offsets"])
        sizes[offsets["dims"][0].partition("+")[0]] = 3
    rng = np.random.default_rng(0)
    names = {arg["name"] for arg in manifest["args"]}
    recurrence, delta_rule = "T" in sizes, "beta" in names
    for arg in manifest["args"]:
        if not arg["tensor"]:
            continue
        shape = shape_of(arg, sizes)
        if sequences and arg["name"] == sequences["offsets"]:
            total = sizes[sequences["time"]]
            cuts = np.sort(rng.choice(np.arange(1, total), shape[0] - 2, replace=False))
            value = np.concatenate([[0], cuts, [total]]).astype(
                np.int64 if arg["dtype"] == "i64" else np.int32)
        elif arg["dtype"] in ("i32", "i64"):
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
    # Scalars without a default (fla's scale): a value for every path, one per line.
    with open(f"{out}/scalars.txt", "w") as f:
        for arg in manifest["args"]:
            if not arg["tensor"] and arg["default"] is None:
                f.write(f"{arg['name']}={SCALARS.get(arg['name'], 0.5)}\n")
    print(",".join(f"{k}={v}" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
