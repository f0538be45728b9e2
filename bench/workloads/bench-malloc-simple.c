/* bench-malloc-simple: models glibc's benchtests/bench-malloc-simple: batches of 25-1600 blocks of one fixed size (16, 256, 1024 B) are malloced, then half freed FIFO and half LIFO, size after size. */
/* Each block gets its first and last byte written and checked, so the pairs
 * cannot be optimised away.
 * usage: bench-malloc-simple [blocks_per_combination] */
#include "common.h"

int main(int argc, char **argv) {
  long per = arg_long(argc, argv, 1, 400000);
  static const size_t sizes[] = {16, 256, 1024};
  static const int batches[] = {25, 100, 400, 1600};
  static void *a[1600];
  uint64_t total = 0, sum = 0;
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
    size_t sz = sizes[si];
    for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
      int b = batches[bi];
      long iters = per / b;
      for (long it = 0; it < iters; it++) {
        for (int i = 0; i < b; i++) {
          unsigned char *p = xmalloc(sz);
          p[0] = (unsigned char)i;
          p[sz - 1] = (unsigned char)it;
          a[i] = p;
        }
        for (int k = 0; k < b; k++) { /* first half in FIFO order, the rest LIFO */
          int i = k < b / 2 ? k : b - 1 - (k - b / 2);
          unsigned char *p = a[i];
          if (p[0] != (unsigned char)i || p[sz - 1] != (unsigned char)it) die("bench-malloc-simple: block overwritten");
          sum += p[0];
          free(p);
        }
        total += (uint64_t)b;
      }
    }
  }
  printf("check bench-malloc-simple blocks=%llu sum=%llu\n", (unsigned long long)total, (unsigned long long)sum);
  return 0;
}
