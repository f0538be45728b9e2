/*
 * pagemap.c - from any address to the segment that owns it.
 *
 * A two-level radix table over the 48-bit address space, one entry per
 * 64 KiB granule: level 1 (in .bss, 65536 pointers) is indexed by bits
 * 47..32, a leaf (65536 entries, mapped on first use) by bits 31..16.
 * Each entry names the owning segment and points at the granule's
 * chunk-start bitmap: 4096 bits, one per 16-byte slot, set while a block
 * that starts at that slot is out of the arena (with the program, or in a
 * thread cache).  free() trusts a pointer only if its bit is set, so
 * stack, global, interior and misaligned pointers, and blocks already
 * back in the bins, are all caught by one test before any header is read.
 *
 * Invariants: an entry is written only under the global segment lock;
 * readers need no lock because a granule is registered before any block
 * in it is handed out, and unregistered only after its last block is back.
 */
#include "internal.h"

#define LEAF_ENTRIES (1u << 16)
#define STARTS_BYTES 512u /* 4096 bits */

dp_pm_entry *dp_pagemap_l1[1u << 16];

static dp_lock pm_lock = DP_LOCK_INIT;
static uint64_t *starts_free; /* recycled bitmaps, linked through word 0 */

static uint64_t *starts_get(void) {
  uint64_t *b = starts_free;
  if (b) {
    starts_free = (uint64_t *)b[0];
    memset(b, 0, STARTS_BYTES);
    return b;
  }
  return dp_meta_alloc(STARTS_BYTES);
}

bool dp_pagemap_register(struct dp_segment *seg, struct dp_arena *arena, uintptr_t from, uintptr_t to) {
  bool ok = true;
  dp_lock_acquire(&pm_lock);
  for (uintptr_t g = dp_align_down(from, DP_GRANULE); g < to; g += DP_GRANULE) {
    size_t i1 = (g >> 32) & 0xffff;
    if (!dp_pagemap_l1[i1]) {
      dp_pm_entry *leaf = dp_os_mmap_meta(LEAF_ENTRIES * sizeof(dp_pm_entry));
      if (!leaf) {
        ok = false;
        break;
      }
      __atomic_store_n(&dp_pagemap_l1[i1], leaf, __ATOMIC_RELEASE);
    }
    dp_pm_entry *e = &dp_pagemap_l1[i1][(g >> DP_GRANULE_SHIFT) & 0xffff];
    if (e->seg == seg)
      continue;
    if (!e->starts) {
      e->starts = starts_get();
      if (!e->starts) {
        ok = false;
        break;
      }
    }
    __atomic_store_n(&e->seg, seg, __ATOMIC_RELEASE);
    __atomic_store_n(&e->arena, arena, __ATOMIC_RELEASE);
  }
  dp_lock_release(&pm_lock);
  return ok;
}

void dp_pagemap_unregister(uintptr_t from, uintptr_t to) {
  dp_lock_acquire(&pm_lock);
  for (uintptr_t g = dp_align_down(from, DP_GRANULE); g < to; g += DP_GRANULE) {
    dp_pm_entry *e = dp_pagemap_get(g);
    if (!e || !e->seg)
      continue;
    __atomic_store_n(&e->arena, NULL, __ATOMIC_RELAXED);
    e->seg = NULL;
    if (e->starts) {
      e->starts[0] = (uint64_t)(uintptr_t)starts_free;
      starts_free = e->starts;
      e->starts = NULL;
    }
  }
  dp_lock_release(&pm_lock);
}

void dp_pagemap_fork_prepare(void);
void dp_pagemap_fork_parent(void);
void dp_pagemap_fork_child(void);
void dp_pagemap_fork_prepare(void) { dp_lock_fork_take(&pm_lock); }
void dp_pagemap_fork_parent(void) { dp_lock_fork_give(&pm_lock); }
void dp_pagemap_fork_child(void) { dp_lock_reinit(&pm_lock); }
