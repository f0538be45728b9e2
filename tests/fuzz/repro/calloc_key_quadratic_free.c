/*
 * B4 (found by tests/world: CPython's test_json took 74 s on depot, 1 s on
 * glibc; freeing a 100000-deep nested list took 21 s instead of 0.00 s):
 * calloc's fast path (src/api.c) zeroes only the n bytes asked for, so a
 * block of fewer than 16 bytes popped from the thread cache keeps the
 * cache key in its second word.  When that block is freed, free_work takes
 * it for a possibly cached block and runs the double-free search
 * (cached_somewhere), which walks the arena's whole fast list for the class:
 * every such free costs O(length of the fast list), and freeing many of
 * them is quadratic.  (CPython allocates the item array of a one-element
 * list with PyMem_Calloc(1, 8).)
 *
 *   cc -O1 tests/fuzz/repro/calloc_key_quadratic_free.c -o /tmp/r
 *   LD_PRELOAD=build/libdepot.so /tmp/r    # prints the time; exit 1 if slow
 *   /tmp/r                                 # glibc: a few ms
 * Exit 0 once the frees take less than a second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N 50000

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void) {
  static void *a[N], *b[N];
  for (int i = 0; i < N; i++) {
    a[i] = calloc(1, 8); /* 8 bytes: the second word is not cleared */
    b[i] = malloc(8);    /* same size class */
  }
  for (int i = 0; i < N; i++)
    free(b[i]); /* beyond the thread cache: the arena's fast list grows */
  double t0 = now();
  for (int i = 0; i < N; i++)
    free(a[i]); /* each one searched for in that list */
  double dt = now() - t0;
  printf("%d frees of calloc(1, 8) blocks: %.3f s\n", N, dt);
  return dt < 1.0 ? 0 : 1;
}
