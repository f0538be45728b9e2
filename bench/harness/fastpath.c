/* fastpath: the instruction count of malloc's and free's fast paths.
 * Rounds of 8 mallocs of 16-72 bytes, then their 8 frees: after the
 * first round every call is served by the thread cache, so under
 *   valgrind --tool=callgrind build/... (see bench/fastpath.sh)
 * the instructions counted in malloc and in free, divided by the calls,
 * are those of the fast paths (the first round's refills are a few
 * hundred instructions in all).
 * usage: fastpath [rounds] [thread]   (default 1000000: 8M mallocs, 8M
 * frees; "thread": the loop runs in a second thread, whose blocks come from
 * an arena of its own) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rounds;

static void *loop(void *arg) {
  static const size_t sizes[8] = {16, 24, 32, 40, 48, 56, 64, 72};
  volatile size_t sink = 0;
  void *p[8];
  for (long r = 0; r < rounds; r++) {
    for (int i = 0; i < 8; i++) p[i] = malloc(sizes[i]);
    for (int i = 0; i < 8; i++) {
      sink += (size_t)p[i] & 0xff;
      free(p[i]);
    }
  }
  printf("fastpath: %ld rounds, %ld mallocs, %ld frees (%zu)\n", rounds, rounds * 8, rounds * 8,
         (size_t)sink);
  return arg;
}

int main(int argc, char **argv) {
  rounds = argc > 1 ? atol(argv[1]) : 1000000;
  if (argc > 2 && strcmp(argv[2], "thread") == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, loop, NULL) != 0 || pthread_join(t, NULL) != 0)
      return 1;
    return 0;
  }
  loop(NULL);
  return 0;
}
