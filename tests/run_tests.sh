#!/bin/sh
# Runs each test command (a binary, or a quoted command line), prints its output, and sums their
# "N passed, N failed" lines into one closing line. Exits non-zero if anything failed.
pass=0; fail=0
for t in "$@"; do
  echo "== $t"
  out=$(sh -c "$t" 2>&1); rc=$?
  printf '%s\n' "$out"
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
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
