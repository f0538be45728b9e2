/* seed_scatter: a heap freed at random in small pieces serves bigger blocks.
 * 48000 blocks of 16-128 bytes (about 3.4 MiB), 90% freed in random order,
 * then 256 B - 4 KiB blocks for 3/4 of the freed bytes: the break grows by
 * less than those bytes (on depot, by less than half of them: most holes
 * are only a few hundred bytes, so some growth is due), and every surviving small
 * block keeps its contents.  The same runs in a second thread, whose arena
 * lives in mmap'd segments.  (On depot the freed blocks wait whole in the
 * fast lists and are coalesced before the heap grows; run against
 * build/debug, the invariant walker checks the steps.) */
#include "common.h"

enum { N = 48000 };

typedef struct {
  unsigned char *p;
  unsigned size;
} ent;

static uint64_t rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int scatter(uint64_t seed, int check_brk) {
  static __thread ent e[N];
  static __thread ent big[N];
  size_t freed = 0;
  for (int i = 0; i < N; i++) {
    e[i].size = 16 + (unsigned)(rng(&seed) % 113);
    e[i].p = malloc(opaque_size(e[i].size));
    REQUIRE(e[i].p != NULL);
    memset(e[i].p, (unsigned char)i, e[i].size);
  }
  /* free 90% in random order */
  static __thread int order[N];
  for (int i = 0; i < N; i++) order[i] = i;
  for (int i = N - 1; i > 0; i--) {
    int j = (int)(rng(&seed) % (uint64_t)(i + 1)), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (int k = 0; k < N; k++) {
    int i = order[k];
    if (i % 10 == 0) continue;
    freed += e[i].size;
    free(e[i].p);
    e[i].p = NULL;
  }
  uintptr_t b0 = cur_brk();
  size_t again = 0;
  int nbig = 0;
  while (again < freed * 3 / 4 && nbig < N) {
    big[nbig].size = 256 + (unsigned)(rng(&seed) % 3841);
    big[nbig].p = malloc(opaque_size(big[nbig].size));
    REQUIRE(big[nbig].p != NULL);
    memset(big[nbig].p, 0xb5, big[nbig].size);
    again += big[nbig].size;
    nbig++;
  }
  uintptr_t b1 = cur_brk();
  int bad = 0;
  for (int i = 0; i < N; i++)
    if (e[i].p && !all_bytes(e[i].p, e[i].size, (unsigned char)i)) bad++;
  for (int i = 0; i < nbig; i++)
    if (!all_bytes(big[i].p, big[i].size, 0xb5)) bad++;
  CHECKM(bad == 0, "%d blocks lost their contents", bad);
  /* glibc grows by about 93% of `again` here (2112 of 2280 KiB, seed
   * 12345), mimalloc not at all; depot's bar is 3/5 (it grew 1112 KiB with
   * 16 KiB small-class caches, 1268 with the 8 KiB ones since 2026-12-03:
   * blocks the caches hold are holes the bigger blocks cannot use) */
  if (check_brk)
    CHECKM(b1 - b0 <= (have_depot() ? again * 3 / 5 : again),
           "the break grew by %lu KiB for %zu KiB of bigger blocks after %zu KiB of small "
           "frees", (unsigned long)(b1 - b0) / 1024, again / 1024, freed / 1024);
  for (int i = 0; i < N; i++) free(e[i].p);
  for (int i = 0; i < nbig; i++) free(big[i].p);
  return bad;
}

static void *thread_main(void *arg) {
  (void)arg;
  scatter(77, 0);
  return NULL;
}

int main(void) {
  t_name = "seed_scatter";
  CHECK(mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1);
  scatter(12345, 1);
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, thread_main, NULL) == 0);
  pthread_join(t, NULL);
  scatter(999, 1); /* again, on the heap the first round left */
  return t_done();
}
