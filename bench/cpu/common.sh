# Helpers of the CPU benchmark scripts (sourced, not run).

# The median of the numbers on stdin (separated by spaces or newlines).
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The machine and the time, for the table's header.
machine_line() {
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date -u '+%F %H:%M')"
}

# interleave ROUNDS A B: runs the commands A and B (each prints a time) ROUNDS times back
# to back, alternating which goes first so that drift in the machine's load cancels;
# prints the medians over rounds of A's times, of B's and of the per-round B / A.
interleave() {
  local rounds=$1 first=$2 second=$3 as="" bs="" ratios="" a b round
  for ((round = 0; round < rounds; round++)); do
    if ((round % 2 == 0)); then
      a=$($first); b=$($second)
    else
      b=$($second); a=$($first)
    fi
    as+=" $a" bs+=" $b" ratios+=" $(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')"
  done
  echo "$(median <<<"$as") $(median <<<"$bs") $(median <<<"$ratios")"
}
