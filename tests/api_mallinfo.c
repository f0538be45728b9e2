/* api_mallinfo: mallinfo2 (and the int mallinfo) stay consistent:
 *   uordblks grows after small allocations; arena covers in-use + free;
 *   hblks / hblkhd count the blocks that went to mmap and drop after free. */
#include "common.h"

static void show(const char *tag, struct mallinfo2 m) {
  fprintf(stderr,
          "  %s: arena=%zu ordblks=%zu smblks=%zu hblks=%zu hblkhd=%zu "
          "usmblks=%zu fsmblks=%zu uordblks=%zu fordblks=%zu keepcost=%zu\n",
          tag, m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.usmblks,
          m.fsmblks, m.uordblks, m.fordblks, m.keepcost);
}

static int consistent(struct mallinfo2 m) {
  return m.uordblks + m.fordblks == m.arena && m.keepcost <= m.fordblks &&
         m.fsmblks <= m.fordblks;
}

int main(void) {
  t_name = "api_mallinfo";
  struct mallinfo2 m0 = mallinfo2();
  CHECKM(consistent(m0), "at start: uordblks+fordblks != arena or keepcost > fordblks");

  enum { N = 2000 };
  static void *small[N];
  for (int i = 0; i < N; i++) {
    small[i] = malloc(opaque_size(200));
    REQUIRE(small[i] != NULL);
    memset(small[i], 1, 200);
  }
  struct mallinfo2 m1 = mallinfo2();
  CHECKM(m1.uordblks >= m0.uordblks + (size_t)N * 200,
         "uordblks %zu -> %zu after %d x 200 bytes", m0.uordblks, m1.uordblks, N);
  CHECKM(m1.arena >= m1.uordblks, "arena %zu < uordblks %zu", m1.arena,
         m1.uordblks);
  CHECKM(m1.arena > 0, "arena is 0 with %d blocks in use", N);
  CHECKM(consistent(m1), "after small allocations: fields inconsistent");

  /* large blocks, each in its own mapping (fresh process: the threshold is
   * the default 128 KiB) */
  void *big[3];
  t_alloc_filled(big, 3, MiB, 2);
  struct mallinfo2 m2 = mallinfo2();
  CHECKM(m2.hblks == m1.hblks + 3, "hblks %zu -> %zu after 3 x 1 MiB", m1.hblks,
         m2.hblks);
  CHECKM(m2.hblkhd >= m1.hblkhd + 3 * MiB && m2.hblkhd < m1.hblkhd + 3 * MiB + 3 * 65536,
         "hblkhd %zu -> %zu after 3 x 1 MiB", m1.hblkhd, m2.hblkhd);
  /* the int version agrees (values are small here) */
  struct mallinfo mi = mallinfo();
  struct mallinfo2 m2b = mallinfo2();
  CHECKM((size_t)mi.hblks == m2b.hblks && (size_t)mi.hblkhd == m2b.hblkhd &&
             (size_t)mi.uordblks == m2b.uordblks && (size_t)mi.arena == m2b.arena,
         "mallinfo (%d %d %d %d) disagrees with mallinfo2 (%zu %zu %zu %zu)",
         mi.hblks, mi.hblkhd, mi.uordblks, mi.arena, m2b.hblks, m2b.hblkhd,
         m2b.uordblks, m2b.arena);

  for (int i = 0; i < 3; i++) free(big[i]);
  struct mallinfo2 m3 = mallinfo2();
  CHECKM(m3.hblks == m1.hblks, "hblks %zu after freeing the 1 MiB blocks, want %zu",
         m3.hblks, m1.hblks);
  CHECKM(m3.hblkhd == m1.hblkhd, "hblkhd %zu after freeing, want %zu", m3.hblkhd,
         m1.hblkhd);

  for (int i = 0; i < N; i++) free(small[i]);
  struct mallinfo2 m4 = mallinfo2();
  CHECKM(consistent(m4), "after frees: fields inconsistent");
  CHECKM(m4.uordblks <= m1.uordblks, "uordblks grew after frees: %zu -> %zu",
         m1.uordblks, m4.uordblks);
  if (t_failures) {
    show("m0", m0);
    show("m1", m1);
    show("m2", m2);
    show("m3", m3);
    show("m4", m4);
  }
  return t_done();
}
