/* depot_env: the environment variables depot reads at start.
 *   DEPOT_MMAP_THRESHOLD=1048576  a 200 KiB block comes from [heap] (and the
 *                                 threshold is fixed); =65536: 100 KiB mmap'd
 *   DEPOT_MMAP_MAX=0              no mmap: 1 MiB from [heap]
 *   DEPOT_TRIM_THRESHOLD          high: freeing 4 MiB at the top keeps the
 *                                 break; low: lowers it
 *   DEPOT_TOP_PAD=16777216        the break grows by >= 16 MiB at a time
 *   DEPOT_ARENA_MAX=1             threads allocate from the main [heap]
 *   DEPOT_ARENA_TEST=3            read (depot_option_get)
 *   DEPOT_PERTURB=165             fresh malloc'd memory is 165 ^ 0xff = 0x5a
 *   DEPOT_TCACHE_COUNT=0          freed blocks are not cached by the thread
 *   DEPOT_TCACHE_COUNT=3          at most 3 blocks of a size cached
 *   DEPOT_TCACHE_MAX=1024         2000-byte blocks are not cached, 100-byte are
 *   GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=65536
 *                                 glibc's tunables hold too; DEPOT_* wins over them
 *   depot_option_set("tcache_count", 0) at run time empties the caches
 *   DEPOT_REPORT=1                a report containing "depot" on stderr at exit
 *   DEPOT_TRACE=1                 each brk/mmap/munmap/madvise logged as a
 *                                 "depot: " line on stderr
 *   (none)                        nothing at all on stderr
 * Each case re-runs this program (/proc/self/exe MODE) with the variable set;
 * the child checks what it can see itself, the parent checks its stderr. */
#include "common.h"

static long (*p_option_get)(const char *);
static int (*p_option_set)(const char *, long);
static int (*p_stats_get)(depot_stats_t *);

static void expect_option(const char *name, long want) {
  long got = p_option_get ? p_option_get(name) : -2;
  CHECKM(got == want, "depot_option_get(\"%s\") = %ld, want %ld (from the environment)",
         name, got, want);
}

/* ---------------------------------------------------------- child modes */

static void m_thr_1m(void) {
  expect_option("mmap_threshold", 1048576);
  void *p = malloc(opaque_size(200 * KiB));
  CHECKM(in_heap(p), "DEPOT_MMAP_THRESHOLD=1048576: malloc(200 KiB) %s, want [heap]",
         map_desc(p));
  void *big = malloc(opaque_size(2 * MiB));
  CHECKM(in_anon_mapping(big, NULL) && !in_heap(big),
         "DEPOT_MMAP_THRESHOLD=1048576: malloc(2 MiB) %s, want its own mapping", map_desc(big));
  free(big);
  /* fixed like mallopt: freeing the 2 MiB block did not raise it */
  void *q = malloc(opaque_size(1536 * KiB));
  CHECKM(in_anon_mapping(q, NULL) && !in_heap(q),
         "DEPOT_MMAP_THRESHOLD=1048576: malloc(1.5 MiB) after freeing 2 MiB: %s", map_desc(q));
  free(q);
  free(p);
}

static void m_thr_64k(void) {
  expect_option("mmap_threshold", 65536);
  void *p = malloc(opaque_size(100 * KiB));
  CHECKM(in_anon_mapping(p, NULL) && !in_heap(p),
         "DEPOT_MMAP_THRESHOLD=65536: malloc(100 KiB) %s, want its own mapping", map_desc(p));
  free(p);
}

static void m_mmap_max0(void) {
  expect_option("mmap_max", 0);
  void *p = malloc(opaque_size(MiB));
  CHECKM(in_heap(p), "DEPOT_MMAP_MAX=0: malloc(1 MiB) %s, want [heap]", map_desc(p));
  free(p);
}

/* 64 KiB blocks: below the mmap threshold, above any small-block cache (the
 * 1 KiB case of trimming is seed_trim's) */
enum { NB = 64, BSZ = 64 * 1024 };
static void *blk[NB];
static uintptr_t fill_and_free(uintptr_t *peak) {
  t_alloc_filled(blk, NB, BSZ, 1);
  *peak = cur_brk();
  for (int i = 0; i < NB; i++) free(blk[i]);
  return cur_brk();
}

static void m_trim_high(void) {
  expect_option("trim_threshold", 268435456);
  uintptr_t peak, after = fill_and_free(&peak);
  CHECKM(after == peak, "DEPOT_TRIM_THRESHOLD=256 MiB: the break moved %#lx -> %#lx",
         (unsigned long)peak, (unsigned long)after);
}

static void m_trim_low(void) {
  expect_option("trim_threshold", 65536);
  uintptr_t peak, after = fill_and_free(&peak);
  CHECKM(after + 3 * MiB <= peak, "DEPOT_TRIM_THRESHOLD=65536: break %#lx -> %#lx",
         (unsigned long)peak, (unsigned long)after);
}

static void m_top_pad(void) {
  expect_option("top_pad", 16777216);
  uintptr_t b0 = cur_brk(), b1 = b0;
  void *v[20000];
  int n = 0;
  while (n < 20000 && (b1 = cur_brk()) == b0) v[n++] = malloc(opaque_size(64));
  CHECKM(b1 != b0, "the break never moved in %d mallocs", n);
  CHECKM(b1 >= b0 + 16 * MiB, "DEPOT_TOP_PAD=16 MiB: the break grew by only %lu KiB",
         (unsigned long)(b1 - b0) / 1024);
  for (int i = 0; i < n; i++) free(v[i]);
}

/* The threads allocate at the same time (a barrier), keep their blocks, and
 * main looks at /proc/self/maps after the join (the helpers are not
 * thread-safe). */
enum { AT = 4, AB = 64 };
static void *arena_blocks[AT][AB];
static pthread_barrier_t arena_barrier;
static void *arena_thread(void *arg) {
  void **mine = arg;
  pthread_barrier_wait(&arena_barrier);
  for (int i = 0; i < AB; i++) {
    mine[i] = malloc(64 + (size_t)i * 8);
    if (mine[i]) memset(mine[i], 1, 64);
  }
  return NULL;
}
static void m_arena_max1(void) {
  expect_option("arena_max", 1);
  pthread_t t[AT];
  pthread_barrier_init(&arena_barrier, NULL, AT);
  for (int i = 0; i < AT; i++)
    REQUIRE(pthread_create(&t[i], NULL, arena_thread, arena_blocks[i]) == 0);
  for (int i = 0; i < AT; i++) pthread_join(t[i], NULL);
  int bad = 0;
  for (int i = 0; i < AT; i++)
    for (int k = 0; k < AB; k++)
      if (!arena_blocks[i][k] || !in_heap(arena_blocks[i][k])) {
        if (bad++ < 3)
          fprintf(stderr, "  thread %d block %d: %s\n", i, k, map_desc(arena_blocks[i][k]));
      }
  CHECKM(bad == 0, "DEPOT_ARENA_MAX=1: %d of %d thread blocks outside [heap]", bad, AT * AB);
  for (int i = 0; i < AT; i++)
    for (int k = 0; k < AB; k++) free(arena_blocks[i][k]);
}

static void m_arena_test(void) { expect_option("arena_test", 3); }

static void m_perturb(void) {
  expect_option("perturb", 165);
  const size_t sizes[] = {24, 200, 3000, 40000, 300000};
  for (size_t i = 0; i < 5; i++) {
    unsigned char *p = malloc(opaque_size(sizes[i]));
    REQUIRE(p != NULL);
    CHECKM(all_bytes(p, sizes[i], 0x5a), "DEPOT_PERTURB=165: malloc(%zu) byte 0 is %#x, want 0x5a",
           sizes[i], p[0]);
    unsigned char *z = calloc(1, opaque_size(sizes[i]));
    CHECKM(z && all_bytes(z, sizes[i], 0), "DEPOT_PERTURB=165: calloc(1, %zu) not zeroed",
           sizes[i]);
  }
}

/* bytes this process's thread caches hold now */
static unsigned long long cached_now(void) {
  depot_stats_t st;
  memset(&st, 0, sizeof st);
  REQUIRE(p_stats_get && p_stats_get(&st) == 0);
  return (unsigned long long)st.cached_bytes;
}

/* n blocks freed in allocation order; a block allocated after them stays,
 * so that none of them borders the top (a thread that frees the block
 * next to the top while giving memory back sends it home, and the cached
 * blocks right below with it: the cache would then look empty) */
static void *guard[8];
static void alloc_free(int n, size_t size) {
  void *v[64];
  REQUIRE(n <= 64);
  t_alloc_filled(v, n, size, 3);
  for (unsigned g = 0; g < sizeof guard / sizeof guard[0]; g++)
    if (!guard[g]) {
      guard[g] = malloc(opaque_size(size));
      break;
    }
  for (int i = 0; i < n; i++) free(v[i]);
}

static void m_tc_off(void) {
  expect_option("tcache_count", 0);
  alloc_free(32, 64);
  alloc_free(8, 5000);
  CHECKM(cached_now() == 0, "DEPOT_TCACHE_COUNT=0: %llu bytes cached", cached_now());
}

static void m_tc_count3(void) {
  expect_option("tcache_count", 3);
  alloc_free(32, 64);
  unsigned long long c = cached_now();
  /* a 64-byte request is an 80-byte chunk */
  CHECKM(c > 0 && c <= 3 * 80, "DEPOT_TCACHE_COUNT=3: %llu bytes cached after 32 frees of 64 B",
         c);
}

static void m_tc_max1k(void) {
  expect_option("tcache_max", 1024);
  alloc_free(8, 2000);
  CHECKM(cached_now() == 0, "DEPOT_TCACHE_MAX=1024: %llu bytes cached after 2000-byte frees",
         cached_now());
  alloc_free(8, 100);
  CHECKM(cached_now() > 0, "DEPOT_TCACHE_MAX=1024: 100-byte frees not cached");
}

static void m_tunables(void) {
  expect_option("tcache_count", 0);
  expect_option("mmap_threshold", 65536);
  alloc_free(16, 64);
  CHECKM(cached_now() == 0, "glibc.malloc.tcache_count=0: %llu bytes cached", cached_now());
  void *p = malloc(opaque_size(100 * KiB));
  CHECKM(in_anon_mapping(p, NULL) && !in_heap(p),
         "glibc.malloc.mmap_threshold=65536: malloc(100 KiB) %s, want its own mapping",
         map_desc(p));
  free(p);
}

static void m_tunables_lose(void) {
  expect_option("tcache_count", 5); /* DEPOT_TCACHE_COUNT=5 over the tunable's 0 */
  expect_option("top_pad", 65536);  /* from GLIBC_TUNABLES, over MALLOC_TOP_PAD_ */
}

static void m_tc_runtime(void) {
  expect_option("tcache_count", -1);
  expect_option("tcache_max", 32768);
  REQUIRE(p_option_set != NULL);
  alloc_free(32, 64);
  CHECKM(cached_now() > 0, "default: 64-byte frees not cached");
  errno = 0;
  CHECKM(p_option_set("tcache_count", -2) == -1 && errno == EINVAL,
         "depot_option_set(tcache_count, -2) accepted");
  CHECKM(p_option_set("tcache_count", 70000) == -1, "depot_option_set(tcache_count, 70000) accepted");
  CHECKM(p_option_set("tcache_max", 1 << 30) == 0 && p_option_get("tcache_max") == 32768,
         "tcache_max above the classes: not capped at 32768 (%ld)", p_option_get("tcache_max"));
  CHECKM(p_option_set("tcache_count", 0) == 0, "depot_option_set(tcache_count, 0) refused");
  /* the caches see the change at their next call that leaves the fast path */
  void *big = malloc(opaque_size(200 * KiB));
  free(big);
  CHECKM(cached_now() == 0, "tcache_count set to 0: %llu bytes still cached", cached_now());
  alloc_free(32, 64);
  CHECKM(cached_now() == 0, "tcache_count set to 0: %llu bytes cached by new frees", cached_now());
  CHECKM(p_option_set("tcache_count", -1) == 0, "depot_option_set(tcache_count, -1) refused");
  big = malloc(opaque_size(200 * KiB));
  free(big);
  alloc_free(32, 64);
  CHECKM(cached_now() > 0, "tcache_count back to -1: 64-byte frees not cached");
}

static void m_busy(void) {
  /* small, big and trimmed: brk, mmap, munmap, madvise */
  void *big[3];
  for (int i = 0; i < 3; i++) {
    big[i] = malloc(opaque_size(2 * MiB + (size_t)i * MiB));
    memset(big[i], 1, 4096);
  }
  for (int i = 0; i < 3; i++) free(big[i]);
  enum { N = 8192 };
  static void *v[N];
  for (int i = 0; i < N; i++) {
    v[i] = malloc(opaque_size(1000));
    memset(v[i], 2, 1000);
  }
  void *pin = malloc(opaque_size(100));
  for (int i = 0; i < N; i++) free(v[i]);
  malloc_trim(0);
  free(pin);
  depot_stats_t st;
  memset(&st, 0, sizeof st);
  if (p_stats_get) p_stats_get(&st);
  fprintf(stderr, "depot-test: madvise_calls=%llu mmap_total=%llu brk_grows=%llu\n",
          (unsigned long long)st.madvise_calls, (unsigned long long)st.mmap_total,
          (unsigned long long)st.brk_grows);
}

static void m_quiet(void) {
  void *p = malloc(opaque_size(MiB));
  free(p);
  p = malloc(opaque_size(100));
  free(p);
}

static const struct {
  const char *mode;
  void (*fn)(void);
} modes[] = {{"thr_1m", m_thr_1m},         {"thr_64k", m_thr_64k},   {"mmap_max0", m_mmap_max0},
             {"trim_high", m_trim_high},   {"trim_low", m_trim_low}, {"top_pad", m_top_pad},
             {"arena_max1", m_arena_max1}, {"arena_test", m_arena_test},
             {"perturb", m_perturb},       {"busy", m_busy},         {"quiet", m_quiet},
             {"tc_off", m_tc_off},         {"tc_count3", m_tc_count3}, {"tc_max1k", m_tc_max1k},
             {"tunables", m_tunables},     {"tunables_lose", m_tunables_lose},
             {"tc_runtime", m_tc_runtime}};

/* --------------------------------------------------------------- parent */

static char err[1 << 20];

static int run_case(const char *mode, const char *var) {
  const char *env[] = {var, NULL};
  int st = run_self(mode, var ? env : NULL, err, sizeof err);
  int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  CHECKM(ok, "%s (%s): child %s; its stderr:\n%.3000s", var ? var : "no variable", mode,
         status_desc(st), err);
  return ok;
}

static int run_case2(const char *mode, const char *var1, const char *var2, const char *var3) {
  const char *env[] = {var1, var2, var3, NULL};
  int st = run_self(mode, env, err, sizeof err);
  int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  CHECKM(ok, "%s %s %s (%s): child %s; its stderr:\n%.3000s", var1, var2, var3 ? var3 : "", mode,
         status_desc(st), err);
  return ok;
}

static int count_lines(const char *text, const char *word, int *not_depot) {
  int n = 0;
  *not_depot = 0;
  for (const char *line = text; *line;) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < 511 ? len : 511), line);
    if (len > 0 && strncmp(buf, "depot-test:", 11) != 0) {
      if (strncmp(buf, "depot: ", 7) != 0) (*not_depot)++;
      /* the word on its own, not inside another (mmap vs munmap, brk) */
      for (const char *s = strstr(buf, word); s; s = strstr(s + 1, word)) {
        char before = s == buf ? ' ' : s[-1];
        if (!((before >= 'a' && before <= 'z') || before == '_')) {
          n++;
          break;
        }
      }
    }
    if (!eol) break;
    line = eol + 1;
  }
  return n;
}

int main(int argc, char **argv) {
  t_name = "depot_env";
  p_option_get = (long (*)(const char *))dlsym(RTLD_DEFAULT, "depot_option_get");
  p_stats_get = (int (*)(depot_stats_t *))dlsym(RTLD_DEFAULT, "depot_stats_get");
  p_option_set = (int (*)(const char *, long))dlsym(RTLD_DEFAULT, "depot_option_set");
  if (argc > 1) { /* child */
    t_name = argv[1];
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
      if (strcmp(argv[1], modes[i].mode) == 0) {
        modes[i].fn();
        fflush(stderr);
        return t_failures ? 1 : 0; /* exit through main: atexit reports run */
      }
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  if (!have_depot()) t_skip("depot is not the allocator of this process");
  REQUIRE(p_option_get != NULL);

  run_case("thr_1m", "DEPOT_MMAP_THRESHOLD=1048576");
  run_case("thr_64k", "DEPOT_MMAP_THRESHOLD=65536");
  run_case("mmap_max0", "DEPOT_MMAP_MAX=0");
  run_case("trim_high", "DEPOT_TRIM_THRESHOLD=268435456");
  run_case("trim_low", "DEPOT_TRIM_THRESHOLD=65536");
  run_case("top_pad", "DEPOT_TOP_PAD=16777216");
  run_case("arena_max1", "DEPOT_ARENA_MAX=1");
  run_case("arena_test", "DEPOT_ARENA_TEST=3");
  run_case("perturb", "DEPOT_PERTURB=165");
  run_case("tc_off", "DEPOT_TCACHE_COUNT=0");
  run_case("tc_count3", "DEPOT_TCACHE_COUNT=3");
  run_case("tc_max1k", "DEPOT_TCACHE_MAX=1024");
  run_case("tc_runtime", NULL);
  run_case("tunables", "GLIBC_TUNABLES=glibc.malloc.check=0:glibc.malloc.tcache_count=0:"
                       "glibc.malloc.mmap_threshold=65536");
  run_case2("tunables_lose", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.top_pad=65536",
            "DEPOT_TCACHE_COUNT=5", "MALLOC_TOP_PAD_=1048576");
  run_case("quiet", "GLIBC_TUNABLES=glibc.malloc.tcache_count=:glibc.malloc.=5:glibc.malloc");

  /* nonsense values do not break the start */
  run_case("quiet", "DEPOT_MMAP_THRESHOLD=lots");
  run_case("quiet", "DEPOT_TRIM_THRESHOLD=-5");
  run_case("quiet", "DEPOT_ARENA_MAX=");

  /* no variable: nothing on stderr */
  if (run_case("quiet", NULL))
    CHECKM(err[0] == 0, "without DEPOT_REPORT/DEPOT_TRACE stderr is not empty: %.300s", err);

  /* DEPOT_REPORT=1: a report at exit */
  if (run_case("quiet", "DEPOT_REPORT=1")) {
    CHECKM(strstr(err, "depot") != NULL, "DEPOT_REPORT=1: stderr has no 'depot': '%.300s'",
           err);
    CHECKM(strlen(err) > 40, "DEPOT_REPORT=1: report is only %zu bytes", strlen(err));
  }

  /* DEPOT_TRACE=1: a line per OS call */
  if (run_case("busy", "DEPOT_TRACE=1")) {
    int bad = 0, b2;
    int n_mmap = count_lines(err, "mmap", &bad);
    int n_munmap = count_lines(err, "munmap", &b2);
    int n_brk = count_lines(err, "brk", &b2);
    int n_madvise = count_lines(err, "madvise", &b2);
    unsigned long long madv = 0, mmaps = 0, grows = 0;
    const char *info = strstr(err, "depot-test: ");
    if (info)
      sscanf(info, "depot-test: madvise_calls=%llu mmap_total=%llu brk_grows=%llu", &madv,
             &mmaps, &grows);
    printf("trace: %d mmap, %d munmap, %d brk, %d madvise lines; stats: %llu madvise, %llu "
           "mmap_total, %llu brk_grows\n",
           n_mmap, n_munmap, n_brk, n_madvise, madv, mmaps, grows);
    CHECKM(bad == 0, "DEPOT_TRACE=1: %d stderr lines do not start with 'depot: '", bad);
    CHECKM(n_mmap >= 3, "DEPOT_TRACE=1: %d mmap lines for 3 big blocks", n_mmap);
    CHECKM(n_munmap >= 3, "DEPOT_TRACE=1: %d munmap lines for 3 freed big blocks", n_munmap);
    CHECKM(n_brk >= 1, "DEPOT_TRACE=1: no brk line although the heap grew");
    CHECKM(n_brk >= (int)grows, "DEPOT_TRACE=1: %d brk lines, stats brk_grows %llu", n_brk,
           grows);
    CHECKM(madv == 0 || n_madvise >= 1, "DEPOT_TRACE=1: %llu madvise calls, no madvise line",
           madv);
    if (t_failures) fprintf(stderr, "trace output:\n%.4000s\n", err);
  }
  return t_done();
}
