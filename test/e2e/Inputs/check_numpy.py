#!/usr/bin/env python3
"""npy-numpy.test: an independent numpy implementation of the tmix language (DSL.md),
checked against `tmixc run --inputs=DIR --outputs=DIR`.

Usage: check_numpy.py INPUTS_DIR EXAMPLES_DIR WORK_DIR [CASE...]

For every case: make float32 (and int32) inputs with numpy at awkward sizes, save them
as .npy into WORK_DIR/<case>/in, run tmixc (from PATH) on the spec, load
WORK_DIR/<case>/out/<output>.npy and compare with a float64 evaluation of DSL.md's
formulas. Prints `PASS <case> ...` or `FAIL <case> ...` per case; exits 1 if any failed.

The reference follows DSL.md only:
  attention: s_ij = score(scale * dot(q_i, k_j)) over keys with mask true;
             o_i = sum_j softmax_j(s_ij) v_j, lse_i = log sum_j exp(s_ij) (the sink
             logit joins the denominator and lse, with no value row); a row with no key
             gives o = 0, lse = -inf. Query head h reads K/V head h // (H / HK).
             rope: half-split rotation of q at i and k at j by pos * theta^(-2p/D).
             Out-of-bounds tensor reads give 0.
  recurrence: the updates in order per step t, the output after them; the final state.
"""
import os
import shutil
import subprocess
import sys

import numpy as np

TOL = 1e-4  # f32 kernels against a float64 reference
BF16_TOL = 1e-2  # bf16 outputs (8 significant bits)


def alibi(h, H):
    return 2.0 ** (-8.0 * (h + 1) / H)


def softcap(x, c):
    return c * np.tanh(x / c)


def rope(x, pos, theta):
    """x: [L, D] rotated at positions pos: [L] (half-split / rotate_half)."""
    D = x.shape[-1]
    half = D // 2
    p = np.arange(half, dtype=np.float64)
    freq = theta ** (-2.0 * p / D)
    ang = pos[:, None].astype(np.float64) * freq[None, :]
    c, s = np.cos(ang), np.sin(ang)
    a, b = x[:, :half], x[:, half:]
    return np.concatenate([a * c - b * s, b * c + a * s], axis=1)


def attention(q, k, v, scale, mask_fn, score_fn=None, sink_fn=None, theta=None):
    """q: [B,H,N,D], k: [B,HK,M,D], v: [B,HK,M,DV]; all float64.
    mask_fn(b, h, I, J) -> bool [N,M]; score_fn(b, h, I, J, s) -> [N,M];
    sink_fn(b, h) -> float or None."""
    B, H, N, D = q.shape
    HK, M, DV = k.shape[1], k.shape[2], v.shape[3]
    assert H % HK == 0
    group = H // HK
    o = np.zeros((B, H, N, DV))
    lse = np.full((B, H, N), -np.inf)
    I = np.arange(N)[:, None] * np.ones((1, M), dtype=np.int64)
    J = np.ones((N, 1), dtype=np.int64) * np.arange(M)[None, :]
    for b in range(B):
        for h in range(H):
            hk = h // group
            qq, kk = q[b, h], k[b, hk]
            if theta is not None:
                qq = rope(qq, np.arange(N), theta)
                kk = rope(kk, np.arange(M), theta)
            s = scale * (qq @ kk.T)
            if score_fn is not None:
                s = score_fn(b, h, I, J, s)
            keep = mask_fn(b, h, I, J)
            s = np.where(keep, s, -np.inf)
            sink = sink_fn(b, h) if sink_fn is not None else None
            for i in range(N):
                row = s[i]
                logits = row[keep[i]]
                if sink is not None:
                    logits = np.concatenate([logits, [sink]])
                if logits.size == 0:
                    continue  # o = 0, lse = -inf
                mx = logits.max()
                denom = np.exp(logits - mx).sum()
                lse[b, h, i] = mx + np.log(denom)
                p = np.where(keep[i], np.exp(np.where(keep[i], row, 0.0) - mx), 0.0) / denom
                o[b, h, i] = p @ v[b, hk]
    return o, lse


def oob_read(table, *idx):
    """Element reads with out-of-bounds indices giving 0 (DSL.md)."""
    inb = np.ones(np.broadcast(*idx).shape, dtype=bool)
    clipped = []
    for ax, ix in enumerate(idx):
        ix = np.broadcast_to(ix, inb.shape)
        inb &= (ix >= 0) & (ix < table.shape[ax])
        clipped.append(np.clip(ix, 0, table.shape[ax] - 1))
    return np.where(inb, table[tuple(clipped)], 0)


# ---------------------------------------------------------------------------- cases


def rng_f32(rng, *shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def case_gqa_sink(rng, B, H, HK, N, M, D, DV, window=None, cap=5.0):
    q, k, v = rng_f32(rng, B, H, N, D), rng_f32(rng, B, HK, M, D), rng_f32(rng, B, HK, M, DV)
    # Big enough values that the cap bites: scores up to ~D * 9 / sqrt(D).
    q *= 3.0
    k *= 3.0
    sinks = rng_f32(rng, H, lo=-2.0, hi=2.0)
    sets = {"cap": cap}
    win = 1000000 if window is None else window
    if window is not None:
        sets["window"] = window

    def mask(b, h, I, J):
        diag = I + M - N
        return (J <= diag) & (diag - J < win)

    o, lse = attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                       1.0 / np.sqrt(D), mask, lambda b, h, I, J, s: softcap(s, cap),
                       lambda b, h: float(sinks[h]))
    return ({"q": q, "k": k, "v": v, "sinks": sinks}, sets, {"o": o, "lse": lse})


def case_gqa(rng, B, H, HK, N, M, D, DV, window=None, cap=5.0):
    q, k, v = rng_f32(rng, B, H, N, D), rng_f32(rng, B, HK, M, D), rng_f32(rng, B, HK, M, DV)
    q *= 3.0
    k *= 3.0
    sets = {"cap": cap}
    win = 1000000 if window is None else window
    if window is not None:
        sets["window"] = window

    def mask(b, h, I, J):
        diag = I + M - N
        return (J <= diag) & (diag - J < win)

    o, lse = attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                       1.0 / np.sqrt(D), mask, lambda b, h, I, J, s: softcap(s, cap))
    return ({"q": q, "k": k, "v": v}, sets, {"o": o, "lse": lse})


def case_bias(rng, B, H, HK, N, M, D, DV, R, qk_scale=0.3, kv_len=None):
    q, k, v = rng_f32(rng, B, H, N, D), rng_f32(rng, B, HK, M, D), rng_f32(rng, B, HK, M, DV)
    bias = rng_f32(rng, H, R, lo=-2.0, hi=2.0)
    if kv_len is None:
        kv_len = rng.integers(0, M + 1, size=B)
    kv_len = np.asarray(kv_len, dtype=np.int32)
    sets = {"qk_scale": qk_scale}

    def score(b, h, I, J, s):
        return s + oob_read(bias[h].astype(np.float64), I - J + M - 1) - alibi(h, H) * np.abs(I - J)

    o, lse = attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                       np.float64(np.float32(qk_scale)), lambda b, h, I, J: J < kv_len[b], score)
    return ({"q": q, "k": k, "v": v, "bias": bias, "kv_len": kv_len}, sets, {"o": o, "lse": lse})


def case_rope(rng, B, H, HK, N, M, D, DV):
    q, k, v = rng_f32(rng, B, H, N, D), rng_f32(rng, B, HK, M, D), rng_f32(rng, B, HK, M, DV)
    o, lse = attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                       1.0 / np.sqrt(D), lambda b, h, I, J: J <= I, theta=500.0)
    return ({"q": q, "k": k, "v": v}, {}, {"o": o, "lse": lse})


def case_gla(rng, B, H, T, K, V, zero_h0=False):
    q, k, v = rng_f32(rng, B, H, T, K), rng_f32(rng, B, H, T, K), rng_f32(rng, B, H, T, V)
    # log-space gates: log(sigmoid(x)) in about [-1.3, -0.3]
    x = rng.uniform(-1.0, 1.0, size=(B, H, T, K))
    g = np.log(1.0 / (1.0 + np.exp(-x))).astype(np.float32)
    h0 = np.zeros((B, H, K, V), np.float32) if zero_h0 else rng_f32(rng, B, H, K, V)
    o = np.zeros((B, H, T, V))
    ht = np.zeros((B, H, K, V))
    for b in range(B):
        for h in range(H):
            S = h0[b, h].astype(np.float64)
            for t in range(T):
                S = np.exp(g[b, h, t].astype(np.float64))[:, None] * S + np.outer(k[b, h, t], v[b, h, t])
                o[b, h, t] = q[b, h, t].astype(np.float64) @ S
            ht[b, h] = S
    return ({"q": q, "k": k, "v": v, "g": g, "h0": h0}, {}, {"o": o, "ht": ht})


def case_gated_delta(rng, B, H, T, K, V):
    q, k, v = rng_f32(rng, B, H, T, K), rng_f32(rng, B, H, T, K), rng_f32(rng, B, H, T, V)
    k64 = k.astype(np.float64)
    k = (k64 / np.linalg.norm(k64, axis=-1, keepdims=True)).astype(np.float32)  # L2-normalised keys
    alpha = rng.uniform(0.8, 1.0, size=(B, H, T)).astype(np.float32)
    beta = rng.uniform(0.0, 1.0, size=(B, H, T)).astype(np.float32)
    s0 = rng_f32(rng, B, H, K, V)
    o = np.zeros((B, H, T, V))
    sT = np.zeros((B, H, K, V))
    for b in range(B):
        for h in range(H):
            S = s0[b, h].astype(np.float64)
            for t in range(T):
                kt, vt = k[b, h, t].astype(np.float64), v[b, h, t].astype(np.float64)
                S = float(alpha[b, h, t]) * S
                S = S + float(beta[b, h, t]) * np.outer(kt, vt - kt @ S)
                o[b, h, t] = q[b, h, t].astype(np.float64) @ S
            sT[b, h] = S
    return ({"q": q, "k": k, "v": v, "alpha": alpha, "beta": beta, "s0": s0}, {},
            {"o": o, "sT": sT})


def bf16(x):
    """Round float32 to the nearest bf16 (ties to even), kept as float32: what a bf16
    argument holds, so the reference sees the kernel's exact inputs."""
    x = np.ascontiguousarray(x, dtype=np.float32).copy()
    u = x.view(np.uint32)
    u[:] = ((u.astype(np.uint64) + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return x


def case_delta_net(rng, B, H, T):
    """examples/delta_net.tmix (bf16, K = V = 128) over a long sequence: keys
    L2-normalised and beta in [0, 1] as DeltaNet's callers do, so the state stays bounded."""
    K = V = 128
    q, v = bf16(rng_f32(rng, B, H, T, K)), bf16(rng_f32(rng, B, H, T, V))
    k = rng.standard_normal((B, H, T, K))
    k = bf16(k / np.linalg.norm(k, axis=-1, keepdims=True))
    beta = rng.uniform(0.0, 1.0, size=(B, H, T)).astype(np.float32)
    o = np.zeros((B, H, T, V))
    for b in range(B):
        for h in range(H):
            S = np.zeros((K, V))
            for t in range(T):
                kt = k[b, h, t].astype(np.float64)
                S = S + float(beta[b, h, t]) * np.outer(kt, v[b, h, t] - kt @ S)
                o[b, h, t] = q[b, h, t].astype(np.float64) @ S
    return ({"q": q, "k": k, "v": v, "beta": beta}, {}, {"o": o})


def case_retention(rng, B, H, T, K, V):
    q, k, v = rng_f32(rng, B, H, T, K), rng_f32(rng, B, H, T, K), rng_f32(rng, B, H, T, V)
    gamma = (1.0 - 2.0 ** (-5.0 - np.arange(H))).astype(np.float32)
    o = np.zeros((B, H, T, V))
    sT = np.zeros((B, H, K, V))
    for b in range(B):
        for h in range(H):
            S = np.zeros((K, V))
            for t in range(T):
                S = float(gamma[h]) * S + np.outer(k[b, h, t], v[b, h, t])
                o[b, h, t] = q[b, h, t].astype(np.float64) @ S
            sT[b, h] = S
    return ({"q": q, "k": k, "v": v, "gamma": gamma}, {}, {"o": o, "sT": sT})


def case_selective_scan(rng, B, C, T, N):
    x, Bm, Cm = rng_f32(rng, B, C, T), rng_f32(rng, B, T, N), rng_f32(rng, B, T, N)
    dt = rng.uniform(0.0, 0.5, size=(B, C, T)).astype(np.float32)
    A = -rng.uniform(0.1, 2.0, size=(C, N)).astype(np.float32)
    y = np.zeros((B, C, T))
    for b in range(B):
        for c in range(C):
            hs = np.zeros(N)
            for t in range(T):
                d = float(dt[b, c, t])
                hs = np.exp(d * A[c].astype(np.float64)) * hs + (d * float(x[b, c, t])) * Bm[b, t]
                y[b, c, t] = Cm[b, t].astype(np.float64) @ hs
    return ({"x": x, "dt": dt, "A": A, "Bm": Bm, "Cm": Cm}, {}, {"y": y})


def case_linear_attention(rng, B, H, T, K, V, eps=1e-6):
    q, k, v = rng_f32(rng, B, H, T, K), rng_f32(rng, B, H, T, K), rng_f32(rng, B, H, T, V)

    def phi(x):
        x = x.astype(np.float64)
        return np.maximum(x, 0.0) + np.exp(np.minimum(x, 0.0))

    o = np.zeros((B, H, T, V))
    for b in range(B):
        for h in range(H):
            S = np.zeros((K, V))
            z = np.zeros(K)
            for t in range(T):
                pq, pk = phi(q[b, h, t]), phi(k[b, h, t])
                S = S + np.outer(pk, v[b, h, t])
                z = z + pk
                o[b, h, t] = (pq @ S) / (pq @ z + np.float64(np.float32(eps)))
    return ({"q": q, "k": k, "v": v}, {"eps": eps}, {"o": o})


# (name, spec file (in INPUTS or EXAMPLES), kernel, sizes, builder, kwargs)
CASES = [
    # GQA 6 over 2 (and 3 over 3, 4 over 1), N != M both ways, sizes off every tile.
    ("gqa_sink", "np_attention.tmix", "np_gqa_sink",
     dict(B=2, H=6, HK=2, N=77, M=77, D=24, DV=40), case_gqa_sink, {}),
    ("gqa_sink_decode", "np_attention.tmix", "np_gqa_sink",
     dict(B=1, H=4, HK=1, N=5, M=130, D=16, DV=8), case_gqa_sink, dict(window=33)),
    ("gqa_sink_n1", "np_attention.tmix", "np_gqa_sink",
     dict(B=3, H=3, HK=3, N=1, M=1, D=8, DV=3), case_gqa_sink, {}),
    # N > M with a sink: rows with no key keep the sink alone, o = 0 and lse = sink.
    ("gqa_sink_masked_rows", "np_attention.tmix", "np_gqa_sink",
     dict(B=1, H=2, HK=1, N=9, M=4, D=8, DV=8), case_gqa_sink, {}),
    ("gqa_n_gt_m", "np_attention.tmix", "np_gqa",
     dict(B=2, H=4, HK=2, N=70, M=9, D=16, DV=16), case_gqa, dict(cap=2.5)),
    ("gqa_window0", "np_attention.tmix", "np_gqa",
     dict(B=1, H=2, HK=1, N=17, M=17, D=8, DV=8), case_gqa, dict(window=0)),
    ("gqa_window3", "np_attention.tmix", "np_gqa",
     dict(B=1, H=3, HK=1, N=257, M=257, D=32, DV=24), case_gqa, dict(window=3)),
    ("bias_oob", "np_attention.tmix", "np_bias",
     dict(B=4, H=4, HK=2, N=33, M=45, D=16, DV=8, R=50), case_bias, dict(kv_len=[45, 0, 7, 1])),
    ("bias_random_len", "np_attention.tmix", "np_bias",
     dict(B=3, H=2, HK=2, N=65, M=65, D=12, DV=20, R=129), case_bias, dict(qk_scale=0.7)),
    ("rope", "np_attention.tmix", "np_rope",
     dict(B=1, H=4, HK=2, N=61, M=67, D=32, DV=16), case_rope, {}),
    ("gla", "np_recurrence.tmix", "np_gla",
     dict(B=2, H=3, T=77, K=12, V=20), case_gla, {}),
    ("gla_t1", "np_recurrence.tmix", "np_gla",
     dict(B=1, H=2, T=1, K=8, V=8), case_gla, {}),
    ("gla_long", "np_recurrence.tmix", "np_gla",
     dict(B=1, H=1, T=1000, K=16, V=16), case_gla, {}),
    ("gated_delta", "np_recurrence.tmix", "np_gated_delta",
     dict(B=1, H=2, T=130, K=16, V=12), case_gated_delta, {}),
    ("retention", "np_recurrence.tmix", "np_retention",
     dict(B=2, H=3, T=67, K=8, V=8), case_retention, {}),
    ("selective_scan", "@selective_scan.tmix", "selective_scan",
     dict(B=2, C=5, T=77, N=16), case_selective_scan, {}),
    ("linear_attention", "@linear_attention.tmix", "linear_attention",
     dict(B=1, H=2, T=130, K=16, V=12), case_linear_attention, {}),
    # bf16 output: compared with BF16_TOL.
    ("delta_net_long", "@delta_net.tmix", "delta_net",
     dict(B=1, H=2, T=1000), case_delta_net, {}),
]


def builder_args(sizes, builder):
    names = builder.__code__.co_varnames[1:builder.__code__.co_argcount]
    return {n: sizes[n] for n in names if n in sizes}


def compare(name, got, want):
    """max |got - want| / max |want| over finite entries; -inf must match exactly."""
    if got.shape != want.shape:
        return None, "shape %s, expected %s" % (got.shape, want.shape)
    want_inf = np.isneginf(want)
    if not np.array_equal(np.isneginf(got), want_inf):
        return None, "-inf at %d places, expected %d" % (np.isneginf(got).sum(), want_inf.sum())
    fin = ~want_inf
    if not np.all(np.isfinite(got[fin])):
        return None, "non-finite values"
    g, w = got[fin].astype(np.float64), want[fin]
    if g.size == 0:
        return 0.0, None
    scale = max(np.abs(w).max(), 1e-30)
    return float(np.abs(g - w).max() / scale), None


def run_case(tmixc, inputs_dir, examples_dir, work, case, seed):
    name, spec, kernel, sizes, builder, kwargs = case
    spec_path = os.path.join(examples_dir, spec[1:]) if spec.startswith("@") else os.path.join(inputs_dir, spec)
    rng = np.random.default_rng(seed)
    tensors, sets, want = builder(rng, **builder_args(sizes, builder), **kwargs)
    din, dout = os.path.join(work, name, "in"), os.path.join(work, name, "out")
    shutil.rmtree(os.path.join(work, name), ignore_errors=True)
    os.makedirs(din)
    for arg, arr in tensors.items():
        np.save(os.path.join(din, arg + ".npy"), np.ascontiguousarray(arr))
    cmd = [tmixc, "run", spec_path, "--kernel=" + kernel,
           "--sizes=" + ",".join("%s=%d" % kv for kv in sizes.items()),
           "--inputs=" + din, "--outputs=" + dout]
    cmd += ["--set=%s=%s" % (k, v) for k, v in sets.items()]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return False, "tmixc exited %d: %s" % (proc.returncode, (proc.stderr + proc.stdout).strip())
    worst, msgs = 0.0, []
    for out, ref in want.items():
        path = os.path.join(dout, out + ".npy")
        if not os.path.exists(path):
            return False, "no %s" % path
        got = np.load(path)
        if got.dtype != np.float32:
            return False, "%s is %s, expected float32" % (out, got.dtype)
        err, why = compare(out, got, ref)
        if why:
            return False, "%s: %s" % (out, why)
        msgs.append("%s=%.2e" % (out, err))
        worst = max(worst, err)
    tol = BF16_TOL if builder is case_delta_net else TOL
    return worst < tol, " ".join(msgs)


def main():
    inputs_dir, examples_dir, work = sys.argv[1:4]
    only = set(sys.argv[4:])
    tmixc = shutil.which("tmixc")
    if tmixc is None:
        print("FAIL tmixc not found on PATH")
        return 1
    failed = 0
    for n, case in enumerate(CASES):
        if only and case[0] not in only:
            continue
        ok, msg = run_case(tmixc, inputs_dir, examples_dir, work, case, seed=1234 + n)
        print("%s %s %s" % ("PASS" if ok else "FAIL", case[0], msg))
        sys.stdout.flush()
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
