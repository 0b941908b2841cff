#!/usr/bin/env python3
"""functions.test: the built-in functions of docs/language.md at extreme arguments,
against numpy's float64 definitions (not tmix's reference evaluator, which runs the same
formulas as the kernel).

Usage: check_functions.py INPUTS_DIR WORK_DIR. tmixc from PATH. Prints `PASS <case>` or
`FAIL <case> ...` per case; exits 1 if any failed.
"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_numpy import attention  # noqa: E402  (the numpy attention of DSL.md)

REL = 1e-5    # f32 against float64, relative ...
# ... or absolute, for results whose exp(x) factor is below f32's normal range (x < -87):
# the kernels' exp flushes it to 0, so silu(-88.8) = -2.4e-37 may be 0.
TINY = 1e-35
ATTENTION_TOL = 1e-4  # max |got - want| / max |want| of an attention output

EXTREMES = [-np.inf, -1e4, -100.0, -88.8, -30.0, -2.0, -1.0, -0.5, -1e-7, 0.0, 1e-7,
            0.5, 1.0, 2.0, 30.0, 88.0, 100.0, np.inf, np.nan]


def expit(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def functions(x):
    """The float64 definitions: what each function means, written without tmix's tricks."""
    with np.errstate(all="ignore"):
        silu = np.where(np.isneginf(x), 0.0, x * expit(x))  # the limit at -inf is 0
        return {
            "sp": np.logaddexp(0.0, x),
            "ls": -np.logaddexp(0.0, -x),
            "si": silu,
            "re": np.maximum(x, 0.0),
            "el": np.where(x > 0, x, np.expm1(x)),
            "l1": np.log1p(x),
            "e2": np.exp2(x),
            "sg": expit(x),
        }


def close(got, want, rel=REL):
    """NaN and infinities exactly where the definition has them; elsewhere relative."""
    same_nan = np.array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    same_inf = np.array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    g, w = got[finite].astype(np.float64), want[finite]
    ok_finite = np.all(np.abs(g - w) <= rel * np.abs(w) + TINY)
    large = np.abs(w) >= TINY
    worst = np.max(np.abs(g - w)[large] / np.abs(w)[large]) if large.any() else 0.0
    return same_nan and same_inf and bool(ok_finite), worst


def close_tensor(got, want):
    """An attention output: max |got - want| / max |want|, as npy-numpy.test measures."""
    if not np.all(np.isfinite(got)):
        return False, np.inf
    worst = np.abs(got.astype(np.float64) - want).max() / max(np.abs(want).max(), 1e-30)
    return worst < ATTENTION_TOL, worst


def run(spec, kernel, sizes, tensors, work, sets=()):
    din, dout = os.path.join(work, kernel + "-in"), os.path.join(work, kernel + "-out")
    os.makedirs(din, exist_ok=True)
    for name, array in tensors.items():
        np.save(os.path.join(din, name + ".npy"), np.ascontiguousarray(array, dtype=np.float32))
    cmd = ["tmixc", "run", spec, "--kernel=" + kernel, "--sizes=" + sizes,
           "--inputs=" + din, "--outputs=" + dout] + ["--set=" + s for s in sets]
    subprocess.run(cmd, check=True, capture_output=True)
    return lambda name: np.load(os.path.join(dout, name + ".npy"))


def main():
    inputs, work = sys.argv[1:3]
    spec = os.path.join(inputs, "functions.tmix")
    failed = 0

    # ---- the element-wise functions, every extreme in every lane ----
    x = np.array(EXTREMES, dtype=np.float32)
    n = x.size
    xs = np.stack([np.roll(x, shift) for shift in range(3)])[None]  # [1, 3, n]
    assert n == 19, "functions.tmix reads x as 19 values per step"
    out = run(spec, "funcs", "B=1,T=3", {"x": xs}, work)
    for name, want in functions(xs.astype(np.float64)).items():
        ok, worst = close(out(name), want)
        print("%s %s worst_rel=%.2e" % ("PASS" if ok else "FAIL", name, worst))
        failed += not ok

    # ---- exp2 over its range, densely: the CPU's own polynomial (tmix-polynomial-math)
    # within 2e-7 relative (under 2 ulp), 0 below 2^-125.5 (TINY), inf from 2^128 ----
    sweep = np.random.default_rng(5).uniform(-140.0, 127.99, (1, 1000, n)).astype(np.float32)
    sweep[0, 0, :] = [-126.0, -125.5, -125.0, -0.5, 0.5, -1e-30, 1e-30, 127.0, 127.5,
                      127.99, 128.0, 200.0, -np.inf, np.inf, np.nan, 1.0, -1.0, 10.0, 64.0]
    out = run(spec, "funcs", "B=1,T=1000", {"x": sweep}, work)
    with np.errstate(over="ignore"):  # 2^128 and 2^200 are inf in f32
        want = np.exp2(sweep.astype(np.float64)).astype(np.float32).astype(np.float64)
    ok, worst = close(out("e2"), want, rel=2e-7)
    print("%s e2 sweep worst_rel=%.2e" % ("PASS" if ok else "FAIL", worst))
    failed += not ok

    # ---- pow and **: every base against every exponent, C's special cases ----
    exponents = np.array([-np.inf, -100.0, -3.0, -2.5, -2.0, -1.0, -0.5, -1e-7, 0.0, 1e-7,
                          0.5, 1.0, 2.0, 2.5, 3.0, 7.0, 30.0, np.inf, np.nan], np.float32)
    steps = exponents.size
    bases = np.broadcast_to(x, (steps, n))[None]                          # [1, T, 19]
    powers = np.stack([np.roll(exponents, step) for step in range(steps)])[None]
    out = run(spec, "pows", "B=1,T=%d" % steps, {"x": bases, "y": powers}, work)
    with np.errstate(all="ignore"):
        # What the f32 result should be: the float64 power, rounded to f32 (overflow to
        # inf, underflow to 0).
        want = np.power(bases.astype(np.float64), powers.astype(np.float64))
        want = want.astype(np.float32).astype(np.float64)
    for name in ("pw", "op"):
        ok, worst = close(out(name), want)
        print("%s %s worst_rel=%.2e" % ("PASS" if ok else "FAIL", name, worst))
        failed += not ok
    grouping = out("grouping")
    ok = bool(np.all(grouping == 2.0 ** 9 - 4.0 + 0.5))
    print("%s grouping %s" % ("PASS" if ok else "FAIL", np.unique(grouping)))
    failed += not ok

    # ---- l2norm: x / sqrt(sum(x^2) + 1e-6) at every scale ----
    base = np.random.default_rng(3).standard_normal(n)
    rows = [base, np.zeros(n), 1e-30 * base, 1e25 * base, 3e38 * np.sign(base),
            np.where(np.arange(n) == 4, np.inf, base), np.where(np.arange(n) == 7, np.nan, base)]
    vectors = np.stack(rows).astype(np.float32)[None]                   # [1, 7, 19]
    out = run(spec, "norms", "B=1,T=%d" % len(rows), {"x": vectors}, work)
    with np.errstate(all="ignore"):
        v = vectors.astype(np.float64)
        want = v / np.sqrt(np.sum(v * v, axis=-1, keepdims=True) + 1e-6)
    ok, worst = close(out("nrm"), want)
    print("%s l2norm worst_rel=%.2e" % ("PASS" if ok else "FAIL", worst))
    failed += not ok

    # ---- int(): T5's buckets in the kernel ----
    rng = np.random.default_rng(7)
    B, H, N, D = 1, 3, 150, 16
    q, k, v = (rng.uniform(-1, 1, (B, H, N, D)).astype(np.float32) for _ in range(3))
    rel = rng.uniform(-2, 2, (H, 16)).astype(np.float32)

    def bucket(d):
        with np.errstate(divide="ignore"):
            far = np.minimum(8 + np.trunc(np.log(d / 8.0) / np.log(12.5) * 8.0), 15)
        return np.where(d < 8, d, far).astype(np.int64)

    out = run(spec, "t5", "B=%d,H=%d,N=%d,D=%d" % (B, H, N, D),
              {"q": q, "k": k, "v": v, "rel": rel}, work)
    want, _ = attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                        1.0 / np.sqrt(D), lambda b, h, I, J: J <= I,
                        lambda b, h, I, J, s: s + rel[h][bucket(np.maximum(I - J, 0))])
    ok, worst = close_tensor(out("o"), want)
    print("%s t5 worst_rel=%.2e" % ("PASS" if ok else "FAIL", worst))
    failed += not ok

    # ---- int() at the edges: toward zero, saturating, NaN to 0 ----
    N = 40
    q, k, v = (rng.uniform(-1, 1, (B, 1, N, D)).astype(np.float32) for _ in range(3))
    for a, nan in [("2.9", False), ("-2.5", False), ("-0.5", False), ("1e30", False),
                   ("-1e30", False), ("inf", False), ("-inf", False), ("inf", True)]:
        value = float(a)
        if nan:
            window = 0
        elif np.isinf(value) or abs(value) >= 2.0 ** 63:
            window = 999 if value > 0 else -1
        else:
            window = int(np.clip(np.trunc(value), -1, 999))
        out = run(spec, "window_of", "B=%d,H=1,N=%d,D=%d" % (B, N, D), {"q": q, "k": k, "v": v},
                  work, sets=["a=" + a, "nan=" + ("true" if nan else "false")])
        want, _ = attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                            1.0 / np.sqrt(D), lambda b, h, I, J: (J <= I) & (I - J <= window))
        ok, worst = close_tensor(out("o"), want)
        label = "int(%s%s)" % (a, " - a" if nan else "")
        print("%s %s window=%d worst_rel=%.2e" % ("PASS" if ok else "FAIL", label, window, worst))
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
