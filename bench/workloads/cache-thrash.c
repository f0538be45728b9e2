/* cache-thrash: models active false sharing (Hoard's cache-thrash): each thread repeatedly allocates a small object, writes it many times and frees it; an allocator that gives different threads objects on one cache line makes them fight over it. */
/* Fixed work: iterations in total, split over threads.
 * Self-check: each object's bytes must hold the number of writes made.
 * usage: cache-thrash [iterations] [threads] */
#include "common.h"

#define OBJSIZE 8
#define REPS 2000

typedef struct {
  long iters;
  uint64_t sum;
} targ;

static void *worker(void *p) {
  targ *a = p;
  for (long i = 0; i < a->iters; i++) {
    volatile unsigned char *o = xmalloc(OBJSIZE);
    for (int k = 0; k < OBJSIZE; k++) o[k] = 0;
    for (int r = 0; r < REPS; r++)
      for (int k = 0; k < OBJSIZE; k++) o[k]++;
    for (int k = 0; k < OBJSIZE; k++)
      if (o[k] != (unsigned char)REPS) die("cache-thrash: object byte %d is %d after %d writes", k, o[k], REPS);
    a->sum += OBJSIZE;
    free((void *)o);
  }
  return NULL;
}

int main(int argc, char **argv) {
  long iters = arg_long(argc, argv, 1, 100000);
  int nt = (int)arg_long(argc, argv, 2, 2);
  targ *args = xcalloc((size_t)nt, sizeof(targ));
  for (int i = 0; i < nt; i++) {
    args[i].iters = iters / nt;
  }
  run_threads(nt, worker, args, sizeof(targ));
  uint64_t total = 0, bytes = 0;
  for (int i = 0; i < nt; i++) {
    total += (uint64_t)args[i].iters;
    bytes += args[i].sum;
  }
  printf("check cache-thrash threads=%d objects=%llu bytes=%llu\n", nt, (unsigned long long)total, (unsigned long long)bytes);
  free(args);
  return 0;
}
