#!/usr/bin/env bash
# What packing variable-length sequences costs on the CPU: GLA (f32, H = 8, K = V = 64)
# over 8 sequences of 100 to 4000 steps packed along T (`seq = T by cu_seqlens`), against
# the sum of the same recurrence run on each sequence alone (B = 1, T = its length) and
# against one dense run padded to the longest (B = 8, T = 4000). Each round runs the
# packed spec and the per-sequence runs back to back (which goes first alternates); a
# time is the median of tmixc's 7 --bench runs; the table gives the medians over rounds.
# The packed inputs hold the chosen offsets (PYTHON with numpy writes them); the other
# runs take tmixc's random inputs, which the timings do not depend on.
# Usage: bench/cpu/varlen.sh [TMIXC (default build/bin/tmixc)] [ROUNDS (default 5)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tmixc=${1:-build/bin/tmixc} rounds=${2:-5} python=${PYTHON:-python3}
spec=bench/cpu/varlen_f32.tmix
lengths=(100 250 600 1000 1500 2200 3000 4000)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

source bench/cpu/common.sh
"$python" - "$work" "${lengths[@]}" <<'PY'
import sys
import numpy as np
work, lengths = sys.argv[1], [int(x) for x in sys.argv[2:]]
steps, rng = sum(lengths), np.random.default_rng(0)
for name in ("q", "k", "v"):
    np.save(f"{work}/{name}.npy", rng.uniform(-1, 1, (1, steps, 8, 64)).astype(np.float32))
np.save(f"{work}/g.npy", rng.uniform(-1, 0, (1, steps, 8, 64)).astype(np.float32))
np.save(f"{work}/cu_seqlens.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
PY
ms() { "$tmixc" run "$spec" "$@" --bench | tail -n 1 | sed -E 's/time_ms=([^ ]+) .*/\1/'; }
run_packed() { ms --kernel=packed_gla --inputs="$work"; }
run_alone() {
  local sum=0 length
  for length in "${lengths[@]}"; do
    sum=$(awk -v s="$sum" -v t="$(ms --kernel=dense_gla --sizes=B=1,H=8,T="$length")" \
      'BEGIN { print s + t }')
  done
  echo "$sum"
}
run_padded() { ms --kernel=dense_gla --sizes=B=8,H=8,T=4000; }

machine_line
echo "GLA f32, H = 8, K = V = 64; sequences of ${lengths[*]} steps"
echo "| run | ms | / packed |"
echo "| --- | --- | --- |"
read -r packed alone ratio <<<"$(interleave "$rounds" run_packed run_alone)"
read -r _ padded padded_ratio <<<"$(interleave "$rounds" run_packed run_padded)"
printf '| packed (N = 8, T = %d) | %.2f | 1 |\n' "$(IFS=+; echo $((${lengths[*]})))" "$packed"
printf '| each sequence alone, summed | %.2f | %.3f |\n' "$alone" "$ratio"
printf '| padded to the longest (B = 8, T = 4000) | %.2f | %.3f |\n' "$padded" "$padded_ratio"
