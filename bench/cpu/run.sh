#!/usr/bin/env bash
# CPU benchmark of tmix's JIT kernels: f32 attention (B=1, H=8, D=64) dense and causal
# at several lengths, and a GLA recurrence step by step and chunked
# (bench/cpu/recurrences.sh compares the recurrence forms in depth). Each number is the median of tmixc's --bench
# runs; the GFLOP/s of masked attention count only the (i, j) pairs the mask keeps.
# Prints a markdown table. Usage: bench/cpu/run.sh [N ...] (default: 1024 2048).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

tmixc=build/bin/tmixc
tools/setup.sh >/dev/null # builds tmixc if anything changed
lengths=("$@")
[ "${#lengths[@]}" -gt 0 ] || lengths=(1024 2048)

measure() { # spec kernel sizes [schedule] -> "time_ms gflops"
  "$tmixc" run "$1" --kernel="$2" --sizes="$3" ${4:+--schedule=$4} --bench | tail -n 1 |
    sed -E 's/time_ms=([^ ]+) gflops=([^ ]+)/\1 \2/'
}

echo "| kernel | shape | time (ms) | GFLOP/s |"
echo "| --- | --- | --- | --- |"
for n in "${lengths[@]}"; do
  for kernel in dense causal; do
    read -r ms gflops < <(measure bench/cpu/attention_f32.tmix "$kernel" "B=1,H=8,N=$n")
    echo "| attention $kernel f32 | B=1 H=8 N=$n D=64 | $ms | $gflops |"
  done
done
read -r ms gflops < <(measure examples/gla.tmix gla "B=1,H=8,T=2048,K=64,V=64" recurrent)
echo "| gla (step by step) | B=1 H=8 T=2048 K=V=64 | $ms | $gflops |"
read -r ms gflops < <(measure examples/gla.tmix gla "B=1,H=8,T=2048,K=64,V=64" chunked)
echo "| gla (chunked) | B=1 H=8 T=2048 K=V=64 | $ms | $gflops |"
