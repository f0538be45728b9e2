#!/usr/bin/env python3
"""regrtest_summary.py LOG MODULE... - read the output of `python -m test`
and print one line per module: "MODULE ok|failed|skipped|notrun".  Python
3.11's regrtest ends with sections such as

    2 tests failed:
        test_a test_b
    1 test skipped:
        test_c
"""
import re
import sys

log = open(sys.argv[1], errors="replace").read()
mods = sys.argv[2:]
sections = {}
cur = None
for ln in log.splitlines():
    m = re.match(r"^(All )?(\d+) tests? (OK|failed|skipped|altered the execution environment|"
                 r"omitted|run no tests|failed again|re-run tests|resource denied|"
                 r"skipped \(resource denied\)|ran no tests)[:.]?", ln)
    if m:
        cur = m.group(3)
        sections.setdefault(cur, set())
        continue
    if cur and ln.startswith("    "):
        sections[cur].update(ln.split())
    elif ln.strip() == "":
        continue
    else:
        cur = None
started = set(re.findall(r"\[\s*\d+/\d+(?:/\d+)?\] (test_\w+)", log))
ok_all = re.search(r"^All \d+ tests? OK", log, re.M) is not None
for mod in mods:
    if mod in sections.get("failed", set()) or mod in sections.get("failed again", set()):
        st = "failed"
    elif any(mod in sections.get(k, set()) for k in
             ("skipped", "resource denied", "skipped (resource denied)", "run no tests", "ran no tests")):
        st = "skipped"
    elif mod in sections.get("OK", set()) or ok_all or \
            (mod in started and "Tests result:" in log):
        st = "ok"
    else:
        st = "notrun"
    print(mod, st)
