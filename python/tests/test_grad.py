"""The derived backward through the PyTorch op (docs/training.md): gradients of q, k, v,
of a bias table and of sink logits against torch autograd (float64, through
FlexAttention with a learnable score_mod table too, and SDPA in bf16),
torch.autograd.gradcheck, a loss that reads lse, torch.compile, determinism, and the
errors for what has no gradient."""

import math

import pytest
import torch

import tmix
from numerics import BOUNDS, DTYPES, check
from torch.nn.attention.flex_attention import flex_attention

SPECS = """
attention swa(q: {dt}[B, H, N, D], k: {dt}[B, HK, N, D], v: {dt}[B, HK, N, D],
              window: i32 = 32) -> (o: {dt}[B, H, N, D], lse: f32[B, H, N]) {{
  mask = j <= i && i - j < window
}}
attention biased(q: {dt}[B, H, N, 16], k: {dt}[B, H, M, 16], v: {dt}[B, H, M, 8],
                 bias: f32[H, R], sinks: f32[H], gate: f32[M]) -> o: {dt}[B, H, N, 8] {{
  mask  = gate[j] > -1.5
  score = softcap(s, 20.0) + bias[h, i - j + M]
  sink  = sinks[h]
}}
attention causal(q: {dt}[B, H, N, D], k: {dt}[B, H, N, D], v: {dt}[B, H, N, D])
    -> o: {dt}[B, H, N, D] {{
  mask = j <= i
}}
attention flexible(q: {dt}[B, H, N, 16], k: {dt}[B, HK, M, 16], v: {dt}[B, HK, M, 8],
                   bias: f32[H, R]) -> o: {dt}[B, H, N, 8] {{
  scale = 0.25
  mask  = j <= i
  score = softcap(s, 20.0) + bias[h, i - j + M]
}}
attention tempered(q: {dt}[B, H, N, 16], k: {dt}[B, HK, N, 16], v: {dt}[B, HK, N, 16],
                   tau: f32 = 0.0, s0: f32 = 0.0) -> o: {dt}[B, H, N, 16] {{
  scale = 0.25 * exp(tau)
  mask  = j <= i
  score = softcap(s, 4.0)
  sink  = s0
}}
attention rotated(q: {dt}[B, H, N, 16], k: {dt}[B, HK, N, 16], v: {dt}[B, HK, N, 8],
                  base: f32 = 100.0) -> o: {dt}[B, H, N, 8] {{
  rope = base * base
  mask = j <= i
}}
attention capped(q: {dt}[B, H, N, D], k: {dt}[B, H, N, D], v: {dt}[B, H, N, D],
                 cap: f32 = 20.0, reach: f32 = 1000.0) -> o: {dt}[B, H, N, D] {{
  mask  = j <= i && i - j < reach
  score = softcap(s, cap)
}}
"""


@pytest.fixture(scope="module", params=list(DTYPES))
def dtype(request):
    return request.param


@pytest.fixture(scope="module")
def mod(dtype):
    return tmix.compile(SPECS.format(dt=dtype), f"grad_{dtype}.tmix")


def randn(*shape, seed, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen).to(dtype).requires_grad_()


def leaves(*tensors):
    """float64 copies that record their own gradients."""
    return [t.detach().double().requires_grad_() for t in tensors]


def swa_reference(q, k, v, window):
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
    n = q.shape[2]
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~((j <= i) & (i - j < window)), -math.inf)
    return torch.softmax(s, -1) @ v, torch.logsumexp(s, -1)


def test_gqa_window_and_a_loss_on_lse_match_float64_autograd(mod, dtype):
    q = randn(2, 4, 45, 24, seed=1, dtype=DTYPES[dtype])
    k = randn(2, 2, 45, 24, seed=2, dtype=DTYPES[dtype])
    v = randn(2, 2, 45, 24, seed=3, dtype=DTYPES[dtype])
    o, lse = mod["swa"](q, k, v, window=9)
    (o.float().square().sum() + lse.sin().sum()).backward()
    ref = leaves(q, k, v)
    o_ref, lse_ref = swa_reference(*ref, 9)
    (o_ref.square().sum() + lse_ref.sin().sum()).backward()
    for got, want in zip((q, k, v), ref):
        assert got.grad.dtype == got.dtype
        check(dtype, got.grad, want.grad)


def test_bias_table_sinks_and_softcap_match_float64_autograd(mod, dtype):
    b, h, n, m = 2, 3, 21, 26
    q = randn(b, h, n, 16, seed=4, dtype=DTYPES[dtype])
    k = randn(b, h, m, 16, seed=5, dtype=DTYPES[dtype])
    v = randn(b, h, m, 8, seed=6, dtype=DTYPES[dtype])
    bias = randn(h, n + m, seed=7)
    sinks = randn(h, seed=8)
    gate = torch.randn(m, generator=torch.Generator().manual_seed(9))
    mod["biased"](q, k, v, bias, sinks, gate).float().sum().backward()

    rq, rk, rv, rbias, rsinks = leaves(q, k, v, bias, sinks)
    i, j = torch.arange(n)[:, None], torch.arange(m)[None, :]
    s = rq @ rk.transpose(-1, -2) / 4.0
    s = 20.0 * torch.tanh(s / 20.0) + rbias[:, i - j + m][None]
    s = s.masked_fill(~(gate[j] > -1.5), -math.inf)
    s = torch.cat([s, rsinks[None, :, None, None].expand(b, h, n, 1)], -1)
    (torch.softmax(s, -1)[..., :m] @ rv).sum().backward()
    for got, want in zip((q, k, v, bias, sinks), (rq, rk, rv, rbias, rsinks)):
        check(dtype, got.grad, want.grad)
    assert bias.grad.dtype == torch.float32


def test_frozen_tables_skip_part_params(mod, dtype, monkeypatch):
    # Part "params" (a third walk over the pairs for the sinks) runs only when a
    # gradient it gives is asked for; q, k and v's gradients do not need it.
    b, h, n, m = 1, 2, 19, 23
    q = randn(b, h, n, 16, seed=14, dtype=DTYPES[dtype])
    k = randn(b, h, m, 16, seed=15, dtype=DTYPES[dtype])
    v = randn(b, h, m, 8, seed=16, dtype=DTYPES[dtype])
    bias = randn(h, n + m, seed=17).detach()
    sinks = randn(h, seed=18)
    gate = torch.randn(m, generator=torch.Generator().manual_seed(19))
    kernel = mod["biased"]
    derived, calls = kernel._derived, []

    def recording(part, *args):
        found = derived(part, *args)
        if found is None:
            return None

        def op(*inputs):
            calls.append(part)
            return found[1](*inputs)
        return found[0], op
    monkeypatch.setattr(kernel, "_derived", recording)

    rq, rk, rv = leaves(q, k, v)
    i, j = torch.arange(n)[:, None], torch.arange(m)[None, :]
    s = rq @ rk.transpose(-1, -2) / 4.0
    s = 20.0 * torch.tanh(s / 20.0) + bias.double()[:, i - j + m][None]
    s = s.masked_fill(~(gate[j] > -1.5), -math.inf)
    s = torch.cat([s, sinks.detach().double()[None, :, None, None].expand(b, h, n, 1)], -1)
    (torch.softmax(s, -1)[..., :m] @ rv).sum().backward()

    kernel(q, k, v, bias, sinks.detach(), gate).float().sum().backward()
    assert "grad_kv" in calls and "grad_params" not in calls
    for got, want in zip((q, k, v), (rq, rk, rv)):
        check(dtype, got.grad, want.grad)
    # The sinks learnable again: part "params" runs, and gives their gradient.
    calls.clear()
    kernel(q, k, v, bias, sinks, gate).float().sum().backward()
    assert calls[-1] == "grad_params"
    assert sinks.grad is not None and sinks.grad.abs().sum() > 0


@pytest.mark.filterwarnings("ignore:flex_attention called without")
def test_gqa_mask_softcap_and_a_learnable_table_match_flex_attention(mod, dtype):
    # FlexAttention's own autograd (eager, float64) through a score_mod that reads a
    # learnable bias table: the gradient FlexAttention users ask for, from an
    # implementation that shares nothing with tmix's derivation.
    b, h, hk, n, m = 2, 4, 2, 19, 30
    q = randn(b, h, n, 16, seed=20, dtype=DTYPES[dtype])
    k = randn(b, hk, m, 16, seed=21, dtype=DTYPES[dtype])
    v = randn(b, hk, m, 8, seed=22, dtype=DTYPES[dtype])
    bias = randn(h, n + m, seed=23)
    w = torch.randn(b, h, n, 8, generator=torch.Generator().manual_seed(24))
    (mod["flexible"](q, k, v, bias).float() * w).sum().backward()

    rq, rk, rv, rbias = leaves(q, k, v, bias)

    def score_mod(score, batch, head, i, j):
        biased = 20.0 * torch.tanh(score / 20.0) + rbias[head, i - j + m]
        return torch.where(j <= i, biased, -math.inf)

    out = flex_attention(rq, rk, rv, score_mod=score_mod, scale=0.25, enable_gqa=True)
    (out * w.double()).sum().backward()
    for got, want in zip((q, k, v, bias), (rq, rk, rv, rbias)):
        check(dtype, got.grad, want.grad)


def test_bf16_gradients_are_as_close_as_torch_sdpa_in_bf16(dtype):
    if dtype != "bf16":
        pytest.skip("the bf16 comparison")
    mod = tmix.compile(SPECS.format(dt="bf16"), "grad_sdpa.tmix")
    q, k, v = (randn(1, 4, 70, 32, seed=s, dtype=torch.bfloat16) for s in (10, 11, 12))
    mod["causal"](q, k, v).float().square().sum().backward()
    sq, sk, sv = (t.detach().clone().requires_grad_() for t in (q, k, v))
    torch.nn.functional.scaled_dot_product_attention(
        sq, sk, sv, is_causal=True).float().square().sum().backward()
    ref = leaves(q, k, v)
    torch.nn.functional.scaled_dot_product_attention(
        *ref, is_causal=True).square().sum().backward()
    for got, torch_bf16, want in zip((q, k, v), (sq, sk, sv), ref):
        ours = ((got.grad.double() - want.grad).norm() / want.grad.norm()).item()
        theirs = ((torch_bf16.grad.double() - want.grad).norm() / want.grad.norm()).item()
        assert ours <= max(2 * theirs, BOUNDS["bf16"]), (ours, theirs)


@pytest.mark.filterwarnings("ignore:Input #")
def test_gradcheck_in_f32():
    # tmix has no f64 kernels: gradcheck's finite differences run in f32, with steps and
    # tolerances to match (a wrong derivative is off by far more).
    mod = tmix.compile(SPECS.format(dt="f32"), "grad_check.tmix")
    op = mod["biased"].torch_op(namespace="tmix_gradcheck")
    b, h, n, m = 1, 2, 5, 7
    inputs = (randn(b, h, n, 16, seed=13), randn(b, h, m, 16, seed=14),
              randn(b, h, m, 8, seed=15), randn(h, n + m, seed=16), randn(h, seed=17),
              torch.zeros(m))
    assert torch.autograd.gradcheck(op, inputs, eps=1e-2, atol=5e-3, rtol=5e-2)


def test_gradients_are_deterministic(mod, dtype):
    q, k, v = (randn(2, 4, 80, 16, seed=s, dtype=DTYPES[dtype]) for s in (20, 21, 22))
    grads = []
    for _ in range(2):
        for t in (q, k, v):
            t.grad = None
        mod["swa"](q, k, v, window=40)[0].float().sum().backward()
        grads.append([t.grad.clone() for t in (q, k, v)])
    for first, second in zip(*grads):
        assert torch.equal(first, second)


def test_torch_compile_records_the_backward(mod, dtype):
    if dtype != "f32":
        pytest.skip("one dtype")
    op = mod["swa"].torch_op(namespace="tmix_grad_compile")
    q, k, v = (randn(1, 2, 30, 16, seed=s) for s in (30, 31, 32))

    def loss(q, k, v):
        o, lse = op(q, k, v, 7)
        return o.square().sum() + lse.sum()

    loss(q, k, v).backward()
    eager = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    torch.compile(loss, fullgraph=True, backend="aot_eager")(q, k, v).backward()
    for got, want in zip((q, k, v), eager):
        assert torch.allclose(got.grad, want, rtol=1e-6, atol=1e-6)


def test_what_has_no_gradient_is_named(mod, dtype):
    q = randn(1, 2, 6, 16, seed=40, dtype=DTYPES[dtype])
    k = randn(1, 2, 7, 16, seed=41, dtype=DTYPES[dtype])
    v = randn(1, 2, 7, 8, seed=42, dtype=DTYPES[dtype])
    gate = torch.zeros(7, requires_grad=True)
    o = mod["biased"](q, k, v, torch.zeros(2, 13), torch.zeros(2), gate)
    with pytest.raises(RuntimeError, match="'gate' of 'biased' has no gradient"):
        o.float().sum().backward()
    with pytest.raises(ValueError, match="out= does not record gradients"):
        mod["causal"](q, q, q, out=torch.empty_like(q))


def capped_reference(q, k, v, cap, reach):
    n = q.shape[2]
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    s = cap * torch.tanh(s / cap)
    s = s.masked_fill(~((j <= i) & (i - j < reach)), -math.inf)
    return torch.softmax(s, -1) @ v


def test_a_learnable_scalar_matches_float64_autograd(mod, dtype):
    # FlexAttention's learnable scalars: a float scalar given as a tensor that requires
    # grad gets its gradient (summed over every pair, in one order).
    q, k, v = (randn(2, 3, 23, 16, seed=s, dtype=DTYPES[dtype]) for s in (50, 51, 52))
    cap = torch.tensor(2.5, requires_grad=True)  # near the scores: a gradient of note
    o = mod["capped"](q, k, v, cap)
    (w,) = (torch.randn(o.shape, generator=torch.Generator().manual_seed(53)),)
    (o.double() * w).sum().backward()
    *theirs, cap64 = leaves(q, k, v, cap)
    (capped_reference(*theirs, cap64, 1000.0) * w).sum().backward()
    for got, want in zip((q, k, v), theirs):
        check(dtype, got.grad, want.grad)
    assert cap.grad.shape == cap.shape and cap.grad.dtype == cap.dtype
    check(dtype, cap.grad, cap64.grad)
    # A scalar tensor that does not require grad is a number; one the mask reads has no
    # gradient, and says so.
    reach = torch.tensor(5.0)
    with torch.no_grad():
        close = mod["capped"](q, k, v, cap, reach)
    assert torch.allclose(close.double(), capped_reference(*leaves(q, k, v), 2.5, 5.0),
                          atol=1e-2 if dtype == "bf16" else 1e-5)
    o = mod["capped"](q, k, v, cap, reach.requires_grad_())
    with pytest.raises(RuntimeError, match="'reach' of 'capped' has no gradient"):
        o.float().sum().backward()


def test_a_learnable_temperature_and_sink_match_float64_autograd(mod, dtype):
    # A temperature read in the scale (the sum over every pair of the scaled score's
    # gradient times q.k, through the softcap) and a scalar sink logit, under GQA.
    q = randn(2, 4, 29, 16, seed=70, dtype=DTYPES[dtype])
    k, v = (randn(2, 2, 29, 16, seed=s, dtype=DTYPES[dtype]) for s in (71, 72))
    tau = torch.tensor(0.3, requires_grad=True)
    s0 = torch.tensor(-0.5, requires_grad=True)
    # A loss on o^2: the sink's gradient, -sum_i P_sink,i (d_o_i . o_i), then sums terms
    # of one sign (with a random weight on o they would cancel, which bf16's rounded o
    # and d_o turn into a large relative error of the small sum).
    o = mod["tempered"](q, k, v, tau, s0)
    o.double().square().sum().backward()
    theirs = leaves(q, k, v, tau, s0)
    rq, rk, rv, rtau, rs0 = theirs
    ek, ev = rk.repeat_interleave(2, 1), rv.repeat_interleave(2, 1)
    n = q.shape[2]
    s = (rq @ ek.transpose(-1, -2)) * (0.25 * torch.exp(rtau))
    s = (4.0 * torch.tanh(s / 4.0)).masked_fill(
        torch.arange(n)[None, :] > torch.arange(n)[:, None], -math.inf)
    s = torch.cat([s, rs0.expand(*s.shape[:-1], 1)], -1)
    (torch.softmax(s, -1)[..., :n] @ ev).square().sum().backward()
    for got, want in zip((q, k, v, tau, s0), theirs):
        check(dtype, got.grad, want.grad)
    assert tau.grad.shape == tau.shape and s0.grad.shape == s0.shape


def rotated_reference(q, k, v, theta):
    """RoPE (half-split, angle pos theta^(-2p/D)) on q and k, then causal attention."""
    def rope(x):
        half = x.shape[-1] // 2
        pos = torch.arange(x.shape[-2], dtype=x.dtype)[:, None]
        angle = pos * theta ** (-2 * torch.arange(half, dtype=x.dtype) / x.shape[-1])
        a, c = x[..., :half], x[..., half:]
        return torch.cat([a * angle.cos() - c * angle.sin(),
                          c * angle.cos() + a * angle.sin()], -1)
    groups = q.shape[1] // k.shape[1]
    k, v = rope(k).repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
    n = q.shape[2]
    s = rope(q) @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    s = s.masked_fill(torch.arange(n)[None, :] > torch.arange(n)[:, None], -math.inf)
    return torch.softmax(s, -1) @ v


def test_a_learnable_rope_theta_matches_float64_autograd(mod, dtype):
    # rope's theta as a learnable scalar (here through theta = base^2): its gradient
    # sums every rotated row's, from dq and dk before they are rotated back; under GQA.
    q = randn(2, 4, 37, 16, seed=80, dtype=DTYPES[dtype])
    k, v = (randn(2, 2, 37, s, seed=seed, dtype=DTYPES[dtype]) for s, seed in ((16, 81),
                                                                               (8, 82)))
    base = torch.tensor(7.0, requires_grad=True)
    o = mod["rotated"](q, k, v, base)
    w = torch.randn(o.shape, generator=torch.Generator().manual_seed(83))
    (o.double() * w).sum().backward()
    theirs = leaves(q, k, v, base)
    (rotated_reference(*theirs[:3], theirs[3] * theirs[3]) * w).sum().backward()
    for got, want in zip((q, k, v, base), theirs):
        check(dtype, got.grad, want.grad)
    assert base.grad.shape == base.shape and base.grad.dtype == base.dtype
    # The same bits run after run (thread counts: test/e2e/grad-attention-rope.test).
    first = base.grad.clone()
    base.grad = None
    (mod["rotated"](q, k, v, base).double() * w).sum().backward()
    assert torch.equal(first, base.grad)


@pytest.mark.filterwarnings("ignore:Input #")
def test_gradcheck_of_a_learnable_rope_theta():
    mod = tmix.compile(SPECS.format(dt="f32"), "grad_check_rope.tmix")
    op = mod["rotated"].torch_op(namespace="tmix_gradcheck_rope", learnable_scalars=True)
    q = randn(1, 2, 9, 16, seed=84)
    k, v = randn(1, 1, 9, 16, seed=85), randn(1, 1, 9, 8, seed=86)
    base = torch.tensor(3.0, requires_grad=True)
    assert torch.autograd.gradcheck(op, (q, k, v, base), eps=1e-2, atol=5e-3, rtol=5e-2)


@pytest.mark.filterwarnings("ignore:Input #")
def test_gradcheck_of_a_learnable_scalar():
    mod = tmix.compile(SPECS.format(dt="f32"), "grad_check_scalar.tmix")
    op = mod["capped"].torch_op(namespace="tmix_gradcheck_scalar", learnable_scalars=True)
    q, k, v = (randn(1, 2, 7, 8, seed=s) for s in (60, 61, 62))
    cap = torch.tensor(1.5, requires_grad=True)
    reach = torch.tensor(1000.0)
    assert torch.autograd.gradcheck(op, (q, k, v, cap, reach), eps=1e-2, atol=5e-3,
                                    rtol=5e-2)


def test_what_a_scalar_takes(mod, dtype):
    q = randn(1, 2, 6, 16, seed=70, dtype=DTYPES[dtype])
    with pytest.raises(TypeError, match="scalar 'cap' \\(f32\\) must be a number or a "
                                        "one-element float tensor, not Tensor"):
        mod["capped"](q, q, q, torch.ones(2))
    with pytest.raises(TypeError, match="scalar 'window' \\(i32\\) must be a number, "
                                        "not Tensor"):
        mod["swa"](q, q, q, window=torch.tensor(3))



def test_the_gpus_parts_recompute_dq():
    # On a GPU target the backward's parts are the GPUs' form (docs/training.md): part
    # "key_value" gives dk and dv, part "query" recomputes dq (no d_q_partial between
    # them); part "params" of a pooled pair bias (two indices that depend on the pair)
    # is refused by name; a sink's, a relative-position table's, a bucketed table's and
    # a per-head slope's are not. No device is needed to look them up.
    mod = tmix.compile("""
attention biased(q: bf16[B, H, N, 64], k: bf16[B, H, N, 64], v: bf16[B, H, N, 64],
                 bias: f32[H, R]) -> o: bf16[B, H, N, 64] {
  score = s + bias[h, i - j + N - 1]
}""", "gpu_parts.tmix")
    for target, kv_outputs, q_args in (
            ("cpu", ["d_k", "d_v", "d_q_partial", "d_bias_partial"], ["d_q_partial"]),
            ("sm_80", ["d_k", "d_v"], []),
            ("sm_90a", ["d_k", "d_v"], [])):
        kv = mod.kernel("biased_grad_kv", target)
        grad_q = mod.kernel("biased_grad_q", target)
        assert [p.name for p in kv.outputs] == kv_outputs
        assert [p.name for p in grad_q.args] == ["q", "k", "v", "bias", "o", "lse", "d_o"] + q_args
        assert [p.name for p in grad_q.outputs] == ["d_q"]
    # A relative-position table's part "params" runs on the GPUs (no partials in), and
    # so does a table read through buckets (no a i + b j + c); a pair bias pooled 2 x 2
    # is refused by name.
    params = mod.kernel("biased_grad_params", "sm_90a")
    assert [p.name for p in params.args] == ["q", "k", "v", "bias", "o", "lse", "d_o"]
    assert [p.name for p in params.outputs] == ["d_bias"]
    bucketed = tmix.compile("""
attention bucketed(q: bf16[B, H, N, 64], k: bf16[B, H, N, 64], v: bf16[B, H, N, 64],
                   bias: f32[H, R]) -> o: bf16[B, H, N, 64] {
  score = s + bias[h, (i - j) / 4 + N]
}""", "gpu_bucketed.tmix")
    for target in ("sm_80", "sm_90a"):
        params = bucketed.kernel("bucketed_grad_params", target)
        assert [p.name for p in params.outputs] == ["d_bias"]
    pooled = tmix.compile("""
attention pooled(q: bf16[B, H, N, 64], k: bf16[B, H, N, 64], v: bf16[B, H, N, 64],
                 pair: f32[B, H, P, P]) -> o: bf16[B, H, N, 64] {
  score = s + pair[b, h, i / 2, j / 2]
}""", "gpu_pooled.tmix")
    with pytest.raises(ValueError, match="'pooled_grad_params': the gradients of float "
                       "arguments read in score .* two or more indices that depend on the "
                       "pair run on the CPU only so far"):
        pooled.kernel("pooled_grad_params", "sm_90a")
    # rope's theta: on the GPUs parts "key_value" and "query" give each row's term of
    # its gradient (rope_rows), which part "params" takes last and sums (after its walk
    # of the pairs where the score reads float arguments too); beside pair biases it
    # is refused.
    rotated = tmix.compile("""
attention spun(q: bf16[B, H, N, 64], k: bf16[B, H, N, 64], v: bf16[B, H, N, 64],
               theta: f32 = 10000.0) -> o: bf16[B, H, N, 64] {
  rope = theta
}

attention shared(q: bf16[B, H, N, 64], k: bf16[B, H, N, 64], v: bf16[B, H, N, 64],
                 theta: f32 = 10000.0, slopes: f32[H]) -> o: bf16[B, H, N, 64] {
  rope = theta
  score = s - slopes[h] * (i - j)
}

attention paired(q: bf16[B, H, N, 64], k: bf16[B, H, N, 64], v: bf16[B, H, N, 64],
                 theta: f32 = 10000.0, pair: f32[B, H, N, N]) -> o: bf16[B, H, N, 64] {
  rope = theta
  score = s + pair[b, h, i, j]
}""", "gpu_rope.tmix")
    assert [p.name for p in rotated.kernel("spun_grad_kv", "sm_80").outputs] == [
        "d_k", "d_v", "d_rope_k"]
    assert [p.name for p in rotated.kernel("spun_grad_q", "sm_80").outputs] == [
        "d_q", "d_rope_q"]
    params = rotated.kernel("spun_grad_params", "sm_90a")
    assert [p.name for p in params.args][-2:] == ["d_rope_k", "d_rope_q"]
    assert [p.name for p in params.outputs] == ["d_theta"]
    shared = rotated.kernel("shared_grad_params", "sm_90a")
    assert [p.name for p in shared.args][-2:] == ["d_rope_k", "d_rope_q"]
    assert [p.name for p in shared.outputs] == ["d_theta", "d_slopes"]
    # Beside a pair bias: part "params" in part "query"'s grid, theta from the rows.
    paired = rotated.kernel("paired_grad_params", "sm_90a")
    assert [p.name for p in paired.args][-2:] == ["d_rope_k", "d_rope_q"]
    assert [p.name for p in paired.outputs] == ["d_theta", "d_pair"]
    # The CPU's form sums theta's terms per key split: no rows.
    assert [p.name for p in rotated.kernel("spun_grad_params", "cpu").outputs] == ["d_theta"]
    assert [p.name for p in rotated.kernel("spun_grad_q", "cpu").outputs] == ["d_q"]
    # A learned sink's part "params" runs on the GPUs: no partials in, its gradient out.
    sinks = tmix.compile("""
attention sinks(q: bf16[B, H, N, 64], k: bf16[B, H, N, 64], v: bf16[B, H, N, 64],
                sinks: f32[H]) -> o: bf16[B, H, N, 64] {
  sink = sinks[h]
}""", "gpu_sinks.tmix")
    for target in ("sm_80", "sm_90a"):
        params = sinks.kernel("sinks_grad_params", target)
        assert [p.name for p in params.args] == ["q", "k", "v", "sinks", "o", "lse", "d_o"]
        assert [p.name for p in params.outputs] == ["d_sinks"]
    # So does that of params summed per program (a per-head slope, a learnable cap).
    sums = tmix.compile("""
attention sloped(q: bf16[B, H, N, 64], k: bf16[B, H, N, 64], v: bf16[B, H, N, 64],
                 slopes: f32[H], cap: f32 = 2.5) -> o: bf16[B, H, N, 64] {
  score = softcap(s, cap) - slopes[h] * (i - j)
}""", "gpu_sums.tmix")
    for target in ("sm_80", "sm_90a"):
        params = sums.kernel("sloped_grad_params", target)
        assert [p.name for p in params.args] == ["q", "k", "v", "slopes", "cap", "o", "lse",
                                                 "d_o"]
        assert [p.name for p in params.outputs] == ["d_slopes", "d_cap"]
