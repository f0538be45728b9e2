/* large.h - blocks in their own mapping (see large.c) */
#ifndef DEPOT_LARGE_H
#define DEPOT_LARGE_H
#include "chunk.h"

void *dp_large_alloc(size_t n, size_t align);   /* NULL + errno on failure */
bool dp_large_owns(const void *mem);            /* a live large block starts here */
bool dp_large_recently_freed(const void *mem);  /* for the double-free message */
void dp_large_free(void *mem);                  /* mem must be owned */
void *dp_large_realloc(void *mem, size_t n);    /* NULL: could not, mem untouched */
bool dp_large_wanted(size_t n);                 /* at/above the threshold, room left */

typedef struct dp_large_stats {
  size_t count, peak_count;   /* blocks mapped now, most at once */
  size_t bytes, peak_bytes;   /* their bytes now, most at once */
  size_t total_maps, total_unmaps;
} dp_large_stats;
void dp_large_stats_get(dp_large_stats *out);
void dp_large_fork_prepare(void);
void dp_large_fork_parent(void);
void dp_large_fork_child(void);
#endif
