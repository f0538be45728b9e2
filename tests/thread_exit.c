/* thread_exit: threads exit while holding cached blocks and while blocks
 * they allocated are still alive.  Each thread churns through many sizes
 * (filling its cache), allocates blocks that it hands to main, and exits.
 * Main verifies and frees the orphaned blocks after the join; the memory of
 * dead threads is reused (RSS stays bounded over the rounds); with depot,
 * the per-thread caches are gone after the join (threads_live). */
#include "common.h"

#if T_SANITIZED
enum { ROUNDS = 8, THREADS = 8, HANDED = 200 };
#else
enum { ROUNDS = 30, THREADS = 16, HANDED = 500 };
#endif

struct slot {
  unsigned char *p[HANDED];
  size_t size[HANDED];
  uint32_t id;
};
static struct slot slots[THREADS];

static void *worker(void *arg) {
  struct slot *s = arg;
  uint32_t x = s->id * 2246822519u + 3;
  for (int k = 0; k < 2000; k++) {
    x = x * 1103515245u + 12345u;
    size_t sz = 1 + (x >> 8) % 3000;
    void *p = malloc(sz);
    if (p) memset(p, 1, sz);
    free(p);
  }
  for (int i = 0; i < HANDED; i++) {
    x = x * 1103515245u + 12345u;
    size_t sz = 1 + (x >> 8) % 1500;
    if (i == HANDED - 1) sz = 300000; /* one mmap'd block too */
    s->size[i] = sz;
    s->p[i] = malloc(sz);
    if (s->p[i]) pat_fill(s->p[i], sz, s->id * 100000u + (uint32_t)i);
  }
  /* fill the cache again right before exiting */
  void *tmp[64];
  for (int i = 0; i < 64; i++) tmp[i] = malloc(16 + (size_t)(i % 16) * 16);
  for (int i = 0; i < 64; i++) free(tmp[i]);
  return NULL;
}

int main(void) {
  t_name = "thread_exit";
  size_t rss[ROUNDS];
  long bad = 0, missing = 0;
  depot_stats_t st0;
  int have_stats = t_depot_stats(&st0);
  for (int r = 0; r < ROUNDS; r++) {
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
      slots[t].id = (uint32_t)(r * THREADS + t);
      REQUIRE(pthread_create(&th[t], NULL, worker, &slots[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < THREADS; t++)
      for (int i = 0; i < HANDED; i++) {
        struct slot *s = &slots[t];
        if (!s->p[i]) {
          missing++;
          continue;
        }
        if (pat_check(s->p[i], s->size[i], s->id * 100000u + (uint32_t)i) != (size_t)-1) {
          if (bad++ < 3)
            fprintf(stderr, "  round %d thread %d block %d (%zu bytes) corrupted\n", r, t,
                    i, s->size[i]);
        }
        free(s->p[i]);
      }
    rss[r] = rss_bytes();
    if (have_stats && r == ROUNDS - 1) {
      depot_stats_t st;
      t_depot_stats(&st);
      CHECKM(st.threads_live <= st0.threads_live + 1,
             "depot threads_live %llu after all threads were joined (was %llu)",
             (unsigned long long)st.threads_live, (unsigned long long)st0.threads_live);
      CHECKM(st.threads_total >= (uint64_t)ROUNDS * THREADS,
             "depot threads_total %llu < %d threads that allocated",
             (unsigned long long)st.threads_total, ROUNDS * THREADS);
    }
  }
  CHECKM(missing == 0, "%ld allocations failed", missing);
  CHECKM(bad == 0, "%ld orphaned blocks corrupted", bad);
  /* under a sanitizer RSS is mostly the sanitizer's own (shadow memory,
   * per-thread histories): the bound is checked in the plain variants */
  for (int r = 3; r < ROUNDS && !T_SANITIZED; r++)
    CHECKM(rss[r] <= rss[2] + 16 * MiB, "RSS after round %d: %zu KiB, after round 2: %zu KiB",
           r, rss[r] / 1024, rss[2] / 1024);
  return t_done();
}
