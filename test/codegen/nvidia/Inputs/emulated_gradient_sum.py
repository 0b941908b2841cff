"""emulated_gradient_sum.py: runs the GPUs' tmix_gradient_sum (codegen/nvidia/
GradientSumKernel.cpp) in the CTA emulator (simt.py) on plans written here from
runtime/GradientReduction.h's contract, independently of the C++ planner, and checks
every element of the gradient bit for bit against the sum in double of its terms in
the plan's order (the host's sum), that the kernel writes nothing else, and that a
gradient whose size is not a multiple of the CTA's 128 threads is covered.

Usage: emulated_gradient_sum.py KERNEL_IR (tmix-opt's generic form of a module with the
kernel). Prints `OK <case>` per case, or FAIL / EMULATION ERROR and what differed."""
import itertools
import math
import sys

import numpy as np

import simt

THREADS = simt.THREADS


def row_major(shape):
    strides, after = [], 1
    for size in reversed(shape):
        strides.insert(0, after)
        after *= size
    return strides


def encode(sizes, gradient_strides, partial_strides, summed_sizes, summed_strides):
    return np.array([len(sizes), len(summed_sizes)] + sizes + gradient_strides +
                    partial_strides + summed_sizes + summed_strides, np.int64)


def expected(partial, plan_lists, count):
    sizes, gradient_strides, partial_strides, summed_sizes, summed_strides = plan_lists
    out = np.full(count, np.nan, np.float32)
    for index in itertools.product(*[range(s) for s in sizes]):
        base = sum(i * s for i, s in zip(index, partial_strides))
        total = 0.0
        for term in itertools.product(*[range(s) for s in summed_sizes]):
            total += float(partial[base + sum(j * s for j, s in zip(term, summed_strides))])
        out[sum(i * s for i, s in zip(index, gradient_strides))] = np.float32(total)
    return out


def run(function, name, partial_shape, plan_lists, rng):
    partial = (rng.standard_normal(math.prod(partial_shape)) *
               np.exp(rng.uniform(-20, 20, math.prod(partial_shape)))).astype(np.float32)
    count = math.prod(plan_lists[0])
    gradient = np.full(count, np.nan, np.float32)
    plan = encode(*plan_lists)
    blocks = -(-count // THREADS)
    for block in range(blocks):
        try:
            simt.Cta(function, [partial, gradient, plan], block, 0, blocks=blocks).run()
        except simt.EmulationError as error:
            print(f"EMULATION ERROR ({name}, CTA {block}): {error}")
            sys.exit(1)
    want = expected(partial, plan_lists, count)
    if not np.array_equal(gradient, want, equal_nan=True):
        bad = np.flatnonzero(~((gradient == want) | (np.isnan(gradient) & np.isnan(want))))
        print(f"FAIL {name}: {bad.size} of {count} elements differ, first at {bad[0]}: "
              f"{gradient[bad[0]]!r} against {want[bad[0]]!r}")
        sys.exit(1)
    print(f"OK {name} ({count} elements, {blocks} CTAs)")


def main():
    module = simt.parse(open(sys.argv[1]).read())
    function = simt.find_kernel(module, "tmix_gradient_sum")
    if function is None:
        print("FAIL: the module has no tmix_gradient_sum")
        sys.exit(1)
    rng = np.random.default_rng(7)

    # Mamba2's B: logical [B, G, N] stored [B, N, G], from the per-point [B, H, N]; the
    # H / G = 3 heads of group g are 3g .. 3g + 2. 2 x 5 x 33 = 330 elements: 3 CTAs,
    # the last partly idle.
    B, H, G, N = 2, 15, 5, 33
    stored = row_major([B, N, G])
    partial = row_major([B, H, N])
    run(function, "groups, permuted", [B, H, N],
        ([B, G, N], [stored[0], stored[2], stored[1]],
         [partial[0], (H // G) * partial[1], partial[2]], [H // G], [partial[1]]), rng)

    # A per-head constant A [H] from [B, H] (summed over the batch), and a scalar from
    # [B, T, H] (every dim summed, the last fastest).
    B, T, H = 3, 7, 4
    run(function, "over the batch", [B, H], ([H], [1], [1], [B], [H]), rng)
    run(function, "a scalar", [B, T, H], ([], [], [], [B, T, H], row_major([B, T, H])), rng)

    # Nothing summed (a plan of no summed dims copies): [B, H, T] into [B, T, H].
    B, H, T = 2, 3, 50
    stored = row_major([B, T, H])
    run(function, "a transpose", [B, H, T],
        ([B, H, T], [stored[0], stored[2], stored[1]], row_major([B, H, T]), [], []), rng)


if __name__ == "__main__":
    main()
