#!/bin/sh
# Runs each test command (a binary, or a quoted command line), prints its output, and sums their
# "N passed, N failed" lines into one closing line, with each command's wall time and a table of the
# slowest at the end. Exits non-zero if anything failed.
pass=0; fail=0; times=""
now() { date +%s.%N; }
for t in "$@"; do
  echo "== $t"
  t0=$(now)
  out=$(sh -c "$t" 2>&1); rc=$?
  dt=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  times="$times$dt	$t
"
  printf '%s\n' "$out"
  echo "-- $dt s: $t"
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -z "$line" ]; then
    echo "!! $t printed no result line (exit $rc)"; p=0; f=1
  else
    p=$(printf '%s\n' "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
    f=$(printf '%s\n' "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then echo "!! $t exited $rc"; f=1; fi
  fi
  pass=$((pass+p)); fail=$((fail+f))
done
echo "== wall time per command (s), slowest first"
printf '%s' "$times" | sort -rn | awk -F '\t' '{ s += $1; printf "%8.1f  %s\n", $1, $2 } END { printf "%8.1f  total\n", s }'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
