#!/usr/bin/env bash
# tests/run.sh - depot's test suite.
#
#   bash tests/run.sh [--glibc] [-v] [-j N] [PATTERN...]
#
# Builds the test programs into tests/out/ and runs each one, printing one
# line per test:
#     PASS name | FAIL name (reason) | SKIP name (reason)
# and at the end exactly one line "N passed, N failed, N skipped".  The exit
# status is non-zero when a test failed.
#
# A C test runs in several ways, each a test of its own:
#     name/preload   plain program, LD_PRELOAD=build/libdepot.so
#     name/static    linked with build/libdepot.a (cc t.c build/libdepot.a)
#     name/asan      -fsanitize=address,undefined, linked with the prefixed
#                    build/prefix/libdepot.a (make prefix), tests/depot_prefix.h
#     name/tsan      -fsanitize=thread, linked with a prefixed depot built with
#                    -fsanitize=thread (into tests/out/tsan-lib)
#     name/glibc     plain program on glibc (only without build/libdepot.so,
#                    or with --glibc: to check the tests themselves)
# plus the script tests (exports, each src/*.c compiled on its own, a C++
# program linked with libdepot.a, real programs) and a valgrind run.
#
# --glibc     run against glibc even if depot is built; depot-specific tests
#             (misuse, depot_api, depot_env, exports, ...) are skipped
# -v          print the log of every failed test after its line
# PATTERN     run only the tests whose name contains one of the patterns
#
# Nothing here depends on timing; each test has a generous timeout
# (TEST_TIMEOUT, default 180 s) only so that a hang (deadlock) fails instead
# of blocking the suite.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
OUT=tests/out
LOGS=$OUT/logs
mkdir -p "$OUT" "$LOGS"

CC=${CC:-cc}
TEST_TIMEOUT=${TEST_TIMEOUT:-180}
JOBS=$(nproc 2>/dev/null || echo 2)
MODE=auto
VERBOSE=0
PATTERNS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --glibc) MODE=glibc ;;
    -v) VERBOSE=1 ;;
    -j) shift; JOBS=$1 ;;
    -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) PATTERNS+=("$1") ;;
  esac
  shift
done

LIB_SO=$ROOT/build/libdepot.so
LIB_A=$ROOT/build/libdepot.a
PREFIX_A=$ROOT/build/prefix/libdepot.a
TSAN_DIR=$OUT/tsan-lib
TSAN_A=$ROOT/$TSAN_DIR/libdepot.a
if [ $MODE = auto ]; then
  if [ -f "$LIB_SO" ]; then MODE=depot; else MODE=glibc; fi
fi
# Work on a snapshot of the libraries (tests/out/lib), so that a rebuild in
# build/ while the suite runs cannot hand a half-written library to a test.
snapshot() { # file -> path of its copy
  local dst=$ROOT/$OUT/lib/$(basename "$(dirname "$1")")-$(basename "$1")
  mkdir -p "$ROOT/$OUT/lib"
  if [ -f "$1" ] && ! cmp -s "$1" "$dst"; then cp -p "$1" "$dst.tmp" && mv -f "$dst.tmp" "$dst"; fi
  echo "$dst"
}
if [ $MODE = depot ]; then
  LIB_SO=$(snapshot "$LIB_SO")
  [ -f "$LIB_A" ] && LIB_A=$(snapshot "$LIB_A")
fi
if [ $MODE = glibc ]; then
  echo "note: running against glibc (no depot): depot-specific tests are skipped" >&2
fi

# --------------------------------------------------------------- the tests
API_TESTS="api_malloc api_calloc api_realloc api_align api_mallopt api_mallinfo api_introspect api_aliases api_stress"
SEED_TESTS="seed_heap seed_mmap seed_threshold seed_trim seed_reuse seed_coalesce seed_scatter seed_lazy seed_perturb seed_brk_blocked seed_oom"
THREAD_TESTS="thread_xfree thread_churn thread_exit thread_fork thread_signal thread_lifecycle"
# fork from a signal handler (no sanitizer variants: their runtimes'
# own fork handling is not what is tested)
SIGNAL_TESTS="signal_fork"
# tests that dlopen tests/<name>'s library (LIB_OF), built beside them in $OUT
# as <lib>.so, <lib>.asan.so, <lib>.tsan.so
DLOPEN_TESTS="dlopen_ctor"
declare -A LIB_OF=([dlopen_ctor]=dlopen_lib)
DEPOT_TESTS="misuse depot_api depot_env thread_arena_run arena_consolidate"
VALGRIND_TEST=api_realloc

CFLAGS_BASE="-std=gnu11 -O1 -g -pthread -Iinclude -Itests -fno-builtin -Wall -Wno-deprecated-declarations -Wno-use-after-free -Wno-free-nonheap-object -Wno-alloc-size-larger-than"
SAN_ASAN="-DDEPOT_PREFIX_TEST -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
SAN_TSAN="-DDEPOT_PREFIX_TEST -fsanitize=thread"

selected() {
  [ ${#PATTERNS[@]} -eq 0 ] && return 0
  local p
  for p in "${PATTERNS[@]}"; do
    case "$1" in *"$p"*) return 0 ;; esac
  done
  return 1
}

# ---------------------------------------------------------------- results
NPASS=0
NFAIL=0
NSKIP=0
pass() { echo "PASS $1"; NPASS=$((NPASS + 1)); }
skip() { echo "SKIP $1 ($2)"; NSKIP=$((NSKIP + 1)); }
fail() {
  echo "FAIL $1 ($2)"
  NFAIL=$((NFAIL + 1))
  if [ $VERBOSE = 1 ] && [ -n "${3:-}" ] && [ -f "$3" ]; then
    sed 's/^/    | /' "$3" | tail -n 60
  fi
}

# The reason for a failure, from a log: the first failed check (and its
# detail line), else the last line.
reason_from_log() {
  local log=$1 st=$2 r n
  if grep -q 'WARNING: ThreadSanitizer' "$log" 2>/dev/null; then
    # the two racing accesses (their innermost frames), and how many reports
    n=$(grep -c 'WARNING: ThreadSanitizer' "$log")
    r="$n ThreadSanitizer report(s), first: $(grep -m1 -o 'ThreadSanitizer: [a-z -]*[a-z]' "$log"):"
    r="$r $(awk '/WARNING: ThreadSanitizer/ {w = 1; next}
                 w && /^ *#0 / {sub(/^ *#0 /, ""); sub(/ \(.*\+0x[0-9a-f]+\)$/, ""); printf "%s%s", (k++ ? " vs " : ""), $0; if (k == 2) exit}' "$log")"
    r=$(echo "$r" | cut -c1-300)
  else
    r=$(grep -m1 -A1 -E 'CHECK failed|AddressSanitizer|runtime error|ERROR SUMMARY: [1-9]' "$log" 2>/dev/null |
        tr '\n' ' ' | sed 's/  */ /g' | cut -c1-300)
  fi
  [ -z "$r" ] && r=$(grep -v '^\s*$' "$log" 2>/dev/null | tail -n 1 | cut -c1-200)
  case $st in
    124|137) echo "timed out after ${TEST_TIMEOUT}s: hang? ${r}; log: $log" ;;
    *) if [ "$st" -gt 128 ]; then
         echo "killed by signal $((st - 128)) ($(kill -l $((st - 128)) 2>/dev/null)); ${r}; log: $log"
       else
         echo "exit $st: ${r}; log: $log"
       fi ;;
  esac
}

# run NAME LOG CMD...: run a test command, record its result
run_test() {
  local name=$1 log=$2
  shift 2
  local t0=$SECONDS
  timeout -k 10 "$TEST_TIMEOUT" "$@" >"$log" 2>&1 </dev/null
  local st=$?
  echo "$((SECONDS - t0)) $name" >>"$OUT/durations.txt" # informational only
  if [ $st = 0 ]; then
    pass "$name"
  elif [ $st = 77 ]; then
    skip "$name" "$(grep -m1 '^SKIP: ' "$log" | sed 's/^SKIP: //' | cut -c1-200)"
  else
    fail "$name" "$(reason_from_log "$log" $st)" "$log"
  fi
}

# ----------------------------------------------------------------- builds
# Compile commands are collected, then run JOBS at a time.  A failed build
# leaves no binary; the test then fails with "build failed".
BUILD_CMDS=$OUT/build-cmds.txt
: >"$BUILD_CMDS"
declare -A QUEUED=()
add_build_libs() { # out src "flags" "libs"
  local out=$1 src=$2 flags=$3 libs=$4 dep
  [ -n "${QUEUED[$out]:-}" ] && return
  QUEUED[$out]=1
  # up to date: newer than its source, the shared headers and the library
  if [ -x "$out" ]; then
    local stale=0
    for dep in "$src" tests/common.h tests/depot_prefix.h include/depot.h tests/run.sh $libs; do
      case "$dep" in -*) continue ;; esac
      [ "$dep" -nt "$out" ] && stale=1
    done
    [ $stale = 0 ] && return
  fi
  rm -f "$out"
  printf '%s\n' "$CC $CFLAGS_BASE $flags -o $out $src $libs >$LOGS/build-$(basename "$out").log 2>&1 || rm -f $out" >>"$BUILD_CMDS"
}

ALL_C="$API_TESTS $SEED_TESTS $THREAD_TESTS $SIGNAL_TESTS $DLOPEN_TESTS $DEPOT_TESTS"

# the shared library a dlopen test loads, built for a variant
add_test_lib() { # test variant
  local lib=${LIB_OF[$1]:-}
  [ -n "$lib" ] || return 0
  case $2 in
    preload|static|glibc) add_build_libs "$OUT/$lib.so" "tests/$lib.c" "-shared -fPIC" "" ;;
    asan) add_build_libs "$OUT/$lib.asan.so" "tests/$lib.c" "$SAN_ASAN -shared -fPIC" "" ;;
    tsan) add_build_libs "$OUT/$lib.tsan.so" "tests/$lib.c" "$SAN_TSAN -shared -fPIC" "" ;;
  esac
}

want_variant() { # test variant
  selected "$1/$2"
}

# which variants exist for a C test
variants_of() {
  local t=$1 v="preload static"
  case " $API_TESTS $THREAD_TESTS $DLOPEN_TESTS " in *" $t "*) v="$v asan" ;; esac
  case " $THREAD_TESTS $DLOPEN_TESTS " in *" $t "*) v="$v tsan" ;; esac
  [ $MODE = glibc ] && v="glibc"
  echo "$v"
}

NEED_PREFIX=0
NEED_TSAN=0
for t in $ALL_C; do
  for v in $(variants_of $t); do
    want_variant $t $v || continue
    case $v in preload|static|glibc) add_test_lib $t $v ;; esac
    case $v in
      preload|glibc) add_build_libs "$OUT/$t" "tests/$t.c" "" "-ldl" ;;
      static) [ -f "$LIB_A" ] && add_build_libs "$OUT/$t.static" "tests/$t.c" "-rdynamic" "$LIB_A -lpthread -ldl" ;;
      asan) NEED_PREFIX=1 ;;
      tsan) NEED_TSAN=1 ;;
    esac
  done
done
selected valgrind/preload && [ $MODE = depot ] && add_build_libs "$OUT/$VALGRIND_TEST" "tests/$VALGRIND_TEST.c" "" "-ldl"
selected valgrind/memcheck && [ $MODE = depot ] && add_build_libs "$OUT/vg_faults" "tests/vg_faults.c" "" ""

# The prefixed libraries (for the sanitizer builds).
PREFIX_OK=0
PREFIX_WHY=""
TSAN_OK=0
TSAN_WHY=""
if [ $MODE = depot ] && [ $NEED_PREFIX = 1 ]; then
  make -s prefix >"$LOGS/make-prefix.log" 2>&1
  # a build/prefix left instrumented (make prefix PREFIX_CFLAGS=-fsanitize=...)
  # is up to date for make but useless here: rebuild it plain
  if [ -f "$PREFIX_A" ] && nm "$PREFIX_A" 2>/dev/null | grep -qE '__(tsan|asan)_'; then
    make -s -B prefix >>"$LOGS/make-prefix.log" 2>&1
  fi
  if [ -f "$PREFIX_A" ] && nm "$PREFIX_A" 2>/dev/null | grep -q ' T depot_malloc$'; then
    PREFIX_OK=1
    PREFIX_A=$(snapshot "$PREFIX_A")
  else
    PREFIX_WHY="make prefix failed: $(grep -m1 -iE 'error|No rule' "$LOGS/make-prefix.log" | cut -c1-150); log: $LOGS/make-prefix.log"
  fi
fi
if [ $MODE = depot ] && [ $NEED_TSAN = 1 ]; then
  # A separate BUILD directory, so that build/prefix (uninstrumented, for
  # ASan) is left alone; same recipe as 'make prefix PREFIX_CFLAGS=-fsanitize=thread'.
  if make -s BUILD="$TSAN_DIR" EXTRA_CFLAGS="-DDEPOT_PREFIX=1 -fsanitize=thread" \
       "$TSAN_DIR/libdepot.a" >"$LOGS/make-tsan.log" 2>&1 && [ -f "$TSAN_A" ]; then
    TSAN_OK=1
  else
    TSAN_WHY="building depot with -fsanitize=thread failed: $(grep -m1 -iE 'error|No rule' "$LOGS/make-tsan.log" | cut -c1-150); log: $LOGS/make-tsan.log"
  fi
fi
for t in $ALL_C; do
  for v in $(variants_of $t); do
    want_variant $t $v || continue
    case $v in
      asan) [ $PREFIX_OK = 1 ] && add_test_lib $t asan ;;
      tsan) [ $TSAN_OK = 1 ] && add_test_lib $t tsan ;;
    esac
    case $v in
      asan) [ $PREFIX_OK = 1 ] && add_build_libs "$OUT/$t.asan" "tests/$t.c" "$SAN_ASAN -rdynamic" "$PREFIX_A -lpthread -ldl" ;;
      tsan) [ $TSAN_OK = 1 ] && add_build_libs "$OUT/$t.tsan" "tests/$t.c" "$SAN_TSAN -rdynamic" "$TSAN_A -lpthread -ldl" ;;
    esac
  done
done

# a small job pool; the final wait collects every compile
running=0
while IFS= read -r cmd; do
  sh -c "$cmd" &
  running=$((running + 1))
  if [ $running -ge "$JOBS" ]; then
    wait -n
    running=$((running - 1))
  fi
done <"$BUILD_CMDS"
wait

build_failed() { # binary
  local log="$LOGS/build-$(basename "$1").log"
  echo "build failed: $(grep -m1 -E 'error' "$log" | cut -c1-200); log: $log"
}

# ------------------------------------------------------------------- run
: >"$OUT/durations.txt"
# Sanitizer options: abort on the first report, no leak check (the test
# programs deliberately keep blocks alive at exit).
export ASAN_OPTIONS="abort_on_error=0:detect_leaks=0:halt_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# TSan: every report is logged (the run goes on), the exit status is 66 if any.
export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:report_signal_unsafe=0"

# TSan maps its shadow at fixed addresses; with a large mmap randomisation
# (newer kernels) it can fail to start.  Without ASLR it always can.
NOASLR=""
setarch "$(uname -m)" -R true >/dev/null 2>&1 && NOASLR="setarch $(uname -m) -R"

for t in $ALL_C; do
  is_depot_test=0
  case " $DEPOT_TESTS " in *" $t "*) is_depot_test=1 ;; esac
  for v in $(variants_of $t); do
    name="$t/$v"
    want_variant $t $v || continue
    log="$LOGS/$t.$v.log"
    case $v in
      glibc)
        if [ $is_depot_test = 1 ]; then skip "$name" "depot-specific; running against glibc"; continue; fi
        if [ -x "$OUT/$t" ]; then run_test "$name" "$log" "$OUT/$t"; else fail "$name" "$(build_failed "$OUT/$t")"; fi ;;
      preload)
        if [ -x "$OUT/$t" ]; then run_test "$name" "$log" env LD_PRELOAD="$LIB_SO" "$OUT/$t"; else fail "$name" "$(build_failed "$OUT/$t")"; fi ;;
      static)
        if [ ! -f "$LIB_A" ]; then skip "$name" "build/libdepot.a missing"; continue; fi
        if [ -x "$OUT/$t.static" ]; then run_test "$name" "$log" "$OUT/$t.static"; else fail "$name" "$(build_failed "$OUT/$t.static")"; fi ;;
      asan)
        if [ $PREFIX_OK != 1 ]; then skip "$name" "$PREFIX_WHY"; continue; fi
        if [ -x "$OUT/$t.asan" ]; then run_test "$name" "$log" "$OUT/$t.asan"; else fail "$name" "$(build_failed "$OUT/$t.asan")"; fi ;;
      tsan)
        if [ $TSAN_OK != 1 ]; then skip "$name" "$TSAN_WHY"; continue; fi
        if [ -x "$OUT/$t.tsan" ]; then run_test "$name" "$log" $NOASLR "$OUT/$t.tsan"; else fail "$name" "$(build_failed "$OUT/$t.tsan")"; fi ;;
    esac
  done
done

# ---------------------------------------------------------- script tests
if selected exports; then
  if [ $MODE = depot ]; then
    run_test exports "$LOGS/exports.log" bash tests/exports.sh "$LIB_SO"
  else
    skip exports "depot-specific; running against glibc"
  fi
fi

if selected standalone; then
  if [ $MODE = depot ]; then
    run_test standalone "$LOGS/standalone.log" bash tests/standalone.sh
  else
    skip standalone "depot-specific; running against glibc"
  fi
fi

if selected link_cxx; then
  if [ $MODE = depot ] && [ -f "$LIB_A" ]; then
    run_test link_cxx "$LOGS/link_cxx.log" bash tests/link_cxx.sh "$LIB_A"
  else
    skip link_cxx "needs depot (build/libdepot.a)"
  fi
fi

if selected real_programs; then
  if [ $MODE = depot ]; then
    run_test real_programs "$LOGS/real_programs.log" bash tests/real_programs.sh "$LIB_SO"
  else
    skip real_programs "needs depot (build/libdepot.so) to compare with glibc"
  fi
fi

if selected valgrind; then
  name=valgrind/preload
  if [ $MODE != depot ]; then
    skip $name "needs depot (build/libdepot.so)"
  elif ! command -v valgrind >/dev/null 2>&1; then
    skip $name "valgrind not installed"
  elif [ ! -x "$OUT/$VALGRIND_TEST" ]; then
    fail $name "$(build_failed "$OUT/$VALGRIND_TEST")"
  else
    run_test $name "$LOGS/valgrind.log" bash tests/valgrind.sh "$LIB_SO" "$OUT/$VALGRIND_TEST"
  fi
  # memcheck finds a program's leak, use after free and overflow on depot
  name=valgrind/memcheck
  if [ $MODE != depot ]; then
    skip $name "needs depot (build/libdepot.so)"
  elif ! command -v valgrind >/dev/null 2>&1; then
    skip $name "valgrind not installed"
  elif [ ! -x "$OUT/vg_faults" ]; then
    fail $name "$(build_failed "$OUT/vg_faults")"
  else
    run_test $name "$LOGS/valgrind-memcheck.log" bash tests/valgrind_memcheck.sh "$LIB_SO" "$OUT/vg_faults"
  fi
fi

# ------------------------------------------------------------------ total
if [ $NSKIP -gt 0 ]; then
  echo "$NPASS passed, $NFAIL failed, $NSKIP skipped"
else
  echo "$NPASS passed, $NFAIL failed"
fi
[ $NFAIL = 0 ]
