/*
 * large.c - the mmap path: a request at or above the mmap threshold gets
 * a private anonymous mapping of its own, and free() gives it back with
 * munmap, so it never fragments the heap and its pages leave the process
 * at once.  realloc of such a block uses mremap (no copy).
 *
 * Layout, as glibc's: the chunk sits `off` bytes into the mapping (0, or
 * more for an aligned request); prev_size holds off, head holds the
 * mapping size minus off with C_MMAPPED.  A hash set of live blocks (out of
 * band) is what free() trusts: a pointer not in it is never unmapped.
 *
 * The dynamic threshold follows glibc: freeing a mapped block larger than
 * the threshold (up to 32 MiB) raises the threshold to its size and the
 * trim threshold to twice that, unless the program fixed either one.
 */
#include "arena.h" /* the learned trim pad hears of big frees */
#include "large.h"

static dp_lock large_lock = DP_LOCK_INIT;
static uintptr_t *table;     /* open addressing; 0 empty, 1 deleted */
static size_t table_cap;     /* power of two */
static size_t table_used;    /* live + deleted slots */
static dp_large_stats st;
#define RECENT 64
static uintptr_t recent[RECENT]; /* recently unmapped blocks */
static unsigned recent_next;

DEPOT_INLINE size_t hash_ptr(uintptr_t p) { return (size_t)((p >> 4) * 0x9e3779b97f4a7c15ull); }

static bool table_insert_raw(uintptr_t *t, size_t cap, uintptr_t p) {
  size_t m = cap - 1;
  for (size_t i = hash_ptr(p) & m, k = 0; k < cap; i = (i + 1) & m, k++) {
    if (t[i] <= 1) {
      t[i] = p;
      return true;
    }
  }
  return false;
}

static bool table_grow(void) {
  size_t ncap = table_cap ? table_cap * 2 : 1024;
  uintptr_t *nt = dp_os_mmap_meta(ncap * sizeof *nt);
  if (!nt)
    return false;
  size_t live = 0;
  for (size_t i = 0; i < table_cap; i++)
    if (table[i] > 1) {
      table_insert_raw(nt, ncap, table[i]);
      live++;
    }
  if (table)
    dp_os_munmap(table, table_cap * sizeof *table);
  table = nt;
  table_cap = ncap;
  table_used = live;
  return true;
}

static size_t table_find(uintptr_t p) {
  if (!table)
    return SIZE_MAX;
  size_t m = table_cap - 1;
  for (size_t i = hash_ptr(p) & m, k = 0; k < table_cap; i = (i + 1) & m, k++) {
    if (table[i] == p)
      return i;
    if (table[i] == 0)
      break;
  }
  return SIZE_MAX;
}

/* read without the lock: a stale answer only moves one block between the
 * heap and its own mapping */
bool dp_large_wanted(size_t n) {
  return n >= __atomic_load_n(&dp_opt.mmap_threshold, __ATOMIC_RELAXED) &&
         (long)__atomic_load_n(&st.count, __ATOMIC_RELAXED) <
             __atomic_load_n(&dp_opt.mmap_max, __ATOMIC_RELAXED);
}

void *dp_large_alloc(size_t n, size_t align) {
  if (align < DP_ALIGN)
    align = DP_ALIGN;
  size_t extra = align > DP_ALIGN ? align : 0;
  size_t len = dp_align_up(n + 16 + extra, DP_PAGE);
  if (n > DP_MAX_REQUEST || len < n) {
    errno = ENOMEM;
    return NULL;
  }
  char *m = dp_os_mmap(len);
  if (!m) {
    errno = ENOMEM;
    return NULL;
  }
  uintptr_t mem = dp_align_up((uintptr_t)m + 16, align);
  size_t off = mem - 16 - (uintptr_t)m;
  dp_chunk *c = (dp_chunk *)(mem - 16);
  c->prev_size = off;
  head_store(c, (len - off) | C_MMAPPED | C_INUSE);
  if (off >= DP_PAGE) { /* give back the whole pages in front */
    size_t front = dp_align_down(off, DP_PAGE);
    dp_os_munmap(m, front);
    m += front;
    len -= front;
    c->prev_size = off - front;
  }
  dp_lock_acquire(&large_lock);
  if ((table_used + 1) * 2 > table_cap && !table_grow()) {
    dp_lock_release(&large_lock);
    dp_os_munmap(m, len);
    errno = ENOMEM;
    return NULL;
  }
  table_insert_raw(table, table_cap, mem);
  table_used++;
  __atomic_store_n(&st.count, st.count + 1, __ATOMIC_RELAXED);
  if (st.count > st.peak_count)
    st.peak_count = st.count;
  st.bytes += len;
  st.total_maps++;
  if (st.bytes > st.peak_bytes)
    st.peak_bytes = st.bytes;
  dp_lock_release(&large_lock);
  return (void *)mem;
}

bool dp_large_owns(const void *mem) {
  dp_lock_acquire(&large_lock);
  bool r = table_find((uintptr_t)mem) != SIZE_MAX;
  dp_lock_release(&large_lock);
  return r;
}

bool dp_large_recently_freed(const void *mem) {
  dp_lock_acquire(&large_lock);
  bool r = false;
  for (unsigned i = 0; i < RECENT; i++)
    if (recent[i] == (uintptr_t)mem)
      r = true;
  dp_lock_release(&large_lock);
  return r;
}

/* glibc's dynamic threshold: a freed mapping of up to 32 MiB raises the
 * threshold to its size (requests like it come from the heap from now on)
 * and the trim threshold to twice that.  True if its size is now below
 * the threshold: a block like it would come from the heap. */
static bool dynamic_threshold(size_t size) {
  if (__atomic_load_n(&dp_opt.mmap_threshold_fixed, __ATOMIC_RELAXED) || size > MAX_DYN_MMAP_THRESHOLD)
    return false;
  if (size > dp_opt.mmap_threshold) {
    __atomic_store_n(&dp_opt.mmap_threshold, size, __ATOMIC_RELAXED);
    __atomic_store_n(&dp_opt.trim_threshold, 2 * size, __ATOMIC_RELAXED);
  }
  return true;
}

void dp_large_free(void *mem) {
  dp_chunk *c = mem2chunk(mem);
  size_t off = c->prev_size, len = chunk_size(c) + off;
  char *m = (char *)c - off;
  dp_lock_acquire(&large_lock);
  size_t i = table_find((uintptr_t)mem);
  if (i == SIZE_MAX) {
    dp_lock_release(&large_lock);
    dp_fatal("free", "invalid pointer", mem);
  }
  table[i] = 1;
  __atomic_store_n(&st.count, st.count - 1, __ATOMIC_RELAXED);
  st.bytes -= len;
  st.total_unmaps++;
  recent[recent_next++ % RECENT] = (uintptr_t)mem;
  bool to_heap = dynamic_threshold(chunk_size(c));
  dp_lock_release(&large_lock);
  if (to_heap)
    dp_arena_note_big_free(len);
  if (dp_opt.perturb)
    memset(mem, dp_opt.perturb, chunk_usable(c) > 4096 ? 4096 : chunk_usable(c));
  dp_os_munmap(m, len);
}

void *dp_large_realloc(void *mem, size_t n) {
  dp_chunk *c = mem2chunk(mem);
  size_t off = c->prev_size, len = chunk_size(c) + off;
  size_t nlen = dp_align_up(n + 16 + off, DP_PAGE);
  if (nlen < n)
    return NULL;
  if (nlen == len)
    return mem;
  char *m = (char *)c - off;
  dp_lock_acquire(&large_lock);
  char *nm = dp_os_mremap(m, len, nlen);
  if (!nm) {
    dp_lock_release(&large_lock);
    return NULL;
  }
  size_t i = table_find((uintptr_t)mem);
  if (i != SIZE_MAX)
    table[i] = 1;
  if ((table_used + 1) * 2 > table_cap)
    table_grow(); /* cannot fail to leave room: the old slot was just freed */
  void *nmem = nm + off + 16;
  table_insert_raw(table, table_cap, (uintptr_t)nmem);
  table_used++;
  st.bytes += nlen - len;
  if (st.bytes > st.peak_bytes)
    st.peak_bytes = st.bytes;
  dp_lock_release(&large_lock);
  head_store(mem2chunk(nmem), (nlen - off) | C_MMAPPED | C_INUSE);
  return nmem;
}

void dp_large_stats_get(dp_large_stats *out) {
  dp_lock_acquire(&large_lock);
  *out = st;
  dp_lock_release(&large_lock);
}

void dp_large_fork_prepare(void) { dp_lock_fork_take(&large_lock); }
void dp_large_fork_parent(void) { dp_lock_fork_give(&large_lock); }
void dp_large_fork_child(void) { dp_lock_reinit(&large_lock); }
