"""CUDA tensors through the package, on a GPU (test/python/cuda.test: REQUIRES
cuda-device): the GPU kernel of the spec runs on the current stream, against SDPA in
float64; the CPU kernel's results agree."""

import pytest
import torch

import tmix
from numerics import check

SPEC = """
attention causal_gqa(q: {dt}[B, H, N, 128], k: {dt}[B, HK, N, 128], v: {dt}[B, HK, N, 128])
    -> (o: {dt}[B, H, N, 128], lse: f32[B, H, N]) {{
  mask = j <= i
}}
"""


def device_grads(op, inputs, devices, loss):
    """Per device, the gradients (on the CPU) of `loss(op(*leaves), device)` for the
    inputs moved there as leaves (detached first: `.to` the inputs' own device would
    return them, and make the inputs themselves require a gradient)."""
    grads = []
    for device in devices:
        leaves = [x.detach().to(device).requires_grad_() for x in inputs]
        loss(op(*leaves), device).backward()
        grads.append([x.grad.cpu() for x in leaves])
    return grads


def test_cuda_tensors_run_on_the_gpu():
    assert torch.cuda.is_available()
    mod = tmix.compile(SPEC.format(dt="bf16"), "cuda.tmix")
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(2, 8, 333, 128, generator=gen).bfloat16()
    k, v = (torch.randn(2, 2, 333, 128, generator=gen).bfloat16() for _ in range(2))
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        o, lse = mod["causal_gqa"](q.cuda(), k.cuda(), v.cuda())
    stream.synchronize()
    assert o.is_cuda and lse.is_cuda
    ke, ve = (x.repeat_interleave(4, 1).double() for x in (k, v))
    ref = torch.nn.functional.scaled_dot_product_attention(q.double(), ke, ve, is_causal=True)
    check("bf16", o.cpu(), ref)
    o_cpu, lse_cpu = mod["causal_gqa"](q, k, v)
    check("bf16", lse.cpu(), lse_cpu)


def test_backward_on_the_gpu_matches_the_cpus():
    # The derived backward in the GPUs' form (part "query" recomputes dq), from
    # .backward() on CUDA tensors, against the CPU's on the same inputs and against
    # SDPA's autograd in float64; a pair bias pooled 2 x 2 on the GPU is refused by
    # name.
    mod = tmix.compile(SPEC.format(dt="bf16"), "cuda_grad.tmix")
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(1, 8, 150, 128, generator=gen).bfloat16()
    k, v = (torch.randn(1, 2, 150, 128, generator=gen).bfloat16() for _ in range(2))
    w = torch.randn(1, 8, 150, 128, generator=gen)
    grads = device_grads(mod["causal_gqa"], (q, k, v), ("cuda", "cpu"),
                         lambda out, device: (out[0].float() * w.to(device)).sum()
                         + out[1].sum())
    rq, rk, rv = (x.double().requires_grad_() for x in (q, k, v))
    ke, ve = (x.repeat_interleave(4, 1) for x in (rk, rv))
    s = rq @ ke.transpose(-1, -2) / 128 ** 0.5
    s = s.masked_fill(torch.ones(150, 150, dtype=torch.bool).triu(1), float("-inf"))
    (((torch.softmax(s, -1) @ ve) * w.double()).sum() + torch.logsumexp(s, -1).sum()).backward()
    for on_gpu, on_cpu, want in zip(*grads, (rq.grad, rk.grad, rv.grad)):
        check("bf16", on_gpu, want)
        check("bf16", on_gpu, on_cpu.double())
    pooled = tmix.compile("""
attention pooled(q: bf16[B, H, N, 64], k: bf16[B, H, N, 64], v: bf16[B, H, N, 64],
                 pair: f32[B, H, P, P]) -> o: bf16[B, H, N, 64] {
  score = s + pair[b, h, i / 2, j / 2]
}""", "cuda_pooled.tmix")
    x = torch.randn(1, 2, 40, 64, device="cuda").bfloat16().requires_grad_()
    pair = torch.zeros(1, 2, 20, 20, device="cuda", requires_grad=True)
    with pytest.raises(RuntimeError, match="run on the CPU only so far"):
        pooled["pooled"](x, x, x, pair).float().sum().backward()


def check_table_backward(op, inputs, w, scores):
    """The gradients of (op(*inputs) * w).sum() for inputs q, k, v (GQA) and a table: on
    the GPU twice (the same bits) and on the CPU, the GPU's against the CPU's and
    against torch autograd in float64 through softmax(scores(q, k, table)) (k and v
    repeated to q's heads)."""
    grads = device_grads(op, inputs, ("cuda", "cuda", "cpu"),
                         lambda o, device: (o.float() * w.to(device)).sum())
    assert all(torch.equal(a, b) for a, b in zip(grads[0], grads[1]))
    leaves = [x.double().requires_grad_() for x in inputs]
    rq, rk, rv, table = leaves
    ke, ve = (x.repeat_interleave(rq.shape[1] // rk.shape[1], 1) for x in (rk, rv))
    ((torch.softmax(scores(rq, ke, table), -1) @ ve) * w.double()).sum().backward()
    for on_gpu, on_cpu, leaf in zip(grads[0], grads[2], leaves):
        check("bf16", on_gpu, leaf.grad)
        check("bf16", on_gpu, on_cpu.double())


def t5_buckets(n, m):
    """T5's bidirectional buckets of i - j as the spec below computes them (f32 logs)."""
    d = (torch.arange(n).view(-1, 1) - torch.arange(m).view(1, -1)).abs()
    far = (torch.log(d.float() / 8.0) / torch.log(torch.tensor(12.5)) * 8.0).int() + 8
    near = torch.where(d < 8, d, far.clamp(max=15))
    return near + 16 * (torch.arange(n).view(-1, 1) < torch.arange(m).view(1, -1))


def test_t5_buckets_backward_on_the_gpu():
    # T5's relative attention bias with its buckets computed in the spec: many pairs
    # per row for each element, summed on the GPU window by window in one order. Its
    # gradient against torch autograd in float64 and the CPU's, and the same bits on a
    # second run.
    mod = tmix.compile("""
attention t5(q: bf16[B, H, N, 64], k: bf16[B, HK, M, 64], v: bf16[B, HK, M, 64],
             rel: f32[H, 32]) -> o: bf16[B, H, N, 64] {
  scale = 1.0
  let d = abs(i - j)
  score = s + rel[h, (i < j ? 16 : 0) + (d < 8 ? d : min(8 + int(log(d / 8.0) / log(12.5) * 8.0), 15))]
}""", "cuda_t5.tmix")
    gen = torch.Generator().manual_seed(12)
    n, m = 150, 131
    q = torch.randn(2, 4, n, 64, generator=gen).bfloat16() * 0.2
    k, v = (torch.randn(2, 2, m, 64, generator=gen).bfloat16() for _ in range(2))
    rel = torch.randn(4, 32, generator=gen)
    w = torch.randn(2, 4, n, 64, generator=gen)
    buckets = t5_buckets(n, m)
    check_table_backward(mod["t5"], (q, k, v, rel), w, lambda rq, ke, table: (
        rq @ ke.transpose(-1, -2) + table[:, buckets].unsqueeze(0)))


def test_relative_position_table_backward_on_the_gpu():
    # A relative-position table (T5's, buckets expanded): its gradient on the GPU (each
    # tile's terms in shared memory, each element summed by the thread that owns it, in
    # row order) against torch autograd in float64 and the CPU's, and the same bits on
    # a second run.
    mod = tmix.compile("""
attention relative(q: bf16[B, H, N, 64], k: bf16[B, HK, M, 64], v: bf16[B, HK, M, 64],
                   bias: f32[H, R]) -> o: bf16[B, H, N, 64] {
  mask = j <= i + 20
  score = s + bias[h, i - j + M - 1]
}""", "cuda_relative.tmix")
    gen = torch.Generator().manual_seed(11)
    n, m = 140, 97
    q = torch.randn(2, 4, n, 64, generator=gen).bfloat16()
    k, v = (torch.randn(2, 2, m, 64, generator=gen).bfloat16() for _ in range(2))
    bias = torch.randn(4, n + m - 1, generator=gen)
    w = torch.randn(2, 4, n, 64, generator=gen)
    i, j = torch.arange(n).view(-1, 1), torch.arange(m).view(1, -1)
    check_table_backward(mod["relative"], (q, k, v, bias), w, lambda rq, ke, table: (
        rq @ ke.transpose(-1, -2) / 8 + table[:, i - j + m - 1].unsqueeze(0)).masked_fill(
            j > i + 20, float("-inf")))


def test_learned_sinks_backward_on_the_gpu():
    # gpt-oss's learned sink logits: their gradient on the GPU (part "params", a CTA per
    # head summing its rows in one order) against torch autograd in float64 and the
    # CPU's, and the same bits on a second run.
    mod = tmix.compile("""
attention sinks(q: bf16[B, H, N, 64], k: bf16[B, HK, N, 64], v: bf16[B, HK, N, 64],
                sinks: f32[H]) -> o: bf16[B, H, N, 64] {
  mask = j <= i
  sink = sinks[h]
}""", "cuda_sinks.tmix")
    gen = torch.Generator().manual_seed(3)
    q = torch.randn(2, 4, 133, 64, generator=gen).bfloat16()
    k, v = (torch.randn(2, 2, 133, 64, generator=gen).bfloat16() for _ in range(2))
    sinks = torch.randn(4, generator=gen)
    w = torch.randn(2, 4, 133, 64, generator=gen)
    grads = device_grads(mod["sinks"], (q, k, v, sinks), ("cuda", "cuda", "cpu"),
                         lambda o, device: (o.float() * w.to(device)).sum())
    assert all(torch.equal(a, b) for a, b in zip(grads[0], grads[1]))
    rq, rk, rv, rs = (x.double().requires_grad_() for x in (q, k, v, sinks))
    ke, ve = (x.repeat_interleave(2, 1) for x in (rk, rv))
    s = rq @ ke.transpose(-1, -2) / 8
    s = s.masked_fill(torch.ones(133, 133, dtype=torch.bool).triu(1), float("-inf"))
    sink = rs.view(1, 4, 1, 1).expand(2, 4, 133, 1)
    p = torch.softmax(torch.cat([s, sink], -1), -1)[..., :-1]
    ((p @ ve) * w.double()).sum().backward()
    for on_gpu, on_cpu, want in zip(grads[0], grads[2], (rq.grad, rk.grad, rv.grad, rs.grad)):
        check("bf16", on_gpu, want)
        check("bf16", on_gpu, on_cpu.double())


def test_learnable_rope_theta_backward_on_the_gpu():
    # rope's theta as a learnable scalar on the GPU: parts "key_value" and "query" store
    # each row's term of its gradient (rope_rows), part "params" sums them in order;
    # against torch autograd in float64 and the CPU's, and the same bits on a second run.
    mod = tmix.compile("""
attention spun(q: bf16[B, H, N, 64], k: bf16[B, HK, N, 64], v: bf16[B, HK, N, 64],
               theta: f32 = 10000.0) -> o: bf16[B, H, N, 64] {
  rope = theta
  mask = j <= i
}""", "cuda_rope_theta.tmix")
    gen = torch.Generator().manual_seed(9)
    n = 117
    q = torch.randn(2, 4, n, 64, generator=gen).bfloat16()
    k, v = (torch.randn(2, 2, n, 64, generator=gen).bfloat16() for _ in range(2))
    theta = torch.tensor(5000.0)
    w = torch.randn(2, 4, n, 64, generator=gen)
    grads = device_grads(mod["spun"], (q, k, v, theta), ("cuda", "cuda", "cpu"),
                         lambda o, device: (o.float() * w.to(device)).sum())
    assert all(torch.equal(a, b) for a, b in zip(grads[0], grads[1]))
    leaves = [x.double().requires_grad_() for x in (q, k, v, theta)]
    rq, rk, rv, rtheta = leaves

    def rope(x):
        pos = torch.arange(n, dtype=torch.float64)[:, None]
        angle = pos * rtheta ** (-2 * torch.arange(32, dtype=torch.float64) / 64)
        a, c = x[..., :32], x[..., 32:]
        return torch.cat([a * angle.cos() - c * angle.sin(),
                          c * angle.cos() + a * angle.sin()], -1)
    ke, ve = rope(rk).repeat_interleave(2, 1), rv.repeat_interleave(2, 1)
    s = (rope(rq) @ ke.transpose(-1, -2) / 8).masked_fill(
        torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    ((torch.softmax(s, -1) @ ve) * w.double()).sum().backward()
    for on_gpu, on_cpu, leaf in zip(grads[0], grads[2], leaves):
        if leaf.dim() == 0:
            # theta's: a sum over every rotated row of terms whose q and k sides nearly
            # cancel, each with the error of 16-bit products (tmixc's check scales its
            # bound so): a few percent at most from float64 and the CPU's.
            for other in (leaf.grad, on_cpu.double()):
                error = ((on_gpu.double() - other).abs() / other.abs()).item()
                assert error < 5e-2, error
        else:
            check("bf16", on_gpu, leaf.grad)
            check("bf16", on_gpu, on_cpu.double())


def test_learned_slopes_temperature_cap_and_sinks_backward_on_the_gpu():
    # Params summed per program (part "params", one CTA here, as tau and cap are shared
    # by every (b, h): it walks all the pairs, each thread summing its terms in f64, then
    # the CTA in a fixed tree): per-head ALiBi slopes, a temperature read in the scale, a
    # softcap cap and sink logits, against torch autograd in float64 and the CPU's, and
    # the same bits on a second run.
    mod = tmix.compile("""
attention learned(q: bf16[B, H, N, 64], k: bf16[B, HK, N, 64], v: bf16[B, HK, N, 64],
                  slopes: f32[H], sinks: f32[H], tau: f32 = 0.6, cap: f32 = 2.5)
    -> o: bf16[B, H, N, 64] {
  scale = 0.25 * exp(tau) / 8.0
  mask = j <= i
  score = softcap(s, cap) - slopes[h] * (i - j)
  sink = sinks[h]
}""", "cuda_learned.tmix")
    gen = torch.Generator().manual_seed(9)
    q = torch.randn(2, 4, 101, 64, generator=gen).bfloat16()
    k, v = (torch.randn(2, 2, 101, 64, generator=gen).bfloat16() for _ in range(2))
    slopes = 0.1 * torch.rand(4, generator=gen)
    sinks = torch.randn(4, generator=gen)
    tau, cap = torch.tensor(0.6), torch.tensor(2.5)
    w = torch.randn(2, 4, 101, 64, generator=gen)
    grads = device_grads(mod["learned"], (q, k, v, slopes, sinks, tau, cap),
                         ("cuda", "cuda", "cpu"),
                         lambda o, device: (o.float() * w.to(device)).sum())
    assert all(torch.equal(a, b) for a, b in zip(grads[0], grads[1]))
    leaves = [x.double().requires_grad_() for x in (q, k, v, slopes, sinks, tau, cap)]
    rq, rk, rv, rslopes, rsinks, rtau, rcap = leaves
    ke, ve = (x.repeat_interleave(2, 1) for x in (rk, rv))
    s = rq @ ke.transpose(-1, -2) * (0.25 * torch.exp(rtau) / 8)
    distance = (torch.arange(101).view(-1, 1) - torch.arange(101).view(1, -1)).double()
    s = rcap * torch.tanh(s / rcap) - rslopes.view(1, 4, 1, 1) * distance
    s = s.masked_fill(torch.ones(101, 101, dtype=torch.bool).triu(1), float("-inf"))
    sink = rsinks.view(1, 4, 1, 1).expand(2, 4, 101, 1)
    p = torch.softmax(torch.cat([s, sink], -1), -1)[..., :-1]
    ((p @ ve) * w.double()).sum().backward()
    for on_gpu, on_cpu, leaf in zip(grads[0], grads[2], leaves):
        check("bf16", on_gpu, on_cpu.double())
        if leaf.dim() == 0:
            # tau's and cap's: sums over every pair whose terms cancel, which o's
            # rounding to bf16 moves by about 2% from float64 (the CPU's as well; 1e-6
            # with f32 operands there).
            error = ((on_gpu.double() - leaf.grad).norm() / leaf.grad.norm()).item()
            assert error < 5e-2, error
        else:
            check("bf16", on_gpu, leaf.grad)


def test_head_dim_256_backward_on_the_gpu():
    # D = 256 with rope (Gemma): the GPU sums dq, dk and dv 128 columns per walk; its
    # gradients against the CPU's on the same inputs.
    mod = tmix.compile("""
attention wide(q: bf16[B, H, N, 256], k: bf16[B, HK, N, 256], v: bf16[B, HK, N, 256])
    -> o: bf16[B, H, N, 256] {
  rope = 10000.0
  mask = j <= i
}""", "cuda_wide.tmix")
    gen = torch.Generator().manual_seed(5)
    q = torch.randn(1, 4, 97, 256, generator=gen).bfloat16()
    k, v = (torch.randn(1, 2, 97, 256, generator=gen).bfloat16() for _ in range(2))
    w = torch.randn(1, 4, 97, 256, generator=gen)
    grads = device_grads(mod["wide"], (q, k, v), ("cuda", "cpu"),
                         lambda o, device: (o.float() * w.to(device)).sum())
    for on_gpu, on_cpu in zip(*grads):
        check("bf16", on_gpu, on_cpu.double())


def test_pair_bias_backward_on_the_gpu():
    # A pair bias [B, H, N, N] (AlphaFold-style): its gradient on the GPU (one element
    # per pair, added in part "query"'s walk) against torch autograd in float64 and the
    # CPU's, and the same bits on a second run.
    mod = tmix.compile("""
attention paired(q: bf16[B, H, N, 64], k: bf16[B, H, N, 64], v: bf16[B, H, N, 64],
                 pair: f32[B, H, N, N]) -> o: bf16[B, H, N, 64] {
  score = s + pair[b, h, i, j]
}""", "cuda_pair.tmix")
    gen = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(2, 3, 75, 64, generator=gen).bfloat16() for _ in range(3))
    pair = torch.randn(2, 3, 75, 75, generator=gen)
    w = torch.randn(2, 3, 75, 64, generator=gen)
    grads = device_grads(mod["paired"], (q, k, v, pair), ("cuda", "cuda", "cpu"),
                         lambda o, device: (o.float() * w.to(device)).sum())
    assert all(torch.equal(a, b) for a, b in zip(grads[0], grads[1]))
    rq, rk, rv, rp = (x.double().requires_grad_() for x in (q, k, v, pair))
    s = rq @ rk.transpose(-1, -2) / 8 + rp
    ((torch.softmax(s, -1) @ rv) * w.double()).sum().backward()
    for on_gpu, on_cpu, want in zip(grads[0], grads[2], (rq.grad, rk.grad, rv.grad, rp.grad)):
        check("bf16", on_gpu, want)
        check("bf16", on_gpu, on_cpu.double())


def test_recurrence_backward_on_the_gpu():
    # A recurrence's backward on the GPU (tmix-lower-recurrence-grad-to-nvgpu, then the
    # device's sums of the gradients several points share) from .backward() on CUDA
    # tensors: Mamba2 with two groups (B and C summed over their heads, A and D over
    # the batch, an argument the steps never read) and GLA with an initial state and a
    # gradient on the final one, at state dims 64, T past two chunks. The GPU twice
    # (the same bits), against the CPU's and against torch autograd through the
    # float64 step-by-step recurrences of test_grad_recurrences.py.
    from test_grad_recurrences import SPECS, gla_reference, mamba2_reference
    mod = tmix.compile(SPECS.format(dt="f32"), "cuda_recurrences.tmix")
    gen = torch.Generator().manual_seed(8)
    b, t, h, g, n, p = 2, 150, 4, 2, 64, 64
    x = torch.randn(b, t, h, p, generator=gen)
    dt = torch.rand(b, t, h, generator=gen) * 0.1
    A = -torch.rand(h, generator=gen)
    Bm, Cm = (torch.randn(b, t, g, n, generator=gen) / 8 for _ in range(2))
    D, unused = torch.randn(h, generator=gen), torch.randn(h, generator=gen)
    w = torch.randn(b, t, h, p, generator=gen)
    inputs = (x, dt, A, Bm, Cm, D, unused)
    grads = device_grads(mod["mamba2"], inputs, ("cuda", "cuda", "cpu"),
                         lambda y, device: (y * w.to(device)).sum())
    assert all(torch.equal(a, c) for a, c in zip(grads[0], grads[1]))
    leaves = [x_.double().requires_grad_() for x_ in inputs[:6]]
    (mamba2_reference(*leaves) * w.double()).sum().backward()
    for index, (on_gpu, on_cpu, leaf) in enumerate(zip(grads[0], grads[2], leaves)):
        assert on_gpu.shape == leaf.shape
        if index == 2:
            # A's gradient sums terms that cancel over every step and the batch: within
            # 2e-5 .. 7e-5 of the CPU's in the emulator (emulated-recurrence-grad.test).
            for ref in (leaf.grad, on_cpu.double()):
                assert ((on_gpu.double() - ref).norm() / ref.norm()).item() < 1e-3
            continue
        check("f32", on_gpu, leaf.grad)
        check("f32", on_gpu, on_cpu.double())
    assert torch.equal(grads[0][6], torch.zeros(h))

    k_dim = v_dim = 64
    q, k = (torch.randn(b, t, h, k_dim, generator=gen) / 8 for _ in range(2))
    v = torch.randn(b, t, h, v_dim, generator=gen)
    gate = -torch.rand(b, t, h, k_dim, generator=gen) * 0.2
    h0 = torch.randn(b, h, k_dim, v_dim, generator=gen)
    w_o, w_s = torch.randn(b, t, h, v_dim, generator=gen), torch.randn(b, h, k_dim, v_dim,
                                                                       generator=gen)
    inputs = (q, k, v, gate, h0)
    grads = device_grads(lambda q_, k_, v_, g_, h_: mod["gla"](q_, k_, v_, g_, 0.4, h_),
                         inputs, ("cuda", "cuda", "cpu"),
                         lambda out, device: (out[0] * w_o.to(device)).sum()
                         + (out[1] * w_s.to(device)).sum())
    assert all(torch.equal(a, c) for a, c in zip(grads[0], grads[1]))
    leaves = [x_.double().requires_grad_() for x_ in inputs]
    o, ht = gla_reference(*leaves[:4], 0.4, leaves[4])
    ((o * w_o.double()).sum() + (ht * w_s.double()).sum()).backward()
    for on_gpu, on_cpu, leaf in zip(grads[0], grads[2], leaves):
        check("f32", on_gpu, leaf.grad)
        check("f32", on_gpu, on_cpu.double())


def normalised_reference(q, k, v, eps=1e-6):
    """Linear attention with its normaliser (test_grad_recurrences.NORMALISED), step
    by step in the inputs' dtype."""
    state = q.new_zeros(*q.shape[:2], q.shape[-1], v.shape[-1])
    norm = q.new_zeros(*q.shape[:2], q.shape[-1])
    out = []
    for step in range(q.shape[2]):
        state = state + k[:, :, step, :, None] * v[:, :, step, None, :]
        norm = norm + k[:, :, step]
        readout = torch.einsum("bhk,bhkv->bhv", q[:, :, step], state)
        out.append(readout / ((q[:, :, step] * norm).sum(-1, keepdim=True) + eps))
    return torch.stack(out, 2)


def test_normalised_recurrence_backward_on_the_gpu():
    # Linear attention's normaliser z (a vector state beside S, run step by step in the
    # kernel) at T past two chunks: the GPU twice (the same bits), against the CPU's
    # step-by-step adjoint and torch autograd through the float64 steps. q and k drawn
    # positive (as elu + 1 gives them), so that the normaliser stays away from 0.
    from test_grad_recurrences import NORMALISED
    mod = tmix.compile(NORMALISED, "cuda_normalised.tmix")
    gen = torch.Generator().manual_seed(9)
    q, k = (torch.rand(2, 3, 130, 64, generator=gen) for _ in range(2))
    v, w = (torch.randn(2, 3, 130, 64, generator=gen) for _ in range(2))
    grads = device_grads(mod["normalised"], (q, k, v), ("cuda", "cuda", "cpu"),
                         lambda o, device: (o * w.to(device)).sum())
    assert all(torch.equal(a, c) for a, c in zip(grads[0], grads[1]))
    leaves = [x.double().requires_grad_() for x in (q, k, v)]
    (normalised_reference(*leaves) * w.double()).sum().backward()
    for on_gpu, on_cpu, leaf in zip(grads[0], grads[2], leaves):
        check("f32", on_gpu, leaf.grad)
        check("f32", on_gpu, on_cpu.double())


def test_recurrence_backward_the_gpu_does_not_run_says_why():
    # A row gate given by value (HGRN's form over a matrix state): the GPU's backward
    # does not run it yet, and says so, naming the CPU.
    from test_grad_recurrences import ROW_GATED
    mod = tmix.compile(ROW_GATED, "cuda_row_gated.tmix")
    q = torch.randn(1, 2, 30, 64, device="cuda").requires_grad_()
    g = torch.rand(1, 2, 30, 64, device="cuda")
    with pytest.raises(RuntimeError, match="with a row gate given by value, it runs on "
                                           "the CPU only so far"):
        mod["row_gated"](q, q, q, g).sum().backward()
