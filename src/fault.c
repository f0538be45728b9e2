/*
 * fault.c - the one way out when the heap is misused or found corrupt.
 *
 * Security checks are not asserts: they stay in release builds, and every
 * failed one ends here, in a cold function that writes one fixed line
 * ("depot: free(): double free of 0x...") with write(2) and aborts.  It
 * never allocates and never returns, so a corrupt heap is never used again.
 */
#include "internal.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

void dp_fatal(const char *func, const char *what, const void *ptr) {
  dp_line l = {.len = 0};
  dp_line_str(&l, "depot: ");
  dp_line_str(&l, func);
  dp_line_str(&l, "(): ");
  dp_line_str(&l, what);
  if (ptr) {
    dp_line_str(&l, " ");
    dp_line_hex(&l, (uintptr_t)ptr);
  }
  dp_line_str(&l, "\n");
  dp_line_flush(&l, 2);
  /* abort() may run handlers; if one returns, make sure we still die */
  abort();
  _exit(127);
}

void dp_assert_fail(const char *expr, const char *file, int line) {
  dp_line l = {.len = 0};
  dp_line_str(&l, "depot: internal check failed: ");
  dp_line_str(&l, expr);
  dp_line_str(&l, " at ");
  dp_line_str(&l, file);
  dp_line_str(&l, ":");
  dp_line_i(&l, line);
  dp_line_str(&l, "\n");
  dp_line_flush(&l, 2);
  abort();
  _exit(127);
}
