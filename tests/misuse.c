/* misuse: depot's answer to heap misuse.  Each case runs in a child process
 * (fork, then the child misuses); the parent checks that the child died by
 * SIGABRT and that its stderr is ONE line, starting with "depot: ", naming
 * the fault ("double free" / "invalid pointer"), the function, and the
 * pointer exactly as %p prints it (e.g.
 * "depot: free(): double free of 0x55d0c2a1e010").
 *
 * The use-after-free case overwrites the first 8 bytes of a freed small block
 * with an attacker address; the mallocs that follow must not return that
 * address: depot either aborts with a "depot: " line or returns other memory.
 *
 * Run on plain glibc (no depot), the results are only printed. */
#include "common.h"

#include <dlfcn.h>

static int info_fd = -1; /* child -> parent: the pointer(s), one per line */

static void tell_ptr(const void *p) {
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%p\n", p);
  if (write(info_fd, buf, (size_t)n) != n) _exit(98);
}

static char global_buf[256] __attribute__((aligned(64)));
static char attacker_target[512] __attribute__((aligned(64)));

/* ------------------------------------------------------------- the cases */

static void c_double_free_small(void) {
  void *p = malloc(opaque_size(64));
  memset(p, 1, 64);
  tell_ptr(p);
  free(p);
  free(opaque_ptr(p));
}

static void c_double_free_small_between(void) {
  void *p = malloc(opaque_size(48));
  void *q = malloc(opaque_size(48));
  tell_ptr(p);
  free(p);
  free(q);
  free(opaque_ptr(p));
}

static void *free_in_thread(void *p) {
  free(p);
  return NULL;
}
static void c_double_free_other_thread(void) {
  void *p = malloc(opaque_size(64));
  /* a block above p: a freed block that borders the top chunk merges into
   * it at once, and pthread_create's own allocations could then be handed
   * p again, making the second free a legal one */
  void *guard = malloc(opaque_size(64));
  (void)guard;
  tell_ptr(p);
  free(p); /* into this thread's cache */
  pthread_t t;
  if (pthread_create(&t, NULL, free_in_thread, p) != 0) _exit(97);
  pthread_join(t, NULL);
}

static void c_double_free_20k(void) {
  void *keep = malloc(opaque_size(20000));
  void *p = malloc(opaque_size(20000));
  void *guard = malloc(opaque_size(100));
  (void)keep;
  (void)guard;
  tell_ptr(p);
  free(p);
  free(opaque_ptr(p));
}

/* The thread is started before the first free: pthread_create allocates
 * (its TLS block), and it could be given the just-freed 20000 bytes,
 * which would make the second free a legal free of glibc's block. */
static void *free_when_told(void *arg) {
  int *fds = arg;
  void *p;
  if (read(fds[0], &p, sizeof p) != (ssize_t)sizeof p) _exit(96);
  free(opaque_ptr(p));
  return NULL;
}
static void c_double_free_20k_other_thread(void) {
  static int fds[2];
  if (pipe(fds) != 0) _exit(95);
  pthread_t t;
  if (pthread_create(&t, NULL, free_when_told, fds) != 0) _exit(97);
  void *p = malloc(opaque_size(20000));
  void *guard = malloc(opaque_size(100));
  (void)guard;
  tell_ptr(p);
  free(p);
  if (write(fds[1], &p, sizeof p) != (ssize_t)sizeof p) _exit(94);
  pthread_join(t, NULL);
}

/* the first free's block has left the thread cache (many frees of the same
 * size after it) before the second free */
static void *freed_then_flushed(void) {
  enum { M = 4000 };
  static void *others[M];
  void *p = malloc(opaque_size(64));
  for (int i = 0; i < M; i++) others[i] = malloc(opaque_size(64));
  tell_ptr(p);
  free(p);
  for (int i = 0; i < M; i++) free(others[i]);
  return opaque_ptr(p);
}

static void c_double_free_after_flush(void) { free(freed_then_flushed()); }

static void c_double_free_medium(void) {
  void *keep = malloc(opaque_size(5000));
  void *p = malloc(opaque_size(5000));
  void *guard = malloc(opaque_size(100));
  (void)keep;
  (void)guard;
  tell_ptr(p);
  free(p);
  free(opaque_ptr(p));
}

static void c_double_free_big(void) {
  void *p = malloc(opaque_size(MiB));
  memset(p, 2, MiB);
  tell_ptr(p);
  free(p);
  free(opaque_ptr(p));
}

static void c_free_stack(void) {
  char buf[256] __attribute__((aligned(64)));
  memset(buf, 0, sizeof buf);
  void *p = opaque_ptr(buf + 64);
  tell_ptr(p);
  free(p);
  /* keep buf alive across the call */
  __asm__ volatile("" : : "r"(buf) : "memory");
}

static void c_free_global(void) {
  void *p = opaque_ptr(global_buf + 64);
  tell_ptr(p);
  free(p);
}

static void c_free_interior(void) {
  char *p = malloc(opaque_size(64));
  memset(p, 0, 64);
  void *bad = opaque_ptr(p + 16);
  tell_ptr(bad);
  free(bad);
}

/* the word before p + 16 has bit 63 set, as every header tag has
 * (src/chunk.h): the tag check must still refuse it */
static void *interior_after_ff(void) {
  char *p = malloc(opaque_size(64));
  memset(p, 0xff, 64);
  void *bad = opaque_ptr(p + 16);
  tell_ptr(bad);
  return bad;
}

static void c_free_interior_tagbit(void) { free(interior_after_ff()); }

/* q coalesces with p (the thread cache is off, so both go home at once),
 * the joined chunk goes to a bigger block, and q is freed again: its old
 * header, now inside the bigger block, must not vouch for it (5000 bytes:
 * a size free() would cache if it trusted that header) */
static void c_double_free_merged(void) {
  enum { SZ = 5000 };
  int (*option_set)(const char *, long) =
      (int (*)(const char *, long))dlsym(RTLD_DEFAULT, "depot_option_set");
  if (option_set) {
    option_set("tcache_count", 0);
    free(malloc(opaque_size(20000))); /* the cache takes the new limits */
  }
  void *p = malloc(opaque_size(SZ)), *q = malloc(opaque_size(SZ));
  void *guard = malloc(opaque_size(100));
  (void)guard;
  tell_ptr(q);
  free(p);
  free(q); /* joins p: q's header is left as it was, inside the free chunk */
  void *big = malloc(opaque_size(2 * SZ));
  if (option_set) {
    option_set("tcache_count", -1);
    free(malloc(opaque_size(SZ))); /* the cache takes its limits again */
  }
  if (option_set && big != p) /* not the merged chunk: nothing shown, fail loudly */
    _exit(3);
  free(opaque_ptr(q));
}

static void c_free_misaligned(void) {
  char *p = malloc(opaque_size(64));
  memset(p, 0, 64);
  void *bad = opaque_ptr(p + 1);
  tell_ptr(bad);
  free(bad);
}

static void c_free_inside_big(void) {
  char *p = malloc(opaque_size(MiB));
  memset(p, 0, MiB);
  void *bad = opaque_ptr(p + 4096);
  tell_ptr(bad);
  free(bad);
}

static void c_realloc_stack(void) {
  char buf[256] __attribute__((aligned(64)));
  memset(buf, 0, sizeof buf);
  void *p = opaque_ptr(buf + 64);
  tell_ptr(p);
  void *r = realloc(p, opaque_size(100));
  (void)r;
  __asm__ volatile("" : : "r"(buf) : "memory");
}

static void c_realloc_freed(void) {
  void *p = malloc(opaque_size(64));
  tell_ptr(p);
  free(p);
  void *r = realloc(opaque_ptr(p), opaque_size(200));
  (void)r;
}

/* realloc checks the header as free's fast path does, then the pagemap */
static void c_realloc_interior(void) {
  void *r = realloc(interior_after_ff(), opaque_size(200));
  (void)r;
}

static void c_realloc_freed_after_flush(void) {
  void *r = realloc(freed_then_flushed(), opaque_size(200));
  (void)r;
}

/* use after free: the first 8 bytes of a freed block get an attacker
 * address, then mallocs of that size.  Reports: attacker, then each result. */
static void uaf(int frees) {
  void *a = malloc(opaque_size(64));
  void *b = malloc(opaque_size(64));
  void *target = attacker_target + 128;
  tell_ptr(target);
  if (frees == 2) free(a);
  free(b);
  *(void **)opaque_ptr(b) = target; /* the attacker's write */
  for (int i = 0; i < 4; i++) {
    void *p = malloc(opaque_size(64));
    tell_ptr(p);
    if (p == target) break; /* the attacker won */
  }
  _exit(0);
}
static void c_uaf_one(void) { uaf(1); }
static void c_uaf_two(void) { uaf(2); }

/* The same faults in a thread of its own: its blocks come from an mmap'd
 * arena, whose frees read headers through that arena's tag range */
static void *run_fn(void *fn) {
  ((void (*)(void))fn)();
  return NULL;
}
static void in_thread(void (*fn)(void)) {
  pthread_t t;
  if (pthread_create(&t, NULL, run_fn, (void *)fn) != 0) _exit(97);
  pthread_join(t, NULL);
}
static void c_thread_double_free_small(void) { in_thread(c_double_free_small); }
static void c_thread_free_interior(void) { in_thread(c_free_interior); }
static void c_thread_free_interior_tagbit(void) { in_thread(c_free_interior_tagbit); }
static void c_thread_free_misaligned(void) { in_thread(c_free_misaligned); }
static void c_thread_free_stack(void) { in_thread(c_free_stack); }
static void c_thread_realloc_freed(void) { in_thread(c_realloc_freed); }

/* --------------------------------------------------------------- runner */

enum kind { BADPTR, UAF };
struct mcase {
  const char *name;
  void (*fn)(void);
  enum kind kind;
  const char *func;  /* the function the message must name */
  const char *want1; /* the message contains want1 or want2 */
  const char *want2;
};

static const struct mcase cases[] = {
    {"double free of a small block", c_double_free_small, BADPTR, "free", "double free", NULL},
    {"double free of a small block, another free between", c_double_free_small_between,
     BADPTR, "free", "double free", NULL},
    {"double free of a small block from another thread", c_double_free_other_thread, BADPTR,
     "free", "double free", NULL},
    {"double free of a small block after its cache was flushed", c_double_free_after_flush,
     BADPTR, "free", "double free", NULL},
    {"double free of a 5000-byte block", c_double_free_medium, BADPTR, "free", "double free",
     NULL},
    {"double free of a 20000-byte block", c_double_free_20k, BADPTR, "free", "double free",
     NULL},
    {"double free of a 20000-byte block from another thread", c_double_free_20k_other_thread,
     BADPTR, "free", "double free", NULL},
    {"double free of a 1 MiB block", c_double_free_big, BADPTR, "free", "double free",
     "invalid pointer"},
    {"free of a stack address", c_free_stack, BADPTR, "free", "invalid pointer", "double free"},
    {"free of a global", c_free_global, BADPTR, "free", "invalid pointer", "double free"},
    {"free of an interior pointer (p+16 of 64 bytes)", c_free_interior, BADPTR, "free",
     "invalid pointer", "double free"},
    {"free of an interior pointer after 0xff bytes (p+16 of 64)", c_free_interior_tagbit, BADPTR,
     "free", "invalid pointer", "double free"},
    {"double free of a block whose chunk merged into a bigger block", c_double_free_merged,
     BADPTR, "free", "double free", "invalid pointer"},
    {"free of a misaligned pointer (p+1)", c_free_misaligned, BADPTR, "free",
     "invalid pointer", "double free"},
    {"free inside a 1 MiB mmap'd block (p+4096)", c_free_inside_big, BADPTR, "free",
     "invalid pointer", "double free"},
    {"in a thread: double free of a small block", c_thread_double_free_small, BADPTR, "free",
     "double free", NULL},
    {"in a thread: free of an interior pointer", c_thread_free_interior, BADPTR, "free",
     "invalid pointer", "double free"},
    {"in a thread: free of an interior pointer after 0xff bytes", c_thread_free_interior_tagbit,
     BADPTR, "free", "invalid pointer", "double free"},
    {"in a thread: free of a misaligned pointer", c_thread_free_misaligned, BADPTR, "free",
     "invalid pointer", "double free"},
    {"in a thread: free of a stack address", c_thread_free_stack, BADPTR, "free",
     "invalid pointer", "double free"},
    {"realloc of a stack pointer", c_realloc_stack, BADPTR, "realloc", "invalid pointer",
     NULL},
    {"realloc of a freed block", c_realloc_freed, BADPTR, "realloc", "double free",
     "invalid pointer"},
    {"realloc of an interior pointer after 0xff bytes (p+16 of 64)", c_realloc_interior, BADPTR,
     "realloc", "invalid pointer", "double free"},
    {"realloc of a freed block after its cache was flushed", c_realloc_freed_after_flush, BADPTR,
     "realloc", "double free", "invalid pointer"},
    {"in a thread: realloc of a freed block", c_thread_realloc_freed, BADPTR, "realloc",
     "double free", "invalid pointer"},
    {"use after free: 1 freed block poisoned, 4 mallocs", c_uaf_one, UAF, NULL, NULL, NULL},
    {"use after free: 2 freed blocks, the last poisoned, 4 mallocs", c_uaf_two, UAF, NULL,
     NULL, NULL},
};

static size_t read_all(int fd, char *buf, size_t cap) {
  size_t len = 0;
  for (;;) {
    char tmp[1024];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t take = (size_t)n;
    if (len + take > cap - 1) take = cap - 1 - len;
    memcpy(buf + len, tmp, take);
    len += take;
  }
  buf[len] = 0;
  return len;
}

/* does msg contain ptr (as %p prints it) as a whole hex number? */
static int has_ptr(const char *msg, const char *ptr) {
  size_t n = strlen(ptr);
  for (const char *s = strstr(msg, ptr); s; s = strstr(s + 1, ptr)) {
    char after = s[n];
    int hexafter = (after >= '0' && after <= '9') || (after >= 'a' && after <= 'f') ||
                   (after >= 'A' && after <= 'F');
    if (!hexafter) return 1;
  }
  return 0;
}

static void run_case(const struct mcase *c, int depot) {
  int errp[2], infop[2];
  REQUIRE(pipe(errp) == 0 && pipe(infop) == 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(errp[0]);
    close(infop[0]);
    dup2(errp[1], 2);
    close(errp[1]);
    info_fd = infop[1];
    c->fn();
    _exit(99); /* survived the misuse */
  }
  close(errp[1]);
  close(infop[1]);
  static char err[8192], info[1024];
  size_t errlen = read_all(errp[0], err, sizeof err);
  read_all(infop[0], info, sizeof info);
  close(errp[0]);
  close(infop[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }

  /* the first line of info is the pointer */
  char ptr[64] = "";
  sscanf(info, "%63s", ptr);
  char errline[300];
  snprintf(errline, sizeof errline, "%s", err);
  for (char *q = errline; *q; q++)
    if (*q == '\n') *q = q[1] ? '|' : 0;

  int aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
  if (c->kind == UAF) {
    if (aborted) {
      if (depot)
        CHECKM(strncmp(err, "depot: ", 7) == 0,
               "%s: aborted, but stderr is not a 'depot: ' line: '%s'", c->name, errline);
    } else {
      CHECKM(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child %s, stderr '%s'", c->name,
             status_desc(st), errline);
      /* info: attacker, then the results */
      char *line = strchr(info, '\n');
      int n = 0;
      while (line && line[1]) {
        char got[64] = "";
        sscanf(line + 1, "%63s", got);
        n++;
        CHECKM(strcmp(got, ptr) != 0, "%s: malloc #%d returned the attacker address %s",
               c->name, n, ptr);
        line = strchr(line + 1, '\n');
      }
      CHECKM(n == 4 || !WIFEXITED(st), "%s: child reported %d mallocs", c->name, n);
    }
    printf("  %-62s %s%s%s\n", c->name, aborted ? "aborted: " : "survived, other memory",
           aborted ? errline : "", "");
    return;
  }

  if (!depot) { /* glibc: informational (it misses some of these) */
    printf("  %-62s glibc: %s %s\n", c->name, status_desc(st), errline);
    return;
  }
  CHECKM(aborted, "%s (%s): child %s, want SIGABRT; stderr: '%s'", c->name, ptr,
         status_desc(st), errline);
  CHECKM(strncmp(err, "depot: ", 7) == 0, "%s: stderr does not start with 'depot: ': '%s'",
         c->name, errline);
  const char *nl = strchr(err, '\n');
  CHECKM(errlen > 0 && nl == err + errlen - 1,
         "%s: want exactly one line on stderr, got %zu bytes: '%s'", c->name, errlen,
         errline);
  int has_want = strstr(err, c->want1) || (c->want2 && strstr(err, c->want2));
  CHECKM(has_want, "%s: message lacks '%s'%s%s: '%s'", c->name, c->want1,
         c->want2 ? " or " : "", c->want2 ? c->want2 : "", errline);
  CHECKM(strstr(err, c->func) != NULL, "%s: message does not name %s(): '%s'", c->name,
         c->func, errline);
  CHECKM(ptr[0] && has_ptr(err, ptr), "%s: message lacks the pointer %s: '%s'", c->name,
         ptr, errline);
  printf("  %-62s %s\n", c->name, errline);
}

int main(void) {
  t_name = "misuse";
  int depot = have_depot();
  if (!depot) printf("note: depot absent; checking only that glibc aborts\n");
  /* no core dumps from the children */
  struct rlimit rl = {0, 0};
  setrlimit(RLIMIT_CORE, &rl);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], depot);
  return t_done();
}
