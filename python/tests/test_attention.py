"""Attention variants through the Python package, against PyTorch: SDPA with explicit
masks and biases, FlexAttention (CPU) for score modifications, and plain torch for
sinks; every reference in float64, inputs random at sizes no tile divides."""

import math

import pytest
import torch
from torch.nn.attention.flex_attention import flex_attention

import tmix
from numerics import DTYPES, check

B, H, HK, N, M, D = 2, 4, 2, 77, 53, 40

SPECS = """
attention causal(q: {dt}[B, H, N, D], k: {dt}[B, H, N, D], v: {dt}[B, H, N, D])
    -> o: {dt}[B, H, N, D] {{
  mask = j <= i
}}
attention window(q: {dt}[B, H, N, D], k: {dt}[B, H, N, D], v: {dt}[B, H, N, D],
                 window: i32 = 16) -> o: {dt}[B, H, N, D] {{
  mask = j <= i && i - j < window
}}
attention prefix_lm(q: {dt}[B, H, N, D], k: {dt}[B, H, N, D], v: {dt}[B, H, N, D],
                    prefix: i32 = 8) -> o: {dt}[B, H, N, D] {{
  mask = j <= i || j < prefix
}}
attention documents(q: {dt}[B, H, N, D], k: {dt}[B, H, N, D], v: {dt}[B, H, N, D],
                    doc: i32[B, N]) -> o: {dt}[B, H, N, D] {{
  mask = doc[b, i] == doc[b, j] && j <= i
}}
attention alibi(q: {dt}[B, H, N, D], k: {dt}[B, H, N, D], v: {dt}[B, H, N, D])
    -> o: {dt}[B, H, N, D] {{
  mask = j <= i
  score = s - alibi(h, H) * (i - j)
}}
attention soft_capped(q: {dt}[B, H, N, D], k: {dt}[B, H, N, D], v: {dt}[B, H, N, D])
    -> o: {dt}[B, H, N, D] {{
  mask = j <= i
  score = softcap(s, 2.5)
}}
attention gqa(q: {dt}[B, H, N, D], k: {dt}[B, HK, N, D], v: {dt}[B, HK, N, D])
    -> (o: {dt}[B, H, N, D], lse: f32[B, H, N]) {{
  mask = j <= i
}}
attention sinks(q: {dt}[B, H, N, D], k: {dt}[B, HK, N, D], v: {dt}[B, HK, N, D],
                sinks: f32[H], window: i32 = 24)
    -> (o: {dt}[B, H, N, D], lse: f32[B, H, N]) {{
  mask = j <= i && i - j < window
  sink = sinks[h]
}}
attention rotary(q: {dt}[B, H, N, D], k: {dt}[B, H, N, D], v: {dt}[B, H, N, D])
    -> o: {dt}[B, H, N, D] {{
  rope = 10000.0
  mask = j <= i
}}
attention cross(q: {dt}[B, H, N, D], k: {dt}[B, H, M, D], v: {dt}[B, H, M, D])
    -> o: {dt}[B, H, N, D] {{
}}
attention bshd(q: {dt}[B, N, H, D], k: {dt}[B, N, HK, D], v: {dt}[B, N, HK, D])
    -> (o: {dt}[B, N, H, D], lse: f32[B, H, N]) {{
  seq = N
  mask = j <= i
}}
"""



@pytest.fixture(scope="module", params=["f32", "bf16"])
def case(request):
    """(dtype name, compiled module) per dtype, compiled once."""
    return request.param, tmix.compile(SPECS.format(dt=request.param), "attention.tmix")


def qkv(dtype, heads_k=H, keys=N, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, N, D, generator=gen).to(dtype)
    k = torch.randn(B, heads_k, keys, D, generator=gen).to(dtype)
    v = torch.randn(B, heads_k, keys, D, generator=gen).to(dtype)
    return q, k, v


def sdpa(q, k, v, mask=None, bias=None):
    """float64 SDPA with a boolean mask [.., N, M] and an additive bias."""
    attn = torch.zeros(q.shape[-2], k.shape[-2], dtype=torch.float64)
    if bias is not None:
        attn = attn + bias
    if mask is not None:
        attn = attn.masked_fill(~mask, float("-inf"))
    return torch.nn.functional.scaled_dot_product_attention(
        q.double(), k.double(), v.double(), attn_mask=attn)


def causal_mask(n, m):
    i = torch.arange(n)[:, None]
    j = torch.arange(m)[None, :]
    return j <= i


def test_causal(case):
    name, mod = case
    q, k, v = qkv(DTYPES[name])
    o = mod["causal"](q, k, v)
    assert o.dtype == q.dtype and o.shape == q.shape
    check(name, o, sdpa(q, k, v, causal_mask(N, N)))


def test_window(case):
    name, mod = case
    q, k, v = qkv(DTYPES[name], seed=1)
    i, j = torch.arange(N)[:, None], torch.arange(N)[None, :]
    for window in (16, 5):  # the default, then a run-time value: no recompile
        kwargs = {} if window == 16 else {"window": window}
        o = mod["window"](q, k, v, **kwargs)
        check(name, o, sdpa(q, k, v, (j <= i) & (i - j < window)))


def test_prefix_lm(case):
    name, mod = case
    q, k, v = qkv(DTYPES[name], seed=2)
    i, j = torch.arange(N)[:, None], torch.arange(N)[None, :]
    o = mod["prefix_lm"](q, k, v, prefix=21)
    check(name, o, sdpa(q, k, v, (j <= i) | (j < 21)))


def test_documents(case):
    name, mod = case
    q, k, v = qkv(DTYPES[name], seed=3)
    lengths = [[30, 40, 7], [5, 60, 12]]
    doc = torch.stack([torch.repeat_interleave(torch.arange(3), torch.tensor(l))
                       for l in lengths]).to(torch.int32)
    o = mod["documents"](q, k, v, doc)
    mask = (doc[:, None, :, None] == doc[:, None, None, :]) & causal_mask(N, N)
    check(name, o, sdpa(q, k, v, mask))


def test_alibi(case):
    name, mod = case
    q, k, v = qkv(DTYPES[name], seed=4)
    slopes = torch.tensor([2.0 ** (-8.0 * (h + 1) / H) for h in range(H)], dtype=torch.float64)
    distance = (torch.arange(N)[:, None] - torch.arange(N)[None, :]).double()
    bias = -slopes[:, None, None] * distance
    o = mod["alibi"](q, k, v)
    check(name, o, sdpa(q, k, v, causal_mask(N, N), bias))


def test_softcap_against_flex_attention(case):
    name, mod = case
    q, k, v = qkv(DTYPES[name], seed=5)

    def score_mod(score, b, h, i, j):
        return torch.where(j <= i, 2.5 * torch.tanh(score / 2.5), float("-inf"))

    ref = flex_attention(q.double(), k.double(), v.double(), score_mod=score_mod)
    check(name, mod["soft_capped"](q, k, v), ref)


def test_gqa_with_lse(case):
    name, mod = case
    q, k, v = qkv(DTYPES[name], heads_k=HK, seed=6)
    o, lse = mod["gqa"](q, k, v)
    assert lse.dtype == torch.float32 and lse.shape == (B, H, N)
    groups = H // HK
    ke, ve = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
    check(name, o, sdpa(q, ke, ve, causal_mask(N, N)))
    scores = (q.double() @ ke.double().transpose(-1, -2)) / math.sqrt(D)
    ref_lse = torch.logsumexp(scores.masked_fill(~causal_mask(N, N), float("-inf")), -1)
    check(name, lse, ref_lse)


def test_sinks(case):
    name, mod = case
    q, k, v = qkv(DTYPES[name], heads_k=HK, seed=7)
    sinks = torch.randn(H, generator=torch.Generator().manual_seed(8))
    o, lse = mod["sinks"](q, k, v, sinks)
    ke = k.repeat_interleave(H // HK, 1).double()
    ve = v.repeat_interleave(H // HK, 1).double()
    i, j = torch.arange(N)[:, None], torch.arange(N)[None, :]
    scores = (q.double() @ ke.transpose(-1, -2)) / math.sqrt(D)
    scores = scores.masked_fill(~((j <= i) & (i - j < 24)), float("-inf"))
    # The sink is one more logit per (b, h) in the denominator, with no value row.
    sink = sinks.double()[None, :, None, None].expand(B, H, N, 1)
    weights = torch.softmax(torch.cat([scores, sink], -1), -1)[..., :-1]
    check(name, o, weights @ ve)
    check(name, lse, torch.logsumexp(torch.cat([scores, sink], -1), -1))


def rotate(x, theta=10000.0):
    """GPT-NeoX / LLaMA rotate_half rotary embedding at positions 0..n-1, float64."""
    n, d = x.shape[-2], x.shape[-1]
    inv = theta ** (-torch.arange(0, d // 2, dtype=torch.float64) * 2 / d)
    angles = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = angles.cos(), angles.sin()
    a, c = x.double()[..., : d // 2], x.double()[..., d // 2:]
    return torch.cat([a * cos - c * sin, c * cos + a * sin], -1)


def test_rope(case):
    name, mod = case
    q, k, v = qkv(DTYPES[name], seed=9)
    check(name, mod["rotary"](q, k, v), sdpa(rotate(q), rotate(k), v, causal_mask(N, N)))


def test_cross_attention(case):
    name, mod = case
    q, k, v = qkv(DTYPES[name], keys=M, seed=10)
    o = mod["cross"](q, k, v)
    assert o.shape == (B, H, N, D)
    check(name, o, sdpa(q, k, v))


def test_bshd_layout_reads_strided_views(case):
    """FlashAttention's [B, N, H, D] buffers, and the same data given as transposed views
    of [B, H, N, D] tensors: both read in place, both right."""
    name, mod = case
    q, k, v = qkv(DTYPES[name], heads_k=HK, seed=11)
    qs, ks, vs = (x.transpose(1, 2) for x in (q, k, v))  # [B, N, H, D] views, no copy
    assert not qs.is_contiguous()
    o, lse = mod["bshd"](qs, ks, vs)
    o2, _ = mod["bshd"](qs.contiguous(), ks.contiguous(), vs.contiguous())
    groups = H // HK
    ref = sdpa(q, k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1),
               causal_mask(N, N))
    check(name, o.transpose(1, 2), ref)
    assert torch.equal(o, o2)
