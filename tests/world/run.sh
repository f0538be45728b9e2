#!/usr/bin/env bash
# tests/world/run.sh [--full] [ITEM...] - real programs on depot vs glibc.
#
# Each item runs the same work twice, on glibc's malloc and with depot
# preloaded (LD_PRELOAD=build/libdepot.so), compares what the work printed
# (checksums, counts, per-module test results), and records wall time and
# peak RSS of both (GNU time: the largest RSS of the process and the
# children it waited for; for servers, of the server's process tree).
# Each item prints PASS, FAIL or SKIP; the table is printed at the end and
# written to tests/world/out/results.md.  Exit status non-zero if an item
# failed.
#
# Without --full (the CI subset, make ci-world; about 1-2.5 minutes on 2 cores):
#   python-tests  Debian's CPython 3.11 regression tests, a handful of modules,
#                 PYTHONMALLOC=malloc (libpython3.11-testsuite)
#   sqlite        sqlite3: 200k-row insert, update, indexes, queries, delete, vacuum
#   git           git: fast-import of 300 generated commits, log, blame, gc, fsck
#   gcc           gcc -O2 -g of depot's sources as one translation unit
# With --full, also (and bigger):
#   python-tests  ~50 modules (dict ... asyncio, concurrent_futures, decimal)
#   sqlite        1M rows;  git: 3000 commits
#   gcc, clang    every src/*.c and the unity build, with the Makefile's flags
#   postgres      initdb, server on 127.0.0.1 with depot preloaded, pgbench -i
#                 -s 10, pgbench 8 clients x 1500 transactions, data checks (psql)
#   redis         redis-server on 127.0.0.1, redis-benchmark -n 100000, then
#                 20k known keys written and read back (tests/world/redis_check.py)
#   node          JSON/string-heavy script (tests/world/node_work.js)
# ITEM names limit the run to those items.  A Python module that fails on
# depot only is run once more on depot; it fails the item only if it fails
# again (a timing-dependent test on a loaded machine is not a depot bug).
#
# Missing packages are installed with apt-get (quietly; apt-get update once);
# an item whose programs cannot be had is skipped.  Every step runs under
# timeout.  A result is compared only if the glibc run succeeded.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
FULL=0
ONLY=()
for a in "$@"; do
  case "$a" in
    --full) FULL=1 ;;
    -h | --help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ONLY+=("$a") ;;
  esac
done
OUT=$ROOT/tests/world/out
mkdir -p "$OUT"
W=$(mktemp -d /tmp/depot-world.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -f build/libdepot.so ] || make -s lib >/dev/null 2>&1 || { echo "world: cannot build depot" >&2; exit 2; }
# a snapshot: a rebuild of build/ while this runs cannot hand out half a library
LIB=$W/libdepot.so
cp build/libdepot.so "$LIB" && chmod 755 "$LIB"
LIBC=$(gcc -print-file-name=libc.so.6 2>/dev/null)
case "$LIBC" in /*) ;; *) LIBC=/lib/x86_64-linux-gnu/libc.so.6 ;; esac
LIBC=$(readlink -f "$LIBC")

# ---- packages
APT_UPDATED=0
have_pkg() { dpkg -s "$1" >/dev/null 2>&1; }
ensure_pkg() { # pkg... -> 0 if all are installed (installing what is missing)
  local miss=()
  for p in "$@"; do have_pkg "$p" || miss+=("$p"); done
  [ ${#miss[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  if [ $APT_UPDATED = 0 ]; then
    timeout 300 apt-get update -qq >/dev/null 2>&1
    APT_UPDATED=1
  fi
  echo "  (installing ${miss[*]})"
  timeout 900 apt-get install -y -qq "${miss[@]}" >"$W/apt.log" 2>&1
  for p in "${miss[@]}"; do have_pkg "$p" || return 1; done
  return 0
}
ensure_pkg time || true
TIME=/usr/bin/time
[ -x $TIME ] || TIME=""

# ---- measuring
# run_m NAME ALLOC TIMEOUT CMD...: run CMD (in $W/NAME.ALLOC/) on glibc or depot;
# stdout -> $W/NAME.ALLOC.out, stderr -> .err, "seconds maxrss_kb" -> .time;
# returns CMD's exit status (124 on timeout)
run_m() {
  local name=$1 alloc=$2 tmo=$3
  shift 3
  local pre=
  [ "$alloc" = depot ] && pre=$LIB
  [ "$alloc" = glibc ] && pre=${GLIBC_PRELOAD:-}
  local d=$W/$name.$alloc
  mkdir -p "$d"
  local t0 t1 rc
  t0=$(date +%s.%N)
  if [ -n "$TIME" ]; then
    (cd "$d" && timeout -k 10 "$tmo" $TIME -f '%e %M' -o "$W/$name.$alloc.time" \
      env ${pre:+LD_PRELOAD=$pre} "$@") >"$W/$name.$alloc.out" 2>"$W/$name.$alloc.err"
    rc=$?
  else
    (cd "$d" && timeout -k 10 "$tmo" env ${pre:+LD_PRELOAD=$pre} "$@") \
      >"$W/$name.$alloc.out" 2>"$W/$name.$alloc.err"
    rc=$?
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f 0\n", b - a }' >"$W/$name.$alloc.time"
  fi
  # GNU time prefixes "Command exited with non-zero status N" when it did
  tail -1 "$W/$name.$alloc.time" >"$W/$name.$alloc.time.1" 2>/dev/null
  mv -f "$W/$name.$alloc.time.1" "$W/$name.$alloc.time" 2>/dev/null
  return $rc
}
secs() { awk '{print $1}' "$W/$1.time" 2>/dev/null; }
rss_mb() { awk '{printf "%.1f", $2/1024}' "$W/$1.time" 2>/dev/null; }

# ---- results
ROWS=()
NPASS=0 NFAIL=0 NSKIP=0
row() { # name result note [glibc-tag depot-tag]
  local n=$1 r=$2 note=$3 g=${4:-} d=${5:-}
  local gs=- gr=- ds=- dr=-
  if [ -n "$g" ] && [ -s "$W/$g.time" ]; then gs=$(secs "$g"); gr=$(rss_mb "$g"); fi
  if [ -n "$d" ] && [ -s "$W/$d.time" ]; then ds=$(secs "$d"); dr=$(rss_mb "$d"); fi
  ROWS+=("| $n | $r | $gs | $gr | $ds | $dr | $note |")
  case $r in PASS) NPASS=$((NPASS + 1)) ;; FAIL) NFAIL=$((NFAIL + 1)) ;; *) NSKIP=$((NSKIP + 1)) ;; esac
  echo "$r $n${note:+: $note}"
}
depot_complained() { # tag
  grep -m3 '^depot: ' "$W/$1.err" 2>/dev/null
}
# compare NAME NOTE: both runs done; glibc must have passed; outputs equal
compare() {
  local n=$1 note=${2:-} grc=$3 drc=$4
  if [ "$grc" != 0 ]; then
    row "$n" SKIP "fails on glibc too (exit $grc): $(tail -c 200 "$W/$n.glibc.err" | tr '\n' ' ')" "$n.glibc" "$n.depot"
    return
  fi
  if [ "$drc" != 0 ]; then
    row "$n" FAIL "depot run exited $drc: $(tail -c 300 "$W/$n.depot.err" | tr '\n' ' ')" "$n.glibc" "$n.depot"
    return
  fi
  if ! cmp -s "$W/$n.glibc.out" "$W/$n.depot.out"; then
    diff "$W/$n.glibc.out" "$W/$n.depot.out" | head -20 >"$W/$n.diff"
    cp "$W/$n.diff" "$OUT/$n.diff"
    row "$n" FAIL "output differs from glibc (tests/world/out/$n.diff)" "$n.glibc" "$n.depot"
    return
  fi
  local c
  c=$(depot_complained "$n.depot")
  if [ -n "$c" ]; then
    row "$n" FAIL "depot complained: $c" "$n.glibc" "$n.depot"
    return
  fi
  row "$n" PASS "$note" "$n.glibc" "$n.depot"
}
want() { # item -> selected?
  [ ${#ONLY[@]} -eq 0 ] && return 0
  local o
  for o in "${ONLY[@]}"; do [ "$o" = "$1" ] && return 0; done
  return 1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

REV=$(git log -1 --format=%h 2>/dev/null)
git diff --quiet HEAD -- src include 2>/dev/null || REV="$REV+changes"
echo "world: depot $REV on $(nproc) cores; $([ $FULL = 1 ] && echo full || echo CI subset); work dir $W"

# =================================================================== python
item_python() {
  local n=python-tests
  if ! ensure_pkg python3.11 libpython3.11-testsuite || [ ! -x /usr/bin/python3.11 ]; then
    row $n SKIP "python3.11 / libpython3.11-testsuite not installable"
    return
  fi
  local mods jobs=1 tmo=900
  if [ $FULL = 1 ]; then
    mods="test_dict test_list test_set test_unicode test_bytes test_json test_re test_pickle
      test_threading test_concurrent_futures test_asyncio test_gc test_weakref test_memoryview
      test_decimal test_collections test_itertools test_functools test_heapq test_array
      test_struct test_long test_float test_math test_statistics test_fractions test_random
      test_hashlib test_zlib test_bz2 test_lzma test_gzip test_zipfile test_tarfile test_csv
      test_tempfile test_queue test_deque test_ordered_dict test_enum test_dataclasses
      test_typing test_ast test_compile test_grammar test_exceptions test_tuple test_copy
      test_marshal test_xml_etree test_minidom test_textwrap test_difflib test_datetime
      test_sort test_builtin test_codecs test_base64 test_operator test_contextlib
      test_generators test_coroutines test_descr test_format test_fstring test_string
      test_bisect test_mmap test_email test_select test_sys"
    jobs=2
    tmo=1800
  else
    mods="test_dict test_list test_set test_unicode test_bytes test_json test_re test_weakref test_gc"
  fi
  local mlist
  mlist=$(echo $mods)
  for alloc in glibc depot; do
    PYTHONMALLOC=malloc run_m $n $alloc $tmo /usr/bin/python3.11 -m test -j$jobs --timeout 600 $mlist
    echo $? >"$W/$n.$alloc.rc"
    python3 tests/world/regrtest_summary.py "$W/$n.$alloc.out" $mlist >"$W/$n.$alloc.mods"
  done
  cp "$W/$n.glibc.out" "$OUT/$n.glibc.log"
  cp "$W/$n.depot.out" "$OUT/$n.depot.log"
  # compare module by module: what passes on glibc must pass on depot
  local total=0 okg=0 okd=0 regress=() notg=()
  while read -r m sg; do
    total=$((total + 1))
    local sd
    sd=$(awk -v m="$m" '$1 == m {print $2}' "$W/$n.depot.mods")
    [ "$sg" = ok ] && okg=$((okg + 1))
    [ "$sd" = ok ] && okd=$((okd + 1))
    if [ "$sg" = ok ] && [ "$sd" != ok ]; then regress+=("$m($sd)"); fi
    if [ "$sg" != ok ]; then notg+=("$m($sg)"); fi
  done <"$W/$n.glibc.mods"
  local note="$total modules: $okg pass on glibc, $okd on depot"
  [ ${#notg[@]} -gt 0 ] && note="$note; not passing on glibc, not compared: ${notg[*]}"
  # A module that failed on depot only runs once more on depot, alone: a
  # module with a timing-dependent test must fail twice to fail the item
  # (a pass on the rerun is named in the note).
  if [ ${#regress[@]} -gt 0 ]; then
    local rm again=() m2 s2
    rm=$(for x in "${regress[@]}"; do printf '%s ' "${x%%(*}"; done)
    PYTHONMALLOC=malloc run_m $n.rerun depot $tmo /usr/bin/python3.11 -m test -j1 --timeout 600 $rm
    cp "$W/$n.rerun.depot.out" "$OUT/$n.depot-rerun.log"
    python3 tests/world/regrtest_summary.py "$W/$n.rerun.depot.out" $rm >"$W/$n.rerun.depot.mods"
    while read -r m2 s2; do [ "$s2" = ok ] || again+=("$m2($s2)"); done <"$W/$n.rerun.depot.mods"
    echo "  (failed on depot only: ${regress[*]}; rerun on depot: ${again[*]:-all pass})"
    if [ ${#again[@]} -eq 0 ]; then
      note="$note; failed on depot once, passed on the rerun: ${regress[*]}"
      regress=()
    else
      regress=("${again[@]}")
    fi
    depot_complained $n.rerun.depot >>"$W/$n.depot.err"
  fi
  echo "$note" >"$OUT/$n.modules.txt"
  paste "$W/$n.glibc.mods" "$W/$n.depot.mods" | awk '{print $1, "glibc:" $2, "depot:" $4}' >>"$OUT/$n.modules.txt"
  if [ ${#regress[@]} -gt 0 ]; then
    row $n FAIL "$note; FAIL on depot only: ${regress[*]}" $n.glibc $n.depot
  elif [ "$okg" = 0 ]; then
    row $n SKIP "no module passed on glibc ($(tail -c 200 "$W/$n.glibc.out" | tr '\n' ' '))" $n.glibc $n.depot
  else
    local c
    c=$(depot_complained $n.depot)
    if [ -n "$c" ]; then row $n FAIL "$note; depot complained: $c" $n.glibc $n.depot
    else row $n PASS "$note" $n.glibc $n.depot; fi
  fi
}

# =================================================================== sqlite
item_sqlite() {
  local n=sqlite
  ensure_pkg sqlite3 || { row $n SKIP "sqlite3 not installable"; return; }
  local rows=200000
  [ $FULL = 1 ] && rows=1000000
  cat >"$W/sqlite.sql" <<SQL
PRAGMA cache_size = -131072;
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, s TEXT, v REAL, b BLOB);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $rows)
INSERT INTO t SELECT x, (x * 7919) % 100003,
  printf('row-%08d-', x) || replace(hex(zeroblob(x % 61)), '00', char(97 + x % 26)),
  x * 0.25, zeroblob(x % 300) FROM c;
COMMIT;
UPDATE t SET v = v * 1.5, s = s || '-upd' WHERE k % 3 = 0;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_s ON t(s);
SELECT count(*), sum(k), total(v), sum(length(s)), sum(length(b)) FROM t;
SELECT k, count(*) FROM t GROUP BY k ORDER BY count(*) DESC, k LIMIT 5;
SELECT count(DISTINCT s), count(DISTINCT k) FROM t;
SELECT length(group_concat(s, ',')) FROM (SELECT s FROM t ORDER BY s DESC);
SELECT count(*) FROM t a JOIN t b ON b.id = a.k WHERE a.id % 10 = 0;
SELECT s FROM t WHERE s LIKE 'row-0001%' ORDER BY s LIMIT 3;
DELETE FROM t WHERE id % 5 = 0;
VACUUM;
SELECT count(*), max(id), min(s) FROM t;
SQL
  for alloc in glibc depot; do
    rm -f "$W/sqlite.$alloc.db"
    run_m $n $alloc 600 sqlite3 "$W/sqlite.$alloc.db" ".read $W/sqlite.sql"
    echo $? >"$W/$n.$alloc.rc"
    rm -f "$W/sqlite.$alloc.db"
  done
  compare $n "$rows rows" "$(cat "$W/$n.glibc.rc")" "$(cat "$W/$n.depot.rc")"
}

# =================================================================== git
item_git() {
  local n=git
  ensure_pkg git || { row $n SKIP "git not installable"; return; }
  local commits=300
  [ $FULL = 1 ] && commits=3000
  python3 tests/world/gen_git.py $commits >"$W/git.stream" || { row $n SKIP "stream generator failed"; return; }
  cat >"$W/git.sh" <<'SH'
set -e
export GIT_CONFIG_NOSYSTEM=1 HOME=$PWD GIT_AUTHOR_DATE="1700000000 +0000" GIT_COMMITTER_DATE="1700000000 +0000"
git init -q -b main repo
cd repo
git config user.name World; git config user.email world@example.com
git config gc.auto 0; git config pack.threads 2
git fast-import --quiet <"$1"
git checkout -q main
echo "head $(git rev-parse HEAD) commits $(git rev-list --count HEAD) files $(git ls-files | wc -l)"
echo "log-stat $(git log --stat --format='%H %s' | sha256sum | cut -c1-16)"
echo "log-p $(git log -p -n 400 --format='%H' | sha256sum | cut -c1-16)"
echo "blame $(git blame -s dir05/file005.txt 2>/dev/null | sha256sum | cut -c1-16)"
echo "diff $(git diff --stat HEAD~200 HEAD | tail -1)"
echo "grep $(git grep -c malloc HEAD~100 | sha256sum | cut -c1-16)"
# history rewrite in a branch: a series of commits on top (index, objects)
git checkout -q -b work HEAD~50
for i in $(seq 1 40); do
  printf 'edit %d\n' "$i" >>dir01/file001.txt
  git commit -q -am "edit $i"
done
git rebase -q main >/dev/null 2>&1 || { git rebase --abort; echo "rebase conflict"; }
echo "work $(git rev-list --count main..work)"
git checkout -q main
git gc -q --aggressive --prune=now
git fsck --full --strict 2>&1 | sha256sum | cut -c1-16 | sed 's/^/fsck /'
echo "objects $(git count-objects -v | grep -E '^(count|in-pack)' | tr '\n' ' ')"
echo "archive $(git archive --format=tar HEAD | sha256sum | cut -c1-16)"
SH
  for alloc in glibc depot; do
    rm -rf "$W/$n.$alloc"
    run_m $n $alloc 900 bash "$W/git.sh" "$W/git.stream"
    echo $? >"$W/$n.$alloc.rc"
    rm -rf "$W/$n.$alloc"
  done
  compare $n "$commits commits" "$(cat "$W/$n.glibc.rc")" "$(cat "$W/$n.depot.rc")"
}

# =================================================================== compilers
# the Makefile's flags for depot's sources, -Werror aside
CFLAGS_DEPOT="-std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -fPIC -fvisibility=hidden -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free
  -fno-builtin-calloc -fno-builtin-realloc -fno-stack-protector -fno-plt
  -I$W/cc-src/include -I$W/cc-src/src"
item_cc() { # gcc|clang
  local cc=$1 n=$1
  local pkg=$cc
  ensure_pkg $pkg || { row $n SKIP "$cc not installable"; return; }
  command -v $cc >/dev/null || { row $n SKIP "$cc not found"; return; }
  # a snapshot of the sources: both runs must compile the same text even if
  # someone edits src/ meanwhile
  rm -rf "$W/cc-src"
  mkdir -p "$W/cc-src"
  cp -r "$ROOT/src" "$ROOT/include" "$W/cc-src/"
  { for f in "$W"/cc-src/src/*.c; do echo "#include \"$f\""; done; } >"$W/unity.c"
  local files="$W/unity.c"
  [ $FULL = 1 ] && files="$files $(echo "$W"/cc-src/src/*.c)"
  cat >"$W/cc.sh" <<SH
set -e
cc=\$1; shift
i=0
for f in \$*; do
  i=\$((i + 1))
  \$cc $(echo $CFLAGS_DEPOT) -c "\$f" -o obj\$i.o
  \$cc $(echo $CFLAGS_DEPOT) -E "\$f" | wc -l >/dev/null
  echo "\$(basename \$f) \$(sha256sum <obj\$i.o | cut -c1-16) \$(size obj\$i.o | tail -1 | awk '{print \$1, \$2, \$3}')"
done
\$cc -shared -o libx.so obj1.o -lpthread
echo "linked \$(nm -D --defined-only libx.so | grep -c ' T ')"
SH
  # same directory for both runs, so the debug info (comp dir) is the same
  for alloc in glibc depot; do
    mkdir -p "$W/$n.build"
    local tag=$n.$alloc
    run_m $n $alloc 900 bash -c "cd '$W/$n.build' && bash '$W/cc.sh' $cc $files"
    echo $? >"$W/$tag.rc"
    rm -rf "$W/$n.build"
  done
  local nf
  nf=$(echo $files | wc -w)
  compare $n "$nf translation units, objects byte-identical" "$(cat "$W/$n.glibc.rc")" "$(cat "$W/$n.depot.rc")"
}

# =================================================================== postgres
item_postgres() {
  local n=postgres
  if ! ensure_pkg postgresql; then row $n SKIP "postgresql not installable"; return; fi
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ] || ! id postgres >/dev/null 2>&1 || ! command -v runuser >/dev/null; then
    row $n SKIP "no postgres binaries or user"
    return
  fi
  local alloc
  for alloc in glibc depot; do
    local d=$W/pg.$alloc port pre=
    [ $alloc = depot ] && pre=$LIB
    rm -rf "$d"
    mkdir -p "$d"
    chown postgres "$d"
    port=$(free_port)
    local as="runuser -u postgres --"
    : >"$W/$n.$alloc.out"
    : >"$W/$n.$alloc.err"
    if ! timeout 120 $as env ${pre:+LD_PRELOAD=$pre} "$bin/initdb" -D "$d/data" -A trust -U postgres \
        --no-sync -E UTF8 --locale=C >"$d/initdb.log" 2>&1; then
      echo "initdb failed: $(tail -3 "$d/initdb.log")" >>"$W/$n.$alloc.err"
      echo 1 >"$W/$n.$alloc.rc"
      continue
    fi
    # the server, its whole tree measured by GNU time; depot in its environment
    $as timeout -k 10 900 ${TIME:-} ${TIME:+-f '%e %M' -o "$d/time"} env ${pre:+LD_PRELOAD=$pre} \
      "$bin/postgres" -D "$d/data" -p "$port" -k "$d" -c listen_addresses=127.0.0.1 \
      -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=128MB \
      -c work_mem=32MB -c maintenance_work_mem=128MB -c max_connections=40 >"$d/server.log" 2>&1 &
    local spid=$!
    PIDS+=("$spid")
    local ok=0
    for _ in $(seq 1 60); do
      if timeout 5 "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then ok=1; break; fi
      sleep 0.5
    done
    local rc=0
    if [ $ok = 1 ]; then
      local pg="timeout 600 $as"
      (
        $pg "$bin/pgbench" -q -i -s 10 -h 127.0.0.1 -p "$port" postgres >"$d/init.log" 2>&1 ||
          { echo "pgbench -i failed: $(tail -3 "$d/init.log")" >&2; exit 1; }
        $pg "$bin/pgbench" -c 8 -j 2 -t 1500 -h 127.0.0.1 -p "$port" postgres >"$d/bench.log" 2>&1 ||
          { echo "pgbench failed: $(tail -5 "$d/bench.log")" >&2; exit 1; }
        grep -E '^number of transactions actually processed' "$d/bench.log"
        $pg psql -X -A -t -q -h 127.0.0.1 -p "$port" -U postgres postgres <<'SQL'
SELECT 'accounts ' || count(*) FROM pgbench_accounts;
SELECT 'history ' || count(*) FROM pgbench_history;
SELECT 'balanced ' || ((SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(delta) FROM pgbench_history)
  AND (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT sum(delta) FROM pgbench_history)
  AND (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT sum(delta) FROM pgbench_history));
CREATE INDEX acc_bal ON pgbench_accounts(abalance, aid);
SELECT 'ordered ' || md5(string_agg(aid::text, ',' ORDER BY aid DESC)) FROM pgbench_accounts;
SELECT 'groups ' || md5(string_agg(bid || ':' || c, ',')) FROM (SELECT bid, count(*) c FROM pgbench_accounts GROUP BY bid ORDER BY bid) g;
SELECT 'join ' || count(*) FROM pgbench_accounts a JOIN pgbench_tellers t ON t.bid = a.bid WHERE a.aid % 100 = 0;
CREATE TABLE docs AS SELECT g AS id, repeat(md5(g::text), 1 + g % 40) AS body, jsonb_build_object('k', g, 'tags', jsonb_build_array(g % 7, g % 11)) AS j FROM generate_series(1, 100000) g;
SELECT 'docs ' || count(*) || ' ' || sum(length(body)) || ' ' || md5(string_agg(j->>'k', ',' ORDER BY body, id)) FROM docs;
SELECT 'indexes ' || count(*) FROM pg_class WHERE relkind = 'i' AND relname LIKE 'pgbench%';
SQL
      ) >"$W/$n.$alloc.out" 2>>"$W/$n.$alloc.err" || rc=1
    else
      echo "server did not start: $(tail -5 "$d/server.log")" >>"$W/$n.$alloc.err"
      rc=1
    fi
    timeout 60 $as "$bin/pg_ctl" -D "$d/data" stop -m fast >/dev/null 2>&1 || kill -INT "$spid" 2>/dev/null
    timeout 60 tail --pid="$spid" -f /dev/null
    kill -9 "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    grep -E 'PANIC|terminated by signal|server process .* was terminated|^depot: ' "$d/server.log" >>"$W/$n.$alloc.err" && rc=1
    [ -s "$d/time" ] && tail -1 "$d/time" >"$W/$n.$alloc.time"
    cp "$d/server.log" "$OUT/$n.$alloc.server.log" 2>/dev/null
    echo $rc >"$W/$n.$alloc.rc"
    rm -rf "$d"
  done
  compare $n "pgbench -s 10, 8 clients x 1500 tx; data checks" "$(cat "$W/$n.glibc.rc")" "$(cat "$W/$n.depot.rc")"
}

# =================================================================== redis
item_redis() {
  local n=redis
  if ! ensure_pkg redis-server redis-tools; then row $n SKIP "redis not installable"; return; fi
  local alloc
  for alloc in glibc depot; do
    local d=$W/redis.$alloc port pre
    # Debian's redis-server links jemalloc: glibc's malloc is put first by
    # preloading libc itself, depot's by preloading depot
    pre=$LIBC
    [ $alloc = depot ] && pre=$LIB
    mkdir -p "$d"
    port=$(free_port)
    timeout -k 10 900 ${TIME:-} ${TIME:+-f '%e %M' -o "$d/time"} env LD_PRELOAD="$pre" \
      redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$d" \
      --daemonize no --protected-mode yes >"$d/server.log" 2>&1 &
    local spid=$!
    PIDS+=("$spid")
    local ok=0
    for _ in $(seq 1 60); do
      [ "$(timeout 5 redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && { ok=1; break; }
      sleep 0.5
    done
    local rc=0
    if [ $ok = 1 ]; then
      (
        timeout 600 redis-benchmark -p "$port" -n 100000 -c 20 -q -r 100000 -d 200 \
          -t set,get,incr,lpush,rpush,lpop,sadd,hset,zadd,lrange_100,mset >"$d/bench.log" 2>&1 ||
          { echo "redis-benchmark failed: $(tail -3 "$d/bench.log")" >&2; exit 1; }
        timeout 300 python3 "$ROOT/tests/world/redis_check.py" "$port" || exit 1
        echo "alive $(timeout 10 redis-cli -p "$port" ping)"
      ) >"$W/$n.$alloc.out" 2>"$W/$n.$alloc.err" || rc=1
      cp "$d/bench.log" "$OUT/redis-benchmark.$alloc.log"
    else
      echo "server did not start: $(tail -5 "$d/server.log")" >"$W/$n.$alloc.err"
      rc=1
    fi
    timeout 30 redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill -TERM "$spid" 2>/dev/null
    timeout 60 tail --pid="$spid" -f /dev/null
    kill -9 "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    grep -E '^depot: |crashed by signal' "$d/server.log" >>"$W/$n.$alloc.err" && rc=1
    [ -s "$d/time" ] && tail -1 "$d/time" >"$W/$n.$alloc.time"
    echo $rc >"$W/$n.$alloc.rc"
    rm -rf "$d"
  done
  compare $n "redis-benchmark -n 100000 x 11 tests, 20k keys checked (glibc run: libc preloaded over jemalloc)" \
    "$(cat "$W/$n.glibc.rc")" "$(cat "$W/$n.depot.rc")"
}

# =================================================================== node
item_node() {
  local n=node
  if ! command -v node >/dev/null; then
    ensure_pkg nodejs >/dev/null 2>&1
    command -v node >/dev/null || { row $n SKIP "node not installed and nodejs not installable"; return; }
  fi
  for alloc in glibc depot; do
    run_m $n $alloc 600 node "$ROOT/tests/world/node_work.js" 300000
    echo $? >"$W/$n.$alloc.rc"
  done
  compare $n "node $(node --version) JSON/strings, 300k objects" "$(cat "$W/$n.glibc.rc")" "$(cat "$W/$n.depot.rc")"
}

# =================================================================== run
T0=$(date +%s)
want python-tests && item_python
want sqlite && item_sqlite
want git && item_git
want gcc && item_cc gcc
if [ $FULL = 1 ]; then
  want clang && item_cc clang
  want postgres && item_postgres
  want redis && item_redis
  want node && item_node
fi
T1=$(date +%s)

{
  echo "# depot world run: $(date -u '+%Y-%m-%d %H:%M UTC'), depot $REV, $([ $FULL = 1 ] && echo '--full' || echo 'CI subset'), $(nproc) cores, $((T1 - T0)) s"
  echo
  echo "Time: wall seconds; RSS: peak resident set (MiB) of the program and the children it waited for (GNU time)."
  echo
  echo "| item | result | glibc s | glibc RSS MiB | depot s | depot RSS MiB | notes |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | --- |"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "$NPASS passed, $NFAIL failed, $NSKIP skipped"
} >"$OUT/results.md"
echo
cat "$OUT/results.md"
[ $NFAIL -eq 0 ]
