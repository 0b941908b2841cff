#!/usr/bin/env bash
# tmix against ONNX Runtime and PyTorch (SDPA, FlexAttention) on the CPU, with the
# machine's FMA peak: f32 attention, B=1 H=8, D in {64, 128}, N in {1024, 2048, 4096,
# 8192}, dense, causal, sliding window 256 and 8 packed documents. Prints the FMA peak
# and a markdown table (bench/cpu/compare.py says how each number is measured).
#
# The first run makes bench/.venv (python3 -m venv; onnxruntime, onnx, numpy from PyPI)
# and tries PyTorch there too (PyPI's torch wheel, with its CUDA libraries: about 3 GB;
# TMIX_BENCH_TORCH=0 skips it). Without torch the table has no PyTorch columns.
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
if [ "${TMIX_BENCH_TORCH:-1}" = 1 ] && [ ! -f "$venv/.torch-tried" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check torch==2.11.0 ||
    echo "compare: torch did not install; the table has no PyTorch columns" >&2
  touch "$venv/.torch-tried"
fi

tools/setup.sh >/dev/null # builds tmixc if anything changed

cc=$(command -v clang-22 || command -v clang || command -v cc)
"$cc" -O3 -march=native -pthread bench/cpu/fma_peak.c -o "$venv/fma_peak"
peak_output=$("$venv/fma_peak" 1)
echo "$peak_output"
peak=$(echo "$peak_output" | tail -n 1 | sed -E 's/.*gflops=//')
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date -u +%F)"

exec "$venv/bin/python" bench/cpu/compare.py --threads="$(nproc)" --peak="$peak" "$@"
