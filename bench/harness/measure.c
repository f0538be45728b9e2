/* measure: not a workload; runs one command and reports the command's own wall time and rusage. */
/* usage: measure REPORT [-p PRELOAD] -- COMMAND [ARGS...]
 *
 * Why a launcher: Linux keeps a process's peak RSS (ru_maxrss) across
 * execve, so a child forked from the Python runner would report at least the
 * runner's own RSS (about 25 MiB) as its peak.  measure is small; the
 * command, forked from it, starts from measure's few hundred KiB.  measure
 * itself runs without LD_PRELOAD and sets it only for the command.
 *
 * REPORT gets one line: wall_s user_s sys_s maxrss_kb minflt majflt status
 * (status as from wait4).  The exit status of measure is the command's, or
 * 128 + signal. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *report = NULL, *preload = NULL;
  int i = 1;
  if (i < argc) report = argv[i++];
  if (i + 1 < argc && strcmp(argv[i], "-p") == 0) {
    preload = argv[i + 1];
    i += 2;
  }
  if (!report || i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
    fprintf(stderr, "usage: measure REPORT [-p PRELOAD] -- COMMAND [ARGS...]\n");
    return 125;
  }
  char **cmd = argv + i + 1;
  unsetenv("LD_PRELOAD");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    perror("measure: fork");
    return 125;
  }
  if (pid == 0) {
    if (preload && *preload) setenv("LD_PRELOAD", preload, 1);
    execvp(cmd[0], cmd);
    fprintf(stderr, "measure: cannot run %s: %s\n", cmd[0], strerror(errno));
    _exit(127);
  }
  int st;
  struct rusage ru;
  while (wait4(pid, &st, 0, &ru) < 0) {
    if (errno != EINTR) {
      perror("measure: wait4");
      return 125;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  FILE *f = fopen(report, "w");
  if (!f) {
    perror("measure: report");
    return 125;
  }
  fprintf(f, "%.6f %.6f %.6f %ld %ld %ld %d\n", wall, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6,
          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6, ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt, st);
  fclose(f);
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + WTERMSIG(st);
}
