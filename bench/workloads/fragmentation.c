/* fragmentation: models a long-lived heap whose population changes: ~100 MB of 16-128 B blocks, 90% freed at random, then 256 B - 4 KiB blocks allocated for about the bytes freed; can the allocator reuse the holes, or does the heap grow? */
/* Reports RSS after each phase; the runner records the peak RSS of the
 * process.  Self-check: all surviving blocks are verified at the end.
 * usage: fragmentation [megabytes] */
#include "common.h"

typedef struct {
  void *p;
  uint32_t size;
} ent;

int main(int argc, char **argv) {
  long mb = arg_long(argc, argv, 1, 100);
  uint64_t target = (uint64_t)mb << 20, seed = 2024, live = 0, freed = 0;
  size_t cap = (size_t)(target / 16 + 1024), n = 0;
  ent *e = xmalloc(cap * sizeof(ent));
  /* phase 1: fill with small blocks */
  while (live < target) {
    size_t sz = rng_range(&seed, 16, 128);
    e[n].p = xmalloc(sz);
    e[n].size = (uint32_t)sz;
    fill_all(e[n].p, sz, n);
    live += sz;
    n++;
  }
  size_t nsmall = n;
  long rss_fill = rss_kb();
  /* phase 2: free ~90% at random */
  for (size_t i = 0; i < nsmall; i++) {
    if (rng_below(&seed, 10) != 0) {
      check_block(e[i].p, e[i].size, i, "fragmentation");
      free(e[i].p);
      freed += e[i].size;
      live -= e[i].size;
      e[i].p = NULL;
    }
  }
  long rss_freed = rss_kb();
  /* phase 3: bigger blocks for about the bytes freed */
  uint64_t again = 0;
  while (again < freed) {
    size_t sz = rng_range(&seed, 256, 4096);
    if (n == cap) {
      cap *= 2;
      e = xrealloc(e, cap * sizeof(ent));
    }
    e[n].p = xmalloc(sz);
    e[n].size = (uint32_t)sz;
    fill_all(e[n].p, sz, n);
    again += sz;
    live += sz;
    n++;
  }
  long rss_final = rss_kb();
  uint64_t kept = 0;
  for (size_t i = 0; i < n; i++)
    if (e[i].p) {
      check_block(e[i].p, e[i].size, i, "fragmentation");
      kept++;
    }
  printf("check fragmentation small=%zu big=%zu kept=%llu live_bytes=%llu\n", nsmall, n - nsmall, (unsigned long long)kept,
         (unsigned long long)live);
  printf("metric rss_after_fill_mb %.1f\n", rss_fill / 1024.0);
  printf("metric rss_after_free_mb %.1f\n", rss_freed / 1024.0);
  printf("metric rss_final_mb %.1f\n", rss_final / 1024.0);
  printf("metric rss_final_over_live %.3f\n", rss_final * 1024.0 / (double)live);
  printf("metric peak_rss_mb %.1f\n", peak_rss_kb() / 1024.0);
  for (size_t i = 0; i < n; i++) free(e[i].p);
  free(e);
  return 0;
}
