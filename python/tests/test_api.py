"""The package's doors: numpy and torch tensors, strides, out=, errors, threads, and the
PyTorch op in eager mode and under torch.compile(fullgraph=True)."""

import math
import threading

import numpy as np
import pytest
import torch

import tmix

SPEC = """
attention swa(q: f32[B, H, N, D], k: f32[B, HK, N, D], v: f32[B, HK, N, D],
              window: i32 = 32) -> (o: f32[B, H, N, D], lse: f32[B, H, N]) {
  mask = j <= i && i - j < window
}
attention needs_scale(q: f32[B, H, N, 16], k: f32[B, H, N, 16], v: f32[B, H, N, 16],
                      temperature: f32) -> o: f32[B, H, N, 16] {
  score = s / temperature
}
"""


@pytest.fixture(scope="module")
def mod():
    return tmix.compile(SPEC, "api.tmix")


def reference(q, k, v, window):
    """float64 windowed causal GQA attention and its lse."""
    q, k, v = (torch.as_tensor(x).double() for x in (q, k, v))
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
    n = q.shape[2]
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~((j <= i) & (i - j < window)), float("-inf"))
    return torch.softmax(scores, -1) @ v, torch.logsumexp(scores, -1)


def rel_err(out, ref):
    out = torch.as_tensor(out).double()
    return ((out - ref).norm() / ref.norm()).item()


def random_qkv(b=2, h=4, hk=2, n=45, d=24, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(b, h, n, d, generator=gen), torch.randn(b, hk, n, d, generator=gen),
            torch.randn(b, hk, n, d, generator=gen))


def test_module_and_kernel_describe_themselves(mod):
    assert mod.names() == ["swa", "needs_scale"]
    kernel = mod["swa"]
    assert kernel is mod["swa"]  # one Kernel per (name, target)
    assert [p.name for p in kernel.args] == ["q", "k", "v", "window"]
    assert [p.name for p in kernel.outputs] == ["o", "lse"]
    assert "swa(q: f32[B, H, N, D]" in repr(kernel)


def test_numpy_in_numpy_out(mod):
    q, k, v = (x.numpy() for x in random_qkv())
    o, lse = mod["swa"](q, k, v, window=7)
    assert isinstance(o, np.ndarray) and o.dtype == np.float32 and o.shape == q.shape
    ref_o, ref_lse = reference(q, k, v, 7)
    assert rel_err(o, ref_o) < 2e-5 and rel_err(lse, ref_lse) < 2e-5


def test_torch_keywords_defaults_and_out(mod):
    q, k, v = random_qkv(seed=1)
    o, lse = mod["swa"](v=v, k=k, q=q)  # window's default, 32
    ref_o, ref_lse = reference(q, k, v, 32)
    assert isinstance(o, torch.Tensor) and rel_err(o, ref_o) < 2e-5
    out = (torch.full_like(q, float("nan")), torch.full(q.shape[:3], float("nan")))
    result = mod["swa"](q, k, v, 32, out=out)
    assert result[0] is out[0] and torch.equal(out[0], o) and torch.equal(out[1], lse)


def test_strided_views_need_no_copy(mod):
    """[B, N, H, D] storage read as [B, H, N, D] views; a strided output too."""
    q, k, v = random_qkv(seed=2)
    views = [x.transpose(1, 2).contiguous().transpose(1, 2) for x in (q, k, v)]
    assert all(not x.is_contiguous() and x.stride(-1) == 1 for x in views)
    o_storage = torch.empty(2, 45, 4, 24)
    lse = torch.empty(2, 4, 45)
    mod["swa"](*views, out=(o_storage.transpose(1, 2), lse))
    ref_o, _ = reference(q, k, v, 32)
    assert rel_err(o_storage.transpose(1, 2), ref_o) < 2e-5
    # A slice with gaps between rows: every stride but the last is free.
    wide = torch.randn(2, 4, 90, 24)
    o, _ = mod["swa"](wide[:, :, ::2], k, v)
    assert rel_err(o, reference(wide[:, :, ::2], k, v, 32)[0]) < 2e-5


def test_errors_are_exceptions(mod):
    q, k, v = random_qkv(seed=3)
    swa = mod["swa"]
    with pytest.raises(TypeError, match="'k' is torch.float64, which tmix does not take"):
        swa(q, k.double(), v)
    with pytest.raises(TypeError, match="argument 'k' is bf16 but is declared f32"):
        swa(q, k.bfloat16(), v)
    with pytest.raises(ValueError, match=r"'N' is 45 from argument 'q' \(dim 2\) but 44 from argument 'v'"):
        swa(q, k, v[:, :, :44])
    with pytest.raises(ValueError, match="HK.*must divide"):
        swa(q, k[:, :1].expand(2, 3, 45, 24).contiguous(), v[:, :1].expand(2, 3, 45, 24))
    with pytest.raises(ValueError, match="last dim contiguous"):
        swa(q, k.transpose(2, 3).contiguous().transpose(2, 3), v)
    with pytest.raises(ValueError, match="rank 3"):
        swa(q[0], k, v)
    with pytest.raises(ValueError, match="window.*out of range for i32"):
        swa(q, k, v, window=2 ** 40)
    with pytest.raises(TypeError, match="missing scalar argument 'temperature'"):
        mod["needs_scale"](q[:, :, :, :16], q[:, :, :, :16].contiguous(), q[..., :16].contiguous())
    with pytest.raises(TypeError, match="has no argument 'windw'"):
        swa(q, k, v, windw=3)
    with pytest.raises(TypeError, match="must be a tensor"):
        swa(q, [1, 2], v)
    with pytest.raises(ValueError, match="stride 0"):
        swa(q, k, v, out=(torch.empty(24).expand(2, 4, 45, 24), torch.empty(2, 4, 45)))
    with pytest.raises(ValueError, match="output 'o' has shape"):
        swa(q, k, v, out=(torch.empty(2, 4, 44, 24), torch.empty(2, 4, 45)))
    with pytest.raises(ValueError, match="out= does not record gradients"):
        swa(q.requires_grad_(), k, v, out=(torch.empty(2, 4, 45, 24), torch.empty(2, 4, 45)))
    with pytest.raises(ValueError, match="no spec named 'nope'"):
        mod["nope"]
    with pytest.raises(ValueError, match="unknown target 'tpu'"):
        mod.kernel("swa", "tpu")
    with pytest.raises(TypeError, match="'q' is on the CPU but the kernel was compiled "
                                        "for a CUDA device"):
        mod.kernel("swa", "sm_90a")(q.detach(), k, v)
    if not torch.cuda.is_available():  # with a GPU, test_cuda.py runs the kernel
        with pytest.raises(RuntimeError, match="target 'cuda': no CUDA device"):
            mod.kernel("swa", "cuda")


def test_spec_errors_raise_compile_error_with_a_location():
    with pytest.raises(tmix.CompileError) as info:
        tmix.compile("attention bad(q: f32[B, H, N, D]) -> o: f32[B, H, N, D] {\n}\n", "bad.tmix")
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("bad.tmix:1:")
    with pytest.raises(tmix.CompileError, match=r"two.tmix:2:\d+: error: "):
        tmix.compile("attention a(q: f32[B, H, N, 8], k: f32[B, H, N, 8], v: f32[B, H, N, 8])"
                     " -> o: f32[B, H, N, 8] {\n  mask = j <= undefined_name\n}\n", "two.tmix")
    with pytest.raises(TypeError):
        tmix.compile(b"bytes are not text")


def test_eight_python_threads(mod):
    """Threads with their own sizes and windows, one shared kernel; each output checked."""
    errors = []

    def worker(index):
        try:
            q, k, v = random_qkv(n=20 + 7 * index, seed=100 + index)
            for _ in range(3):
                o, lse = mod["swa"](q, k, v, window=3 + index)
                ref_o, ref_lse = reference(q, k, v, 3 + index)
                assert rel_err(o, ref_o) < 2e-5 and rel_err(lse, ref_lse) < 2e-5
        except BaseException as error:  # reported by the main thread
            errors.append((index, error))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_torch_op_eager_and_compiled(mod):
    op = mod["swa"].torch_op(namespace="tmix_test")
    assert op is torch.ops.tmix_test.swa
    q, k, v = random_qkv(seed=4)
    o, lse = op(q, k, v)  # the schema carries window's default
    ref_o, ref_lse = reference(q, k, v, 32)
    assert rel_err(o, ref_o) < 2e-5 and rel_err(lse, ref_lse) < 2e-5

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(24, 24)

        def forward(self, q, k, v):
            o, _ = op(q, k, v, 9)
            return self.proj(o)

    block = Block()
    compiled = torch.compile(block, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        got = compiled(q, k, v)
        want = block.proj(reference(q, k, v, 9)[0].float())
    assert rel_err(got, want.double()) < 2e-5


def test_torch_op_has_the_derived_backward(mod):
    # The backward's numerics are test_grad.py's; here the op records it.
    op = mod["swa"].torch_op(namespace="tmix_test")
    q, k, v = random_qkv(seed=5)
    q.requires_grad_()
    o, _ = op(q, k, v)
    o.sum().backward()
    assert q.grad is not None and q.grad.shape == q.shape and q.grad.abs().sum() > 0
