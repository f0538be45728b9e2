/*
 * B2 (found by tests/fuzz fuzz_options): the option value parser
 * (dp_parse_size, src/fmt.c) accepts a value with no digits at all - "k",
 * "MiB", "g", "0xk" - as 0, where it refuses other junk.  So
 * DEPOT_MMAP_THRESHOLD=k sets the mmap threshold to 0 (every block gets a
 * mapping of its own) and DEPOT_TOP_PAD=m sets top_pad to 0, instead of
 * keeping the defaults as for DEPOT_MMAP_THRESHOLD=junk.
 *
 *   cc tests/fuzz/repro/parse_no_digits.c -o /tmp/r
 *   LD_PRELOAD=build/libdepot.so /tmp/r
 * Exit 0 and "ok" once fixed (prints what it found either way).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  (void)argc;
  const char *val = getenv("REPRO_VALUE");
  if (!val) {
    /* depot reads the environment once, when it starts: run again with it */
    static const char *const vals[] = {"k", "MiB", "0xg", "junk"};
    int bad = 0;
    for (int i = 0; i < 4; i++) {
      char cmd[512];
      snprintf(cmd, sizeof cmd, "REPRO_VALUE='%s' DEPOT_MMAP_THRESHOLD='%s' /proc/%d/exe",
               vals[i], vals[i], (int)getpid());
      bad |= system(cmd) != 0;
    }
    (void)argv;
    puts(bad ? "bug: a value without digits was taken as 0" : "ok");
    return bad;
  }
  long (*get)(const char *) = (long (*)(const char *))dlsym(RTLD_DEFAULT, "depot_option_get");
  if (!get) {
    puts("not running on depot (LD_PRELOAD=build/libdepot.so)");
    return 0;
  }
  long t = get("mmap_threshold");
  printf("  DEPOT_MMAP_THRESHOLD=%s -> mmap_threshold %ld (%s)\n", val, t,
         t == 128 * 1024 ? "default kept" : "changed");
  return t == 128 * 1024 ? 0 : 1;
}
