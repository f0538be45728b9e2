/* thread_signal: allocation keeps working in a signal-heavy program.  A
 * SIGALRM timer fires every 50 us and a signaller thread floods the
 * allocating threads with SIGUSR1 (handlers installed without SA_RESTART, so
 * blocking system calls see EINTR).  The handlers only count; they never
 * call malloc.  Three threads allocate, verify and free blocks of all sizes
 * (including mmap'd ones) under that pressure. */
#include "common.h"

#if T_SANITIZED
enum { ITER = 20000, ALLOCATORS = 3 };
#else
enum { ITER = 150000, ALLOCATORS = 3 };
#endif

static int alarms, usr1s;
static volatile int stop;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long errors;

/* lock-free atomics are async-signal-safe; the handlers run in any thread */
static void on_alarm(int sig) {
  (void)sig;
  __atomic_fetch_add(&alarms, 1, __ATOMIC_RELAXED);
}
static void on_usr1(int sig) {
  (void)sig;
  __atomic_fetch_add(&usr1s, 1, __ATOMIC_RELAXED);
}

static void *allocator(void *arg) {
  uint32_t x = (uint32_t)(uintptr_t)arg * 31337u + 7;
  enum { K = 64 };
  unsigned char *v[K] = {0};
  size_t sz[K] = {0};
  long bad = 0;
  for (int it = 0; it < ITER; it++) {
    x = x * 1103515245u + 12345u;
    int s = (int)((x >> 3) % K);
    if (v[s]) {
      if (!all_bytes(v[s], sz[s], (unsigned char)(s + 1))) bad++;
      free(v[s]);
    }
    size_t n = (x >> 10) % 500 == 0 ? 150000 + (x >> 12) % 200000 : 1 + (x >> 10) % 2000;
    v[s] = (it & 1) ? malloc(n) : calloc(1, n);
    if (!v[s]) {
      bad++;
      sz[s] = 0;
      continue;
    }
    if (!(it & 1) && !all_bytes(v[s], n, 0)) bad++;
    memset(v[s], s + 1, n);
    sz[s] = n;
  }
  for (int s = 0; s < K; s++) free(v[s]);
  pthread_mutex_lock(&lock);
  errors += bad;
  pthread_mutex_unlock(&lock);
  return NULL;
}

static pthread_t threads[ALLOCATORS];

static void *signaller(void *arg) {
  (void)arg;
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    for (int i = 0; i < ALLOCATORS; i++) pthread_kill(threads[i], SIGUSR1);
    sched_yield();
  }
  return NULL;
}

int main(void) {
  t_name = "thread_signal";
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART */
  sa.sa_handler = on_alarm;
  REQUIRE(sigaction(SIGALRM, &sa, NULL) == 0);
  sa.sa_handler = on_usr1;
  REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0);

  for (int i = 1; i < ALLOCATORS; i++)
    REQUIRE(pthread_create(&threads[i], NULL, allocator, (void *)(uintptr_t)i) == 0);
  threads[0] = pthread_self();
  pthread_t sig;
  struct itimerval tv = {{0, 50}, {0, 50}};
  REQUIRE(setitimer(ITIMER_REAL, &tv, NULL) == 0);
  REQUIRE(pthread_create(&sig, NULL, signaller, NULL) == 0);

  allocator((void *)(uintptr_t)0); /* the main thread allocates too */
  for (int i = 1; i < ALLOCATORS; i++) pthread_join(threads[i], NULL);

  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  pthread_join(sig, NULL);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("signals delivered: %d SIGALRM, %d SIGUSR1 (informational)\n",
         __atomic_load_n(&alarms, __ATOMIC_RELAXED), __atomic_load_n(&usr1s, __ATOMIC_RELAXED));
  CHECKM(errors == 0, "%ld allocation failures or corrupted blocks under signals", errors);
  return t_done();
}
