/* cfrac: models cfrac (continued-fraction factoring): a flood of small, short-lived bignums (20-80 bytes), a few kept long-lived. */
/* Expands sqrt(N) as a continued fraction for several N, computing the
 * convergents modulo N with heap-allocated bignums (every operation returns
 * a fresh number and the operands are freed, as in cfrac), trial-divides each
 * denominator over a factor base and keeps the smooth ones as "relations".
 * Self-check: at every step h_k^2 = (-1)^(k+1) d_(k+1) (mod N) and the
 * divisions that must be exact are; any slip dies.
 * usage: cfrac [steps] */
#include "common.h"

typedef struct big {
  int n;         /* limbs in use (0 for zero) */
  uint32_t d[];  /* little-endian */
} big;

static big *bnew(int n) {
  big *b = xmalloc(sizeof(big) + sizeof(uint32_t) * (size_t)(n > 0 ? n : 1));
  b->n = n;
  return b;
}
static big *bnorm(big *b) {
  while (b->n > 0 && b->d[b->n - 1] == 0) b->n--;
  return b;
}
static big *bfrom(uint64_t v) {
  big *b = bnew(2);
  b->d[0] = (uint32_t)v;
  b->d[1] = (uint32_t)(v >> 32);
  return bnorm(b);
}
static big *bdup(const big *a) {
  big *b = bnew(a->n);
  memcpy(b->d, a->d, sizeof(uint32_t) * (size_t)a->n);
  return b;
}
static int bcmp_(const big *a, const big *b) {
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  for (int i = a->n - 1; i >= 0; i--)
    if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
  return 0;
}
static big *badd(const big *a, const big *b) {
  if (a->n < b->n) { const big *t = a; a = b; b = t; }
  big *r = bnew(a->n + 1);
  uint64_t c = 0;
  for (int i = 0; i < a->n; i++) {
    c += (uint64_t)a->d[i] + (i < b->n ? b->d[i] : 0);
    r->d[i] = (uint32_t)c;
    c >>= 32;
  }
  r->d[a->n] = (uint32_t)c;
  return bnorm(r);
}
static big *bsub(const big *a, const big *b) { /* a >= b */
  if (bcmp_(a, b) < 0) die("bsub: negative result");
  big *r = bnew(a->n);
  int64_t br = 0;
  for (int i = 0; i < a->n; i++) {
    int64_t t = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - br;
    br = t < 0;
    r->d[i] = (uint32_t)t;
  }
  return bnorm(r);
}
static big *bmul(const big *a, const big *b) {
  big *r = bnew(a->n + b->n);
  memset(r->d, 0, sizeof(uint32_t) * (size_t)r->n);
  for (int i = 0; i < a->n; i++) {
    uint64_t c = 0;
    for (int j = 0; j < b->n; j++) {
      c += (uint64_t)a->d[i] * b->d[j] + r->d[i + j];
      r->d[i + j] = (uint32_t)c;
      c >>= 32;
    }
    r->d[i + b->n] = (uint32_t)c;
  }
  return bnorm(r);
}
static big *bdiv_small(const big *a, uint32_t m, uint32_t *rem) {
  big *q = bnew(a->n);
  uint64_t r = 0;
  for (int i = a->n - 1; i >= 0; i--) {
    uint64_t cur = (r << 32) | a->d[i];
    q->d[i] = (uint32_t)(cur / m);
    r = cur % m;
  }
  if (rem) *rem = (uint32_t)r;
  return bnorm(q);
}
static uint32_t bmod_small(const big *a, uint32_t m) {
  uint64_t r = 0;
  for (int i = a->n - 1; i >= 0; i--) r = ((r << 32) | a->d[i]) % m;
  return (uint32_t)r;
}

/* q = u / v, r = u % v (either may be NULL): Knuth's algorithm D, with its
 * normalised scratch copies on the heap as cfrac's own code has them. */
static void bdivmod(const big *u, const big *v, big **qo, big **ro) {
  if (v->n == 0) die("division by zero");
  if (bcmp_(u, v) < 0) {
    if (qo) *qo = bnew(0);
    if (ro) *ro = bdup(u);
    return;
  }
  if (v->n == 1) {
    uint32_t rem;
    big *q = bdiv_small(u, v->d[0], &rem);
    if (qo) *qo = q; else free(q);
    if (ro) *ro = bfrom(rem);
    return;
  }
  int m = u->n, n = v->n, i, j;
  big *q = bnew(m - n + 1);
  uint32_t *vn = xmalloc(sizeof(uint32_t) * (size_t)n);
  uint32_t *un = xmalloc(sizeof(uint32_t) * (size_t)(m + 1));
  int s = __builtin_clz(v->d[n - 1]);
  for (i = n - 1; i > 0; i--) vn[i] = (v->d[i] << s) | (uint32_t)((uint64_t)v->d[i - 1] >> (32 - s));
  vn[0] = v->d[0] << s;
  un[m] = (uint32_t)((uint64_t)u->d[m - 1] >> (32 - s));
  for (i = m - 1; i > 0; i--) un[i] = (u->d[i] << s) | (uint32_t)((uint64_t)u->d[i - 1] >> (32 - s));
  un[0] = u->d[0] << s;
  const uint64_t B = 1ULL << 32;
  for (j = m - n; j >= 0; j--) {
    uint64_t num = ((uint64_t)un[j + n] << 32) | un[j + n - 1];
    uint64_t qhat = num / vn[n - 1], rhat = num % vn[n - 1];
    while (qhat >= B || qhat * vn[n - 2] > ((rhat << 32) | un[j + n - 2])) {
      qhat--;
      rhat += vn[n - 1];
      if (rhat >= B) break;
    }
    int64_t k = 0, t;
    for (i = 0; i < n; i++) {
      uint64_t p = qhat * vn[i];
      t = (int64_t)un[i + j] - k - (int64_t)(p & 0xffffffffULL);
      un[i + j] = (uint32_t)t;
      k = (int64_t)(p >> 32) - (t >> 32);
    }
    t = (int64_t)un[j + n] - k;
    un[j + n] = (uint32_t)t;
    q->d[j] = (uint32_t)qhat;
    if (t < 0) {
      q->d[j]--;
      k = 0;
      for (i = 0; i < n; i++) {
        t = (int64_t)((uint64_t)un[i + j] + vn[i] + (uint64_t)k);
        un[i + j] = (uint32_t)t;
        k = t >> 32;
      }
      un[j + n] += (uint32_t)k;
    }
  }
  if (ro) {
    big *r = bnew(n);
    for (i = 0; i < n - 1; i++) r->d[i] = (un[i] >> s) | (uint32_t)((uint64_t)un[i + 1] << (32 - s));
    r->d[n - 1] = un[n - 1] >> s;
    *ro = bnorm(r);
  }
  free(un);
  free(vn);
  if (qo) *qo = bnorm(q); else free(q);
}
static big *bmod(const big *u, const big *v) {
  big *r;
  bdivmod(u, v, NULL, &r);
  return r;
}
/* floor(sqrt(a)) by Newton's iteration, each step allocating */
static big *bisqrt(const big *a) {
  if (a->n == 0) return bnew(0);
  int bits = 32 * a->n - __builtin_clz(a->d[a->n - 1]);
  int sh = (bits + 1) / 2 + 1;
  big *x = bnew(sh / 32 + 1);
  memset(x->d, 0, sizeof(uint32_t) * (size_t)x->n);
  x->d[sh / 32] = 1u << (sh % 32);
  bnorm(x);
  for (;;) {
    big *q, *s, *y;
    bdivmod(a, x, &q, NULL);
    s = badd(x, q);
    y = bdiv_small(s, 2, NULL);
    free(q);
    free(s);
    if (bcmp_(y, x) >= 0) {
      free(y);
      return x;
    }
    free(x);
    x = y;
  }
}

typedef struct rel {
  struct rel *next;
  big *h, *d;
} rel;

static const uint32_t primes[] = {2,   3,   5,   7,   11,  13,  17,  19,  23,  29,  31,  37,  41,  43,  47,  53,
                                  59,  61,  67,  71,  73,  79,  83,  89,  97,  101, 103, 107, 109, 113, 127, 131,
                                  137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193, 197, 199};
#define NPRIMES (sizeof primes / sizeof primes[0])

int main(int argc, char **argv) {
  long steps = arg_long(argc, argv, 1, 200000);
  const int numbers = 40;
  uint64_t seed = 12345, qsum = 0;
  long nrel = 0, done = 0;
  rel *rels = NULL;
  for (int which = 0; which < numbers; which++) {
    int limbs = 3 + which % 5; /* N of 96..224 bits */
    big *N = bnew(limbs);
    for (int i = 0; i < limbs; i++) N->d[i] = (uint32_t)rng_next(&seed);
    N->d[limbs - 1] |= 0x80000000u;
    N->d[0] |= 1;
    big *a0 = bisqrt(N);
    big *sq = bmul(a0, a0);
    int square = bcmp_(sq, N) == 0;
    free(sq);
    if (square) { free(a0); free(N); continue; }
    big *m = bnew(0), *d = bfrom(1), *a = bdup(a0);
    big *hprev = bfrom(1), *h = bmod(a0, N);
    long k, per = steps / numbers;
    for (k = 0; k < per; k++, done++) {
      big *t = bmul(d, a);
      big *m1 = bsub(t, m);
      free(t);
      t = bmul(m1, m1);
      big *num = bsub(N, t);
      free(t);
      big *d1, *rem;
      bdivmod(num, d, &d1, &rem);
      if (rem->n != 0) die("cfrac: (N - m^2) not divisible by d at step %ld", k);
      free(rem);
      free(num);
      t = badd(a0, m1);
      big *a1;
      bdivmod(t, d1, &a1, NULL);
      free(t);
      /* check: h_k^2 mod N == (-1)^(k+1) d_(k+1) mod N */
      t = bmul(h, h);
      big *s = bmod(t, N);
      free(t);
      big *want = (k % 2) ? bdup(d1) : bsub(N, d1);
      if (bcmp_(s, want) != 0) die("cfrac: convergent identity fails at number %d step %ld", which, k);
      free(s);
      free(want);
      /* trial division of d1 over the factor base */
      big *c = bdup(d1);
      for (size_t p = 0; p < NPRIMES && c->n > 0; p++) {
        while (bmod_small(c, primes[p]) == 0) {
          big *c2 = bdiv_small(c, primes[p], NULL);
          free(c);
          c = c2;
        }
      }
      if (c->n == 1 && c->d[0] < 40000) { /* smooth, or one large prime */
        rel *r = xmalloc(sizeof *r);
        r->h = bdup(h);
        r->d = bdup(d1);
        r->next = rels;
        rels = r;
        nrel++;
      }
      free(c);
      qsum += a1->n ? a1->d[0] : 0;
      /* h_(k+1) = a_(k+1) h_k + h_(k-1) mod N */
      t = bmul(a1, h);
      big *t2 = badd(t, hprev);
      free(t);
      big *h1 = bmod(t2, N);
      free(t2);
      free(hprev);
      hprev = h;
      h = h1;
      free(m);
      m = m1;
      free(d);
      d = d1;
      free(a);
      a = a1;
    }
    free(m); free(d); free(a); free(h); free(hprev); free(a0); free(N);
  }
  uint64_t relsum = 0;
  while (rels) {
    rel *r = rels;
    rels = r->next;
    relsum = relsum * 31 + (r->d->n ? r->d->d[0] : 0);
    free(r->h);
    free(r->d);
    free(r);
  }
  printf("check cfrac steps=%ld relations=%ld qsum=%llu relsum=%llx\n", done, nrel, (unsigned long long)qsum,
         (unsigned long long)relsum);
  return 0;
}
