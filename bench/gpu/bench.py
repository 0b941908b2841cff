"""bench/gpu: every tmix GPU kernel carried in artifacts/ on the GPU, then the headline
timings against PyTorch's SDPA (FlashAttention and cuDNN backends) and FlexAttention,
and the recurrences' against flash-linear-attention (recurrences.py).

Correctness: each kernel runs on the inputs prepare.sh made (N = 200, M = 233: partial
tiles, GQA, masks) and is compared with the tmix CPU path's outputs for them (checked
against the float64 reference when they were made) and, for the masks below, with an
independent float32 PyTorch reference: ||out - ref|| / ||ref|| < 1e-2 passes.
Timing: B=2, H=16, D=128, bf16, N=8192 by default: median of CUDA-event times.

Needs only the runtime library (libtmix_cuda.so) to start: without a CUDA device it
says so and exits with status 1 before importing torch."""
import argparse
import ctypes
import glob
import math
import os
import sys

from manifest import caller_results, parse_manifest, shape_of
import recurrences

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-2
# Where the tensors live: "cuda" on the GPU machine; dry_run.py sets "cpu" to run the
# whole script without a GPU.
DEVICE = "cuda"

# Independent float32 references: kernel -> mask(i, j, inputs, scalars) on index grids.
TORCH_MASKS = {
    "causal": lambda i, j, x, s: j <= i,
    "causal_bf16": lambda i, j, x, s: j <= i,
    "sliding_window": lambda i, j, x, s: (j <= i) & (i - j < s["window"]),
    "window_bf16": lambda i, j, x, s: (j <= i) & (i - j < s["window"]),
    "lambda_mask": lambda i, j, x, s: (j <= i) & ((j < 4) | (i - j < 2048)),
    "chunked_attention": lambda i, j, x, s: (j <= i) & (i // s["chunk"] == j // s["chunk"]),
    "documents_bf16": lambda i, j, x, s: (x["doc"][0][i] == x["doc"][0][j]) & (j <= i),
}


def load_runtime(path):
    lib = ctypes.CDLL(path)
    lib.tmix_cuda_launch.argtypes = [
        ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_double),
        ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.tmix_cuda_device.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    return lib


class Kernel:
    def __init__(self, lib, path):
        self.lib, self.path, self.m = lib, path, parse_manifest(path)
        self.name = self.m["kernel"]

    def __call__(self, tensors, scalars, sizes):
        import torch
        m = self.m
        ptrs, values = [], []
        for a in m["args"]:
            if a["tensor"]:
                ptrs.append(tensors[a["name"]].data_ptr())
                values.append(0.0)
            else:
                ptrs.append(0)
                values.append(float(scalars[a["name"]]))
        ptrs += [tensors[r["name"]].data_ptr() for r in caller_results(m)]
        size_list = [sizes[s] for s in m["sizes"]]
        error = ctypes.create_string_buffer(1024)
        status = self.lib.tmix_cuda_launch(
            self.path.encode(), (ctypes.c_uint64 * len(ptrs))(*ptrs),
            (ctypes.c_double * len(values))(*values),
            (ctypes.c_int64 * max(len(size_list), 1))(*size_list),
            ctypes.c_void_p(torch.cuda.current_stream().cuda_stream), error, len(error))
        if status != 0:
            raise RuntimeError(f"{self.name}: {error.value.decode()}")


def torch_dtype(name):
    import torch
    return {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
            "i32": torch.int32, "i64": torch.int64, "bool": torch.bool,
            "f64": torch.float64}[name]


def rel_err(out, ref):
    import torch
    out, ref = out.float(), ref.float()
    finite = torch.isfinite(ref)
    if not torch.equal(finite, torch.isfinite(out)):
        return float("inf")
    out, ref = out[finite], ref[finite]
    return ((out - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def torch_reference(kernel, inputs, scalars, sizes):
    """float32 softmax(q k^T / sqrt(D)) v with the kernel's mask (GQA-aware)."""
    import torch
    q, k, v = (inputs[a["name"]].float() for a in kernel.m["args"][:3])
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
    i = torch.arange(q.shape[2], device=q.device)[:, None]
    j = torch.arange(k.shape[2], device=q.device)[None, :]
    keep = TORCH_MASKS[kernel.name](i, j, inputs, scalars)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~keep, float("-inf"))
    p = torch.softmax(s, -1).nan_to_num(0.0)
    return p @ v


def load_npy(path):
    """A .npy file (little-endian f4/i4/i8, C order) as a CPU tensor, without numpy (the
    GPU machine's torch may come without it)."""
    import ast
    import torch
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file")
    major = data[6]
    header_len = int.from_bytes(data[8:10] if major == 1 else data[8:12], "little")
    start = (10 if major == 1 else 12) + header_len
    header = ast.literal_eval(data[10 if major == 1 else 12:start].decode("latin1"))
    dtype = {"<f4": torch.float32, "<i4": torch.int32, "<i8": torch.int64,
             "|b1": torch.bool}[header["descr"]]
    if header["fortran_order"]:
        raise ValueError(f"{path}: Fortran order is not supported")
    tensor = torch.frombuffer(bytearray(data[start:]), dtype=dtype)
    return tensor.reshape(header["shape"])


def check(kernel, data_dir):
    import torch
    m = kernel.m
    sizes = dict(kv.split("=") for kv in open(f"{data_dir}/sizes.txt").read().strip().split(","))
    sizes = {key: int(value) for key, value in sizes.items()}
    inputs, scalars = {}, {}
    # The values make_inputs.py chose for the scalars without a default.
    given = {}
    if os.path.exists(f"{data_dir}/scalars.txt"):
        given = dict(line.strip().split("=") for line in open(f"{data_dir}/scalars.txt")
                     if line.strip())
    for a in m["args"]:
        if a["tensor"]:
            inputs[a["name"]] = load_npy(f"{data_dir}/{a['name']}.npy").to(
                DEVICE, torch_dtype(a["dtype"]))
        else:
            scalars[a["name"]] = (float(given[a["name"]]) if a["name"] in given else
                                  a["default"] if a["default"] is not None else 0.0)
    results = caller_results(m)
    outputs = {r["name"]: torch.zeros(shape_of(r, sizes), dtype=torch_dtype(r["dtype"]),
                                      device=DEVICE) for r in results}
    kernel({**inputs, **outputs}, scalars, sizes)
    synchronize()
    errors = {}
    for r in results:
        expected = load_npy(f"{data_dir}/expected/{r['name']}.npy").to(DEVICE)
        errors[r["name"]] = rel_err(outputs[r["name"]], expected)
    if kernel.name in TORCH_MASKS:
        errors["o_vs_torch"] = rel_err(outputs["o"], torch_reference(kernel, inputs, scalars, sizes))
    return errors


def synchronize():
    import torch
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def time_ms(fn, reps):
    """The median of `reps` timed calls after two warm-up calls: CUDA events on the GPU,
    the wall clock elsewhere."""
    import time
    import torch
    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        if DEVICE != "cuda":
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
            continue
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def headline(kernels, args):
    """tmix vs SDPA (flash, cuDNN) and FlexAttention on the bench specs."""
    import torch
    import torch.nn.functional as F
    B, H, N, D = args.batch, args.heads, args.length, 128
    window = 1024
    gen = torch.Generator(device=DEVICE).manual_seed(0)
    q, k, v = (torch.randn(B, H, N, D, device=DEVICE, dtype=torch.bfloat16, generator=gen)
               for _ in range(3))
    docs = torch.sort(torch.randint(0, 8, (1, N), device=DEVICE, generator=gen), -1).values
    doc32 = docs.to(torch.int32)
    lengths = torch.bincount(docs[0], minlength=8).double()
    pairs = {"causal_bf16": B * H * N * (N + 1) / 2,
             "window_bf16": B * H * sum(min(i + 1, window) for i in range(N)),
             "documents_bf16": H * float((lengths * (lengths + 1) / 2).sum())}
    masks = {
        "causal_bf16": lambda b, h, i, j: j <= i,
        "window_bf16": lambda b, h, i, j: (j <= i) & (i - j < window),
        "documents_bf16": lambda b, h, i, j: (docs[0][i] == docs[0][j]) & (j <= i),
    }
    rows = []
    for name in ("causal_bf16", "window_bf16", "documents_bf16"):
        kernel = kernels.get(name)
        if kernel is None:
            continue
        batch = 1 if name == "documents_bf16" else B
        qq, kk, vv = q[:batch], k[:batch], v[:batch]
        o = torch.empty_like(qq)
        sizes = {"B": batch, "H": H, "N": N}
        tensors = {"q": qq, "k": kk, "v": vv, "o": o, "doc": doc32}
        scalars = {"window": window}
        flops = 4 * D * pairs[name] * (batch / B if name != "documents_bf16" else 1)
        row = {"kernel": name, "shape": f"B={batch} H={H} N={N} D={D}"}
        tmix_ms = time_ms(lambda: kernel(tensors, scalars, sizes), args.reps)
        row["tmix"] = flops / tmix_ms / 1e9
        # Accuracy at full size on two heads, against float32.
        ref_heads = slice(0, 2)
        i = torch.arange(N, device=DEVICE)[:, None]
        j = torch.arange(N, device=DEVICE)[None, :]
        keep = masks[name](0, 0, i, j)
        s = (qq[0, ref_heads].float() @ kk[0, ref_heads].float().transpose(-1, -2)) / math.sqrt(D)
        ref = torch.softmax(s.masked_fill(~keep, float("-inf")), -1) @ vv[0, ref_heads].float()
        row["err"] = rel_err(o[0, ref_heads], ref)
        del s, ref
        if name == "causal_bf16":
            from torch.nn.attention import SDPBackend, sdpa_kernel
            for label, backend in (("flash", SDPBackend.FLASH_ATTENTION),
                                   ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                try:
                    with sdpa_kernel(backend):
                        ms = time_ms(lambda: F.scaled_dot_product_attention(
                            qq, kk, vv, is_causal=True), args.reps)
                    row[label] = flops / ms / 1e9
                except Exception as error:  # a backend missing on this build
                    row[label] = f"n/a ({type(error).__name__})"
        try:
            from torch.nn.attention.flex_attention import create_block_mask, flex_attention
            flex = torch.compile(flex_attention)
            block_mask = create_block_mask(masks[name], batch, H, N, N, device=DEVICE)
            ms = time_ms(lambda: flex(qq, kk, vv, block_mask=block_mask), args.reps)
            row["flex"] = flops / ms / 1e9
        except Exception as error:
            row["flex"] = f"n/a ({type(error).__name__}: {error})"
        rows.append(row)
    return rows


def fmt(value):
    return f"{value:.1f}" if isinstance(value, float) else str(value if value is not None else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", required=True, help="libtmix_cuda.so")
    parser.add_argument("--artifacts", default=os.path.join(HERE, "artifacts"))
    parser.add_argument("--length", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--rec-length", type=int, default=8192)
    parser.add_argument("--rec-batch", type=int, default=4)
    parser.add_argument("--rec-heads", type=int, default=8)
    args = parser.parse_args()

    lib = load_runtime(args.lib)
    name = ctypes.create_string_buffer(512)
    major, minor = ctypes.c_int(), ctypes.c_int()
    if lib.tmix_cuda_device(name, len(name), ctypes.byref(major), ctypes.byref(minor)) != 0:
        print(f"bench/gpu: {name.value.decode()}", file=sys.stderr)
        return 1
    import torch
    print(f"device: {name.value.decode()} (sm_{major.value}{minor.value}), torch {torch.__version__}")
    target = "sm_90a" if major.value == 9 else "sm_80"
    manifests = sorted(glob.glob(f"{args.artifacts}/{target}/*.manifest"))
    if not manifests:  # PTX of the other target is compiled by the driver
        manifests = sorted(glob.glob(f"{args.artifacts}/*/*.manifest"))
    if not manifests:
        print(f"bench/gpu: no artifacts in {args.artifacts} (run bench/gpu/prepare.sh)",
              file=sys.stderr)
        return 1
    kernels = {}
    for path in manifests:
        kernel = Kernel(lib, path)
        kernels.setdefault(kernel.name, kernel)

    print("\n| kernel | target | max_rel_err (vs CPU path) | vs float32 torch | result |")
    print("| --- | --- | --- | --- | --- |")
    failures = 0
    for kernel in kernels.values():
        data = f"{args.artifacts}/data/{kernel.name}"
        try:
            errors = check(kernel, data)
            worst = max(v for key, v in errors.items() if key != "o_vs_torch")
            ok = all(v < TOLERANCE for v in errors.values())
            torch_err = errors.get("o_vs_torch")
            print(f"| {kernel.name} | {kernel.m['target']} | {worst:.2e} | "
                  f"{'' if torch_err is None else f'{torch_err:.2e}'} | {'PASS' if ok else 'FAIL'} |")
        except Exception as error:
            ok = False
            print(f"| {kernel.name} | {kernel.m['target']} | | | ERROR: {error} |")
        failures += not ok
    sys.stdout.flush()

    print("\n| kernel | shape | tmix TFLOP/s | SDPA flash | SDPA cuDNN | FlexAttention | "
          "tmix / Flex | rel_err (2 heads vs fp32) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    try:
        for row in headline(kernels, args):
            ratio = (f"{row['tmix'] / row['flex']:.2f}" if isinstance(row.get("flex"), float)
                     else "")
            print(f"| {row['kernel']} | {row['shape']} | {fmt(row['tmix'])} | "
                  f"{fmt(row.get('flash'))} | {fmt(row.get('cudnn'))} | {fmt(row.get('flex'))} | "
                  f"{ratio} | {row['err']:.2e} |")
    except Exception as error:
        print(f"timing failed: {type(error).__name__}: {error}")
        failures += 1
    sys.stdout.flush()

    try:
        rows = recurrences.headline(kernels, args, time_ms, rel_err, DEVICE)
        recurrences.print_table(rows)
        failures += not recurrences.all_pass(rows, TOLERANCE)
    except Exception as error:
        print(f"recurrence timing failed: {type(error).__name__}: {error}")
        failures += 1
    sys.stdout.flush()

    try:
        rows = recurrences.backward_headline(kernels, args, time_ms, rel_err, DEVICE)
        recurrences.print_backward_table(rows)
        failures += not all(r.get("err_fla", 0.0) < TOLERANCE for r in rows)
    except Exception as error:
        print(f"recurrence backward timing failed: {type(error).__name__}: {error}")
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
