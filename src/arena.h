/*
 * arena.h - arenas and segments (see arena.c for the design).
 */
#ifndef DEPOT_ARENA_H
#define DEPOT_ARENA_H
#include "chunk.h"

#define ARENA_NBINS 368u   /* 62 exact small bins, then 8 per power of two */
#define ARENA_NSMALL 64u   /* bins below this index hold one size each */
#define ARENA_NFAST TC_NBINS /* fast lists: one per thread-cache class */
#define ARENA_GATHER 1024u /* blocks consolidate() walks at once */
#define ARENA_BINMAP_WORDS ((ARENA_NBINS + 63) / 64)
#define SEG_MIN_MMAP ((size_t)1 << 20) /* first mmap'd segment; doubles to SEG_MAX */
#define SEG_MAX_MMAP ((size_t)64 << 20)

struct dp_arena;

/* A contiguous stretch of chunks: the brk heap, or one mmap'd region. */
typedef struct dp_segment {
  uintptr_t base;          /* first chunk */
  uintptr_t end;           /* fencepost chunk (16 bytes, always in use) */
  uintptr_t fresh;         /* [fresh, end) untouched since the kernel zeroed it */
  void *map_base;          /* mmap'd region start (NULL for brk) */
  size_t map_size;         /* mmap'd region size (0 for brk) */
  struct dp_arena *arena;  /* owner */
  struct dp_segment *next; /* arena's list */
  bool is_brk;             /* lives in the program break */
} dp_segment;

typedef struct dp_arena {
  dp_lock lock;                        /* guards everything below */
  unsigned index;                      /* 0 = main arena (brk) */
  dp_chunk *top;                       /* top chunk: end of seg_top, not in bins */
  dp_chunk *top_pub;                   /* copy of top for the lock-free free path
                                          (relaxed atomic; a hint, read unlocked) */
  uintptr_t tag_neg;                   /* free() may read a header at p - 8 without the
                                          pagemap when rotr(p + tag_neg, 4) < tag_units:
                                          p is 16-aligned and in [lo, lo + 16 * tag_units),
                                          lo = -tag_neg, every page of [lo - 8, that end)
                                          mapped (the current brk segment, or the newest
                                          mmap'd segment with those side by side with it;
                                          0 for none).
                                          Stored negated: memcheck would take lo (the first
                                          block) for a pointer to it and miss its leak */
  size_t tag_units;
  dp_segment *seg_top;                 /* segment holding the top chunk */
  dp_segment *segs;                    /* every segment of this arena */
  uint64_t binmap[ARENA_BINMAP_WORDS]; /* bit i set: bins[i] not empty */
  dp_chunk *bins[ARENA_NBINS];         /* free chunks by size, doubly linked */
  size_t next_seg_size;                /* size of the next mmap'd segment */
  void *fast[ARENA_NFAST];             /* whole small chunks by class: stacks of batches */
  uint32_t fast_count[ARENA_NFAST];    /* chunks in each fast list */
  size_t fast_bytes;                   /* bytes in the fast lists */
  void *remote[ARENA_NFAST];           /* batches freed by other threads: lock-free
                                          stacks (atomic), moved to fast[] by the owner */
  size_t remote_bytes;                 /* bytes in remote[] (atomic) */
  size_t drain_floor;                  /* fast bytes a drain needs (doubles when one
                                          did not lower the break) */
  /* accounting (under lock) */
  size_t system_bytes;                 /* bytes of all segments */
  size_t free_bytes;                   /* bytes in the bins */
  size_t free_chunks;                  /* chunks in the bins */
  size_t out_bytes;                    /* bytes of chunks out of the arena */
  size_t out_peak;                     /* largest out_bytes */
  size_t dirty_freed;                  /* bytes freed since the last purge */
  size_t grow_dirty;                   /* bytes freed, less those purged before growing */
  size_t footprint_peak;               /* highest system_bytes + mapped large bytes seen growing */
  uint64_t purge_ms;                   /* when the last purge ran */
  size_t madvise_calls, madvise_bytes; /* pages given back inside segments */
  int threads;                         /* threads attached now */
  uint64_t idle_ms;                    /* when the last one left (0: in use);
                                          under dp_arenas_lock */
  uint64_t purged_for;                 /* the idle_ms of the idle period already
                                          purged (atomic) */
  struct dp_arena *next;               /* list of all arenas */
  void *gather[ARENA_GATHER];          /* consolidate()'s blocks, gathered side by side */
} dp_arena;

extern dp_arena dp_main_arena;
extern dp_arena *dp_arenas;     /* all arenas, main first */
extern unsigned dp_narenas;
extern dp_lock dp_arenas_lock;  /* guards the list and attachment counts */

/* brk-heap facts for reports */
extern uintptr_t dp_heap_start;
extern size_t dp_heap_peak;
extern size_t dp_brk_grows, dp_brk_shrinks, dp_brk_failures;

void dp_arena_init(dp_arena *a, unsigned index);
/* the arena's id in chunk tags (chunk.h): never 0, which names no arena */
DEPOT_INLINE uint64_t dp_arena_tag_id(const dp_arena *a) { return (uint64_t)a->index + 1; }
/* all with a->lock held */
dp_chunk *dp_arena_alloc(dp_arena *a, size_t cs, bool *zeroed);
dp_chunk *dp_arena_alloc_aligned(dp_arena *a, size_t cs, size_t align);
size_t dp_arena_alloc_batch(dp_arena *a, size_t cs, void **out, size_t n);
void dp_arena_free(dp_arena *a, dp_chunk *c);
void dp_arena_free_batch(dp_arena *a, dp_chunk **cs, size_t n); /* sorts cs */
extern size_t dp_fast_max_chunk;
void dp_arena_fast_put(dp_arena *a, unsigned cls, void *first, void *last, uint32_t n);
bool dp_arena_drain_due(dp_arena *a, size_t extra); /* consolidating the fast lists is due */
void dp_arena_fast_drain(dp_arena *a);               /* consolidate and trim if due */
uint32_t dp_arena_fast_take(dp_arena *a, unsigned cls, void **first);
bool dp_arena_fast_contains(dp_arena *a, unsigned cls, const void *mem);
void dp_arena_remote_put(dp_arena *a, unsigned cls, void *first, void *last, uint32_t n);
void dp_arena_remote_take(dp_arena *a, unsigned cls); /* under a->lock */
bool dp_arena_grow_inplace(dp_arena *a, dp_chunk *c, size_t cs);
void dp_arena_shrink_inplace(dp_arena *a, dp_chunk *c, size_t cs);
bool dp_arena_trim(dp_arena *a, size_t pad, bool full);
void dp_arena_before_map(dp_arena *a, size_t size); /* a block of size is about to be mapped */
void dp_arena_check(dp_arena *a);
/* a mapping of len bytes was freed whose like now comes from the heap */
void dp_arena_note_big_free(size_t len);
/* the segment of an out-of-arena chunk, validated; fatal on garbage */
dp_segment *dp_chunk_segment(const char *func, const void *mem);
dp_arena *dp_arena_pick(void);
void dp_arena_detach(dp_arena *a);

#endif
