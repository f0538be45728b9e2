/* arena_consolidate: blocks that wait whole in the arena's fast lists
 * coalesce when they are consolidated, however their batches are laid out.
 * depot's consolidate() walks several batches side by side and hands their
 * blocks on batch by batch; a batch longer than its gather area (1024
 * blocks) is walked in pieces.  Here the thread cache first keeps 3000
 * blocks a class (tcache_count), so a full list goes home as one batch of
 * 3000; then 8, so that short batches of other classes lie beside it.
 * After malloc_trim (which consolidates) the fast lists must be empty,
 * every block kept
 * alive must still hold its contents, and the freed blocks, which lay side
 * by side, must have become one free chunk big enough for all their bytes
 * together (largest_free), without the break rising. */
#include "common.h"

enum { LONG_N = 3001, SHORT_N = 40, CLASSES = 6, ROUNDS = 3 };

static void *blk[LONG_N + CLASSES * SHORT_N];
static size_t len[LONG_N + CLASSES * SHORT_N];

int main(void) {
  int (*set)(const char *, long) = (int (*)(const char *, long))t_lookup("depot_option_set");
  if (!set) t_skip("not running on depot");
  for (int r = 0; r < ROUNDS; r++) {
    REQUIRE(set("tcache_count", LONG_N - 1) == 0);
    void *guard_below = malloc(opaque_size(64));
    /* one run of blocks side by side: LONG_N of one class, then SHORT_N of
     * each of CLASSES other small classes, every other one kept alive */
    size_t n = 0, freed_bytes = 0, batch_bytes = 0;
    for (int i = 0; i < LONG_N; i++, n++) {
      len[n] = 24;
      blk[n] = malloc(opaque_size(len[n]));
    }
    for (int c = 0; c < CLASSES; c++)
      for (int i = 0; i < SHORT_N; i++, n++) {
        len[n] = 40 + (size_t)c * 48;
        blk[n] = malloc(opaque_size(len[n]));
      }
    void *guard_above = malloc(opaque_size(64));
    REQUIRE(guard_below && guard_above);
    for (size_t i = 0; i < n; i++) {
      REQUIRE(blk[i]);
      pat_fill(blk[i], len[i], (uint32_t)(r * 100000 + (int)i));
    }
    void *brk_before = sbrk(0);
    /* the long class goes home whole: at the free after the list filled,
     * one batch of LONG_N - 1 */
    for (int i = 0; i < LONG_N; i++) {
      freed_bytes += malloc_usable_size(blk[i]) + 8;
      if (i < LONG_N - 1) batch_bytes += malloc_usable_size(blk[i]) + 8;
      free(blk[i]);
      blk[i] = NULL;
    }
    /* a limit of 8: the lists go home as they are at the next call off the
     * fast path (the long class's last block a batch of one), and the
     * short classes, every block but the last of each, in batches of 8 */
    REQUIRE(set("tcache_count", 8) == 0);
    for (int c = 0; c < CLASSES; c++)
      for (int i = 0; i < SHORT_N - 1; i++) {
        size_t k = LONG_N + (size_t)c * SHORT_N + (size_t)i;
        free(blk[k]);
        blk[k] = NULL;
      }
    depot_stats_t st;
    REQUIRE(t_depot_stats(&st));
    CHECKM(st.fast_bytes + st.cached_bytes >= freed_bytes,
           "round %d: fast %llu + cached %llu < freed %zu", r, (unsigned long long)st.fast_bytes,
           (unsigned long long)st.cached_bytes, freed_bytes);
    CHECKM(st.fast_bytes >= batch_bytes,
           "round %d: fast lists hold %llu, less than the long batch's %zu", r,
           (unsigned long long)st.fast_bytes, batch_bytes);
    malloc_trim(0); /* the thread's cache goes home, then everything consolidates */
    REQUIRE(t_depot_stats(&st));
    CHECKM(st.fast_bytes == 0, "round %d: %llu bytes left in fast lists", r,
           (unsigned long long)st.fast_bytes);
    CHECKM(st.largest_free >= freed_bytes,
           "round %d: largest free chunk %llu < %zu freed side by side", r,
           (unsigned long long)st.largest_free, freed_bytes);
    CHECK((char *)sbrk(0) <= (char *)brk_before); /* no growth (a trim may lower it) */
    for (size_t i = 0; i < n; i++)
      if (blk[i]) {
        CHECKM(pat_check(blk[i], len[i], (uint32_t)(r * 100000 + (int)i)) == (size_t)-1,
               "round %d: block %zu lost its contents", r, i);
        free(blk[i]);
        blk[i] = NULL;
      }
    free(guard_above);
    free(guard_below);
    malloc_trim(0);
  }
  REQUIRE(set("tcache_count", -1) == 0);
  return t_done();
}
