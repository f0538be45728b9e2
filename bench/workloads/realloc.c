/* realloc: models string builders and growable vectors: strings appended to piece by piece with exact-size realloc, vectors grown by 1.5x and shrunk to fit. */
/* A pool of 256 strings is kept; each step appends 1-40 characters to a
 * random string (realloc to the exact new length), and a string that passes
 * its target length is verified and freed.  Between string steps, vectors of
 * 8-byte elements are pushed to (realloc by 1.5x), then shrunk to fit.
 * Self-check: every string and vector is compared with the content it must
 * have before it is freed.
 * usage: realloc [steps] */
#include "common.h"

#define NSTR 256
typedef struct {
  char *s;
  size_t len, target;
  uint64_t seed;
} str;

static char ch(uint64_t seed, size_t i) { return (char)('a' + (seed * 7 + i * 13 + (i >> 5)) % 26); }

static void str_check(const str *x) {
  for (size_t i = 0; i < x->len; i++)
    if (x->s[i] != ch(x->seed, i)) die("realloc: string content lost at %zu of %zu", i, x->len);
  if (x->s[x->len] != 0) die("realloc: string terminator lost");
}

int main(int argc, char **argv) {
  long steps = arg_long(argc, argv, 1, 4000000);
  uint64_t seed = 99, sum = 0, done_strings = 0, done_vectors = 0, id = 1;
  str pool[NSTR];
  for (int i = 0; i < NSTR; i++) pool[i] = (str){NULL, 0, 0, 0};
  for (long st = 0; st < steps; st++) {
    str *x = &pool[rng_below(&seed, NSTR)];
    if (!x->s) {
      x->seed = id++;
      x->target = rng_logsize(&seed, 16, 16384);
      x->len = 0;
      x->s = xmalloc(1);
      x->s[0] = 0;
    }
    size_t add = rng_range(&seed, 1, 40);
    x->s = xrealloc(x->s, x->len + add + 1);
    for (size_t i = 0; i < add; i++) x->s[x->len + i] = ch(x->seed, x->len + i);
    x->len += add;
    x->s[x->len] = 0;
    if (x->len >= x->target) {
      str_check(x);
      sum += x->len;
      done_strings++;
      free(x->s);
      x->s = NULL;
    }
    if (st % 64 == 0) {
      /* a vector of 8-byte elements grown by 1.5x, then shrunk to fit */
      size_t n = rng_logsize(&seed, 8, 20000), cap = 1, len = 0;
      uint64_t *v = xmalloc(cap * sizeof *v), vs = id++;
      while (len < n) {
        if (len == cap) {
          cap = cap + cap / 2 + 1;
          v = xrealloc(v, cap * sizeof *v);
        }
        v[len] = vs * 31 + len;
        len++;
      }
      v = xrealloc(v, len * sizeof *v);
      for (size_t i = 0; i < len; i++)
        if (v[i] != vs * 31 + i) die("realloc: vector element %zu lost", i);
      sum += len;
      done_vectors++;
      free(v);
    }
  }
  for (int i = 0; i < NSTR; i++)
    if (pool[i].s) {
      str_check(&pool[i]);
      sum += pool[i].len;
      free(pool[i].s);
    }
  printf("check realloc steps=%ld strings=%llu vectors=%llu sum=%llu\n", steps, (unsigned long long)done_strings,
         (unsigned long long)done_vectors, (unsigned long long)sum);
  return 0;
}
