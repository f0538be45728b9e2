/* seed_trim: returning memory.
 *   default: freeing a lot at the top of the heap lowers the break: 4 MiB of
 *     1 KiB blocks (freed in allocation order, so the last frees are the
 *     blocks next to the top), and 4 MiB of 64 KiB blocks;
 *   M_TRIM_THRESHOLD high: the same frees leave the break where it is, and
 *     malloc_trim(0) then lowers it;
 *   malloc_trim(0) gives back free pages in the middle of the heap: RSS
 *     (/proc/self/statm) drops after freeing many small blocks, while a block
 *     allocated after them keeps the break up;
 *   a heap holed in the middle gives its holes' pages back before new
 *     memory is added on top of them;
 *   waves of 16 MiB freed at the top and asked for again: from the third
 *     on, no brk round trip and no new page faults.
 * Each case runs in a fresh fork. */
#include "common.h"

enum { NB = 4096, BSZ = 1024 }; /* 4 MiB of 1 KiB blocks */
static void *blk[NB];
static int nb = NB;
static size_t bsz = BSZ;

static uintptr_t fill_heap(void) {
  t_alloc_filled(blk, nb, bsz, 0x77);
  return cur_brk();
}
static void free_all(void) {
  for (int i = 0; i < nb; i++) free(blk[i]);
}

static void sub_default_trims_64k(void *a) {
  (void)a;
  nb = 64;
  bsz = 64 * 1024;
  uintptr_t peak = fill_heap();
  free_all();
  uintptr_t after = cur_brk();
  CHECKM(after + 2 * MiB <= peak,
         "freeing 64 x 64 KiB at the top lowered the break only from %#lx to %#lx",
         (unsigned long)peak, (unsigned long)after);
}

static void sub_default_trims(void *a) {
  (void)a;
  uintptr_t b0 = cur_brk();
  uintptr_t peak = fill_heap();
  CHECKM(peak >= b0 + NB * BSZ / 2, "the break did not grow: %#lx -> %#lx",
         (unsigned long)b0, (unsigned long)peak);
  free_all();
  uintptr_t after = cur_brk();
  CHECKM(after + 2 * MiB <= peak,
         "freeing 4 MiB at the top lowered the break only from %#lx to %#lx",
         (unsigned long)peak, (unsigned long)after);
  /* and it can grow again */
  if (after + 2 * MiB <= peak) {
    uintptr_t again = fill_heap();
    CHECK(again > after);
    free_all();
  }
}

static void sub_high_threshold(void *a) {
  (void)a;
  CHECK(mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1);
  uintptr_t peak = fill_heap();
  free_all();
  uintptr_t after = cur_brk();
  CHECKM(after == peak,
         "M_TRIM_THRESHOLD 256 MiB, yet freeing 4 MiB moved the break %#lx -> %#lx",
         (unsigned long)peak, (unsigned long)after);
  int r = malloc_trim(0);
  uintptr_t trimmed = cur_brk();
  CHECKM(trimmed + 2 * MiB <= peak,
         "malloc_trim(0) lowered the break only from %#lx to %#lx",
         (unsigned long)peak, (unsigned long)trimmed);
  CHECKM(r == 1, "malloc_trim(0) returned %d after releasing memory", r);
}

/* a lower threshold set with mallopt trims as well */
static void sub_low_threshold(void *a) {
  (void)a;
  CHECK(mallopt(M_TRIM_THRESHOLD, 64 * 1024) == 1);
  uintptr_t peak = fill_heap();
  free_all();
  uintptr_t after = cur_brk();
  CHECKM(after + 3 * MiB <= peak, "M_TRIM_THRESHOLD 64 KiB: break %#lx -> %#lx",
         (unsigned long)peak, (unsigned long)after);
}

/* malloc_trim(0) releases free pages that are not at the top */
static void sub_malloc_trim_rss(void *a) {
  (void)a;
  CHECK(mallopt(M_TRIM_THRESHOLD, 512 << 20) == 1);
  enum { N = 65536, SZ = 512 }; /* 32 MiB of 512-byte blocks */
  static void *v[N];
  t_alloc_filled(v, N, SZ, 0x3c);
  void *pin = malloc(opaque_size(SZ)); /* keeps the break up */
  REQUIRE(pin != NULL);
  memset(pin, 1, SZ);
  uintptr_t brk_before = cur_brk();
  size_t rss1 = rss_bytes();
  for (int i = 0; i < N; i++) free(v[i]);
  size_t rss2 = rss_bytes();
  int r = malloc_trim(0);
  size_t rss3 = rss_bytes();
  fprintf(stderr, "  rss: %zu KiB in use, %zu KiB after free, %zu KiB after malloc_trim(0)=%d\n",
          rss1 / 1024, rss2 / 1024, rss3 / 1024, r);
  CHECKM(rss3 + 24 * MiB <= rss1,
         "RSS %zu KiB -> %zu KiB after freeing 32 MiB of small blocks and malloc_trim(0)",
         rss1 / 1024, rss3 / 1024);
  CHECKM(r == 1, "malloc_trim(0) returned %d after releasing memory", r);
  CHECKM(cur_brk() >= (uintptr_t)pin + SZ && cur_brk() <= brk_before,
         "break %#lx, pin at %p, break before %#lx", (unsigned long)cur_brk(), pin,
         (unsigned long)brk_before);
  CHECK(all_bytes(pin, SZ, 1));
  /* released memory is usable again and reads as written */
  t_alloc_filled(v, N, SZ, 0x4d);
  int bad = 0;
  for (int i = 0; i < N; i++)
    if (!all_bytes(v[i], SZ, 0x4d)) bad++;
  CHECKM(bad == 0, "%d blocks lost their contents after reuse", bad);
  for (int i = 0; i < N; i++) free(v[i]);
  free(pin);
}

/* A heap holed by frees in the middle (three blocks of every four) does
 * not pay for new memory on top of its holes: before big blocks get
 * mappings of their own, the holes' inner pages go back, about as much as
 * the new blocks take, so RSS grows by far less than the new bytes.  (The
 * last block of each group stays, so nothing reaches the top.) */
static void sub_holes_before_growth(void *a) {
  (void)a;
  enum { N = 8192, SZ = 4096, BIG = 256 * 1024, NBIG = 64 }; /* 32 MiB, then 16 MiB */
  static void *v[N];
  static void *big[NBIG];
  t_alloc_filled(v, N, SZ, 0x5a);
  for (int i = 0; i < N; i++)
    if (i % 4 != 3) {
      free(v[i]);
      v[i] = NULL;
    }
  size_t rss1 = rss_bytes();
  t_alloc_filled(big, NBIG, BIG, 0x6b);
  size_t rss2 = rss_bytes();
  fprintf(stderr, "  rss: %zu KiB with the holes, %zu KiB after %d KiB of new blocks\n",
          rss1 / 1024, rss2 / 1024, NBIG * BIG / 1024);
  CHECKM(rss2 < rss1 + (size_t)NBIG * BIG / 2,
         "RSS grew from %zu KiB to %zu KiB for %d KiB of new blocks over 24 MiB of holes",
         rss1 / 1024, rss2 / 1024, NBIG * BIG / 1024);
  int bad = 0;
  for (int i = 0; i < N; i++)
    if (v[i] && !all_bytes(v[i], SZ, 0x5a)) bad++;
  for (int i = 0; i < NBIG; i++)
    if (!all_bytes(big[i], BIG, 0x6b)) bad++;
  CHECKM(bad == 0, "%d blocks lost their contents", bad);
  for (int i = 0; i < NBIG; i++) free(big[i]);
  for (int i = 0; i < N; i++) free(v[i]);
}

/* Waves: a program that frees 16 MiB at the top and asks for it again
 * right after pays the break's round trip and the page faults once, not
 * on every wave: the trim after the second wave keeps what the first
 * trim gave back, so the third wave raises the break no more and touches
 * no new page; once the waves stop, malloc_trim(0) still gives it all
 * back. */
static void sub_waves_keep_their_memory(void *a) {
  (void)a;
  enum { N = 256, SZ = 64 * 1024 }; /* 16 MiB of 64 KiB blocks (below the threshold) */
  static void *v[N];
  uintptr_t low[4], high[4];
  long faults[4];
  for (int w = 0; w < 4; w++) {
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    t_alloc_filled(v, N, SZ, 0x20 + w);
    getrusage(RUSAGE_SELF, &ru1);
    faults[w] = ru1.ru_minflt - ru0.ru_minflt;
    high[w] = cur_brk();
    for (int i = N; i-- > 0;) free(v[i]); /* the top's neighbour last */
    low[w] = cur_brk();
  }
  fprintf(stderr, "  page faults per wave: %ld %ld %ld %ld; break after each: %#lx %#lx %#lx %#lx\n",
          faults[0], faults[1], faults[2], faults[3], (unsigned long)low[0],
          (unsigned long)low[1], (unsigned long)low[2], (unsigned long)low[3]);
  if (depot_only("waves after the second keep their memory")) {
    CHECKM(low[0] + 8 * MiB <= high[0],
           "the first wave's frees did not lower the break: %#lx -> %#lx",
           (unsigned long)high[0], (unsigned long)low[0]);
    CHECKM(faults[2] < faults[0] / 8 && faults[3] < faults[0] / 8,
           "waves 3 and 4 took %ld and %ld page faults, the first %ld", faults[2], faults[3],
           faults[0]);
    CHECKM(low[1] >= low[0] + 8 * MiB && high[2] == high[1] && high[3] == high[1],
           "the second trim kept %#lx - %#lx; waves 3 and 4 raised the break to %#lx, %#lx",
           (unsigned long)low[1], (unsigned long)low[0], (unsigned long)high[2],
           (unsigned long)high[3]);
    CHECK(malloc_trim(0) == 1);
    CHECKM(cur_brk() + 8 * MiB <= low[3], "malloc_trim(0) left the break at %#lx (was %#lx)",
           (unsigned long)cur_brk(), (unsigned long)low[3]);
  }
}

int main(void) {
  t_name = "seed_trim";
  SUBTEST(sub_default_trims);
  SUBTEST(sub_default_trims_64k);
  SUBTEST(sub_high_threshold);
  SUBTEST(sub_low_threshold);
  SUBTEST(sub_malloc_trim_rss);
  SUBTEST(sub_holes_before_growth);
  SUBTEST(sub_waves_keep_their_memory);
  return t_done();
}
