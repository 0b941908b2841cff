#!/usr/bin/env bash
# Two builds of tmixc on the same CPU workloads, interleaved: the must-not-regress check
# of a change to the compiler (e.g. issue 12's). f32, B=1 H=8: attention dense, causal,
# window 256 and 8 documents at N=4096, D=64 and 128 (bench/cpu/attention_variants.tmix);
# the chunked GLA and Gated DeltaNet at T=8192, K=V=64 (bench/cpu/recurrences_f32.tmix).
# Each round runs every case with both binaries back to back (which goes first
# alternates between rounds, so that drift in the machine's load cancels); a time is the
# median of tmixc's 7 --bench runs; the table gives the medians over rounds of both
# times and of the per-round ratio new/old (> 1: the new build is slower).
# Usage: bench/cpu/before_after.sh OLD_TMIXC NEW_TMIXC [ROUNDS (default 5)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
old=$1 new=$2 rounds=${3:-5}
# Python with numpy, for the documents case's inputs (8 documents): bench/.venv (made by
# bench/cpu/compare.sh) when there, else python3.
python=${PYTHON:-bench/.venv/bin/python}
[ -x "$python" ] || python=python3

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for d in 64 128; do
  mkdir -p "$work/documents-$d"
  "$python" - "$work/documents-$d" "$d" <<'PY'
import sys, numpy as np
out, d, n = sys.argv[1], int(sys.argv[2]), 4096
rng = np.random.default_rng(0)
for name in "qkv":
    np.save(f"{out}/{name}.npy", rng.standard_normal((1, 8, n, d), dtype=np.float32))
np.save(f"{out}/doc.npy", (np.arange(n) * 8 // n).astype(np.int32)[None, :])  # 8 documents
PY
done

cases=()
for d in 64 128; do
  for variant in dense causal window documents; do
    inputs=-
    [ "$variant" != documents ] || inputs=$work/documents-$d
    cases+=("bench/cpu/attention_variants.tmix $variant B=1,H=8,N=4096,D=$d - $inputs")
  done
done
cases+=("bench/cpu/recurrences_f32.tmix gla B=1,H=8,T=8192 chunked -"
        "bench/cpu/recurrences_f32.tmix gated_delta B=1,H=8,T=8192 chunked -")

source bench/cpu/common.sh
ms() { # tmixc spec kernel sizes schedule inputs -> median time in ms
  local extra=()
  [ "$5" = - ] || extra+=(--schedule="$5")
  [ "$6" = - ] || extra+=(--inputs="$6")
  "$1" run "$2" --kernel="$3" --sizes="$4" "${extra[@]}" --bench | tail -n 1 |
    sed -E 's/time_ms=([^ ]+) .*/\1/'
}
run_old() { ms "$old" "$spec" "$kernel" "$sizes" "$schedule" "$inputs"; }
run_new() { ms "$new" "$spec" "$kernel" "$sizes" "$schedule" "$inputs"; }

machine_line
echo "| kernel | sizes | old ms | new ms | new / old |"
echo "| --- | --- | --- | --- | --- |"
for entry in "${cases[@]}"; do
  read -r spec kernel sizes schedule inputs <<<"$entry"
  read -r a b ratio <<<"$(interleave "$rounds" run_old run_new)"
  printf '| %s | %s | %.2f | %.2f | %.3f |\n' "$kernel" "$sizes" "$a" "$b" "$ratio"
done
