/* rptest: models rpmalloc's benchmark: threads allocate batches with a size distribution of 16 B - 16 KiB weighted to small sizes, free a random half each loop and keep the rest as a working set, and send some blocks to another thread to free. */
/* Fixed work: allocations in total, split over threads.
 * Self-check: every block is pattern-checked before free; counts and byte
 * sums of freed blocks must equal what was allocated.
 * usage: rptest [allocations] [threads] */
#include "common.h"

#define BATCH 500
#define KEEP 2000 /* working set kept across loops */
#define CROSS 16  /* one freed block in CROSS goes to the next thread */

typedef struct blk {
  struct blk *next;
  uint64_t size, tag;
} blk;

typedef struct {
  pthread_mutex_t lock;
  blk *head;
  atomic_int done; /* its thread has finished: nothing is sent there any more */
  char pad[64];
} inbox;

static inbox *boxes;

typedef struct {
  int id, nt;
  long allocs;
  uint64_t made, made_bytes, freed, freed_bytes;
} targ;

static blk *make(uint64_t *seed, uint64_t tag, targ *a) {
  size_t n = rng_logsize(seed, 16, 16000);
  blk *b = xmalloc(n < sizeof(blk) ? sizeof(blk) : n);
  size_t real = n < sizeof(blk) ? sizeof(blk) : n;
  b->size = real;
  b->tag = tag;
  if (real > sizeof(blk)) fill_block(b + 1, real - sizeof(blk), tag);
  a->made++;
  a->made_bytes += real;
  return b;
}
static void kill(blk *b, targ *a) {
  if (b->size > sizeof(blk)) check_block(b + 1, b->size - sizeof(blk), b->tag, "rptest");
  a->freed++;
  a->freed_bytes += b->size;
  free(b);
}
static void drain(targ *a) {
  inbox *x = &boxes[a->id];
  pthread_mutex_lock(&x->lock);
  blk *b = x->head;
  x->head = NULL;
  pthread_mutex_unlock(&x->lock);
  while (b) {
    blk *n = b->next;
    kill(b, a);
    b = n;
  }
}

static void *worker(void *p) {
  targ *a = p;
  uint64_t seed = 4242 + (uint64_t)a->id, tag = (uint64_t)a->id << 48;
  blk **live = xmalloc((KEEP + BATCH) * sizeof(blk *));
  size_t nlive = 0;
  long left = a->allocs;
  while (left > 0) {
    for (int i = 0; i < BATCH && left > 0; i++, left--) live[nlive++] = make(&seed, tag++, a);
    /* free a random selection until the working set is back to KEEP */
    size_t target = nlive > KEEP ? KEEP : nlive / 2;
    while (nlive > target) {
      size_t k = rng_below(&seed, nlive);
      blk *b = live[k];
      live[k] = live[--nlive];
      inbox *x = &boxes[(a->id + 1) % a->nt];
      /* a finished thread drains nothing: its inbox would only grow, and
       * peak RSS would measure which thread the scheduler let finish
       * first (2-3x between runs on every allocator), not the allocator */
      if (a->nt > 1 && rng_below(&seed, CROSS) == 0 && !atomic_load(&x->done)) {
        pthread_mutex_lock(&x->lock);
        b->next = x->head;
        x->head = b;
        pthread_mutex_unlock(&x->lock);
      } else {
        kill(b, a);
      }
    }
    drain(a);
  }
  atomic_store(&boxes[a->id].done, 1);
  drain(a); /* what was sent before the flag was seen */
  while (nlive) kill(live[--nlive], a);
  free(live);
  return NULL;
}

int main(int argc, char **argv) {
  long allocs = arg_long(argc, argv, 1, 3000000);
  int nt = (int)arg_long(argc, argv, 2, 2);
  boxes = xcalloc((size_t)nt, sizeof(inbox));
  for (int i = 0; i < nt; i++) pthread_mutex_init(&boxes[i].lock, NULL);
  targ *args = xcalloc((size_t)nt, sizeof(targ));
  for (int i = 0; i < nt; i++) {
    args[i].id = i;
    args[i].nt = nt;
    args[i].allocs = allocs / nt;
  }
  run_threads(nt, worker, args, sizeof(targ));
  uint64_t made = 0, mb = 0, freed = 0, fb = 0;
  for (int i = 0; i < nt; i++) drain(&args[i]);
  for (int i = 0; i < nt; i++) {
    made += args[i].made;
    mb += args[i].made_bytes;
    freed += args[i].freed;
    fb += args[i].freed_bytes;
  }
  if (made != freed || mb != fb) die("rptest: %llu blocks made, %llu freed", (unsigned long long)made, (unsigned long long)freed);
  printf("check rptest threads=%d blocks=%llu bytes=%llu\n", nt, (unsigned long long)freed, (unsigned long long)fb);
  free(args);
  free(boxes);
  return 0;
}
