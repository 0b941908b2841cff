"""GLA, DeltaNet and Gated DeltaNet in flash-linear-attention's layout ([B, T, H, K])
through the Python package, against step-by-step torch recurrences in float64 (written
here from the papers' update rules, independent of tmix's reference evaluator)."""

import pytest
import torch

import tmix
from numerics import DTYPES, check

B, T, H, K, V = 2, 37, 3, 16, 24

SPECS = """
recurrence gla(q: {dt}[B, T, H, K], k: {dt}[B, T, H, K], v: {dt}[B, T, H, V],
               g: f32[B, T, H, K], scale: f32, initial_state: f32[B, H, K, V])
    -> (o: {dt}[B, T, H, V], final_state: f32[B, H, K, V]) {{
  seq = T
  state S: f32[K, V] = initial_state
  S = exp(g[t]) * S + outer(k[t], v[t])
  o[t] = (scale * q[t]) @ S
  final_state = S
}}
recurrence delta_net(q: {dt}[B, T, H, K], k: {dt}[B, T, H, K], v: {dt}[B, T, H, V],
                     beta: f32[B, T, H], scale: f32, initial_state: f32[B, H, K, V])
    -> (o: {dt}[B, T, H, V], final_state: f32[B, H, K, V]) {{
  seq = T
  state S: f32[K, V] = initial_state
  S = S + beta[t] * outer(k[t], v[t] - k[t] @ S)
  o[t] = (scale * q[t]) @ S
  final_state = S
}}
recurrence gated_delta(q: {dt}[B, T, H, K], k: {dt}[B, T, H, K], v: {dt}[B, T, H, V],
                       g: f32[B, T, H], beta: f32[B, T, H], scale: f32,
                       initial_state: f32[B, H, K, V])
    -> (o: {dt}[B, T, H, V], final_state: f32[B, H, K, V]) {{
  seq = T
  state S: f32[K, V] = initial_state
  S = exp(g[t]) * S
  S = S + beta[t] * outer(k[t], v[t] - k[t] @ S)
  o[t] = (scale * q[t]) @ S
  final_state = S
}}
"""



@pytest.fixture(scope="module", params=["f32", "bf16"])
def case(request):
    return request.param, tmix.compile(SPECS.format(dt=request.param), "recurrences.tmix")


def inputs(dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(B, T, H, K, generator=gen).to(dtype)
    # Unit keys keep the delta rule's state bounded (|1 - beta k.k| < 1).
    k = torch.nn.functional.normalize(torch.randn(B, T, H, K, generator=gen), dim=-1).to(dtype)
    v = torch.randn(B, T, H, V, generator=gen).to(dtype)
    h0 = torch.randn(B, H, K, V, generator=gen)
    return gen, q, k, v, h0


def run_reference(q, k, v, h0, scale, update):
    """o[t] = scale q[t] S_t with S_t = update(S_{t-1}, t, b, h), float64 loops."""
    q, k, v = q.double(), k.double(), v.double()
    o = torch.zeros(B, T, H, V, dtype=torch.float64)
    final = torch.zeros(B, H, K, V, dtype=torch.float64)
    for b in range(B):
        for h in range(H):
            S = h0[b, h].double().clone()
            for t in range(T):
                S = update(S, b, t, h, k[b, t, h], v[b, t, h])
                o[b, t, h] = (scale * q[b, t, h]) @ S
            final[b, h] = S
    return o, final


def test_gla(case):
    name, mod = case
    gen, q, k, v, h0 = inputs(DTYPES[name], 20)
    g = torch.nn.functional.logsigmoid(torch.randn(B, T, H, K, generator=gen)) / 8
    scale = K ** -0.5
    o, final = mod["gla"](q, k, v, g, scale, h0)
    ref_o, ref_final = run_reference(
        q, k, v, h0, scale,
        lambda S, b, t, h, kt, vt: g[b, t, h].double().exp()[:, None] * S + torch.outer(kt, vt))
    check(name, o, ref_o)
    check(name, final, ref_final)


def test_delta_net(case):
    name, mod = case
    gen, q, k, v, h0 = inputs(DTYPES[name], 21)
    beta = torch.rand(B, T, H, generator=gen)
    o, final = mod["delta_net"](q, k, v, beta, scale=0.5, initial_state=h0)
    ref_o, ref_final = run_reference(
        q, k, v, h0, 0.5,
        lambda S, b, t, h, kt, vt: S + beta[b, t, h].item() * torch.outer(kt, vt - kt @ S))
    check(name, o, ref_o)
    check(name, final, ref_final)


def test_gated_delta_net(case):
    name, mod = case
    gen, q, k, v, h0 = inputs(DTYPES[name], 22)
    g = torch.nn.functional.logsigmoid(torch.randn(B, T, H, generator=gen)) / 4
    beta = torch.rand(B, T, H, generator=gen)

    def update(S, b, t, h, kt, vt):
        S = g[b, t, h].double().exp() * S
        return S + beta[b, t, h].item() * torch.outer(kt, vt - kt @ S)

    o, final = mod["gated_delta"](q, k, v, g, beta, 0.25, h0)
    ref_o, ref_final = run_reference(q, k, v, h0, 0.25, update)
    check(name, o, ref_o)
    check(name, final, ref_final)
