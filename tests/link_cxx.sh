#!/usr/bin/env bash
# link_cxx: build/libdepot.a linked into a C++ program, as the README says:
# with --whole-archive the program's own malloc is depot's even though the
# program never names malloc (new, exceptions, std::thread, aligned new all
# go through it), and its DEPOT_REPORT at exit shows that depot served the
# blocks; without --whole-archive the archive is not pulled in at all
# (the reason the README gives the flag).
set -u
lib=${1:-build/libdepot.a}
[ -f "$lib" ] || { echo "CHECK failed: $lib missing"; exit 1; }
CXX=${CXX:-c++}
command -v "$CXX" >/dev/null && command -v nm >/dev/null || { echo "SKIP: no C++ compiler or nm"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
cat >"$work/prog.cc" <<'CC'
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
struct alignas(256) Big { char x[300]; };
int main() {
  std::map<std::string, std::vector<int>> m;
  for (int i = 0; i < 50000; i++) m["k" + std::to_string(i)].push_back(i);
  long s = 0;
  for (auto &kv : m) s += kv.second[0];
  int caught = 0;
  for (int i = 0; i < 2000; i++) {
    try { throw std::runtime_error(std::string(100, 'x')); } catch (std::exception &) { caught++; }
  }
  std::vector<std::unique_ptr<Big>> v;
  for (int i = 0; i < 500; i++) {
    v.emplace_back(new Big);
    if ((uintptr_t)v.back().get() % 256) { std::puts("CHECK failed: new Big not 256-aligned"); return 1; }
  }
  char *a = new (std::align_val_t(4096)) char[5000];
  if ((uintptr_t)a % 4096) { std::puts("CHECK failed: aligned new[] not 4096-aligned"); return 1; }
  operator delete[](a, std::align_val_t(4096));
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++)
    ts.emplace_back([] { std::vector<std::string> q; for (int i = 0; i < 20000; i++) q.push_back(std::string(i % 100, 'a')); });
  for (auto &t : ts) t.join();
  std::printf("%ld %d\n", s, caught);
  return 0;
}
CC
if ! "$CXX" -O1 -std=c++17 "$work/prog.cc" -o "$work/prog" -Wl,--whole-archive "$lib" -Wl,--no-whole-archive -pthread 2>"$work/cc.err"; then
  echo "CHECK failed: C++ link with --whole-archive failed: $(head -c 400 "$work/cc.err")"
  exit 1
fi
nm "$work/prog" | grep -q ' T malloc$' || { echo "CHECK failed: the linked program defines no malloc"; fail=1; }
out=$(DEPOT_REPORT=1 "$work/prog" 2>"$work/report")
st=$?
if [ $st != 0 ] || [ "$out" != "1249975000 2000" ]; then
  echo "CHECK failed: program exited $st, printed '$out' (want '1249975000 2000'): $(head -c 300 "$work/report")"
  fail=1
fi
grep -q '^depot' "$work/report" || { echo "CHECK failed: no depot report at exit: depot did not serve the program"; fail=1; }
# without the flag nothing of the archive is used: the README's reason
"$CXX" -O1 -std=c++17 "$work/prog.cc" -o "$work/prog2" "$lib" -pthread 2>/dev/null &&
  if nm "$work/prog2" | grep -q ' T malloc$'; then
    echo "note: this linker pulled the archive in without --whole-archive"
  else
    echo "ok: without --whole-archive the archive is not pulled in (glibc's malloc stays)"
  fi
[ $fail = 0 ] && echo "ok link_cxx"
exit $fail
