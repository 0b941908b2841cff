#!/usr/bin/env bash
# Runs every tmix test: sets up and builds, installs the Python tests' torch and pytest
# into .venv/, runs the lit suites (check-tmix, the Python package's pytest suites
# among them); with TMIX_SANITIZE=1 runs them again under ASan + UBSan (build-asan/) and
# the multi-threaded JIT and C API tests under ThreadSanitizer (build-tsan/); with TMIX_FUZZ_SECONDS set, runs each
# fuzz target (frontend, .npy reader, GPU manifest) for that many seconds (build-fuzz/).
# Ends with one line `N passed, M failed` (lit's tests, plus each sanitizer and fuzzing
# run as one test); exits non-zero on any failure, on a lit or build error, or when no
# test ran. Safe from any directory.
#
# Environment: TMIX_JOBS (parallel build jobs, default 2), TMIX_SANITIZE (1: the
# sanitizer builds; CI sets it), TMIX_FUZZ_SECONDS (unset or 0: no fuzzing).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

llvm_prefix=/usr/lib/llvm-22
jobs=${TMIX_JOBS:-2}
fuzz_seconds=${TMIX_FUZZ_SECONDS:-0}
sanitize=${TMIX_SANITIZE:-0}

tools/setup.sh

# The Python package's tests need torch and pytest (python/requirements.txt) in .venv/.
if ! .venv/bin/python -c "import torch, pytest" 2>/dev/null; then
  echo "test: installing python/requirements.txt into .venv/"
  .venv/bin/python -m pip install --disable-pip-version-check -q -r python/requirements.txt
fi

# ---- lit suites ----
mkdir -p build
log=build/check-tmix.log
set +e
ninja -C build -j"$jobs" check-tmix 2>&1 | tee "$log"
lit_status=${PIPESTATUS[0]}
set -e

# Sums the counts of lit's summary lines (`  Passed: 12 (80.00%)`) in log file $1 for
# the labels that follow.
count() {
  local log=$1 total=0 label n
  shift
  for label in "$@"; do
    n=$(sed -nE "s/^  ${label} *: +([0-9]+) \(.*$/\1/p" "$log" | tail -n 1)
    total=$((total + ${n:-0}))
  done
  echo "$total"
}

passed=$(count "$log" 'Passed' 'Passed With Retry' 'Expectedly Failed')
failed=$(count "$log" 'Failed' 'Unresolved' 'Timed Out' 'Unexpectedly Passed')
skipped=$(count "$log" 'Unsupported' 'Skipped' 'Excluded')
discovered=$(sed -nE 's/^Total Discovered Tests: ([0-9]+).*$/\1/p' "$log" | tail -n 1)

errors=()
if [ -z "$discovered" ]; then
  errors+=("lit did not run (build error?): see $log")
elif [ "$((passed + failed))" -eq 0 ]; then
  errors+=("no test ran ($skipped unsupported or skipped)")
fi
# The package's tests are UNSUPPORTED where it was not built: here it must have been.
if ! ls build/python/tmix/_tmix*.so >/dev/null 2>&1; then
  errors+=("the Python package was not built (build/python/tmix/): see build/CMakeCache.txt")
fi
if [ "$lit_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  errors+=("ninja check-tmix exited with status $lit_status")
fi

# Configures a build folder with extra CMake arguments, once.
configure() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    echo "test: configuring $dir/"
    mkdir -p "$dir"
    cmake -G Ninja -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
      -DMLIR_DIR="$llvm_prefix/lib/cmake/mlir" \
      -DLLVM_EXTERNAL_LIT="$llvm_prefix/bin/lit" "$@" >"$dir/configure.log" 2>&1 || true
  fi
  [ -f "$dir/build.ninja" ]
}

# ---- sanitizers ----
if [ "$sanitize" = 1 ]; then
  # ASan + UBSan: every lit suite again, with every tmix binary instrumented (MLIR and
  # LLVM are the system's plain libraries; the JIT-compiled kernels are not instrumented).
  # allow_user_poisoning=0: LLVM's BumpPtrAllocator poisons slabs only where compiled
  # with ASan, so objects that the uninstrumented libMLIR.so allocates from a slab our
  # inlined code started would read as poisoned.
  if ! configure build-asan -DTMIX_SANITIZER=address,undefined; then
    errors+=("build-asan/ did not configure: see build-asan/configure.log")
  else
    asan_log=build-asan/check-tmix.log
    set +e
    # The emulator tests are left out: their time goes to Python emulating the GPU
    # kernels, and the tmixc steps they run are the PTX tests' too.
    LIT_FILTER_OUT='emulated-' \
    ASAN_OPTIONS=allow_user_poisoning=0:detect_leaks=0:abort_on_error=0 \
    UBSAN_OPTIONS=print_stacktrace=1 \
    ASAN_SYMBOLIZER_PATH="$llvm_prefix/bin/llvm-symbolizer" \
      ninja -C build-asan -j"$jobs" check-tmix >"$asan_log" 2>&1
    asan_status=$?
    set -e
    grep -E '^(FAIL|UNRESOLVED|XPASS|TIMEOUT):' "$asan_log" || true
    asan_passed=$(count "$asan_log" 'Passed' 'Passed With Retry' 'Expectedly Failed')
    asan_failed=$(count "$asan_log" 'Failed' 'Unresolved' 'Timed Out' 'Unexpectedly Passed')
    echo "test: ASan+UBSan lit: $asan_passed passed, $asan_failed failed (log: $asan_log)"
    passed=$((passed + asan_passed))
    failed=$((failed + asan_failed))
    if [ -z "$(sed -nE 's/^Total Discovered Tests: ([0-9]+).*$/\1/p' "$asan_log")" ]; then
      tail -n 40 "$asan_log"
      errors+=("the ASan+UBSan lit run did not start (build error?): see $asan_log")
    elif [ "$asan_status" -ne 0 ] && [ "$asan_failed" -eq 0 ]; then
      errors+=("ninja -C build-asan check-tmix exited with status $asan_status")
    fi
  fi

  # ThreadSanitizer: only what the multi-threaded compile + launch test needs.
  if ! configure build-tsan -DTMIX_SANITIZER=thread; then
    errors+=("build-tsan/ did not configure: see build-tsan/configure.log")
  elif ! ninja -C build-tsan -j"$jobs" tmix-cpu-tests tmix-library-tests \
         >build-tsan/build.log 2>&1; then
    tail -n 40 build-tsan/build.log
    echo "test: the ThreadSanitizer build failed"
    failed=$((failed + 1))
  else
    echo "test: 16 threads compiling and launching under ThreadSanitizer"
    # MLIR and LLVM are uninstrumented: reports inside them are suppressed (tsan.supp).
    tsan_suppressions="$PWD/test/codegen/cpu/tsan.supp"
    # libtmix's disk cache: the build's own folder, emptied, so that the C API's threads
    # compile (and store) rather than load.
    rm -rf build-tsan/kernel-cache
    export TMIX_CACHE_DIR="$PWD/build-tsan/kernel-cache"
    # Then the same through libtmix's C API (16 threads compiling and launching).
    if TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$tsan_suppressions" \
       build-tsan/bin/tmix-cpu-tests --gtest_brief=1 \
         --gtest_filter='ConcurrentJit.*:KernelCache.*' >build-tsan/stress.log 2>&1 &&
       TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$tsan_suppressions" \
       build-tsan/bin/tmix-library-tests --gtest_brief=1 >>build-tsan/stress.log 2>&1; then
      echo "test: ThreadSanitizer found nothing"
      passed=$((passed + 1))
    else
      tail -n 60 build-tsan/stress.log
      echo "test: the ThreadSanitizer run failed (log: build-tsan/stress.log)"
      failed=$((failed + 1))
    fi
  fi
fi

# ---- fuzzing ----
# Runs one libFuzzer target for $fuzz_seconds on a scratch copy of its corpus in the tree
# (libFuzzer adds to the copy as it runs). fuzz NAME DICT SEED_DIR...
fuzz() {
  local name=$1 dict=$2 seeds
  shift 2
  local corpus=build-fuzz/corpus/$name artifacts=build-fuzz/artifacts/$name
  rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts"
  for seeds in "$@"; do
    # The files only: examples/ has folders too (cpu_aot/).
    find "$seeds" -maxdepth 1 -type f -exec cp {} "$corpus"/ \;
  done
  echo "test: fuzzing $name for ${fuzz_seconds}s"
  if ASAN_OPTIONS=allow_user_poisoning=0 \
     ASAN_SYMBOLIZER_PATH="$llvm_prefix/bin/llvm-symbolizer" \
     "build-fuzz/bin/$name" -max_total_time="$fuzz_seconds" -timeout=10 \
       -rss_limit_mb=4096 -dict="$dict" -artifact_prefix="$artifacts/" \
       -print_final_stats=1 "$corpus" >"build-fuzz/$name.log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units)' "build-fuzz/$name.log" || true
    echo "test: $name found nothing"
    passed=$((passed + 1))
  else
    tail -n 60 "build-fuzz/$name.log"
    echo "test: $name found a crash; input in $artifacts/, log in build-fuzz/$name.log"
    failed=$((failed + 1))
  fi
}

if [ "$fuzz_seconds" -gt 0 ] 2>/dev/null; then
  fuzzers=(tmix-frontend-fuzzer tmix-npy-fuzzer tmix-manifest-fuzzer)
  if ! configure build-fuzz -DTMIX_BUILD_FUZZER=ON; then
    echo "test: build-fuzz/ did not configure: see build-fuzz/configure.log"
    failed=$((failed + 1))
  elif ! ninja -C build-fuzz -j"$jobs" "${fuzzers[@]}"; then
    echo "test: the fuzzers did not build"
    failed=$((failed + 1))
  else
    fuzz tmix-frontend-fuzzer test/fuzz/tmix.dict examples test/fuzz/corpus/frontend
    fuzz tmix-npy-fuzzer test/fuzz/npy.dict test/fuzz/corpus/npy
    fuzz tmix-manifest-fuzzer test/fuzz/manifest.dict test/fuzz/corpus/manifest
  fi
fi

for e in "${errors[@]}"; do
  echo "test: error: $e"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "${#errors[@]}" -eq 0 ]
