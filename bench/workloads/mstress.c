/* mstress: models programs with mixed object lifetimes and cross-thread traffic (mimalloc's test-stress): short-lived, long-lived (retained) and occasionally large objects, pointers swapped with a shared transfer array, threads ending and restarting in rounds. */
/* Fixed work: allocations in total, split over rounds and threads.
 * Self-check: every object is an array of words holding a cookie, verified
 * when freed (by whichever thread frees it); the count and word sum of freed
 * objects must equal what was allocated.
 * usage: mstress [allocations] [threads] */
#include "common.h"

#define ROUNDS 10
#define TRANSFERS 1000

static _Atomic(uint64_t *) transfer[TRANSFERS];
static _Atomic uint64_t made_objs, made_words, freed_objs, freed_words;
/* counted per thread, added to the totals when the thread ends */
static __thread uint64_t t_made_objs, t_made_words, t_freed_objs, t_freed_words;
static void flush_counts(void) {
  atomic_fetch_add(&made_objs, t_made_objs);
  atomic_fetch_add(&made_words, t_made_words);
  atomic_fetch_add(&freed_objs, t_freed_objs);
  atomic_fetch_add(&freed_words, t_freed_words);
  t_made_objs = t_made_words = t_freed_objs = t_freed_words = 0;
}

static uint64_t *alloc_items(size_t items, uint64_t *r) {
  if (rng_below(r, 100) == 0) items *= 10; /* 1%: larger */
  if (rng_below(r, 10000) == 0) items *= 100; /* 0.01%: huge */
  if (items == 0) items = 1;
  uint64_t *p = xmalloc(items * sizeof(uint64_t));
  p[0] = items;
  for (size_t i = 1; i < items; i++) p[i] = (items - i) ^ 0x5555aaaa5555aaaaULL;
  t_made_objs++;
  t_made_words += items;
  return p;
}
static void free_items(uint64_t *p) {
  if (!p) return;
  size_t items = p[0];
  for (size_t i = 1; i < items; i++)
    if (p[i] != ((items - i) ^ 0x5555aaaa5555aaaaULL)) die("mstress: object %p of %zu words corrupted at %zu", (void *)p, items, i);
  t_freed_objs++;
  t_freed_words += items;
  free(p);
}

typedef struct {
  long allocs;
  uint64_t seed;
} targ;

static void *stress(void *p) {
  targ *a = p;
  uint64_t r = a->seed;
  long allocs = a->allocs, retain = a->allocs / 2;
  size_t data_size = 0, data_top = 0, retain_top = 0;
  uint64_t **data = NULL;
  uint64_t **retained = xcalloc((size_t)retain + 1, sizeof(uint64_t *));
  while (allocs > 0 || retain > 0) {
    if (retain == 0 || (rng_below(&r, 100) < 50 && allocs > 0)) {
      allocs--;
      if (data_top >= data_size) {
        data_size += 10000;
        data = xrealloc(data, data_size * sizeof(uint64_t *));
      }
      data[data_top++] = alloc_items((size_t)1 << rng_below(&r, 5), &r); /* 1-16 words */
    } else {
      retained[retain_top++] = alloc_items((size_t)1 << rng_below(&r, 7), &r); /* 1-64 words, lives long */
      retain--;
    }
    if (rng_below(&r, 100) < 66 && data_top > 0) {
      size_t idx = rng_below(&r, data_top);
      free_items(data[idx]);
      data[idx] = NULL;
    }
    if (rng_below(&r, 100) < 25 && data_top > 0) {
      size_t di = rng_below(&r, data_top), ti = rng_below(&r, TRANSFERS);
      data[di] = atomic_exchange(&transfer[ti], data[di]);
    }
  }
  for (size_t i = 0; i < retain_top; i++) free_items(retained[i]);
  for (size_t i = 0; i < data_top; i++) free_items(data[i]);
  free(retained);
  free(data);
  flush_counts();
  return NULL;
}

int main(int argc, char **argv) {
  long allocs = arg_long(argc, argv, 1, 4000000);
  int nt = (int)arg_long(argc, argv, 2, 2);
  targ *args = xcalloc((size_t)nt, sizeof(targ));
  for (int round = 0; round < ROUNDS; round++) {
    for (int t = 0; t < nt; t++) {
      /* uneven shares, as test-stress gives threads (tid % 8 + 1) units */
      long units = 0;
      for (int u = 0; u < nt; u++) units += u % 4 + 1;
      args[t].allocs = allocs / ROUNDS * (t % 4 + 1) / units;
      args[t].seed = (uint64_t)(round * 131 + t * 7 + 1) * 43;
    }
    run_threads(nt, stress, args, sizeof(targ));
  }
  for (int i = 0; i < TRANSFERS; i++) free_items(atomic_exchange(&transfer[i], NULL));
  flush_counts();
  if (made_objs != freed_objs || made_words != freed_words) die("mstress: %llu objects made, %llu freed",
      (unsigned long long)made_objs, (unsigned long long)freed_objs);
  printf("check mstress threads=%d objects=%llu words=%llu\n", nt, (unsigned long long)freed_objs, (unsigned long long)freed_words);
  free(args);
  return 0;
}
