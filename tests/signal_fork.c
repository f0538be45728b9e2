/* signal_fork: fork() from a signal handler that interrupted malloc or free.
 * A single-threaded program allocates and frees blocks of all sizes (so
 * the refills, flushes and growth that hold an arena lock run all the
 * time) while a 1 ms SIGALRM timer fires; the handler forks, and the child
 * allocates (a new size, a refill, a block of its own mapping), frees and
 * _exits.  glibc runs this (its fork takes no malloc lock in a
 * single-threaded process), though a child now and then fails; an allocator whose fork handler waits for a
 * lock the interrupted code holds hangs here, which the runner's timeout
 * catches.  The parent's blocks are checked when freed. */
#include "common.h"
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

enum { FORKS = 150 };

static volatile sig_atomic_t forks, child_failures;

static void on_alarm(int sig) {
  (void)sig;
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0) {
    char *a = malloc(100), *b = malloc(3000), *c = malloc(300000);
    int ok = a && b && c;
    if (ok) {
      memset(a, 1, 100);
      memset(b, 2, 3000);
      memset(c, 3, 300000);
    }
    free(a);
    free(b);
    free(c);
    _exit(ok ? 0 : 1);
  }
  if (pid > 0) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) child_failures++;
    forks++;
  }
  errno = saved;
}

int main(void) {
  t_name = "signal_fork";
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  REQUIRE(sigaction(SIGALRM, &sa, NULL) == 0);
  struct itimerval it = {{0, 1000}, {0, 1000}};
  REQUIRE(setitimer(ITIMER_REAL, &it, NULL) == 0);
  enum { N = 64 };
  unsigned char *v[N] = {0};
  size_t sz[N] = {0};
  long bad = 0, ops = 0;
  uint32_t x = 12345;
  while (forks < FORKS) {
    x = x * 1103515245u + 12345u;
    int k = (int)((x >> 8) % N);
    if (v[k]) {
      if (!all_bytes(v[k], sz[k], (unsigned char)k)) bad++;
      free(v[k]);
    }
    sz[k] = (x >> 16) % 100 == 0 ? 150000 : 1 + (x >> 16) % 9000;
    v[k] = malloc(sz[k]);
    REQUIRE(v[k] != NULL);
    memset(v[k], k, sz[k]);
    ops++;
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  for (int k = 0; k < N; k++) {
    if (v[k] && !all_bytes(v[k], sz[k], (unsigned char)k)) bad++;
    free(v[k]);
  }
  fprintf(stderr, "  %d forks from the handler over %ld mallocs\n", (int)forks, ops);
  /* glibc's children fail now and then (the interrupted malloc left its
   * state half-done); depot's must not */
  if (depot_only("every child of a fork in a signal handler allocates"))
    CHECKM(child_failures == 0, "%d of %d children failed to allocate", (int)child_failures,
           (int)forks);
  CHECKM(bad == 0, "%ld blocks lost their contents", bad);
  return t_done();
}
