/* probe: not a workload; checks that an allocator loads and really provides malloc (LD_PRELOAD can fail silently). */
/* Prints the file that malloc, free and realloc resolve to, after using them
 * a little from two threads. */
#include "../workloads/common.h"
#include <dlfcn.h>

static void *work(void *arg) {
  uint64_t seed = (uint64_t)(uintptr_t)arg;
  void *p[64] = {0};
  for (int i = 0; i < 20000; i++) {
    int k = (int)rng_below(&seed, 64);
    free(p[k]);
    p[k] = xmalloc(rng_logsize(&seed, 1, 100000));
    if (i % 7 == 0) p[k] = xrealloc(p[k], rng_logsize(&seed, 1, 100000));
  }
  for (int k = 0; k < 64; k++) free(p[k]);
  return NULL;
}

static const char *where(const char *sym) {
  Dl_info info;
  void *f = dlsym(RTLD_DEFAULT, sym);
  if (f && dladdr(f, &info) && info.dli_fname) return info.dli_fname;
  return "?";
}

int main(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, work, (void *)1)) die("pthread_create failed");
  work((void *)2);
  pthread_join(t, NULL);
  char *c = xcalloc(1000, 10);
  for (int i = 0; i < 10000; i++)
    if (c[i]) die("calloc memory not zeroed");
  free(c);
  printf("probe malloc=%s\n", where("malloc"));
  printf("probe free=%s\n", where("free"));
  printf("probe realloc=%s\n", where("realloc"));
  return 0;
}
