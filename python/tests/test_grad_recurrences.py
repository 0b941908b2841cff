"""The derived backward of recurrences through the PyTorch op (docs/training.md): the
gradients of GLA, Gated DeltaNet and Mamba2 (grouped B and C, per-head A and D) against
torch autograd through step-by-step float64 recurrences written here from the papers'
update rules (independent of tmix), in f32 and bf16; gradcheck, determinism,
torch.compile, packed sequences, and an argument the steps never read."""

import pytest
import torch

import tmix
from numerics import DTYPES, check
from test_recurrences import SPECS as FORWARD_SPECS

# fla's GLA and Gated DeltaNet as test_recurrences.py spells them, and two more.
SPECS = FORWARD_SPECS + """
recurrence mamba2(x: {dt}[B, T, H, P], dt: f32[B, T, H], A: f32[H], Bm: {dt}[B, T, G, N],
                  Cm: {dt}[B, T, G, N], D: f32[H], unused: f32[H]) -> y: {dt}[B, T, H, P] {{
  seq = T
  state S: f32[N, P]
  S = exp(dt[t] * A) * S + outer(Bm[t], dt[t] * x[t])
  y[t] = Cm[t] @ S + D * x[t]
}}
recurrence gated_delta_value(q: {dt}[B, T, H, K], k: {dt}[B, T, H, K], v: {dt}[B, T, H, V],
                             alpha: f32[B, T, H], beta: f32[B, T, H],
                             initial_state: f32[B, H, K, V])
    -> (o: {dt}[B, T, H, V], final_state: f32[B, H, K, V]) {{
  seq = T
  state S: f32[K, V] = initial_state
  S = alpha[t] * S
  S = S + beta[t] * outer(k[t], v[t] - k[t] @ S)
  o[t] = q[t] @ S
  final_state = S
}}
recurrence gla_varlen(q: f32[1, T, H, K], k: f32[1, T, H, K], v: f32[1, T, H, V],
                      g: f32[1, T, H, K], cu_seqlens: i64[N + 1])
    -> o: f32[1, T, H, V] {{
  seq = T by cu_seqlens
  state S: f32[K, V]
  S = exp(g[t]) * S + outer(k[t], v[t])
  o[t] = q[t] @ S
}}
"""

# Linear attention with its normaliser, a vector state beside S, at state dims 64: the
# GPUs' backward does not run it yet.
NORMALISED = """
recurrence normalised(q: f32[B, H, T, 64], k: f32[B, H, T, 64], v: f32[B, H, T, 64])
    -> o: f32[B, H, T, 64] {
  state S: f32[64, 64]
  state z: f32[64]
  S = S + outer(k[t], v[t])
  z = z + k[t]
  o[t] = (q[t] @ S) / (dot(q[t], z) + 1e-6)
}"""

# A row gate given by value (HGRN's form over a matrix state): the GPUs' backward
# does not run it yet.
ROW_GATED = """
recurrence row_gated(q: f32[B, H, T, 64], k: f32[B, H, T, 64], v: f32[B, H, T, 64],
                     g: f32[B, H, T, 64]) -> o: f32[B, H, T, 64] {
  state S: f32[64, 64]
  S = g[t] * S + outer(k[t], v[t])
  o[t] = q[t] @ S
}"""

B, T, H, K, V = 2, 21, 3, 6, 5


@pytest.fixture(scope="module", params=list(DTYPES))
def dtype(request):
    return request.param


@pytest.fixture(scope="module")
def mod(dtype):
    return tmix.compile(SPECS.format(dt=dtype), f"grad_recurrences_{dtype}.tmix")


def leaf(tensor):
    return tensor.detach().clone().requires_grad_()


def f64(*tensors):
    """float64 copies of the same (possibly bf16-rounded) values, recording gradients."""
    return [t.detach().double().requires_grad_() for t in tensors]


def gla_reference(q, k, v, g, scale, h0):
    S, outs = h0, []
    for t in range(q.shape[1]):
        S = torch.exp(g[:, t])[..., None] * S + k[:, t, :, :, None] * v[:, t, :, None, :]
        outs.append(torch.einsum("bhk,bhkv->bhv", scale * q[:, t], S))
    return torch.stack(outs, 1), S


def gated_delta_reference(q, k, v, g, beta, scale, h0, by_value=False):
    S, outs = h0, []
    for t in range(q.shape[1]):
        gate = g[:, t] if by_value else torch.exp(g[:, t])
        S = gate[..., None, None] * S
        kt = k[:, t]
        error = v[:, t] - torch.einsum("bhk,bhkv->bhv", kt, S)
        S = S + beta[:, t][..., None, None] * kt[..., None] * error[..., None, :]
        outs.append(torch.einsum("bhk,bhkv->bhv", scale * q[:, t], S))
    return torch.stack(outs, 1), S


def mamba2_reference(x, dt, A, Bm, Cm, D):
    heads, groups = x.shape[2], Bm.shape[2]
    Bh = Bm.repeat_interleave(heads // groups, 2)
    Ch = Cm.repeat_interleave(heads // groups, 2)
    S = torch.zeros(x.shape[0], heads, Bm.shape[-1], x.shape[-1], dtype=x.dtype)
    outs = []
    for t in range(x.shape[1]):
        decay = torch.exp(dt[:, t] * A)[..., None, None]
        S = decay * S + Bh[:, t, :, :, None] * (dt[:, t, :, None] * x[:, t])[..., None, :]
        outs.append(torch.einsum("bhn,bhnp->bhp", Ch[:, t], S) + D[:, None] * x[:, t])
    return torch.stack(outs, 1)


def weights(*shapes, seed):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=gen, dtype=torch.float64) for shape in shapes]


def test_gla_matches_float64_autograd(mod, dtype):
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(B, T, H, d, generator=gen).to(DTYPES[dtype]) for d in (K, K, V))
    g = -torch.rand(B, T, H, K, generator=gen)  # log decays in (-1, 0]
    h0 = torch.randn(B, H, K, V, generator=gen)
    ours = [leaf(t) for t in (q, k, v, g, h0)]
    o, ht = mod["gla"](ours[0], ours[1], ours[2], ours[3], 0.4, ours[4])
    w_o, w_h = weights((B, T, H, V), (B, H, K, V), seed=2)
    ((o.double() * w_o).sum() + (ht.double() * w_h).sum()).backward()
    theirs = f64(q, k, v, g, h0)
    o64, ht64 = gla_reference(*theirs[:4], 0.4, theirs[4])
    ((o64 * w_o).sum() + (ht64 * w_h).sum()).backward()
    for got, want in zip(ours, theirs):
        assert got.grad.dtype == got.dtype
        # f32 arithmetic on the same inputs; in bf16 the outputs' gradients (and those
        # of the bf16 arguments) are rounded to bf16.
        check(dtype, got.grad, want.grad)


@pytest.mark.parametrize("t", [64, 65, 150])
def test_chunked_backward_across_chunks(mod, dtype, t):
    # GLA, Mamba2 and Gated DeltaNet (its gate in log space and by value) take the
    # chunked backward (chunks of 64 steps, sub-chunks of 16):
    # lengths at, past and over two chunk boundaries, strong decays (a step's log decay
    # down to -3: gates products far below f32's range across a chunk).
    gen = torch.Generator().manual_seed(20 + t)
    q, k, v = (torch.randn(1, t, 2, d, generator=gen).to(DTYPES[dtype]) for d in (K, K, V))
    g = -3 * torch.rand(1, t, 2, K, generator=gen)
    h0 = torch.randn(1, 2, K, V, generator=gen)
    ours = [leaf(x) for x in (q, k, v, g, h0)]
    o, ht = mod["gla"](ours[0], ours[1], ours[2], ours[3], 0.4, ours[4])
    w_o, w_h = weights((1, t, 2, V), (1, 2, K, V), seed=21)
    ((o.double() * w_o).sum() + (ht.double() * w_h).sum()).backward()
    theirs = f64(q, k, v, g, h0)
    o64, ht64 = gla_reference(*theirs[:4], 0.4, theirs[4])
    ((o64 * w_o).sum() + (ht64 * w_h).sum()).backward()
    for got, want in zip(ours, theirs):
        check(dtype, got.grad, want.grad)

    x = torch.randn(1, t, 4, 3, generator=gen).to(DTYPES[dtype])
    dt = torch.rand(1, t, 4, generator=gen)
    A = -2 * torch.rand(4, generator=gen)
    Bm, Cm = (torch.randn(1, t, 2, 5, generator=gen).to(DTYPES[dtype]) for _ in range(2))
    D = torch.randn(4, generator=gen)
    ours = [leaf(x) for x in (x, dt, A, Bm, Cm, D)]
    y = mod["mamba2"](*ours, torch.zeros(4))
    (w_y,) = weights((1, t, 4, 3), seed=22)
    (y.double() * w_y).sum().backward()
    theirs = f64(x, dt, A, Bm, Cm, D)
    (mamba2_reference(*theirs).double() * w_y).sum().backward()
    for got, want in zip(ours, theirs):
        check(dtype, got.grad, want.grad)

    # Gated DeltaNet's chunked backward (the WY solve's adjoint), unit keys, with a
    # gradient on the final state too.
    q, v = (torch.randn(1, t, 2, d, generator=gen).to(DTYPES[dtype]) for d in (K, V))
    k = torch.nn.functional.normalize(torch.randn(1, t, 2, K, generator=gen), dim=-1)
    k = k.to(DTYPES[dtype])
    g = -3 * torch.rand(1, t, 2, generator=gen)
    beta = torch.rand(1, t, 2, generator=gen)
    h0 = torch.randn(1, 2, K, V, generator=gen)
    ours = [leaf(x) for x in (q, k, v, g, beta, h0)]
    o, ht = mod["gated_delta"](*ours[:5], 0.3, ours[5])
    w_o, w_h = weights((1, t, 2, V), (1, 2, K, V), seed=23)
    ((o.double() * w_o).sum() + (ht.double() * w_h).sum()).backward()
    theirs = f64(q, k, v, g, beta, h0)
    o64, ht64 = gated_delta_reference(*theirs[:5], 0.3, theirs[5])
    ((o64 * w_o).sum() + (ht64 * w_h).sum()).backward()
    for got, want in zip(ours, theirs):
        check(dtype, got.grad, want.grad)

    # And with its gate given by value, as DSL.md writes it: of either sign, some near
    # 0 (the chunked backward's sums that carry each step's gate).
    alpha = 2 * torch.rand(1, t, 2, generator=gen) - 1
    ours = [leaf(x) for x in (q, k, v, alpha, beta, h0)]
    o, ht = mod["gated_delta_value"](*ours)
    ((o.double() * w_o).sum() + (ht.double() * w_h).sum()).backward()
    theirs = f64(q, k, v, alpha, beta, h0)
    o64, ht64 = gated_delta_reference(*theirs[:5], 1.0, theirs[5], by_value=True)
    ((o64 * w_o).sum() + (ht64 * w_h).sum()).backward()
    for got, want in zip(ours, theirs):
        check(dtype, got.grad, want.grad)


def test_gated_delta_matches_float64_autograd(mod, dtype):
    gen = torch.Generator().manual_seed(3)
    q, v = (torch.randn(B, T, H, d, generator=gen).to(DTYPES[dtype]) for d in (K, V))
    # Unit keys keep the delta rule's state bounded (|1 - beta k.k| < 1).
    k = torch.nn.functional.normalize(torch.randn(B, T, H, K, generator=gen), dim=-1)
    k = k.to(DTYPES[dtype])
    g = -torch.rand(B, T, H, generator=gen)
    beta = torch.rand(B, T, H, generator=gen)
    h0 = torch.randn(B, H, K, V, generator=gen)
    ours = [leaf(t) for t in (q, k, v, g, beta, h0)]
    o, ht = mod["gated_delta"](*ours[:5], 0.3, ours[5])
    (w_o,) = weights((B, T, H, V), seed=4)
    # A loss that reads o only: final_state's gradient is zeros.
    (o.double() * w_o).sum().backward()
    theirs = f64(q, k, v, g, beta, h0)
    o64, _ = gated_delta_reference(*theirs[:5], 0.3, theirs[5])
    (o64 * w_o).sum().backward()
    for got, want in zip(ours, theirs):
        check(dtype, got.grad, want.grad)


def test_mamba2_groups_and_head_constants(mod, dtype):
    b, t, h, g, n, p = 2, 17, 4, 2, 5, 3
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(b, t, h, p, generator=gen).to(DTYPES[dtype])
    dt = torch.rand(b, t, h, generator=gen) * 0.5
    A = -torch.rand(h, generator=gen)
    Bm, Cm = (torch.randn(b, t, g, n, generator=gen).to(DTYPES[dtype]) for _ in range(2))
    D = torch.randn(h, generator=gen)
    unused = torch.randn(h, generator=gen)
    ours = [leaf(t_) for t_ in (x, dt, A, Bm, Cm, D, unused)]
    y = mod["mamba2"](*ours)
    (w,) = weights((b, t, h, p), seed=6)
    (y.double() * w).sum().backward()
    theirs = f64(x, dt, A, Bm, Cm, D)
    (mamba2_reference(*theirs) * w).sum().backward()
    for got, want in zip(ours, theirs):
        assert got.grad.shape == got.shape  # B and C summed over their groups' heads
        check(dtype, got.grad, want.grad)
    # The steps never read `unused`: its gradient is zero.
    assert torch.equal(ours[6].grad, torch.zeros(h))


def test_packed_sequences(mod, dtype):
    h, k, v, total = 2, 4, 3, 19
    offsets = torch.tensor([0, 7, 7, 19], dtype=torch.int64)  # an empty sequence too
    gen = torch.Generator().manual_seed(7)
    q, kk, vv = (torch.randn(1, total, h, d, generator=gen) for d in (k, k, v))
    g = -torch.rand(1, total, h, k, generator=gen)
    ours = [leaf(t) for t in (q, kk, vv, g)]
    o = mod["gla_varlen"](*ours, offsets)
    (w,) = weights((1, total, h, v), seed=8)
    (o.double() * w).sum().backward()
    theirs = f64(q, kk, vv, g)
    pieces = []
    for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
        if start == end:
            continue
        piece = [t[:, start:end] for t in theirs]
        pieces.append(gla_reference(*piece, 1.0, torch.zeros(1, h, k, v, dtype=torch.float64))[0])
    (torch.cat(pieces, 1) * w).sum().backward()
    for got, want in zip(ours, theirs):
        check("f32", got.grad, want.grad)


@pytest.mark.filterwarnings("ignore:Input #")
def test_gradcheck_in_f32():
    # tmix has no f64 kernels: gradcheck's finite differences run in f32, with steps and
    # tolerances to match (a wrong derivative is off by far more).
    mod = tmix.compile(SPECS.format(dt="f32"), "grad_check_recurrences.tmix")
    op = mod["gated_delta"].torch_op(namespace="tmix_gradcheck_recurrences")
    gen = torch.Generator().manual_seed(9)
    b, t, h, k, v = 1, 4, 2, 3, 2
    inputs = tuple(x.requires_grad_() for x in (
        torch.randn(b, t, h, k, generator=gen), torch.randn(b, t, h, k, generator=gen) * 0.5,
        torch.randn(b, t, h, v, generator=gen), -torch.rand(b, t, h, generator=gen),
        torch.rand(b, t, h, generator=gen)))
    h0 = torch.randn(b, h, k, v, generator=gen).requires_grad_()
    assert torch.autograd.gradcheck(lambda *a: op(*a[:5], 0.7, a[5]), inputs + (h0,),
                                    eps=1e-2, atol=5e-3, rtol=5e-2)


def test_gradients_are_deterministic(mod, dtype):
    gen = torch.Generator().manual_seed(10)
    x = torch.randn(2, 40, 4, 3, generator=gen).to(DTYPES[dtype]).requires_grad_()
    dt = (torch.rand(2, 40, 4, generator=gen) * 0.5).requires_grad_()
    A = (-torch.rand(4, generator=gen)).requires_grad_()
    Bm, Cm = (torch.randn(2, 40, 2, 5, generator=gen).to(DTYPES[dtype]).requires_grad_()
              for _ in range(2))
    D, unused = torch.randn(4, generator=gen), torch.zeros(4)
    grads = []
    for _ in range(2):
        for t in (x, dt, A, Bm, Cm):
            t.grad = None
        mod["mamba2"](x, dt, A, Bm, Cm, D, unused).float().sum().backward()
        grads.append([t.grad.clone() for t in (x, dt, A, Bm, Cm)])
    for first, second in zip(*grads):
        assert torch.equal(first, second)


def test_torch_compile_records_the_backward(mod, dtype):
    if dtype != "f32":
        pytest.skip("one dtype")
    op = mod["gla"].torch_op(namespace="tmix_grad_compile_recurrences")
    gen = torch.Generator().manual_seed(11)
    q, k, v = (torch.randn(1, 9, 2, d, generator=gen).requires_grad_() for d in (4, 4, 3))
    g = (-torch.rand(1, 9, 2, 4, generator=gen)).requires_grad_()
    h0 = torch.zeros(1, 2, 4, 3)

    def loss(q, k, v, g):
        o, ht = op(q, k, v, g, 0.5, h0)
        return o.square().sum() + ht.sum()

    loss(q, k, v, g).backward()
    eager = [t.grad.clone() for t in (q, k, v, g)]
    for t in (q, k, v, g):
        t.grad = None
    torch.compile(loss, fullgraph=True, backend="aot_eager")(q, k, v, g).backward()
    for got, want in zip((q, k, v, g), eager):
        assert torch.allclose(got.grad, want, rtol=1e-6, atol=1e-6)


def test_a_learnable_scale(mod, dtype):
    # fla's scale as a tensor that requires grad: its gradient sums every point's.
    gen = torch.Generator().manual_seed(12)
    q, k, v = (torch.randn(B, T, H, d, generator=gen).to(DTYPES[dtype]) for d in (K, K, V))
    g = -torch.rand(B, T, H, K, generator=gen)
    h0 = torch.randn(B, H, K, V, generator=gen)
    scale = torch.tensor(0.4, requires_grad=True)
    ours = [leaf(t) for t in (q, k, v, g, h0)]
    o, ht = mod["gla"](ours[0], ours[1], ours[2], ours[3], scale, ours[4])
    w_o, w_h = weights((B, T, H, V), (B, H, K, V), seed=13)
    ((o.double() * w_o).sum() + (ht.double() * w_h).sum()).backward()
    theirs = f64(q, k, v, g, h0)
    (scale64,) = f64(scale)
    o64, ht64 = gla_reference(*theirs[:4], scale64, theirs[4])
    ((o64 * w_o).sum() + (ht64 * w_h).sum()).backward()
    assert scale.grad.shape == () and scale.grad.dtype == torch.float32
    check(dtype, scale.grad, scale64.grad)
    for got, want in zip(ours, theirs):
        check(dtype, got.grad, want.grad)



def test_adjoints_write_every_element_of_the_callers_outputs(mod, dtype):
    # The runtime hands an adjoint the caller's own output for a gradient that shares
    # nothing (a per-step input's, the initial state's) and sums the others (Mamba2's A
    # and D under the batch, Bm and Cm over their groups' heads, GLA's scale): outputs
    # filled with NaN or zeros beforehand must come back the same. GLA runs chunk by
    # chunk (T = 150: three chunks), Mamba2 too.
    gen = torch.Generator().manual_seed(12)
    dt_ = DTYPES[dtype]

    def randn(*shape, to=dt_):
        return torch.randn(*shape, generator=gen).to(to)

    calls = {
        "mamba2_grad": (randn(2, 37, 4, 3), torch.rand(2, 37, 4, generator=gen) * 0.5,
                        -torch.rand(4, generator=gen), randn(2, 37, 2, 5), randn(2, 37, 2, 5),
                        randn(4, to=torch.float32), torch.zeros(4), randn(2, 37, 4, 3)),
        "gla_grad": (randn(2, 150, 3, 8) * 0.3, randn(2, 150, 3, 8) * 0.3, randn(2, 150, 3, 6),
                     -torch.rand(2, 150, 3, 8, generator=gen) * 0.2, 0.7,
                     randn(2, 3, 8, 6, to=torch.float32), randn(2, 150, 3, 6),
                     randn(2, 3, 8, 6, to=torch.float32)),
    }
    for kernel, call in calls.items():
        adjoint = mod.kernel(kernel)
        fresh = adjoint(*call)
        results = []
        for fill in (float("nan"), 0.0):
            outs = [torch.full_like(t, fill) for t in fresh]
            adjoint(*call, out=outs)
            results.append(outs)
        names = [p.name for p in adjoint.outputs]
        for name, first, second, want in zip(names, *results, fresh):
            assert torch.equal(first, second), (kernel, name)
            assert torch.equal(first, want), (kernel, name)


def test_gpu_kernels_of_the_backward(mod, dtype):
    # Without a GPU: a recurrence's backward for a GPU target is the CPU's call (each
    # gradient in its argument's shape: the device sums what several points share),
    # and one the GPU kernel does not run yet (a row gate given by value) says why.
    for target in ("sm_80", "sm_90a"):
        adjoint = mod.kernel("mamba2_grad", target)
        assert [p.name for p in adjoint.outputs] == [p.name for p in
                                                     mod.kernel("mamba2_grad").outputs]
        for param, on_cpu in zip(adjoint.outputs, mod.kernel("mamba2_grad").outputs):
            assert param.declared() == on_cpu.declared()
        shapes = {p.name: p.declared() for p in adjoint.outputs}
        assert shapes["d_A"] == "f32[H]" and shapes["d_Bm"] == "f32[B, T, G, N]"
    # Linear attention's normaliser (a vector state beside S): the GPU's kernel
    # exists; its outputs are the CPU's.
    normalised = tmix.compile(NORMALISED, "gpu_normalised.tmix")
    on_gpu = normalised.kernel("normalised_grad", "sm_80")
    assert [(p.name, p.declared()) for p in on_gpu.outputs] == [
        (p.name, p.declared()) for p in normalised.kernel("normalised_grad").outputs]
    row_gated = tmix.compile(ROW_GATED, "gpu_row_gated.tmix")
    with pytest.raises(ValueError, match="with a row gate given by value, it runs on the "
                                         "CPU"):
        row_gated.kernel("row_gated_grad", "sm_80")
