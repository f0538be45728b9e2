/* thread_churn: hundreds of threads created and destroyed in rounds.  Each
 * thread allocates blocks of mixed sizes, frees most of them (its cache fills
 * up) and exits.  RSS after each round stays bounded: it does not grow with
 * the number of rounds once warmed up. */
#include "common.h"

#if T_SANITIZED
enum { ROUNDS = 6, THREADS = 64, WARM = 2 };
#else
enum { ROUNDS = 12, THREADS = 200, WARM = 3 };
#endif
enum { PER_THREAD = 256 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long errors;

static void *worker(void *arg) {
  uint32_t x = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
  void *v[PER_THREAD];
  size_t sz[PER_THREAD];
  long bad = 0;
  for (int i = 0; i < PER_THREAD; i++) {
    x = x * 1103515245u + 12345u;
    sz[i] = 16 + (x >> 8) % 2048;
    if (i % 64 == 63) sz[i] = 70000;
    v[i] = malloc(sz[i]);
    if (!v[i]) {
      bad++;
      continue;
    }
    pat_fill(v[i], sz[i], (uint32_t)i + x);
    memset(v[i], (int)(i & 0xff), sz[i]);
  }
  for (int i = 0; i < PER_THREAD; i++) {
    if (v[i] && !all_bytes(v[i], sz[i], (unsigned char)(i & 0xff))) bad++;
    free(v[i]);
  }
  /* leave the thread with freshly cached blocks */
  for (int i = 0; i < 32; i++) free(malloc(16 + (size_t)i * 16));
  if (bad) {
    pthread_mutex_lock(&lock);
    errors += bad;
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

int main(void) {
  t_name = "thread_churn";
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, T_SANITIZED ? 1 << 20 : 256 * 1024);
  static pthread_t th[THREADS];
  size_t rss[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    int started = 0;
    for (int i = 0; i < THREADS; i++) {
      if (pthread_create(&th[i], &attr, worker, (void *)(uintptr_t)(r * THREADS + i)) != 0)
        break;
      started++;
    }
    CHECKM(started == THREADS, "round %d: only %d of %d threads started", r, started,
           THREADS);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    rss[r] = rss_bytes();
  }
  CHECKM(errors == 0, "%ld allocation failures or corrupted blocks", errors);
  size_t base = rss[WARM - 1];
  /* under a sanitizer RSS is mostly the sanitizer's own (shadow memory,
   * per-thread histories): the bound is checked in the plain variants */
  for (int r = WARM; r < ROUNDS && !T_SANITIZED; r++)
    CHECKM(rss[r] <= base + 16 * MiB,
           "RSS after round %d is %zu KiB, after round %d it was %zu KiB", r,
           rss[r] / 1024, WARM - 1, base / 1024);
  if (t_failures)
    for (int r = 0; r < ROUNDS; r++) fprintf(stderr, "  round %d: RSS %zu KiB\n", r, rss[r] / 1024);
  pthread_attr_destroy(&attr);
  return t_done();
}
