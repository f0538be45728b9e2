/* vg_faults: a program with three bugs, for memcheck to find while the
 * program runs on depot (tests/valgrind_memcheck.sh): a leak, a read of a
 * freed block, and a write one byte past a block's usable size.  The
 * overflow comes last and nothing is allocated after it: the byte past a
 * block's usable size is the next chunk's header, and depot's own checks
 * would stop the next malloc ("corrupted top size"). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  char *leak = malloc(100);
  memset(leak, 1, 100);
  leak = NULL; /* bug 1: leaked */
  char *p = malloc(64);
  memset(p, 2, 64);
  free(p);
  volatile char c = p[40]; /* bug 2: use after free */
  void *many[500];
  for (int i = 0; i < 500; i++) many[i] = malloc((size_t)i * 7 + 1);
  for (int i = 0; i < 500; i++) free(many[i]);
  char *q = malloc(24);
  memset(q, 0, 24);
  size_t usable = malloc_usable_size(q);
  q[usable] = 3; /* bug 3: one byte past the usable size */
  (void)c; /* no stdio here: printf would malloc, and the header just
             * overwritten would stop the program (depot's own check) */
  _exit(0);
}
