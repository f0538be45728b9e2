/* seed_oom: running out of address space (RLIMIT_AS, in a child) is handled:
 * big and small requests return NULL with errno ENOMEM (no crash, no abort),
 * the blocks already handed out keep their contents, and after freeing them
 * allocation works again. */
#include "common.h"

static size_t vm_bytes(void) {
  if (t_read_proc("/proc/self/statm") < 0) return 0;
  return (size_t)strtoul(t_procbuf, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

enum { MAXB = 4096 };
static unsigned char *v[MAXB];
static size_t vs[MAXB];

static void sub_oom(void *a) {
  (void)a;
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = vm_bytes() + 96 * MiB;
  REQUIRE(setrlimit(RLIMIT_AS, &rl) == 0);
  int n = 0, e_big = 0, e_small = 0;
  /* big blocks until refused */
  while (n < MAXB) {
    errno = 0;
    unsigned char *p = malloc(opaque_size(4 * MiB));
    if (!p) {
      e_big = errno;
      break;
    }
    memset(p, n, 4096);
    v[n] = p;
    vs[n++] = 4096;
  }
  CHECKM(n < MAXB, "4 MiB blocks were never refused under RLIMIT_AS");
  CHECKM(e_big == ENOMEM, "refused malloc(4 MiB): errno %d, want ENOMEM", e_big);
  /* then small ones until refused */
  int small0 = n;
  while (n < MAXB) {
    errno = 0;
    unsigned char *p = malloc(opaque_size(64 * KiB - 64));
    if (!p) {
      e_small = errno;
      break;
    }
    memset(p, n, 64);
    v[n] = p;
    vs[n++] = 64;
  }
  CHECKM(n < MAXB, "64 KiB blocks were never refused under RLIMIT_AS (%d)", n - small0);
  CHECKM(e_small == ENOMEM, "refused malloc(64 KiB): errno %d, want ENOMEM", e_small);
  errno = 0;
  void *c = calloc(opaque_size(1000), opaque_size(100000));
  CHECKM(c == NULL && errno == ENOMEM, "calloc(1000, 100000) at the limit: %p errno %d", c,
         errno);
  free(c);
  int bad = 0;
  for (int i = 0; i < n; i++)
    if (!all_bytes(v[i], vs[i], (unsigned char)i)) bad++;
  CHECKM(bad == 0, "%d blocks corrupted after running out", bad);
  for (int i = 0; i < n; i++) free(v[i]);
  /* works again */
  void *p = malloc(opaque_size(8 * MiB));
  CHECKM(p != NULL, "malloc(8 MiB) after freeing everything failed");
  if (p) memset(p, 1, 8 * MiB);
  free(p);
  void *q = malloc(opaque_size(100));
  CHECK(q != NULL);
  free(q);
}

int main(void) {
  t_name = "seed_oom";
  SUBTEST(sub_oom);
  return t_done();
}
