#!/usr/bin/env bash
# CPU benchmark of the recurrences (f32, B=1, H=8, K=V=64): the chunked form against the
# step-by-step form for GLA and Gated DeltaNet, and causal softmax attention of the same
# width (D=64), in tokens/s (B·T / time). Each time is the median of tmixc's 7 --bench
# runs; each T is measured in TMIX_ROUNDS rounds (default 3), each round running the
# kernels back to back, and the table gives the median over rounds of the rates and of
# the per-round ratios (a ratio compares two numbers of the same round: the machine is
# shared and its load drifts). Prints a markdown table.
# Usage: bench/cpu/recurrences.sh [T ...] (default: 1024 2048 4096 8192 16384).
# Environment: TMIX_BUILD (build directory, default build), TMIX_CHUNK (chunk size, the
# schedule's default when unset), TMIX_ROUNDS, TMIX_ATTENTION_MAX (attention only up to
# this T, default 8192: it is quadratic, and far behind by then).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

build=${TMIX_BUILD:-build}
tmixc=$build/bin/tmixc
[ -x "$tmixc" ] || tools/setup.sh >/dev/null
lengths=("$@")
[ "${#lengths[@]}" -gt 0 ] || lengths=(1024 2048 4096 8192 16384)
chunk=${TMIX_CHUNK:+,chunk=$TMIX_CHUNK}
rounds=${TMIX_ROUNDS:-3}
attention_max=${TMIX_ATTENTION_MAX:-8192}
specs=bench/cpu/recurrences_f32.tmix

ms() { # spec kernel sizes [schedule] -> median time in ms
  "$tmixc" run "$1" --kernel="$2" --sizes="$3" ${4:+--schedule=$4} --bench | tail -n 1 |
    sed -E 's/time_ms=([^ ]+) .*/\1/'
}
source bench/cpu/common.sh
fmt() { case $1 in nan|-nan) echo "—" ;; *) awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }' ;; esac; }

echo "| T | GLA chunked tok/s | GLA recurrent tok/s | GLA speed-up | GDN chunked tok/s | GDN recurrent tok/s | GDN speed-up | causal attention tok/s | GLA chunked / attention |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for t in "${lengths[@]}"; do
  declare -A rate=() ratio=()
  for ((round = 0; round < rounds; round++)); do
    gla_c=$(ms $specs gla "B=1,H=8,T=$t" "chunked$chunk")
    gla_r=$(ms $specs gla "B=1,H=8,T=$t" recurrent)
    gdn_c=$(ms $specs gated_delta "B=1,H=8,T=$t" "chunked$chunk")
    gdn_r=$(ms $specs gated_delta "B=1,H=8,T=$t" recurrent)
    att=nan
    [ "$t" -gt "$attention_max" ] || att=$(ms bench/cpu/attention_f32.tmix causal "B=1,H=8,N=$t")
    for name in gla_c gla_r gdn_c gdn_r att; do
      rate[$name]+=" $(awk -v t="$t" -v ms="${!name}" 'BEGIN { print t / (ms / 1000) }')"
    done
    ratio[gla]+=" $(awk -v a="$gla_r" -v b="$gla_c" 'BEGIN { print a / b }')"
    ratio[gdn]+=" $(awk -v a="$gdn_r" -v b="$gdn_c" 'BEGIN { print a / b }')"
    ratio[att]+=" $(awk -v a="$att" -v b="$gla_c" 'BEGIN { print a / b }')"
  done
  r() { fmt "$(median <<<"${rate[$1]}")" "%.0f"; }
  x() { fmt "$(median <<<"${ratio[$1]}")" "%.2fx"; }
  echo "| $t | $(r gla_c) | $(r gla_r) | $(x gla) | $(r gdn_c) | $(r gdn_r) | $(x gdn) |" \
    "$(r att) | $(x att) |"
  unset rate ratio
done
