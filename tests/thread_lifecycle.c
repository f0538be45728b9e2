/* thread_lifecycle: allocation at the edges of a program's life.
 *   - a constructor allocates before main (the allocator's first call),
 *   - threads end with pthread_exit in the middle of their work, holding
 *     cached and live blocks (their blocks are freed later by main),
 *   - atexit handlers and destructors allocate and free after main
 *     returned; their checks decide the exit status (_exit(1) on failure).
 * Contents are checked everywhere. */
#include "common.h"

static char *early;       /* allocated before main */
static void *orphans[64]; /* live blocks left by threads that pthread_exit'ed */

__attribute__((constructor)) static void before_main(void) {
  early = malloc(opaque_size(100));
  if (early) memset(early, 0x5a, 100);
}

static void *worker(void *arg) {
  long id = (long)arg;
  void *tmp[32];
  for (int i = 0; i < 32; i++) {
    tmp[i] = malloc(opaque_size((size_t)(16 + 40 * i)));
    if (!tmp[i]) _exit(3);
    memset(tmp[i], (int)id, (size_t)(16 + 40 * i));
  }
  for (int i = 0; i < 32; i += 2) free(tmp[i]); /* into the thread cache */
  orphans[id] = tmp[1];                           /* one block outlives us */
  pthread_exit(NULL);                             /* mid-work: no return */
}

static int after_ok = 1;
static void at_exit_handler(void) {
  for (int r = 0; r < 100; r++) {
    char *p = malloc(opaque_size((size_t)(r * 13 + 1)));
    if (!p) { after_ok = 0; break; }
    memset(p, 7, (size_t)(r * 13 + 1));
    free(p);
  }
  if (!all_bytes(early, 100, 0x5a)) after_ok = 0;
  free(early);
}

__attribute__((destructor)) static void after_exit(void) {
  void *p = calloc(10, 100);
  if (!p || !all_bytes(p, 1000, 0) || !after_ok) {
    fprintf(stderr, "thread_lifecycle: allocation after exit failed\n");
    _exit(1);
  }
  free(p);
}

int main(void) {
  t_name = "thread_lifecycle";
  CHECKM(early != NULL && all_bytes(early, 100, 0x5a), "the constructor's block is wrong");
  for (int round = 0; round < 4; round++) {
    pthread_t th[64];
    for (long i = 0; i < 64; i++) REQUIRE(pthread_create(&th[i], NULL, worker, (void *)i) == 0);
    for (int i = 0; i < 64; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 64; i++) {
      CHECKM(all_bytes(orphans[i], 56, (unsigned char)i), "round %d: orphan %d corrupted", round,
             i);
      free(orphans[i]);
    }
  }
  REQUIRE(atexit(at_exit_handler) == 0);
  return t_done();
}
