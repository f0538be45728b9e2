/*
 * common.h - tiny helpers shared by depot's C tests.
 *
 *   CHECK(cond)            non-fatal check; prints file:line and the expression
 *   CHECKM(cond, fmt, ...) same, with a detail line (values seen)
 *   REQUIRE(cond)          fatal check: prints and exits 1
 *   t_done()               exit status for main(): 0 when every check held
 *   t_skip(reason)         prints "SKIP: reason" and exits 77
 *
 * Helpers never call malloc themselves (they read /proc with open/read into
 * static buffers), so that measuring the heap does not disturb it.
 *
 * Build modes (set by tests/run.sh):
 *   default            plain program: LD_PRELOAD=build/libdepot.so, linked with
 *                      build/libdepot.a (-rdynamic), or run on glibc
 *   DEPOT_PREFIX_TEST  linked with build/prefix/libdepot.a under a sanitizer;
 *                      tests/depot_prefix.h maps malloc -> depot_malloc, ...
 */
#ifndef DEPOT_TEST_COMMON_H
#define DEPOT_TEST_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "depot.h"

#ifdef DEPOT_PREFIX_TEST
#include "depot_prefix.h"
#endif

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define T_SANITIZED 1
#else
#define T_SANITIZED 0
#endif

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

/* ------------------------------------------------------------------ checks */

static int t_checks;
static int t_failures;
static const char *t_name = "test";

static void t_report(const char *file, int line, const char *expr) {
  fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
  fflush(stderr);
}

#define CHECK(cond)                                                            \
  do {                                                                         \
    t_checks++;                                                                \
    if (!(cond)) {                                                             \
      t_failures++;                                                            \
      t_report(__FILE__, __LINE__, #cond);                                     \
    }                                                                          \
  } while (0)

#define CHECKM(cond, ...)                                                      \
  do {                                                                         \
    t_checks++;                                                                \
    if (!(cond)) {                                                             \
      t_failures++;                                                            \
      t_report(__FILE__, __LINE__, #cond);                                     \
      fprintf(stderr, "    ");                                                 \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
      fflush(stderr);                                                          \
    }                                                                          \
  } while (0)

#define REQUIRE(cond)                                                          \
  do {                                                                         \
    t_checks++;                                                                \
    if (!(cond)) {                                                             \
      t_report(__FILE__, __LINE__, #cond);                                     \
      fprintf(stderr, "    (fatal)\n");                                        \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

static inline int t_done(void) {
  printf("%s: %d checks, %d failed\n", t_name, t_checks, t_failures);
  fflush(stdout);
  return t_failures ? 1 : 0;
}

static inline void t_skip(const char *why) {
  printf("SKIP: %s\n", why);
  fflush(stdout);
  exit(77);
}

/* Keep the compiler from reasoning about sizes and pointers. */
static inline size_t opaque_size(size_t n) {
  volatile size_t v = n;
  return v;
}
static inline void *opaque_ptr(void *p) {
  void *volatile v = p;
  return v;
}

/* n blocks of sz bytes into v, each written with byte (so it is resident);
 * a refused malloc ends the test */
static inline void t_alloc_filled(void **v, int n, size_t sz, int byte) {
  for (int i = 0; i < n; i++) {
    v[i] = malloc(opaque_size(sz));
    REQUIRE(v[i] != NULL);
    memset(v[i], byte, sz);
  }
}

static inline int is_aligned(const void *p, size_t a) {
  return ((uintptr_t)p & (a - 1)) == 0;
}

/* Fill / verify a block with a pattern derived from a seed. */
static inline unsigned char pat_byte(uint32_t seed, size_t i) {
  uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u + (uint32_t)(i >> 8);
  return (unsigned char)(x ^ (x >> 13) ^ (x >> 24));
}
static inline void pat_fill(void *p, size_t n, uint32_t seed) {
  unsigned char *c = (unsigned char *)p;
  for (size_t i = 0; i < n; i++) c[i] = pat_byte(seed, i);
}
/* Returns the index of the first wrong byte, or (size_t)-1 when all match. */
static inline size_t pat_check(const void *p, size_t n, uint32_t seed) {
  const unsigned char *c = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (c[i] != pat_byte(seed, i)) return i;
  return (size_t)-1;
}
static inline int all_bytes(const void *p, size_t n, unsigned char v) {
  const unsigned char *c = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (c[i] != v) return 0;
  return 1;
}

/* --------------------------------------------------------- finding symbols */

/* Is depot the allocator of this process? */
static inline int have_depot(void) {
#ifdef DEPOT_PREFIX_TEST
  return 1;
#else
  return dlsym(RTLD_DEFAULT, "depot_stats_get") != NULL;
#endif
}

/* For checks of depot's own promises where glibc behaves differently (the
 * tests also run on plain glibc while depot is being written): returns 1
 * when depot is the allocator, else prints a note and returns 0. */
static inline int depot_only(const char *what) {
  if (have_depot()) return 1;
  printf("note: depot-specific check skipped on glibc: %s\n", what);
  return 0;
}

/* Look up an allocator entry point by its standard name (free_sized, cfree,
 * ...): the preloaded or linked (-rdynamic) depot first, NULL when absent. */
static inline void *t_lookup(const char *name) {
#ifdef DEPOT_PREFIX_TEST
  char buf[128];
  snprintf(buf, sizeof buf, "depot_%s", name);
  return dlsym(RTLD_DEFAULT, buf);
#else
  return dlsym(RTLD_DEFAULT, name);
#endif
}

/* depot's statistics now (depot_stats_get keeps its name in every build):
 * 1 when filled in, 0 when depot is not the allocator. */
static inline int t_depot_stats(depot_stats_t *st) {
  int (*fn)(depot_stats_t *) = (int (*)(depot_stats_t *))dlsym(RTLD_DEFAULT, "depot_stats_get");
  if (!fn) return 0;
  memset(st, 0, sizeof *st);
  return fn(st) == 0;
}

/* ------------------------------------------------------- reading /proc */

static char t_procbuf[1 << 20];

/* Read a whole /proc file into t_procbuf without calling malloc. */
static inline ssize_t t_read_proc(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, t_procbuf + len, sizeof t_procbuf - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    if (len >= sizeof t_procbuf - 1) break;
  }
  close(fd);
  t_procbuf[len] = 0;
  return (ssize_t)len;
}

struct t_map {
  uintptr_t start, end;
  char perms[5];
  unsigned long inode;
  char name[128];
};

/* Find the /proc/self/maps line covering address a.  Returns 1 if found. */
static inline int map_find(const void *a, struct t_map *out) {
  uintptr_t addr = (uintptr_t)a;
  if (t_read_proc("/proc/self/maps") < 0) return 0;
  char *line = t_procbuf;
  while (*line) {
    char *eol = strchr(line, '\n');
    if (eol) *eol = 0;
    char *s = line;
    uintptr_t start = strtoull(s, &s, 16);
    if (*s == '-') s++;
    uintptr_t end = strtoull(s, &s, 16);
    if (addr >= start && addr < end) {
      out->start = start;
      out->end = end;
      while (*s == ' ') s++;
      memcpy(out->perms, s, 4);
      out->perms[4] = 0;
      s += 4;
      /* offset, dev, inode, name */
      while (*s == ' ') s++;
      strtoull(s, &s, 16);
      while (*s == ' ') s++;
      while (*s && *s != ' ') s++;
      while (*s == ' ') s++;
      out->inode = strtoul(s, &s, 10);
      while (*s == ' ') s++;
      snprintf(out->name, sizeof out->name, "%s", s);
      return 1;
    }
    if (!eol) break;
    line = eol + 1;
  }
  return 0;
}

static inline int is_mapped(const void *p) {
  struct t_map m;
  return map_find(p, &m);
}

/* Is p inside the brk heap (the [heap] line of /proc/self/maps)? */
static inline int in_heap(const void *p) {
  struct t_map m;
  return map_find(p, &m) && strcmp(m.name, "[heap]") == 0;
}

/* Is p inside an anonymous read-write mapping that is not the [heap]? */
static inline int in_anon_mapping(const void *p, struct t_map *out) {
  struct t_map m;
  if (!map_find(p, &m)) return 0;
  if (out) *out = m;
  return strcmp(m.name, "[heap]") != 0 && m.inode == 0 &&
         strncmp(m.perms, "rw", 2) == 0 && m.name[0] != '/';
}

static inline const char *map_desc(const void *p) {
  static char buf[256];
  struct t_map m;
  if (!map_find(p, &m)) {
    snprintf(buf, sizeof buf, "%p: not mapped", p);
  } else {
    snprintf(buf, sizeof buf, "%p in %lx-%lx %s inode=%lu name='%s'", p,
             (unsigned long)m.start, (unsigned long)m.end, m.perms, m.inode,
             m.name);
  }
  return buf;
}

/* The [heap] line of /proc/self/maps: returns 1 and its range if present. */
static inline int heap_range(uintptr_t *lo, uintptr_t *hi) {
  if (t_read_proc("/proc/self/maps") < 0) return 0;
  char *line = t_procbuf;
  while (*line) {
    char *eol = strchr(line, '\n');
    if (eol) *eol = 0;
    size_t len = strlen(line);
    if (len >= 6 && strcmp(line + len - 6, "[heap]") == 0) {
      char *s = line;
      *lo = strtoull(s, &s, 16);
      if (*s == '-') s++;
      *hi = strtoull(s, &s, 16);
      return 1;
    }
    if (!eol) break;
    line = eol + 1;
  }
  return 0;
}

/* Resident set size in bytes, from /proc/self/statm. */
static inline size_t rss_bytes(void) {
  if (t_read_proc("/proc/self/statm") < 0) return 0;
  char *s = t_procbuf;
  strtoul(s, &s, 10);
  unsigned long res = strtoul(s, &s, 10);
  return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static inline uintptr_t cur_brk(void) { return (uintptr_t)sbrk(0); }

/* ------------------------------------------------------------ children */

/* Run fn in a forked child; returns the raw wait status.  The child exits
 * 1 when one of its checks failed, 0 otherwise. */
static inline int run_child(void (*fn)(void *), void *arg) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    t_failures = 0;
    fn(arg);
    fflush(stdout);
    fflush(stderr);
    _exit(t_failures ? 1 : 0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

static inline const char *status_desc(int st) {
  static char buf[64];
  if (WIFEXITED(st))
    snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(buf, sizeof buf, "signal %d (%s)", WTERMSIG(st),
             strsignal(WTERMSIG(st)));
  else
    snprintf(buf, sizeof buf, "status 0x%x", st);
  return buf;
}

/* A sub-test run in a fresh fork: the child's own checks decide its exit
 * status, so sticky settings (mallopt) do not leak into later sub-tests. */
#define SUBTEST(fn)                                                            \
  do {                                                                         \
    int st_ = run_child(fn, NULL);                                             \
    t_checks++;                                                                \
    if (!(WIFEXITED(st_) && WEXITSTATUS(st_) == 0)) {                          \
      t_failures++;                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: subtest %s: %s\n", __FILE__,       \
              __LINE__, #fn, status_desc(st_));                                \
    }                                                                          \
  } while (0)

/* Re-run this program (/proc/self/exe) with argv[1] = mode and extra
 * environment assignments ("NAME=value", NULL-terminated), capturing its
 * stderr into buf.  Returns the wait status. */
static inline int run_self(const char *mode, const char *const *env, char *buf,
                           size_t bufsz) {
  int pfd[2];
  if (pipe(pfd) != 0) return -1;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    close(pfd[0]);
    dup2(pfd[1], 2);
    close(pfd[1]);
    for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) _exit(126);
    exe[n] = 0;
    char *argv[] = {exe, (char *)mode, NULL};
    execv(exe, argv);
    _exit(127);
  }
  close(pfd[1]);
  size_t len = 0;
  for (;;) {
    char tmp[4096];
    ssize_t n = read(pfd[0], tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t take = (size_t)n;
    if (buf && len + take > bufsz - 1) take = bufsz - 1 - len;
    if (buf) memcpy(buf + len, tmp, take);
    len += take;
  }
  if (buf) buf[len] = 0;
  close(pfd[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

#endif /* DEPOT_TEST_COMMON_H */
