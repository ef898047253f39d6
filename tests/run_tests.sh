#!/bin/sh
# Runs each test binary, prints its output, and sums their "N passed, N failed" lines into one.
pass=0; fail=0; broken=0
for t in "$@"; do
  echo "== $t"
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  p=$(printf '%s\n' "$line" | sed -E 's/.* ?([0-9]+) passed, ([0-9]+) failed.*/\1/')
  f=$(printf '%s\n' "$line" | sed -E 's/.* ?([0-9]+) passed, ([0-9]+) failed.*/\2/')
  if [ -z "$line" ]; then echo "!! $t printed no result line (exit $rc)"; broken=$((broken+1)); p=0; f=1; fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then echo "!! $t exited $rc"; f=1; fi
  pass=$((pass+p)); fail=$((fail+f))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
