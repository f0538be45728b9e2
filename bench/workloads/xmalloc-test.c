/* xmalloc-test: models producer/consumer programs (Lever & Boreham's xmalloc-test): producer threads allocate blocks and pass them in batches to consumer threads, which free them. */
/* With T threads requested there are T producers and T consumers.  Blocks
 * are 16-512 bytes; batches of 64 go through a bounded shared queue.
 * Self-check: consumers verify every block; counts and byte sums must match.
 * usage: xmalloc-test [blocks] [threads] */
#include "common.h"

#define BATCH 64
#define QCAP 256

typedef struct batch {
  void *p[BATCH];
  uint32_t sz[BATCH];
  uint64_t tag;
} batch;

static struct {
  pthread_mutex_t lock;
  pthread_cond_t nonempty, nonfull;
  batch *q[QCAP];
  int head, count, producers_left;
} Q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0};

typedef struct {
  int id;
  long batches;
  uint64_t blocks, bytes;
} targ;

static void *producer(void *p) {
  targ *a = p;
  uint64_t seed = 77 + (uint64_t)a->id;
  for (long b = 0; b < a->batches; b++) {
    batch *x = xmalloc(sizeof *x);
    x->tag = ((uint64_t)a->id << 32) | (uint64_t)b;
    for (int i = 0; i < BATCH; i++) {
      x->sz[i] = (uint32_t)rng_range(&seed, 16, 512);
      x->p[i] = xmalloc(x->sz[i]);
      fill_block(x->p[i], x->sz[i], x->tag + (uint64_t)i);
      a->blocks++;
      a->bytes += x->sz[i];
    }
    pthread_mutex_lock(&Q.lock);
    while (Q.count == QCAP) pthread_cond_wait(&Q.nonfull, &Q.lock);
    Q.q[(Q.head + Q.count) % QCAP] = x;
    Q.count++;
    pthread_cond_signal(&Q.nonempty);
    pthread_mutex_unlock(&Q.lock);
  }
  pthread_mutex_lock(&Q.lock);
  Q.producers_left--;
  pthread_cond_broadcast(&Q.nonempty);
  pthread_mutex_unlock(&Q.lock);
  return NULL;
}

static void *consumer(void *p) {
  targ *a = p;
  for (;;) {
    pthread_mutex_lock(&Q.lock);
    while (Q.count == 0 && Q.producers_left > 0) pthread_cond_wait(&Q.nonempty, &Q.lock);
    if (Q.count == 0) {
      pthread_mutex_unlock(&Q.lock);
      return NULL;
    }
    batch *x = Q.q[Q.head];
    Q.head = (Q.head + 1) % QCAP;
    Q.count--;
    pthread_cond_signal(&Q.nonfull);
    pthread_mutex_unlock(&Q.lock);
    for (int i = 0; i < BATCH; i++) {
      check_block(x->p[i], x->sz[i], x->tag + (uint64_t)i, "xmalloc-test");
      a->blocks++;
      a->bytes += x->sz[i];
      free(x->p[i]);
    }
    free(x);
  }
}

static void *role(void *p) {
  targ *a = p;
  return a->batches ? producer(p) : consumer(p);
}

int main(int argc, char **argv) {
  long blocks = arg_long(argc, argv, 1, 3000000);
  int nt = (int)arg_long(argc, argv, 2, 2);
  targ *args = xcalloc(2 * (size_t)nt, sizeof(targ));
  Q.producers_left = nt;
  for (int i = 0; i < 2 * nt; i++) {
    args[i].id = i;
    args[i].batches = i < nt ? blocks / BATCH / nt : 0; /* first half produce */
  }
  double t0 = now_s();
  run_threads(2 * nt, role, args, sizeof(targ));
  double el = now_s() - t0;
  uint64_t pb = 0, pbytes = 0, cb = 0, cbytes = 0;
  for (int i = 0; i < 2 * nt; i++) {
    if (i < nt) { pb += args[i].blocks; pbytes += args[i].bytes; }
    else { cb += args[i].blocks; cbytes += args[i].bytes; }
  }
  if (pb != cb || pbytes != cbytes) die("xmalloc-test: produced %llu blocks, consumed %llu", (unsigned long long)pb, (unsigned long long)cb);
  printf("check xmalloc-test threads=%d blocks=%llu bytes=%llu\n", nt, (unsigned long long)cb, (unsigned long long)cbytes);
  printf("metric throughput_mops %.3f\n", (double)cb / el / 1e6);
  free(args);
  return 0;
}
