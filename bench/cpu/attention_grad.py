"""The attention backward on the CPU against its own forward and PyTorch's (issue 15's
figures, docs/benchmarks.md "Attention backward"). Run with the checkout's .venv after
a build:

    .venv/bin/python bench/cpu/attention_grad.py [--lengths 1024 4096] [--dims 64 128]
        [--tables attention bias pair] [--rounds 3] [--reps 5] [--threads N]

For f32 B=1 H=8, dense and causal, at each N and D: tmix's forward (the spec's kernel)
and backward (its derived kernels X_grad_kv then X_grad_q, called as the autograd
formula calls them, on the saved o and lse), PyTorch's scaled_dot_product_attention forward and
backward (torch.autograd.grad on a retained graph: the backward alone), and
FlexAttention's backward, torch.compile'd (its block mask built beforehand) where
torch compiles it on the CPU. Then a relative-position bias table
(examples/relative_bias.tmix's score): the backward with the table learnable (its
gradient too: summed per key split by X_grad_kv, added up by X_grad_params) against
the same spec's backward with the table frozen (an i32 table: the same read, no
gradient). Then a pair bias [B, H, N, N] through the PyTorch op's autograd
(`.backward()`), frozen against learnable: a frozen one skips part "params", the walk
over every pair that its gradient needs. Each figure is the
median over rounds of a median of `--reps` runs; the kernels of a row run interleaved,
round by round, so that drift in the machine's load falls on all of them. Prints
markdown tables.
"""

import argparse
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))

import torch  # noqa: E402

import tmix  # noqa: E402

SPEC = """
attention dense(q: f32[B, H, N, {d}], k: f32[B, H, N, {d}], v: f32[B, H, N, {d}])
    -> (o: f32[B, H, N, {d}], lse: f32[B, H, N]) {{
}}

attention causal(q: f32[B, H, N, {d}], k: f32[B, H, N, {d}], v: f32[B, H, N, {d}])
    -> (o: f32[B, H, N, {d}], lse: f32[B, H, N]) {{
  mask = j <= i
}}
"""


def median_ms(fn, reps):
    fn()  # warm-up (first-call compilation, page faults)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def rounds_of(columns, rounds, reps):
    """The median over rounds of each column's median time; the columns run in a
    rotated order each round."""
    names = list(columns)
    results = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(median_ms(columns[name], reps))
    return {name: statistics.median(times) for name, times in results.items()}


def flex_backward(q, k, v, d_o, causal):
    """FlexAttention's backward alone, compiled, or the reason it does not run."""
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        n = q.shape[2]
        mask = (create_block_mask(lambda b, h, i, j: j <= i, None, None, n, n, device="cpu")
                if causal else None)
        flex = torch.compile(flex_attention)
        qq, kk, vv = (t.clone().requires_grad_() for t in (q, k, v))
        out = flex(qq, kk, vv, block_mask=mask)
        torch.autograd.grad(out, (qq, kk, vv), d_o, retain_graph=True)
        return lambda: torch.autograd.grad(out, (qq, kk, vv), d_o, retain_graph=True)
    except Exception as error:  # noqa: BLE001 - a peer that fails is reported, not fatal
        return f"{type(error).__name__}: {str(error).splitlines()[0][:80]}"


def attention_table(args):
    print("| spec | N | D | tmix forward | tmix backward | backward / forward "
          "| SDPA backward | SDPA / tmix backward | FlexAttention backward |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    flex_failure = None
    for d in args.dims:
        module = tmix.compile(SPEC.format(d=d))
        for n in args.lengths:
            for name in ("dense", "causal"):
                torch.manual_seed(0)
                q, k, v = (torch.randn(1, 8, n, d) for _ in range(3))
                d_o = torch.randn(1, 8, n, d)
                forward = module.kernel(name)
                o, lse = forward(q, k, v)
                grad_q, grad_kv = module.kernel(f"{name}_grad_q"), module.kernel(f"{name}_grad_kv")
                d_lse = torch.zeros_like(lse)

                def backward():
                    _, _, q_partial = grad_kv(q, k, v, o, lse, d_o, d_lse)
                    grad_q(q, k, v, o, lse, d_o, d_lse, q_partial)

                qq, kk, vv = (t.clone().requires_grad_() for t in (q, k, v))
                out = torch.nn.functional.scaled_dot_product_attention(
                    qq, kk, vv, is_causal=name == "causal")
                columns = {
                    "forward": lambda: forward(q, k, v),
                    "backward": backward,
                    "sdpa": lambda: torch.autograd.grad(out, (qq, kk, vv), d_o,
                                                        retain_graph=True),
                }
                flex = flex_backward(q, k, v, d_o, name == "causal")
                if callable(flex):
                    columns["flex"] = flex
                else:
                    flex_failure = flex
                t = rounds_of(columns, args.rounds, args.reps)
                flex_cell = f"{t['flex']:.1f} ms" if "flex" in t else "fails (below)"
                print(f"| {name} | {n} | {d} | {t['forward']:.1f} ms | {t['backward']:.1f} ms "
                      f"| {t['backward'] / t['forward']:.2f}x | {t['sdpa']:.1f} ms "
                      f"| {t['sdpa'] / t['backward']:.2f}x | {flex_cell} |", flush=True)
    if flex_failure:
        print(f"\nFlexAttention's backward, torch.compile'd on the CPU: {flex_failure}")


BIAS_SPEC = """
attention learned_table(q: f32[B, H, N, 64], k: f32[B, H, N, 64], v: f32[B, H, N, 64],
                        bias: f32[H, R]) -> o: f32[B, H, N, 64] {
  scale = 1.0
  score = s + bias[h, i - j + N - 1]
}

attention frozen_table(q: f32[B, H, N, 64], k: f32[B, H, N, 64], v: f32[B, H, N, 64],
                       bias: i32[H, R]) -> o: f32[B, H, N, 64] {
  scale = 1.0
  score = s + bias[h, i - j + N - 1]
}
"""


def bias_table(args):
    """examples/relative_bias.tmix's score with the table learnable (f32: its gradient
    too) and frozen (i32: the same read and add, no gradient)."""
    module = tmix.compile(BIAS_SPEC)
    print("\n| relative bias, N | backward, frozen table | backward, learnable table "
          "| learnable / frozen |")
    print("| --- | --- | --- | --- |")
    for n in args.lengths:
        torch.manual_seed(0)
        q, k, v = (torch.randn(1, 8, n, 64) for _ in range(3))
        tables = {"learned_table": torch.randn(8, 2 * n - 1) * 0.1,
                  "frozen_table": torch.randint(-2, 3, (8, 2 * n - 1), dtype=torch.int32)}
        columns = {}
        for name, bias in tables.items():
            o, lse = module.kernel(f"{name}_forward")(q, k, v, bias)
            d_o = torch.randn_like(o)
            grad_kv, grad_q = (module.kernel(f"{name}_{part}") for part in ("grad_kv", "grad_q"))
            try:
                grad_params = module.kernel(f"{name}_grad_params")
            except ValueError:  # the frozen table has no gradient: no part "params"
                grad_params = None

            # As the autograd formula calls them: the key-value part sums the table's
            # gradient per key split beside dq's, part "params" adds those up.
            def backward(bias=bias, o=o, lse=lse, d_o=d_o, grad_kv=grad_kv, grad_q=grad_q,
                         grad_params=grad_params):
                _, _, q_partial, *param_partials = grad_kv(q, k, v, bias, o, lse, d_o)
                grad_q(q, k, v, bias, o, lse, d_o, q_partial)
                if grad_params is not None:
                    grad_params(q, k, v, bias, o, lse, d_o, *param_partials)
            columns[name] = backward
        t = rounds_of(columns, args.rounds, args.reps)
        print(f"| {n} | {t['frozen_table']:.1f} ms | {t['learned_table']:.1f} ms "
              f"| {t['learned_table'] / t['frozen_table']:.2f}x |", flush=True)


PAIR_SPEC = """
attention pair(q: f32[B, H, N, 64], k: f32[B, H, N, 64], v: f32[B, H, N, 64],
               bias: f32[B, H, N, N]) -> o: f32[B, H, N, 64] {
  score = s + bias[b, h, i, j]
}
"""


def pair_table(args):
    """A pair bias read in the score, through the PyTorch op: the backward with the bias
    frozen (requires_grad False: part "params" is skipped) and learnable (part "params"
    walks every pair again for its gradient)."""
    op = tmix.compile(PAIR_SPEC)["pair"]
    print("\n| pair bias, N | backward, frozen bias | backward, learnable bias "
          "| learnable / frozen |")
    print("| --- | --- | --- | --- |")
    for n in args.lengths:
        if n > 2048:  # [1, 8, N, N] f32: 512 MB at 4096
            print(f"| {n} | (skipped: the bias alone is {8 * n * n * 4 >> 20} MB) | | |")
            continue
        torch.manual_seed(0)
        q, k, v = (torch.randn(1, 8, n, 64).requires_grad_() for _ in range(3))
        biases = {"frozen": torch.randn(1, 8, n, n),
                  "learnable": torch.randn(1, 8, n, n).requires_grad_()}
        columns = {}
        for name, bias in biases.items():
            o = op(q, k, v, bias)

            def backward(o=o, bias=bias):
                torch.autograd.grad(o, [t for t in (q, k, v, bias) if t.requires_grad],
                                    torch.ones_like(o), retain_graph=True)
            columns[name] = backward
        t = rounds_of(columns, args.rounds, args.reps)
        print(f"| {n} | {t['frozen']:.1f} ms | {t['learnable']:.1f} ms "
              f"| {t['learnable'] / t['frozen']:.2f}x |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--tables", nargs="+", choices=["attention", "bias", "pair"],
                        default=["attention", "bias", "pair"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="PyTorch's threads (tmix's pool has one a core)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = platform.machine()
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                      if line.startswith("model name")), model)
    print(f"machine: {model}, {os.cpu_count()} cores; PyTorch {torch.__version__} on "
          f"{args.threads} threads; f32, B=1, H=8; {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}")
    print()
    if "attention" in args.tables:
        attention_table(args)
    if "bias" in args.tables:
        bias_table(args)
    if "pair" in args.tables:
        pair_table(args)


if __name__ == "__main__":
    main()
