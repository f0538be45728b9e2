/* dlopen_ctor: dlopen of a library that allocates in its constructor.
 *
 * tests/dlopen_lib.c is loaded (RTLD_NOW) and unloaded ROUNDS times, one
 * round from a second thread.  Its constructor allocates small, medium and
 * large blocks (malloc, calloc, a realloc chain, aligned) and starts and
 * joins a thread that allocates; it keeps some blocks in a table.  Each
 * round, the main program:
 *   - checks the constructor's own checks (dl_status) and that it ran once;
 *   - checks every kept block's contents, here and in the library, and that
 *     malloc_usable_size here says what it said there;
 *   - on depot: the library's malloc is depot's (dladdr: the object that
 *     holds depot_stats_get), and depot_stats_get saw the loading: calls
 *     counted, large blocks mapped, a thread cache made, the kept bytes in
 *     use;
 *   - frees some of the library's blocks itself, reallocs one, and hands
 *     blocks of its own to the library to free, realloc and keep;
 *   - takes an orphan block that outlives dlclose (freed a round later);
 *   - dlcloses: the destructor checks and frees what is left and reports;
 *     the library is gone (RTLD_NOLOAD), and on depot nothing leaked (the
 *     bytes in use and the mapped blocks are back where they were).
 * The mmap threshold is fixed at 128 KiB (mallopt), so that the large
 * blocks are mapped in every round. */
#include "common.h"

#if defined(__SANITIZE_THREAD__)
#define LIBNAME "dlopen_lib.tsan.so"
#elif defined(__SANITIZE_ADDRESS__)
#define LIBNAME "dlopen_lib.asan.so"
#else
#define LIBNAME "dlopen_lib.so"
#endif

#define ROUNDS 8
#define THREAD_ROUND 5 /* this round loads and unloads from another thread */

static char libpath[4096];

struct lib {
  int (*status)(void);
  int (*ctor_runs)(void);
  unsigned long (*nalloc)(void);
  int (*nlarge)(void);
  int (*nkept)(void);
  void (*set_report)(int *);
  void *(*malloc_addr)(void);
  void *(*kept)(int, size_t *, size_t *, uint32_t *);
  int (*verify)(void);
  void *(*take)(int);
  void (*put)(void *, size_t, uint32_t);
  void (*free)(void *);
  void *(*realloc)(void *, size_t);
  void *(*orphan)(size_t *, uint32_t *);
};

static void *sym(void *h, const char *name) {
  void *f = dlsym(h, name);
  CHECKM(f != NULL, "dlsym(%s): %s", name, dlerror());
  return f;
}

static int depot; /* depot is the allocator (checks of its statistics) */
static int (*stats_get)(depot_stats_t *);

static void stats(depot_stats_t *s) {
  memset(s, 0, sizeof *s);
  if (stats_get) stats_get(s);
}

/* orphans: blocks the library allocated and gave away before its dlclose */
static struct {
  void *p;
  size_t size;
  uint32_t seed;
} orphans[ROUNDS];
static int norphans;

static size_t orphans_bytes(int *nlarge) {
  size_t b = 0;
  *nlarge = 0;
  for (int i = 0; i < norphans; i++) {
    if (!orphans[i].p) continue;
    b += orphans[i].size;
    if (orphans[i].size >= 128 * KiB) (*nlarge)++;
  }
  return b;
}

static void round_body(int r) {
  char rs[16];
  snprintf(rs, sizeof rs, "%d", r);
  setenv("DLOPEN_ROUND", rs, 1);

  depot_stats_t s0, s1, s2;
  stats(&s0);
  void *h = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
  stats(&s1);
  if (!h) {
    CHECKM(h != NULL, "round %d: dlopen(%s): %s", r, libpath, dlerror());
    return;
  }
  struct lib L = {
      .status = (int (*)(void))sym(h, "dl_status"),
      .ctor_runs = (int (*)(void))sym(h, "dl_ctor_runs"),
      .nalloc = (unsigned long (*)(void))sym(h, "dl_nalloc"),
      .nlarge = (int (*)(void))sym(h, "dl_nlarge"),
      .nkept = (int (*)(void))sym(h, "dl_nkept"),
      .set_report = (void (*)(int *))sym(h, "dl_set_report"),
      .malloc_addr = (void *(*)(void))sym(h, "dl_malloc_addr"),
      .kept = (void *(*)(int, size_t *, size_t *, uint32_t *))sym(h, "dl_kept"),
      .verify = (int (*)(void))sym(h, "dl_verify"),
      .take = (void *(*)(int))sym(h, "dl_take"),
      .put = (void (*)(void *, size_t, uint32_t))sym(h, "dl_put"),
      .free = (void (*)(void *))sym(h, "dl_free"),
      .realloc = (void *(*)(void *, size_t))sym(h, "dl_realloc"),
      .orphan = (void *(*)(size_t *, uint32_t *))sym(h, "dl_orphan"),
  };
  REQUIRE(L.status && L.ctor_runs && L.nalloc && L.nlarge && L.nkept && L.set_report &&
          L.malloc_addr && L.kept && L.verify && L.take && L.put && L.free && L.realloc &&
          L.orphan);

  CHECKM(L.status() == 0, "round %d: the constructor's check at tests/dlopen_lib.c:%d failed", r,
         L.status());
  CHECKM(L.ctor_runs() == 1, "round %d: constructor ran %d times in this load", r, L.ctor_runs());
  int n = L.nkept();
  CHECKM(n >= 40, "round %d: only %d blocks kept", r, n);

  /* every kept block: contents and usable size, seen from here */
  size_t kept_bytes = 0;
  for (int i = 0; i < n; i++) {
    size_t size = 0, usable = 0;
    uint32_t seed = 0;
    void *p = L.kept(i, &size, &usable, &seed);
    CHECKM(p != NULL, "round %d: block %d missing", r, i);
    if (!p) continue;
    kept_bytes += size;
    size_t bad = pat_check(p, size, seed);
    CHECKM(bad == (size_t)-1, "round %d: block %d (%zu B) wrong at byte %zu", r, i, size, bad);
    size_t u = malloc_usable_size(p);
    CHECKM(u == usable && u >= size,
           "round %d: block %d: malloc_usable_size %zu here, %zu in the library, request %zu", r,
           i, u, usable, size);
  }
  CHECKM(L.verify() == 0, "round %d: the library finds %d blocks wrong", r, L.verify());

  if (depot) {
    /* the library's malloc is depot's */
    Dl_info a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int ok = dladdr(L.malloc_addr(), &a) && dladdr((void *)stats_get, &b) && a.dli_fname &&
             b.dli_fname && strcmp(a.dli_fname, b.dli_fname) == 0;
    CHECKM(ok, "round %d: the library's malloc is in %s, depot_stats_get in %s", r,
           a.dli_fname ? a.dli_fname : "?", b.dli_fname ? b.dli_fname : "?");
    /* and depot saw the constructor's work */
    CHECKM(s1.malloc_calls - s0.malloc_calls >= L.nalloc(),
           "round %d: depot counted %llu malloc calls during dlopen, the library made %lu", r,
           (unsigned long long)(s1.malloc_calls - s0.malloc_calls), L.nalloc());
    CHECKM(s1.mmap_total - s0.mmap_total >= (uint64_t)L.nlarge(),
           "round %d: depot mapped %llu large blocks during dlopen, the library asked for %d", r,
           (unsigned long long)(s1.mmap_total - s0.mmap_total), L.nlarge());
    CHECKM(s1.threads_total > s0.threads_total,
           "round %d: the constructor's thread got no depot thread cache (threads_total %llu)", r,
           (unsigned long long)s1.threads_total);
    CHECKM(s1.in_use_bytes >= s0.in_use_bytes + kept_bytes - 16 * KiB,
           "round %d: in use %llu -> %llu B, the library keeps %zu B", r,
           (unsigned long long)s0.in_use_bytes, (unsigned long long)s1.in_use_bytes, kept_bytes);
  }

  /* the main program frees every third block, and reallocs one */
  for (int i = 0; i < n; i += 3) {
    size_t size = 0, usable = 0;
    uint32_t seed = 0;
    if (!L.kept(i, &size, &usable, &seed)) continue;
    void *p = L.take(i);
    if (i == 6) {
      unsigned char *q = realloc(p, size + 50000);
      CHECKM(q != NULL, "round %d: realloc of the library's block %d", r, i);
      if (!q) continue;
      CHECKM(pat_check(q, size, seed) == (size_t)-1, "round %d: realloc lost block %d", r, i);
      p = q;
    }
    free(p);
  }
  CHECKM(L.verify() == 0, "round %d: after the main program's frees, %d blocks wrong", r,
         L.verify());

  /* blocks of the main program's, freed, realloc'd and kept by the library */
  static const size_t msz[5] = {40, 1500, 20000, 131072 + 4096, 300000};
  for (int i = 0; i < 5; i++) {
    size_t size = msz[i] + (size_t)r;
    uint32_t seed = 0x7000u + (uint32_t)(r * 10 + i);
    void *p = malloc(opaque_size(size));
    REQUIRE(p != NULL);
    pat_fill(p, size, seed);
    if (i == 0 || i == 3) {
      L.free(p);
    } else if (i == 1) {
      unsigned char *q = L.realloc(p, opaque_size(size * 100)); /* to a mapping */
      CHECKM(q != NULL && pat_check(q, size, seed) == (size_t)-1,
             "round %d: the library's realloc of a main block", r);
      if (q) {
        q = L.realloc(q, 64);
        CHECKM(q != NULL && pat_check(q, 64, seed) == (size_t)-1,
               "round %d: the library's realloc back down", r);
        free(q);
      }
    } else {
      L.put(p, size, seed); /* the destructor frees it */
    }
  }
  CHECKM(L.status() == 0, "round %d: dl_put failed at tests/dlopen_lib.c:%d", r, L.status());

  /* an orphan: allocated by the library, freed after it is gone */
  REQUIRE(norphans < ROUNDS);
  orphans[norphans].p = L.orphan(&orphans[norphans].size, &orphans[norphans].seed);
  CHECKM(orphans[norphans].p != NULL, "round %d: no orphan", r);
  norphans++;

  /* dlclose: the destructor checks and frees the rest */
  int left = 0;
  for (int i = 0; i < L.nkept(); i++) {
    size_t size, usable;
    uint32_t seed;
    if (L.kept(i, &size, &usable, &seed)) left++;
  }
  int rep[3] = {-1, -1, 0};
  L.set_report(rep);
  CHECKM(dlclose(h) == 0, "round %d: dlclose: %s", r, dlerror());
  CHECKM(rep[2] == 1, "round %d: the destructor did not run", r);
  CHECKM(rep[0] == left && rep[1] == 0,
         "round %d: the destructor freed %d blocks (expected %d), %d of them wrong", r, rep[0],
         left, rep[1]);
  void *again = dlopen(libpath, RTLD_NOW | RTLD_NOLOAD);
  CHECKM(again == NULL, "round %d: the library is still loaded after dlclose", r);
  if (again) dlclose(again);

  /* the orphans outlive the library; the one of two rounds ago is freed */
  for (int i = 0; i < norphans; i++) {
    if (!orphans[i].p) continue;
    CHECKM(pat_check(orphans[i].p, orphans[i].size, orphans[i].seed) == (size_t)-1 &&
               malloc_usable_size(orphans[i].p) >= orphans[i].size,
           "round %d: orphan of round %d corrupted", r, i);
    if (i <= norphans - 3) {
      free(orphans[i].p);
      orphans[i].p = NULL;
    }
  }

  if (depot) {
    /* nothing of the library's is left but the orphans */
    int large_orphans = 0;
    size_t ob = orphans_bytes(&large_orphans);
    stats(&s2);
    CHECKM(s2.in_use_bytes <= s0.in_use_bytes + ob + 64 * KiB,
           "round %d: in use %llu B before dlopen, %llu B after dlclose (orphans %zu B): a leak",
           r, (unsigned long long)s0.in_use_bytes, (unsigned long long)s2.in_use_bytes, ob);
    CHECKM(s2.mmap_count <= s0.mmap_count + (uint64_t)large_orphans,
           "round %d: %llu large blocks mapped before dlopen, %llu after dlclose (%d orphans)", r,
           (unsigned long long)s0.mmap_count, (unsigned long long)s2.mmap_count, large_orphans);
  }
}

static void *round_thread(void *arg) {
  round_body((int)(intptr_t)arg);
  return NULL;
}

int main(void) {
  t_name = "dlopen_ctor";
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  REQUIRE(len > 0);
  exe[len] = 0;
  char *slash = strrchr(exe, '/');
  REQUIRE(slash != NULL);
  *slash = 0;
  const char *env = getenv("DLOPEN_LIB");
  snprintf(libpath, sizeof libpath, "%s/%s", exe, LIBNAME);
  if (env && *env) snprintf(libpath, sizeof libpath, "%s", env);
  if (access(libpath, R_OK) != 0) {
    fprintf(stderr, "dlopen_ctor: %s not found (tests/run.sh builds it)\n", libpath);
    return 1;
  }

  REQUIRE(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
  depot = depot_only("depot_stats_get counts during dlopen, dladdr of the library's malloc");
  if (depot) {
    /* the same name in the prefixed build (linked with -rdynamic) */
    stats_get = (int (*)(depot_stats_t *))dlsym(RTLD_DEFAULT, "depot_stats_get");
    REQUIRE(stats_get != NULL);
  }

  for (int r = 0; r < ROUNDS; r++) {
    if (r == THREAD_ROUND) {
      /* no check of this thread's runs until it is joined (t_checks) */
      pthread_t th;
      int e = pthread_create(&th, NULL, round_thread, (void *)(intptr_t)r);
      if (e == 0) e = pthread_join(th, NULL);
      REQUIRE(e == 0);
    } else {
      round_body(r);
    }
  }
  for (int i = 0; i < norphans; i++) {
    if (!orphans[i].p) continue;
    CHECKM(pat_check(orphans[i].p, orphans[i].size, orphans[i].seed) == (size_t)-1,
           "orphan of round %d corrupted at the end", i);
    free(orphans[i].p);
  }
  printf("dlopen_ctor: %d rounds of dlopen/dlclose of %s\n", ROUNDS, LIBNAME);
  return t_done();
}
