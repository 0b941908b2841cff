#!/usr/bin/env bash
# Runs every tmix test: sets up and builds, runs the lit suites (check-tmix), and when
# TMIX_FUZZ_SECONDS is set, fuzzes the frontend for that many seconds. Ends with one line
# `N passed, M failed` (lit's tests, plus the fuzzing run as one test); exits non-zero on
# any failure, on a lit or build error, or when no test ran. Safe from any directory.
#
# Environment: TMIX_JOBS (parallel build jobs, default 2), TMIX_FUZZ_SECONDS (unset or 0:
# no fuzzing).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

llvm_prefix=/usr/lib/llvm-22
jobs=${TMIX_JOBS:-2}
fuzz_seconds=${TMIX_FUZZ_SECONDS:-0}

tools/setup.sh

# ---- lit suites ----
mkdir -p build
log=build/check-tmix.log
set +e
ninja -C build -j"$jobs" check-tmix 2>&1 | tee "$log"
lit_status=${PIPESTATUS[0]}
set -e

# Sums the counts of lit's summary lines (`  Passed: 12 (80.00%)`) for the given labels.
count() {
  local total=0 label n
  for label in "$@"; do
    n=$(sed -nE "s/^  ${label} *: +([0-9]+) \(.*$/\1/p" "$log" | tail -n 1)
    total=$((total + ${n:-0}))
  done
  echo "$total"
}

passed=$(count 'Passed' 'Passed With Retry' 'Expectedly Failed')
failed=$(count 'Failed' 'Unresolved' 'Timed Out' 'Unexpectedly Passed')
skipped=$(count 'Unsupported' 'Skipped' 'Excluded')
discovered=$(sed -nE 's/^Total Discovered Tests: ([0-9]+).*$/\1/p' "$log" | tail -n 1)

errors=()
if [ -z "$discovered" ]; then
  errors+=("lit did not run (build error?): see $log")
elif [ "$((passed + failed))" -eq 0 ]; then
  errors+=("no test ran ($skipped unsupported or skipped)")
fi
if [ "$lit_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  errors+=("ninja check-tmix exited with status $lit_status")
fi

# ---- frontend fuzzing ----
if [ "$fuzz_seconds" -gt 0 ] 2>/dev/null; then
  fuzzer=build-fuzz/bin/tmix-frontend-fuzzer
  if [ ! -f build-fuzz/build.ninja ]; then
    echo "test: configuring build-fuzz/"
    cmake -G Ninja -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
      -DMLIR_DIR="$llvm_prefix/lib/cmake/mlir" \
      -DLLVM_EXTERNAL_LIT="$llvm_prefix/bin/lit" \
      -DTMIX_BUILD_FUZZER=ON || true
  fi
  if [ ! -f build-fuzz/build.ninja ]; then
    echo "test: build-fuzz/ did not configure"
    failed=$((failed + 1))
  elif ! ninja -C build-fuzz -j"$jobs" tmix-frontend-fuzzer; then
    echo "test: the fuzzer did not build"
    failed=$((failed + 1))
  else
    # A fresh copy of the seed corpus (the examples); libFuzzer adds to it as it runs.
    corpus=build-fuzz/corpus
    artifacts=build-fuzz/artifacts
    rm -rf "$corpus"
    mkdir -p "$corpus" "$artifacts"
    cp examples/*.tmix "$corpus"/
    echo "test: fuzzing the frontend for ${fuzz_seconds}s"
    if ASAN_SYMBOLIZER_PATH="$llvm_prefix/bin/llvm-symbolizer" \
       "$fuzzer" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=4096 \
         -dict=test/fuzz/tmix.dict -artifact_prefix="$artifacts/" -print_final_stats=1 \
         "$corpus" >build-fuzz/fuzz.log 2>&1; then
      grep -E '^(Done|stat::)' build-fuzz/fuzz.log || true
      echo "test: fuzzing found nothing"
      passed=$((passed + 1))
    else
      tail -n 60 build-fuzz/fuzz.log
      echo "test: the fuzzer found a crash; input in $artifacts/, log in build-fuzz/fuzz.log"
      failed=$((failed + 1))
    fi
  fi
fi

for e in "${errors[@]}"; do
  echo "test: error: $e"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "${#errors[@]}" -eq 0 ]
