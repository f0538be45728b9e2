#!/usr/bin/env bash
# tests/fuzz/repro/run.sh - run the reproducers of the depot bugs the
# fuzzers and tests/world found (docs/RELIABILITY.md).  Prints FIXED or OPEN for each and
# exits non-zero while any is open.  Uses build/libdepot.so (make) and, for
# the UBSan one, builds depot with clang into tests/fuzz/out/repro-ubsan.
set -u
cd "$(dirname "$0")/../../.." || exit 2
ROOT=$PWD
OUT=tests/fuzz/out/repro
mkdir -p "$OUT"
LIB=$ROOT/build/libdepot.so
[ -f "$LIB" ] || make -s lib >/dev/null || exit 2
open=0
report() { # name rc log
  if [ "$2" = 0 ]; then echo "FIXED $1"; else echo "OPEN  $1 (exit $2): $(tr '\n' ' ' <"$3" | head -c 300)"; open=$((open + 1)); fi
}
for t in free_trim_neighbour parse_no_digits calloc_key_quadratic_free; do
  cc -O1 -g tests/fuzz/repro/$t.c -o "$OUT/$t" -ldl || { echo "FAIL build $t"; open=$((open + 1)); continue; }
  LD_PRELOAD=$LIB timeout 60 "$OUT/$t" >"$OUT/$t.log" 2>&1
  report "$t" $? "$OUT/$t.log"
done
if command -v clang >/dev/null; then
  U="-fsanitize=pointer-overflow -fno-sanitize-recover=all"
  if make -s CC=clang BUILD="$ROOT/$OUT/ubsan-lib" EXTRA_CFLAGS="$U" "$ROOT/$OUT/ubsan-lib/libdepot.a" >"$OUT/build.log" 2>&1 &&
     clang -O1 -g $U tests/fuzz/repro/coalesce_pointer_overflow.c "$OUT/ubsan-lib/libdepot.a" -lpthread \
       -o "$OUT/coalesce_pointer_overflow" >>"$OUT/build.log" 2>&1; then
    timeout 60 "$OUT/coalesce_pointer_overflow" >"$OUT/coalesce_pointer_overflow.log" 2>&1
    report coalesce_pointer_overflow $? "$OUT/coalesce_pointer_overflow.log"
  else
    echo "FAIL build coalesce_pointer_overflow: $(tail -3 "$OUT/build.log")"
    open=$((open + 1))
  fi
fi
exit $((open > 0))
