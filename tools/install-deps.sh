#!/usr/bin/env bash
# Installs what depot's tests and benchmarks need (Debian packages).
# Quiet and idempotent: skips apt when everything is already there.
set -u
need=()
have() { dpkg -s "$1" >/dev/null 2>&1; }
for p in gcc make clang valgrind python3 sqlite3 perl git time libjemalloc2 libmimalloc2.0 \
         libtcmalloc-minimal4 redis-server redis-tools libclang-rt-14-dev; do
  have "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || \
    echo "install-deps: some packages could not be installed; tests that need them skip"
fi
exit 0
