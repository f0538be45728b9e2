/*
 * vg.h - telling valgrind's memcheck about depot's blocks.
 *
 * Under memcheck (RUNNING_ON_VALGRIND, and valgrind's memcheck preload in
 * LD_PRELOAD, at start) depot runs without thread
 * caches, every call takes the slow path, and each block handed out or
 * taken back is announced with the client requests MALLOCLIKE_BLOCK and
 * FREELIKE_BLOCK.  memcheck then reports the program's leaks, reads and
 * writes of freed blocks and overflows past a block's usable size, as it
 * does on its own allocator.  depot's own work on free memory (links,
 * headers, coalescing) runs with error reporting off.  Outside valgrind
 * the cost is one predictable branch on a global, in slow paths only.
 */
#ifndef DEPOT_VG_H
#define DEPOT_VG_H
#include "internal.h"

#if defined(__has_include) && !defined(DEPOT_NO_VALGRIND)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define DP_HAVE_VALGRIND 1
#endif
#endif

extern bool dp_valgrind; /* running under valgrind */

#ifdef DP_HAVE_VALGRIND
DEPOT_INLINE bool dp_vg_detect(void) { return RUNNING_ON_VALGRIND != 0; }
/* n: the block's usable size.  Its header word stays readable (free reads
 * it); the next chunk's header, the first byte past the block, is made
 * unaddressable while that chunk is free, so a one-byte overflow shows. */
DEPOT_INLINE void dp_vg_alloc(const void *p, size_t n, bool zeroed) {
  if (unlikely(dp_valgrind) && p) {
    VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
    VALGRIND_MAKE_MEM_DEFINED((const char *)p - 8, 8);
    if (((const size_t *)p)[-1] & 4) /* C_MMAPPED: nothing follows in the mapping */
      return;
    const size_t *next_head = (const size_t *)((const char *)p + n);
    VALGRIND_DISABLE_ERROR_REPORTING;
    bool next_free = !(*next_head & 2); /* C_INUSE */
    VALGRIND_ENABLE_ERROR_REPORTING;
    if (next_free)
      VALGRIND_MAKE_MEM_NOACCESS(next_head, 8);
  }
}
DEPOT_INLINE void dp_vg_free(const void *p) {
  if (unlikely(dp_valgrind))
    VALGRIND_FREELIKE_BLOCK(p, 0);
}
DEPOT_INLINE void dp_vg_quiet(void) {
  if (unlikely(dp_valgrind))
    VALGRIND_DISABLE_ERROR_REPORTING;
}
DEPOT_INLINE void dp_vg_loud(void) {
  if (unlikely(dp_valgrind))
    VALGRIND_ENABLE_ERROR_REPORTING;
}
#else
DEPOT_INLINE bool dp_vg_detect(void) { return false; }
DEPOT_INLINE void dp_vg_alloc(const void *p, size_t n, bool zeroed) {
  (void)p, (void)n, (void)zeroed;
}
DEPOT_INLINE void dp_vg_free(const void *p) { (void)p; }
DEPOT_INLINE void dp_vg_quiet(void) {}
DEPOT_INLINE void dp_vg_loud(void) {}
#endif

#endif
