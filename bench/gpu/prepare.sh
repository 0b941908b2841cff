#!/usr/bin/env bash
# Run on a development machine (MLIR, tmixc, numpy): builds the GPU artifacts that
# bench/gpu/run.sh uses on the GPU machine, where there is no MLIR.
#   bench/gpu/artifacts/<target>/<kernel>.<target>.{ptx,cubin,manifest,h}
#   bench/gpu/artifacts/data/<kernel>/  inputs (*.npy, float32 or int32) and the CPU
#     path's outputs for them (tmixc run --check: itself checked against the float64
#     reference), the oracle of the GPU run; sizes.txt holds the sizes used.
#   bench/gpu/artifacts/wheels/  flash-linear-attention (fla-core, pure Python) from
#     PyPI, the recurrences' peer, which run.sh installs there (no network on the GPU
#     machine). Its other needs (torch, triton, einops) are on that machine.
# Usage: bench/gpu/prepare.sh [build-dir]   (default: build; TARGETS="sm_80 sm_90a" to
# build both, default sm_90a only: the H200 runs those, and the whole must stay small
# enough to carry to the GPU machine)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=${1:-build}
tmixc=$build/bin/tmixc
[ -x "$tmixc" ] || { echo "prepare.sh: no $tmixc (build tmixc first)" >&2; exit 1; }
out=bench/gpu/artifacts
rm -rf "$out" && mkdir -p "$out/data"

# Examples whose head dim (or recurrence state size) is a symbol are fixed here.
declare -A fixed=([alibi_bias]=D=64 [gqa]=D=128 [mqa_decode]=D=128 [gla]=K=64,V=64
                  [retnet]=K=64,V=64 [ssd]=N=64,P=64 [gated_delta]=K=128,V=128
                  [linear_attention]=K=64,V=64 [fla_delta_net]=K=64,V=64
                  [fla_gated_delta]=K=64,V=64 [fla_gla]=K=64,V=64
                  [fla_gla_varlen]=K=64,V=64 [fla_linear_attn]=K=64,V=64
                  [fla_mamba2]=N=64,P=64 [fla_retnet]=K=64,V=64
                  [fla_simple_gla]=K=64,V=64)
specs=()
for file in examples/*.tmix bench/gpu/attention_bf16.tmix bench/gpu/recurrences_bf16.tmix; do
  grep -q '^\(attention\|recurrence\)' "$file" || continue
  specs+=("$file")
done
TARGETS=${TARGETS:-sm_90a}
for target in $TARGETS; do
  for file in "${specs[@]}"; do
    name=$(basename "$file" .tmix)
    sizes=${fixed[$name]:-}
    if grep -q '^attention' "$file"; then
      "$tmixc" build "$file" --target="$target" -o "$out/$target" ${sizes:+--sizes=$sizes}
    elif ! log=$("$tmixc" build "$file" --target="$target" -o "$out/$target" \
                   ${sizes:+--sizes=$sizes} 2>&1); then
      # A recurrence the GPU path does not chunk says why; the others must build.
      echo "prepare.sh: $name not built for $target: $log" >&2
    fi
  done
done

# The bench recurrences' backward (X_grad beside X; the other examples' backward is
# checked by the emulator and ptxas on the development machine).
for target in $TARGETS; do
  "$tmixc" build bench/gpu/recurrences_bf16.tmix --grad --target="$target" -o "$out/$target"
done

# Correctness data: inputs at awkward sizes (N = 200, M = 233: partial tiles), CPU
# outputs.
for file in "${specs[@]}"; do
  for manifest in "$out"/${TARGETS%% *}/*.manifest; do
    kernel=$(sed -n 's/^kernel //p' "$manifest")
    grep -q "^\(attention\|recurrence\) $kernel(" "$file" || continue
    dir=$out/data/$kernel
    mkdir -p "$dir"
    sizes=$(/usr/bin/python3 bench/gpu/make_inputs.py "$manifest" "$dir")
    echo "$sizes" > "$dir/sizes.txt"
    sets=()
    while IFS= read -r scalar; do sets+=("--set=$scalar"); done < "$dir/scalars.txt"
    "$tmixc" run "$file" --kernel="$kernel" --sizes="$sizes" --inputs="$dir" \
      --outputs="$dir/expected" --check "${sets[@]}" | tail -n 1 | sed "s/^/$kernel: /"
  done
done
# The backward X_grad: inputs for X and the gradient of its output (tmixc run --grad
# draws it), the CPU path's gradients expected (its chunked adjoint, itself checked
# against central differences of the float64 reference in the test suite).
for manifest in "$out"/${TARGETS%% *}/*_grad.*.manifest; do
  [ -e "$manifest" ] || continue
  kernel=$(sed -n 's/^kernel //p' "$manifest")
  forward=${kernel%_grad}
  file=bench/gpu/recurrences_bf16.tmix
  grep -q "^recurrence $forward(" "$file" || continue
  dir=$out/data/$kernel
  rm -rf "$dir" && mkdir -p "$dir"
  # Two heads and T = 130 (two chunks and a partial one): the artifacts are carried to
  # the GPU machine, 64 MiB at most.
  /usr/bin/python3 bench/gpu/make_inputs.py "${manifest/_grad./.}" "$dir" H=2 T=130 \
    > "$dir/sizes.txt"
  sets=()
  while IFS= read -r scalar; do sets+=("--set=$scalar"); done < "$dir/scalars.txt"
  "$tmixc" run "$file" --kernel="$forward" --grad --sizes="$(cat "$dir/sizes.txt")" \
    --inputs="$dir" --outputs="$dir/run" "${sets[@]}" >/dev/null
  mkdir -p "$dir/expected"
  for result in $(sed -n 's/^result \([^ ]*\) .*/\1/p' "$manifest"); do
    mv "$dir/run/$result.npy" "$dir/expected/"
  done
  for arg in $(sed -n 's/^arg \([^ ]*\) .*/\1/p' "$manifest"); do
    [ -e "$dir/$arg.npy" ] || mv "$dir/run/$arg.npy" "$dir/"
  done
  rm -rf "$dir/run"
  echo "$kernel: the CPU path's gradients"
done
# The recurrences' peer, carried as a wheel (pinned: the version bench.py was written
# against).
mkdir -p "$out/wheels"
if ! /usr/bin/python3 -m pip download --quiet --no-deps --dest "$out/wheels" \
     fla-core==0.6.0 2>/dev/null && ! python3 -m pip download --quiet --no-deps \
     --dest "$out/wheels" fla-core==0.6.0; then
  echo "prepare.sh: could not download fla-core: the recurrences run without their peer" >&2
fi
echo "prepare.sh: artifacts in $out ($(du -sh "$out" | cut -f1))"
