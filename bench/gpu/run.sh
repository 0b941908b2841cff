#!/usr/bin/env bash
# Run on the GPU machine (CUDA driver, PyTorch, a C++ compiler; no MLIR, no network):
# builds the runtime (-DTMIX_RUNTIME_ONLY=ON with cmake, else one c++ command), then
# bench.py checks every kernel of bench/gpu/artifacts (made by prepare.sh on a
# development machine) and times the headline shapes against SDPA and FlexAttention.
# Without a GPU it stops with "no CUDA device". Extra arguments go to bench.py
# (--length=8192 --batch=2 --heads=16 --reps=10; recurrences: --rec-length=8192
# --rec-batch=4 --rec-heads=8).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=${TMIX_RUNTIME_BUILD:-build-runtime}
if [ "${TMIX_USE_CMAKE:-1}" = 1 ] && command -v cmake >/dev/null; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake "${generator[@]}" -S . -B "$build" -DTMIX_RUNTIME_ONLY=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target tmix_cuda -j 8 >/dev/null
  lib=$build/lib/libtmix_cuda.so
else
  mkdir -p "$build/lib"
  lib=$build/lib/libtmix_cuda.so
  # libtmix_cuda's sources (runtime/CMakeLists.txt, runtime/cuda/CMakeLists.txt); a
  # file missing here is an error now (--no-undefined), not when Python loads the library.
  ${CXX:-c++} -std=c++17 -O2 -fPIC -shared -I. runtime/AtomicFiles.cpp runtime/Bindings.cpp \
    runtime/CpuLauncher.cpp runtime/GradientReduction.cpp runtime/HostTensor.cpp \
    runtime/Npy.cpp runtime/Random.cpp runtime/TensorView.cpp runtime/ThreadPool.cpp \
    runtime/cuda/GpuArtifact.cpp runtime/cuda/GpuManifest.cpp runtime/cuda/CudaDriver.cpp \
    runtime/cuda/CudaLauncher.cpp runtime/cuda/TensorMap.cpp \
    -ldl -lpthread -Wl,--no-undefined -o "$lib"
fi
echo "bench/gpu: runtime built: $lib"
python=${PYTHON:-python3}
# flash-linear-attention, carried as a wheel (prepare.sh), installed beside the
# artifacts: the GPU machine has no network, and its own packages stay untouched.
wheels=(bench/gpu/artifacts/wheels/*.whl)
if [ -e "${wheels[0]}" ]; then
  "$python" -m pip install --quiet --no-index --no-deps --target bench/gpu/artifacts/pydeps \
    "${wheels[@]}" && export PYTHONPATH=$PWD/bench/gpu/artifacts/pydeps${PYTHONPATH:+:$PYTHONPATH}
fi
exec "$python" bench/gpu/bench.py --lib="$lib" "$@"
