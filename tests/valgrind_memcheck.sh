#!/usr/bin/env bash
# valgrind_memcheck: memcheck finds a program's bugs while it runs on depot.
# depot announces its blocks to memcheck (src/vg.h), so with valgrind told
# not to replace depot's malloc (--soname-synonyms=somalloc=nouserintercepts)
# memcheck must still report the leak, the read after free and the overflow
# of tests/vg_faults.c, and nothing inside depot itself.
set -u
lib=$1
prog=$2
command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
LD_PRELOAD="$lib" DEPOT_REPORT=1 valgrind --leak-check=full --soname-synonyms=somalloc=nouserintercepts \
  --log-file="$log" "$prog" >/dev/null 2>&1
fail=0
want() {
  if grep -q "$1" "$log"; then echo "ok: memcheck reported: $2"; else echo "CHECK failed: memcheck did not report $2"; fail=1; fi
}
want "definitely lost: 10[0-9] bytes in 1 blocks" "the 100-byte leak"
want "Invalid read of size 1" "the read after free"
want "Invalid write of size 1" "the write past the usable size"
# every error must be the program's: its first frame is in vg_faults.c
bad=$(awk '/(Invalid (read|write)|uninitialised|Conditional jump)/ {want=1; next}
           want && /^==[0-9]+==    at / { if ($0 !~ /vg_faults\.c/) print; want=0 }' "$log")
if [ -n "$bad" ]; then
  echo "CHECK failed: memcheck reported an error inside depot:"
  echo "$bad"
  fail=1
fi
[ $fail = 0 ] && echo "ok: memcheck saw the leak, the use after free and the overflow, and nothing in depot"
exit $fail
