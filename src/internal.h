/*
 * internal.h - what every part of depot shares: configuration constants,
 * the symbol-naming macro, branch hints and the declarations of each
 * layer's interface.  The layers, bottom up (docs/DESIGN.md draws them):
 *
 *   os.c       the only file that talks to the kernel (brk, mmap, munmap,
 *              madvise, mremap, write, futex, getrandom)
 *   fmt.c      number/pointer formatting into caller buffers (no stdio)
 *   fault.c    the one cold, non-returning error exit
 *   options.c  the option table: environment, mallopt, depot_option_*
 *   meta.c     out-of-band metadata memory (never handed to the program)
 *   pagemap.c  address -> owning segment and its chunk-start bitmap
 *   arena.c    chunks, bins, coalescing, top chunk, segments, trimming
 *   large.c    blocks with their own mmap (at or above the threshold)
 *   tcache.c   per-thread caches, thread start/exit, fork
 *   api.c      malloc, free, ... : the fast paths and glibc's semantics
 *   stats.c    counters, reports, mallinfo2, malloc_info, malloc_stats
 */
#ifndef DEPOT_INTERNAL_H
#define DEPOT_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>
#include <errno.h>

#include "depot.h"

/* ---- naming --------------------------------------------------------- */
/* Public names: malloc, or depot_malloc in a prefixed build. */
#ifdef DEPOT_PREFIX
#define DEPOT_NAME(n) depot_##n
#else
#define DEPOT_NAME(n) n
#endif
#define DEPOT_EXPORT __attribute__((visibility("default")))
#define DEPOT_HIDDEN __attribute__((visibility("hidden")))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define DEPOT_COLD __attribute__((cold, noinline))
#define DEPOT_NOINLINE __attribute__((noinline))
#define DEPOT_INLINE static inline __attribute__((always_inline))

#ifdef DEPOT_DEBUG
#define DEPOT_ASSERT(c) ((c) ? (void)0 : dp_assert_fail(#c, __FILE__, __LINE__))
#else
#define DEPOT_ASSERT(c) ((void)0)
#endif

/* ---- geometry ------------------------------------------------------- */
#define DP_ALIGN 16u                 /* every block is 16-byte aligned */
#define DP_HDR 8u                    /* bytes of header a chunk costs */
#define DP_MINCHUNK 32u              /* smallest chunk: header + 2 links + footer */
#define DP_PAGE 4096u
#define DP_GRANULE_SHIFT 16u         /* pagemap granule: 64 KiB */
#define DP_GRANULE ((size_t)1 << DP_GRANULE_SHIFT)
#define DP_MAX_REQUEST ((size_t)PTRDIFF_MAX - 2 * DP_GRANULE)

/* thread cache classes: exact 16-byte steps to 2 KiB, then 8 per doubling
 * (each 16 bytes above 2^k-based sizes) up to 16 KiB + 16 (chunk sizes) */
#define TC_EXACT_MAX 2048u
#define TC_MAX_CHUNK 32784u /* 32 KiB + 16: malloc(32768) is cached */
#define TC_NBINS 161u /* 129 exact (0..2048/16) + 32 */

/* defaults, as glibc's */
#define DEFAULT_MMAP_THRESHOLD (128u * 1024)
#define MAX_DYN_MMAP_THRESHOLD (32u * 1024 * 1024)
#define DEFAULT_TRIM_THRESHOLD (128u * 1024)
#define DEFAULT_TOP_PAD (128u * 1024)
#define DEFAULT_MMAP_MAX 65536

/* ---- os.c ----------------------------------------------------------- */
void *dp_os_sbrk(intptr_t incr);             /* (void*)-1 on failure */
void *dp_os_brk_current(void);
void *dp_os_mmap(size_t len);                /* NULL on failure, errno kept */
void *dp_os_mmap_aligned(size_t len, size_t align, uintptr_t want); /* want: try there first */
void *dp_os_mmap_meta(size_t len);           /* depot's records: their own area */
uintptr_t dp_os_region_top(unsigned k);      /* arena k's place (os.c); 0: none */
void dp_os_munmap(void *p, size_t len);
void *dp_os_mremap(void *p, size_t old_len, size_t new_len); /* NULL on failure */
void dp_os_release(void *p, size_t len);     /* madvise(MADV_DONTNEED) */
void dp_os_write(int fd, const char *s, size_t n);
void dp_os_futex_wait(atomic_int *addr, int val);
void dp_os_futex_wake(atomic_int *addr, int n);
uint64_t dp_os_random(void);
unsigned dp_os_ncpus(void);
uint64_t dp_os_now_ms(void);                 /* coarse monotonic clock */

/* ---- fmt.c ---------------------------------------------------------- */
/* A tiny line builder: append text and numbers, then write it once. */
typedef struct dp_line {
  char buf[512];
  size_t len;
} dp_line;
void dp_line_str(dp_line *l, const char *s);
void dp_line_u(dp_line *l, uint64_t v);
void dp_line_i(dp_line *l, int64_t v);
void dp_line_hex(dp_line *l, uint64_t v); /* 0x... as %p prints */
void dp_line_size(dp_line *l, uint64_t bytes); /* 12.3 MiB */
void dp_line_pad(dp_line *l, size_t col);
void dp_line_flush(dp_line *l, int fd);
size_t dp_parse_size(const char *s, bool *ok); /* 123, 64k, 1M, 0x10 */
/* The string helpers depot needs before main, in depot's own pages: libc's
 * (IFUNC-chosen vector versions) would fault in code pages, with their
 * 64 KiB fault-around, that a small program never touches otherwise. */
size_t dp_strlen(const char *s);
bool dp_strneq(const char *a, const char *b, size_t n); /* the first n bytes match */
bool dp_strcaseeq(const char *a, const char *b);      /* equal, ASCII case ignored */
const char *dp_strchr_or_end(const char *s, char c);  /* first c, or the final NUL */
bool dp_strcontains(const char *s, const char *needle);

/* ---- fault.c -------------------------------------------------------- */
__attribute__((noreturn)) DEPOT_COLD void dp_fatal(const char *func, const char *what,
                                                   const void *ptr);
__attribute__((noreturn)) DEPOT_COLD void dp_assert_fail(const char *expr, const char *file,
                                                         int line);

/* ---- lock (futex mutex, Drepper's three states) -------------------- */
typedef struct dp_lock {
  atomic_int state; /* 0 free, 1 locked, 2 locked with waiters */
} dp_lock;
#define DP_LOCK_INIT {0}
/* The locks this thread holds (the first DP_HELD_MAX of them; depot
 * nests at most three).  fork() run from a signal handler that
 * interrupted depot must not wait for a lock its own thread holds: the
 * fork handlers skip those (dp_lock_fork_take). */
#define DP_HELD_MAX 8
extern __thread dp_lock *dp_locks_held[DP_HELD_MAX];
extern __thread unsigned dp_nlocks_held;
DEPOT_INLINE void dp_lock_note_taken(dp_lock *l) {
  unsigned n = dp_nlocks_held;
  if (n < DP_HELD_MAX)
    dp_locks_held[n] = l;
  dp_nlocks_held = n + 1;
}
DEPOT_INLINE void dp_lock_note_given(dp_lock *l) {
  unsigned n = dp_nlocks_held - 1; /* locks go mostly last-in first-out */
  if (n < DP_HELD_MAX && dp_locks_held[n] != l)
    for (unsigned i = 0; i < n; i++)
      if (dp_locks_held[i] == l) {
        dp_locks_held[i] = dp_locks_held[n]; /* the list never lacks a held lock */
        break;
      }
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  dp_nlocks_held = n;
}
void dp_lock_slow(dp_lock *l);
/* A lock is noted before it is taken and forgotten after it is given
 * back, so a signal that lands in between sees it as held (a fork handler
 * then leaves it alone; see dp_lock_fork_take). */
DEPOT_INLINE void dp_lock_acquire(dp_lock *l) {
  int z = 0;
  dp_lock_note_taken(l);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  if (unlikely(!atomic_compare_exchange_strong_explicit(&l->state, &z, 1, memory_order_acquire,
                                                        memory_order_relaxed)))
    dp_lock_slow(l);
}
DEPOT_INLINE bool dp_lock_try(dp_lock *l) {
  int z = 0;
  dp_lock_note_taken(l);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  bool ok = atomic_compare_exchange_strong_explicit(&l->state, &z, 1, memory_order_acquire,
                                                    memory_order_relaxed);
  if (!ok) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    dp_lock_note_given(l);
  }
  return ok;
}
DEPOT_INLINE void dp_lock_release(dp_lock *l) {
  if (unlikely(atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2))
    dp_os_futex_wake(&l->state, 1);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  dp_lock_note_given(l);
}
DEPOT_INLINE void dp_lock_reinit(dp_lock *l) { atomic_store(&l->state, 0); }
/* fork handlers: take l unless this thread holds it already (a fork from
 * a signal handler), and give back only what was taken */
void dp_lock_fork_take(dp_lock *l);
void dp_lock_fork_give(dp_lock *l);
bool dp_lock_fork_skipped(const dp_lock *l); /* held by the code the fork's signal interrupted */
void dp_lock_fork_child_reset(void); /* the child's view: only the skipped ones held */

/* ---- options.c ------------------------------------------------------ */
typedef struct dp_options {
  size_t mmap_threshold;  /* requests at/above go to their own mapping */
  size_t trim_threshold;  /* top chunk larger than this is returned */
  size_t top_pad;         /* extra bytes asked of brk each growth */
  long mmap_max;          /* most large mappings at once; 0 disables */
  long arena_max;         /* most arenas (0: 8 x cores) */
  long arena_test;        /* arenas before arena_max is consulted */
  int perturb;            /* byte for freed memory (0: off) */
  bool mmap_threshold_fixed; /* set explicitly: no dynamic raising */
  bool trace;             /* log every OS call to stderr */
  bool report;            /* report at exit */
  int report_fd;          /* where the report goes */
  int check_action;       /* M_CHECK_ACTION, kept for mallopt */
  long decay_ms;          /* free pages older than this are given back (madvise) */
  size_t tcache_max;      /* largest request a thread cache holds (0: none) */
  long tcache_count;      /* blocks a thread cache holds per size (-1: by size budgets) */
} dp_options;
extern dp_options dp_opt;
extern _Atomic unsigned dp_options_epoch; /* bumped when the fast paths must re-read */
void dp_options_init(void);
int dp_mallopt(int param, int value);
void dp_set_mxfast(size_t request); /* M_MXFAST / DEPOT_MXFAST */
bool dp_env_contains(const char *name, const char *needle);

/* ---- meta.c --------------------------------------------------------- */
void *dp_meta_alloc(size_t size); /* zeroed, 16-aligned, never freed; NULL on failure */

/* ---- pagemap.c ------------------------------------------------------ */
struct dp_segment;
struct dp_arena;
typedef struct dp_pm_entry {
  struct dp_arena *arena; /* the owning segment's arena (free's ownership test, one load) */
  struct dp_segment *seg; /* owner of this 64 KiB granule, or NULL */
  uint64_t *starts;       /* 4096-bit map: a block starts at this 16-byte slot */
  uintptr_t pad;          /* 32-byte entries: one shift indexes a leaf */
} dp_pm_entry;
extern dp_pm_entry *dp_pagemap_l1[1u << 16];
bool dp_pagemap_register(struct dp_segment *seg, struct dp_arena *arena, uintptr_t from, uintptr_t to);
void dp_pagemap_unregister(uintptr_t from, uintptr_t to);
DEPOT_INLINE dp_pm_entry *dp_pagemap_get(uintptr_t a) {
  dp_pm_entry *leaf = __atomic_load_n(&dp_pagemap_l1[(a >> 32) & 0xffff], __ATOMIC_ACQUIRE);
  if (unlikely(leaf == NULL || (a >> 48) != 0))
    return NULL;
  return &leaf[(a >> DP_GRANULE_SHIFT) & 0xffff];
}
/* Bitmap words are written under the owning arena's lock and read by the
 * free fast path without it: relaxed atomics (plain moves on x86), so the
 * race is a defined one; a reader sees its own bit either way. */
DEPOT_INLINE bool dp_starts_test(const dp_pm_entry *e, uintptr_t p) {
  size_t slot = (p >> 4) & 4095;
  return (__atomic_load_n(&e->starts[slot >> 6], __ATOMIC_RELAXED) >> (slot & 63)) & 1;
}
DEPOT_INLINE void dp_starts_set(dp_pm_entry *e, uintptr_t p) {
  size_t slot = (p >> 4) & 4095;
  uint64_t *w = &e->starts[slot >> 6];
  __atomic_store_n(w, __atomic_load_n(w, __ATOMIC_RELAXED) | (uint64_t)1 << (slot & 63),
                   __ATOMIC_RELAXED);
}
DEPOT_INLINE void dp_starts_clear(dp_pm_entry *e, uintptr_t p) {
  size_t slot = (p >> 4) & 4095;
  uint64_t *w = &e->starts[slot >> 6];
  __atomic_store_n(w, __atomic_load_n(w, __ATOMIC_RELAXED) & ~((uint64_t)1 << (slot & 63)),
                   __ATOMIC_RELAXED);
}

/* ---- secrets -------------------------------------------------------- */
extern uint64_t dp_secret;   /* random; mixes free-list links */
extern uint64_t dp_tc_key;   /* random; marks a block as sitting in a thread cache */
extern uint64_t dp_tag_mult; /* random, odd; the chunk tags' multiplier (chunk.h) */

/* ---- small helpers -------------------------------------------------- */
/* A decoded free-list link that cannot be a block: misaligned, or outside
 * the 47-bit user address space.  A forged link passes with odds of about
 * 2^-21 (the secret scrambles the high bits), so a use-after-free write
 * ends in "corrupted free list", not in a wild read.  One AND with one
 * constant tests both: bits 63..47 and 3..0. */
#define DP_BAD_LINK(v) (((uintptr_t)(v)) & (uintptr_t)0xffff80000000000fULL)
DEPOT_INLINE size_t dp_align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }
DEPOT_INLINE size_t dp_align_down(size_t v, size_t a) { return v & ~(a - 1); }
DEPOT_INLINE bool dp_is_pow2(size_t v) { return v && !(v & (v - 1)); }

/* one-time initialisation of the process-wide state */
extern _Atomic int dp_initialized;
void dp_init_slow(void);
DEPOT_INLINE void dp_init(void) {
  if (unlikely(!atomic_load_explicit(&dp_initialized, memory_order_acquire)))
    dp_init_slow();
}

#endif
