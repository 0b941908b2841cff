"""CUDA tensors through the package, on a GPU (test/python/cuda.test: REQUIRES
cuda-device): the GPU kernel of the spec runs on the current stream, against SDPA in
float64; the CPU kernel's results agree."""

import torch

import tmix
from numerics import check

SPEC = """
attention causal_gqa(q: {dt}[B, H, N, 128], k: {dt}[B, HK, N, 128], v: {dt}[B, HK, N, 128])
    -> (o: {dt}[B, H, N, 128], lse: f32[B, H, N]) {{
  mask = j <= i
}}
"""


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
