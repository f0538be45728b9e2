/* tcache.h - per-thread caches (see tcache.c) */
#ifndef DEPOT_TCACHE_H
#define DEPOT_TCACHE_H
#include "arena.h"

typedef struct dp_tc_bin {
  void *head;     /* newest cached block; blocks linked through word 0, encoded */
  uint32_t count; /* blocks in the list */
  uint32_t limit; /* most blocks kept; 0 sends every call to the slow path */
} dp_tc_bin;

#define TC_SMALL_WORDS ((TC_EXACT_MAX - DP_HDR + 7) / 8 + 1)

typedef struct dp_tcache {
  dp_tc_bin bins[TC_NBINS]; /* by class: 16-byte steps to 2 KiB, 8 per doubling to 16 KiB */
  uintptr_t secret;         /* copy of dp_secret, on the same lines as the bins */
  uint64_t key;             /* copy of dp_tc_key: word 1 of a cached block */
  uint64_t tag_mult;        /* copy of dp_tag_mult (chunk tags, chunk.h) */
  uint64_t arena_id;        /* arena->index + 1, as tags name it; 0 for none */
  dp_arena *arena;          /* where refills come from */
  unsigned epoch;           /* dp_options_epoch when the limits were set */
  bool live;                /* a real thread's cache (not the empty or dead one) */
  uint64_t nmalloc;         /* calls served here, fast or slow */
  uint64_t nfree;           /* frees */
  uint64_t nrefill, nflush; /* trips to the arena */
  uint64_t nslow;           /* mallocs the cache did not serve at once */
  uint64_t nfree_pagemap;   /* frees checked through the pagemap (the header
                               could not vouch: outside the tag range, or
                               another arena's block) */
  uint64_t net_mark;        /* nfree - nmalloc at the last refill */
  /* malloc(n), n <= TC_EXACT_MAX - DP_HDR: bins[] byte offset of its class,
   * by (n + 7) / 8 (one load instead of rounding and the 32-byte floor) */
  uint16_t small_off[TC_SMALL_WORDS];
  uint8_t refills[TC_NBINS]; /* refills so far (a class's batches grow with use) */
  struct dp_tcache *next, *prev; /* all live caches */
  /* above: what every thread touches, 3.4 KiB; below: what only a
   * thread that frees other threads' blocks does (a cache is 8.5 KiB) */
  dp_tc_bin xbins[TC_NBINS]; /* blocks of other threads' arenas, never handed out here:
                               they go home in batches (remote stacks) */
  struct dp_arena *xowner[TC_NBINS]; /* the arena all of xbins[c] belong to */
  void *xtail[TC_NBINS];     /* xbins[c]'s oldest block (its chain's end) */
} dp_tcache;

extern __thread dp_tcache *dp_tc;
extern dp_tcache dp_tc_empty;

dp_tcache *dp_tcache_get(void);           /* this thread's cache, made on first use */
void *dp_tcache_alloc_slow(dp_tcache *tc, unsigned cls); /* refill then pop */
void dp_tcache_flush_bin(dp_tcache *tc, unsigned cls, uint32_t keep);
void dp_tcache_flush_all(dp_tcache *tc, bool coalesce); /* coalesce: none to fast lists */
void dp_tcache_flush_full(dp_tcache *tc, unsigned cls); /* a full list goes home */
void dp_tcache_free_foreign(dp_tcache *tc, unsigned cls, void *mem,
                            struct dp_arena *owner); /* another arena's block */
bool dp_tcache_cached_elsewhere(dp_tcache *self, unsigned cls, const void *mem);
bool dp_tcache_remove(dp_tcache *tc, unsigned cls, const void *mem, uint32_t max_scan);
bool dp_tcache_contains(dp_tcache *tc, unsigned cls, const void *mem);
typedef struct dp_tc_totals {
  uint64_t nmalloc, nfree, cached_bytes, live, total;
  uint64_t hits;         /* mallocs served by a cache at once */
  uint64_t free_pagemap; /* frees checked through the pagemap */
} dp_tc_totals;
void dp_tcache_merge_stats(dp_tc_totals *t); /* over live and exited threads */
void dp_tcache_global_init(void);
void dp_tcache_relimit(dp_tcache *tc);    /* options changed: re-read the limits */

/* class arithmetic: classes 2..TC_NEXACT-1 are exact (class * 16 bytes);
 * above TC_EXACT_MAX, 8 classes per doubling, each 16 bytes above a
 * multiple of 2^(e-3): a request of a power of two (4096: chunk 4112)
 * fits its class exactly */
#define TC_NEXACT (TC_EXACT_MAX / 16 + 1)
#define TC_EXACT_LOG 11u /* log2(TC_EXACT_MAX) */
DEPOT_INLINE size_t tc_class_size(unsigned c) {
  if (c < TC_NEXACT)
    return (size_t)c << 4;
  unsigned k = c - TC_NEXACT, e = TC_EXACT_LOG + k / 8, sub = k % 8;
  return ((size_t)(9 + sub) << (e - 3)) + 16;
}
/* smallest class holding a chunk of cs bytes (cs <= TC_MAX_CHUNK) */
DEPOT_INLINE unsigned tc_class_ceil(size_t cs) {
  if (cs <= TC_EXACT_MAX)
    return (unsigned)(cs >> 4);
  size_t b = cs - 16; /* the class's size less its 16 */
  if (b <= TC_EXACT_MAX)
    return TC_NEXACT;
  unsigned e = 63u - (unsigned)__builtin_clzll(b - 1);
  return TC_NEXACT + (e - TC_EXACT_LOG) * 8 + (unsigned)(((b - 1) >> (e - 3)) & 7);
}
/* largest class a chunk of cs bytes can serve */
DEPOT_INLINE unsigned tc_class_floor(size_t cs) {
  unsigned c = tc_class_ceil(cs);
  return tc_class_size(c) > cs ? c - 1 : c;
}

/* Is this thread giving memory back: at least 32 frees more than mallocs
 * since its last refill, counting `pending` frees not yet counted?  Then a
 * block that borders the top goes home (free_work). */
DEPOT_INLINE bool tc_giving_back(const dp_tcache *tc, uint64_t pending) {
  return (int64_t)(tc->nfree + pending - tc->nmalloc - tc->net_mark) >= 32;
}

/* The pagemap entry of a block that a thread cache holds, once it is
 * checked to be one (its granule is in a segment and its start bit is
 * set): anything else means the list was corrupted, and the program stops. */
DEPOT_INLINE dp_pm_entry *tc_block_entry(const char *func, const void *p) {
  dp_pm_entry *e = dp_pagemap_get((uintptr_t)p);
  if (unlikely(!e || !e->seg || !dp_starts_test(e, (uintptr_t)p)))
    dp_fatal(func, "corrupted thread cache at", p);
  return e;
}

DEPOT_INLINE void tc_push(dp_tcache *tc, dp_tc_bin *b, void *mem) {
  void **w = mem;
  w[0] = (void *)((uintptr_t)b->head ^ ((uintptr_t)w >> 12) ^ tc->secret);
  w[1] = (void *)tc->key;
  b->head = mem;
  b->count++;
}

#endif
