"""tmix against ONNX Runtime and PyTorch on the CPU: f32 attention, four masks.

Run through bench/cpu/compare.sh (it makes bench/.venv and the FMA probe). For every
(variant, D, N) it writes random q, k, v (and the document ids) as .npy, times
`tmixc run --bench` on them (median of tmixc's 7 runs), then ONNX Runtime on the same
arrays (2 intra-op threads, median of >= 5 runs after a warm-up), then, when torch
imports, PyTorch's scaled_dot_product_attention and FlexAttention (torch.compile'd, its
block mask built beforehand; compile and mask time are not counted), all on the same
threads. It compares every output with tmix's (max abs diff). All GFLOP/s use the same
count: 4*B*H*N*M*D times the exact fraction of (i, j) pairs the mask keeps. Prints a
markdown table; speed ratios are peer ms / tmix ms (above 1: tmix is faster).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

try:
    import torch
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
except ImportError:  # the table then has no PyTorch columns
    torch = None

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC = os.path.join(ROOT, "bench", "cpu", "attention_variants.tmix")
TMIXC = os.environ.get("TMIXC", os.path.join(ROOT, "build", "bin", "tmixc"))
B, H, WINDOW, DOCS = 1, 8, 256, 8
VARIANTS = ["dense", "causal", "window", "documents"]


def doc_ids(n):
    return (np.arange(n) // (n // DOCS)).astype(np.int32)[None, :]  # [1, N]


def keep_mask(variant, n):
    """Boolean [N, N]: True where query i may see key j."""
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    if variant == "dense":
        return np.ones((n, n), dtype=bool)
    if variant == "causal":
        return j <= i
    if variant == "window":
        return (j <= i) & (i - j < WINDOW)
    doc = doc_ids(n)[0]
    return (doc[:, None] == doc[None, :]) & (j <= i)


def kept_fraction(variant, n):
    if variant == "dense":
        return 1.0
    if variant == "causal":
        return (n + 1) / (2 * n)
    if variant == "window":
        kept = sum(min(i + 1, WINDOW) for i in range(n))
        return kept / (n * n)
    length = n // DOCS
    return DOCS * length * (length + 1) / 2 / (n * n)


# ---------------------------------------------------------------- ONNX Runtime side


def attention_model(variant, d, n, op):
    """An ONNX model o = attention(q, k, v[, mask]) with inputs [B, H, N, D] f32.

    op == "Attention": the opset-23 Attention op (is_causal for causal; an additive
    float mask [N, N] for window and documents). op == "MatMul": MatMul, Softmax,
    MatMul with the same additive mask (causal then needs the mask too)."""
    shape = [B, H, n, d]
    q = helper.make_tensor_value_info("q", TensorProto.FLOAT, shape)
    k = helper.make_tensor_value_info("k", TensorProto.FLOAT, shape)
    v = helper.make_tensor_value_info("v", TensorProto.FLOAT, shape)
    o = helper.make_tensor_value_info("o", TensorProto.FLOAT, shape)
    mask = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [n, n])
    scale = 1.0 / np.sqrt(d)
    if op == "Attention":
        needs_mask = variant in ("window", "documents")
        node = helper.make_node(
            "Attention",
            ["q", "k", "v"] + (["mask"] if needs_mask else []),
            ["o"],
            is_causal=1 if variant == "causal" else 0,
            scale=float(scale),
        )
        graph = helper.make_graph([node], "attn", [q, k, v] + ([mask] if needs_mask else []), [o])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)]), needs_mask
    needs_mask = variant != "dense"
    scale_t = helper.make_tensor("scale", TensorProto.FLOAT, [], [float(scale)])
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s0"]),
        helper.make_node("Mul", ["s0", "scale"], ["s1"]),
    ]
    last = "s1"
    if needs_mask:
        nodes.append(helper.make_node("Add", ["s1", "mask"], ["s2"]))
        last = "s2"
    nodes += [
        helper.make_node("Softmax", [last], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"]),
    ]
    graph = helper.make_graph(
        nodes, "attn", [q, k, v] + ([mask] if needs_mask else []), [o], initializer=[scale_t]
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)]), needs_mask


def session(model, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def pick_op(threads):
    """The opset-23 Attention op if this ORT runs it (checked against numpy on a small
    causal case), else the explicit MatMul-Softmax-MatMul graph."""
    n, d = 64, 16
    rng = np.random.default_rng(0)
    q, k, v = (rng.uniform(-1, 1, (B, H, n, d)).astype(np.float32) for _ in range(3))
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)
    s = np.where(keep_mask("window", n), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    want = (p / p.sum(-1, keepdims=True)) @ v
    try:
        model, _ = attention_model("window", d, n, "Attention")
        feeds = {"q": q, "k": k, "v": v, "mask": additive_mask("window", n)}
        got = session(model, threads).run(None, feeds)[0]
        if np.abs(got - want).max() < 1e-4:
            return "Attention", ""
        return "MatMul", "opset-23 Attention gave wrong results"
    except Exception as error:  # noqa: BLE001 - any failure means: fall back
        return "MatMul", "opset-23 Attention failed: %s" % str(error).splitlines()[0]


def additive_mask(variant, n):
    return np.where(keep_mask(variant, n), 0.0, -np.inf).astype(np.float32)


def time_ort(sess, feeds, reps):
    sess.run(None, feeds)  # warm-up
    times = []
    out = None
    for _ in range(reps):
        start = time.perf_counter()
        out = sess.run(None, feeds)[0]
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), out


# ---------------------------------------------------------------- PyTorch side


FLEX_FAILURES = {}  # variant -> the first error of FlexAttention's compile


def torch_mask_mod(variant, doc):
    """FlexAttention's mask_mod for a variant (None for dense)."""
    if variant == "dense":
        return None
    if variant == "causal":
        return lambda b, h, i, j: j <= i
    if variant == "window":
        return lambda b, h, i, j: (j <= i) & (i - j < WINDOW)
    return lambda b, h, i, j: (doc[i] == doc[j]) & (j <= i)


def time_torch(fn, reps):
    with torch.no_grad():
        fn()  # warm-up (and, for FlexAttention, the compile)
        times = []
        out = None
        for _ in range(reps):
            start = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), out.numpy()


def run_torch(variant, q, k, v, n, reps, flex):
    """(sdpa ms, sdpa out, flex ms, flex out) on the same arrays."""
    tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
    if variant == "dense":
        sdpa = lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv)
    elif variant == "causal":
        sdpa = lambda: torch.nn.functional.scaled_dot_product_attention(
            tq, tk, tv, is_causal=True)
    else:
        keep = torch.from_numpy(keep_mask(variant, n))
        sdpa = lambda: torch.nn.functional.scaled_dot_product_attention(
            tq, tk, tv, attn_mask=keep)
    sdpa_ms, sdpa_out = time_torch(sdpa, reps)
    if not flex:
        return sdpa_ms, sdpa_out, None, None
    mod = torch_mask_mod(variant, torch.from_numpy(doc_ids(n)[0]))
    block_mask = None if mod is None else create_block_mask(mod, None, None, n, n, device="cpu")
    # Inductor's CPU template may fail to compile a mask (seen: the documents mask, a
    # C++ error in the generated code, with dynamic shapes); then a static-shape
    # compile, then nothing: the table says '-' and the failure is printed once.
    for compiled in flex:
        try:
            flex_ms, flex_out = time_torch(
                lambda: compiled(tq, tk, tv, block_mask=block_mask), reps)
            return sdpa_ms, sdpa_out, flex_ms, flex_out
        except Exception as error:  # noqa: BLE001 - any compile failure
            FLEX_FAILURES.setdefault(variant, str(error).strip().splitlines()[0][:200])
            torch._dynamo.reset()
    return sdpa_ms, sdpa_out, None, None


# ---------------------------------------------------------------- tmix side


def time_tmix(variant, d, n, inputs, outputs):
    command = [
        TMIXC, "run", SPEC, "--kernel=" + variant,
        "--sizes=B=%d,H=%d,N=%d,D=%d" % (B, H, n, d),
        "--inputs=" + inputs, "--outputs=" + outputs, "--bench",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("tmixc failed: %s\n%s" % (" ".join(command), result.stdout + result.stderr))
    last = result.stdout.strip().splitlines()[-1]  # time_ms=<median> gflops=<x>
    fields = dict(part.split("=") for part in last.split())
    return float(fields["time_ms"]), np.load(os.path.join(outputs, "o.npy"))


# ---------------------------------------------------------------- driver


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", default="1024,2048,4096,8192")
    parser.add_argument("--dims", default="64,128")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peak", type=float, default=0.0, help="all-core FMA GFLOP/s")
    parser.add_argument("--no-flex", action="store_true",
                        help="skip FlexAttention (its CPU compile takes ~30 s a shape)")
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    dims = [int(x) for x in args.dims.split(",")]
    variants = args.variants.split(",")

    op, why = pick_op(args.threads)
    if op == "Attention":
        print("ORT %s: ONNX opset-23 `Attention` op (CPUExecutionProvider), %d intra-op threads"
              % (ort.__version__, args.threads))
    else:
        print("ORT %s: explicit MatMul-Softmax-MatMul graph (%s), %d intra-op threads"
              % (ort.__version__, why, args.threads))
    print("masks: causal via is_causal=1; window and documents via an additive float "
          "[N, N] mask (0 / -inf)" if op == "Attention" else
          "masks: an additive float [N, N] mask (0 / -inf)")
    flex = None
    if torch is None:
        print("PyTorch: not installed, no SDPA / FlexAttention columns")
    else:
        torch.set_num_threads(args.threads)
        if not args.no_flex:
            # Dynamic shapes first: one compile per mask and head dim, not one per
            # length; a static-shape compile where that fails.
            flex = [torch.compile(flex_attention, dynamic=True),
                    torch.compile(flex_attention, dynamic=False)]
        print("PyTorch %s: SDPA (boolean mask for window and documents)%s, %d threads"
              % (torch.__version__, "" if flex is None else ", FlexAttention (compiled)",
                 args.threads))
    print()
    print("| variant | D | N | tmix ms | tmix GFLOP/s | ORT GFLOP/s | SDPA GFLOP/s "
          "| Flex GFLOP/s | vs ORT | vs SDPA | vs Flex | tmix % of FMA peak | max abs diff |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    sys.stdout.flush()
    rng = np.random.default_rng(1234)
    worst = {}
    with tempfile.TemporaryDirectory(prefix="tmix-compare-") as tmp:
        inputs, outputs = os.path.join(tmp, "in"), os.path.join(tmp, "out")
        os.makedirs(inputs)
        os.makedirs(outputs)
        for variant in variants:
            for d in dims:
                for n in lengths:
                    for name in os.listdir(inputs):
                        os.remove(os.path.join(inputs, name))
                    q, k, v = (rng.uniform(-1, 1, (B, H, n, d)).astype(np.float32) for _ in range(3))
                    for name, array in (("q", q), ("k", k), ("v", v)):
                        np.save(os.path.join(inputs, name + ".npy"), array)
                    if variant == "documents":
                        np.save(os.path.join(inputs, "doc.npy"), doc_ids(n))
                    flops = 4.0 * B * H * n * n * d * kept_fraction(variant, n)

                    tmix_ms, tmix_out = time_tmix(variant, d, n, inputs, outputs)

                    model, needs_mask = attention_model(variant, d, n, op)
                    feeds = {"q": q, "k": k, "v": v}
                    if needs_mask:
                        feeds["mask"] = additive_mask(variant, n)
                    reps = 7 if n <= 2048 else 5
                    ort_ms, ort_out = time_ort(session(model, args.threads), feeds, reps)

                    peers = [(ort_ms, ort_out)]
                    if torch is not None:
                        sdpa_ms, sdpa_out, flex_ms, flex_out = run_torch(
                            variant, q, k, v, n, reps, flex)
                        peers += [(sdpa_ms, sdpa_out), (flex_ms, flex_out)]
                    diff = max(float(np.abs(tmix_out - out).max())
                               for ms, out in peers if out is not None)
                    worst[variant] = max(worst.get(variant, 0.0), diff)
                    gflops = lambda ms: flops / ms * 1e-6
                    peers += [(None, None)] * (3 - len(peers))
                    rates = ["%.1f" % gflops(ms) if ms else "-" for ms, _ in peers]
                    ratios = ["%.2f" % (ms / tmix_ms) if ms else "-" for ms, _ in peers]
                    peak = "%.0f%%" % (100 * gflops(tmix_ms) / args.peak) if args.peak else "-"
                    print("| %s | %d | %d | %.1f | %.1f | %s | %s | %s | %.1e |" % (
                        variant, d, n, tmix_ms, gflops(tmix_ms), " | ".join(rates),
                        " | ".join(ratios), peak, diff))
                    sys.stdout.flush()
    print()
    for variant, error in FLEX_FAILURES.items():
        print("FlexAttention %s: a compile failed (%s)" % (variant, error))
    for variant in variants:
        verdict = "agree" if worst[variant] < 1e-3 else "DISAGREE"
        print("check %s: tmix and its peers %s (max abs diff %.1e over all shapes, bound 1e-3)"
              % (variant, verdict, worst[variant]))
    return 0 if all(w < 1e-3 for w in worst.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
