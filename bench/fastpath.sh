#!/usr/bin/env bash
# bench/fastpath.sh [lib.so]: instructions per call of malloc's and free's
# fast paths, counted by callgrind (repeatable, whatever the machine's load)
# on bench/harness/fastpath.c: 8M mallocs and 8M frees of 16-72 bytes
# served by the thread cache.  Prints one line per function and thread.
set -eu
cd "$(dirname "$0")/.."
lib=${1:-$PWD/build/libdepot.so}
command -v valgrind >/dev/null || { echo "fastpath: valgrind not installed" >&2; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -O2 -pthread -o "$out/fastpath" bench/harness/fastpath.c
# self cost of the exported entry points, helpers inlined from any file
# included: callgrind files inlined code under the header it came from
# (chunk.h:free, tcache.h:free), so every file's line for the function adds
# up (taking only api.c's line left out 8-13 instructions of free's).
# free_mapped (the pagemap path, where the header cannot vouch) counts as
# part of free.  Twice: in the main thread (the brk heap) and in a second thread (an
# arena of mmap'd segments).
for mode in main thread; do
  LD_PRELOAD=$lib valgrind --tool=callgrind --callgrind-out-file="$out/cg.$mode" \
    "$out/fastpath" 1000000 $mode >/dev/null 2>"$out/log"
  callgrind_annotate "$out/cg.$mode" 2>/dev/null |
    awk -v calls=8000000 -v mode="$mode" '
      function count(s) { gsub(",", "", s); return s + 0 }
      /[:]malloc( [[]|$)/ { m += count($1) }
      /[:]free(_mapped)?( [[]|$)/ { f += count($1) }
      END {
        tag = mode == "main" ? "" : " (thread)"
        printf "malloc%s: %d instructions in all, %.1f a call\n", tag, m, m / calls
        printf "free%s:   %d instructions in all, %.1f a call\n", tag, f, f / calls
      }'
done
