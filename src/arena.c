/*
 * arena.c - the wholesale side: segments of memory from the kernel, cut
 * into chunks, kept in bins when free, coalesced with free neighbours.
 *
 * An arena owns a list of segments.  The main arena's first segment is the
 * program break: the [heap] line of /proc/PID/maps, grown with brk and
 * lowered again when its top is free (M_TRIM_THRESHOLD).  Other arenas,
 * and the main arena once brk fails, use mmap'd segments (1 MiB, doubling
 * to 64 MiB, aligned to the 64 KiB pagemap granule).
 *
 * Each segment ends in a 16-byte fencepost chunk that is always "in use",
 * so coalescing never runs off a segment.  The last chunk before the
 * fencepost of the arena's newest segment is the top chunk: never in a
 * bin, always at least 32 bytes, split to serve requests the bins cannot.
 *
 * Free chunks sit in 368 bins: exact sizes 32..1008 (62 bins), then 8 bins
 * per power of two.  A bitmap of non-empty bins finds the smallest
 * adequate bin in a few instructions; within a large bin the first chunk
 * that fits is taken (good fit, as TLSF).  Bins are doubly linked with
 * encoded links, checked on every unlink (fd->bk == c && bk->fd == c).
 *
 * Invariants (dp_arena_check walks them in DEPOT_DEBUG builds):
 *  - no two adjacent chunks are free (free means: in a bin, or the top);
 *  - a chunk's PREV_INUSE bit equals "the previous chunk is not free",
 *    and a free chunk's size is repeated in the next chunk's prev_size;
 *  - a chunk is INUSE iff its pagemap start bit is set;
 *  - the top chunk is the last chunk of seg_top and is at least 32 bytes;
 *  - free()'s tag range lies in this arena's segments, side by side.
 */
#include "arena.h"
#include "large.h"  /* the mapped bytes a growth counts with */
#include "tcache.h" /* class sizes of the fast lists */

#include <unistd.h>

dp_arena dp_main_arena;
dp_arena *dp_arenas = &dp_main_arena;
unsigned dp_narenas = 1;
dp_lock dp_arenas_lock = DP_LOCK_INIT;

uintptr_t dp_heap_start;
size_t dp_heap_peak;
size_t dp_brk_grows, dp_brk_shrinks, dp_brk_failures;

static bool brk_usable = true;
/* Trim hysteresis, as glibc adapts its mmap threshold: when the break has
 * to be raised again right after a trim (alloc/free waves), the pad kept
 * on the next trim doubles (up to 64 MiB), so the waves stop paying two
 * system calls and the page faults each.  Set M_TRIM_THRESHOLD or
 * M_TOP_PAD and the pad is exactly what was asked. */
#define TRIM_PAD_MAX ((size_t)64 << 20)
static size_t trim_pad_dyn;     /* learned pad for automatic trims */
static bool last_brk_was_trim;
static size_t trim_run;         /* bytes trims gave back since the break last rose */
static size_t big_wave;         /* bytes of freed mappings whose like now comes
                                   from the heap, since the pad last halved */

static uintptr_t brk_end; /* the break as depot last set it */
static dp_segment *seg_free_list;

/* ---- bins ----------------------------------------------------------- */

DEPOT_INLINE unsigned bin_index(size_t size) {
  if (size < 1024)
    return (unsigned)(size >> 4);
  unsigned e = 63u - (unsigned)__builtin_clzll(size);
  unsigned i = ARENA_NSMALL + (e - 10) * 8 + (unsigned)((size >> (e - 3)) & 7);
  return i < ARENA_NBINS ? i : ARENA_NBINS - 1;
}

DEPOT_INLINE void binmap_set(dp_arena *a, unsigned i) { a->binmap[i >> 6] |= 1ull << (i & 63); }
DEPOT_INLINE void binmap_clear(dp_arena *a, unsigned i) {
  a->binmap[i >> 6] &= ~(1ull << (i & 63));
}

/* first non-empty bin at or above i, or ARENA_NBINS */
static unsigned binmap_find(const dp_arena *a, unsigned i) {
  unsigned w = i >> 6;
  if (w >= ARENA_BINMAP_WORDS)
    return ARENA_NBINS;
  uint64_t bits = a->binmap[w] & (~0ull << (i & 63));
  for (;;) {
    if (bits)
      return (w << 6) + (unsigned)__builtin_ctzll(bits);
    if (++w >= ARENA_BINMAP_WORDS)
      return ARENA_NBINS;
    bits = a->binmap[w];
  }
}

DEPOT_INLINE dp_chunk *link_fd(const dp_chunk *c) { return link_decode(&c->fd_enc, c->fd_enc); }
DEPOT_INLINE dp_chunk *link_bk(const dp_chunk *c) { return link_decode(&c->bk_enc, c->bk_enc); }

/* every change of the top goes through here: the free fast path reads
 * top_pub, unlocked, to send a block that borders the top home */
DEPOT_INLINE void set_top(dp_arena *a, dp_chunk *t) {
  a->top = t;
  /* only a brk top gives memory back by shrinking (trim_excess); next to
   * an mmap'd top, a freed block is cached like any other */
  __atomic_store_n(&a->top_pub, t && a->seg_top && a->seg_top->is_brk ? t : NULL,
                   __ATOMIC_RELAXED);
}

static void bin_insert(dp_arena *a, dp_chunk *c) {
  size_t s = untagged_size(c);
  unsigned i = bin_index(s);
  dp_chunk *h = a->bins[i];
  c->fd_enc = link_encode(&c->fd_enc, h);
  c->bk_enc = link_encode(&c->bk_enc, NULL);
  if (h)
    h->bk_enc = link_encode(&h->bk_enc, c);
  else
    binmap_set(a, i);
  a->bins[i] = c;
  a->free_bytes += s;
  a->free_chunks++;
}

DEPOT_COLD static void corrupt(const void *where) {
  dp_fatal("malloc", "corrupted free list at", where);
}

static void bin_unlink(dp_arena *a, dp_chunk *c) {
  size_t s = untagged_size(c);
  unsigned i = bin_index(s);
  dp_chunk *fd = link_fd(c), *bk = link_bk(c);
  if (unlikely(DP_BAD_LINK((uintptr_t)fd | (uintptr_t)bk)))
    corrupt(c);
  if (bk) {
    if (unlikely(link_fd(bk) != c))
      corrupt(c);
    bk->fd_enc = link_encode(&bk->fd_enc, fd);
  } else {
    if (unlikely(a->bins[i] != c))
      corrupt(c);
    a->bins[i] = fd;
    if (!fd)
      binmap_clear(a, i);
  }
  if (fd) {
    if (unlikely(link_bk(fd) != c))
      corrupt(c);
    fd->bk_enc = link_encode(&fd->bk_enc, bk);
  }
  a->free_bytes -= s;
  a->free_chunks--;
}

/* A free chunk that fits cs, unlinked: an exact small bin, else the best
 * fit among the first chunks of cs's own large bin, else the smallest of
 * the first chunks of the next non-empty bin (best fit keeps big free
 * chunks whole for big requests, which is what keeps fragmentation low). */
#define FIT_SCAN 16

static dp_chunk *bins_find(dp_arena *a, size_t cs) {
  unsigned i = bin_index(cs);
  dp_chunk *c = a->bins[i], *best = NULL;
  if (i < ARENA_NSMALL) {
    if (c)
      return c;
  } else {
    for (int k = 0; c && k < FIT_SCAN; k++, c = link_fd(c)) {
      size_t s = untagged_size(c);
      if (s >= cs && (!best || s < untagged_size(best))) {
        best = c;
        if (s == cs)
          break;
      }
    }
    if (best)
      return best;
  }
  unsigned j = binmap_find(a, i + 1);
  if (j >= ARENA_NBINS)
    return NULL;
  best = c = a->bins[j];
  if (j >= ARENA_NSMALL)
    for (int k = 0; c && k < FIT_SCAN; k++, c = link_fd(c))
      if (untagged_size(c) < untagged_size(best))
        best = c;
  return best;
}

/* Can the top serve cs from memory that is already resident?  Below the
 * segment's `fresh` mark the top was touched (and not given back: a trim
 * lowers `fresh` with the break), e.g. the pad a trim kept. */
static bool top_dirty_fits(const dp_arena *a, size_t cs) {
  const dp_chunk *t = a->top;
  return t && untagged_size(t) >= cs + DP_MINCHUNK &&
         (uintptr_t)t + cs + DP_MINCHUNK <= a->seg_top->fresh;
}

/* Resident memory first: a CLEAN chunk (its pages were given back) costs
 * page faults and new resident memory when it is used again, so while the
 * top still has touched room for cs, the top serves instead. */
static dp_chunk *bins_take(dp_arena *a, size_t cs) {
  dp_chunk *c = bins_find(a, cs);
  if (!c || (unlikely(head_load(c) & C_CLEAN) && top_dirty_fits(a, cs)))
    return NULL;
  bin_unlink(a, c);
  return c;
}

/* ---- chunk state ---------------------------------------------------- */

/* bytes that left the arena (to the program or a thread cache) */
DEPOT_INLINE void out_add(dp_arena *a, size_t bytes) {
  a->out_bytes += bytes;
  if (a->out_bytes > a->out_peak)
    a->out_peak = a->out_bytes;
}

/* the header of a chunk that is out (start bit set), size s, flags f:
 * tagged with its address and this arena when under 64 MiB (chunk.h) */
DEPOT_INLINE size_t out_head(const dp_arena *a, const dp_chunk *c, size_t s, size_t f) {
  size_t h = s | f;
  if (s < C_TAG_MAX_SIZE)
    h |= chunk_tag(chunk2mem(c), dp_tag_mult, dp_arena_tag_id(a));
  return h;
}

/* a chunk's start bit is about to be cleared: its tag goes first */
DEPOT_INLINE void untag(dp_chunk *c) { head_store(c, head_untag(head_load(c))); }

/* the chunk leaves the arena: INUSE and tagged, next's PREV_INUSE, start bit */
static void mark_out(dp_arena *a, dp_chunk *c) {
  size_t s = untagged_size(c);
  head_store(c, out_head(a, c, s, (head_load(c) & C_PREV_INUSE) | C_INUSE));
  head_store(chunk_at(c, s), head_load(chunk_at(c, s)) | C_PREV_INUSE);
  dp_pm_entry *e = dp_pagemap_get((uintptr_t)chunk2mem(c));
  DEPOT_ASSERT(e && e->seg);
  dp_starts_set(e, (uintptr_t)chunk2mem(c));
  out_add(a, s);
}

/* c is free and unlinked, size S >= cs: keep cs, bin the rest if it can
 * stand alone as a chunk */
static void split_free(dp_arena *a, dp_chunk *c, size_t cs) {
  size_t S = untagged_size(c);
  if (S - cs >= DP_MINCHUNK) {
    dp_chunk *r = chunk_at(c, cs);
    head_store(r, (S - cs) | C_PREV_INUSE | (head_load(c) & C_CLEAN));
    chunk_at(r, S - cs)->prev_size = S - cs;
    head_store(c, cs | (head_load(c) & C_PREV_INUSE));
    bin_insert(a, r);
  }
}

/* ---- segments ------------------------------------------------------- */

static dp_lock seg_free_lock = DP_LOCK_INIT; /* arenas share the recycled records */

/* fork (api.c takes every lock in one order; this one last among arena's) */
void dp_segments_fork_prepare(void);
void dp_segments_fork_parent(void);
void dp_segments_fork_child(void);
void dp_segments_fork_prepare(void) { dp_lock_fork_take(&seg_free_lock); }
void dp_segments_fork_parent(void) { dp_lock_fork_give(&seg_free_lock); }
void dp_segments_fork_child(void) { dp_lock_reinit(&seg_free_lock); }

static dp_segment *segment_new(void) {
  dp_lock_acquire(&seg_free_lock);
  dp_segment *s = seg_free_list;
  if (s)
    seg_free_list = s->next;
  dp_lock_release(&seg_free_lock);
  if (s) {
    memset(s, 0, sizeof *s);
    return s;
  }
  return dp_meta_alloc(sizeof(dp_segment));
}

static void write_fence(uintptr_t end) {
  dp_chunk *f = (dp_chunk *)end;
  head_store(f, 16 | C_INUSE); /* PREV_INUSE clear: the top before it is free */
}

/* The current top becomes an ordinary free chunk (its segment is no
 * longer the newest). */
static void retire_top(dp_arena *a) {
  dp_chunk *t = a->top;
  if (!t)
    return;
  size_t T = untagged_size(t);
  chunk_at(t, T)->prev_size = T;
  bin_insert(a, t);
  set_top(a, NULL);
}

static void segment_link(dp_arena *a, dp_segment *s) {
  s->arena = a;
  s->next = a->segs;
  a->segs = s;
  a->system_bytes += s->is_brk ? (s->end + 16 - s->base) : s->map_size;
}

/* Make seg (not the top's segment) the top's segment again: the current
 * top is retired to the bins and seg's last chunk, if free, becomes the
 * new top's start. */
static void make_seg_top(dp_arena *a, dp_segment *s) {
  retire_top(a);
  dp_chunk *fence = (dp_chunk *)s->end;
  dp_chunk *t = fence;
  size_t prev_bit = head_load(fence) & C_PREV_INUSE;
  if (!prev_bit) {
    t = chunk_below(fence, fence->prev_size);
    bin_unlink(a, t);
    prev_bit = head_load(t) & C_PREV_INUSE;
  }
  a->seg_top = s;
  set_top(a, t);
  /* the caller extends s->end and sets the top's size */
  head_store(t, ((uintptr_t)fence - (uintptr_t)t) | prev_bit);
}

static dp_segment *brk_seg; /* depot's newest brk segment, ending at brk_end */

/* The range where free() reads headers without the pagemap (arena.h):
 * [lo, end), every page of [lo - 8, end) mapped.  Valid blocks outside it
 * take the pagemap path, so a range too small costs time only; one too big
 * could make free() of a wild pointer fault instead of stopping with a
 * message, so it is closed before its memory goes. */
static void tag_range_set(dp_arena *a, uintptr_t lo, uintptr_t end) {
  __atomic_store_n(&a->tag_units, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&a->tag_neg, 0 - lo, __ATOMIC_RELAXED);
  __atomic_store_n(&a->tag_units, end > lo ? (end - lo) >> 4 : 0, __ATOMIC_RELEASE);
}

/* the range as [*lo, *end); empty when *lo == *end */
static void tag_range_get(const dp_arena *a, uintptr_t *lo, uintptr_t *end) {
  *lo = 0 - __atomic_load_n(&a->tag_neg, __ATOMIC_RELAXED);
  *end = *lo + (__atomic_load_n(&a->tag_units, __ATOMIC_RELAXED) << 4);
}

/* The break moved: the range is the current brk segment from its first
 * block, base + 16, to brk_end. */
static void tag_range_brk(dp_arena *a) { tag_range_set(a, brk_seg->base + 16, brk_end); }

/* Grow the main arena's brk heap (or start it).  need: bytes the top
 * must hold.  False if brk cannot give them. */
static bool grow_brk(dp_arena *a, size_t need) {
  dp_segment *s = brk_seg;
  size_t have = (s && a->seg_top == s) ? untagged_size(a->top) : 0;
  size_t missing = need > have ? need - have : 0;
  if (missing > (size_t)PTRDIFF_MAX / 2)
    return false;
  size_t incr = dp_align_up(missing + dp_opt.top_pad + 64, DP_PAGE);
  char *old = dp_os_sbrk((intptr_t)incr);
  if (old == (void *)-1) {
    dp_brk_failures++;
    brk_usable = false;
    return false;
  }
  uintptr_t new_brk = (uintptr_t)old + incr;
  dp_brk_grows++;
  if (last_brk_was_trim && !__atomic_load_n(&dp_opt.mmap_threshold_fixed, __ATOMIC_RELAXED)) {
    size_t cur = __atomic_load_n(&trim_pad_dyn, __ATOMIC_RELAXED);
    /* what the trims gave back is needed again: keep as much next time
     * (resident: the top serves from it before any given-back hole, see
     * bins_take), and at least double */
    size_t want = cur ? 2 * cur : incr;
    if (want < trim_run)
      want = trim_run;
    want = want < incr ? incr : want > TRIM_PAD_MAX ? TRIM_PAD_MAX : want;
    __atomic_store_n(&trim_pad_dyn, want, __ATOMIC_RELAXED);
  }
  last_brk_was_trim = false;
  trim_run = 0;
  if (s && (uintptr_t)old == brk_end) {
    /* the break is where depot left it: the heap grows in place */
    uintptr_t old_end = s->end, new_end = dp_align_down(new_brk - 16, 16);
    if (!dp_pagemap_register(s, a, old_end, new_brk)) {
      dp_os_sbrk(-(intptr_t)incr);
      return false;
    }
    if (a->seg_top != s)
      make_seg_top(a, s);
    if (s->fresh < old_end + 16)
      s->fresh = old_end + 16;
    head_store(a->top, (untagged_size(a->top) + (new_end - old_end)) | (head_load(a->top) & C_PREV_INUSE));
    __atomic_store_n(&s->end, new_end, __ATOMIC_RELAXED);
    write_fence(new_end);
    a->system_bytes += new_end - old_end;
  } else {
    /* first growth, or the program moved the break itself: a new brk
     * segment starts where the kernel put the break, on a granule of its
     * own so that the pagemap never mixes two segments */
    uintptr_t base = dp_align_up((uintptr_t)old, 16);
    dp_pm_entry *pe = dp_pagemap_get(base);
    if (pe && pe->seg)
      base = dp_align_up(base, DP_GRANULE);
    uintptr_t end = dp_align_down(new_brk - 16, 16);
    dp_segment *ns = (end > base && end - base >= DP_MINCHUNK + need) ? segment_new() : NULL;
    if (!ns || !dp_pagemap_register(ns, a, base, new_brk)) {
      dp_os_sbrk(-(intptr_t)incr);
      return false;
    }
    ns->is_brk = true;
    ns->base = base;
    ns->end = end;
    ns->fresh = base;
    if (!dp_heap_start)
      dp_heap_start = (uintptr_t)old;
    retire_top(a);
    segment_link(a, ns);
    a->seg_top = ns;
    set_top(a, (dp_chunk *)base);
    head_store(a->top, (end - base) | C_PREV_INUSE);
    write_fence(end);
    brk_seg = ns;
  }
  brk_end = new_brk;
  tag_range_brk(a);
  if (brk_end - dp_heap_start > dp_heap_peak)
    dp_heap_peak = brk_end - dp_heap_start;
  return true;
}

/* The range of an arena whose top is in an mmap'd segment: the run of its
 * mmap'd segments side by side that holds the top's, leaving out `gone`
 * (a segment that left the list and is about to be unmapped), or closed
 * when there is none.  Set when a new segment becomes the top (each arena
 * asks for the place right below its run, os.c, so the run grows with it)
 * and when a segment goes back (malloc_trim, an idle purge: the range
 * shrinks to the run that is left; closing it instead left the arena's
 * frees on the pagemap path until it grew again, 16.7K of 24K in a
 * thread's round after a trim).  Older segments apart from the run take
 * the pagemap path. */
static void tag_range_rebuild(dp_arena *a, const dp_segment *gone) {
  const dp_segment *t = a->seg_top;
  if (!t || t == gone || t->is_brk || !t->map_base) {
    tag_range_set(a, 0, 0);
    return;
  }
  uintptr_t lo = (uintptr_t)t->map_base, hi = lo + t->map_size;
  for (bool grew = true; grew;) {
    grew = false;
    for (const dp_segment *g = a->segs; g; g = g->next) {
      if (g == gone || g->is_brk || !g->map_base)
        continue;
      uintptr_t b = (uintptr_t)g->map_base, e = b + g->map_size;
      if (e == lo) {
        lo = b;
        grew = true;
      } else if (b == hi) {
        hi = e;
        grew = true;
      }
    }
  }
  tag_range_set(a, lo + 16, hi - 16); /* first block .. fence */
}

static bool grow_mmap(dp_arena *a, size_t need) {
  size_t size = a->next_seg_size ? a->next_seg_size : SEG_MIN_MMAP;
  size_t want = dp_align_up(need + 64, DP_GRANULE);
  if (want < need)
    return false;
  if (size < want)
    size = want;
  /* right below the run the tag range covers, if that place is free */
  uintptr_t lo, end, below = 0;
  tag_range_get(a, &lo, &end);
  if (lo != end && a->seg_top && !a->seg_top->is_brk) {
    if (lo - 16 > size)
      below = lo - 16 - size;
  } else if (dp_os_region_top(a->index) > size) {
    below = dp_os_region_top(a->index) - size; /* the arena's first (os.c) */
  }
  char *m = dp_os_mmap_aligned(size, DP_GRANULE, below);
  if (!m)
    return false;
  dp_segment *s = segment_new();
  if (!s || !dp_pagemap_register(s, a, (uintptr_t)m, (uintptr_t)m + size)) {
    dp_os_munmap(m, size);
    return false;
  }
  if (a->next_seg_size < SEG_MAX_MMAP)
    a->next_seg_size = (a->next_seg_size ? a->next_seg_size : SEG_MIN_MMAP) * 2;
  s->map_base = m;
  s->map_size = size;
  s->base = (uintptr_t)m;
  s->end = (uintptr_t)m + size - 16;
  s->fresh = s->base;
  retire_top(a);
  segment_link(a, s);
  a->seg_top = s;
  set_top(a, (dp_chunk *)s->base);
  head_store(a->top, (s->end - s->base) | C_PREV_INUSE);
  write_fence(s->end);
  tag_range_rebuild(a, NULL);
  return true;
}

static size_t release_some(dp_arena *a, size_t min_size, size_t target);

/* Growing while the bins hold much free memory that was touched (a heap
 * fragmented by frees in random order, holes too small for what is asked
 * now): as many bytes of the holes' inner pages go back first as the
 * growth adds, so the footprint stays where it was instead of growing by
 * the new memory on top of the holes. */
#ifndef GROW_PURGE_MIN
#define GROW_PURGE_MIN ((size_t)4 << 20)
#endif
static void purge_before_grow(dp_arena *a, size_t need) {
  /* only on the way to a new high (the peak is what the program pays
   * for; below it, pages given back would only be faulted in again) */
  dp_large_stats ls;
  dp_large_stats_get(&ls);
  size_t footprint = a->system_bytes + ls.bytes + need;
  if (footprint <= a->footprint_peak)
    return;
  a->footprint_peak = footprint;
  if (a->free_bytes < GROW_PURGE_MIN || a->free_bytes < a->system_bytes / 4 ||
      a->grow_dirty < need)
    return;
  a->grow_dirty -= need; /* walks no more than frees dirtied */
  release_some(a, 2 * DP_PAGE, need);
}

/* a block is about to get a mapping of its own: the same rule */
void dp_arena_before_map(dp_arena *a, size_t size) {
  dp_lock_acquire(&a->lock);
  purge_before_grow(a, size);
  dp_lock_release(&a->lock);
}

/* Make the top hold at least cs + 32 bytes. */
static bool arena_grow(dp_arena *a, size_t cs) {
  size_t need = cs + DP_MINCHUNK;
  if (need < cs)
    return false;
  purge_before_grow(a, need);
  if (a == &dp_main_arena && brk_usable && grow_brk(a, need))
    return true;
  return grow_mmap(a, need);
}

/* ---- allocation ----------------------------------------------------- */

static void consolidate(dp_arena *a);
static bool spill_thread_cache(dp_arena *a, bool small);

/* the top, whose size must reach its segment's end exactly */
static dp_chunk *top_checked(dp_arena *a) {
  dp_chunk *c = a->top;
  if (unlikely((uintptr_t)c + untagged_size(c) != a->seg_top->end)) /* an overflow hit its header */
    dp_fatal("malloc", "corrupted top size at", chunk2mem(c));
  return c;
}

/* the top now starts at t (what lay below was cut from it): t's header is
 * written; memory below t is no longer fresh */
static void top_moved(dp_arena *a, dp_chunk *t) {
  set_top(a, t);
  dp_segment *s = a->seg_top;
  if (s->fresh < (uintptr_t)t + 16)
    s->fresh = (uintptr_t)t + 16;
}

/* carve cs from the top; the top keeps at least 32 bytes */
static dp_chunk *top_take(dp_arena *a, size_t cs, bool *zeroed) {
  dp_chunk *c = top_checked(a);
  size_t T = untagged_size(c);
  DEPOT_ASSERT(T >= cs + DP_MINCHUNK);
  dp_chunk *t = chunk_at(c, cs);
  head_store(t, (T - cs) | C_PREV_INUSE);
  head_store(c, cs | (head_load(c) & C_PREV_INUSE));
  if (zeroed)
    *zeroed = (uintptr_t)c + 16 >= a->seg_top->fresh;
  top_moved(a, t);
  return c;
}

/* k chunks of cs side by side from c on, each marked out as mark_out
 * would (the caller writes the header that follows them), with the
 * pagemap looked up once a granule and the counters moved once; their
 * memory in out[] by address */
static void mark_out_run(dp_arena *a, dp_chunk *c, size_t cs, size_t k, void **out) {
  size_t prev = head_load(c) & C_PREV_INUSE;
  dp_pm_entry *e = NULL;
  uintptr_t granule = 0;
  for (size_t j = 0; j < k; j++) {
    dp_chunk *b = chunk_at(c, j * cs);
    head_store(b, out_head(a, b, cs, C_INUSE | prev));
    prev = C_PREV_INUSE;
    uintptr_t mem = (uintptr_t)chunk2mem(b);
    if (!e || mem >> DP_GRANULE_SHIFT != granule) {
      e = dp_pagemap_get(mem);
      granule = mem >> DP_GRANULE_SHIFT;
      DEPOT_ASSERT(e && e->seg);
    }
    dp_starts_set(e, mem);
    out[j] = (void *)mem;
  }
  out_add(a, k * cs);
}

/* k chunks of cs cut side by side from the top, each marked out: what k
 * rounds of top_take and mark_out do, with the top and `fresh` moved once
 * (a refill of 128 blocks from the top: fragmentation's fill phase,
 * binary-trees) */
static void top_take_batch(dp_arena *a, size_t cs, size_t k, void **out) {
  dp_chunk *c = top_checked(a);
  size_t T = untagged_size(c), all = k * cs;
  DEPOT_ASSERT(T >= all + DP_MINCHUNK);
  mark_out_run(a, c, cs, k, out);
  dp_chunk *t = chunk_at(c, all);
  head_store(t, (T - all) | C_PREV_INUSE);
  top_moved(a, t);
}

dp_chunk *dp_arena_alloc(dp_arena *a, size_t cs, bool *zeroed) {
  if (zeroed)
    *zeroed = false;
  dp_chunk *c = bins_take(a, cs);
  if (!c && (!a->top || untagged_size(a->top) < cs + DP_MINCHUNK) &&
      (spill_thread_cache(a, true) || a->fast_bytes ||
       __atomic_load_n(&a->remote_bytes, __ATOMIC_RELAXED))) {
    consolidate(a); /* coalescing may already hold what growing would add */
    c = bins_take(a, cs);
  }
  if (c) {
    split_free(a, c, cs);
  } else {
    if (!a->top || untagged_size(a->top) < cs + DP_MINCHUNK)
      if (!arena_grow(a, cs))
        return NULL;
    c = top_take(a, cs, zeroed);
  }
  mark_out(a, c);
  return c;
}

/* Up to n chunks of exactly cs for a thread cache, cut side by side from
 * one free chunk or the top where possible.  Returns how many. */
size_t dp_arena_alloc_batch(dp_arena *a, size_t cs, void **out, size_t n) {
  size_t got = 0;
  while (got < n) {
    dp_chunk *c = bins_take(a, cs);
    if (c) {
      size_t S = untagged_size(c);
      /* k pieces off the front in one run; the last piece is split off
       * below */
      size_t k = S >= 2 * cs + DP_MINCHUNK ? (S - cs - DP_MINCHUNK) / cs : 0;
      if (k > n - 1 - got)
        k = n - 1 - got;
      if (k) {
        mark_out_run(a, c, cs, k, out + got);
        got += k;
        c = chunk_at(c, k * cs);
        S -= k * cs;
        head_store(c, S | C_PREV_INUSE);
      }
      chunk_at(c, S)->prev_size = S;
      split_free(a, c, cs);
      mark_out(a, c);
      out[got++] = chunk2mem(c);
      continue;
    }
    if (!a->top || untagged_size(a->top) < cs + DP_MINCHUNK) {
      if (got > 0)
        break;
      if (spill_thread_cache(a, false) || a->fast_bytes ||
          __atomic_load_n(&a->remote_bytes, __ATOMIC_RELAXED)) {
        consolidate(a); /* coalescing may already hold what growing would add */
        continue;
      }
      if (!arena_grow(a, cs * (n - got)) && !arena_grow(a, cs))
        break;
    }
    size_t fit = (untagged_size(a->top) - DP_MINCHUNK) / cs;
    size_t k = n - got < fit ? n - got : fit;
    if (k) {
      top_take_batch(a, cs, k, out + got);
      got += k;
    }
  }
  return got;
}

dp_chunk *dp_arena_alloc_aligned(dp_arena *a, size_t cs, size_t align) {
  size_t want = cs + align + DP_MINCHUNK;
  if (want < cs)
    return NULL;
  dp_chunk *c = dp_arena_alloc(a, want, NULL);
  if (!c)
    return NULL;
  uintptr_t mem = (uintptr_t)chunk2mem(c);
  if (mem & (align - 1)) {
    uintptr_t am = dp_align_up(mem, align);
    if (am - mem < DP_MINCHUNK)
      am = dp_align_up(mem + DP_MINCHUNK, align);
    size_t lead = am - mem, S = chunk_size(c);
    dp_chunk *c2 = chunk_at(c, lead);
    head_store(c2, out_head(a, c2, S - lead, C_PREV_INUSE | C_INUSE));
    head_store(c, lead | (head_load(c) & C_PREV_INUSE) | C_INUSE); /* untagged: freed now */
    dp_starts_set(dp_pagemap_get(am), am);
    dp_arena_free(a, c);
    c = c2;
  }
  dp_arena_shrink_inplace(a, c, cs);
  return c;
}

/* ---- free ----------------------------------------------------------- */

static void segment_release(dp_arena *a, dp_segment *s);
static void purge(dp_arena *a);
static void purge_idle_arenas(uint64_t now);

#define CONSOLIDATE_SIZE ((size_t)64 << 10) /* glibc's FASTBIN_CONSOLIDATION_THRESHOLD */

/* Coalesce a chunk that just left the program (INUSE, start bit already
 * clear, not counted in out_bytes) with its free neighbours and bin it.
 * Returns the size of the free chunk it became part of. */
static size_t free_core(dp_arena *a, dp_chunk *c) {
  size_t S = untagged_size(c);
  dp_chunk *n = chunk_at(c, S);
  if (unlikely(!(head_load(n) & C_PREV_INUSE) || !(head_load(c) & C_INUSE) || S < DP_MINCHUNK))
    dp_fatal("free", "corrupted chunk header at", chunk2mem(c));
  if (!(head_load(c) & C_PREV_INUSE)) {
    size_t ps = c->prev_size;
    dp_chunk *p = chunk_below(c, ps);
    if (unlikely(ps & 15 || untagged_size(p) != ps || (head_load(p) & C_INUSE)))
      dp_fatal("free", "corrupted size vs. prev_size at", chunk2mem(c));
    bin_unlink(a, p);
    c = p;
    S += ps;
  }
  if (n == a->top) {
    S += untagged_size(n);
    head_store(c, S | C_PREV_INUSE);
    set_top(a, c);
    return S;
  }
  if (!(head_load(n) & C_INUSE)) {
    bin_unlink(a, n);
    S += untagged_size(n);
  }
  head_store(c, S | C_PREV_INUSE);
  n = chunk_at(c, S);
  head_store(n, head_load(n) & ~C_PREV_INUSE);
  n->prev_size = S;
  bin_insert(a, c);
  if (S >= SEG_MIN_MMAP - 64) {
    /* a whole mmap'd segment free again: give it back */
    dp_pm_entry *e = dp_pagemap_get((uintptr_t)c + 16);
    dp_segment *s = e ? e->seg : NULL;
    if (s && !s->is_brk && s != a->seg_top && (uintptr_t)c == s->base && (uintptr_t)n == s->end) {
      bin_unlink(a, c);
      segment_release(a, s);
    }
  }
  return S;
}

/* the pad an automatic trim leaves: M_TOP_PAD, or the learned one */
static size_t trim_pad(void) {
  size_t dyn = __atomic_load_n(&trim_pad_dyn, __ATOMIC_RELAXED);
  return dp_opt.top_pad > dyn ? dp_opt.top_pad : dyn;
}

/* a brk top above the trim threshold plus pad gives back its excess */
static void trim_excess(dp_arena *a) {
  size_t trim = __atomic_load_n(&dp_opt.trim_threshold, __ATOMIC_RELAXED), pad = trim_pad();
  if (a->top && untagged_size(a->top) > trim + pad && a->seg_top->is_brk)
    dp_arena_trim(a, pad, false);
}

/* Work done after frees, not on each: trimming the top, consolidating
 * the fast lists, and (at most every decay_ms) giving back free pages. */
static void after_free(dp_arena *a, size_t merged) {
  /* as glibc's free of a big chunk; but only where it can lower the
   * break, and when the fast lists hold more than the top may keep
   * (waves of frees would otherwise pay for coalescing on every wave) */
  if (merged >= CONSOLIDATE_SIZE && dp_arena_drain_due(a, merged))
    dp_arena_fast_drain(a); /* consolidates, then trims */
  else
    trim_excess(a);
  size_t trim = __atomic_load_n(&dp_opt.trim_threshold, __ATOMIC_RELAXED);
  size_t trigger = trim < ((size_t)1 << 20) ? ((size_t)1 << 20) : trim;
  if (a->dirty_freed > trigger) {
    /* decay: free pages are given back once decay_ms have passed since
     * the last time, so alloc/free waves do not pay for page faults on
     * every wave (the layout of the heap never depends on the clock) */
    uint64_t now = dp_os_now_ms();
    /* purge_ms starts at 0, so the first look purges at once: starting
     * the clock there instead was measured 15-22% slower on mstress-1t
     * (its early coalescing pays for itself) */
    if (now - a->purge_ms >= (uint64_t)dp_opt.decay_ms) {
      purge(a);
      purge_idle_arenas(now);
    } else {
      a->dirty_freed = trigger / 2; /* look at the clock again later */
    }
  }
}

void dp_arena_free(dp_arena *a, dp_chunk *c) {
  uintptr_t mem = (uintptr_t)chunk2mem(c);
  untag(c);
  dp_starts_clear(dp_pagemap_get(mem), mem);
  size_t S = chunk_size(c);
  a->out_bytes -= S;
  a->dirty_freed += S;
  a->grow_dirty += S;
  after_free(a, free_core(a, c));
}

/* A thread cache's flush: n chunks that left the program (validated by
 * the caller, start bits still set) come home at once.  Sorted by
 * address, chunks that lie side by side are joined first and coalesce
 * with their neighbours as one, so a run of blocks a refill cut side by
 * side costs one bin operation, not one per block.  Each joined chunk is
 * checked as free_core checks one.  cs is reordered. */
static size_t free_batch_core(dp_arena *a, dp_chunk **cs, size_t n, bool dirty) {
  if (n > 1 && cs[0] > cs[n - 1]) /* a chain pushed in descending order */
    for (size_t i = 0, j = n - 1; i < j; i++, j--) {
      dp_chunk *t = cs[i];
      cs[i] = cs[j];
      cs[j] = t;
    }
  /* insertion sort: flushes come nearly sorted; on a shuffled input it
   * gives up after as many moves as blocks (order only saves bin
   * operations; a budget of 4 moves a block cost fragmentation 1.3% and
   * sh8bench 1.6% more instructions for no saved ones) */
  size_t budget = n;
  for (size_t i = 1; i < n && budget; i++) {
    dp_chunk *x = cs[i];
    size_t j = i;
    for (; j > 0 && cs[j - 1] > x && budget; j--, budget--)
      cs[j] = cs[j - 1];
    cs[j] = x;
  }
  size_t merged = 0;
  for (size_t i = 0; i < n;) {
    dp_chunk *c = cs[i++];
    size_t S = chunk_size(c);
    uintptr_t mem = (uintptr_t)chunk2mem(c);
    untag(c);
    dp_starts_clear(dp_pagemap_get(mem), mem);
    a->out_bytes -= S;
    size_t all = S;
    while (i < n && cs[i] == chunk_at(c, S)) {
      dp_chunk *d = cs[i++];
      size_t h = head_load(d), ds = head_size(h);
      if (unlikely((h & (C_INUSE | C_PREV_INUSE | C_MMAPPED)) != (C_INUSE | C_PREV_INUSE) ||
                   ds < DP_MINCHUNK))
        dp_fatal("free", "corrupted chunk header at", chunk2mem(d));
      head_store(d, head_untag(h) & ~C_INUSE); /* a stale header says "freed" (bad_pointer) */
      mem = (uintptr_t)chunk2mem(d);
      dp_starts_clear(dp_pagemap_get(mem), mem);
      a->out_bytes -= ds;
      S += ds;
    }
    if (dirty) {
      a->dirty_freed += S;
      a->grow_dirty += S;
    }
    if (S != all) {
      if (unlikely(!(head_load(c) & C_INUSE)))
        dp_fatal("free", "corrupted chunk header at", chunk2mem(c));
      head_store(c, S | (head_load(c) & C_PREV_INUSE) | C_INUSE);
    }
    size_t m = free_core(a, c);
    if (m > merged)
      merged = m;
  }
  return merged;
}

void dp_arena_free_batch(dp_arena *a, dp_chunk **cs, size_t n) {
  after_free(a, free_batch_core(a, cs, n, true));
}

/* ---- fast lists --------------------------------------------------------
 * Small chunks (chunk size <= the M_MXFAST limit) that the thread caches
 * send home are kept whole, as glibc's fastbins: still INUSE to their
 * neighbours, linked as in a thread cache (so chains move between the two
 * in one splice), and coalesced only by consolidate(): before the heap
 * grows, when a large chunk is freed, at the decay tick, and by
 * malloc_trim.  A heap therefore never grows while coalescing would have
 * served the request. */

size_t dp_fast_max_chunk = 1040; /* requests up to 1 KiB (M_MXFAST sets it) */

/* Each fast list is a stack of batches: NULL-terminated chains as a
 * thread cache sent them.  Word 2 of a batch's first block holds the next
 * batch (encoded, low 48 bits) and the batch's length (high 16 bits), so a
 * refill takes a whole batch without walking it. */
#define BATCH_MASK (((uintptr_t)1 << 48) - 1)

DEPOT_INLINE uintptr_t batch_word(void **first, void *next, uint32_t n) {
  return ((link_encode(&first[2], next)) & BATCH_MASK) | ((uintptr_t)n << 48);
}
DEPOT_INLINE void *batch_next(void **first) {
  uintptr_t v = (uintptr_t)first[2];
  return (void *)(((v & BATCH_MASK) ^ (((uintptr_t)&first[2] >> 12) ^ dp_secret)) & BATCH_MASK);
}
DEPOT_INLINE uint32_t batch_len(void **first) { return (uint32_t)((uintptr_t)first[2] >> 48); }

/* terminate a chain at its last block (NULL: it is terminated already,
 * as a whole thread-cache list is) */
DEPOT_INLINE void chain_end(void *last) {
  void **l = last;
  if (l)
    l[0] = (void *)link_encode(&l[0], NULL);
}

static void fast_push(dp_arena *a, unsigned cls, void *first, void *last, uint32_t n) {
  void **f = first;
  chain_end(last);
  f[2] = (void *)batch_word(f, a->fast[cls], n);
  a->fast[cls] = first;
  a->fast_count[cls] += n;
  size_t bytes = (size_t)n * tc_class_size(cls);
  a->fast_bytes += bytes;
  a->dirty_freed += bytes;
  a->grow_dirty += bytes;
}

void dp_arena_fast_put(dp_arena *a, unsigned cls, void *first, void *last, uint32_t n) {
  fast_push(a, cls, first, last, n);
  if (a->dirty_freed > ((size_t)1 << 20))
    after_free(a, 0);
}

/* Before the arena grows, the blocks this thread caches coalesce too:
 * cached blocks scattered through free space would otherwise make the heap
 * grow for a block that the free space could hold.  The medium classes
 * (above the fast lists' limit) coalesce at once; the small ones join the
 * fast lists (each list in one splice) for the consolidation that follows
 * when `small`: for a request the thread cache does not serve, not for a
 * refill (larson-1t: 24% more time spilling them on every refill that
 * found the bins dry, against sh6bench 7.7 -> 6.4 MiB peak; the medium
 * classes alone, on refills too: sh8bench 18.0 -> 13.9 MiB, sh6bench 8.5
 * -> 7.7 MiB, times unchanged).  Under a->lock.  True if any moved. */
static bool spill_thread_cache(dp_arena *a, bool small) {
  dp_tcache *tc = dp_tc;
  if (!tc->live || tc->arena != a)
    return false;
  bool any = false;
  unsigned c = 2;
  for (; c < TC_NBINS && tc_class_size(c) <= dp_fast_max_chunk; c++) {
    dp_tc_bin *b = &tc->bins[c];
    if (!b->head || !small)
      continue;
    fast_push(a, c, b->head, NULL, b->count);
    b->head = NULL;
    b->count = 0;
    any = true;
  }
  /* the medium classes coalesce now, each block checked as a flush
   * checks it (a list holds only this arena's blocks; should one not be,
   * the rest of its list stays) */
  for (; c < TC_NBINS; c++) {
    dp_tc_bin *b = &tc->bins[c];
    dp_chunk *run[32];
    bool foreign = false;
    while (b->head && b->count && !foreign) {
      size_t k = 0;
      void **p = b->head;
      while (p && b->count && k < 32) {
        if (unlikely(DP_BAD_LINK(p)))
          dp_fatal("malloc", "corrupted thread cache at", p);
        dp_pm_entry *e = tc_block_entry("malloc", p);
        if (e->arena != a) {
          foreign = true;
          break;
        }
        void **next = (void **)((uintptr_t)p[0] ^ ((uintptr_t)p >> 12) ^ tc->secret);
        p[1] = NULL;
        run[k++] = mem2chunk(p);
        b->count--;
        p = next;
      }
      b->head = b->count ? p : NULL;
      free_batch_core(a, run, k, true);
      any = any || k;
    }
  }
  return any;
}

/* ---- remote frees ------------------------------------------------------
 * Blocks of this arena that another thread's cache sends home (producer and
 * consumer threads) do not take the arena's lock: the chain is pushed, as
 * one batch, onto a lock-free stack per class (compare-and-swap of the head;
 * the owner only ever takes the whole stack, so there is no ABA).  The
 * owner moves a stack to its fast list on its next refill of that class,
 * and consolidation takes every stack first.  The pusher's release and the
 * taker's acquire order the chain's contents. */

#define REMOTE_MAX ((size_t)1 << 20) /* an idle owner's stacks are taken beyond this */

void dp_arena_remote_take(dp_arena *a, unsigned cls) {
  void **f = __atomic_exchange_n(&a->remote[cls], NULL, __ATOMIC_ACQUIRE);
  size_t bytes = 0;
  while (f) {
    void **nf = batch_next(f);
    uint32_t n = batch_len(f);
    if (unlikely(DP_BAD_LINK(nf) || n == 0))
      corrupt(f);
    fast_push(a, cls, f, NULL, n);
    bytes += (size_t)n * tc_class_size(cls);
    f = nf;
  }
  if (bytes)
    __atomic_sub_fetch(&a->remote_bytes, bytes, __ATOMIC_RELAXED);
}

static void remote_take_all(dp_arena *a) {
  if (!__atomic_load_n(&a->remote_bytes, __ATOMIC_RELAXED))
    return;
  for (unsigned cls = 0; cls < ARENA_NFAST; cls++)
    if (__atomic_load_n(&a->remote[cls], __ATOMIC_RELAXED))
      dp_arena_remote_take(a, cls);
}

/* last: the chain's last block, to be terminated; NULL when the chain is
 * NULL-terminated already */
void dp_arena_remote_put(dp_arena *a, unsigned cls, void *first, void *last, uint32_t n) {
  void **f = first;
  chain_end(last);
  void *old = __atomic_load_n(&a->remote[cls], __ATOMIC_RELAXED);
  do
    f[2] = (void *)batch_word(f, old, n);
  while (!__atomic_compare_exchange_n(&a->remote[cls], &old, first, true, __ATOMIC_RELEASE,
                                      __ATOMIC_RELAXED));
  size_t held = __atomic_add_fetch(&a->remote_bytes, (size_t)n * tc_class_size(cls),
                                   __ATOMIC_RELAXED);
  if (unlikely(held > REMOTE_MAX) && dp_lock_try(&a->lock)) {
    /* the owner does not come for them: they join the fast lists, where
     * the usual work (decay, consolidation) sees them */
    remote_take_all(a);
    after_free(a, 0);
    dp_lock_release(&a->lock);
  }
}

/* One batch of class cls (a NULL-terminated chain); returns its length. */
uint32_t dp_arena_fast_take(dp_arena *a, unsigned cls, void **first) {
  void **f = a->fast[cls];
  if (!f)
    return 0;
  uint32_t n = batch_len(f);
  void *next = batch_next(f);
  if (unlikely(DP_BAD_LINK(next) || n == 0 || n > a->fast_count[cls]))
    corrupt(f);
  a->fast[cls] = next;
  a->fast_count[cls] -= n;
  size_t bytes = (size_t)n * tc_class_size(cls);
  a->fast_bytes = a->fast_bytes > bytes ? a->fast_bytes - bytes : 0;
  f[2] = NULL;
  *first = f;
  return n;
}

static bool batches_contain(void **f, const void *mem) {
  for (; f; f = batch_next(f)) {
    void **p = f;
    for (uint32_t i = 0, n = batch_len(f); p && i < n; i++) {
      if (p == mem)
        return true;
      p = link_decode(&p[0], (uintptr_t)p[0]);
    }
  }
  return false;
}

bool dp_arena_fast_contains(dp_arena *a, unsigned cls, const void *mem) {
  return batches_contain(a->fast[cls], mem) ||
         batches_contain(__atomic_load_n(&a->remote[cls], __ATOMIC_ACQUIRE), mem);
}

/* Consolidation walks up to CONS_LANES batches side by side: each block's
 * link is a load that misses the cache, and walking one chain at a time
 * waits for every miss in turn.  The blocks gathered lane by lane are
 * then fed to free_batch_core in exactly the order a walk of one batch
 * after the other gives (a batch's length is in its first block), so the
 * bins end up as they would: an earlier try that fed them interleaved
 * changed which chunks later requests found and cost sh8bench 4-8% more
 * peak RSS. */
#define CONS_LANES 8
#define CONS_RUN 128 /* blocks handed to free_batch_core at a time */

/* One batch being walked: its next block, how many it has left, and its
 * stretch of the gather area (room slots from at, got of them filled). */
typedef struct {
  void **p;
  uint32_t left, at, room, got;
} cons_lane;

/* Opens lanes on the consecutive batches from *f that fit the gather area
 * together; a batch longer than all of it gets a lane of its own, walked
 * ARENA_GATHER blocks at a time.  Advances *f past them. */
static unsigned cons_lanes_open(void ***f, cons_lane *lane) {
  unsigned nl = 0;
  uint32_t used = 0;
  while (*f && nl < CONS_LANES) {
    uint32_t n = batch_len(*f);
    if (nl > 0 && used + n > ARENA_GATHER)
      break;
    uint32_t room = n < ARENA_GATHER ? n : ARENA_GATHER;
    lane[nl++] = (cons_lane){.p = *f, .left = n, .at = used, .room = room, .got = 0};
    used += room;
    *f = batch_next(*f);
  }
  return nl;
}

/* Steps every lane one block at a time, round robin, until each has
 * filled its room or run out, so the lanes' cache misses overlap. */
static void cons_gather(void **gather, cons_lane *lane, unsigned nl) {
  for (bool more = true; more;) {
    more = false;
    for (unsigned i = 0; i < nl; i++) {
      cons_lane *l = &lane[i];
      if (!l->p || !l->left || l->got == l->room)
        continue;
      void **p = l->p;
      void **next = link_decode(&p[0], (uintptr_t)p[0]);
      if (unlikely(DP_BAD_LINK(next)))
        corrupt(p);
      p[1] = p[2] = NULL;
      gather[l->at + l->got++] = p;
      l->left--;
      l->p = next;
      more = true;
    }
  }
}

/* Adds one block to run[]; a full run goes to free_batch_core (side by
 * side blocks join first: one bin operation a run). */
DEPOT_INLINE void cons_emit(dp_arena *a, dp_chunk **run, size_t *k, void *mem) {
  run[(*k)++] = mem2chunk(mem);
  if (*k == CONS_RUN) {
    free_batch_core(a, run, *k, false);
    *k = 0;
  }
}

static void consolidate(dp_arena *a) {
  remote_take_all(a);
  if (!a->fast_bytes)
    return;
  dp_chunk *run[CONS_RUN];
  size_t k = 0;
  for (unsigned cls = 0; cls < ARENA_NFAST; cls++) {
    void **f = a->fast[cls];
    a->fast[cls] = NULL;
    a->fast_count[cls] = 0;
    while (f) {
      cons_lane lane[CONS_LANES];
      unsigned nl = cons_lanes_open(&f, lane);
      for (bool rest = true; rest;) {
        cons_gather(a->gather, lane, nl);
        rest = false;
        for (unsigned i = 0; i < nl; i++) { /* hand them on, lane by lane */
          cons_lane *l = &lane[i];
          for (uint32_t j = 0; j < l->got; j++)
            cons_emit(a, run, &k, a->gather[l->at + j]);
          /* only a lone long batch has blocks left: its next piece */
          if (l->p && l->left) {
            l->got = 0;
            l->room = l->left < ARENA_GATHER ? l->left : ARENA_GATHER;
            rest = true;
          }
        }
      }
    }
  }
  free_batch_core(a, run, k, false);
  a->fast_bytes = 0;
}

/* Would coalescing the fast lists (plus extra bytes about to join them)
 * let the break come down?  They must hold more than the top may keep;
 * the pad adapts as the trim's does, so waves of frees stop paying. */
bool dp_arena_drain_due(dp_arena *a, size_t extra) {
  size_t trim = __atomic_load_n(&dp_opt.trim_threshold, __ATOMIC_RELAXED), pad = trim_pad();
  size_t need = trim + pad > a->drain_floor ? trim + pad : a->drain_floor;
  return a->seg_top && a->seg_top->is_brk && a->fast_bytes + extra > need;
}

/* Consolidate, then trim what the top may not keep.  When no trim came
 * of it, the next drain waits for twice as much. */
void dp_arena_fast_drain(dp_arena *a) {
  size_t held = a->fast_bytes + (a->top ? untagged_size(a->top) : 0);
  size_t shrinks = dp_brk_shrinks;
  consolidate(a);
  trim_excess(a);
  a->drain_floor = dp_brk_shrinks != shrinks ? 0 : 2 * held;
}

/* ---- realloc in place ----------------------------------------------- */

bool dp_arena_grow_inplace(dp_arena *a, dp_chunk *c, size_t cs) {
  size_t S = chunk_size(c);
  dp_chunk *n = chunk_at(c, S);
  if (n == a->top) {
    if (untagged_size(n) < cs - S + DP_MINCHUNK) {
      /* only the brk top can grow in place */
      if (!(a->seg_top->is_brk && a == &dp_main_arena && brk_usable))
        return false;
      if (!arena_grow(a, cs - S) || a->top != n)
        return false;
    }
    size_t T = untagged_size(n);
    dp_chunk *t = chunk_at(c, cs);
    head_store(t, (T - (cs - S)) | C_PREV_INUSE);
    top_moved(a, t);
  } else {
    if (head_load(n) & C_INUSE)
      return false;
    size_t N = untagged_size(n);
    if (S + N < cs)
      return false;
    bin_unlink(a, n);
    if (S + N - cs >= DP_MINCHUNK) {
      dp_chunk *r = chunk_at(c, cs);
      head_store(r, (S + N - cs) | C_PREV_INUSE);
      chunk_at(r, S + N - cs)->prev_size = S + N - cs;
      bin_insert(a, r);
    } else {
      cs = S + N;
      head_store(chunk_at(c, cs), head_load(chunk_at(c, cs)) | C_PREV_INUSE);
    }
  }
  head_store(c, out_head(a, c, cs, head_load(c) & (C_PREV_INUSE | C_INUSE)));
  out_add(a, cs - S);
  return true;
}

void dp_arena_shrink_inplace(dp_arena *a, dp_chunk *c, size_t cs) {
  size_t S = chunk_size(c);
  if (S - cs < DP_MINCHUNK)
    return;
  dp_chunk *r = chunk_at(c, cs);
  head_store(r, (S - cs) | C_PREV_INUSE | C_INUSE);
  head_store(c, out_head(a, c, cs, head_load(c) & (C_PREV_INUSE | C_INUSE)));
  dp_arena_free(a, r); /* coalesces the tail with what follows */
}

/* ---- giving memory back --------------------------------------------- */

/* inner whole pages of a free chunk (header page and footer kept) */
static size_t release_inner(dp_arena *a, dp_chunk *c, size_t keep_front) {
  uintptr_t from = dp_align_up((uintptr_t)c + 32 + keep_front, DP_PAGE);
  uintptr_t to = dp_align_down((uintptr_t)c + untagged_size(c) - 8, DP_PAGE);
  if (to > from && to - from >= DP_PAGE) {
    dp_os_release((void *)from, to - from);
    a->madvise_calls++;
    a->madvise_bytes += to - from;
    return to - from;
  }
  return 0;
}

/* release inner pages of not yet clean free chunks of at least min_size,
 * the biggest bins first, until target bytes went back; returns them */
static size_t release_some(dp_arena *a, size_t min_size, size_t target) {
  size_t done = 0;
  unsigned lo = bin_index(min_size);
  for (unsigned i = ARENA_NBINS; i-- > lo && done < target;)
    for (dp_chunk *c = a->bins[i]; c && done < target; c = link_fd(c)) {
      if (head_load(c) & C_CLEAN)
        continue;
      done += release_inner(a, c, 0);
      head_store(c, head_load(c) | C_CLEAN);
    }
  return done;
}

/* release the inner pages of every not yet clean free chunk of at least
 * min_size; true if there was one */
static bool release_bins(dp_arena *a, size_t min_size) {
  bool released = false;
  for (unsigned i = bin_index(min_size); i < ARENA_NBINS; i++) {
    i = binmap_find(a, i);
    if (i >= ARENA_NBINS)
      break;
    for (dp_chunk *c = a->bins[i]; c; c = link_fd(c)) {
      if (head_load(c) & C_CLEAN)
        continue;
      release_inner(a, c, 0);
      head_store(c, head_load(c) | C_CLEAN);
      released = true;
    }
  }
  return released;
}

/* the decay tick: free chunks of 64 KiB and more give their pages back,
 * and the learned trim pad halves (a wave that stopped coming does not
 * keep its pad for good), so the top may come down */
static void purge(dp_arena *a) {
  consolidate(a); /* the decay tick: whole blocks waiting in fast lists coalesce too */
  a->dirty_freed = 0;
  a->purge_ms = dp_os_now_ms();
  release_bins(a, 64 * 1024);
  if (a == &dp_main_arena) {
    __atomic_store_n(&trim_pad_dyn, __atomic_load_n(&trim_pad_dyn, __ATOMIC_RELAXED) / 2,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&big_wave, 0, __ATOMIC_RELAXED);
    trim_excess(a);
  }
}

/* A wave of big temporaries that went to mmap comes from the heap from
 * now on (the dynamic threshold rose): the top keeps as much as the wave
 * freed, so the next wave neither trims nor faults the pages back in
 * (rss-over-time's burst: without it each of its first rounds gave the
 * top back and faulted it in again).  The decay tick halves it. */
void dp_arena_note_big_free(size_t len) {
  size_t w = __atomic_add_fetch(&big_wave, len, __ATOMIC_RELAXED);
  if (w > TRIM_PAD_MAX)
    w = TRIM_PAD_MAX;
  if (w > __atomic_load_n(&trim_pad_dyn, __ATOMIC_RELAXED))
    __atomic_store_n(&trim_pad_dyn, w, __ATOMIC_RELAXED);
}

static void segment_release(dp_arena *a, dp_segment *s) {
  dp_segment **pp = &a->segs;
  while (*pp && *pp != s)
    pp = &(*pp)->next;
  if (*pp)
    *pp = s->next;
  a->system_bytes -= s->map_size;
  /* a range that holds any of it shrinks first, to the run that is left
   * around the top's segment */
  uintptr_t lo, hi;
  tag_range_get(a, &lo, &hi);
  if (lo != hi && lo < (uintptr_t)s->map_base + s->map_size && (uintptr_t)s->map_base < hi + 16)
    tag_range_rebuild(a, s);
  dp_pagemap_unregister((uintptr_t)s->map_base, (uintptr_t)s->map_base + s->map_size);
  dp_os_munmap(s->map_base, s->map_size);
  dp_lock_acquire(&seg_free_lock);
  s->next = seg_free_list;
  seg_free_list = s;
  dp_lock_release(&seg_free_lock);
}

/* Return the top's excess (above pad) to the kernel: lower the break, or
 * release the pages of an mmap'd top.  full: also every free chunk's
 * inner pages (malloc_trim).  True if anything went back. */
bool dp_arena_trim(dp_arena *a, size_t pad, bool full) {
  bool released = false;
  if (full)
    consolidate(a);
  dp_chunk *t = a->top;
  dp_segment *s = a->seg_top;
  if (t && s) {
    size_t T = untagged_size(t);
    if (s->is_brk && s->end == dp_align_down(brk_end - 16, 16) &&
        (uintptr_t)dp_os_brk_current() == brk_end) {
      /* the top keeps pad + 32 bytes; the new break stays page aligned */
      uintptr_t new_brk = dp_align_up((uintptr_t)t + pad + DP_MINCHUNK + 16, DP_PAGE);
      bool go = new_brk + DP_PAGE <= brk_end;
      if (go) /* the range shrinks before its pages go */
        tag_range_set(a, s->base + 16, new_brk);
      if (go && dp_os_sbrk(-(intptr_t)(brk_end - new_brk)) == (void *)-1) {
        tag_range_brk(a);
        go = false;
      }
      if (go) {
        uintptr_t new_end = new_brk - 16;
        size_t cut = s->end - new_end;
        head_store(t, (T - cut) | (head_load(t) & C_PREV_INUSE));
        uintptr_t old_brk = brk_end;
        brk_end = new_brk;
        dp_pagemap_unregister(dp_align_up(new_brk, DP_GRANULE), old_brk);
        __atomic_store_n(&s->end, new_end, __ATOMIC_RELAXED);
        write_fence(new_end);
        if (s->fresh > new_end)
          s->fresh = new_end;
        a->system_bytes -= cut;
        dp_brk_shrinks++;
        last_brk_was_trim = true;
        trim_run += cut;
        released = true;
      }
    } else if (!s->is_brk && T > pad + 2 * DP_PAGE) {
      release_inner(a, t, pad);
      released = true;
    }
  }
  if (full) {
    released |= release_bins(a, 2 * DP_PAGE + 64);
    a->dirty_freed = 0;
  }
  return released;
}

/* ---- validation ------------------------------------------------------ */

dp_segment *dp_chunk_segment(const char *func, const void *mem) {
  (void)func;
  uintptr_t p = (uintptr_t)mem;
  if (p & 15)
    return NULL;
  dp_pm_entry *e = dp_pagemap_get(p);
  if (!e || !e->seg)
    return NULL;
  dp_segment *s = e->seg;
  if (p < s->base + 16 || p >= __atomic_load_n(&s->end, __ATOMIC_RELAXED))
    return NULL;
  if (!dp_starts_test(e, p))
    return NULL;
  return s;
}

/* ---- arenas and threads ---------------------------------------------- */

void dp_arena_init(dp_arena *a, unsigned index) {
  a->index = index;
  a->next_seg_size = SEG_MIN_MMAP;
}

dp_arena *dp_arena_pick(void) {
  dp_lock_acquire(&dp_arenas_lock);
  dp_arena *best = NULL;
  for (dp_arena *a = dp_arenas; a; a = a->next)
    if (a->threads == 0) {
      best = a;
      break;
    }
  long max = dp_opt.arena_max > 0 ? dp_opt.arena_max : 8 * (long)dp_os_ncpus();
  if (!best && (long)dp_narenas < max) {
    dp_arena *n = dp_meta_alloc(sizeof(dp_arena));
    if (n) {
      dp_arena_init(n, dp_narenas++);
      dp_arena *last = dp_arenas;
      while (last->next)
        last = last->next;
      last->next = n;
      best = n;
    }
  }
  if (!best) {
    best = dp_arenas;
    for (dp_arena *a = dp_arenas; a; a = a->next)
      if (a->threads < best->threads)
        best = a;
  }
  best->threads++;
  best->idle_ms = 0;
  dp_lock_release(&dp_arenas_lock);
  return best;
}

/* the free memory an arena holds above which its last thread's exit gives
 * it back at once, instead of a decay period later: programs whose
 * threads end all together (workers joined at the end) may not free
 * anything afterwards that would run the decay tick (tests/soak, 4
 * threads, 20 s: 279 MiB resident after the final frees, 5.5 MiB with
 * this; in 10 s runs the arenas hold about 50 MiB each, which a 64 MiB
 * threshold missed).  Not lower, because threads that come and go reuse
 * their arenas: at 4 MiB, mstress-1t took 0.41 s instead of 0.24 */
#define DETACH_TRIM_MIN ((size_t)16 << 20)

void dp_arena_detach(dp_arena *a) {
  uint64_t now = dp_os_now_ms();
  bool idle;
  dp_lock_acquire(&dp_arenas_lock);
  idle = --a->threads == 0;
  if (idle)
    a->idle_ms = now | 1; /* never 0: 0 means in use */
  dp_lock_release(&dp_arenas_lock);
  if (idle && a != &dp_main_arena) {
    dp_lock_acquire(&a->lock);
    if (a->system_bytes > a->out_bytes + DETACH_TRIM_MIN) {
      dp_arena_trim(a, 0, true);
      dp_arena_check(a);
    }
    dp_lock_release(&a->lock);
  }
  purge_idle_arenas(now);
}

/* Arenas whose last thread left decay_ms ago or more give back all they
 * can, as malloc_trim(0) would (their fast lists and remote stacks
 * coalesce, the top shrinks or its pages go, free chunks' pages go).
 * Checked at most once per decay period, from a decay tick or a thread's
 * exit.  Only trylocks: the caller may hold its own arena's lock, and an
 * arena busy right now is not idle anyway. */
static void purge_idle_arenas(uint64_t now) {
  static uint64_t next_check;
  uint64_t when = __atomic_load_n(&next_check, __ATOMIC_RELAXED);
  if (now < when || !__atomic_compare_exchange_n(&next_check, &when, now + (uint64_t)dp_opt.decay_ms,
                                                 false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    return;
  dp_arena *idle[16];
  uint64_t since[16];
  unsigned n = 0;
  if (!dp_lock_try(&dp_arenas_lock))
    return;
  for (dp_arena *a = dp_arenas; a && n < 16; a = a->next)
    if (a->threads == 0 && a->idle_ms && now - a->idle_ms >= (uint64_t)dp_opt.decay_ms &&
        __atomic_load_n(&a->purged_for, __ATOMIC_RELAXED) != a->idle_ms) {
      since[n] = a->idle_ms;
      idle[n++] = a;
    }
  dp_lock_release(&dp_arenas_lock);
  /* an arena whose lock is busy is tried again at the next check */
  for (unsigned i = 0; i < n; i++)
    if (dp_lock_try(&idle[i]->lock)) {
      dp_arena_trim(idle[i], 0, true);
      dp_arena_check(idle[i]);
      __atomic_store_n(&idle[i]->purged_for, since[i], __ATOMIC_RELAXED);
      dp_lock_release(&idle[i]->lock);
    }
}

/* ---- debug walker ---------------------------------------------------- */

void dp_arena_check(dp_arena *a) {
#ifdef DEPOT_DEBUG
  /* a full walk on every call while the arena is small, then on a
   * sample of calls, so that debug builds stay usable on big heaps */
  static unsigned calls;
  if (a->system_bytes > ((size_t)4 << 20) && (++calls & 1023) != 0)
    return;
  /* 9. free()'s tag range, from its first block's chunk on, lies in this
   * arena's segments, side by side */
  uintptr_t lo, hi;
  tag_range_get(a, &lo, &hi);
  if (lo != hi) {
    lo -= 16;
    while (lo < hi) {
      bool hit = false;
      for (dp_segment *s = a->segs; s && !hit; s = s->next) {
        uintptr_t mlo = s->is_brk ? s->base : (uintptr_t)s->map_base;
        uintptr_t mhi = s->is_brk ? s->end + 16 : mlo + s->map_size;
        if (mlo <= lo && lo < mhi) {
          hit = true;
          lo = mhi;
        }
      }
      DEPOT_ASSERT(hit);
    }
  }
  size_t free_bytes = 0, free_chunks = 0;
  for (dp_segment *s = a->segs; s; s = s->next) {
    dp_chunk *c = (dp_chunk *)s->base;
    bool prev_free = false;
    while ((uintptr_t)c < s->end) {
      size_t S = chunk_size(c);
      DEPOT_ASSERT(S >= DP_MINCHUNK && (S & 15) == 0);
      DEPOT_ASSERT((uintptr_t)c + S <= s->end);
      bool is_free = !(head_load(c) & C_INUSE);
      DEPOT_ASSERT(!!(head_load(c) & C_PREV_INUSE) == !prev_free || c == (dp_chunk *)s->base);
      DEPOT_ASSERT(!(is_free && prev_free));
      dp_pm_entry *e = dp_pagemap_get((uintptr_t)c + 16);
      if (!(e && e->seg == s)) {
        dp_line l = {.len = 0};
        dp_line_str(&l, "chunk ");
        dp_line_hex(&l, (uintptr_t)c);
        dp_line_str(&l, " size ");
        dp_line_u(&l, S);
        dp_line_str(&l, " seg ");
        dp_line_hex(&l, s->base);
        dp_line_str(&l, "..");
        dp_line_hex(&l, s->end);
        dp_line_str(&l, " e ");
        dp_line_hex(&l, (uintptr_t)e);
        dp_line_str(&l, " eseg ");
        dp_line_hex(&l, e ? (uintptr_t)e->seg : 0);
        dp_line_str(&l, " brk_end ");
        dp_line_hex(&l, brk_end);
        dp_line_str(&l, "\n");
        dp_line_flush(&l, 2);
      }
      DEPOT_ASSERT(e && e->seg == s);
      DEPOT_ASSERT(dp_starts_test(e, (uintptr_t)c + 16) == !is_free);
      /* a tag only on an out chunk, and the one of its address and arena */
      if (head_load(c) & C_TAGGED)
        DEPOT_ASSERT(!is_free && head_load(c) == out_head(a, c, S, head_load(c) & C_FLAGS));
      if (is_free) {
        /* no stale tag where a merged chunk's header was (the first KiB) */
        for (uintptr_t h = (uintptr_t)c + 24; h + 8 <= (uintptr_t)c + S && h < (uintptr_t)c + 1024;
             h += 16) {
          size_t w = *(const size_t *)h;
          DEPOT_ASSERT(!head_vouches(h + 8, dp_tag_mult, w, dp_arena_tag_id(a)));
        }
      }
      if (is_free && c != a->top) {
        DEPOT_ASSERT(chunk_at(c, S)->prev_size == S);
        free_bytes += S;
        free_chunks++;
      }
      if (c == a->top)
        DEPOT_ASSERT((uintptr_t)c + S == s->end);
      prev_free = is_free;
      c = chunk_at(c, S);
    }
    DEPOT_ASSERT((uintptr_t)c == s->end);
  }
  DEPOT_ASSERT(free_bytes == a->free_bytes);
  DEPOT_ASSERT(free_chunks == a->free_chunks);
#else
  (void)a;
#endif
}
