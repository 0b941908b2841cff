#!/usr/bin/env bash
# The GPU kernels' resource report, for comparing two builds of the compiler: for every
# example kernel the GPU path compiles (attention on sm_80 and sm_90a; the chunked
# recurrences on both), ptxas -v's registers, spill bytes and shared memory, and the
# PTX's instruction mix (mma.sync, wgmma.mma_async, cp.async, cp.async.bulk.tensor,
# mbarrier, ex2.approx). One tab-separated line per (example, sizes, target).
# Usage: bench/gpu/ptxas_report.sh [TMIXC] > report.tsv   (TMIXC: default build/bin/tmixc)
# Needs ptxas (CUDA_HOME/bin, /usr/local/cuda/bin or PATH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tmixc=${1:-build/bin/tmixc}
ptxas=$(command -v ptxas || echo "${CUDA_HOME:-/usr/local/cuda}/bin/ptxas")
[ -x "$ptxas" ] || { echo "ptxas_report: no ptxas" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cases=(
  "alibi_bias D=64" "attention_sinks -" "causal -" "chunked_attention -"
  "cross_attention -" "documents -" "gqa D=128" "lambda_mask -" "logit_softcap -"
  "mla_prefill -" "mqa_decode D=128" "prefix_lm -" "relative_bias -" "rotary -"
  "sliding_window -" "swa_alibi -"
  "delta_net K=128,V=128" "gated_delta K=64,V=64" "gated_delta K=128,V=128"
  "gla K=64,V=64" "gla K=128,V=128" "linear_attention K=64,V=64"
  "retnet K=64,V=64" "retnet K=256,V=256" "ssd N=128,P=128"
)
printf 'example\tsizes\ttarget\tkernel\tregisters\tspill_bytes\tshared_bytes\tmma.sync\twgmma\tcp.async\tcp.async.bulk.tensor\tmbarrier\tex2\n'
for entry in "${cases[@]}"; do
  read -r example sizes <<<"$entry"
  for target in sm_80 sm_90a; do
    ptx=$work/$example.$target.ptx
    args=(emit "examples/$example.tmix" --stage=ptx --target=$target)
    [ "$sizes" = - ] || args+=(--sizes="$sizes")
    if ! "$tmixc" "${args[@]}" >"$ptx" 2>"$work/err"; then
      printf '%s\t%s\t%s\terror: %s\n' "$example" "$sizes" "$target" "$(head -c 200 "$work/err")"
      continue
    fi
    count() { grep -c -- "$1" "$ptx" || true; }
    mix="$(count 'mma.sync')\t$(count 'wgmma.mma_async')\t$(count 'cp.async.\(ca\|cg\)')\t$(count 'cp.async.bulk.tensor')\t$(count 'mbarrier')\t$(count 'ex2.approx')"
    "$ptxas" -arch=$target -v "$ptx" -o "$work/out.cubin" 2>"$work/v" || { echo "ptxas failed on $example $target" >&2; cat "$work/v" >&2; exit 1; }
    # One "Compiling entry function" block per kernel: its name, then its usage line.
    awk -v ex="$example" -v sz="$sizes" -v tg="$target" -v mix="$mix" '
      /Compiling entry function/ { match($0, /'"'"'[^'"'"']*'"'"'/); kernel = substr($0, RSTART + 1, RLENGTH - 2); spill = 0 }
      /bytes spill stores/ { split($0, a, ","); for (i in a) if (a[i] ~ /spill stores/) { gsub(/[^0-9]/, "", a[i]); spill += a[i] } }
      /bytes spill loads/ { n = $0; sub(/.*bytes stack frame, /, "", n); }
      /Used [0-9]+ registers/ { match($0, /Used [0-9]+ registers/); regs = substr($0, RSTART + 5, RLENGTH - 15)
        smem = 0; if (match($0, /[0-9]+ bytes smem/)) smem = substr($0, RSTART, RLENGTH - 11)
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ex, sz, tg, kernel, regs, spill, smem, mix }
    ' "$work/v"
  done
done
