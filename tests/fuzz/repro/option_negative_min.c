/*
 * B5 (found reading src/options.c while updating fuzz_options, confirmed by
 * that harness under UBSan): dp_options_init reads "-N" as
 * -(long)dp_parse_size(N).  For N = 2^63 (DEPOT_TOP_PAD=-9223372036854775808,
 * or -0x8000000000000000, or -8589934592g) the cast gives LONG_MIN and
 * negating it overflows: undefined behaviour (UBSan: "negation of
 * -9223372036854775808 cannot be represented in type 'long'").  Larger
 * magnitudes, up to SIZE_MAX, wrap the same way without the UB.  A fix:
 * negate in unsigned arithmetic, or refuse magnitudes above LONG_MAX.
 *
 * Like tests/fuzz/fuzz_options.c, this compiles src/fmt.c and
 * src/options.c into itself and hands dp_options_init an environment, so
 * it does not depend on when depot reads the real one.
 * tests/fuzz/repro/run.sh builds it with clang
 * -fsanitize=signed-integer-overflow; it exits non-zero while the bug is
 * open.
 */
#include "../../../src/fmt.c"
#include "../../../src/options.c"

#include <stdio.h>

void dp_os_write(int fd, const char *s, size_t n) {
  (void)fd;
  (void)s;
  (void)n;
}
_Atomic int dp_initialized = 1;
void dp_init_slow(void) {}
size_t dp_fast_max_chunk;

int main(void) {
  static char *env[] = {"DEPOT_TOP_PAD=-9223372036854775808", NULL};
  char **saved = environ;
  environ = env;
  dp_options_init();
  environ = saved;
  printf("ok: DEPOT_TOP_PAD=-9223372036854775808 -> top_pad %zu\n", dp_opt.top_pad);
  return 0;
}
