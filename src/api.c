/*
 * api.c - the entry points: malloc, free and the rest of the C, POSIX and
 * GNU API, with glibc's semantics.
 *
 * The fast paths are here and are short on purpose (STYLE: one likely
 * branch, then a non-inlined fallback):
 *
 *   malloc(n <= 1016)  class = (n + 23) / 16; pop the thread cache's list
 *   free(p)            pagemap says p starts a block that is out of the
 *                      arena; read its size; push on the thread cache
 *
 * Everything else (refills, flushes, large blocks, aligned requests, the
 * first call of a thread, every check that failed) is in the *_slow
 * functions below, which never run on the common path.
 */
#include "large.h"
#include "tcache.h"
#include "vg.h"

#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

/* prototypes for the names no system header declares (or only some do) */
void *DEPOT_NAME(aligned_alloc)(size_t align, size_t n);
int DEPOT_NAME(posix_memalign)(void **out, size_t align, size_t n);
void DEPOT_NAME(free_sized)(void *p, size_t size);
void DEPOT_NAME(free_aligned_sized)(void *p, size_t align, size_t size);
void DEPOT_NAME(cfree)(void *p);
void *DEPOT_NAME(reallocarray)(void *p, size_t nmemb, size_t size);
#ifdef DEPOT_PREFIX
void *DEPOT_NAME(malloc)(size_t n);
void DEPOT_NAME(free)(void *p);
void *DEPOT_NAME(calloc)(size_t nmemb, size_t size);
void *DEPOT_NAME(realloc)(void *p, size_t n);
void *DEPOT_NAME(memalign)(size_t align, size_t n);
void *DEPOT_NAME(valloc)(size_t n);
void *DEPOT_NAME(pvalloc)(size_t n);
size_t DEPOT_NAME(malloc_usable_size)(void *p);
int DEPOT_NAME(mallopt)(int param, int value);
int DEPOT_NAME(malloc_trim)(size_t pad);
#endif

uint64_t dp_secret;
uint64_t dp_tc_key;
uint64_t dp_tag_mult;
bool dp_valgrind;
_Atomic int dp_initialized;
static dp_lock init_lock = DP_LOCK_INIT;

void dp_stats_atexit(void);
void dp_fork_prepare(void);
void dp_fork_parent(void);
void dp_fork_child(void);

void dp_init_slow(void) {
  dp_lock_acquire(&init_lock);
  if (!atomic_load_explicit(&dp_initialized, memory_order_relaxed)) {
    dp_options_init();
    /* memcheck only: under callgrind, cachegrind, ... depot runs as usual,
     * so that instruction counts are those of the real fast paths */
    dp_valgrind = dp_vg_detect() && dp_env_contains("LD_PRELOAD", "vgpreload_memcheck");
    dp_secret = dp_os_random() & ~(uint64_t)15; /* keep decoded links 16-aligned */
    dp_tc_key = dp_os_random();
    dp_tag_mult = dp_os_random() | 1;
    dp_arena_init(&dp_main_arena, 0);
    dp_tcache_global_init();
    atomic_store_explicit(&dp_initialized, 1, memory_order_release);
  }
  dp_lock_release(&init_lock);
}

/* Registered outside malloc (pthread_atfork may allocate). */
__attribute__((constructor)) static void dp_constructor(void) {
  dp_init();
  pthread_atfork(dp_fork_prepare, dp_fork_parent, dp_fork_child);
}

__attribute__((destructor)) static void dp_destructor(void) {
  if (dp_opt.report)
    dp_stats_atexit();
}

/* ---- validation ---------------------------------------------------- */

/* p is not a block depot handed out (or it was freed already): say which
 * and stop. */
DEPOT_COLD __attribute__((noreturn)) static void bad_pointer(const char *func, void *p) {
  uintptr_t a = (uintptr_t)p;
  if ((a & 15) == 0) {
    if (dp_large_recently_freed(p))
      dp_fatal(func, "double free of", p);
    dp_pm_entry *e = dp_pagemap_get(a);
    if (e && e->seg && a >= e->seg->base + 16 && a < e->seg->end) {
      dp_chunk *c = mem2chunk(p);
      /* a freed chunk, or the stale header of one merged into a neighbour */
      if (!(head_load(c) & C_INUSE) && chunk_size(c) >= DP_MINCHUNK && !(chunk_size(c) & 15))
        dp_fatal(func, "double free of", p);
    }
  }
  dp_fatal(func, "invalid pointer", p);
}

typedef enum { BLK_HEAP, BLK_LARGE } blk_kind;

/* Classify a pointer the program passed in; never returns for garbage. */
static blk_kind block_check(const char *func, void *p) {
  if (dp_chunk_segment(func, p))
    return BLK_HEAP;
  if (((uintptr_t)p & 15) == 0 && dp_large_owns(p))
    return BLK_LARGE;
  bad_pointer(func, p);
}

/* ---- malloc ---------------------------------------------------------- */

/* The list of a request of at most TC_EXACT_MAX - 8 bytes.  Its class is
 * its chunk size / 16 ((n + 8) rounded up to 16, at least 32 bytes), and a
 * list is 16 bytes, so the chunk size is the list's byte offset: the
 * cache's small_off table holds it by (n + 7) / 8, as every n of those 8
 * bytes has the same chunk size (tcache.c). */
_Static_assert(sizeof(dp_tc_bin) == 16, "a thread-cache list is 16 bytes");
DEPOT_INLINE dp_tc_bin *tc_small_bin(dp_tcache *tc, size_t n) {
  return (dp_tc_bin *)((char *)tc->bins + tc->small_off[(n + 7) >> 3]);
}

/* Pop the head of a thread-cache list that is known to be non-empty. */
DEPOT_INLINE void *tc_pop(dp_tcache *tc, dp_tc_bin *b, void **p, const char *func) {
  uintptr_t next = (uintptr_t)p[0] ^ ((uintptr_t)p >> 12) ^ tc->secret;
  if (unlikely(DP_BAD_LINK(next)))
    dp_fatal(func, "corrupted free list at", p);
  b->head = (void *)next;
  b->count--;
  __builtin_prefetch((void *)next, 1, 3); /* the next pop reads it: fetch it now */
  p[1] = NULL; /* the cache key */
  tc->nmalloc++;
  return p;
}

static void *heap_alloc(dp_tcache *tc, size_t n, bool *zeroed) {
  size_t cs = request2size(n);
  if (cs <= TC_MAX_CHUNK && tc->live) {
    unsigned cls = tc_class_ceil(cs);
    dp_tc_bin *b = &tc->bins[cls];
    if (b->limit) {
      void **p = b->head;
      if (p) {
        tc->nmalloc--; /* tc_pop counts it; alloc_any_work did already */
        tc->nslow--;   /* and it is a hit after all */
        return tc_pop(tc, b, p, "malloc");
      }
      return dp_tcache_alloc_slow(tc, cls);
    }
  }
  dp_arena *a = tc->arena;
  dp_lock_acquire(&a->lock);
  dp_chunk *c = dp_arena_alloc(a, cs, zeroed);
  dp_arena_check(a);
  dp_lock_release(&a->lock);
  return c ? chunk2mem(c) : NULL;
}

static void *alloc_any_work(size_t n, bool *zeroed);

static void *alloc_any(size_t n, bool *zeroed) {
  if (likely(!dp_valgrind))
    return alloc_any_work(n, zeroed);
  bool z = false;
  dp_vg_quiet();
  void *p = alloc_any_work(n, &z);
  size_t usable = p ? chunk_usable(mem2chunk(p)) : 0;
  dp_vg_loud();
  if (zeroed)
    *zeroed = z;
  dp_vg_alloc(p, usable, z);
  return p;
}

static void *alloc_any_work(size_t n, bool *zeroed) {
  dp_tcache *tc = dp_tcache_get();
  if (unlikely(n > DP_MAX_REQUEST)) {
    errno = ENOMEM;
    return NULL;
  }
  if (unlikely(tc->epoch != atomic_load_explicit(&dp_options_epoch, memory_order_relaxed) &&
               tc->live)) {
    dp_tcache_flush_all(tc, false);
    dp_tcache_relimit(tc);
  }
  tc->nmalloc++;
  tc->nslow++;
  void *p = NULL;
  if (dp_large_wanted(n)) {
    dp_arena_before_map(tc->arena, n);
    p = dp_large_alloc(n, DP_ALIGN);
    if (p && zeroed)
      *zeroed = true;
  }
  if (!p)
    p = heap_alloc(tc, n, zeroed);
  if (!p && !dp_large_wanted(n) && dp_opt.mmap_max > 0) {
    /* the heap could not grow: a mapping of its own may still work */
    p = dp_large_alloc(n, DP_ALIGN);
    if (p && zeroed)
      *zeroed = true;
  }
  if (!p) {
    errno = ENOMEM;
    return NULL;
  }
  if (unlikely(dp_opt.perturb) && !(zeroed && *zeroed))
    memset(p, dp_opt.perturb ^ 0xff, n);
  return p;
}

/* Medium requests (1 KiB - 32 KiB) also come from the thread cache, one
 * call away from the fast path. */
DEPOT_NOINLINE static void *malloc_slow(size_t n) {
  dp_tcache *tc = dp_tc;
  if (n <= TC_MAX_CHUNK - DP_HDR &&
      tc->epoch == atomic_load_explicit(&dp_options_epoch, memory_order_relaxed)) {
    unsigned cls = tc_class_ceil(request2size(n));
    dp_tc_bin *b = &tc->bins[cls];
    void **p = b->head;
    if (p)
      return tc_pop(tc, b, p, "malloc");
    /* an empty list of a live cache (only those have limits; M_PERTURB
     * clears them) below the mmap threshold: its refill, without
     * alloc_any's detour (bench-malloc-simple: 262 -> 203 instructions a
     * refill), counted as alloc_any_work counts it */
    if (b->limit && n < __atomic_load_n(&dp_opt.mmap_threshold, __ATOMIC_RELAXED)) {
      tc->nmalloc++;
      tc->nslow++;
      void *q = dp_tcache_alloc_slow(tc, cls);
      if (likely(q != NULL))
        return q;
      tc->nmalloc--; /* alloc_any counts it again */
      tc->nslow--;
    }
  }
  return alloc_any(n, NULL);
}

DEPOT_EXPORT void *DEPOT_NAME(malloc)(size_t n) {
  dp_tcache *tc = dp_tc;
  if (likely(n <= TC_EXACT_MAX - DP_HDR)) {
    dp_tc_bin *b = tc_small_bin(tc, n);
    void **p = b->head;
    if (likely(p != NULL))
      return tc_pop(tc, b, p, "malloc");
  }
  return malloc_slow(n);
}

/* ---- free ------------------------------------------------------------ */

/* Is the block (carrying the cache key) in a thread cache or fast list? */
static bool cached_somewhere(dp_tcache *tc, void *p) {
  unsigned cls = tc_class_floor(chunk_size(mem2chunk(p)));
  if (cls >= TC_NBINS)
    return false;
  if (tc->live && dp_tcache_contains(tc, cls, p))
    return true;
  dp_arena *a = dp_pagemap_get((uintptr_t)p)->arena;
  dp_lock_acquire(&a->lock);
  bool dup = cls < ARENA_NFAST && dp_arena_fast_contains(a, cls, p);
  dp_lock_release(&a->lock);
  return dup || dp_tcache_cached_elsewhere(tc, cls, p);
}

static void free_work(void *p, const char *func, bool heap_block);

DEPOT_NOINLINE static void free_slow(void *p, const char *func) {
  if (!p)
    return;
  if (likely(!dp_valgrind)) {
    free_work(p, func, false);
    return;
  }
  block_check(func, p);
  if (!(head_load(mem2chunk(p)) & C_INUSE))
    bad_pointer(func, p);
  dp_vg_free(p);
  dp_vg_quiet();
  free_work(p, func, false);
  dp_vg_loud();
}

/* free() of a block already known to start a chunk of this thread's
 * arena (its header vouched, or its start bit is set) that the thread
 * cache did not take: no pagemap lookup again (bench-malloc-simple: 2% of
 * its samples were that lookup). */
DEPOT_NOINLINE static void free_heap_slow(void *p) {
  if (likely(!dp_valgrind))
    free_work(p, "free", true);
  else
    free_slow(p, "free");
}

/* heap_block: p is known to start a chunk of a segment (block_check
 * would say BLK_HEAP). */
static void free_work(void *p, const char *func, bool heap_block) {
  int saved = errno;
  dp_tcache *tc = dp_tcache_get();
  if (!heap_block && block_check(func, p) == BLK_LARGE) {
    dp_large_free(p);
    tc->nfree++;
    errno = saved;
    return;
  }
  dp_chunk *c = mem2chunk(p);
  size_t cs = chunk_size(c);
  if (unlikely(!(head_load(c) & C_INUSE)))
    bad_pointer(func, p);
  if (unlikely(cs < DP_MINCHUNK || (head_load(c) & C_MMAPPED)))
    dp_fatal(func, "corrupted chunk header at", p);
  tc->nfree++;
  bool at_top = false; /* it borders the top: cls's cached blocks may follow */
  unsigned cls = 0;
  if (cs <= TC_MAX_CHUNK && tc->live) {
    cls = tc_class_floor(cs);
    if (((void **)p)[1] == (void *)tc->key && cached_somewhere(tc, p))
      dp_fatal(func, "double free of", p); /* cached blocks carry the key */
    if (tc->epoch != atomic_load_explicit(&dp_options_epoch, memory_order_relaxed)) {
      dp_tcache_flush_all(tc, false);
      dp_tcache_relimit(tc);
    }
    dp_tc_bin *b = &tc->bins[cls];
    if (b->limit) {
      dp_arena *own = dp_pagemap_get((uintptr_t)p)->arena;
      if (own != tc->arena) {
        dp_tcache_free_foreign(tc, cls, p, own);
        errno = saved;
        return;
      }
      if (b->count >= b->limit)
        dp_tcache_flush_full(tc, cls);
      if (chunk_at(c, cs) == __atomic_load_n(&own->top_pub, __ATOMIC_RELAXED) &&
          tc_giving_back(tc, 0)) {
        /* It borders the top, and this thread has freed at least 32 blocks
         * more than it allocated since its last refill (it is giving
         * memory back, not churning at the top): it goes home, into the
         * top.  When the fast lists and its class's cached blocks hold
         * more than the top may keep, these go too and coalesce (see the
         * end): a program that frees in allocation order ends with the
         * top's neighbours, and the break then comes down as on glibc. */
        at_top = true;
        goto home;
      }
      if (unlikely(dp_opt.perturb) && cs > 32)
        memset((char *)p + 16, dp_opt.perturb, cs - 32);
      tc_push(tc, b, p);
      errno = saved;
      return;
    }
  }
home:
  if (unlikely(dp_opt.perturb))
    memset(p, dp_opt.perturb, cs - DP_HDR);
  /* Blocks of this thread's cache right above (a refill cuts several side
   * by side) would keep the free run from reaching the top: they go home
   * too.  The walk is done under the arena's lock (no trim can move the
   * break meanwhile) and asks this thread's own lists, never the blocks;
   * a refill's unused blocks are at the head of their list, so the first
   * 8 entries are enough to look at. */
  dp_arena *a = dp_pagemap_get((uintptr_t)p)->arena;
  dp_lock_acquire(&a->lock);
  dp_chunk *up[32];
  unsigned nup = 0;
  for (dp_chunk *n = chunk_at(c, cs); tc->live && nup < 32;) {
    size_t h = head_load(n), ns = head_size(h);
    if (!(h & C_INUSE) || (h & C_MMAPPED) || ns < DP_MINCHUNK || ns > TC_MAX_CHUNK ||
        !dp_tcache_remove(tc, tc_class_floor(ns), chunk2mem(n), 8))
      break;
    up[nup++] = n;
    n = chunk_at(n, ns);
  }
  while (nup)
    dp_arena_free(a, up[--nup]);
  dp_arena_free(a, c);
  /* and the blocks right below that this thread freed just before (it
   * frees in allocation order, say): they wait newest first in its list
   * of the class, between the top and any free run below, which would
   * otherwise stay apart from the top whenever the list did not happen to
   * be flushed just then (seed_trim: 4 MiB of 1 KiB blocks freed, and the
   * break stayed up for 7 cached blocks).  Each is found by its address
   * among the list's newest entries, never read from memory first. */
  for (unsigned k = 0; at_top && a->top && k < 32; k++) {
    dp_chunk *below = (dp_chunk *)((char *)a->top - cs);
    if ((uintptr_t)below < a->seg_top->base ||
        !dp_tcache_remove(tc, cls, chunk2mem(below), 8))
      break;
    dp_arena_free(a, below);
  }
  dp_arena_check(a);
  bool drain = at_top && dp_arena_drain_due(a, (size_t)tc->bins[cls].count * cs);
  dp_lock_release(&a->lock);
  if (drain) {
    dp_tcache_flush_bin(tc, cls, 0);
    dp_lock_acquire(&a->lock);
    dp_arena_fast_drain(a);
    dp_lock_release(&a->lock);
  }
  errno = saved;
}

/* free() of a block whose granule belongs to another arena than this
 * thread's (or to none: large blocks, foreign pointers, a thread's first
 * call).  A valid block start (its bit is set) of another thread's arena
 * goes on this thread's aside list for its class
 * (dp_tcache_free_foreign), without the slow path's checks that the bit
 * already answered; anything unusual takes the slow path. */
DEPOT_NOINLINE static void free_other_arena(dp_tcache *tc, void *p, const dp_pm_entry *e) {
  void **w = p;
  dp_arena *own = __atomic_load_n(&e->arena, __ATOMIC_ACQUIRE);
  /* no owner (not a heap granule), no cache yet (or none at all, as under
   * valgrind), or not a block start: the slow path says which */
  if (!own || !tc->live || !dp_starts_test(e, (uintptr_t)p)) {
    free_slow(p, "free");
    return;
  }
  size_t head = __atomic_load_n(&((size_t *)p)[-1], __ATOMIC_RELAXED), cs = head_size(head);
  if ((head & (C_INUSE | C_MMAPPED)) == C_INUSE && cs >= DP_MINCHUNK && cs <= TC_MAX_CHUNK &&
      tc->epoch == atomic_load_explicit(&dp_options_epoch, memory_order_relaxed)) {
    unsigned cls = tc_class_floor(cs);
    if (tc->bins[cls].limit && w[1] != (void *)tc->key) {
      dp_tcache_free_foreign(tc, cls, p, own);
      tc->nfree++;
      return;
    }
  }
  free_slow(p, "free");
}

/* p is a block of this thread's arena that is out, head its header, cs
 * its size: into the thread cache if its list has room.  False: free_slow
 * takes it. */
DEPOT_INLINE bool free_cached(dp_tcache *tc, void *p, size_t head, size_t cs) {
  uintptr_t a = (uintptr_t)p;
  void **w = p;
  /* a block that borders the top, freed while this thread gives memory
   * back, goes home now (the top can shrink; see free_work) */
  if (unlikely(a - 16 + cs == (uintptr_t)__atomic_load_n(&tc->arena->top_pub, __ATOMIC_RELAXED)) &&
      tc_giving_back(tc, 1))
    return false;
  if (likely(cs <= TC_EXACT_MAX)) {
    dp_tc_bin *b = &tc->bins[cs >> 4];
    if (likely(b->count < b->limit && w[1] != (void *)tc->key)) {
      w[0] = (void *)((uintptr_t)b->head ^ (a >> 12) ^ tc->secret);
      w[1] = (void *)tc->key;
      b->head = p;
      b->count++;
      tc->nfree++;
      return true;
    }
  } else if (cs <= TC_MAX_CHUNK && !(head & C_MMAPPED)) {
    dp_tc_bin *b = &tc->bins[tc_class_floor(cs)];
    if (likely(b->count < b->limit && w[1] != (void *)tc->key)) {
      tc_push(tc, b, p);
      tc->nfree++;
      return true;
    }
  }
  return false;
}

/* free() of a block whose header did not vouch for it (outside the tag
 * range, another arena's, untagged at 64 MiB or more; or not a block at
 * all): the pagemap says whose it is and the start bitmap whether it is
 * out. */
DEPOT_NOINLINE static void free_mapped(void *p) {
  if (!p) /* free(NULL): programs do it often (fragmentation: 745K times) */
    return;
  dp_tcache *tc = dp_tc;
  if (tc->live) /* counted for the report: how often the header could not vouch */
    tc->nfree_pagemap++;
  uintptr_t a = (uintptr_t)p;
  dp_pm_entry *leaf = __atomic_load_n(&dp_pagemap_l1[(a >> 32) & 0xffff], __ATOMIC_ACQUIRE);
  if (likely(leaf != NULL && (a & 15) == 0)) {
    const dp_pm_entry *e = &leaf[(a >> DP_GRANULE_SHIFT) & 0xffff];
    /* a granule of another arena (or of none) goes to free_other_arena.
     * tc->arena is never NULL (the empty cache has an arena of its own
     * that owns no granule), so a match means the granule is registered:
     * it has a bitmap, written before its arena was (pagemap.c) */
    dp_arena *own = __atomic_load_n(&e->arena, __ATOMIC_ACQUIRE);
    if (unlikely(own != tc->arena)) {
      free_other_arena(tc, p, e);
      return;
    }
    const uint64_t *starts = __atomic_load_n(&e->starts, __ATOMIC_RELAXED);
    if (likely((__atomic_load_n(&starts[(a >> 10) & 63], __ATOMIC_RELAXED) >> ((a >> 4) & 63)) &
               1)) {
      size_t head = __atomic_load_n(&((size_t *)p)[-1], __ATOMIC_RELAXED);
      if (free_cached(tc, p, head, head_size(head)))
        return;
      free_heap_slow(p);
      return;
    }
  }
  free_slow(p, "free");
}

/* Does p's header vouch (chunk.h) that p is a block of this thread's
 * arena that is out?  *head gets the header when p is in the arena's tag
 * range (see free).  The length first: tag_range_set stores 0, the
 * start, then the length, so a new length comes with its new start, never
 * an old start with a new, longer length that could reach past the
 * mapping.  x86 keeps loads in order, and gcc and clang emit these two as
 * written (checked in the disassembly); an acquire would cost an
 * instruction. */
DEPOT_INLINE bool header_vouches(const dp_tcache *tc, const void *p, size_t *head) {
  uintptr_t a = (uintptr_t)p;
  const dp_arena *ar = tc->arena;
  size_t units = __atomic_load_n(&ar->tag_units, __ATOMIC_RELAXED);
  uintptr_t off = a + __atomic_load_n(&ar->tag_neg, __ATOMIC_RELAXED);
  /* one compare for both: a misaligned p rotates its low bits to the top */
  if (!(((off >> 4) | (off << 60)) < units))
    return false;
  *head = __atomic_load_n(&((const size_t *)p)[-1], __ATOMIC_RELAXED);
  return head_vouches(a, tc->tag_mult, *head, tc->arena_id);
}

/* The fast path.  The header's tag (chunk.h) vouches that p is a block of
 * this thread's arena that is out: no pagemap, no start bitmap.  p must be
 * 16-aligned and inside the arena's tag range (the brk heap, or a thread
 * arena's newest segment with those side by side with it: every page of it
 * is mapped, so p - 8 can be read whatever p is); anything else, and every
 * header that does not vouch, takes free_mapped. */
DEPOT_EXPORT void DEPOT_NAME(free)(void *p) {
  dp_tcache *tc = dp_tc;
  size_t head;
  if (likely(header_vouches(tc, p, &head))) {
    if (likely(free_cached(tc, p, head, head & ~C_TAG_BITS & ~C_FLAGS)))
      return;
    free_heap_slow(p);
    return;
  }
  free_mapped(p);
}

/* ---- calloc ---------------------------------------------------------- */

DEPOT_NOINLINE static void *calloc_slow(size_t n) {
  bool zeroed = false;
  void *p = alloc_any(n, &zeroed);
  if (p && !zeroed)
    memset(p, 0, n);
  return p;
}

DEPOT_EXPORT void *DEPOT_NAME(calloc)(size_t nmemb, size_t size) {
  size_t n;
  if (unlikely(__builtin_mul_overflow(nmemb, size, &n))) {
    errno = ENOMEM;
    return NULL;
  }
  dp_tcache *tc = dp_tc;
  if (likely(n <= TC_EXACT_MAX - DP_HDR)) {
    dp_tc_bin *b = tc_small_bin(tc, n);
    void **p = b->head;
    if (likely(p != NULL)) /* tc_pop clears the key word even when n < 16 */
      return memset(tc_pop(tc, b, p, "calloc"), 0, n);
  }
  return calloc_slow(n);
}

/* ---- realloc --------------------------------------------------------- */

static size_t block_usable(void *p) { return chunk_usable(mem2chunk(p)); }

static void *realloc_move(void *p, size_t n, size_t old_usable) {
  void *q = DEPOT_NAME(malloc)(n);
  if (!q)
    return NULL;
  memcpy(q, p, old_usable < n ? old_usable : n);
  DEPOT_NAME(free)(p);
  return q;
}

/* realloc without a new block (in place, or mremap): still a malloc-family call */
static void *realloc_kept(void *p) {
  dp_tcache_get()->nmalloc++;
  return p;
}

DEPOT_EXPORT void *DEPOT_NAME(realloc)(void *p, size_t n) {
  if (!p)
    return DEPOT_NAME(malloc)(n);
  if (n == 0) { /* glibc: realloc(p, 0) frees p and returns NULL */
    free_slow(p, "realloc");
    return NULL;
  }
  /* a block of this thread's arena whose header vouches for it needs no
   * pagemap (whose lookup was 6.7% of the realloc workload's samples) */
  size_t head;
  blk_kind k = likely(!dp_valgrind) && header_vouches(dp_tc, p, &head)
                   ? BLK_HEAP
                   : block_check("realloc", p);
  if (unlikely(dp_valgrind)) { /* plain malloc + copy + free keeps memcheck's books simple */
    if (!(head_load(mem2chunk(p)) & C_INUSE))
      bad_pointer("realloc", p);
    return realloc_move(p, n, block_usable(p));
  }
  if (unlikely(n > DP_MAX_REQUEST)) {
    errno = ENOMEM;
    return NULL;
  }
  size_t old = block_usable(p);
  if (k == BLK_LARGE) {
    if (n <= old && n >= old / 2)
      return realloc_kept(p);
    if (n >= __atomic_load_n(&dp_opt.mmap_threshold, __ATOMIC_RELAXED)) {
      void *q = dp_large_realloc(p, n);
      if (q)
        return realloc_kept(q);
    }
    return realloc_move(p, n, old);
  }
  dp_chunk *c = mem2chunk(p);
  if (unlikely(!(head_load(c) & C_INUSE)))
    bad_pointer("realloc", p);
  if (unlikely(((void **)p)[1] == (void *)dp_tc_key) && cached_somewhere(dp_tcache_get(), p))
    dp_fatal("realloc", "double free of", p);
  size_t cs = request2size(n), ocs = chunk_size(c);
  if (cs <= ocs) {
    if (ocs - cs < 256 || (ocs <= TC_MAX_CHUNK && ocs - cs < ocs / 4))
      return realloc_kept(p); /* small slack stays with the block */
    dp_arena *a = dp_pagemap_get((uintptr_t)p)->arena;
    dp_lock_acquire(&a->lock);
    dp_arena_shrink_inplace(a, c, cs);
    dp_lock_release(&a->lock);
    return realloc_kept(p);
  }
  /* grow in place into a free neighbour (a free chunk or the top; the
   * header read unlocked is a hint, checked again under the lock) */
  if (!dp_large_wanted(n) &&
      (cs > TC_MAX_CHUNK || !(head_load(chunk_at(c, ocs)) & C_INUSE))) {
    dp_arena *a = dp_pagemap_get((uintptr_t)p)->arena;
    dp_lock_acquire(&a->lock);
    bool ok = dp_arena_grow_inplace(a, c, cs);
    dp_arena_check(a);
    dp_lock_release(&a->lock);
    if (ok)
      return realloc_kept(p);
  }
  return realloc_move(p, n, old);
}

DEPOT_EXPORT void *DEPOT_NAME(reallocarray)(void *p, size_t nmemb, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(nmemb, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  return DEPOT_NAME(realloc)(p, n);
}

/* ---- aligned --------------------------------------------------------- */

static void *aligned_any(size_t align, size_t n) {
  if (align <= DP_ALIGN)
    return DEPOT_NAME(malloc)(n);
  if (align > ((size_t)1 << 40) || n > DP_MAX_REQUEST - align) {
    errno = ENOMEM; /* a valid alignment no address space can give: ENOMEM, as glibc */
    return NULL;
  }
  dp_vg_quiet();
  dp_tcache *tc = dp_tcache_get();
  tc->nmalloc++;
  void *p = NULL;
  if (dp_large_wanted(n + align))
    p = dp_large_alloc(n, align);
  if (!p) {
    dp_arena *a = tc->arena;
    dp_lock_acquire(&a->lock);
    dp_chunk *c = dp_arena_alloc_aligned(a, request2size(n), align);
    dp_arena_check(a);
    dp_lock_release(&a->lock);
    p = c ? chunk2mem(c) : NULL;
  }
  if (!p && dp_opt.mmap_max > 0)
    p = dp_large_alloc(n, align);
  if (!p)
    errno = ENOMEM;
  else if (unlikely(dp_opt.perturb))
    memset(p, dp_opt.perturb ^ 0xff, n);
  size_t usable = p ? chunk_usable(mem2chunk(p)) : 0;
  dp_vg_loud();
  dp_vg_alloc(p, usable, false);
  return p;
}

DEPOT_EXPORT void *DEPOT_NAME(memalign)(size_t align, size_t n) {
  if (!dp_is_pow2(align)) { /* glibc rounds up to a power of two */
    if (align > SIZE_MAX / 2 + 1) { /* none to round up to */
      errno = EINVAL;
      return NULL;
    }
    size_t a = 1;
    while (a < align)
      a <<= 1;
    align = a;
  }
  return aligned_any(align, n);
}

DEPOT_EXPORT void *DEPOT_NAME(aligned_alloc)(size_t align, size_t n) {
  if (!dp_is_pow2(align)) {
    errno = EINVAL;
    return NULL;
  }
  return aligned_any(align, n);
}

DEPOT_EXPORT int DEPOT_NAME(posix_memalign)(void **out, size_t align, size_t n) {
  if (align % sizeof(void *) != 0 || !dp_is_pow2(align))
    return EINVAL;
  int saved = errno;
  void *p = aligned_any(align, n);
  int r = p ? 0 : ENOMEM;
  errno = saved;
  if (p)
    *out = p;
  return r;
}

DEPOT_EXPORT void *DEPOT_NAME(valloc)(size_t n) { return aligned_any(DP_PAGE, n); }

/* pvalloc(0) is a minimal page-aligned block, as glibc's (0 is a multiple
 * of the page size) */
DEPOT_EXPORT void *DEPOT_NAME(pvalloc)(size_t n) {
  size_t r = dp_align_up(n, DP_PAGE);
  if (r < n) {
    errno = ENOMEM;
    return NULL;
  }
  return aligned_any(DP_PAGE, r);
}

/* ---- sizes and sized frees ------------------------------------------ */

DEPOT_EXPORT size_t DEPOT_NAME(malloc_usable_size)(void *p) {
  if (!p)
    return 0;
  block_check("malloc_usable_size", p);
  return block_usable(p);
}

DEPOT_EXPORT void DEPOT_NAME(free_sized)(void *p, size_t size) {
  (void)size;
  DEPOT_NAME(free)(p);
}

DEPOT_EXPORT void DEPOT_NAME(free_aligned_sized)(void *p, size_t align, size_t size) {
  (void)align;
  (void)size;
  DEPOT_NAME(free)(p);
}

DEPOT_EXPORT void DEPOT_NAME(cfree)(void *p) { DEPOT_NAME(free)(p); }

/* ---- control --------------------------------------------------------- */

DEPOT_EXPORT int DEPOT_NAME(mallopt)(int param, int value) {
  dp_init();
  return dp_mallopt(param, value);
}

DEPOT_EXPORT int DEPOT_NAME(malloc_trim)(size_t pad) {
  dp_init();
  dp_tcache *tc = dp_tc;
  dp_tcache_flush_all(tc, true);
  bool released = false;
  dp_vg_quiet();
  for (dp_arena *a = dp_arenas; a; a = a->next) {
    dp_lock_acquire(&a->lock);
    released |= dp_arena_trim(a, pad, true);
    dp_arena_check(a);
    dp_lock_release(&a->lock);
  }
  dp_vg_loud();
  return released ? 1 : 0;
}

/* ---- glibc's internal names ------------------------------------------ */
#ifndef DEPOT_PREFIX
#pragma GCC diagnostic push
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#endif
DEPOT_EXPORT void *__libc_malloc(size_t n) __attribute__((alias("malloc")));
DEPOT_EXPORT void __libc_free(void *p) __attribute__((alias("free")));
DEPOT_EXPORT void *__libc_calloc(size_t a, size_t b) __attribute__((alias("calloc")));
DEPOT_EXPORT void *__libc_realloc(void *p, size_t n) __attribute__((alias("realloc")));
DEPOT_EXPORT void *__libc_memalign(size_t a, size_t n) __attribute__((alias("memalign")));
DEPOT_EXPORT void *__libc_valloc(size_t n) __attribute__((alias("valloc")));
DEPOT_EXPORT void *__libc_pvalloc(size_t n) __attribute__((alias("pvalloc")));
DEPOT_EXPORT int __libc_mallopt(int p, int v) __attribute__((alias("mallopt")));
#pragma GCC diagnostic pop
#endif

/* ---- fork ------------------------------------------------------------ */
void dp_meta_fork_prepare(void);
void dp_meta_fork_parent(void);
void dp_meta_fork_child(void);
void dp_pagemap_fork_prepare(void);
void dp_pagemap_fork_parent(void);
void dp_pagemap_fork_child(void);
void dp_tcache_fork_prepare(void);
void dp_tcache_fork_parent(void);
void dp_tcache_fork_child(void);
void dp_segments_fork_prepare(void);
void dp_segments_fork_parent(void);
void dp_segments_fork_child(void);

/* Take every lock, in one fixed order, so the child starts with a
 * consistent heap whichever thread forked. */
void dp_fork_prepare(void) {
  dp_lock_fork_take(&dp_arenas_lock);
  for (dp_arena *a = dp_arenas; a; a = a->next)
    dp_lock_fork_take(&a->lock);
  dp_segments_fork_prepare();
  dp_large_fork_prepare();
  dp_tcache_fork_prepare();
  dp_pagemap_fork_prepare();
  dp_meta_fork_prepare();
}

void dp_fork_parent(void) {
  dp_meta_fork_parent();
  dp_pagemap_fork_parent();
  dp_tcache_fork_parent();
  dp_large_fork_parent();
  dp_segments_fork_parent();
  for (dp_arena *a = dp_arenas; a; a = a->next)
    dp_lock_fork_give(&a->lock);
  dp_lock_fork_give(&dp_arenas_lock);
}

void dp_fork_child(void) {
  dp_meta_fork_child();
  dp_pagemap_fork_child();
  dp_large_fork_child();
  dp_segments_fork_child();
  for (dp_arena *a = dp_arenas; a; a = a->next)
    dp_lock_reinit(&a->lock);
  dp_lock_reinit(&dp_arenas_lock);
  dp_tcache_fork_child();
  dp_lock_fork_child_reset();
}
