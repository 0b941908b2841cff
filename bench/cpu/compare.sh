#!/usr/bin/env bash
# tmix against ONNX Runtime on the CPU, with the machine's FMA peak: f32 attention,
# B=1 H=8, D in {64, 128}, N in {1024, 2048, 4096} (8192 too with TMIX_BENCH_8192=1),
# dense, causal, sliding window 256 and 8 packed documents. Prints the FMA peak and a
# markdown table (bench/cpu/compare.py says how each number is measured).
#
# The first run makes bench/.venv (python3 -m venv; onnxruntime, onnx, numpy from PyPI).
# PyTorch is not installed: its PyPI wheel pulls gigabytes of CUDA libraries.
# Usage: bench/cpu/compare.sh [compare.py options, e.g. --lengths=1024 --dims=64]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

venv=bench/.venv
if [ ! -f "$venv/.installed" ]; then
  python=/usr/bin/python3
  [ -x "$python" ] || python=python3
  # Debian's python3 makes virtual environments only with python3-venv installed.
  if ! "$python" -c "import ensurepip" 2>/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y python3-venv
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    onnxruntime==1.32.0 onnx==1.23.2 numpy==2.4.6
  touch "$venv/.installed"
fi

tools/setup.sh >/dev/null # builds tmixc if anything changed

cc=$(command -v clang-22 || command -v clang || command -v cc)
"$cc" -O3 -march=native -pthread bench/cpu/fma_peak.c -o "$venv/fma_peak"
peak_output=$("$venv/fma_peak" 1)
echo "$peak_output"
peak=$(echo "$peak_output" | tail -n 1 | sed -E 's/.*gflops=//')
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date -u +%F)"

lengths=1024,2048,4096
[ "${TMIX_BENCH_8192:-0}" = 1 ] && lengths=$lengths,8192
exec "$venv/bin/python" bench/cpu/compare.py --lengths="$lengths" --threads="$(nproc)" \
  --peak="$peak" "$@"
