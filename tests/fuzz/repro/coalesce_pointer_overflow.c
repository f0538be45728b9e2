/*
 * B1 (found by tests/fuzz fuzz_alloc under UBSan): stepping back to the
 * lower neighbour when coalescing, depot computes chunk_at(c, -ps) with a
 * size_t offset (src/arena.c free_core, and the fence walk in arena.c),
 * i.e. p + (SIZE_MAX - ps + 1): pointer arithmetic that overflows, undefined
 * behaviour in C (UBSan: "addition of unsigned offset to 0x... overflowed").
 * It works with today's compilers (the addition wraps), but a compiler may
 * assume it cannot happen.  A fix: (dp_chunk *)((char *)c - ps).
 *
 * Here a thread allocates and frees small blocks and exits: its cache is
 * flushed to its arena, and the flushed blocks coalesce backwards.
 *
 * tests/fuzz/repro/run.sh builds depot with clang -fsanitize=pointer-overflow
 * and runs this; it exits non-zero while the bug is open.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *churn(void *arg) {
  (void)arg;
  void *tmp[16];
  for (int i = 0; i < 16; i++)
    tmp[i] = malloc((size_t)(i * 40));
  for (int i = 0; i < 16; i++)
    free(tmp[i]);
  return NULL; /* thread exit: the cache goes back to the arena */
}

int main(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, churn, NULL) != 0)
    return 2;
  pthread_join(t, NULL);
  puts("ok");
  return 0;
}
