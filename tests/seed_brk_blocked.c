/* seed_brk_blocked: when the break cannot grow (a mapping sits right after
 * it), allocation goes on with mmap: many small and medium blocks still
 * succeed and keep their contents; with depot, brk_failures counts the
 * refusal. */
#include "common.h"

int main(void) {
  t_name = "seed_brk_blocked";
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  /* have a heap first */
  void *first = malloc(opaque_size(100));
  REQUIRE(first != NULL);
  uintptr_t brk0 = cur_brk();
  uintptr_t at = (brk0 + 64 * KiB + page - 1) & ~(uintptr_t)(page - 1);
  void *block = mmap((void *)at, 64 * KiB, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (block == MAP_FAILED || (uintptr_t)block != at)
    t_skip("cannot place a mapping right after the break");

  enum { N = 20000 };
  static unsigned char *v[N];
  static size_t sz[N];
  for (int i = 0; i < N; i++) {
    sz[i] = (i % 10 == 9) ? 4000 + (size_t)i % 3000 : 16 + (size_t)(i * 7) % 500;
    v[i] = malloc(opaque_size(sz[i]));
    CHECKM(v[i] != NULL, "malloc(%zu) #%d failed with the break blocked", sz[i], i);
    if (!v[i]) break;
    pat_fill(v[i], sz[i], (uint32_t)i);
  }
  CHECKM(cur_brk() <= at, "the break %#lx went past the blocking mapping at %#lx",
         (unsigned long)cur_brk(), (unsigned long)at);
  int bad = 0;
  for (int i = 0; i < N && v[i]; i++)
    if (pat_check(v[i], sz[i], (uint32_t)i) != (size_t)-1) bad++;
  CHECKM(bad == 0, "%d blocks corrupted", bad);
  /* the blocking mapping itself was never handed out */
  for (int i = 0; i < N && v[i]; i++) {
    uintptr_t a = (uintptr_t)v[i];
    if (a + sz[i] > at && a < at + 64 * KiB) {
      CHECKM(0, "block %d at %p overlaps the blocking mapping", i, (void *)v[i]);
      break;
    }
  }
  if (depot_only("brk_failures counts the refusal")) {
    int (*get)(depot_stats_t *) = (int (*)(depot_stats_t *))dlsym(RTLD_DEFAULT, "depot_stats_get");
    depot_stats_t st;
    memset(&st, 0, sizeof st);
    if (get) get(&st);
    CHECKM(get && st.brk_failures >= 1, "brk_failures = %llu with the break blocked",
           (unsigned long long)st.brk_failures);
    CHECKM(st.region_count >= 1 && st.region_bytes > 0,
           "region_count %llu, region_bytes %llu: no mmap'd region after brk failed",
           (unsigned long long)st.region_count, (unsigned long long)st.region_bytes);
  }
  for (int i = 0; i < N; i++) free(v[i]);
  void *again = malloc(opaque_size(1000));
  CHECK(again != NULL);
  free(again);
  free(first);
  munmap(block, 64 * KiB);
  return t_done();
}
