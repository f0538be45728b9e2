#!/usr/bin/env python3
"""depot's benchmark suite: every workload on depot and on the peers.

    python3 bench/run.py            full run (RUNS=5 timed runs after a warm-up)
    python3 bench/run.py --quick    one pass at smaller sizes (about two minutes)
    python3 bench/run.py --once     one run at full size, no warm-up (checking sizes)
    python3 bench/run.py --list     list the workloads and allocators, run nothing

Environment:
    RUNS=n          timed runs per allocator and workload (default 5; 1 with --quick)
    WORKLOADS=a,b   select workloads: exact names, globs (larson-*), base names
                    (larson = larson-1t, larson-2t, ...) or groups
                    (single, threads, memory, real)
    ALLOCATORS=a,b  depot, glibc, jemalloc, mimalloc, tcmalloc, or a path to any
                    malloc .so (preloaded like the peers)
    THREADS=1,2,8   thread counts of the thread workloads (default 1, 2 and nproc)

Outputs (in bench/): RESULTS.md, results.csv, chart.svg, rss-over-time.svg.
Standard library only.  See bench/README.md for what the workloads model and
how to read the numbers.
"""

import argparse
import csv
import datetime
import fnmatch
import hashlib
import io
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SRC = BENCH / "workloads"
HARNESS = BENCH / "harness"
OUT = BENCH / "out"
DEPOT_SO = ROOT / "build" / "libdepot.so"

LIBDIRS = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64",
           "/usr/lib", "/usr/local/lib", "/usr/lib/aarch64-linux-gnu"]
# name -> (soname, Debian package)
PEERS = {
    "jemalloc": ("libjemalloc.so.2", "libjemalloc2"),
    "mimalloc": ("libmimalloc.so.2", "libmimalloc2.0"),
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
}
DEFAULT_ALLOCATORS = ["glibc", "jemalloc", "mimalloc", "tcmalloc", "depot"]
PEER_NAMES = {"glibc", "jemalloc", "mimalloc", "tcmalloc"}

FIRST_TIMEOUT = 300.0   # seconds, before any allocator has finished a workload
TIMEOUT_FACTOR = 20.0   # later: this many times the slowest successful run so far ...
MIN_TIMEOUT = 30.0      # ... but never less than this
QUICK_FIRST_TIMEOUT = 120.0


def log(*a):
    print(*a, flush=True)


# --------------------------------------------------------------------------
# allocators

@dataclass
class Allocator:
    name: str
    path: str | None          # None: glibc, nothing preloaded
    package: str | None = None
    broken: str | None = None  # why it cannot be measured (probe failed)

    @property
    def is_peer(self):
        return self.name in PEER_NAMES

    def preload(self, libc_first=False):
        """What LD_PRELOAD the measured program gets."""
        if self.path:
            return self.path
        if libc_first:
            # a program linked against another malloc (Debian's redis-server
            # links jemalloc) gets glibc's malloc only if libc comes first
            return libc_path()
        return ""


def clean_env(extra=None):
    e = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    e.update(extra or {})
    return e


def find_lib(soname):
    dirs = list(LIBDIRS)
    try:
        ma = subprocess.run(["cc", "-print-multiarch"], capture_output=True, text=True, timeout=10).stdout.strip()
        if ma:
            dirs.insert(0, f"/usr/lib/{ma}")
    except (OSError, subprocess.SubprocessError):
        pass
    for d in dirs:
        p = Path(d) / soname
        if p.exists():
            return str(p)
    return None


_libc = None


def libc_path():
    global _libc
    if _libc is None:
        _libc = find_lib("libc.so.6") or ""
    return _libc


def install_missing_peers(names):
    """apt-get install the peers that are asked for and missing, quietly."""
    missing = [PEERS[n][1] for n in names if n in PEERS and not find_lib(PEERS[n][0])]
    if not missing:
        return
    if not shutil.which("apt-get"):
        log(f"note: missing {', '.join(missing)} and no apt-get; those peers are left out")
        return
    log(f"installing missing peers: {' '.join(missing)} ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing
    for attempt in range(2):
        try:
            r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
            if r.returncode == 0:
                return
            if attempt == 0:
                subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=600)
        except (OSError, subprocess.SubprocessError):
            break
    log("note: apt-get could not install them (not root? offline?); the missing peers are left out")


def resolve_allocators(spec):
    names = [s.strip() for s in spec.split(",") if s.strip()] if spec else list(DEFAULT_ALLOCATORS)
    install_missing_peers(names)
    out, seen = [], set()
    for n in names:
        if n == "glibc":
            a = Allocator("glibc", None, "libc6")
        elif n in PEERS:
            p = find_lib(PEERS[n][0])
            if not p:
                log(f"note: {n} ({PEERS[n][0]}) not found; left out")
                continue
            a = Allocator(n, p, PEERS[n][1])
        elif n == "depot":
            if not DEPOT_SO.exists():
                log(f"note: {DEPOT_SO.relative_to(ROOT)} not found (run make); depot left out")
                continue
            a = Allocator("depot", str(DEPOT_SO))
        elif "/" in n or ".so" in n:
            p = Path(n).expanduser().resolve()
            if not p.exists():
                log(f"note: {n} not found; left out")
                continue
            short = p.name.split(".so")[0]
            short = short[3:] if short.startswith("lib") else short
            a = Allocator(short or p.name, str(p))
        else:
            sys.exit(f"unknown allocator '{n}' (use depot, glibc, jemalloc, mimalloc, tcmalloc or a path to a .so)")
        while a.name in seen:
            a.name += "'"
        seen.add(a.name)
        out.append(a)
    if not out:
        sys.exit("no allocator to run")
    return out


def probe(alloc):
    """Run bench/out/probe under the allocator: it must run, and malloc, free
    and realloc must come from the allocator's file (a failed LD_PRELOAD only
    prints a warning and runs glibc instead)."""
    r = run_child([str(OUT / "probe")], alloc.preload(), clean_env(), 30)
    if r.timed_out:
        return "probe timed out"
    if r.rc != 0:
        return f"probe failed: {describe_exit(r.rc)} {last_line(r.err)}".strip()
    want = os.path.realpath(alloc.path or libc_path())
    for line in r.out.splitlines():
        if line.startswith("probe "):
            sym, _, where = line[6:].partition("=")
            if os.path.realpath(where) != want:
                return f"{sym} resolves to {where}, not {want} (LD_PRELOAD ignored?)"
    return None


# --------------------------------------------------------------------------
# running a child and measuring it

@dataclass
class Child:
    rc: int            # exit status, or -signal
    wall: float
    user: float
    sys: float
    maxrss_kb: int
    minflt: int
    majflt: int
    out: str
    err: str
    timed_out: bool


def measure_cmd(report, preload, argv):
    """argv run by bench/out/measure (see harness/measure.c: why a launcher)."""
    return [str(OUT / "measure"), str(report)] + (["-p", preload] if preload else []) + ["--"] + [str(a) for a in argv]


def read_report(report):
    """measure's report: wall, user, sys, maxrss_kb, minflt, majflt, wait status; None if absent."""
    try:
        f = Path(report).read_text().split()
        return float(f[0]), float(f[1]), float(f[2]), int(f[3]), int(f[4]), int(f[5]), int(f[6])
    except (OSError, ValueError, IndexError):
        return None


def status_to_rc(st):
    return os.waitstatus_to_exitcode(st)


def run_child(argv, preload, env, timeout, cwd=None, stdin_path=None):
    """Run argv (with LD_PRELOAD=preload) under bench/out/measure, in its own
    process group; the whole group is killed if it runs past timeout.  Time,
    CPU, peak RSS and faults are those of argv's process (and the children it
    waited for), as measure got them from wait4."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.NamedTemporaryFile(prefix="depot-bench-", suffix=".rusage") as rep:
        fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            t0 = time.perf_counter()
            p = subprocess.Popen(measure_cmd(rep.name, preload, argv), env=env, cwd=cwd, stdin=fin, stdout=fo,
                                 stderr=fe, start_new_session=True)
        finally:
            if stdin_path:
                fin.close()
        fired = threading.Event()

        def kill():
            fired.set()
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            p.wait()
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        try:  # leftovers of the group (a crashed driver's children, ...)
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode("utf-8", "replace"), fe.read().decode("utf-8", "replace")
        r = read_report(rep.name)
        if r is None:  # measure itself was killed (timeout) or failed
            rc = p.returncode if p.returncode != 0 else 125
            return Child(rc, wall, math.nan, math.nan, math.nan, math.nan, math.nan, out, err, True if fired.is_set()
                         else False)
        return Child(status_to_rc(r[6]), r[0], r[1], r[2], r[3], r[4], r[5], out, err, fired.is_set())


def describe_exit(rc):
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


def last_line(text):
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    return lines[-1][:200] if lines else ""


@dataclass
class Run:
    workload: str
    group: str
    allocator: str
    run: int                  # 0: warm-up, 1..RUNS: timed
    status: str = "ok"        # ok, fail, timeout, wrong, broken
    wall: float = math.nan    # seconds
    user: float = math.nan
    sys: float = math.nan
    maxrss_kb: float = math.nan
    minflt: float = math.nan
    majflt: float = math.nan
    rc: int = 0
    check: str = ""
    metrics: dict = field(default_factory=dict)
    samples: list = field(default_factory=list)
    error: str = ""

    @property
    def ok(self):
        return self.status == "ok"


def fill_from_child(run, c, check_from_output=True):
    run.wall, run.rc = c.wall, c.rc
    run.user, run.sys, run.maxrss_kb, run.minflt, run.majflt = c.user, c.sys, c.maxrss_kb, c.minflt, c.majflt
    checks = []
    for line in c.out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "check":
            checks.append(" ".join(parts[1:]))
        elif parts[0] == "metric" and len(parts) >= 3:
            try:
                run.metrics[parts[1]] = float(parts[2])
            except ValueError:
                pass
        elif parts[0] == "sample" and len(parts) >= 3:
            run.samples.append((int(parts[1]), int(parts[2])))
    if check_from_output:
        run.check = " | ".join(checks)
    if c.timed_out:
        run.status, run.error = "timeout", f"timed out after {c.wall:.0f} s"
    elif c.rc != 0:
        run.status = "fail"
        run.error = (describe_exit(c.rc) + ": " + last_line(c.err)).rstrip(": ")
    elif check_from_output and not checks:
        run.status, run.error = "fail", "no check line in the output"


# --------------------------------------------------------------------------
# workloads

@dataclass
class Workload:
    name: str
    group: str          # single, threads, memory, real
    models: str         # one line: what it models
    base: str           # name without the -Nt suffix
    kind: str = "c"     # c, redis, program
    binary: str = ""    # C workloads: bench/out/<binary>
    args: list = field(default_factory=list)
    threads: int = 0
    setup: object = None    # real programs: callable(workdir, quick) -> argv, stdin, cwd
    env_extra: dict = field(default_factory=dict)
    skip: str = ""          # why it cannot run here


# C workloads: base name, source, group, default args, quick args, threaded.
# Sizes give roughly 0.5-3 s on glibc at default size on a small x86 machine.
C_WORKLOADS = [
    ("cfrac", "cfrac", "single", [1000000], [250000], False),
    ("espresso", "espresso", "single", [3000], [800], False),
    ("binary-trees", "binary-trees", "single", [17], [15], False),
    ("realloc", "realloc", "single", [2000000], [500000], False),
    ("bench-malloc-simple", "bench-malloc-simple", "single", [200000], [50000], False),
    ("sh6bench", "shbench", "single", [6, 50], [6, 15], False),
    ("sh8bench", "shbench", "single", [8, 30], [8, 8], False),
    ("malloc-large", "malloc-large", "single", [40], [12], False),
    ("larson", "larson", "threads", [8000000], [2000000], True),
    ("xmalloc-test", "xmalloc-test", "threads", [3000000], [750000], True),
    ("cache-scratch", "cache-scratch", "threads", [100000], [25000], True),
    ("cache-thrash", "cache-thrash", "threads", [100000], [25000], True),
    ("mstress", "mstress", "threads", [1500000], [500000], True),
    ("rptest", "rptest", "threads", [4000000], [1000000], True),
    ("bench-malloc-thread", "bench-malloc-thread", "threads", [12000000], [3000000], True),
    ("fragmentation", "fragmentation", "memory", [100], [50], False),
    ("rss-over-time", "rss-over-time", "memory", [80000], [30000], False),
    ("malloc-trim", "malloc-trim", "memory", [200], [80], False),
]


def models_line(source):
    """The first line of a workload's source: '/* name: models ... */'."""
    try:
        first = (SRC / f"{source}.c").read_text().splitlines()[0]
    except (OSError, IndexError):
        return ""
    first = first.strip().removeprefix("/*").removesuffix("*/").strip()
    first = first.partition(":")[2].strip() if ":" in first else first
    return first.removeprefix("models ")


def thread_counts():
    spec = os.environ.get("THREADS", "").strip()
    if spec:
        try:
            ts = sorted({int(x) for x in spec.split(",") if x.strip()})
        except ValueError:
            sys.exit(f"THREADS must be a list of numbers, not '{spec}'")
        if not ts or min(ts) < 1:
            sys.exit("THREADS must list counts of at least 1")
        return ts
    return sorted({1, 2, os.cpu_count() or 1})


def all_workloads(quick):
    wls = []
    for base, source, group, args, qargs, threaded in C_WORKLOADS:
        a = qargs if quick else args
        models = models_line(source)
        if threaded:
            for t in thread_counts():
                wls.append(Workload(f"{base}-{t}t", group, models, base, "c", source, [*a, t], t))
        else:
            wls.append(Workload(base, group, models, base, "c", source, list(a)))
    wls.append(Workload("redis", "real", "redis-server (LD_PRELOAD) driven by redis-benchmark on loopback: "
                        "set/get/incr/lists/sets/hashes/zsets/mset, fixed request count, random port",
                        "redis", "redis",
                        skip="" if shutil.which("redis-server") and shutil.which("redis-benchmark")
                        else "redis-server or redis-benchmark not installed"))
    wls.append(Workload("sqlite3", "real", "sqlite3 CLI running a generated script: bulk inserts, indexes, "
                        "group-by and join queries, updates, deletes, on an in-memory database",
                        "sqlite3", "program", setup=setup_sqlite,
                        skip="" if shutil.which("sqlite3") else "sqlite3 not installed"))
    wls.append(Workload("python", "real", "python3 (PYTHONMALLOC=malloc, so objects come from the allocator) "
                        "building, serialising and indexing dicts, strings and JSON",
                        "python", "program", setup=setup_python,
                        env_extra={"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}))
    wls.append(Workload("gcc", "real", "gcc -O1 compiling a large generated C file (cc1 and as run on the allocator)",
                        "gcc", "program", setup=setup_gcc,
                        skip="" if shutil.which("gcc") else "gcc not installed"))
    return wls


def select_workloads(wls, spec):
    if not spec:
        return wls
    pats = [p.strip() for p in spec.split(",") if p.strip()]
    chosen = [w for w in wls if any(p == w.name or p == w.base or p == w.group or fnmatch.fnmatch(w.name, p)
                                    for p in pats)]
    if not chosen:
        sys.exit(f"WORKLOADS={spec} matches none of: {', '.join(w.name for w in wls)}")
    return chosen


def compile_workloads(sources):
    OUT.mkdir(exist_ok=True)
    cc = os.environ.get("CC", "cc")
    todo = [(SRC / f"{s}.c", OUT / s) for s in sorted(set(sources))]
    todo += [(HARNESS / f"{s}.c", OUT / s) for s in ("measure", "probe")]
    for src, exe in todo:
        deps = [src, SRC / "common.h"]
        if exe.exists() and all(exe.stat().st_mtime >= d.stat().st_mtime for d in deps):
            continue
        cmd = [cc, "-O2", "-pthread", "-Wall", "-Wextra", "-o", str(exe), str(src), "-ldl"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"compiling {src.name} failed:\n{r.stderr}")


# ---- real programs: inputs are generated once, in a temporary directory

def setup_sqlite(work, quick):
    rows = 20000 if quick else 70000
    rng = random.Random(42)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10))) for _ in range(2000)]
    lines = ["PRAGMA cache_size=-100000;",
             "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL, d BLOB);",
             "CREATE TABLE tag(tid INTEGER, name TEXT);",
             "BEGIN;"]
    for i in range(rows):
        b = " ".join(rng.choice(words) for _ in range(rng.randint(1, 6)))
        lines.append(f"INSERT INTO t(a,b,c,d) VALUES({rng.randint(0, 10**6)},'{b}',{rng.random() * 1000:.6f},"
                     f"zeroblob({rng.randint(0, 300)}));")
        if i % 3 == 0:
            lines.append(f"INSERT INTO tag VALUES({i + 1},'{rng.choice(words)}');")
    lines += [
        "COMMIT;",
        "CREATE INDEX t_a ON t(a);",
        "CREATE INDEX t_b ON t(b);",
        "CREATE INDEX tag_name ON tag(name, tid);",
        "SELECT count(*), sum(a), round(sum(c), 3), sum(length(b)), sum(length(d)) FROM t;",
        "SELECT substr(b, 1, 2) AS p, count(*), max(a) FROM t GROUP BY p ORDER BY 2 DESC, 1 LIMIT 15;",
        "SELECT name, count(*), sum(t.a) % 1000003 FROM tag JOIN t ON t.id = tag.tid GROUP BY name "
        "ORDER BY 2 DESC, 1 LIMIT 15;",
        "SELECT count(*) FROM t WHERE a BETWEEN 250000 AND 500000;",
        "SELECT b FROM t WHERE b LIKE 'ab%' ORDER BY b, id LIMIT 10;",
        "UPDATE t SET c = c * 2, b = upper(b) WHERE a % 7 = 0;",
        "DELETE FROM t WHERE a % 11 = 0;",
        "CREATE TABLE agg AS SELECT a % 1000 AS k, count(*) AS n, avg(c) AS m, group_concat(substr(b, 1, 3)) AS s "
        "FROM t GROUP BY k;",
        "SELECT count(*), sum(n), round(sum(m), 3), sum(length(s)) FROM agg;",
        "SELECT k, n, length(s) FROM agg ORDER BY n DESC, k LIMIT 10;",
        "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 20000) "
        "SELECT count(*), sum(length(printf('%08d-%s', x, hex(x * 7919)))) FROM r;",
        "SELECT count(DISTINCT b), count(DISTINCT a % 5000) FROM t;",
        "DROP INDEX t_b;",
        "VACUUM;",
        "SELECT count(*), sum(a) FROM t;",
    ]
    script = work / "sqlite.sql"
    script.write_text("\n".join(lines) + "\n")
    return [shutil.which("sqlite3"), "-batch", ":memory:"], str(script), None


PY_SCRIPT = r'''
import hashlib, json, random, sys
n = int(sys.argv[1])
rng = random.Random(12345)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 12))) for _ in range(5000)]
docs = []
for i in range(n):
    docs.append({"id": i, "name": rng.choice(words) + "-" + str(i),
                 "tags": rng.sample(words, rng.randint(1, 8)), "score": rng.random(),
                 "nested": {"a": [rng.randint(0, 1000) for _ in range(rng.randint(0, 20))],
                            "b": rng.choice(words) * rng.randint(1, 5)}})
text = json.dumps(docs)
back = json.loads(text)
if back != docs:
    sys.exit("json round trip changed the data")
index = {}
for d in back:
    for t in d["tags"]:
        index.setdefault(t, []).append(d["id"])
top = sorted(((len(v), k) for k, v in index.items()), reverse=True)[:20]
parts = " ".join(d["name"] for d in back).split(" ")
joined = "|".join(sorted(p.upper()[::-1] for p in parts))
cache = {}
for i in range(n * 6):
    k = words[i % len(words)] + str(i % 9973)
    cache[k] = cache.get(k, 0) + i
    if len(cache) > 8000:
        for kk in list(cache)[:4000]:
            del cache[kk]
per = {}
for d in back:
    key = (d["name"][:2], len(d["tags"]))
    per[key] = per.get(key, "") + d["nested"]["b"][:3]
h = hashlib.sha256()
h.update(json.dumps(top).encode())
h.update(joined.encode())
h.update(json.dumps(sorted(cache.items())).encode())
h.update(json.dumps(sorted((list(k), v) for k, v in per.items())).encode())
print("check python", len(text), h.hexdigest())
'''


def python_exe():
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def setup_python(work, quick):
    script = work / "dicts.py"
    script.write_text(PY_SCRIPT)
    return [python_exe(), str(script), "8000" if quick else "20000"], None, None


def setup_gcc(work, quick):
    nfun = 70 if quick else 180
    rng = random.Random(7)
    out = io.StringIO()
    out.write("/* generated by bench/run.py */\n#include <stddef.h>\n#include <string.h>\n\n")
    for i in range(nfun):
        out.write(f"struct s{i} {{ int a; long b; double c; char name[{rng.randint(4, 40)}]; struct s{i} *next; }};\n")
        out.write(f"static const char *names{i}[] = {{" +
                  ", ".join(f'"n{i}_{k}_{rng.randint(0, 99999)}"' for k in range(rng.randint(2, 8))) + "};\n")
        callee = f"f{rng.randint(0, i - 1)}(s ? (struct s{rng.randint(0, i - 1)} *)0 : 0, n / 2)" if i else "0"
        out.write(f"long f{i}(struct s{i} *s, int n);\n")
        out.write(f"long f{i}(struct s{i} *s, int n) {{\n  long acc = {rng.randint(0, 1000)};\n")
        out.write(f"  for (int i = 0; i < n; i++) {{\n    switch ((i * {rng.randint(1, 17)} + acc) % {rng.randint(3, 9)}) {{\n")
        for c in range(rng.randint(3, 9)):
            op = rng.choice(["acc += i * %d;" % rng.randint(1, 99), "acc ^= acc >> %d;" % rng.randint(1, 9),
                             "acc -= (long)strlen(names%d[i %% %d]);" % (i, 2),
                             "if (s) acc += s->a + (long)s->c; else acc++;",
                             "acc = acc * %d + %d;" % (rng.randint(2, 9), rng.randint(0, 50))])
            out.write(f"    case {c}: {op} break;\n")
        out.write("    default: acc--; break;\n    }\n  }\n")
        out.write(f"  if (n > 1 && (acc & {rng.randint(1, 7)})) acc += {callee};\n  return acc;\n}}\n\n")
    out.write("long entry(int n);\nlong entry(int n) {\n  long s = 0;\n")
    for i in range(0, nfun, max(1, nfun // 50)):
        out.write(f"  s += f{i}(0, n);\n")
    out.write("  return s;\n}\n")
    (work / "big.c").write_text(out.getvalue())
    return [shutil.which("gcc"), "-O1", "-w", "-c", "big.c", "-o", "big.o"], None, str(work)


# ---- redis

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def resp_read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed")
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b"-"):
        return (t + rest).decode()
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b"*":
        return [resp_read(f) for _ in range(int(rest))]
    raise ValueError(f"bad reply {line!r}")


def redis_ready(port, deadline, proc):
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(resp("PING"))
                if s.makefile("rb").readline().startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def redis_verify(port, count=3000):
    """Deterministic traffic after the benchmark: store values of many sizes,
    read them back, compare.  Returns the check string."""
    rng = random.Random(99)
    vals = [bytes(rng.randrange(256) for _ in range(rng.choice([1, 10, 100, 1000, 5000]))) for _ in range(200)]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")
        s.sendall(b"".join(resp("SET", f"verify:{i}", vals[i % len(vals)]) for i in range(count)))
        for _ in range(count):
            if resp_read(f) != "+OK":
                raise ValueError("SET failed")
        s.sendall(b"".join(resp("GET", f"verify:{i}") for i in range(count)))
        bad = sum(resp_read(f) != vals[i % len(vals)] for i in range(count))
        s.sendall(resp("RPUSH", "verify:list", *[str(i) for i in range(1000)]))
        resp_read(f)
        s.sendall(resp("LRANGE", "verify:list", 0, -1))
        lst = resp_read(f)
        if bad or lst != [str(i).encode() for i in range(1000)]:
            raise ValueError(f"{bad} of {count} values read back wrong")
    return f"redis verified={count} list=1000"


REDIS_TESTS = "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset"


def run_redis(wl, alloc, quick, timeout, work):
    """redis-server on the allocator (under measure, for its rusage), driven by
    redis-benchmark (not preloaded) with a fixed number of requests per test.
    Time: the client's wall time.  CPU, peak RSS, faults: the server's."""
    run = Run(wl.name, wl.group, alloc.name, 0)
    server, bench = shutil.which("redis-server"), shutil.which("redis-benchmark")
    n = 5000 if quick else 15000
    ntests = len(REDIS_TESTS.split(","))
    port = free_port()
    rdir = Path(tempfile.mkdtemp(dir=work))
    report = rdir / "server.rusage"
    logf = open(rdir / "server.log", "wb")
    t_start = time.monotonic()
    p = subprocess.Popen(measure_cmd(report, alloc.preload(libc_first=True), [
        server, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
        "--protected-mode", "no", "--dir", rdir, "--loglevel", "warning"]),
        env=clean_env(), stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)

    def server_log():
        r = read_report(report)
        parts = [describe_exit(status_to_rc(r[6])) if r else "", last_line((rdir / "server.log").read_text(errors="replace"))]
        return ": ".join(x for x in parts if x)

    try:
        if not redis_ready(port, time.monotonic() + 20, p) or p.poll() is not None:
            run.status, run.error = "fail", "redis-server did not start: " + server_log()
            return run
        c = run_child([bench, "-h", "127.0.0.1", "-p", port, "-n", n, "-c", "20", "-P", "16", "-r", "100000",
                       "-d", "64", "-q", "-t", REDIS_TESTS], "", clean_env(),
                      max(1.0, timeout - (time.monotonic() - t_start)))
        run.wall = c.wall
        if c.timed_out or c.rc != 0 or p.poll() is not None:
            run.status = "timeout" if c.timed_out else "fail"
            run.error = (f"redis-server died: {server_log()}" if p.poll() is not None else
                         f"redis-benchmark {describe_exit(c.rc)}: {last_line(c.err or c.out)}")
            return run
        done = {m.group(1) for m in re.finditer(r"^([A-Z_0-9]+)[^:\n]*: +[\d.]+ requests per second",
                                                 c.out.replace("\r", "\n"), re.M)}
        if len(done) != ntests:
            run.status, run.error = "fail", f"redis-benchmark finished {len(done)} of {ntests} tests"
            return run
        run.metrics["requests_per_s"] = ntests * n / c.wall
        try:
            run.check = redis_verify(port)
        except (OSError, ValueError, ConnectionError) as e:
            run.status, run.error = "wrong", f"verification: {e}"
            return run
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(resp("SHUTDOWN", "NOSAVE"))
                s.recv(100)
        except OSError:
            pass
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            run.status, run.error = "timeout", "redis-server did not shut down"
            return run
        r = read_report(report)
        if r is None:
            run.status, run.error = "fail", "no rusage report from the server"
            return run
        run.user, run.sys, run.maxrss_kb, run.minflt, run.majflt = r[1], r[2], r[3], r[4], r[5]
        run.rc = status_to_rc(r[6])
        if run.rc != 0:
            run.status, run.error = "fail", f"redis-server {describe_exit(run.rc)} at shutdown: {server_log()}"
        return run
    finally:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
        logf.close()
        shutil.rmtree(rdir, ignore_errors=True)


# ---- one run of any workload

class Runner:
    def __init__(self, quick, work):
        self.quick = quick
        self.work = work
        self.prepared = {}   # workload name -> (argv, stdin, cwd)

    def run(self, wl, alloc, index, timeout):
        if wl.kind == "redis":
            r = run_redis(wl, alloc, self.quick, timeout, self.work)
            r.run = index
            return r
        run = Run(wl.name, wl.group, alloc.name, index)
        if wl.kind == "c":
            c = run_child([OUT / wl.binary] + wl.args, alloc.preload(), clean_env(), timeout)
            fill_from_child(run, c)
            return run
        # real program: same input for every allocator, its output hashed
        if wl.name not in self.prepared:
            d = self.work / wl.name
            d.mkdir(exist_ok=True)
            self.prepared[wl.name] = wl.setup(d, self.quick)
        argv, stdin, cwd = self.prepared[wl.name]
        env = clean_env(wl.env_extra)
        if cwd:
            for f in Path(cwd).glob("*.o"):
                f.unlink()
        c = run_child(argv, alloc.preload(), env, timeout, cwd=cwd, stdin_path=stdin)
        fill_from_child(run, c, check_from_output=False)
        if run.ok:
            h = hashlib.sha256(c.out.encode())
            if cwd:
                obj = Path(cwd) / "big.o"
                if not obj.exists():
                    run.status, run.error = "fail", "no object file written"
                    return run
                h.update(obj.read_bytes())
            run.check = f"{wl.name} output sha256 {h.hexdigest()[:16]}"
        return run


# --------------------------------------------------------------------------
# statistics

def median(xs):
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return statistics.median(xs) if xs else math.nan


def geomean(xs):
    xs = [x for x in xs if x and not math.isnan(x) and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else math.nan


class Summary:
    """Medians per workload and allocator, and the ratios the report needs."""

    def __init__(self, workloads, allocators, runs):
        self.workloads, self.allocators = workloads, allocators
        self.names = [a.name for a in allocators]
        self.cells = {}   # (workload, allocator) -> dict
        for w in workloads:
            for a in allocators:
                rs = [r for r in runs if r.workload == w.name and r.allocator == a.name]
                timed = [r for r in rs if r.run > 0] or rs   # quick: the one run
                bad = [r for r in rs if not r.ok]
                cell = {"n": 0, "status": "ok"}
                if bad:
                    cell["status"] = bad[0].status
                    cell["error"] = bad[0].error
                elif not rs:
                    cell["status"] = "none"
                else:
                    cell["n"] = len(timed)
                    for k in ("wall", "user", "sys", "maxrss_kb", "minflt", "majflt"):
                        cell[k] = median([getattr(r, k) for r in timed])
                    keys = list(dict.fromkeys(k for r in timed for k in r.metrics))  # in printed order
                    cell["metrics"] = {k: median([r.metrics.get(k, math.nan) for r in timed]) for k in keys}
                self.cells[(w.name, a.name)] = cell

    def get(self, w, a, key):
        c = self.cells.get((w, a))
        return c.get(key, math.nan) if c and c["status"] == "ok" else math.nan

    def ratio(self, w, a, base, key):
        x, y = self.get(w, a, key), self.get(w, base, key)
        return x / y if y and not math.isnan(x) and not math.isnan(y) else math.nan

    def geo(self, a, base, key):
        return geomean([self.ratio(w.name, a, base, key) for w in self.workloads])

    def leanest_peer(self, w):
        vals = [(self.get(w, a.name, "maxrss_kb"), a.name) for a in self.allocators if a.is_peer]
        vals = [v for v in vals if not math.isnan(v[0])]
        return min(vals) if vals else (math.nan, None)


# --------------------------------------------------------------------------
# the report

def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info(allocators):
    info = {}
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["CPU"] = model or platform.processor() or platform.machine()
    info["Cores"] = f"{os.cpu_count()} online, {len(os.sched_getaffinity(0))} usable by this process"
    try:
        mem = next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]
        info["Memory"] = f"{int(mem) / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    info["Kernel"] = f"{platform.system()} {platform.release()} ({platform.machine()})"
    try:
        info["glibc"] = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        info["glibc"] = " ".join(platform.libc_ver())
    try:
        thp = open("/sys/kernel/mm/transparent_hugepage/enabled").read().strip()
        info["Transparent huge pages"] = thp
    except OSError:
        pass
    pk = {}
    for a in allocators:
        if a.package:
            v = sh(["dpkg-query", "-W", "-f=${Version}", a.package])
            pk[a.name] = f"{a.package} {v}" if v else a.package
        elif a.path:
            pk[a.name] = a.path
    for name, pkg in [("redis", "redis-server"), ("sqlite3", "sqlite3"), ("gcc", "gcc-12"), ("python3", "python3")]:
        v = sh(["dpkg-query", "-W", "-f=${Version}", pkg])
        if v:
            pk[name] = f"{pkg} {v}"
    info["Versions"] = "; ".join(f"{k}: {v}" for k, v in pk.items())
    info["Compiler for the workloads"] = sh([os.environ.get("CC", "cc"), "--version"]).splitlines()[0] if sh(
        [os.environ.get("CC", "cc"), "--version"]) else "?"
    return info


def depot_info(allocators):
    d = next((a for a in allocators if a.name == "depot"), None)
    if not d:
        return f"not included ({DEPOT_SO.relative_to(ROOT)} absent or not selected)"
    head = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]) or "?"
    dirty = " + uncommitted changes in src/" if sh(["git", "-C", str(ROOT), "status", "--porcelain", "src"]) else ""
    built = datetime.datetime.fromtimestamp(DEPOT_SO.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    s = f"{DEPOT_SO.relative_to(ROOT)}, built {built}, source at commit {head}{dirty}"
    if d.broken:
        s += f" -- BROKEN: {d.broken}"
    return s


def fmt_time(x):
    if math.isnan(x):
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def fmt_mb(kb):
    if math.isnan(kb):
        return "-"
    mb = kb / 1024
    return f"{mb:.1f}" if mb < 100 else f"{mb:.0f}"


def fmt_ratio(r):
    return "-" if math.isnan(r) else f"{r:.2f}"


def status_text(cell):
    st = cell["status"]
    return {"fail": "FAIL", "timeout": "TIMEOUT", "wrong": "WRONG", "broken": "BROKEN", "none": "n/a"}.get(st, st)


def target_misses(S):
    """depot's misses: {(workload, 'time'|'rss'): reason} and the geomean verdict."""
    misses = {}
    if "depot" not in S.names:
        return misses
    for w in S.workloads:
        c = S.cells[(w.name, "depot")]
        if c["status"] != "ok":
            misses[(w.name, "time")] = misses[(w.name, "rss")] = status_text(c)
            continue
        if "mimalloc" in S.names:
            r = S.ratio(w.name, "depot", "mimalloc", "wall")
            if not math.isnan(r) and r > 1.5:
                misses[(w.name, "time")] = f"{r:.3f}x mimalloc"
        lean, who = S.leanest_peer(w.name)
        if who:
            r = S.get(w.name, "depot", "maxrss_kb") / lean
            if r > 1.1:
                misses[(w.name, "rss")] = f"{r:.3f}x {who}"
    return misses


def cell_text(S, w, a, key, fmt, misses, what):
    c = S.cells[(w, a)]
    if c["status"] != "ok":
        txt = status_text(c)
    else:
        v = fmt(S.get(w, a, key))
        rm = S.ratio(w, a, "mimalloc", key) if "mimalloc" in S.names else math.nan
        rg = S.ratio(w, a, "glibc", key) if "glibc" in S.names else math.nan
        txt = f"{v} ({fmt_ratio(rm)} / {fmt_ratio(rg)})"
    if a == "depot" and (w, what) in misses:
        txt = "❌ " + txt
    return txt


def write_results_md(path, S, runs, cfg, info, misses, elapsed, skipped):
    A = S.names
    o = io.StringIO()
    w = o.write
    w("# depot benchmark results\n\n")
    w(f"Generated {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} by `python3 bench/run.py"
      f"{' --quick' if cfg['quick'] else ''}`: {cfg['runs']} timed run(s) per allocator and workload"
      f"{', after one warm-up run' if cfg['warmup'] else ', no warm-up'}, allocators interleaved "
      f"({' '.join(A)}, {' '.join(A)}, ...); took {elapsed / 60:.1f} min. "
      f"Thread counts: {', '.join(map(str, cfg['threads']))}.\n\n")
    if cfg.get("progress"):
        w(f"**Incomplete: {cfg['progress']}.**\n\n")
    if cfg["quick"]:
        w("**Quick pass**: one run at reduced sizes; a smoke test of the suite and a rough picture, not a "
          "measurement to quote.\n\n")
    w("## Machine\n\n")
    for k, v in info.items():
        w(f"- {k}: {v}\n")
    w(f"- depot: {depot_info(S.allocators)}\n")
    w(f"- Load average at start / end: {cfg['load_start']} / {cfg['load_end']} (a shared machine: the "
      "interleaving spreads noise over all allocators, the medians damp it)\n")
    for a in S.allocators:
        if a.broken:
            w(f"- **{a.name} could not be measured**: {a.broken}\n")
    for name, why in skipped:
        w(f"- workload {name} skipped: {why}\n")
    w("\n")

    # targets
    w("## depot against the targets\n\n")
    if "depot" not in A:
        w("depot was not part of this run, so the targets were not evaluated.\n\n")
    else:
        g = S.geo("depot", "mimalloc", "wall") if "mimalloc" in A else math.nan
        ok = "✅" if not math.isnan(g) and g <= 1.0 else "❌"
        nfail = sum(1 for wl in S.workloads if S.cells[(wl.name, "depot")]["status"] != "ok")
        w("| target | result | verdict |\n|---|---|---|\n")
        w(f"| geometric mean time at most mimalloc's | {fmt_ratio(g)}x mimalloc "
          f"(over the {len(S.workloads) - nfail} workloads depot completed) | {ok if nfail == 0 else '❌ (and ' + str(nfail) + ' failed)'} |\n")
        tm = [f"{wl} ({why})" for (wl, k), why in misses.items() if k == "time"]
        w(f"| no workload slower than 1.5x mimalloc | {len(tm)} miss(es) | {'✅' if not tm else '❌ ' + ', '.join(tm)} |\n")
        rm = [f"{wl} ({why})" for (wl, k), why in misses.items() if k == "rss"]
        w(f"| peak RSS at most 1.1x the leanest peer, each workload | {len(rm)} miss(es) | "
          f"{'✅' if not rm else '❌ ' + ', '.join(rm)} |\n\n")
        w("Cells of depot that miss a target are marked ❌ in the tables below.\n\n")

    def table(title, key, fmt, unit, what):
        w(f"## {title}\n\n")
        w(f"Median {unit}; in brackets the ratio to mimalloc / to glibc (below 1: faster or leaner). "
          "Ratios are taken between medians of this run only.\n\n")
        w("| workload | " + " | ".join(A) + " |\n|---|" + "---|" * len(A) + "\n")
        for wl in S.workloads:
            w(f"| {wl.name} | " + " | ".join(cell_text(S, wl.name, a, key, fmt, misses, what) for a in A) + " |\n")
        for base in ("mimalloc", "glibc"):
            if base in A:
                w(f"| **geomean ratio to {base}** | " + " | ".join(fmt_ratio(S.geo(a, base, key)) for a in A) + " |\n")
        w("\n")

    table("Time (wall seconds)", "wall", fmt_time, "wall-clock seconds", "time")
    table("Peak RSS (MiB)", "maxrss_kb", fmt_mb, "peak resident set size in MiB (ru_maxrss of the process)", "rss")

    w("## CPU time and page faults\n\n")
    w("Medians: user + system CPU seconds, and minor page faults; major faults are listed only where there "
      "were any.\n\n")
    w("| workload | " + " | ".join(A) + " |\n|---|" + "---|" * len(A) + "\n")
    for wl in S.workloads:
        cells = []
        for a in A:
            c = S.cells[(wl.name, a)]
            if c["status"] != "ok":
                cells.append(status_text(c))
                continue
            flt = f"{c['minflt'] / 1000:.0f}k" if c["minflt"] >= 10000 else f"{c['minflt']:.0f}"
            t = f"{c['user']:.2f}+{c['sys']:.2f} s, {flt} flt"
            if c["majflt"] > 0:
                t += f", {c['majflt']:.0f} major"
            cells.append(t)
        w(f"| {wl.name} | " + " | ".join(cells) + " |\n")
    w("\n")

    mwl = [wl for wl in S.workloads if any(S.cells[(wl.name, a)].get("metrics") for a in A)]
    if mwl:
        w("## Numbers the workloads report\n\n")
        w("Medians of what each workload prints about itself (throughput of the thread workloads, RSS at "
          "each phase of the memory workloads, requests per second of redis).\n\n")
        w("| workload | metric | " + " | ".join(A) + " |\n|---|---|" + "---|" * len(A) + "\n")
        for wl in mwl:
            keys = list(dict.fromkeys(k for a in A for k in S.cells[(wl.name, a)].get("metrics", {})))
            for k in keys:
                vals = []
                for a in A:
                    v = S.cells[(wl.name, a)].get("metrics", {}).get(k, math.nan)
                    vals.append("-" if math.isnan(v) else f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}")
                w(f"| {wl.name} | {k} | " + " | ".join(vals) + " |\n")
        w("\n")

    bad = [r for r in runs if not r.ok and r.status != "broken"]   # broken allocators: listed above
    w("## Failures\n\n")
    if not bad:
        w("None: every run finished and printed the same check line as the other allocators.\n\n")
    else:
        w("A failed (allocator, workload) pair is not run again in the same suite run.\n\n")
        w("| workload | allocator | run | status | detail |\n|---|---|---|---|---|\n")
        for r in bad:
            w(f"| {r.workload} | {r.allocator} | {'warm-up' if r.run == 0 else r.run} | {r.status} | "
              f"{r.error.replace('|', '/')} |\n")
        w("\n")

    w("## Workloads\n\n")
    w("| workload | group | models |\n|---|---|---|\n")
    for wl in S.workloads:
        args = " ".join(map(str, wl.args)) if wl.kind == "c" else ""
        w(f"| {wl.name} | {wl.group} | {wl.models}{' (args: ' + args + ')' if args else ''} |\n")
    w("\nSee bench/README.md for how to run the suite and read these tables. All runs are in "
      "bench/results.csv; chart.svg shows time and peak RSS relative to mimalloc, rss-over-time.svg the "
      "RSS curve of the rss-over-time workload.\n")
    path.write_text(o.getvalue())


def write_csv(path, runs):
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["workload", "group", "allocator", "run", "warmup", "status", "wall_s", "user_s", "sys_s",
                     "maxrss_kb", "minflt", "majflt", "exit", "check", "metrics", "error"])
        for r in runs:
            def num(x, d=4):
                return "" if x is None or (isinstance(x, float) and math.isnan(x)) else (
                    f"{x:.{d}f}" if isinstance(x, float) and not x.is_integer() else str(int(x)))
            wr.writerow([r.workload, r.group, r.allocator, r.run, int(r.run == 0), r.status, num(r.wall),
                         num(r.user), num(r.sys), num(r.maxrss_kb), num(r.minflt), num(r.majflt), r.rc, r.check,
                         json.dumps(r.metrics, sort_keys=True) if r.metrics else "", r.error])


# ---- SVG

COLORS = {"depot": "#d62728", "glibc": "#7f7f7f", "jemalloc": "#1f77b4", "mimalloc": "#2ca02c",
          "tcmalloc": "#ff7f0e"}
EXTRA_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def color_of(names):
    out, k = {}, 0
    for n in names:
        if n in COLORS:
            out[n] = COLORS[n]
        else:
            out[n] = EXTRA_COLORS[k % len(EXTRA_COLORS)]
            k += 1
    return out


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def write_chart(path, S):
    A = S.names
    base = "mimalloc" if "mimalloc" in A else ("glibc" if "glibc" in A else A[0])
    col = color_of(A)
    W_BAR, GAP = 9, 14
    gw = len(A) * W_BAR + GAP
    left, top = 70, 60
    width = left + len(S.workloads) * gw + 30
    ph = 240                 # height of one panel
    lo, hi = -3, 3           # log2 range shown: 1/8 .. 8
    unit = ph / (hi - lo)
    label_h = 130
    height = top + 2 * ph + 60 + label_h
    o = io.StringIO()
    w = o.write
    w(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
      'font-family="sans-serif" font-size="11">\n')
    w(f'<rect width="{width}" height="{height}" fill="white"/>\n')
    w(f'<text x="{left}" y="20" font-size="15" font-weight="bold">depot benchmark: median time and peak RSS '
      f'relative to {base} (log scale; bars below the 1x line are faster / leaner)</text>\n')
    x = left
    for a in A:
        w(f'<rect x="{x}" y="32" width="12" height="12" fill="{col[a]}"/><text x="{x + 16}" y="42">{esc(a)}</text>\n')
        x += 30 + 7 * len(a)
    w(f'<text x="{x + 10}" y="42" fill="#555">x: failed or not run; arrows: off the scale</text>\n')
    for pi, (key, title) in enumerate([("wall", "time"), ("maxrss_kb", "peak RSS")]):
        y0 = top + pi * (ph + 30)
        ymid = y0 + hi * unit    # the 1x line

        def ypos(r):
            return ymid - math.log2(r) * unit

        w(f'<text x="10" y="{y0 + ph / 2}" transform="rotate(-90 10 {y0 + ph / 2})" text-anchor="middle" '
          f'font-weight="bold">{title} / {base}</text>\n')
        for e in range(lo, hi + 1):
            yy = ymid - e * unit
            w(f'<line x1="{left}" x2="{width - 20}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{"#000" if e == 0 else "#ddd"}" '
              f'stroke-width="{1.2 if e == 0 else 0.7}"/>\n')
            lab = f"{2 ** e:g}x" if e >= 0 else f"1/{2 ** -e}x"
            w(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#444">{lab}</text>\n')
        for i, wl in enumerate(S.workloads):
            gx = left + i * gw + GAP / 2
            if i % 2 == 0:
                w(f'<rect x="{gx - GAP / 2:.1f}" y="{y0}" width="{gw}" height="{ph}" fill="#f4f4f4" opacity="0.6"/>\n')
            for j, a in enumerate(A):
                bx = gx + j * W_BAR
                r = S.ratio(wl.name, a, base, key)
                if math.isnan(r):
                    w(f'<text x="{bx + W_BAR / 2:.1f}" y="{ymid - 3:.1f}" text-anchor="middle" fill="{col[a]}" '
                      f'font-weight="bold">x<title>{esc(wl.name)} {esc(a)}: '
                      f'{status_text(S.cells[(wl.name, a)])}</title></text>\n')
                    continue
                lr = max(lo, min(hi, math.log2(r)))
                yb = ymid - lr * unit
                y1, y2 = min(ymid, yb), max(ymid, yb)
                val = S.get(wl.name, a, key)
                vtxt = f"{val:.3f} s" if key == "wall" else f"{val / 1024:.1f} MiB"
                w(f'<rect x="{bx:.1f}" y="{y1:.1f}" width="{W_BAR - 1}" height="{max(0.8, y2 - y1):.1f}" '
                  f'fill="{col[a]}"><title>{esc(wl.name)} {esc(a)}: {vtxt}, {r:.2f}x {base}</title></rect>\n')
                if math.log2(r) > hi or math.log2(r) < lo:
                    ty = y0 + 2 if math.log2(r) > hi else y0 + ph - 2
                    d = 6 if math.log2(r) > hi else -6
                    w(f'<path d="M{bx:.1f},{ty + d:.1f} L{bx + W_BAR / 2 - 0.5:.1f},{ty:.1f} L{bx + W_BAR - 1:.1f},'
                      f'{ty + d:.1f} Z" fill="black"/>\n')
    ly = top + 2 * ph + 40
    for i, wl in enumerate(S.workloads):
        gx = left + i * gw + gw / 2
        w(f'<text x="{gx:.1f}" y="{ly}" transform="rotate(-50 {gx:.1f} {ly})" text-anchor="end">{esc(wl.name)}</text>\n')
    w("</svg>\n")
    path.write_text(o.getvalue())


def write_rss_svg(path, S, runs):
    """One line per allocator: the RSS samples of its median-time run of rss-over-time."""
    A = S.names
    col = color_of(A)
    curves = {}
    for a in A:
        rs = [r for r in runs if r.workload == "rss-over-time" and r.allocator == a and r.ok and r.samples]
        timed = [r for r in rs if r.run > 0] or rs
        if timed:
            timed.sort(key=lambda r: r.wall)
            curves[a] = timed[(len(timed) - 1) // 2].samples
    width, height, left, top, right, bottom = 900, 460, 70, 50, 150, 50
    o = io.StringIO()
    w = o.write
    w(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
      'font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n')
    w(f'<text x="{left}" y="22" font-size="15" font-weight="bold">rss-over-time: resident memory of the same '
      'work on each allocator (median-time run)</text>\n')
    if not curves:
        w(f'<text x="{left}" y="80">no samples: the rss-over-time workload was not run or failed everywhere</text>\n')
    else:
        tmax = max(t for c in curves.values() for t, _ in c) / 1000 or 1
        rmax = max(r for c in curves.values() for _, r in c) / 1024 or 1
        tstep = nice_step(tmax)
        rstep = nice_step(rmax)
        tmax = math.ceil(tmax / tstep) * tstep
        rmax = math.ceil(rmax / rstep) * rstep
        pw, ph = width - left - right, height - top - bottom

        def X(t):
            return left + t / tmax * pw

        def Y(r):
            return top + ph - r / rmax * ph

        k = 0.0
        while k <= tmax + 1e-9:
            w(f'<line x1="{X(k):.1f}" x2="{X(k):.1f}" y1="{top}" y2="{top + ph}" stroke="#e5e5e5"/>'
              f'<text x="{X(k):.1f}" y="{top + ph + 15}" text-anchor="middle">{k:g}</text>\n')
            k += tstep
        k = 0.0
        while k <= rmax + 1e-9:
            w(f'<line x1="{left}" x2="{left + pw}" y1="{Y(k):.1f}" y2="{Y(k):.1f}" stroke="#e5e5e5"/>'
              f'<text x="{left - 6}" y="{Y(k) + 4:.1f}" text-anchor="end">{k:g}</text>\n')
            k += rstep
        w(f'<text x="{left + pw / 2}" y="{height - 12}" text-anchor="middle">seconds since start</text>\n')
        w(f'<text x="18" y="{top + ph / 2}" transform="rotate(-90 18 {top + ph / 2})" text-anchor="middle">'
          'RSS (MiB)</text>\n')
        for i, (a, c) in enumerate(curves.items()):
            pts = " ".join(f"{X(t / 1000):.1f},{Y(r / 1024):.1f}" for t, r in c)
            w(f'<polyline points="{pts}" fill="none" stroke="{col[a]}" stroke-width="1.6"><title>{esc(a)}</title>'
              '</polyline>\n')
            ly = top + 10 + i * 18
            peak = max(r for _, r in c) / 1024
            w(f'<line x1="{left + pw + 15}" x2="{left + pw + 35}" y1="{ly}" y2="{ly}" stroke="{col[a]}" '
              f'stroke-width="3"/><text x="{left + pw + 40}" y="{ly + 4}">{esc(a)} (peak {peak:.0f})</text>\n')
    w("</svg>\n")
    path.write_text(o.getvalue())


def nice_step(span):
    raw = span / 6
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def print_tables(S, misses):
    A = S.names
    colw = max(16, max(len(a) for a in A) + 2)
    namew = max([len(w.name) for w in S.workloads] + [len("geomean/mimalloc")]) + 2
    for title, key, fmt in [("median wall time, s (ratio to mimalloc / glibc)", "wall", fmt_time),
                            ("median peak RSS, MiB (ratio to mimalloc / glibc)", "maxrss_kb", fmt_mb)]:
        log(f"\n{title}")
        log("".ljust(namew) + "".join(a.rjust(colw) for a in A))
        for wl in S.workloads:
            row = []
            for a in A:
                c = S.cells[(wl.name, a)]
                if c["status"] != "ok":
                    row.append(status_text(c).rjust(colw))
                    continue
                rm = S.ratio(wl.name, a, "mimalloc", key) if "mimalloc" in A else math.nan
                rg = S.ratio(wl.name, a, "glibc", key) if "glibc" in A else math.nan
                mark = "!" if a == "depot" and (wl.name, "time" if key == "wall" else "rss") in misses else " "
                row.append(f"{mark}{fmt(S.get(wl.name, a, key))} {fmt_ratio(rm)}/{fmt_ratio(rg)}".rjust(colw))
            log(wl.name.ljust(namew) + "".join(row))
        for base in ("mimalloc", "glibc"):
            if base in A:
                log(f"geomean/{base}".ljust(namew) + "".join(fmt_ratio(S.geo(a, base, key)).rjust(colw) for a in A))
    if misses:
        log("\ndepot misses ('!'): " + ", ".join(f"{w} {k} ({why})" for (w, k), why in misses.items()))


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one run, smaller sizes, no warm-up (about two minutes)")
    ap.add_argument("--once", action="store_true", help="one run at full size, no warm-up (to check sizes)")
    ap.add_argument("--list", action="store_true", help="list workloads and allocators, run nothing")
    ap.add_argument("--out", metavar="DIR", default=str(BENCH),
                    help="where RESULTS.md, results.csv and the SVGs go (default: bench/)")
    opts = ap.parse_args()

    runs_env = os.environ.get("RUNS", "").strip()
    try:
        nruns = int(runs_env) if runs_env else (1 if opts.quick or opts.once else 5)
    except ValueError:
        sys.exit(f"RUNS must be a number, not '{runs_env}'")
    if nruns < 1:
        sys.exit("RUNS must be at least 1")
    warmup = not (opts.quick or opts.once)

    workloads = select_workloads(all_workloads(opts.quick), os.environ.get("WORKLOADS", "").strip())
    skipped = [(w.name, w.skip) for w in workloads if w.skip]
    workloads = [w for w in workloads if not w.skip]
    if opts.list:
        for w in workloads:
            log(f"{w.name:24} {w.group:8} {w.models}")
        for name, why in skipped:
            log(f"{name:24} skipped: {why}")
    allocators = resolve_allocators(os.environ.get("ALLOCATORS", "").strip())
    if opts.list:
        log("allocators: " + ", ".join(f"{a.name} ({a.path or 'no preload'})" for a in allocators))
        return 0

    compile_workloads([w.binary for w in workloads if w.kind == "c"])
    for a in allocators:
        a.broken = probe(a)
        if a.broken:
            log(f"WARNING: {a.name} does not work: {a.broken}; its cells will say BROKEN")
    for name, why in skipped:
        log(f"note: workload {name} skipped: {why}")

    cfg = {"quick": opts.quick, "runs": nruns, "warmup": warmup, "threads": thread_counts(),
           "load_start": " ".join(open("/proc/loadavg").read().split()[:3])}
    log(f"{len(workloads)} workloads x {len(allocators)} allocators ({', '.join(a.name for a in allocators)}), "
        f"{nruns} run(s) each{' after a warm-up' if warmup else ''}")
    t_start = time.monotonic()
    runs = []
    work = Path(tempfile.mkdtemp(prefix="depot-bench-"))
    runner = Runner(opts.quick, work)
    interrupted = False
    outdir = Path(opts.out)
    outdir.mkdir(parents=True, exist_ok=True)
    info = machine_info(allocators)

    def report(final):
        """Write RESULTS.md, results.csv and the SVGs for what has been measured
        so far: after every workload (so a killed run leaves a consistent,
        partial report), and at the end."""
        elapsed = time.monotonic() - t_start
        cfg["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
        done = [w for w in workloads if any(r.workload == w.name for r in runs)]
        if not done:
            return
        cfg["progress"] = "" if final and not interrupted else (
            f"{'interrupted' if interrupted else 'still running, or killed'} after {len(done)} of "
            f"{len(workloads)} workloads")
        S = Summary(done, allocators, runs)
        misses = target_misses(S)
        write_results_md(outdir / "RESULTS.md", S, runs, cfg, info, misses, elapsed, skipped)
        write_csv(outdir / "results.csv", runs)
        write_chart(outdir / "chart.svg", S)
        write_rss_svg(outdir / "rss-over-time.svg", S, runs)
        if final:
            print_tables(S, misses)
            log(f"\ntook {elapsed / 60:.1f} min; wrote RESULTS.md, results.csv, chart.svg, rss-over-time.svg "
                f"in {outdir}")

    try:
        for wl in workloads:
            t_wl = time.monotonic()
            print(f"{wl.name:24}", end="", flush=True)
            failed = {}
            slowest = 0.0
            rounds = ([0] if warmup else []) + list(range(1, nruns + 1))
            for idx in rounds:
                for a in allocators:
                    if a.broken:
                        if idx == rounds[0]:
                            runs.append(Run(wl.name, wl.group, a.name, idx, "broken", error=a.broken))
                        continue
                    if a.name in failed:
                        continue
                    first = QUICK_FIRST_TIMEOUT if opts.quick else FIRST_TIMEOUT
                    timeout = max(MIN_TIMEOUT, TIMEOUT_FACTOR * slowest) if slowest else first
                    r = runner.run(wl, a, idx, timeout)
                    runs.append(r)
                    if r.ok:
                        slowest = max(slowest, r.wall)
                        print(".", end="", flush=True)
                    else:
                        failed[a.name] = r
                        print("F", end="", flush=True)
            # every allocator must produce the same check line; glibc's is the reference
            mine = [r for r in runs if r.workload == wl.name and r.ok]
            ref = next((r.check for r in mine if r.allocator == "glibc"), None)
            if ref is None and mine:
                ref = statistics.mode(r.check for r in mine)
            for r in mine:
                if r.check != ref:
                    r.status = "wrong"
                    r.error = f"check line '{r.check}' differs from '{ref}'"
            meds = []
            for a in allocators:
                ok = [r for r in runs if r.workload == wl.name and r.allocator == a.name and r.ok and r.run > 0] or \
                     [r for r in runs if r.workload == wl.name and r.allocator == a.name and r.ok]
                bad = [r for r in runs if r.workload == wl.name and r.allocator == a.name and not r.ok]
                meds.append(f"{a.name} {bad[0].status.upper()}" if bad else
                            f"{a.name} {median([r.wall for r in ok]):.3f}s" if ok else f"{a.name} -")
            log(f" {time.monotonic() - t_wl:5.0f}s  " + "  ".join(meds))
            report(final=False)
    except KeyboardInterrupt:
        interrupted = True
        log("\ninterrupted: writing what was measured so far")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(final=True)
    return 1 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
