/* thread_xfree: cross-thread frees with contents checked.  Producer threads
 * allocate blocks of mixed sizes (tiny to mmap'd), fill them with a pattern
 * and pass them through a queue; consumer threads verify the pattern, some
 * realloc the block first, and free it.  Every block must arrive intact. */
#include "common.h"

#if T_SANITIZED
enum { PRODUCERS = 3, CONSUMERS = 3, PER_PRODUCER = 4000 };
#else
enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 30000 };
#endif
enum { QCAP = 1024 };

struct item {
  unsigned char *p;
  size_t size;
  uint32_t seed;
};

static struct item queue[QCAP];
static size_t qhead, qtail, qcount;
static int producers_left = PRODUCERS;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qnotfull = PTHREAD_COND_INITIALIZER;
static pthread_cond_t qnotempty = PTHREAD_COND_INITIALIZER;

static pthread_mutex_t rlock = PTHREAD_MUTEX_INITIALIZER;
static long verified, corrupted, alloc_failed;

static size_t pick_size(uint32_t *x) {
  *x = *x * 1103515245u + 12345u;
  uint32_t r = (*x >> 8) % 1000;
  if (r < 600) return 1 + (*x >> 4) % 128;
  if (r < 900) return 128 + (*x >> 4) % 1024;
  if (r < 990) return 1024 + (*x >> 4) % 32768;
  if (r < 998) return 65536 + (*x >> 4) % 65536;
  return 150000 + (*x >> 4) % 300000; /* mmap'd */
}

static void *producer(void *arg) {
  uint32_t id = (uint32_t)(uintptr_t)arg;
  uint32_t x = id * 7777 + 1;
  for (int i = 0; i < PER_PRODUCER; i++) {
    size_t sz = pick_size(&x);
    uint32_t seed = id * 1000003u + (uint32_t)i;
    unsigned char *p = (i % 7 == 3) ? calloc(1, sz) : malloc(sz);
    if (!p) {
      pthread_mutex_lock(&rlock);
      alloc_failed++;
      pthread_mutex_unlock(&rlock);
      continue;
    }
    pat_fill(p, sz, seed);
    pthread_mutex_lock(&qlock);
    while (qcount == QCAP) pthread_cond_wait(&qnotfull, &qlock);
    queue[qtail] = (struct item){p, sz, seed};
    qtail = (qtail + 1) % QCAP;
    qcount++;
    pthread_cond_signal(&qnotempty);
    pthread_mutex_unlock(&qlock);
  }
  pthread_mutex_lock(&qlock);
  producers_left--;
  pthread_cond_broadcast(&qnotempty);
  pthread_mutex_unlock(&qlock);
  return NULL;
}

static void *consumer(void *arg) {
  uint32_t id = (uint32_t)(uintptr_t)arg;
  long ok = 0, bad = 0;
  for (uint32_t n = 0;; n++) {
    pthread_mutex_lock(&qlock);
    while (qcount == 0 && producers_left > 0) pthread_cond_wait(&qnotempty, &qlock);
    if (qcount == 0) {
      pthread_mutex_unlock(&qlock);
      break;
    }
    struct item it = queue[qhead];
    qhead = (qhead + 1) % QCAP;
    qcount--;
    pthread_cond_signal(&qnotfull);
    pthread_mutex_unlock(&qlock);

    int good = malloc_usable_size(it.p) >= it.size &&
               pat_check(it.p, it.size, it.seed) == (size_t)-1;
    if (good && (n + id) % 5 == 0) {
      /* cross-thread realloc, growing or shrinking */
      size_t nsz = (n % 2) ? it.size * 2 + 1 : it.size / 2 + 1;
      unsigned char *q = realloc(it.p, nsz);
      if (q) {
        size_t keep = nsz < it.size ? nsz : it.size;
        good = pat_check(q, keep, it.seed) == (size_t)-1;
        it.p = q;
      }
    }
    if (good)
      ok++;
    else if (bad++ < 3)
      fprintf(stderr, "  consumer %u: block %p (%zu bytes, seed %u) corrupted\n", id,
              (void *)it.p, it.size, it.seed);
    free(it.p);
  }
  pthread_mutex_lock(&rlock);
  verified += ok;
  corrupted += bad;
  pthread_mutex_unlock(&rlock);
  return NULL;
}

int main(void) {
  t_name = "thread_xfree";
  pthread_t prod[PRODUCERS], cons[CONSUMERS];
  for (int i = 0; i < CONSUMERS; i++)
    REQUIRE(pthread_create(&cons[i], NULL, consumer, (void *)(uintptr_t)i) == 0);
  for (int i = 0; i < PRODUCERS; i++)
    REQUIRE(pthread_create(&prod[i], NULL, producer, (void *)(uintptr_t)i) == 0);
  for (int i = 0; i < PRODUCERS; i++) pthread_join(prod[i], NULL);
  for (int i = 0; i < CONSUMERS; i++) pthread_join(cons[i], NULL);
  CHECKM(alloc_failed == 0, "%ld allocations failed", alloc_failed);
  CHECKM(corrupted == 0, "%ld blocks arrived corrupted", corrupted);
  CHECKM(verified == (long)PRODUCERS * PER_PRODUCER, "verified %ld of %ld blocks",
         verified, (long)PRODUCERS * PER_PRODUCER);
  return t_done();
}
