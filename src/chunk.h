/*
 * chunk.h - the chunk: the unit the arenas cut the heap into.
 *
 *   chunk ->  +-----------------------------+
 *             | prev_size (if previous free) |  8 bytes, lives in the
 *             +-----------------------------+  previous chunk's tail
 *             | size            |C|M|I|P |  8 bytes: the only overhead
 *   mem   ->  +-----------------------------+
 *             | fd  (encoded, when free)     |  program data when in use
 *             | bk  (encoded, when free)     |
 *             | ...                          |
 *   next  ->  | prev_size = size (when free) |
 *             +-----------------------------+
 *
 * P PREV_INUSE  the chunk before this one is not in the bins
 * I INUSE       this chunk is out of the arena (program or thread cache)
 * M MMAPPED     a large block in its own mapping (prev_size = offset of
 *               the chunk from the mapping's start)
 * C CLEAN       a free chunk whose inner pages were given back (madvise)
 *
 * Sizes are multiples of 16; the smallest chunk is 32 bytes.  A chunk of
 * size S holds S - 8 bytes of program data (it may use the next chunk's
 * prev_size word, which is only meaningful while this chunk is free).
 *
 * While a chunk under 64 MiB is out, its header is
 *
 *   | tag (38 bits, bit 63 set) | size (22 bits) |C|M|I|P |
 *
 * (the tag: below); every other header is a plain size | flags.  Read
 * sizes with chunk_size(), or untagged_size() where no tag can be.
 */
#ifndef DEPOT_CHUNK_H
#define DEPOT_CHUNK_H
#include "internal.h"

typedef struct dp_chunk {
  size_t prev_size;     /* size of the previous chunk, valid while it is free */
  size_t head;          /* size | C_* flags */
  uintptr_t fd_enc;     /* next free chunk in the bin, encoded */
  uintptr_t bk_enc;     /* previous free chunk in the bin, encoded */
} dp_chunk;

#define C_PREV_INUSE ((size_t)1)
#define C_INUSE ((size_t)2)
#define C_MMAPPED ((size_t)4)
#define C_CLEAN ((size_t)8)
#define C_FLAGS ((size_t)15)

/* A chunk header can be read by a thread freeing that block (fast path,
 * no lock) while the owning arena, under its lock, flips the block's
 * PREV_INUSE bit for a neighbour's sake.  The size bits never change while
 * the block is out, so the race is benign; relaxed atomics (plain moves on
 * x86) make it a defined one, and keep ThreadSanitizer quiet. */
DEPOT_INLINE size_t head_load(const dp_chunk *c) {
  return __atomic_load_n(&c->head, __ATOMIC_RELAXED);
}
DEPOT_INLINE void head_store(dp_chunk *c, size_t v) {
  __atomic_store_n(&c->head, v, __ATOMIC_RELAXED);
}

/* The tag.  A chunk that is out (start bit set) and smaller than 64 MiB
 * carries in bits 26..63 of its header a tag of its address and its arena:
 *
 *   tag(mem, id) = ((((mem * dp_tag_mult) | 1 << 63) >> 26) ^ id) << 26
 *
 * so ((((mem * dp_tag_mult) | 1 << 63) ^ header) >> 26) is the arena's id
 * (index + 1) exactly when the header is the tagged header of a block at
 * mem.  Bit 63 is set in every tag and in no other header (sizes stay
 * below 2^47), so a free chunk, a large block, a heap block of 64 MiB or
 * more, or any header whose tag was taken off can never pass; a header word
 * forged by program data passes only by guessing a 37-bit function of the
 * secret multiplier.  This lets free() trust a block from its header alone,
 * without the pagemap.  Tags go on where start bits are set (mark_out) and
 * come off where start bits are cleared, so "tagged" implies "start bit
 * set": the out-of-band map stays the authority, the tag a cache of it. */
#define C_TAG_SHIFT 26
#define C_TAGGED ((size_t)1 << 63)
#define C_TAG_BITS (~(((size_t)1 << C_TAG_SHIFT) - 1))
#define C_TAG_MAX_SIZE ((size_t)1 << C_TAG_SHIFT) /* tagged chunks are smaller */

DEPOT_INLINE size_t head_size(size_t h) {
  return h & ((int64_t)h < 0 ? ~C_TAG_BITS & ~C_FLAGS : ~C_FLAGS);
}
DEPOT_INLINE size_t head_untag(size_t h) { return (int64_t)h < 0 ? h & ~C_TAG_BITS : h; }
DEPOT_INLINE size_t chunk_tag(const void *mem, uint64_t mult, uint64_t arena_id) {
  return (((((uintptr_t)mem * mult) | C_TAGGED) >> C_TAG_SHIFT) ^ arena_id) << C_TAG_SHIFT;
}
/* does header word h carry the tag of a block at mem of arena arena_id?
 * (chunk_tag's inverse, in the few instructions free()'s fast path has) */
DEPOT_INLINE bool head_vouches(uintptr_t mem, uint64_t mult, size_t h, uint64_t arena_id) {
  return ((((mem * mult) | C_TAGGED) ^ h) >> C_TAG_SHIFT) == arena_id;
}

DEPOT_INLINE dp_chunk *mem2chunk(const void *p) { return (dp_chunk *)((char *)p - 16); }
DEPOT_INLINE void *chunk2mem(const dp_chunk *c) { return (char *)c + 16; }
DEPOT_INLINE size_t chunk_size(const dp_chunk *c) { return head_size(head_load(c)); }
/* the size of a chunk known to carry no tag (free, the top, or not yet
 * out): one instruction less on the arena's paths */
DEPOT_INLINE size_t untagged_size(const dp_chunk *c) {
  size_t h = head_load(c);
  DEPOT_ASSERT(!(h & C_TAGGED));
  return h & ~C_FLAGS;
}
DEPOT_INLINE dp_chunk *chunk_at(const void *c, size_t off) {
  return (dp_chunk *)((char *)c + off);
}
/* the chunk `off` bytes below (no unsigned wrap-around: that is UB) */
DEPOT_INLINE dp_chunk *chunk_below(const void *c, size_t off) {
  return (dp_chunk *)((char *)c - off);
}
DEPOT_INLINE dp_chunk *chunk_next(const dp_chunk *c) { return chunk_at(c, chunk_size(c)); }

/* request bytes -> chunk size (multiple of 16, at least 32) */
DEPOT_INLINE size_t request2size(size_t n) {
  size_t cs = (n + DP_HDR + 15) & ~(size_t)15;
  return cs < DP_MINCHUNK ? DP_MINCHUNK : cs;
}
/* bytes of program data a chunk holds */
DEPOT_INLINE size_t chunk_usable(const dp_chunk *c) {
  return (head_load(c) & C_MMAPPED) ? chunk_size(c) - 16 : chunk_size(c) - DP_HDR;
}

/* free-list links: pointer ^ (where it is stored >> 12) ^ secret, so a
 * use-after-free write cannot plant an address of the attacker's choosing */
DEPOT_INLINE uintptr_t link_encode(const void *where, const void *ptr) {
  return (uintptr_t)ptr ^ ((uintptr_t)where >> 12) ^ dp_secret;
}
DEPOT_INLINE void *link_decode(const void *where, uintptr_t v) {
  return (void *)(v ^ ((uintptr_t)where >> 12) ^ dp_secret);
}

#endif
