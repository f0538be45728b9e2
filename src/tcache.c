/*
 * tcache.c - the retail counter: one cache of free blocks per thread.
 *
 * malloc pops and free pushes a per-thread singly linked list by size
 * class, with no lock and no atomic instruction (api.c holds those fast
 * paths).  A list that runs dry is refilled from the thread's arena in one
 * locked trip (blocks cut side by side); a list that reaches its limit
 * sends half of its blocks home, each to the arena that owns it (found
 * through the pagemap), so a block freed by another thread goes home with
 * only its own arena's lock, never a global one.
 *
 * A thread starts with dp_tc pointing at dp_tc_empty, whose lists are empty
 * and whose limits are zero: the first malloc and the first free fall into
 * the slow path, which makes the real cache.  No fast path ever asks "is
 * this thread initialised?".  At thread exit a pthread key destructor
 * sends every cached block home, detaches the arena (a later thread reuses
 * it) and recycles the cache, so memory does not grow with the number of
 * threads that come and go.
 *
 * Cached blocks keep word 0 = encoded next link, word 1 = dp_tc_key; a
 * free that finds the key in word 1 checks this thread's list for the
 * block and stops a double free.
 */
#include "tcache.h"
#include "vg.h"

#include <pthread.h>

__thread dp_tcache *dp_tc __attribute__((tls_model("initial-exec"))) = &dp_tc_empty;
/* The empty cache's arena owns no granule, so free()'s ownership test never
 * matches for it (api.c) and a thread's first free takes the slow path.
 * Both records are zero in the image (.bss, no file pages) and get their
 * arenas in dp_tcache_global_init, before any granule is registered: a
 * free() that finds a pagemap leaf finds them set. */
static dp_arena tc_no_arena;
dp_tcache dp_tc_empty;
static dp_tcache tc_dead; /* after the thread exit: no caching (main arena) */

static dp_lock tc_list_lock = DP_LOCK_INIT;
static dp_tcache *tc_live;      /* every live cache */
static dp_tcache *tc_recycled;  /* caches of exited threads */
static uint64_t tc_total, tc_nlive;
static uint64_t tc_dead_nmalloc, tc_dead_nfree, tc_dead_nslow, tc_dead_npm; /* exited threads' counts */
static pthread_key_t tc_key;
static bool tc_key_ok;

static void tc_thread_exit(void *arg);

void dp_tcache_global_init(void) {
  dp_tc_empty.arena = &tc_no_arena;
  tc_dead.arena = &dp_main_arena;
  tc_key_ok = pthread_key_create(&tc_key, tc_thread_exit) == 0;
}

#ifndef TC_SMALL_BUDGET
#define TC_SMALL_BUDGET 8192 /* bytes a small class may cache (16 KiB until
                                 2026-12-03: peak RSS sh6bench 7.7 -> 7.1 MiB,
                                 larson-1t 3.6 -> 3.2, realloc 6.8 -> 6.5;
                                 callgrind sh6bench +2.5%, larson-1t +1.2%
                                 instructions, wall time within the noise) */
#endif
#ifndef TC_MEDIUM_BUDGET
#define TC_MEDIUM_BUDGET 65536 /* bytes a medium class may cache */
#endif

/* Each class's limit: by default a byte budget (small classes 8 KiB,
 * 8..256 blocks; medium 64 KiB, 4..32 blocks); tcache_count sets one count
 * for all, tcache_max drops the classes above it, M_PERTURB all of them
 * (every block must pass through the arena to be filled). */
static void tc_set_limits(dp_tcache *tc) {
  tc->epoch = atomic_load_explicit(&dp_options_epoch, memory_order_relaxed);
  bool off = dp_opt.perturb != 0 || dp_opt.tcache_count == 0;
  size_t max_chunk = dp_opt.tcache_max ? request2size(dp_opt.tcache_max) : 0;
  for (unsigned c = 0; c < TC_NBINS; c++) {
    size_t sz = tc_class_size(c);
    uint32_t lim = 0;
    if (c < 2 || off || sz > max_chunk) {
      lim = 0;
    } else if (dp_opt.tcache_count > 0) {
      lim = (uint32_t)dp_opt.tcache_count;
    } else if (sz <= TC_EXACT_MAX) {
      size_t want = TC_SMALL_BUDGET / sz; /* small */
      lim = (uint32_t)(want < 8 ? 8 : want > 256 ? 256 : want);
    } else {
      size_t want = TC_MEDIUM_BUDGET / sz; /* medium */
      lim = (uint32_t)(want < 4 ? 4 : want > 32 ? 32 : want);
    }
    tc->bins[c].limit = lim;
  }
}

/* malloc's class table: words (n + 7) / 8 -> bins[] byte offset; a chunk
 * of request2size(n) bytes has class cs / 16, so the offset is cs */
static void tc_set_small_off(dp_tcache *tc) {
  for (unsigned w = 0; w < TC_SMALL_WORDS; w++) {
    size_t cs = request2size((size_t)w * 8);
    DEPOT_ASSERT(cs == request2size(w ? (size_t)w * 8 - 7 : 0));
    tc->small_off[w] = (uint16_t)(tc_class_ceil(cs) * sizeof(dp_tc_bin));
  }
}

dp_tcache *dp_tcache_get(void) {
  dp_tcache *tc = dp_tc;
  if (likely(tc->live))
    return tc;
  if (tc == &tc_dead)
    return tc;
  dp_init();
  if (dp_valgrind) /* memcheck sees every block: no caching */
    return &tc_dead;
  dp_lock_acquire(&tc_list_lock);
  tc = tc_recycled;
  if (tc)
    tc_recycled = tc->next;
  dp_lock_release(&tc_list_lock);
  if (!tc) {
    tc = dp_meta_alloc(sizeof(dp_tcache));
    if (!tc)
      return &tc_dead;
  } else {
    memset(tc, 0, sizeof *tc);
  }
  tc->secret = dp_secret;
  tc_set_small_off(tc);
  tc->key = dp_tc_key;
  tc->arena = dp_arena_pick();
  tc->tag_mult = dp_tag_mult;
  tc->arena_id = dp_arena_tag_id(tc->arena);
  tc_set_limits(tc);
  tc->live = true;
  dp_lock_acquire(&tc_list_lock);
  tc->next = tc_live;
  tc->prev = NULL;
  if (tc_live)
    tc_live->prev = tc;
  tc_live = tc;
  tc_total++;
  tc_nlive++;
  dp_lock_release(&tc_list_lock);
  dp_tc = tc;
  if (tc_key_ok)
    pthread_setspecific(tc_key, tc);
  return tc;
}

/* Refill class cls from the arena (its fast list first, as one chain),
 * then pop one block. */
void *dp_tcache_alloc_slow(dp_tcache *tc, unsigned cls) {
  dp_tc_bin *b = &tc->bins[cls];
  size_t cs = tc_class_size(cls);
  void *buf[128];
  tc->net_mark = tc->nfree - tc->nmalloc;
  /* batches of 1, 2, 4, 16, 64, 128 blocks, up to half the limit: a
   * program that uses a class little touches little memory, and a steady
   * one soon asks for its full batches (its heap stops growing after a few
   * rounds) */
  static const uint8_t ramp_of[6] = {1, 2, 4, 16, 64, 128};
  size_t want = b->limit / 2;
  size_t ramp = ramp_of[tc->refills[cls]];
  if (want > ramp)
    want = ramp;
  if (tc->refills[cls] < 5)
    tc->refills[cls]++;
  if (want > 128)
    want = 128;
  if (want < 1)
    want = 1;
  dp_arena *a = tc->arena;
  dp_lock_acquire(&a->lock);
  if (cls < ARENA_NFAST && !a->fast[cls] && __atomic_load_n(&a->remote[cls], __ATOMIC_RELAXED))
    dp_arena_remote_take(a, cls); /* what other threads sent home */
  if (cls < ARENA_NFAST && a->fast[cls] && b->count == 0) {
    void *first;
    uint32_t got = dp_arena_fast_take(a, cls, &first);
    dp_lock_release(&a->lock);
    tc->nrefill++;
    /* the batch minus its first block becomes the (empty) list as it is */
    void **p = first;
    b->head = (void *)((uintptr_t)p[0] ^ ((uintptr_t)p >> 12) ^ tc->secret);
    b->count = got - 1;
    p[1] = NULL;
    return p;
  }
  size_t got = dp_arena_alloc_batch(a, cs, buf, want);
  dp_arena_check(a);
  dp_lock_release(&a->lock);
  if (got == 0)
    return NULL;
  tc->nrefill++;
  /* handed out in address order, lowest first: a program that walks its
   * blocks in allocation order (a tree built, then traversed) walks memory
   * upwards, as the hardware prefetchers follow best (binary-trees depth
   * 18: 0.82 -> 0.55 s, min of 9, against the highest-first order this
   * replaced).  The cached blocks above the last one handed out go home
   * with it when it borders the top (free_work), so the break still comes
   * down for a program freeing in allocation order. */
  for (size_t i = got - 1; i > 0; i--)
    tc_push(tc, b, buf[i]);
  ((void **)buf[0])[1] = NULL;
  return buf[0];
}

/* Keep the newest `keep` blocks of a class; the rest go home.  Runs of
 * blocks of one arena take its lock once; small classes go to the
 * arena's fast list as whole chains. */
static void flush_list(dp_tcache *tc, dp_tc_bin *b, unsigned cls, uint32_t keep, bool coalesce);

void dp_tcache_flush_bin(dp_tcache *tc, unsigned cls, uint32_t keep) {
  flush_list(tc, &tc->bins[cls], cls, keep, false);
}

/* A block of another thread's arena is kept aside, never handed out here
 * (the next malloc of this thread must not land on a cache line that the
 * owner's neighbouring blocks share: passive false sharing); a list a
 * quarter of the class's limit long goes home as one batch, without the
 * owner's lock. */
static void xsend(dp_tcache *tc, unsigned cls);

void dp_tcache_free_foreign(dp_tcache *tc, unsigned cls, void *mem, dp_arena *owner) {
  dp_tc_bin *x = &tc->xbins[cls];
  /* one owner per list, and its oldest block remembered: a full list goes
   * home as one splice, without a walk */
  if (x->count != 0 && tc->xowner[cls] != owner)
    xsend(tc, cls);
  if (x->count == 0) {
    tc->xowner[cls] = owner;
    tc->xtail[cls] = mem;
  }
  tc_push(tc, x, mem);
  /* a quarter of the class's limit: blocks waiting here are memory no
   * thread can use (rptest-2t peak RSS 16.8 -> 13.6 MiB, larson-2t and
   * xmalloc-test-2t 5-25% less, their times unchanged, against a full
   * limit) */
  if (x->count >= (tc->bins[cls].limit + 3) / 4)
    xsend(tc, cls);
}

/* An aside list holds blocks of one arena (dp_tcache_free_foreign), each
 * validated when it was freed: it goes onto that arena's remote stack in
 * one splice, no walk, no lock. */
static void xsend(dp_tcache *tc, unsigned cls) {
  dp_tc_bin *x = &tc->xbins[cls];
  tc->nflush++;
  dp_arena_remote_put(tc->xowner[cls], cls, x->head, tc->xtail[cls], x->count);
  x->head = NULL;
  x->count = 0;
}

/* Blocks of list b (tc->bins[cls] or tc->xbins[cls]) go home.
 * coalesce: every block coalesces now, none waits in a fast list (a
 * thread's exit, malloc_trim) */
static void flush_list(dp_tcache *tc, dp_tc_bin *b, unsigned cls, uint32_t keep, bool coalesce) {
  if (b->count <= keep)
    return;
  /* the newest count - keep blocks go: walking them is the validation */
  uint32_t left = b->count - keep;
  void **p = b->head;
  tc->nflush++;
  bool fast = cls < ARENA_NFAST && tc_class_size(cls) <= dp_fast_max_chunk;
  while (left) {
    dp_arena *a = tc_block_entry("free", p)->arena;
    /* a run of blocks owned by one arena */
    void **first = p, **last = p;
    uint32_t n = 1;
    void **next = (void **)((uintptr_t)p[0] ^ ((uintptr_t)p >> 12) ^ tc->secret);
    while (n < left) {
      if (unlikely(DP_BAD_LINK(next) || !next))
        dp_fatal("free", "corrupted thread cache at", last);
      if (tc_block_entry("free", next)->arena != a)
        break;
      last = next;
      n++;
      next = (void **)((uintptr_t)next[0] ^ ((uintptr_t)next >> 12) ^ tc->secret);
    }
    left -= n;
    b->head = next;
    b->count -= n;
    /* Blocks of another thread's arena (cross-thread frees, producer and
     * consumer) go home whole, whatever their class, without its lock: one
     * push onto its remote stack now, one batch for its next refill; its
     * consolidation before growing keeps the heap as small as coalescing
     * would. */
    if (!coalesce && a != tc->arena && cls < ARENA_NFAST) {
      dp_arena_remote_put(a, cls, first, last, n);
      p = next;
      continue;
    }
    dp_lock_acquire(&a->lock);
    if (!coalesce && fast) {
      dp_arena_fast_put(a, cls, first, last, n);
    } else {
      /* the rest coalesce in runs (blocks side by side join first) */
      dp_chunk *run[128];
      void **q = first;
      for (uint32_t i = 0, k = 0; i < n; i++) {
        void **qn = (void **)((uintptr_t)q[0] ^ ((uintptr_t)q >> 12) ^ tc->secret);
        q[1] = NULL;
        run[k++] = mem2chunk(q);
        if (k == 128 || i == n - 1) {
          dp_arena_free_batch(a, run, k);
          k = 0;
        }
        q = qn;
      }
    }
    dp_arena_check(a);
    dp_lock_release(&a->lock);
    p = next;
  }
}

/* A full list of a small class whose blocks are all of this thread's
 * arena goes to the arena's fast list as it is: one splice, no walk (the
 * blocks were validated when they were freed).  Otherwise half goes home
 * block by block. */
void dp_tcache_flush_full(dp_tcache *tc, unsigned cls) {
  dp_tc_bin *b = &tc->bins[cls];
  if (cls < ARENA_NFAST && tc_class_size(cls) <= dp_fast_max_chunk &&
      b->head) {
    dp_arena *a = tc->arena;
    tc->nflush++;
    dp_lock_acquire(&a->lock);
    dp_arena_fast_put(a, cls, b->head, NULL, b->count);
    dp_lock_release(&a->lock);
    b->head = NULL;
    b->count = 0;
    return;
  }
  dp_tcache_flush_bin(tc, cls, b->limit / 2);
}

void dp_tcache_flush_all(dp_tcache *tc, bool coalesce) {
  if (!tc->live)
    return;
  for (unsigned c = 0; c < TC_NBINS; c++) {
    flush_list(tc, &tc->bins[c], c, 0, coalesce);
    flush_list(tc, &tc->xbins[c], c, 0, coalesce);
  }
}

static bool list_contains(dp_tcache *tc, dp_tc_bin *b, const void *mem) {
  void **p = b->head;
  for (uint32_t i = 0; p && i < b->count; i++) {
    if (p == mem)
      return true;
    p = (void **)((uintptr_t)p[0] ^ ((uintptr_t)p >> 12) ^ tc->secret);
  }
  return false;
}

bool dp_tcache_contains(dp_tcache *tc, unsigned cls, const void *mem) {
  return list_contains(tc, &tc->bins[cls], mem) || list_contains(tc, &tc->xbins[cls], mem);
}

/* Is mem cached by another thread?  Asked only when a freed block carries
 * the cache key, i.e. when a double free is all but certain.  The other
 * lists change under our feet, so every link is validated through the
 * pagemap before it is followed; the answer may miss, never crash. */
#if defined(__SANITIZE_THREAD__)
#define DP_NO_TSAN __attribute__((no_sanitize("thread")))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DP_NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef DP_NO_TSAN
#define DP_NO_TSAN
#endif

/* racy on purpose (read-only, validated): not a data race to report */
DP_NO_TSAN bool dp_tcache_cached_elsewhere(dp_tcache *self, unsigned cls, const void *mem) {
  bool found = false;
  dp_lock_acquire(&tc_list_lock);
  for (dp_tcache *tc = tc_live; tc && !found; tc = tc->next) {
    if (tc == self)
      continue;
    for (int x = 0; x < 2 && !found; x++) {
      dp_tc_bin *b = x ? &tc->xbins[cls] : &tc->bins[cls];
      void **p = __atomic_load_n(&b->head, __ATOMIC_RELAXED);
      uint32_t n = __atomic_load_n(&b->count, __ATOMIC_RELAXED);
      for (uint32_t i = 0; p && i < n && i < 4096; i++) {
        dp_pm_entry *e = dp_pagemap_get((uintptr_t)p);
        if (((uintptr_t)p & 15) || !e || !e->seg || !dp_starts_test(e, (uintptr_t)p))
          break;
        if (p == mem) {
          found = true;
          break;
        }
        p = (void **)((uintptr_t)__atomic_load_n(&p[0], __ATOMIC_RELAXED) ^
                      ((uintptr_t)p >> 12) ^ tc->secret);
      }
    }
  }
  dp_lock_release(&tc_list_lock);
  return found;
}

/* Take one block out of a list (it is going home by another way). */
bool dp_tcache_remove(dp_tcache *tc, unsigned cls, const void *mem, uint32_t max_scan) {
  dp_tc_bin *b = &tc->bins[cls];
  void **prev = NULL, **p = b->head;
  for (uint32_t i = 0; p && i < b->count && i < max_scan; i++) {
    void **next = (void **)((uintptr_t)p[0] ^ ((uintptr_t)p >> 12) ^ tc->secret);
    if (p == mem) {
      if (prev)
        prev[0] = (void *)((uintptr_t)next ^ ((uintptr_t)prev >> 12) ^ tc->secret);
      else
        b->head = next;
      b->count--;
      p[1] = NULL;
      return true;
    }
    prev = p;
    p = next;
  }
  return false;
}

static void tc_thread_exit(void *arg) {
  dp_tcache *tc = arg;
  if (!tc || !tc->live)
    return;
  dp_tcache_flush_all(tc, true); /* the next thread here will want other sizes */
  dp_arena_detach(tc->arena);
  dp_lock_acquire(&tc_list_lock);
  if (tc->prev)
    tc->prev->next = tc->next;
  else
    tc_live = tc->next;
  if (tc->next)
    tc->next->prev = tc->prev;
  tc_nlive--;
  tc_dead_nmalloc += tc->nmalloc;
  tc_dead_nfree += tc->nfree;
  tc_dead_nslow += tc->nslow;
  tc_dead_npm += tc->nfree_pagemap;
  tc->live = false;
  tc->next = tc_recycled;
  tc_recycled = tc;
  dp_lock_release(&tc_list_lock);
  dp_tc = &tc_dead;
}

void dp_tcache_merge_stats(dp_tc_totals *t) {
  dp_lock_acquire(&tc_list_lock);
  uint64_t m = tc_dead_nmalloc, f = tc_dead_nfree, cb = 0, slow = tc_dead_nslow, pm = tc_dead_npm;
  for (dp_tcache *tc = tc_live; tc; tc = tc->next) {
    m += __atomic_load_n(&tc->nmalloc, __ATOMIC_RELAXED);
    f += __atomic_load_n(&tc->nfree, __ATOMIC_RELAXED);
    slow += __atomic_load_n(&tc->nslow, __ATOMIC_RELAXED);
    pm += __atomic_load_n(&tc->nfree_pagemap, __ATOMIC_RELAXED);
    for (unsigned c = 0; c < TC_NBINS; c++)
      cb += (uint64_t)(tc->bins[c].count + tc->xbins[c].count) * tc_class_size(c);
  }
  t->nmalloc = m;
  t->nfree = f;
  t->cached_bytes = cb;
  t->live = tc_nlive;
  t->total = tc_total;
  t->hits = m > slow ? m - slow : 0;
  t->free_pagemap = pm;
  dp_lock_release(&tc_list_lock);
}

/* ---- fork ----------------------------------------------------------- */
void dp_tcache_fork_prepare(void);
void dp_tcache_fork_parent(void);
void dp_tcache_fork_child(void);
void dp_tcache_fork_prepare(void) { dp_lock_fork_take(&tc_list_lock); }
void dp_tcache_fork_parent(void) { dp_lock_fork_give(&tc_list_lock); }
/* In the child only this thread exists: the other caches are orphans.
 * Their blocks stay out of the arenas (as glibc's tcache would), but they
 * no longer count as threads. */
void dp_tcache_fork_child(void) {
  dp_lock_reinit(&tc_list_lock);
  dp_tcache *me = dp_tc;
  tc_live = NULL;
  tc_nlive = 0;
  /* A fork from a signal handler that interrupted depot holding an arena
   * lock: that arena (and this thread's cache, which the interrupted code
   * may have been changing) can be half-way through an update.  The child
   * leaves both alone: the arena stays taken by the interrupted code, and
   * this thread starts a new cache, on an arena of its own, at its next
   * call. */
  bool interrupted = false;
  for (dp_arena *a = dp_arenas; a; a = a->next) {
    a->threads = dp_lock_fork_skipped(&a->lock) ? 1 : 0;
    interrupted |= a->threads != 0;
  }
  if (interrupted) {
    dp_tc = &dp_tc_empty;
  } else if (me->live) {
    me->next = me->prev = NULL;
    tc_live = me;
    tc_nlive = 1;
    me->arena->threads = 1;
  }
}

/* options changed (mallopt, depot_option_set): re-read the limits */
void dp_tcache_relimit(dp_tcache *tc) { tc_set_limits(tc); }
