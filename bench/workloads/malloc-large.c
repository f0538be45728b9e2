/* malloc-large: models programs with big buffers (images, I/O staging, matrices): blocks of 5-25 MiB allocated, touched page by page, checked and freed, a few alive at a time. */
/* Four slots; each step verifies and frees a random slot's block and puts a
 * new 5-25 MiB block there, writing one word in every 4 KiB page.
 * usage: malloc-large [steps] */
#include "common.h"

#define SLOTS 4
#define PAGE 4096

static void touch(uint64_t *p, size_t n, uint64_t tag) {
  size_t words = n / 8;
  for (size_t i = 0; i + 1 < words; i += PAGE / 8) p[i] = tag ^ i;
  p[words - 1] = tag;
}
static void verify(const uint64_t *p, size_t n, uint64_t tag) {
  size_t words = n / 8;
  for (size_t i = 0; i + 1 < words; i += PAGE / 8)
    if (p[i] != (tag ^ i)) die("malloc-large: page %zu of a %zu-byte block lost its data", i / (PAGE / 8), n);
  if (p[words - 1] != tag) die("malloc-large: tail of a %zu-byte block lost", n);
}

int main(int argc, char **argv) {
  long steps = arg_long(argc, argv, 1, 100);
  uint64_t seed = 5, bytes = 0;
  uint64_t *blk[SLOTS] = {0};
  size_t sz[SLOTS] = {0};
  uint64_t tag[SLOTS] = {0};
  for (long s = 0; s < steps; s++) {
    int i = (int)rng_below(&seed, SLOTS);
    if (blk[i]) {
      verify(blk[i], sz[i], tag[i]);
      free(blk[i]);
    }
    sz[i] = (5u << 20) + rng_below(&seed, (20u << 20) + 1);
    tag[i] = rng_next(&seed);
    blk[i] = xmalloc(sz[i]);
    touch(blk[i], sz[i], tag[i]);
    bytes += sz[i];
  }
  for (int i = 0; i < SLOTS; i++)
    if (blk[i]) {
      verify(blk[i], sz[i], tag[i]);
      free(blk[i]);
    }
  printf("check malloc-large steps=%ld bytes=%llu\n", steps, (unsigned long long)bytes);
  return 0;
}
