/* espresso: models espresso (logic minimisation): covers of bit-vector cubes of one width per problem, many short-lived temporaries of mixed sizes (16 B - 6 KiB), covers grown with realloc. */
/* For each "problem" a random cover is built; several rounds of pairwise
 * intersection/consensus build a new cover (empty results freed at once),
 * a column-count table is allocated and freed, contained cubes are removed.
 * Self-check: popcounts are recomputed from the cubes and compared with the
 * values recorded when each cube was made.
 * usage: espresso [problems] */
#include "common.h"

typedef struct cube {
  uint32_t words, ones; /* ones: popcount recorded at creation */
  uint64_t w[];
} cube;
typedef struct cover {
  size_t n, cap;
  cube **c;
} cover;

static int popc(const cube *c) {
  int s = 0;
  for (uint32_t i = 0; i < c->words; i++) s += __builtin_popcountll(c->w[i]);
  return s;
}
static cube *cube_new(uint32_t words) {
  cube *c = xmalloc(sizeof(cube) + 8 * (size_t)words);
  c->words = words;
  return c;
}
static void cube_free(cube *c) {
  if ((int)c->ones != popc(c)) die("espresso: cube %p changed under us", (void *)c);
  free(c);
}
static void cover_push(cover *f, cube *c) {
  if (f->n == f->cap) {
    f->cap = f->cap ? f->cap + f->cap / 2 + 1 : 4;
    f->c = xrealloc(f->c, f->cap * sizeof(cube *));
  }
  f->c[f->n++] = c;
}
static void cover_free(cover *f) {
  for (size_t i = 0; i < f->n; i++) cube_free(f->c[i]);
  free(f->c);
  f->c = NULL;
  f->n = f->cap = 0;
}
static int contained(const cube *a, const cube *b) { /* a subset of b */
  for (uint32_t i = 0; i < a->words; i++)
    if (a->w[i] & ~b->w[i]) return 0;
  return 1;
}

int main(int argc, char **argv) {
  long problems = arg_long(argc, argv, 1, 2000);
  uint64_t seed = 777, sum = 0, ncubes = 0;
  for (long pb = 0; pb < problems; pb++) {
    uint32_t words = 1 + (uint32_t)rng_below(&seed, 24);
    size_t n = 32 + rng_below(&seed, 200);
    cover f = {0, 0, NULL};
    for (size_t i = 0; i < n; i++) {
      cube *c = cube_new(words);
      for (uint32_t k = 0; k < words; k++) c->w[k] = rng_next(&seed) | rng_next(&seed) | rng_next(&seed);
      c->ones = (uint32_t)popc(c);
      cover_push(&f, c);
    }
    for (int round = 0; round < 4 && f.n > 1; round++) {
      cover g = {0, 0, NULL};
      for (size_t k = 0; k < n; k++) {
        cube *x = f.c[rng_below(&seed, f.n)], *y = f.c[rng_below(&seed, f.n)];
        cube *c = cube_new(words);
        int op = (int)rng_below(&seed, 3);
        for (uint32_t i = 0; i < words; i++)
          c->w[i] = op == 0 ? x->w[i] & y->w[i] : op == 1 ? (x->w[i] | y->w[i]) & ~(x->w[i] ^ y->w[i]) : x->w[i] & (y->w[i] | (x->w[i] >> 1));
        c->ones = (uint32_t)popc(c);
        if (c->ones == 0) {
          cube_free(c);
          continue;
        }
        cover_push(&g, c);
      }
      /* column counts: a temporary table whose size depends on the width */
      int *cnt = xcalloc(words * 64, sizeof(int));
      for (size_t i = 0; i < g.n; i++)
        for (uint32_t k = 0; k < words; k++)
          for (uint64_t v = g.c[i]->w[k]; v; v &= v - 1) cnt[k * 64 + __builtin_ctzll(v)]++;
      int best = 0;
      for (uint32_t i = 1; i < words * 64; i++)
        if (cnt[i] > cnt[best]) best = i;
      sum += (uint64_t)best + (uint64_t)cnt[best];
      free(cnt);
      /* remove cubes contained in one of the previous 16 */
      cover h = {0, 0, NULL};
      for (size_t i = 0; i < g.n; i++) {
        int drop = 0;
        for (size_t j = h.n > 16 ? h.n - 16 : 0; j < h.n && !drop; j++) drop = contained(g.c[i], h.c[j]);
        if (drop) cube_free(g.c[i]);
        else cover_push(&h, g.c[i]);
      }
      free(g.c);
      cover_free(&f);
      f = h;
    }
    for (size_t i = 0; i < f.n; i++) sum += f.c[i]->ones;
    ncubes += f.n;
    cover_free(&f);
  }
  printf("check espresso problems=%ld cubes=%llu sum=%llu\n", problems, (unsigned long long)ncubes,
         (unsigned long long)sum);
  return 0;
}
