/* thread_arena_run: two threads grow their arenas at the same time (12 MiB
 * of small blocks each, so each maps segments of 1, 2, 4 and 8 MiB, one
 * thread's after the other's), then each frees its own blocks in random
 * order.  With depot, every such free is vouched for by the block's header:
 * an arena's segments lie side by side in a region of its own (os.c), so
 * its tag range covers them all and no free takes the pagemap path
 * (depot_stats_t.free_pagemap).  Before that plan the kernel interleaved
 * the two arenas' segments and the pagemap leaves, and most of these frees
 * took the pagemap path.  The blocks' contents are checked on the way. */
#include "common.h"
#include <pthread.h>
#include <malloc.h>

enum { THREADS = 2, BLOCKS = 24000, SIZE = 500 };

static unsigned char *blk[THREADS][BLOCKS];
static pthread_barrier_t grow_together;
static long bad[THREADS];

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  uint32_t x = 77u + (uint32_t)t;
  pthread_barrier_wait(&grow_together);
  for (int i = 0; i < BLOCKS; i++) {
    size_t n = SIZE + (size_t)(i % 13) * 8;
    blk[t][i] = malloc(opaque_size(n));
    if (blk[t][i]) pat_fill(blk[t][i], n, (uint32_t)(t * BLOCKS + i));
    if (i % 1000 == 0) sched_yield(); /* let the other thread grow in between */
  }
  pthread_barrier_wait(&grow_together); /* both grown */
  pthread_barrier_wait(&grow_together); /* main has counted: now free */
  static __thread int order[BLOCKS];
  for (int i = 0; i < BLOCKS; i++) order[i] = i;
  for (int i = BLOCKS - 1; i > 0; i--) {
    x = x * 1103515245u + 12345u;
    int j = (int)((x >> 8) % (uint32_t)(i + 1)), k = order[i];
    order[i] = order[j];
    order[j] = k;
  }
  for (int k = 0; k < BLOCKS; k++) {
    int i = order[k];
    size_t n = SIZE + (size_t)(i % 13) * 8;
    if (!blk[t][i]) {
      bad[t]++;
      continue;
    }
    if (pat_check(blk[t][i], n, (uint32_t)(t * BLOCKS + i)) != (size_t)-1) bad[t]++;
    free(blk[t][i]);
  }
  pthread_barrier_wait(&grow_together); /* every free counted */
  /* again, with malloc_trim giving free segments back in between: the
   * range must shrink to the run that is left, not close */
  for (int r = 0; r < 2; r++) {
    for (int i = 0; i < BLOCKS; i++) blk[t][i] = malloc(opaque_size(SIZE + (size_t)(i % 13) * 8));
    for (int i = 0; i < (r ? BLOCKS / 2 : BLOCKS); i++) free(blk[t][i]);
    malloc_trim(0);
  }
  for (int i = 0; i < BLOCKS / 2; i++) blk[t][i] = malloc(opaque_size(SIZE));
  pthread_barrier_wait(&grow_together); /* main counts */
  pthread_barrier_wait(&grow_together);
  for (int i = 0; i < BLOCKS; i++) free(blk[t][i]);
  pthread_barrier_wait(&grow_together); /* every free counted */
  return NULL;
}

int main(void) {
  t_name = "thread_arena_run";
  REQUIRE(pthread_barrier_init(&grow_together, NULL, THREADS + 1) == 0);
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++)
    REQUIRE(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) == 0);
  depot_stats_t s0, s1;
  pthread_barrier_wait(&grow_together); /* start growing */
  pthread_barrier_wait(&grow_together); /* grown */
  int have = t_depot_stats(&s0);
  pthread_barrier_wait(&grow_together); /* free now */
  pthread_barrier_wait(&grow_together); /* freed */
  have = have && t_depot_stats(&s1);
  depot_stats_t s2, s3;
  pthread_barrier_wait(&grow_together); /* trimmed and refilled */
  have = have && t_depot_stats(&s2);
  pthread_barrier_wait(&grow_together);
  pthread_barrier_wait(&grow_together); /* freed */
  have = have && t_depot_stats(&s3);
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < THREADS; t++)
    CHECKM(bad[t] == 0, "thread %d: %ld of its blocks missing or corrupted", t, bad[t]);
  if (depot_only("frees of a thread's own blocks are vouched for by their headers") && have) {
    uint64_t frees = s1.free_calls - s0.free_calls, mapped = s1.free_pagemap - s0.free_pagemap;
    CHECKM(frees >= (uint64_t)THREADS * BLOCKS, "%llu frees counted, %d made",
           (unsigned long long)frees, THREADS * BLOCKS);
    /* a few may land in a segment whose place was taken (an arena's first
     * segment, say, when another mapping sat at its region's top) */
    CHECKM(mapped * 50 <= frees,
           "%llu of %llu frees of the threads' own blocks took the pagemap path (want <= 2%%): "
           "their arenas' segments do not lie side by side",
           (unsigned long long)mapped, (unsigned long long)frees);
    /* after a trim gave segments back, some blocks may sit in a piece of
     * the run apart from the top's (before the range shrank to the run
     * around the top's segment instead of closing, about 70% did) */
    frees = s3.free_calls - s2.free_calls;
    mapped = s3.free_pagemap - s2.free_pagemap;
    printf("after malloc_trim: %llu of %llu frees took the pagemap path\n",
           (unsigned long long)mapped, (unsigned long long)frees);
    CHECKM(mapped * 3 <= frees,
           "after malloc_trim, %llu of %llu frees of the threads' own blocks took the pagemap "
           "path (want <= 1/3)", (unsigned long long)mapped, (unsigned long long)frees);
  }
  pthread_barrier_destroy(&grow_together);
  return t_done();
}
