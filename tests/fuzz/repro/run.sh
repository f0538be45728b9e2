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
  U="-fsanitize=pointer-overflow,signed-integer-overflow -fno-sanitize-recover=all"
  L=$ROOT/$OUT/ubsan-lib
  mkdir -p "$L"
  # make does not see a change of flags: rebuild when they differ
  [ "$(cat "$L/flags" 2>/dev/null)" = "$U" ] || { rm -f "$L/depot.o" "$L/libdepot.a"; echo "$U" >"$L/flags"; }
  if make -s CC=clang BUILD="$L" EXTRA_CFLAGS="$U" "$L/libdepot.a" >"$OUT/build.log" 2>&1; then
    for t in coalesce_pointer_overflow option_negative_min; do
      if case $t in
           option_negative_min) clang -O1 -g $U -Iinclude -Isrc tests/fuzz/repro/$t.c -o "$OUT/$t" ;;
           *) clang -O1 -g $U tests/fuzz/repro/$t.c "$L/libdepot.a" -lpthread -o "$OUT/$t" ;;
         esac >>"$OUT/build.log" 2>&1; then
        timeout 60 "$OUT/$t" >"$OUT/$t.log" 2>&1
        report $t $? "$OUT/$t.log"
      else
        echo "FAIL build $t: $(tail -3 "$OUT/build.log")"
        open=$((open + 1))
      fi
    done
  else
    echo "FAIL build ubsan depot: $(tail -3 "$OUT/build.log")"
    open=$((open + 1))
  fi
fi
exit $((open > 0))
