/* larson: models a server (Larson & Krishnan): each thread replaces random objects (16-1000 B) in its own table, hands some to another thread to free, and exits after a while; a new thread inherits its table and frees what the old one allocated. */
/* Fixed work: ops in total, split over rounds and threads (larson itself
 * runs for a fixed time; here the runner times a fixed amount of work and
 * the throughput is reported as a metric).
 * Self-check: every object carries its size and tag, checked before free;
 * the count and byte sum of freed objects must equal what was allocated.
 * usage: larson [ops] [threads] */
#include "common.h"

#define SLOTS 1000
#define ROUNDS 10
#define MINSZ 16
#define MAXSZ 1000

typedef struct obj {
  struct obj *next; /* link while in another thread's inbox */
  uint32_t size, pad;
  uint64_t tag;
} obj;

typedef struct {
  pthread_mutex_t lock;
  obj *head;
  char pad[64];
} inbox;

typedef struct {
  int id, nthreads;
  long ops;
  uint64_t seed;
  obj **table; /* SLOTS entries, passed from round to round */
  uint64_t freed, bytes;
} targ;

static inbox *boxes;

static obj *make(uint64_t *seed, uint64_t *ctr, int id) {
  size_t n = rng_range(seed, MINSZ, MAXSZ);
  obj *o = xmalloc(n < sizeof(obj) ? sizeof(obj) : n);
  o->size = (uint32_t)n;
  o->tag = ((uint64_t)id << 40) ^ (*ctr)++;
  if (n > sizeof(obj)) fill_block((char *)o + sizeof(obj), n - sizeof(obj), o->tag);
  return o;
}
static void kill(obj *o, targ *a) {
  if (o->size > sizeof(obj)) check_block((char *)o + sizeof(obj), o->size - sizeof(obj), o->tag, "larson");
  a->freed++;
  a->bytes += o->size;
  free(o);
}
static void drain(targ *a) {
  inbox *b = &boxes[a->id];
  pthread_mutex_lock(&b->lock);
  obj *o = b->head;
  b->head = NULL;
  pthread_mutex_unlock(&b->lock);
  while (o) {
    obj *n = o->next;
    kill(o, a);
    o = n;
  }
}

static void *worker(void *p) {
  targ *a = p;
  uint64_t ctr = a->seed << 20;
  for (long i = 0; i < a->ops; i++) {
    size_t k = rng_below(&a->seed, SLOTS);
    obj *old = a->table[k];
    if (rng_below(&a->seed, 8) == 0 && a->nthreads > 1) {
      /* hand the old object to the next thread, which frees it */
      inbox *b = &boxes[(a->id + 1) % a->nthreads];
      pthread_mutex_lock(&b->lock);
      old->next = b->head;
      b->head = old;
      pthread_mutex_unlock(&b->lock);
    } else {
      kill(old, a);
    }
    a->table[k] = make(&a->seed, &ctr, a->id);
    if ((i & 63) == 0) drain(a);
  }
  drain(a);
  return NULL;
}

int main(int argc, char **argv) {
  long ops = arg_long(argc, argv, 1, 8000000);
  int nt = (int)arg_long(argc, argv, 2, 2);
  boxes = xcalloc((size_t)nt, sizeof(inbox));
  for (int i = 0; i < nt; i++) pthread_mutex_init(&boxes[i].lock, NULL);
  targ *args = xcalloc((size_t)nt, sizeof(targ));
  uint64_t made = 0, freed = 0, bytes = 0;
  /* the main thread fills the tables, as larson's warm-up does */
  for (int t = 0; t < nt; t++) {
    uint64_t s = 1000 + (uint64_t)t, ctr = 0;
    args[t].table = xmalloc(SLOTS * sizeof(obj *));
    for (int k = 0; k < SLOTS; k++) args[t].table[k] = make(&s, &ctr, 1000 + t);
    made += SLOTS;
  }
  double t0 = now_s();
  for (int r = 0; r < ROUNDS; r++) {
    for (int t = 0; t < nt; t++) {
      args[t].id = t;
      args[t].nthreads = nt;
      args[t].ops = ops / ROUNDS / nt;
      args[t].seed = (uint64_t)(r * 7919 + t * 104729 + 1);
      made += (uint64_t)args[t].ops;
    }
    run_threads(nt, worker, args, sizeof(targ));
  }
  double el = now_s() - t0;
  for (int t = 0; t < nt; t++) {
    for (int k = 0; k < SLOTS; k++) kill(args[t].table[k], &args[t]);
    drain(&args[t]);
    free(args[t].table);
    freed += args[t].freed;
    bytes += args[t].bytes;
  }
  if (freed != made) die("larson: %llu objects made, %llu freed", (unsigned long long)made, (unsigned long long)freed);
  printf("check larson threads=%d objects=%llu bytes=%llu\n", nt, (unsigned long long)freed, (unsigned long long)bytes);
  printf("metric throughput_mops %.3f\n", (double)(made - (uint64_t)nt * SLOTS) / el / 1e6);
  free(args);
  free(boxes);
  return 0;
}
