/* binary-trees: models tree-heavy programs (barnes, binary-trees): build and tear down many complete binary trees of 24-byte nodes while one long-lived tree stays. */
/* The Benchmarks Game binary-trees, with an item in each node (as barnes'
 * bodies carry data).  Self-check: every tree's node count and item sum
 * must equal the closed form.
 * usage: binary-trees [max_depth] */
#include "common.h"

typedef struct node {
  struct node *l, *r;
  long item;
} node;

static node *build(int depth, long item) {
  node *n = xmalloc(sizeof *n);
  n->item = item;
  if (depth > 0) {
    n->l = build(depth - 1, 2 * item - 1);
    n->r = build(depth - 1, 2 * item);
  } else {
    n->l = n->r = NULL;
  }
  return n;
}
static long check(const node *n, long *items) {
  *items += n->item;
  if (!n->l) return 1;
  return 1 + check(n->l, items) + check(n->r, items);
}
static void teardown(node *n) {
  if (n->l) {
    teardown(n->l);
    teardown(n->r);
  }
  free(n);
}
/* sum of items of a tree built by build(depth, item) */
static long item_sum(int depth, long item) {
  long s = 0, lo = item, hi = item; /* nodes at each level form a contiguous range */
  for (int d = 0; d <= depth; d++) {
    s += (lo + hi) * (hi - lo + 1) / 2;
    lo = 2 * lo - 1;
    hi = 2 * hi;
  }
  return s;
}

static void one(int depth, long item, long *total) {
  long items = 0;
  node *t = build(depth, item);
  long c = check(t, &items);
  if (c != (1L << (depth + 1)) - 1 || items != item_sum(depth, item))
    die("binary-trees: tree of depth %d has %ld nodes, item sum %ld", depth, c, items);
  *total += c;
  teardown(t);
}

int main(int argc, char **argv) {
  int max_depth = (int)arg_long(argc, argv, 1, 18);
  if (max_depth < 6) max_depth = 6;
  long total = 0;
  one(max_depth + 1, 0, &total); /* stretch */
  long items = 0;
  node *longlived = build(max_depth, 0);
  for (int d = 4; d <= max_depth; d += 2) {
    long iters = 1L << (max_depth - d + 4);
    for (long i = 1; i <= iters; i++) one(d, i % 3 ? i : -i, &total);
  }
  long c = check(longlived, &items);
  if (c != (1L << (max_depth + 1)) - 1) die("binary-trees: long-lived tree damaged");
  total += c;
  teardown(longlived);
  printf("check binary-trees depth=%d nodes=%ld\n", max_depth, total);
  return 0;
}
