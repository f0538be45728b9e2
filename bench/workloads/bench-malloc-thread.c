/* bench-malloc-thread: models glibc's benchtests/bench-malloc-thread: each thread keeps a working set of 1024 blocks and replaces a random one per step with a block of random size (4 B - 32 KiB, smaller far more likely). */
/* glibc's version runs for a fixed time; this one does a fixed number of
 * steps in total, split over the threads, and reports the rate as a metric.
 * Self-check: the first and last byte of each block are checked before free.
 * usage: bench-malloc-thread [steps] [threads] */
#include "common.h"

#define WORKING_SET 1024
#define MIN_SIZE 4
#define MAX_SIZE 32768
#define RAND_TABLE 4096

static size_t sizes_table[RAND_TABLE];

typedef struct {
  int id;
  long steps;
  uint64_t bytes;
} targ;

static void *worker(void *p) {
  targ *a = p;
  static __thread unsigned char *ws[WORKING_SET];
  static __thread size_t wsz[WORKING_SET];
  uint64_t seed = 31 + (uint64_t)a->id;
  for (long i = 0; i < a->steps; i++) {
    size_t k = rng_below(&seed, WORKING_SET);
    if (ws[k]) {
      if (ws[k][0] != (unsigned char)wsz[k] || ws[k][wsz[k] - 1] != (unsigned char)(wsz[k] >> 3))
        die("bench-malloc-thread: block of %zu bytes corrupted", wsz[k]);
      free(ws[k]);
    }
    size_t n = sizes_table[rng_below(&seed, RAND_TABLE)];
    ws[k] = xmalloc(n);
    wsz[k] = n;
    ws[k][0] = (unsigned char)n;
    ws[k][n - 1] = (unsigned char)(n >> 3);
    a->bytes += n;
  }
  for (int k = 0; k < WORKING_SET; k++) free(ws[k]);
  return NULL;
}

int main(int argc, char **argv) {
  long steps = arg_long(argc, argv, 1, 20000000);
  int nt = (int)arg_long(argc, argv, 2, 2);
  /* sizes with probability proportional to 1/size, as glibc's table */
  double total = 0;
  for (size_t s = MIN_SIZE; s <= MAX_SIZE; s++) total += 1.0 / (double)s;
  size_t s = MIN_SIZE;
  double acc = 1.0 / MIN_SIZE;
  for (int i = 0; i < RAND_TABLE; i++) {
    double want = ((double)i + 0.5) / RAND_TABLE * total;
    while (acc < want && s < MAX_SIZE) acc += 1.0 / (double)++s;
    sizes_table[i] = s;
  }
  targ *args = xcalloc((size_t)nt, sizeof(targ));
  for (int i = 0; i < nt; i++) {
    args[i].id = i;
    args[i].steps = steps / nt;
  }
  double t0 = now_s();
  run_threads(nt, worker, args, sizeof(targ));
  double el = now_s() - t0;
  uint64_t bytes = 0;
  long done = 0;
  for (int i = 0; i < nt; i++) {
    bytes += args[i].bytes;
    done += args[i].steps;
  }
  printf("check bench-malloc-thread threads=%d steps=%ld bytes=%llu\n", nt, done, (unsigned long long)bytes);
  printf("metric ns_per_step_per_thread %.2f\n", el * 1e9 / (double)done * nt);
  free(args);
  return 0;
}
