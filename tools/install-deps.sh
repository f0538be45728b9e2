#!/usr/bin/env bash
# Installs what depot's tests and benchmarks need (Debian packages).
# Quiet and idempotent: skips apt when everything is already there.
set -u
need=()
have() { dpkg -s "$1" >/dev/null 2>&1; }
# g++: tests/link_cxx; clang + libclang-rt-14-dev: libFuzzer for make fuzz / make ci-fuzz;
# python3.11 + libpython3.11-testsuite: CPython's tests for tests/world
for p in gcc g++ make clang valgrind python3 sqlite3 perl git time libjemalloc2 libmimalloc2.0 \
         libtcmalloc-minimal4 redis-server redis-tools libclang-rt-14-dev python3.11 \
         libpython3.11-testsuite; do
  have "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  if ! apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; then
    # one missing package fails the whole batch: the others one by one
    for p in "${need[@]}"; do
      have "$p" || apt-get install -y -qq "$p" >/dev/null 2>&1 || miss="${miss:-} $p"
    done
    echo "install-deps: could not install${miss:- some packages}; tests that need them skip"
  fi
fi
exit 0
