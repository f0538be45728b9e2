#!/usr/bin/env bash
# tests/fuzz/run.sh [--ci] [SECONDS | HARNESS=SECONDS...] - build and run
# depot's libFuzzer harnesses.
#
#   fuzz_alloc    sequences of malloc/calloc/realloc/free/aligned/usable-size/
#                 trim/option/thread hand-off operations against a shadow
#                 model (tests/fuzz/fuzz_alloc.c)
#   fuzz_options  the DEPOT_*/MALLOC_*_ value parser, the environment walk
#                 and depot_option_set/get against a reference
#                 (tests/fuzz/fuzz_options.c)
#
# Each harness runs for SECONDS (default 60) with -max_total_time, one after
# the other (never two at once); HARNESS=SECONDS arguments pick the
# harnesses and give each its own time (fuzz_alloc=45 fuzz_options=15).
# depot is built for it with clang into tests/fuzz/out/lib (prefixed names,
# -fsanitize=fuzzer-no-link,address,undefined), the harnesses with
# -fsanitize=fuzzer,address,undefined, so the fuzzer and ASan keep their
# own malloc.  The committed seeds are in
# tests/fuzz/corpus/<harness>/; the growing corpus is kept in
# tests/fuzz/out/corpus-<harness>/ (not committed) and reused by the next
# run.  A crashing input is saved as tests/fuzz/out/crash-<harness>-*
# (also leak-*, timeout-*, oom-*), and the script exits non-zero.
#
# Environment: FUZZ_TARGETS="fuzz_alloc fuzz_options" picks harnesses,
# FUZZ_ARGS adds libFuzzer flags, FUZZ_SEED fixes libFuzzer's -seed, CLANG
# picks the compiler.
#
# --ci (make ci-fuzz, run by .ci/run): a run that fails only on a finding.
#   - a fixed seed (FUZZ_SEED, default 1), and a fresh corpus that starts
#     from the committed seeds only (tests/fuzz/out/ci/corpus-<harness>,
#     emptied first), so that the run can be repeated;
#   - no clang with libFuzzer, even after trying to install one: SKIP, exit 0;
#   - depot built without -Werror (a clang warning is not a finding), into
#     tests/fuzz/out/ci/lib;
#   - no leak check (depot's memory is not the sanitizer's; a leak could only
#     be the harness's), and no address randomisation (setarch -R), as ASan
#     of clang 14 may not start under a kernel with high mmap entropy.
#   Still a failure: a crash, sanitizer report, timeout or out-of-memory of an
#   input (its input is saved as above), and a tree whose harnesses or depot
#   do not compile.
# To replay one input: tests/fuzz/out/fuzz_alloc FILE (FUZZ_TRACE=1 prints
# its operations).  The bugs found so far have reproducers in
# tests/fuzz/repro/ (bash tests/fuzz/repro/run.sh); docs/RELIABILITY.md
# lists them with the runs and their figures.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
SECS=60
CI=0
NAMED=""
declare -A SECS_OF=()
usage() { echo "usage: $0 [--ci] [SECONDS | HARNESS=SECONDS...]" >&2; exit 2; }
for a in "$@"; do
  case "$a" in
    --ci) CI=1 ;;
    -h | --help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *=*)
      v=${a#*=}
      case "$v" in '' | *[!0-9]*) usage ;; esac
      SECS_OF[${a%%=*}]=$v
      NAMED="$NAMED ${a%%=*}" ;;
    '' | *[!0-9]*) usage ;;
    *) SECS=$a ;;
  esac
done
F=tests/fuzz
OUT=$F/out
mkdir -p "$OUT"
TARGETS=${FUZZ_TARGETS:-${NAMED:-fuzz_alloc fuzz_options}}
CLANG=${CLANG:-}
SEED=${FUZZ_SEED:-}
[ $CI = 1 ] && SEED=${SEED:-1}

# ---- a clang with libFuzzer (Debian: clang + libclang-rt-14-dev)
have_fuzzer() { # compiler
  echo 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}' >"$OUT/probe.c"
  "$1" -fsanitize=fuzzer,address,undefined "$OUT/probe.c" -o "$OUT/probe" >/dev/null 2>&1
}
pick_clang() {
  for c in $CLANG clang clang-14 clang-15 clang-16; do
    command -v "$c" >/dev/null 2>&1 && have_fuzzer "$c" && { CLANG=$c; return 0; }
  done
  return 1
}
if ! pick_clang; then
  echo "fuzz: no clang with libFuzzer; installing clang and libclang-rt-14-dev" >&2
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq >/dev/null 2>&1
  timeout 600 apt-get install -y -qq clang libclang-rt-14-dev >/dev/null 2>&1
  if ! pick_clang; then
    if [ $CI = 1 ]; then
      echo "SKIP fuzz: no clang with -fsanitize=fuzzer could be found or installed (not a finding)"
      exit 0
    fi
    echo "fuzz: FAIL: no clang with -fsanitize=fuzzer could be found or installed" >&2
    exit 1
  fi
fi
rm -f "$OUT/probe.c" "$OUT/probe"

# ---- build depot (instrumented, prefixed) and the harnesses
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
LIB=$ROOT/$OUT/lib
[ $CI = 1 ] && LIB=$ROOT/$OUT/ci/lib
LIBFLAGS="-DDEPOT_PREFIX=1 -fsanitize=fuzzer-no-link $SAN"
[ $CI = 1 ] && LIBFLAGS="$LIBFLAGS -Wno-error"
# make does not see a change of flags: rebuild when they differ from last time
mkdir -p "$LIB"
if [ "$(cat "$LIB/flags" 2>/dev/null)" != "$CLANG $LIBFLAGS" ]; then
  rm -f "$LIB/depot.o" "$LIB/libdepot.a"
  echo "$CLANG $LIBFLAGS" >"$LIB/flags"
fi
echo "fuzz: building depot with $CLANG into ${LIB#$ROOT/}"
if ! make -s CC="$CLANG" BUILD="$LIB" EXTRA_CFLAGS="$LIBFLAGS" "$LIB/libdepot.a" >"$OUT/build.log" 2>&1; then
  cat "$OUT/build.log" >&2
  echo "fuzz: FAIL: building depot" >&2
  exit 1
fi
HFLAGS="-g -O1 -std=gnu11 -fsanitize=fuzzer $SAN -Iinclude -Isrc -Wall -Wextra"
build_harness() { # name
  case "$1" in
    fuzz_alloc) $CLANG $HFLAGS $F/fuzz_alloc.c "$LIB/libdepot.a" -lpthread -o "$OUT/fuzz_alloc" ;;
    fuzz_options) $CLANG $HFLAGS -DDEPOT_PREFIX=1 $F/fuzz_options.c -o "$OUT/fuzz_options" ;;
    *) echo "unknown harness $1" >&2; return 1 ;;
  esac
}

# no address randomisation in CI (see --ci above), where setarch can do it
NOASLR=""
if [ $CI = 1 ] && setarch "$(uname -m)" -R true >/dev/null 2>&1; then NOASLR="setarch $(uname -m) -R"; fi
LEAKS=1
[ $CI = 1 ] && LEAKS=0

status=0
summary=()
for t in $TARGETS; do
  if ! build_harness "$t" >"$OUT/build-$t.log" 2>&1; then
    cat "$OUT/build-$t.log" >&2
    echo "fuzz: FAIL: building $t" >&2
    status=1
    summary+=("$t: build failed")
    continue
  fi
  name=${t#fuzz_}
  secs=${SECS_OF[$t]:-$SECS}
  corpus=$OUT/corpus-$name
  if [ $CI = 1 ]; then
    corpus=$OUT/ci/corpus-$name
    rm -rf "$corpus"
  fi
  mkdir -p "$corpus"
  case $t in
    fuzz_alloc) limits="-max_len=4096 -timeout=20 -rss_limit_mb=4096" ;;
    *) limits="-max_len=512 -timeout=10" ;;
  esac
  log=$OUT/$t.log
  [ $CI = 1 ] && log=$OUT/ci/$t.log
  echo "fuzz: running $t for ${secs}s${SEED:+ with -seed=$SEED} (log: $log)"
  # the seeds are read but never written: new inputs go to $corpus
  # shellcheck disable=SC2086
  ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=$LEAKS} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    timeout -k 10 $((secs + 300)) $NOASLR "$OUT/$t" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$OUT/crash-$name-" -detect_leaks=$LEAKS ${SEED:+-seed=$SEED} $limits ${FUZZ_ARGS:-} \
    "$corpus" "$F/corpus/$name" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p')
  echo "  last status line: $last"
  line="$t: ${runs:-?} execs in ${secs}s (${rate:-?}/s), cov ${cov:-?} edges, ft ${ft:-?}, corpus ${corp:-?} (+${new:-?} new), peak RSS ${rss:-?} MB"
  if [ $rc -ne 0 ]; then
    status=1
    art=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //')
    echo "FAIL $line: exit $rc; input saved: ${art:-none}"
    [ -n "$art" ] && echo "    replay: $OUT/$t $art   (FUZZ_TRACE=1 for fuzz_alloc's operations)"
    grep -E 'CHECK FAILED|ERROR: AddressSanitizer|runtime error|ERROR: libFuzzer|SUMMARY' "$log" | head -8 | sed 's/^/    /'
    summary+=("FAIL $line; crash input ${art:-none}")
  else
    echo "PASS $line"
    summary+=("PASS $line")
  fi
done
echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit $status
