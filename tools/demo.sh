#!/usr/bin/env bash
# The main job, end to end: set up and build tmix, then compile a spec for the CPU, run
# it on random inputs at awkward sizes, check it against the float64 reference and time
# it. Safe to run from any directory.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools/setup.sh

tmixc=build/bin/tmixc
spec=examples/swa_alibi.tmix

# Echoes a command, then runs it.
step() {
  echo
  echo "\$ $*"
  "$@"
}

echo
echo "demo: the spec ($spec):"
cat "$spec"

step "$tmixc" check "$spec"
echo "demo: $spec parses and verifies"

step "$tmixc" emit "$spec" --stage=spec

# GQA (8 query heads over 2 KV heads), a length that is no multiple of any tile, a window
# narrower than the sequence.
step "$tmixc" run "$spec" --sizes=B=1,H=8,HK=2,N=1000 --set=window=256 --check --bench
