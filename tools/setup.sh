#!/usr/bin/env bash
# Sets up a tmix build on Debian 12: installs what is missing (apt), makes .venv/ with
# the Python package's build dependencies (pip), configures build/ once, and builds
# tmixc and tmix-opt. Idempotent; safe to run from any directory.
#
# Environment: TMIX_JOBS (parallel build jobs, default 2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# libclang-rt-22-dev (sanitizers, libFuzzer) is only a Recommends of clang-22: named so
# that the fuzzer links where apt skips recommended packages.
packages=(cmake ninja-build ccache clang-22 libclang-rt-22-dev libmlir-22-dev
          mlir-22-tools llvm-22-dev llvm-22-tools libfmt-dev libgtest-dev python3-numpy
          python3-venv python3-dev)
llvm_prefix=/usr/lib/llvm-22
jobs=${TMIX_JOBS:-2}

# Runs a command as root: directly when we are root, else through sudo when it exists.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup: need root (or sudo) to run: $*" >&2
    exit 1
  fi
}

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

# The Python package builds against .venv/ (git ignores it): nanobind and numpy here;
# tools/test.sh adds torch and pytest for its tests.
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv/"
  /usr/bin/python3 -m venv .venv
fi
if ! .venv/bin/python -c "import nanobind, numpy" 2>/dev/null; then
  echo "setup: installing python/requirements-build.txt into .venv/"
  .venv/bin/python -m pip install --disable-pip-version-check -q -r python/requirements-build.txt
fi

# A build/ configured before .venv/ existed lacks the Python package: configure again.
if [ -f build/build.ninja ] && ! grep -q "_tmix" build/build.ninja; then
  cmake -S . -B build >/dev/null
fi

if [ ! -f build/build.ninja ]; then
  echo "setup: configuring build/"
  cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DMLIR_DIR="$llvm_prefix/lib/cmake/mlir" \
    -DLLVM_EXTERNAL_LIT="$llvm_prefix/bin/lit"
fi

echo "setup: building tmixc and tmix-opt (-j$jobs)"
ninja -C build -j"$jobs" tmixc tmix-opt
