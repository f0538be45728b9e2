/* thread_fork: fork while other threads allocate.  Worker threads churn
 * through malloc/calloc/realloc/free of all sizes until told to stop; a
 * separate thread (and then the main thread) forks repeatedly.  Each child
 * allocates, verifies and frees blocks of all sizes (also in a new thread,
 * except under TSan) and exits 0 through exit().  A child that deadlocks on
 * an allocator lock held by a thread that does not exist in the child hangs
 * and is caught by the runner's timeout. */
#include "common.h"

#if T_SANITIZED
enum { WORKERS = 2, FORKS = 6 };
#else
enum { WORKERS = 3, FORKS = 8 };
#endif

static volatile int stop;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long worker_errors;

static void *worker(void *arg) {
  uint32_t x = (uint32_t)(uintptr_t)arg * 977u + 5;
  void *keep[32] = {0};
  size_t ksz[32] = {0};
  long bad = 0;
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    x = x * 1103515245u + 12345u;
    int slot = (int)((x >> 4) % 32);
    if (keep[slot]) {
      if (!all_bytes(keep[slot], ksz[slot], (unsigned char)slot)) bad++;
      free(keep[slot]);
      keep[slot] = NULL;
    }
    size_t sz = (x >> 9) % 100 == 0 ? 200000 + (x >> 12) % 100000 : 1 + (x >> 9) % 4000;
    unsigned char *p = ((x >> 20) & 3) == 0 ? calloc(1, sz) : malloc(sz);
    if (!p) {
      bad++;
      continue;
    }
    if (((x >> 22) & 7) == 0) {
      unsigned char *q = realloc(p, sz * 2);
      if (!q) {
        bad++;
        free(p);
        continue;
      }
      p = q;
      sz *= 2;
    }
    memset(p, slot, sz);
    keep[slot] = p;
    ksz[slot] = sz;
  }
  for (int i = 0; i < 32; i++) free(keep[i]);
  pthread_mutex_lock(&lock);
  worker_errors += bad;
  pthread_mutex_unlock(&lock);
  return NULL;
}

static int child_work(void) {
  int bad = 0;
  const size_t sizes[] = {1, 16, 100, 1000, 5000, 70000, 140000, MiB, 3 * MiB};
  void *v[9];
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 9; i++) {
      v[i] = malloc(sizes[i]);
      if (!v[i]) return 1;
      memset(v[i], i + round, sizes[i]);
    }
    for (int i = 0; i < 9; i++) {
      if (!all_bytes(v[i], sizes[i], (unsigned char)(i + round))) bad++;
      void *q = realloc(v[i], sizes[i] + 100);
      if (!q) return 1;
      free(q);
    }
    void *c = calloc(100, 100);
    if (!c || !all_bytes(c, 10000, 0)) bad++;
    free(c);
    /* many small ones too */
    void *w[200];
    for (int i = 0; i < 200; i++) w[i] = malloc(24 + (size_t)i);
    for (int i = 0; i < 200; i++) free(w[i]);
  }
  return bad;
}

static void *child_thread(void *arg) {
  (void)arg;
  return (void *)(intptr_t)child_work();
}

static int fork_once(void) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int bad = child_work();
    /* Under a sanitizer the child does not start a thread: the sanitizer's
     * own thread registry may have been locked by another thread at the
     * fork (seen as rare hangs under ASan and TSan); the plain variants
     * check that a forked child can start threads on depot. */
#if !T_SANITIZED
    pthread_t t;
    void *r = NULL;
    if (pthread_create(&t, NULL, child_thread, NULL) != 0) bad++;
    else {
      pthread_join(t, &r);
      if (r) bad++;
    }
#endif
#if T_SANITIZED
    _exit(bad ? 3 : 0); /* LeakSanitizer's exit-time scan is not fork-safe */
#else
    exit(bad ? 3 : 0);
#endif
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    fprintf(stderr, "  child %d: %s\n", (int)pid, status_desc(st));
    return 1;
  }
  return 0;
}

static void *forker(void *arg) {
  (void)arg;
  long failed = 0;
  for (int i = 0; i < FORKS; i++) failed += fork_once() != 0;
  return (void *)failed;
}

int main(void) {
  t_name = "thread_fork";
  fflush(stdout);
  pthread_t w[WORKERS], f;
  for (int i = 0; i < WORKERS; i++)
    REQUIRE(pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)i) == 0);
  REQUIRE(pthread_create(&f, NULL, forker, NULL) == 0);
  void *failed = NULL;
  pthread_join(f, &failed);
  CHECKM(failed == NULL, "%ld of %d children forked from a thread failed",
         (long)(intptr_t)failed, FORKS);
  long main_failed = 0;
  for (int i = 0; i < FORKS / 2; i++) main_failed += fork_once() != 0;
  CHECKM(main_failed == 0, "%ld of %d children forked from main failed", main_failed,
         FORKS / 2);
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < WORKERS; i++) pthread_join(w[i], NULL);
  CHECKM(worker_errors == 0, "%ld worker allocation failures or corruptions", worker_errors);
  return t_done();
}
