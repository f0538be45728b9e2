#!/usr/bin/env bash
# depot - run a program on the depot allocator and show what depot did.
#
#   depot run [--trace] [--report-to FILE] -- CMD [ARGS...]
#       runs CMD with libdepot.so preloaded; at exit each process prints a
#       report (heap growth, mappings, bins, fragmentation) to stderr.
#       --trace also logs every brk/mmap/munmap/madvise as it happens.
#   depot env      prints the environment lines that preload depot
#   depot version
set -u
here=$(cd "$(dirname "$0")" && pwd)
lib="$here/libdepot.so"
[ -f "$lib" ] || { echo "depot: $lib not found (run make)" >&2; exit 1; }
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
cmd=${1:-}; shift || true
case "$cmd" in
run)
  trace=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --trace) trace=1; shift ;;
      --) shift; break ;;
      -*) usage ;;
      *) break ;;
    esac
  done
  [ $# -gt 0 ] || usage
  export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
  export DEPOT_REPORT=${DEPOT_REPORT:-1}
  [ $trace = 1 ] && export DEPOT_TRACE=1
  exec "$@"
  ;;
env) echo "LD_PRELOAD=$lib" ;;
version) echo "depot 0.1.0 ($lib)" ;;
*) usage ;;
esac
