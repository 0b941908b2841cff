#!/usr/bin/env bash
# CPU benchmark of the recurrences' derived backward (f32, B=1, H=8, K=V=64; the specs of
# recurrences_f32.tmix): the adjoint X_grad (`tmixc run --grad --bench`) as scheduled
# (chunk by chunk, codegen/cpu/ChunkedAdjoint.cpp) and under --schedule=recurrent (the
# step-by-step adjoint from checkpoints every 64 steps), against the forward, chunked
# and step by step, for GLA and Gated DeltaNet (fla's form, its decay by its log g:
# gated_delta_log; DSL.md's, by value: gated_delta). Each time is the median of tmixc's 7 --bench runs; each T is measured in
# TMIX_ROUNDS rounds (default 3) and the table gives the medians over rounds of the
# times and of the per-round ratios (the machine is shared and its load drifts).
# Prints a markdown table; docs/benchmarks.md keeps the figures.
# Usage: bench/cpu/recurrence_grad.sh [T ...] (default: 2048 8192).
# Environment: TMIX_BUILD (build directory, default build), TMIX_ROUNDS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

build=${TMIX_BUILD:-build}
tmixc=$build/bin/tmixc
[ -x "$tmixc" ] || tools/setup.sh >/dev/null
lengths=("$@")
[ "${#lengths[@]}" -gt 0 ] || lengths=(2048 8192)
rounds=${TMIX_ROUNDS:-3}
specs=bench/cpu/recurrences_f32.tmix
source bench/cpu/common.sh
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; }

machine_line
echo
echo "| spec | T | forward, chunked | forward, step by step | backward | backward, step by step | step by step / backward | backward / chunked forward |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for spec in gla gated_delta_log gated_delta; do
  for t in "${lengths[@]}"; do
    chunked="" recurrent="" backward="" stepwise="" speedup="" per_chunked=""
    for ((round = 0; round < rounds; round++)); do
      # forward_ms=... backward_ms=... ratio=... (the forward and backward as scheduled)
      line=$("$tmixc" run $specs --kernel=$spec --sizes="B=1,H=8,T=$t" --grad --bench |
        grep forward_ms)
      c=$(sed -E 's/forward_ms=([^ ]+) .*/\1/' <<<"$line")
      b=$(sed -E 's/.*backward_ms=([^ ]+) .*/\1/' <<<"$line")
      # the same under --schedule=recurrent: the forward and the adjoint step by step
      line=$("$tmixc" run $specs --kernel=$spec --sizes="B=1,H=8,T=$t" --grad --bench \
        --schedule=recurrent | grep forward_ms)
      r=$(sed -E 's/forward_ms=([^ ]+) .*/\1/' <<<"$line")
      s=$(sed -E 's/.*backward_ms=([^ ]+) .*/\1/' <<<"$line")
      chunked+=" $c" recurrent+=" $r" backward+=" $b" stepwise+=" $s"
      speedup+=" $(awk -v a="$s" -v b="$b" 'BEGIN { print a / b }')"
      per_chunked+=" $(awk -v a="$b" -v b="$c" 'BEGIN { print a / b }')"
    done
    m() { median <<<"$1"; }
    echo "| $spec | $t | $(fmt "$(m "$chunked")" "%.1f ms") | $(fmt "$(m "$recurrent")" "%.1f ms")" \
      "| $(fmt "$(m "$backward")" "%.1f ms") | $(fmt "$(m "$stepwise")" "%.1f ms")" \
      "| $(fmt "$(m "$speedup")" "%.2fx") | $(fmt "$(m "$per_chunked")" "%.2fx") |"
  done
done
