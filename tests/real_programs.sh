#!/usr/bin/env bash
# real_programs: real programs give the same output on depot (LD_PRELOAD)
# as on glibc: python3 (dict/str/json), sqlite3 (20k rows, index, query),
# perl (hashes/strings), git (init, 50 files in 11 commits, log, gc, fsck), gcc (compile
# a small C program, run it).  Each prints "ok NAME" or a failed check; a
# missing program is skipped.
set -u
lib=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -f "$lib" ] || { echo "CHECK failed: $lib missing"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
ran=0

# compare NAME CMD...: run CMD in a fresh dir on glibc and on depot
compare() {
  local name=$1
  shift
  mkdir -p "$work/glibc-$name" "$work/depot-$name"
  (cd "$work/glibc-$name" && "$@") >"$work/$name.glibc.out" 2>"$work/$name.glibc.err"
  local st1=$?
  (cd "$work/depot-$name" && LD_PRELOAD="$lib" "$@") >"$work/$name.depot.out" 2>"$work/$name.depot.err"
  local st2=$?
  ran=$((ran + 1))
  if [ $st1 != 0 ]; then
    echo "note: $name fails on glibc too (exit $st1), not compared: $(head -c 300 "$work/$name.glibc.err")"
    return
  fi
  if [ $st2 != 0 ]; then
    echo "CHECK failed: $name on depot exited $st2: $(head -c 500 "$work/$name.depot.err")"
    fail=1
  elif ! cmp -s "$work/$name.glibc.out" "$work/$name.depot.out"; then
    echo "CHECK failed: $name: stdout differs between glibc and depot:"
    diff "$work/$name.glibc.out" "$work/$name.depot.out" | head -20
    fail=1
  elif [ ! -s "$work/$name.depot.out" ]; then
    echo "CHECK failed: $name printed nothing"
    fail=1
  else
    echo "ok $name ($(wc -l <"$work/$name.depot.out") lines)"
  fi
  if [ -s "$work/$name.depot.err" ] && grep -q '^depot: ' "$work/$name.depot.err"; then
    echo "CHECK failed: $name: depot complained: $(grep -m3 '^depot: ' "$work/$name.depot.err")"
    fail=1
  fi
}

# ---- python3
cat >"$work/script.py" <<'PY'
import json, collections, hashlib
d = {}
for i in range(200000):
    d["key%d" % i] = [i, str(i) * (i % 7), {"x": i * 0.5}]
s = 0
for k, v in d.items():
    s += v[0] + len(v[1])
print(len(d), s)
words = ("alpha beta gamma delta epsilon " * 20000).split()
c = collections.Counter(words)
print(sorted(c.items()))
blob = json.dumps({k: d[k] for k in list(d)[:20000]}, sort_keys=True)
back = json.loads(blob)
print(len(blob), len(back), hashlib.sha256(blob.encode()).hexdigest())
parts = []
for i in range(50000):
    parts.append(("%05d" % i)[::-1].upper())
joined = "-".join(parts)
print(len(joined), joined[:60], joined.count("0"))
big = [bytearray(i % 5000) for i in range(20000)]
print(sum(len(b) for b in big))
del d, big
print("done")
PY
if command -v python3 >/dev/null; then
  compare python3 python3 "$work/script.py"
else
  echo "note: python3 missing, skipped"
fi

# ---- sqlite3
cat >"$work/db.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL, blob TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO t(name, grp, val, blob)
  SELECT 'name' || i, i % 97, i * 1.5, printf('%.*c', i % 300, 'x') FROM n;
CREATE INDEX t_grp ON t(grp, val);
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(grp), sum(length(blob)) FROM t;
SELECT grp, count(*), round(avg(val), 3) FROM t GROUP BY grp ORDER BY grp LIMIT 20;
SELECT name FROM t WHERE name LIKE 'name19%' ORDER BY name LIMIT 10;
UPDATE t SET blob = upper(blob) || name WHERE grp < 10;
DELETE FROM t WHERE id % 3 = 0;
SELECT count(*), sum(length(blob)) FROM t;
SELECT a.grp, count(*) FROM t a JOIN t b ON a.grp = b.grp AND b.id = a.id + 97 GROUP BY a.grp ORDER BY 2 DESC, 1 LIMIT 5;
SQL
if command -v sqlite3 >/dev/null; then
  compare sqlite3 sh -c "sqlite3 test.db < '$work/db.sql'"
else
  echo "note: sqlite3 missing, skipped"
fi

# ---- perl
cat >"$work/script.pl" <<'PL'
use strict; use warnings;
my %h;
for my $i (1 .. 200000) { $h{"k$i"} = "v" x ($i % 50) . $i; }
my $t = 0; $t += length($h{$_}) for keys %h;
print scalar(keys %h), " $t\n";
my @a = map { scalar reverse "$_" } 1 .. 100000;
my $s = join(",", sort @a);
print length($s), " ", substr($s, 0, 50), "\n";
my %cnt; $cnt{$_}++ for split //, $s;
print join(" ", map { "$_=$cnt{$_}" } sort keys %cnt), "\n";
my $str = ""; $str .= chr(65 + $_ % 26) for 1 .. 300000;
(my $u = $str) =~ s/([AEIOU])/lc($1) x 3/ge;
print length($u), "\n";
delete $h{"k$_"} for 1 .. 100000;
print scalar(keys %h), "\n";
PL
if command -v perl >/dev/null; then
  compare perl perl "$work/script.pl"
else
  echo "note: perl missing, skipped"
fi

# ---- git
cat >"$work/git.sh" <<'SH'
set -e
export GIT_AUTHOR_NAME=Test GIT_AUTHOR_EMAIL=test@example.com
export GIT_COMMITTER_NAME=Test GIT_COMMITTER_EMAIL=test@example.com
export GIT_AUTHOR_DATE="2020-01-01T00:00:00Z" GIT_COMMITTER_DATE="2020-01-01T00:00:00Z"
export GIT_CONFIG_NOSYSTEM=1 HOME=$PWD
git init -q -b main repo
cd repo
git config user.name Test
git config user.email test@example.com
git config gc.auto 0
for i in $(seq 1 50); do
  for ((k = 1; k <= i * 40; k++)); do echo "file $i line $k"; done > "file$i.txt"
  if [ $((i % 5)) = 0 ]; then git add -A && git commit -q -m "add files up to $i"; fi
done
sed -i 's/line 7$/line seven/' file*.txt
git commit -q -a -m "edit all 50 files"
git diff HEAD~1 --stat | tail -n 3
git log | wc
git log --stat --format='%H %s' | tail -n 30
git ls-files | wc -l
git gc -q
git fsck --no-progress 2>&1 | grep -v '^Checking' || true
git log --oneline | head -5
SH
if command -v git >/dev/null; then
  compare git bash "$work/git.sh"
else
  echo "note: git missing, skipped"
fi

# ---- gcc
cat >"$work/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; int v; };
int main(void) {
  struct node *h = NULL;
  for (int i = 0; i < 100000; i++) {
    struct node *n = malloc(sizeof *n);
    n->v = i; n->next = h; h = n;
  }
  long s = 0;
  while (h) { struct node *n = h->next; s += h->v; free(h); h = n; }
  char *buf = calloc(1, 1 << 20);
  memset(buf, 'a', 100);
  printf("sum %ld len %zu\n", s, strlen(buf));
  free(buf);
  return 0;
}
C
if command -v gcc >/dev/null; then
  compare gcc sh -c "gcc -O2 -Wall -o prog '$work/prog.c' && ./prog"
else
  echo "note: gcc missing, skipped"
fi

[ $ran -gt 0 ] || { echo "SKIP: none of python3, sqlite3, perl, git, gcc found"; exit 77; }
exit $fail
