#!/usr/bin/env bash
# The main job, end to end: set up and build tmix, then check a spec and print its
# spec-level IR. Safe to run from any directory.
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
