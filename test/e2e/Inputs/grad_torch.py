"""Cross-checks `tmixc run --grad` against torch autograd in float64.

usage: grad_torch.py TMIXC EXAMPLES_DIR WORK_DIR

For each case: random q, k, v, d_o (and extras) go to WORK_DIR/<case>/in as .npy,
`tmixc run --grad --inputs --outputs` computes dq, dk, dv, and torch's autograd
differentiates an independent float64 formulation of the same attention (SDPA where
it expresses the spec, else explicit softmax), on the inputs rounded to the spec's
dtype as tmixc reads them; the gradients of the extra float tensors (a bias table, sink
logits) too. Prints one line per case and `ALL PASS` at the end.
"""

import math
import os
import subprocess
import sys

import numpy as np
import torch

TMIXC, EXAMPLES, WORK = sys.argv[1:4]
BOUND = {torch.float32: 1e-5, torch.float16: 3e-3, torch.bfloat16: 1.5e-2}


def rope(x, theta):
    """Half-split rotation (DSL.md) at each position of dim 2."""
    d = x.shape[-1]
    half = d // 2
    pos = torch.arange(x.shape[2], dtype=torch.float64)[:, None]
    freq = theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / d)
    angle = pos * freq
    a, c = x[..., :half], x[..., half:]
    return torch.cat([a * angle.cos() - c * angle.sin(), c * angle.cos() + a * angle.sin()], -1)


def explicit(q, k, v, scale, mask=None, score=None, sinks=None, theta=None):
    """softmax(score(scale q k^T)) v with the mask, an extra sink logit per head; and
    the rows' lse."""
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, 1)
    v = v.repeat_interleave(group, 1)
    if theta is not None:
        q, k = rope(q, theta), rope(k, theta)
    s = scale * q @ k.transpose(-1, -2)
    n, m = s.shape[-2:]
    i = torch.arange(n)[:, None]
    j = torch.arange(m)[None, :]
    if score is not None:
        s = score(s, i, j)
    if mask is not None:
        s = s.masked_fill(~mask(i, j), -math.inf)
    if sinks is not None:
        s = torch.cat([s, sinks[None, :, None, None].expand(s.shape[0], -1, n, 1)], -1)
    p = torch.softmax(s, -1)[..., :m]
    return torch.nan_to_num(p) @ v, torch.logsumexp(s, -1)


def alibi(h, heads):
    return 2.0 ** (-8.0 * (h + 1) / heads)


CASES = {
    # name: (example, sizes, dtype, shapes(q, k, v), extras, reference)
    # The reference gives o, or (o, lse) for a spec with lse (whose loss reads both).
    "causal": ("causal", "B=2,H=3,N=45", torch.float16, (2, 3, 45, 64), (2, 3, 45, 64), {},
               lambda q, k, v, x: torch.nn.functional.scaled_dot_product_attention(
                   q, k, v, is_causal=True)),
    "gqa": ("gqa", "B=1,H=6,HK=2,N=37,D=24", torch.bfloat16, (1, 6, 37, 24), (1, 2, 37, 24), {},
            lambda q, k, v, x: (
                torch.nn.functional.scaled_dot_product_attention(
                    q, k.repeat_interleave(3, 1), v.repeat_interleave(3, 1), is_causal=True),
                explicit(q, k, v, 24 ** -0.5, mask=lambda i, j: j <= i)[1])),
    "logit_softcap": ("logit_softcap", "B=1,N=21", torch.bfloat16, (1, 32, 21, 128),
                      (1, 16, 21, 128), {},
                      lambda q, k, v, x: explicit(q, k, v, 1 / 12, mask=lambda i, j: j <= i,
                                                  score=lambda s, i, j: 50 * torch.tanh(s / 50))[0]),
    "rotary": ("rotary", "B=1,H=2,N=33", torch.float16, (1, 2, 33, 128), (1, 2, 33, 128), {},
               lambda q, k, v, x: explicit(q, k, v, 128 ** -0.5, mask=lambda i, j: j <= i,
                                           theta=10000.0)[0]),
    "swa_alibi": ("swa_alibi", "B=1,H=4,HK=2,N=40", torch.bfloat16, (1, 4, 40, 128),
                  (1, 2, 40, 128), {},
                  lambda q, k, v, x: explicit(
                      q, k, v, 128 ** -0.5, mask=lambda i, j: (j <= i) & (i - j < 4096),
                      score=lambda s, i, j: 50 * torch.tanh(s / 50)
                      - alibi(torch.arange(4)[None, :, None, None], 4) * (i - j))),
    "attention_sinks": ("attention_sinks", "B=1,H=4,HK=2,N=50", torch.bfloat16,
                        (1, 4, 50, 64), (1, 2, 50, 64), {"sinks": (4,)},
                        lambda q, k, v, x: explicit(
                            q, k, v, 64 ** -0.5, mask=lambda i, j: (j <= i) & (i - j < 128),
                            sinks=x["sinks"])),
    "relative_bias": ("relative_bias", "B=1,H=2,N=30,R=59", torch.float32, (1, 2, 30, 64),
                      (1, 2, 30, 64), {"bias": (2, 59)},
                      lambda q, k, v, x: explicit(
                          q, k, v, 1.0,
                          score=lambda s, i, j: s + x["bias"][:, i - j + 29][None])[0]),
}


def main():
    failures = 0
    rng = np.random.default_rng(7)
    for name, (example, sizes, dtype, q_shape, kv_shape, extras, reference) in CASES.items():
        folder_in = os.path.join(WORK, name, "in")
        folder_out = os.path.join(WORK, name, "out")
        os.makedirs(folder_in, exist_ok=True)
        arrays = {"q": rng.uniform(-1, 1, q_shape), "k": rng.uniform(-1, 1, kv_shape),
                  "v": rng.uniform(-1, 1, kv_shape),
                  "d_o": rng.uniform(-1, 1, q_shape[:3] + kv_shape[3:]),
                  "d_lse": rng.uniform(-1, 1, q_shape[:3])}
        for extra, shape in extras.items():
            arrays[extra] = rng.uniform(-1, 1, shape)
        for key, value in arrays.items():
            np.save(os.path.join(folder_in, key + ".npy"), value.astype(np.float32))
        subprocess.run([TMIXC, "run", os.path.join(EXAMPLES, example + ".tmix"), "--grad",
                        "--sizes=" + sizes, "--inputs=" + folder_in,
                        "--outputs=" + folder_out], check=True, stdout=subprocess.DEVNULL)

        def rounded(key, to=dtype):
            t = torch.from_numpy(arrays[key].astype(np.float32))
            return t.to(to).to(torch.float64)

        q, k, v = (rounded(key).requires_grad_() for key in ("q", "k", "v"))
        extra_tensors = {key: rounded(key, torch.float32).requires_grad_() for key in extras}
        out = reference(q, k, v, extra_tensors)
        if isinstance(out, tuple):  # o and lse: the loss reads both
            torch.autograd.backward(out, (rounded("d_o"), rounded("d_lse", torch.float32)))
        else:
            out.backward(rounded("d_o"))
        errors = []
        for key, tensor in (("q", q), ("k", k), ("v", v), *extra_tensors.items()):
            got = np.load(os.path.join(folder_out, "d_" + key + ".npy")).astype(np.float64)
            want = tensor.grad.numpy()
            errors.append(np.linalg.norm(got - want) / np.linalg.norm(want))
        ok = max(errors) <= BOUND[dtype]
        failures += not ok
        names = ["dq", "dk", "dv"] + ["d_" + key for key in extras]
        listed = " ".join(f"{n}={e:.2e}" for n, e in zip(names, errors))
        print(f"{name}: rel_err {listed} (bound {BOUND[dtype]:.0e}) {'PASS' if ok else 'FAIL'}")
    print("ALL PASS" if failures == 0 else f"{failures} FAILED")


main()
