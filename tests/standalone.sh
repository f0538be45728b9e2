#!/usr/bin/env bash
# standalone: every src/*.c compiles on its own (the release build includes
# them all into one translation unit, build/unity.c, which hides a file that
# forgot a header).  With the Makefile's warnings as errors, on gcc and, when
# installed, clang.  tests/world's gcc and clang items build each file so.
set -u
cd "$(dirname "$0")/.." || exit 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags="-std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -fPIC -Iinclude -Isrc"
fail=0 n=0
for cc in gcc clang; do
  command -v $cc >/dev/null || { echo "($cc not installed)"; continue; }
  for f in src/*.c; do
    n=$((n + 1))
    if ! $cc $flags -c "$f" -o "$out/x.o" 2>"$out/err"; then
      echo "CHECK failed: $cc cannot compile $f on its own:"
      head -5 "$out/err"
      fail=1
    fi
  done
done
[ $fail = 0 ] && echo "ok: $n compilations of single source files"
exit $fail
