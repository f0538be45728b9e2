/*
 * depot.h - depot's own calls, beyond the C/POSIX/GNU malloc API.
 *
 * depot is a drop-in malloc: a program needs nothing from this header to
 * use it.  These calls let a program (or a test, or the `depot` wrapper)
 * ask the allocator what it did: how far the program break moved, how many
 * blocks went to mmap, what the bins hold, peak and current memory.
 *
 * In a build with a symbol prefix (make prefix: -DDEPOT_PREFIX) every
 * standard entry point is also prefixed (depot_malloc, depot_free, ...),
 * so that a test can run depot beside the sanitizer's own malloc.
 */
#ifndef DEPOT_H
#define DEPOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DEPOT_VERSION "0.1.0"

/* A snapshot of the allocator, merged over all arenas and threads. */
typedef struct depot_stats {
  /* the brk heap (the [heap] line of /proc/PID/maps) */
  uint64_t heap_start;       /* address where depot's brk heap begins (0: none) */
  uint64_t heap_bytes;       /* current size of the brk heap */
  uint64_t heap_peak;        /* largest size the brk heap reached */
  uint64_t brk_grows;        /* calls that raised the break */
  uint64_t brk_shrinks;      /* calls that lowered the break (trims) */
  uint64_t brk_failures;     /* times brk refused, and depot went on with mmap */
  /* mmap'd regions that hold ordinary chunks (non-main arenas, brk fallback) */
  uint64_t region_bytes;     /* bytes of mmap'd regions now mapped */
  uint64_t region_count;     /* number of such regions now mapped */
  /* large blocks, each in its own mapping */
  uint64_t mmap_count;       /* large blocks mapped now */
  uint64_t mmap_bytes;       /* bytes of those mappings */
  uint64_t mmap_peak_bytes;  /* largest mmap_bytes seen */
  uint64_t mmap_total;       /* large blocks ever mapped */
  uint64_t munmap_total;     /* large blocks ever unmapped */
  uint64_t mmap_threshold;   /* current threshold (it moves unless fixed) */
  /* chunks */
  uint64_t in_use_bytes;     /* bytes of chunks handed to the program (incl. large) */
  uint64_t in_use_peak;      /* an upper bound of the largest in_use_bytes: each arena's
                                peak of bytes out of its bins (cached blocks included)
                                plus the peak of large-block bytes, summed */
  uint64_t free_bytes;       /* bytes in the arenas' bins and top chunks */
  uint64_t free_chunks;      /* number of free chunks in the bins */
  uint64_t top_bytes;        /* bytes in the top chunks */
  uint64_t cached_bytes;     /* bytes held in thread caches */
  uint64_t fast_bytes;       /* bytes in the arenas' fast lists (whole small chunks) */
  uint64_t system_bytes;     /* bytes of all arena segments (brk heap + regions) */
  uint64_t largest_free;     /* largest free chunk in any bin or top */
  /* returning memory */
  uint64_t madvise_calls;    /* madvise(MADV_DONTNEED) calls on free pages */
  uint64_t madvise_bytes;    /* bytes released that way */
  /* threads */
  uint64_t arenas;           /* arenas created */
  uint64_t threads_live;     /* threads with a cache now */
  uint64_t threads_total;    /* threads that ever had a cache */
  /* calls (counted in thread caches; merged when asked) */
  uint64_t malloc_calls;     /* malloc, calloc, realloc-grow, memalign family */
  uint64_t free_calls;       /* free and friends */
  uint64_t cache_hits;       /* mallocs served from the thread cache at once (no refill) */
  uint64_t free_pagemap;     /* frees whose block was checked through the pagemap: its
                                header could not vouch (another arena's block, or one
                                outside its arena's run of side-by-side segments) */
} depot_stats_t;

/* Fill *out; returns 0. */
int depot_stats_get(depot_stats_t *out);

/* Write a human-readable report to fd: heap growth, mappings, bins,
 * fragmentation, thread caches.  Does not allocate. */
void depot_stats_print(int fd);

/* Write the free-chunk histogram (bins) of every arena to fd. */
void depot_bins_print(int fd);

/* Options at run time.  Names are those of the environment variables
 * without the DEPOT_ prefix, case-insensitive: "mmap_threshold",
 * "trim_threshold", "top_pad", "mmap_max", "arena_max", "arena_test",
 * "perturb", "trace", "report", "decay_ms", "tcache_max" (largest request
 * the thread caches keep, 0..32768), "tcache_count" (blocks kept per size,
 * 0..65535; -1: depot's byte budgets).  A thread's cache takes a new limit
 * at its next call that leaves the fast path.  Set returns 0, or -1 with
 * errno EINVAL. */
int depot_option_set(const char *name, long value);
/* Returns the value, or -1 with errno EINVAL for an unknown name. */
long depot_option_get(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* DEPOT_H */
