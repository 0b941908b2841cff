#!/usr/bin/env bash
# What reading a stored layout in place costs on the CPU: each spec of
# bench/cpu/layouts_f32.tmix in [B, H, T, D] (`bhtd_*`) and in [B, T, H, D] (`bthd_*`,
# with `seq`), same sizes, same binary. Each round runs both back to back (which goes
# first alternates between rounds, so that drift in the machine's load cancels); a time
# is the median of tmixc's 7 --bench runs; the table gives the medians over rounds of
# both times and of the per-round ratio bthd / bhtd (> 1: the stored layout is slower).
# Random inputs: the gates and rates are tmixc's uniform [-1, 1], which the timings do
# not depend on (no data-dependent branches).
# Usage: bench/cpu/layouts.sh [TMIXC (default build/bin/tmixc)] [ROUNDS (default 5)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tmixc=${1:-build/bin/tmixc} rounds=${2:-5}
spec=bench/cpu/layouts_f32.tmix
cases=("gla B=1,H=8,T=8192" "gated_delta B=1,H=8,T=8192" "causal B=1,H=8,HK=2,N=4096")

ms() { # kernel sizes -> median time in ms
  "$tmixc" run "$spec" --kernel="$1" --sizes="$2" --bench | tail -n 1 |
    sed -E 's/time_ms=([^ ]+) .*/\1/'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date -u '+%F %H:%M')"
echo "| kernel | sizes | [B, H, T, D] ms | [B, T, H, D] ms | bthd / bhtd |"
echo "| --- | --- | --- | --- | --- |"
for entry in "${cases[@]}"; do
  read -r kernel sizes <<<"$entry"
  logical="" stored="" ratios=""
  for ((round = 0; round < rounds; round++)); do
    if ((round % 2 == 0)); then
      a=$(ms "bhtd_$kernel" "$sizes"); b=$(ms "bthd_$kernel" "$sizes")
    else
      b=$(ms "bthd_$kernel" "$sizes"); a=$(ms "bhtd_$kernel" "$sizes")
    fi
    logical+=" $a" stored+=" $b" ratios+=" $(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')"
  done
  printf '| %s | %s | %.2f | %.2f | %.3f |\n' "$kernel" "$sizes" "$(median <<<"$logical")" \
    "$(median <<<"$stored")" "$(median <<<"$ratios")"
done
