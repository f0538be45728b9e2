/* rss-over-time: models a long-running service whose load changes: a cache grows, churns, shrinks to a fifth, idles, takes a burst of temporaries and grows again; a sampler thread records RSS every 10 ms to draw memory over time. */
/* Phases (fixed work): grow to N objects of 16 B - 4 KiB, churn (replace
 * random objects), shrink (free 80%), idle churn on what is left, a burst of
 * 64 KiB - 1 MiB temporaries, regrow, free everything.
 * Output: "sample <ms> <rss_kb>" lines, metrics per phase.
 * Self-check: every object is verified when freed.
 * usage: rss-over-time [objects] */
#include "common.h"

#define MAXSAMPLES 20000

static long samples_t[MAXSAMPLES], samples_rss[MAXSAMPLES];
static atomic_int nsamples, stop;
static double t0;

static void *sampler(void *arg) {
  (void)arg;
  struct timespec ts = {0, 10 * 1000 * 1000};
  while (!atomic_load(&stop)) {
    int i = atomic_load(&nsamples);
    if (i < MAXSAMPLES) {
      samples_t[i] = (long)((now_s() - t0) * 1000.0);
      samples_rss[i] = rss_kb();
      atomic_store(&nsamples, i + 1);
    }
    nanosleep(&ts, NULL);
  }
  return NULL;
}

typedef struct {
  void *p;
  uint32_t size;
  uint32_t tag;
} ent;

static ent *tab;
static size_t ntab;
static uint64_t seed = 31337, ops;

static void put(size_t i, size_t lo, size_t hi) {
  size_t n = rng_logsize(&seed, lo, hi);
  tab[i].p = xmalloc(n);
  tab[i].size = (uint32_t)n;
  tab[i].tag = (uint32_t)ops++;
  fill_all(tab[i].p, n, tab[i].tag);
}
static void drop(size_t i) {
  if (!tab[i].p) return;
  check_block(tab[i].p, tab[i].size, tab[i].tag, "rss-over-time");
  free(tab[i].p);
  tab[i].p = NULL;
}

int main(int argc, char **argv) {
  ntab = (size_t)arg_long(argc, argv, 1, 100000);
  tab = xcalloc(ntab, sizeof(ent));
  t0 = now_s();
  pthread_t th;
  if (pthread_create(&th, NULL, sampler, NULL)) die("pthread_create failed");
  long m[8];
  int nm = 0;
  for (size_t i = 0; i < ntab; i++) put(i, 16, 4096); /* grow */
  m[nm++] = rss_kb();
  for (size_t k = 0; k < ntab * 8; k++) { /* churn */
    size_t i = rng_below(&seed, ntab);
    drop(i);
    put(i, 16, 4096);
  }
  m[nm++] = rss_kb();
  for (size_t i = 0; i < ntab; i++) /* shrink: free 80% */
    if (rng_below(&seed, 5) != 0) drop(i);
  m[nm++] = rss_kb();
  for (size_t k = 0; k < ntab * 8; k++) { /* idle churn on the survivors */
    size_t i = rng_below(&seed, ntab);
    if (tab[i].p) {
      drop(i);
      put(i, 16, 512);
    }
  }
  m[nm++] = rss_kb();
  { /* burst of big temporaries */
    void *tmp[64];
    size_t tsz[64];
    for (int r = 0; r < 4; r++) {
      for (int i = 0; i < 64; i++) {
        tsz[i] = rng_logsize(&seed, 65536, 1 << 20);
        tmp[i] = xmalloc(tsz[i]);
        fill_all(tmp[i], tsz[i], (uint64_t)i);
      }
      for (int i = 0; i < 64; i++) {
        check_block(tmp[i], tsz[i], (uint64_t)i, "rss-over-time burst");
        free(tmp[i]);
      }
    }
  }
  m[nm++] = rss_kb();
  for (size_t i = 0; i < ntab; i++) /* regrow */
    if (!tab[i].p) put(i, 16, 4096);
  m[nm++] = rss_kb();
  uint64_t live = 0;
  for (size_t i = 0; i < ntab; i++) {
    live += tab[i].size;
    drop(i);
  }
  free(tab);
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL); /* let the sampler see the end state */
  m[nm++] = rss_kb();
  atomic_store(&stop, 1);
  pthread_join(th, NULL);
  printf("check rss-over-time objects=%zu ops=%llu live_at_end=%llu\n", ntab, (unsigned long long)ops, (unsigned long long)live);
  static const char *names[] = {"grown", "churned", "shrunk", "idle", "burst", "regrown", "freed"};
  for (int i = 0; i < nm; i++) printf("metric rss_%s_mb %.1f\n", names[i], m[i] / 1024.0);
  int n = atomic_load(&nsamples);
  for (int i = 0; i < n; i++) printf("sample %ld %ld\n", samples_t[i], samples_rss[i]);
  return 0;
}
