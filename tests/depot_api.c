/* depot_api: depot's own calls (include/depot.h).
 *   depot_stats_get: heap_bytes > 0 after small allocations, heap_start inside
 *     [heap]; mmap_count rises with a big block and falls after its free;
 *     counters move as documented; the threshold moves unless fixed;
 *   depot_stats_print(fd), depot_bins_print(fd): non-empty text, no
 *     allocation;
 *   depot_option_set/get: round trip ("mmap_threshold" and the others),
 *     case-insensitive names, -1/EINVAL for unknown names, same fields as
 *     mallopt, and the setting takes effect;
 *   an arena whose thread left gives its memory back after decay_ms.
 * The functions are looked up at run time (the preloaded build is not linked
 * against depot). */
#include "common.h"

static int (*p_stats_get)(depot_stats_t *);
static void (*p_stats_print)(int);
static void (*p_bins_print)(int);
static int (*p_option_set)(const char *, long);
static long (*p_option_get)(const char *);

static depot_stats_t stats(void) {
  depot_stats_t s;
  memset(&s, 0xee, sizeof s);
  int r = p_stats_get(&s);
  CHECKM(r == 0, "depot_stats_get returned %d", r);
  return s;
}

static void test_heap_stats(void) {
  enum { N = 2000 };
  static void *v[N];
  depot_stats_t s0 = stats();
  t_alloc_filled(v, N, 100, 1);
  depot_stats_t s1 = stats();
  CHECKM(s1.heap_bytes > 0, "heap_bytes is 0 after %d small mallocs", N);
  CHECKM(s1.heap_start != 0, "heap_start is 0 after small mallocs");
  uintptr_t lo, hi;
  if (heap_range(&lo, &hi)) {
    CHECKM(s1.heap_start >= lo && s1.heap_start < hi,
           "heap_start %#llx is outside [heap] %#lx-%#lx",
           (unsigned long long)s1.heap_start, (unsigned long)lo, (unsigned long)hi);
    CHECKM(s1.heap_start + s1.heap_bytes <= hi,
           "heap_start + heap_bytes = %#llx beyond the end of [heap] %#lx",
           (unsigned long long)(s1.heap_start + s1.heap_bytes), (unsigned long)hi);
  } else {
    CHECKM(0, "no [heap] line after small mallocs");
  }
  CHECKM(s1.heap_peak >= s1.heap_bytes, "heap_peak %llu < heap_bytes %llu",
         (unsigned long long)s1.heap_peak, (unsigned long long)s1.heap_bytes);
  CHECKM(s1.brk_grows >= 1, "brk_grows is %llu", (unsigned long long)s1.brk_grows);
  CHECKM(s1.in_use_bytes >= s0.in_use_bytes + (uint64_t)N * 100,
         "in_use_bytes %llu -> %llu after %d x 100 bytes",
         (unsigned long long)s0.in_use_bytes, (unsigned long long)s1.in_use_bytes, N);
  CHECKM(s1.in_use_peak >= s1.in_use_bytes, "in_use_peak < in_use_bytes");
  CHECKM(s1.malloc_calls >= s0.malloc_calls + N, "malloc_calls %llu -> %llu after %d mallocs",
         (unsigned long long)s0.malloc_calls, (unsigned long long)s1.malloc_calls, N);
  CHECKM(s1.top_bytes <= s1.free_bytes, "top_bytes %llu > free_bytes %llu",
         (unsigned long long)s1.top_bytes, (unsigned long long)s1.free_bytes);
  CHECKM(s1.largest_free <= s1.free_bytes, "largest_free %llu > free_bytes %llu",
         (unsigned long long)s1.largest_free, (unsigned long long)s1.free_bytes);
  CHECKM(s1.threads_live >= 1, "threads_live is %llu in a thread that allocates",
         (unsigned long long)s1.threads_live);
  for (int i = 0; i < N; i++) free(v[i]);
  depot_stats_t s2 = stats();
  CHECKM(s2.free_calls >= s1.free_calls + N, "free_calls %llu -> %llu after %d frees",
         (unsigned long long)s1.free_calls, (unsigned long long)s2.free_calls, N);
}

static void test_mmap_stats(void) {
  depot_stats_t s0 = stats();
  CHECKM(s0.mmap_threshold == 128 * 1024,
         "mmap_threshold is %llu at start, want the default 131072",
         (unsigned long long)s0.mmap_threshold);
  void *p = malloc(opaque_size(MiB));
  REQUIRE(p != NULL);
  memset(p, 2, MiB);
  depot_stats_t s1 = stats();
  CHECKM(s1.mmap_count == s0.mmap_count + 1, "mmap_count %llu -> %llu with a 1 MiB block",
         (unsigned long long)s0.mmap_count, (unsigned long long)s1.mmap_count);
  CHECKM(s1.mmap_bytes >= s0.mmap_bytes + MiB, "mmap_bytes %llu -> %llu with a 1 MiB block",
         (unsigned long long)s0.mmap_bytes, (unsigned long long)s1.mmap_bytes);
  CHECKM(s1.mmap_total == s0.mmap_total + 1, "mmap_total %llu -> %llu",
         (unsigned long long)s0.mmap_total, (unsigned long long)s1.mmap_total);
  CHECKM(s1.mmap_peak_bytes >= s1.mmap_bytes, "mmap_peak_bytes < mmap_bytes");
  CHECKM(s1.in_use_bytes >= s0.in_use_bytes + MiB, "in_use_bytes did not count the 1 MiB block");
  free(p);
  depot_stats_t s2 = stats();
  CHECKM(s2.mmap_count == s0.mmap_count, "mmap_count %llu after free, want %llu",
         (unsigned long long)s2.mmap_count, (unsigned long long)s0.mmap_count);
  CHECKM(s2.mmap_bytes == s0.mmap_bytes, "mmap_bytes %llu after free, want %llu",
         (unsigned long long)s2.mmap_bytes, (unsigned long long)s0.mmap_bytes);
  CHECKM(s2.munmap_total == s0.munmap_total + 1, "munmap_total %llu -> %llu",
         (unsigned long long)s0.munmap_total, (unsigned long long)s2.munmap_total);
  CHECKM(s2.in_use_bytes + MiB <= s1.in_use_bytes, "in_use_bytes did not drop after the free");
  /* the dynamic threshold moved up to the freed block's size */
  CHECKM(s2.mmap_threshold >= MiB, "mmap_threshold %llu after freeing a mapped 1 MiB block",
         (unsigned long long)s2.mmap_threshold);
}

static size_t capture(void (*fn)(int), char *buf, size_t cap) {
  char path[] = "/tmp/depot-api-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  fn(fd);
  off_t len = lseek(fd, 0, SEEK_END);
  lseek(fd, 0, SEEK_SET);
  size_t n = 0;
  while (n < cap - 1) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  buf[n] = 0;
  close(fd);
  return (size_t)len;
}

static void test_print(void) {
  static char buf[1 << 16];
  void *keep[50];
  for (int i = 0; i < 50; i++) keep[i] = malloc(opaque_size(32 + (size_t)i * 64));
  for (int i = 0; i < 50; i += 2) free(keep[i]); /* something in the bins */
  depot_stats_t s0 = stats();
  size_t n = capture(p_stats_print, buf, sizeof buf);
  depot_stats_t s1 = stats();
  CHECKM(n > 0, "depot_stats_print wrote nothing");
  CHECKM(strlen(buf) == (n < sizeof buf - 1 ? n : sizeof buf - 1),
         "depot_stats_print wrote a NUL byte");
  CHECKM(s1.malloc_calls == s0.malloc_calls,
         "depot_stats_print allocated (%llu malloc calls)",
         (unsigned long long)(s1.malloc_calls - s0.malloc_calls));
  n = capture(p_bins_print, buf, sizeof buf);
  CHECKM(n > 0, "depot_bins_print wrote nothing");
  CHECKM(strlen(buf) == (n < sizeof buf - 1 ? n : sizeof buf - 1),
         "depot_bins_print wrote a NUL byte");
  for (int i = 1; i < 50; i += 2) free(keep[i]);
}

static void test_options(void) {
  errno = 0;
  CHECK(p_option_set("mmap_threshold", 262144) == 0);
  CHECKM(p_option_get("mmap_threshold") == 262144, "get(mmap_threshold) = %ld",
         p_option_get("mmap_threshold"));
  CHECKM(p_option_get("MMAP_THRESHOLD") == 262144, "get(MMAP_THRESHOLD) = %ld",
         p_option_get("MMAP_THRESHOLD"));
  CHECKM(stats().mmap_threshold == 262144, "stats mmap_threshold %llu after option_set",
         (unsigned long long)stats().mmap_threshold);
  CHECK(p_option_set("Mmap_Threshold", 1048576) == 0);
  CHECK(p_option_get("mmap_threshold") == 1048576);
  /* it takes effect: 200 KiB now comes from the heap */
  void *p = malloc(opaque_size(200 * KiB));
  CHECKM(in_heap(p), "malloc(200 KiB) after option_set(mmap_threshold, 1 MiB): %s", map_desc(p));
  free(p);
  /* mallopt writes the same field */
  CHECK(mallopt(M_MMAP_THRESHOLD, 524288) == 1);
  CHECKM(p_option_get("mmap_threshold") == 524288, "get after mallopt: %ld",
         p_option_get("mmap_threshold"));

  const struct {
    const char *name;
    long value;
  } rt[] = {{"trim_threshold", 3 << 20}, {"top_pad", 256 * 1024}, {"mmap_max", 1000},
            {"arena_max", 4},           {"arena_test", 2},       {"perturb", 0},
            {"report", 0}};
  for (size_t i = 0; i < sizeof rt / sizeof rt[0]; i++) {
    int r = p_option_set(rt[i].name, rt[i].value);
    CHECKM(r == 0, "depot_option_set(%s, %ld) returned %d", rt[i].name, rt[i].value, r);
    long g = p_option_get(rt[i].name);
    CHECKM(g == rt[i].value, "depot_option_get(%s) = %ld after setting %ld", rt[i].name, g,
           rt[i].value);
  }
  CHECK(mallopt(M_TRIM_THRESHOLD, 2 << 20) == 1);
  CHECKM(p_option_get("trim_threshold") == 2 << 20, "trim_threshold after mallopt: %ld",
         p_option_get("trim_threshold"));
  CHECK(mallopt(M_TOP_PAD, 65536) == 1);
  CHECK(p_option_get("top_pad") == 65536);

  errno = 0;
  int r = p_option_set("no_such_option", 1);
  CHECKM(r == -1 && errno == EINVAL, "set(no_such_option) -> %d errno %d", r, errno);
  errno = 0;
  long g = p_option_get("no_such_option");
  CHECKM(g == -1 && errno == EINVAL, "get(no_such_option) -> %ld errno %d", g, errno);
  errno = 0;
  g = p_option_get("");
  CHECKM(g == -1 && errno == EINVAL, "get(\"\") -> %ld errno %d", g, errno);
}

/* An arena whose last thread left gives its memory back: once decay_ms
 * has passed (here 100 ms), at the next decay tick of a thread still
 * working, while it holds less than 16 MiB free (12 MiB freed by a thread
 * that then exited are resident at first, gone after the wait and a little
 * churn in the main thread); at once when it holds more (32 MiB freed by a
 * thread on the same arena are gone when pthread_join returns). */
static void *idle_worker(void *arg) {
  enum { SZ = 1000 };
  int n = (int)(intptr_t)arg;
  static void *v[32768];
  t_alloc_filled(v, n, SZ, 0x2e);
  for (int i = 0; i < n; i++) free(v[i]);
  return NULL;
}

static void sub_idle_arena(void *a) {
  (void)a;
  CHECK(p_option_set("decay_ms", 100) == 0);
  free(malloc(opaque_size(64))); /* this thread has its arena */
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, idle_worker, (void *)(intptr_t)12288) == 0);
  REQUIRE(pthread_join(t, NULL) == 0);
  size_t rss1 = rss_bytes();
  usleep(300 * 1000);
  for (int r = 0; r < 40; r++) { /* frees that reach a decay tick */
    void *q = malloc(opaque_size(100000));
    REQUIRE(q != NULL);
    memset(q, 3, 100000);
    free(q);
  }
  size_t rss2 = rss_bytes();
  REQUIRE(pthread_create(&t, NULL, idle_worker, (void *)(intptr_t)32768) == 0);
  REQUIRE(pthread_join(t, NULL) == 0);
  size_t rss3 = rss_bytes();
  fprintf(stderr, "  rss: %zu KiB after a 12 MiB thread left, %zu KiB 300 ms later, %zu KiB "
                  "when a 32 MiB thread left\n", rss1 / 1024, rss2 / 1024, rss3 / 1024);
  CHECKM(rss3 <= rss2 + 8 * MiB, "a 32 MiB idle arena kept its memory: %zu KiB -> %zu KiB",
         rss2 / 1024, rss3 / 1024);
  CHECKM(rss2 + 8 * MiB <= rss1,
         "an idle arena kept its memory: RSS %zu KiB after the thread left, %zu KiB later",
         rss1 / 1024, rss2 / 1024);
}

int main(void) {
  t_name = "depot_api";
  if (!have_depot()) t_skip("depot is not the allocator of this process");
  p_stats_get = (int (*)(depot_stats_t *))dlsym(RTLD_DEFAULT, "depot_stats_get");
  p_stats_print = (void (*)(int))dlsym(RTLD_DEFAULT, "depot_stats_print");
  p_bins_print = (void (*)(int))dlsym(RTLD_DEFAULT, "depot_bins_print");
  p_option_set = (int (*)(const char *, long))dlsym(RTLD_DEFAULT, "depot_option_set");
  p_option_get = (long (*)(const char *))dlsym(RTLD_DEFAULT, "depot_option_get");
  REQUIRE(p_stats_get && p_stats_print && p_bins_print && p_option_set && p_option_get);
  test_heap_stats();
  test_mmap_stats();
  test_print();
  test_options();
  SUBTEST(sub_idle_arena);
  return t_done();
}
