/*
 * B3 (found by tests/fuzz fuzz_alloc): free() of a heap block whose upper
 * neighbour is a small block sitting in the thread cache next to the top
 * chunk crashes (SIGSEGV) when top_pad is small.
 *
 * free_work (src/api.c, the loop under "home:") sends the cached neighbour
 * home with dp_free_to_arena(); it merges into the top, after_free() trims
 * the heap (the new break is top + top_pad + 48, page-aligned), and the loop
 * then reads the header of the chunk after that neighbour, which is now
 * above the break.  With the default top_pad (128 KiB) that header stays
 * mapped; with top_pad 0 .. ~16 KiB it does not.
 *
 *   cc tests/fuzz/repro/free_trim_neighbour.c -o /tmp/r
 *   LD_PRELOAD=build/libdepot.so /tmp/r      # depot: SIGSEGV while open
 *   /tmp/r                                    # glibc: ok
 * Exit 0 and "ok" once fixed.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  void *a = malloc(100000); /* above the thread cache (16 KiB), below mmap */
  void *b = malloc(396);    /* right above a, below the top chunk */
  if (!a || !b)
    return 2;
  mallopt(M_TOP_PAD, 0);
  free(b); /* to the thread cache */
  free(a); /* brings b home first: b joins the top, the heap is trimmed */
  puts("ok");
  return 0;
}
