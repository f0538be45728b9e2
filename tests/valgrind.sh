#!/usr/bin/env bash
# valgrind: one conformance program with depot preloaded, under memcheck.
#
# By default valgrind replaces malloc & co. in every object that exports them
# (libdepot.so included), so depot would not run at all.
# --soname-synonyms=somalloc=nouserintercepts restricts that to libc: the
# program's calls go to depot, and memcheck checks depot's own memory
# accesses.  Expect exit 0 (no crash, no failed check, no memcheck error),
# and depot's exit report (DEPOT_REPORT=1) on stderr, which shows that depot
# really was the allocator.
set -u
lib=$1
prog=$2
command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
vlog=$(mktemp)
err=$(mktemp)
trap 'rm -f "$vlog" "$err"' EXIT
LD_PRELOAD="$lib" DEPOT_REPORT=1 valgrind --error-exitcode=1 --trace-children=no -q \
  --soname-synonyms=somalloc=nouserintercepts --log-file="$vlog" "$prog" 2>"$err"
st=$?
cat "$vlog"
fail=0
if [ $st != 0 ]; then
  echo "CHECK failed: $prog under valgrind with depot preloaded: exit $st"
  grep -m5 'CHECK failed' "$err"
  fail=1
fi
if ! grep -q depot "$err"; then
  echo "CHECK failed: no depot report on stderr: depot was not the allocator under valgrind"
  fail=1
fi
[ $fail = 0 ] && echo "ok: $(basename "$prog") ran on depot under memcheck without errors"
exit $fail
