#!/usr/bin/env bash
# CPU benchmark of the recurrences (f32, B=1, H=8, K=V=64): the chunked form against the
# step-by-step form for GLA and Gated DeltaNet, and causal softmax attention of the same
# width (D=64), in tokens/s (B·T / time). Each time is the median of tmixc's 7 --bench
# runs; the ratios compare numbers of the same run. Prints a markdown table.
# Usage: bench/cpu/recurrences.sh [T ...] (default: 1024 2048 4096 8192 16384).
# Environment: TMIX_BUILD (build directory, default build), TMIX_CHUNK (chunk size, the
# schedule's default when unset).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

build=${TMIX_BUILD:-build}
tmixc=$build/bin/tmixc
[ -x "$tmixc" ] || tools/setup.sh >/dev/null
lengths=("$@")
[ "${#lengths[@]}" -gt 0 ] || lengths=(1024 2048 4096 8192 16384)
chunk=${TMIX_CHUNK:+,chunk=$TMIX_CHUNK}

ms() { # spec kernel sizes [schedule] -> median time in ms
  "$tmixc" run "$1" --kernel="$2" --sizes="$3" ${4:+--schedule=$4} --bench | tail -n 1 |
    sed -E 's/time_ms=([^ ]+) .*/\1/'
}
rate() { awk -v t="$1" -v ms="$2" 'BEGIN { printf "%.0f", t / (ms / 1000) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

specs=bench/cpu/recurrences_f32.tmix
echo "| T | GLA chunked tok/s | GLA recurrent tok/s | GLA speed-up | GDN chunked tok/s | GDN recurrent tok/s | GDN speed-up | causal attention tok/s | GLA chunked / attention |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for t in "${lengths[@]}"; do
  gla_c=$(ms $specs gla "B=1,H=8,T=$t" "chunked$chunk")
  gla_r=$(ms $specs gla "B=1,H=8,T=$t" recurrent)
  gdn_c=$(ms $specs gated_delta "B=1,H=8,T=$t" "chunked$chunk")
  gdn_r=$(ms $specs gated_delta "B=1,H=8,T=$t" recurrent)
  att=$(ms bench/cpu/attention_f32.tmix causal "B=1,H=8,N=$t")
  echo "| $t | $(rate $t $gla_c) | $(rate $t $gla_r) | $(ratio $gla_r $gla_c)x |" \
    "$(rate $t $gdn_c) | $(rate $t $gdn_r) | $(ratio $gdn_r $gdn_c)x |" \
    "$(rate $t $att) | $(ratio $att $gla_c)x |"
done
