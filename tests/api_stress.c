/* api_stress: a long random mix of malloc, calloc, realloc, memalign,
 * posix_memalign, aligned_alloc and free (sizes from 0 to 600 KiB), each
 * live block filled with its own pattern and verified before it is resized
 * or freed, and all of them at the end.  Also checks alignment and usable
 * size of every result.  Deterministic (fixed seed). */
#include "common.h"

#if T_SANITIZED
enum { OPS = 60000 };
#else
enum { OPS = 150000 };
#endif
enum { SLOTS = 2048 };

static unsigned char *ptr[SLOTS];
static size_t len[SLOTS];
static uint32_t seed[SLOTS];
static size_t align_of[SLOTS];

static uint32_t rng = 2463534242u;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static size_t pick_size(void) {
  uint32_t r = next() % 1000;
  if (r < 5) return 0;
  if (r < 600) return 1 + next() % 256;
  if (r < 900) return 256 + next() % 4096;
  if (r < 990) return 4096 + next() % 65536;
  return 100000 + next() % 500000;
}

static void verify(int s, const char *when) {
  if (!ptr[s]) return;
  size_t bad = pat_check(ptr[s], len[s], seed[s]);
  CHECKM(bad == (size_t)-1, "slot %d (%zu bytes at %p) corrupted at byte %zu %s", s, len[s],
         (void *)ptr[s], bad, when);
  if (bad != (size_t)-1) exit(t_done());
}

static void fresh(int s, unsigned char *p, size_t n, size_t al, const char *fn) {
  CHECKM(p != NULL || n == 0, "%s(%zu) returned NULL", fn, n);
  if (!p) {
    ptr[s] = NULL;
    return;
  }
  CHECKM(is_aligned(p, al), "%s(%zu): %p not %zu-aligned", fn, n, (void *)p, al);
  CHECKM(malloc_usable_size(p) >= n, "%s(%zu): usable size %zu", fn, n, malloc_usable_size(p));
  ptr[s] = p;
  len[s] = n;
  align_of[s] = al;
  seed[s] = next();
  pat_fill(p, n, seed[s]);
}

int main(void) {
  t_name = "api_stress";
  for (int op = 0; op < OPS; op++) {
    int s = (int)(next() % SLOTS);
    uint32_t what = next() % 100;
    if (ptr[s] && what < 45) {
      verify(s, "before free");
      free(ptr[s]);
      ptr[s] = NULL;
    } else if (ptr[s] && what < 70) {
      verify(s, "before realloc");
      size_t n = pick_size();
      if (n == 0) n = 1; /* realloc(p, 0) frees: tested elsewhere */
      unsigned char *q = realloc(ptr[s], n);
      CHECKM(q != NULL, "realloc(%zu -> %zu) returned NULL", len[s], n);
      if (!q) continue;
      size_t keep = n < len[s] ? n : len[s];
      size_t bad = pat_check(q, keep, seed[s]);
      CHECKM(bad == (size_t)-1, "realloc %zu -> %zu lost byte %zu", len[s], n, bad);
      CHECKM(is_aligned(q, 16), "realloc -> %p not 16-aligned", (void *)q);
      ptr[s] = q;
      len[s] = n;
      seed[s] = next();
      pat_fill(q, n, seed[s]);
    } else {
      if (ptr[s]) {
        verify(s, "before replace");
        free(ptr[s]);
        ptr[s] = NULL;
      }
      size_t n = pick_size();
      uint32_t kind = next() % 10;
      if (kind < 5) {
        fresh(s, malloc(n), n, 16, "malloc");
      } else if (kind < 7) {
        unsigned char *p = calloc(1, n);
        CHECKM(p == NULL || all_bytes(p, n, 0), "calloc(1, %zu) not zeroed", n);
        fresh(s, p, n, 16, "calloc");
      } else {
        size_t al = (size_t)16 << (next() % 10); /* 16 .. 8 KiB */
        if (kind == 7) {
          fresh(s, memalign(al, n), n, al, "memalign");
        } else if (kind == 8) {
          void *p = NULL;
          int r = posix_memalign(&p, al, n);
          CHECKM(r == 0, "posix_memalign(%zu, %zu) = %d", al, n, r);
          fresh(s, r == 0 ? p : NULL, n, al, "posix_memalign");
        } else {
          size_t m = (n + al - 1) / al * al;
          fresh(s, aligned_alloc(al, m), m, al, "aligned_alloc");
        }
      }
    }
  }
  for (int s = 0; s < SLOTS; s++) {
    verify(s, "at the end");
    free(ptr[s]);
  }
  return t_done();
}
