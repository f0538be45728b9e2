/*
 * meta.c - memory for depot's own records (segments, arenas, thread
 * caches, chunk-start bitmaps).  It comes from its own mappings, apart
 * from the program's blocks, so an overflow in the program cannot reach
 * it.  A bump allocator over 1 MiB mappings; records are recycled by their
 * owners (free lists in tcache.c, pagemap.c), never returned here.
 */
#include "internal.h"

#define META_CHUNK ((size_t)1 << 20)

static dp_lock meta_lock = DP_LOCK_INIT;
static char *meta_cur, *meta_end;

void *dp_meta_alloc(size_t size) {
  size = dp_align_up(size, 64); /* records start on their own cache line */
  dp_lock_acquire(&meta_lock);
  if ((size_t)(meta_end - meta_cur) < size) {
    size_t want = size > META_CHUNK ? dp_align_up(size, DP_PAGE) : META_CHUNK;
    char *m = dp_os_mmap_meta(want);
    if (!m) {
      dp_lock_release(&meta_lock);
      return NULL;
    }
    meta_cur = m;
    meta_end = m + want;
  }
  void *p = meta_cur;
  meta_cur += size;
  dp_lock_release(&meta_lock);
  return p;
}

/* fork: the child inherits the lock in whatever state the parent had */
void dp_meta_fork_prepare(void);
void dp_meta_fork_parent(void);
void dp_meta_fork_child(void);
void dp_meta_fork_prepare(void) { dp_lock_fork_take(&meta_lock); }
void dp_meta_fork_parent(void) { dp_lock_fork_give(&meta_lock); }
void dp_meta_fork_child(void) { dp_lock_reinit(&meta_lock); }
