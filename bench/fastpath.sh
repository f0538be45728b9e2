#!/usr/bin/env bash
# bench/fastpath.sh [lib.so]: instructions per call of malloc's and free's
# fast paths, counted by callgrind (repeatable, whatever the machine's load)
# on bench/harness/fastpath.c: 8M mallocs and 8M frees of 16-72 bytes
# served by the thread cache.  Prints one line per function.
set -eu
cd "$(dirname "$0")/.."
lib=${1:-$PWD/build/libdepot.so}
command -v valgrind >/dev/null || { echo "fastpath: valgrind not installed" >&2; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -O2 -o "$out/fastpath" bench/harness/fastpath.c
LD_PRELOAD=$lib valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$out/fastpath" 1000000 \
  >/dev/null 2>"$out/log"
# self cost of the exported entry points, inlined helpers included
callgrind_annotate --inclusive=yes "$out/cg" 2>/dev/null |
  awk -v calls=8000000 '
    /[:]malloc [[]/ && !m { gsub(",", "", $1); m = $1 }
    /[:]free [[]/ && !f { gsub(",", "", $1); f = $1 }
    END {
      printf "malloc: %d instructions in all, %.1f a call\n", m, m / calls
      printf "free:   %d instructions in all, %.1f a call\n", f, f / calls
    }'
