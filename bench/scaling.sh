#!/bin/sh
# scaling.sh - the thread workloads at 1 to 16 threads, for a machine with
# more cores than the 2 the default suite is sized for.  Not part of
# `make bench`.  Results go to bench/scaling/ (RESULTS.md, results.csv,
# chart.svg), so they do not replace bench/RESULTS.md.
#
#   bench/scaling.sh                 all thread workloads, 1,2,4,8,12,16 threads
#   THREADS=1,4,32 bench/scaling.sh  other counts
#   WORKLOADS=larson,mstress ALLOCATORS=depot,mimalloc RUNS=3 bench/scaling.sh
#
# Each workload does a fixed total amount of work split over its threads,
# so on an idle machine with enough cores the time should fall as threads
# are added; where it rises, the allocator (or the cache lines it hands out)
# is the bottleneck.
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-1,2,4,8,12,16}
WORKLOADS=${WORKLOADS:-threads}
export THREADS WORKLOADS
exec python3 bench/run.py --out bench/scaling "$@"
