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

source bench/cpu/common.sh
ms() { # kernel sizes -> median time in ms
  "$tmixc" run "$spec" --kernel="$1" --sizes="$2" --bench | tail -n 1 |
    sed -E 's/time_ms=([^ ]+) .*/\1/'
}
run_logical() { ms "bhtd_$kernel" "$sizes"; }
run_stored() { ms "bthd_$kernel" "$sizes"; }

machine_line
echo "| kernel | sizes | [B, H, T, D] ms | [B, T, H, D] ms | bthd / bhtd |"
echo "| --- | --- | --- | --- | --- |"
for entry in "${cases[@]}"; do
  read -r kernel sizes <<<"$entry"
  read -r a b ratio <<<"$(interleave "$rounds" run_logical run_stored)"
  printf '| %s | %s | %.2f | %.2f | %.3f |\n' "$kernel" "$sizes" "$a" "$b" "$ratio"
done
