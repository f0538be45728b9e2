#!/usr/bin/env bash
# tests/soak.sh - several threads doing random allocation work for SOAK_S
# seconds (default 60) on depot (LD_PRELOAD=build/libdepot.so), contents
# checked, RSS sampled every second; passes if RSS stays flat once the
# working set is reached (max RSS of the second half <= 1.25 x max RSS of
# the first half) and every check held.  tests/soak.c says what it does.
#
#   SOAK_S=600 bash tests/soak.sh
#   SOAK_THREADS=8 SOAK_WS_MB=256 SOAK_PHASE_S=5 SOAK_RATIO=1.25   (defaults 4, 64, 5, 1.25)
#   SOAK_ALLOC=glibc    run the same on glibc (for comparison)
#   SOAK_ALLOC=both     glibc first, then depot (the exit status is depot's)
# The curve is also written to tests/out/soak-<alloc>.txt.
set -u
cd "$(dirname "$0")/.." || exit 2
SOAK_S=${SOAK_S:-60}
ALLOC=${SOAK_ALLOC:-depot}
OUT=tests/out
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/depot-soak.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
CC=${CC:-cc}
if ! $CC -std=gnu11 -O2 -g -Wall -Wextra -pthread tests/soak.c -o "$TMP/soak" 2>"$TMP/build.log"; then
  cat "$TMP/build.log" >&2
  echo "soak: FAIL: cannot build tests/soak.c"
  exit 1
fi
if [ "$ALLOC" != glibc ]; then
  [ -f build/libdepot.so ] || make -s lib >/dev/null || { echo "soak: FAIL: cannot build depot"; exit 1; }
  cp build/libdepot.so "$TMP/libdepot.so" # a snapshot: build/ may be rebuilt meanwhile
fi
run() { # alloc
  local pre=
  [ "$1" = depot ] && pre=$TMP/libdepot.so
  echo "== soak on $1 ($SOAK_S s)"
  timeout -k 10 $((SOAK_S + 120)) env ${pre:+LD_PRELOAD=$pre} "$TMP/soak" "$SOAK_S" 2>&1 | tee "$OUT/soak-$1.txt"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 124 ] && echo "soak: FAIL: timed out"
  [ -n "$pre" ] && grep -m3 '^depot: ' "$OUT/soak-$1.txt" && rc=1
  return "$rc"
}
case "$ALLOC" in
  glibc) run glibc ;;
  both) run glibc; run depot ;;
  *) run depot ;;
esac
