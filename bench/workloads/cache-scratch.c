/* cache-scratch: models passive false sharing (Hoard's cache-scratch): the main thread allocates one small object per thread, each thread frees it and then repeatedly allocates, writes and frees same-size objects; an allocator that hands a thread memory sharing a cache line with another thread's makes them fight over it. */
/* Fixed work: iterations in total, split over threads.
 * Self-check: each object's bytes must hold the number of writes made.
 * usage: cache-scratch [iterations] [threads] */
#include "common.h"

#define OBJSIZE 8
#define REPS 2000

typedef struct {
  char *given;
  long iters;
  uint64_t sum;
} targ;

static void *worker(void *p) {
  targ *a = p;
  free(a->given); /* the object allocated by main, next to the other threads' */
  for (long i = 0; i < a->iters; i++) {
    volatile unsigned char *o = xmalloc(OBJSIZE);
    for (int k = 0; k < OBJSIZE; k++) o[k] = 0;
    for (int r = 0; r < REPS; r++)
      for (int k = 0; k < OBJSIZE; k++) o[k]++;
    for (int k = 0; k < OBJSIZE; k++)
      if (o[k] != (unsigned char)REPS) die("cache-scratch: object byte %d is %d after %d writes", k, o[k], REPS);
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
    args[i].given = xmalloc(OBJSIZE);
    args[i].iters = iters / nt;
  }
  run_threads(nt, worker, args, sizeof(targ));
  uint64_t total = 0, bytes = 0;
  for (int i = 0; i < nt; i++) {
    total += (uint64_t)args[i].iters;
    bytes += args[i].sum;
  }
  printf("check cache-scratch threads=%d objects=%llu bytes=%llu\n", nt, (unsigned long long)total, (unsigned long long)bytes);
  free(args);
  return 0;
}
