/* seed_heap: small requests come from the brk heap.  Allocating many small
 * blocks moves sbrk(0) up, the [heap] line of /proc/self/maps appears/grows
 * and ends at the break, and every small block lies inside it (also sizes up
 * to just below the 128 KiB mmap threshold). */
#include "common.h"

int main(void) {
  t_name = "seed_heap";
  enum { N = 20000 };
  static void *p[N];
  uintptr_t b0 = cur_brk();
  uintptr_t lo0 = 0, hi0 = 0;
  int had_heap = heap_range(&lo0, &hi0);
  for (int i = 0; i < N; i++) {
    p[i] = malloc(opaque_size(64));
    REQUIRE(p[i] != NULL);
    memset(p[i], 0x11, 64);
  }
  uintptr_t b1 = cur_brk();
  CHECKM(b1 > b0, "sbrk(0) did not move up: %#lx -> %#lx after %d x 64 bytes",
         (unsigned long)b0, (unsigned long)b1, N);
  CHECKM(b1 >= b0 + N * 64 / 2, "sbrk(0) moved only %lu bytes for %d x 64 bytes",
         (unsigned long)(b1 - b0), N);
  uintptr_t lo = 0, hi = 0;
  int has_heap = heap_range(&lo, &hi);
  CHECKM(has_heap, "no [heap] line in /proc/self/maps after %d small mallocs", N);
  if (has_heap) {
    CHECKM(hi >= b1 && hi - b1 < 4096,
           "[heap] ends at %#lx, but sbrk(0) is %#lx", (unsigned long)hi,
           (unsigned long)b1);
    if (had_heap)
      CHECKM(hi > hi0, "[heap] did not grow: end %#lx -> %#lx",
             (unsigned long)hi0, (unsigned long)hi);
    int outside = 0;
    for (int i = 0; i < N; i++) {
      uintptr_t a = (uintptr_t)p[i];
      if (a < lo || a + 64 > b1) {
        if (outside++ < 3)
          fprintf(stderr, "  block %d at %p is outside [heap] %#lx-%#lx\n", i,
                  p[i], (unsigned long)lo, (unsigned long)b1);
      }
    }
    CHECKM(outside == 0, "%d of %d small blocks are outside [heap]", outside, N);
  }
  /* medium sizes below the mmap threshold come from the heap too */
  const size_t med[] = {1000, 4096, 20000, 65536, 100000, 120000};
  void *m[6];
  for (int i = 0; i < 6; i++) {
    m[i] = malloc(opaque_size(med[i]));
    REQUIRE(m[i] != NULL);
    memset(m[i], 0x22, med[i]);
    CHECKM(in_heap(m[i]), "malloc(%zu): %s, want [heap]", med[i], map_desc(m[i]));
  }
  for (int i = 0; i < 6; i++) free(m[i]);
  for (int i = 0; i < N; i++) free(p[i]);
  return t_done();
}
