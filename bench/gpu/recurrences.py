"""bench/gpu, recurrences: tmix's chunked GLA and Gated DeltaNet kernels against
flash-linear-attention's Triton kernels (chunk_gla, chunk_gated_delta_rule) and against
SDPA causal attention of the same shape (B=4, H=8, T=8192, D=128 by default).

The specs are bench/gpu/recurrences_bf16.tmix: log-space gates g as fla takes them and
no query scale (fla is called with scale=1), so both compute the same function on the
same inputs. fla uses [B, T, H, D] tensors; they are transposed copies, made before
timing. Accuracy: tmix against fla on the whole output, and both against a float32
step-by-step PyTorch reference on the first REF_STEPS steps of two heads (the outputs
of a causal recurrence depend only on the steps before them). The backward (each
kernel's X_grad, when carried): tmix's against fla's through torch autograd on the same
inputs and output gradient, each gradient compared.
"""
import math

REF_STEPS = 512
KERNELS = ("gla_bf16", "gated_delta_bf16")


def make_inputs(name, B, H, T, D, device, generator):
    """GLA: g = log(sigmoid(x)) / 16 per key, as fla's tests draw it; Gated DeltaNet:
    unit-norm keys, g = log(sigmoid(x)) per step, beta = sigmoid(x)."""
    import torch
    import torch.nn.functional as F

    def randn(*shape):
        return torch.randn(*shape, device=device, generator=generator)

    q = (randn(B, H, T, D) * D ** -0.5).to(torch.bfloat16)
    v = randn(B, H, T, D).to(torch.bfloat16)
    if name == "gla_bf16":
        k = (randn(B, H, T, D) * D ** -0.5).to(torch.bfloat16)
        g = F.logsigmoid(randn(B, H, T, D)) / 16
        return {"q": q, "k": k, "v": v, "g": g}
    k = F.normalize(randn(B, H, T, D), dim=-1).to(torch.bfloat16)
    g = F.logsigmoid(randn(B, H, T))
    beta = torch.sigmoid(randn(B, H, T))
    return {"q": q, "k": k, "v": v, "g": g, "beta": beta}


def reference(name, x, steps, heads=slice(0, 2)):
    """float32, step by step, batch 0: o[t] = q[t] @ S_t, [heads, steps, D]."""
    import torch
    q, k, v, g = (x[n][0, heads, :steps].float() for n in ("q", "k", "v", "g"))
    S = torch.zeros(q.shape[0], q.shape[-1], v.shape[-1], device=q.device)
    out = torch.empty_like(v)
    for t in range(steps):
        kt, vt = k[:, t], v[:, t]
        if name == "gla_bf16":
            S = g[:, t].exp()[:, :, None] * S + kt[:, :, None] * vt[:, None, :]
        else:
            S = g[:, t].exp()[:, None, None] * S
            u = vt - torch.einsum("hk,hkv->hv", kt, S)
            S = S + x["beta"][0, heads, t].float()[:, None, None] * kt[:, :, None] * u[:, None, :]
        out[:, t] = torch.einsum("hk,hkv->hv", q[:, t], S)
    return out


def fla_function(name):
    """fla's kernel for `name` on tmix's [B, H, T, D] tensors, or the import error."""
    try:
        if name == "gla_bf16":
            from fla.ops.gla import chunk_gla as kernel
        else:
            from fla.ops.gated_delta_rule import chunk_gated_delta_rule as kernel
    except Exception as error:  # fla not carried, or its import failed
        return None, f"{type(error).__name__}: {error}"

    def to_fla(t):
        return t.transpose(1, 2).contiguous()

    def prepare(x):
        args = [to_fla(x[n]) for n in ("q", "k", "v", "g")]
        if name != "gla_bf16":
            args.append(to_fla(x["beta"]))
        return args

    def run(args):
        return kernel(*args, scale=1.0)[0]

    return (prepare, run), None


def headline(kernels, args, time_ms, rel_err, device="cuda"):
    """One row per recurrence kernel carried: times, tokens/s, ratios, errors."""
    import torch
    import torch.nn.functional as F
    B, H, T, D = args.rec_batch, args.rec_heads, args.rec_length, 128
    gen = torch.Generator(device=device).manual_seed(1)
    rows = []
    sdpa_ms = None
    for name in KERNELS:
        kernel = kernels.get(name)
        if kernel is None:
            continue
        x = make_inputs(name, B, H, T, D, device, gen)
        o = torch.empty_like(x["v"])
        tensors = {**x, "o": o}
        sizes = {"B": B, "H": H, "T": T}
        row = {"kernel": name, "shape": f"B={B} H={H} T={T} K=V={D}"}
        row["tmix_ms"] = time_ms(lambda: kernel(tensors, {}, sizes), args.reps)
        steps = min(REF_STEPS, T)
        ref = reference(name, x, steps)
        row["err_ref"] = rel_err(o[0, 0:2, :steps], ref)
        fla, why = fla_function(name)
        if fla is None:
            row["fla_ms"] = f"n/a ({why})"
        else:
            prepare, run = fla
            fla_args = prepare(x)
            fla_o = run(fla_args).transpose(1, 2)
            row["err_fla"] = rel_err(o, fla_o)
            row["fla_err_ref"] = rel_err(fla_o[0, 0:2, :steps], ref)
            row["fla_ms"] = time_ms(lambda: run(fla_args), args.reps)
            del fla_o, fla_args
        if sdpa_ms is None:  # causal softmax attention of the same width and length
            from torch.nn.attention import SDPBackend, sdpa_kernel
            qq, kk, vv = (x[n] for n in ("q", "k", "v"))
            try:
                with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                    sdpa_ms = time_ms(lambda: F.scaled_dot_product_attention(
                        qq, kk, vv, is_causal=True), args.reps)
            except Exception as error:
                sdpa_ms = f"n/a ({type(error).__name__})"
        row["sdpa_ms"] = sdpa_ms
        row["tokens_per_s"] = B * T / (row["tmix_ms"] / 1e3)
        rows.append(row)
        del x, o, tensors
    return rows


def print_table(rows):
    def ms(value):
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    def ratio(peer, tmix):
        return f"{peer / tmix:.2f}" if isinstance(peer, float) else ""

    def err(value):
        return "" if value is None else f"{value:.2e}"

    print("\n| kernel | shape | tmix ms | Mtok/s | fla ms | fla / tmix | SDPA causal ms | "
          "SDPA / tmix | rel_err vs fla | rel_err vs fp32 (tmix, fla) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['kernel']} | {r['shape']} | {ms(r['tmix_ms'])} | "
              f"{r['tokens_per_s'] / 1e6:.1f} | {ms(r['fla_ms'])} | "
              f"{ratio(r['fla_ms'], r['tmix_ms'])} | {ms(r['sdpa_ms'])} | "
              f"{ratio(r['sdpa_ms'], r['tmix_ms'])} | {err(r.get('err_fla'))} | "
              f"{err(r['err_ref'])}, {err(r.get('fla_err_ref'))} |")


def all_pass(rows, tolerance):
    return all(r["err_ref"] < tolerance and r.get("err_fla", 0.0) < tolerance
               and math.isfinite(r["err_ref"]) for r in rows)


GRAD_NAMES = {"gla_bf16": ("q", "k", "v", "g"), "gated_delta_bf16": ("q", "k", "v", "g", "beta")}


def backward_headline(kernels, args, time_ms, rel_err, device="cuda"):
    """One row per recurrence whose backward X_grad is carried: tmix's X_grad against
    fla's backward (torch.autograd.grad through chunk_gla / chunk_gated_delta_rule, the
    forward's graph kept), times and the largest relative difference of a gradient."""
    import torch
    B, H, T, D = args.rec_batch, args.rec_heads, args.rec_length, 128
    gen = torch.Generator(device=device).manual_seed(2)
    rows = []
    for name in KERNELS:
        kernel = kernels.get(name + "_grad")
        if kernel is None:
            continue
        x = make_inputs(name, B, H, T, D, device, gen)
        d_o = torch.randn(B, H, T, D, device=device, generator=gen).to(torch.bfloat16)
        grads = {f"d_{n}": torch.empty(x[n].shape, device=device, dtype=torch.float32)
                 for n in GRAD_NAMES[name]}
        tensors = {**x, "d_o": d_o, **grads}
        sizes = {"B": B, "H": H, "T": T}
        row = {"kernel": name + "_grad", "shape": f"B={B} H={H} T={T} K=V={D}"}
        row["tmix_ms"] = time_ms(lambda: kernel(tensors, {}, sizes), args.reps)
        fla, why = fla_function(name)
        if fla is None:
            row["fla_ms"] = f"n/a ({why})"
        else:
            prepare, run = fla
            leaves = [t.requires_grad_() for t in prepare(x)]
            o = run(leaves)
            d_o_fla = d_o.transpose(1, 2).contiguous()
            theirs = torch.autograd.grad(o, leaves, d_o_fla, retain_graph=True)
            row["err_fla"] = max(rel_err(grads[f"d_{n}"], g.transpose(1, 2))
                                 for n, g in zip(GRAD_NAMES[name], theirs))
            row["fla_ms"] = time_ms(
                lambda: torch.autograd.grad(o, leaves, d_o_fla, retain_graph=True), args.reps)
            del o, leaves, theirs
        row["tokens_per_s"] = B * T / (row["tmix_ms"] / 1e3)
        rows.append(row)
        del x, d_o, grads, tensors
    return rows


def print_backward_table(rows):
    def ms(value):
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    print("\n| backward | shape | tmix ms | Mtok/s | fla ms | fla / tmix | "
          "max rel_err of a gradient vs fla |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        ratio = f"{r['fla_ms'] / r['tmix_ms']:.2f}" if isinstance(r["fla_ms"], float) else ""
        err = f"{r['err_fla']:.2e}" if "err_fla" in r else ""
        print(f"| {r['kernel']} | {r['shape']} | {ms(r['tmix_ms'])} | "
              f"{r['tokens_per_s'] / 1e6:.1f} | {ms(r['fla_ms'])} | {ratio} | {err} |")
