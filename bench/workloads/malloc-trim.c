/* malloc-trim: models a program that shrinks after a peak and asks for memory back: ~200 MB of 64 B - 64 KiB blocks, 95% freed (every 20th kept, pinning pages), then malloc_trim(0) found with dlsym, so it is whichever allocator's is first in the process. */
/* Reports RSS before and after the trim, and after freeing everything and
 * trimming again.  Self-check: the kept blocks are verified after the trim.
 * usage: malloc-trim [megabytes] */
#include "common.h"
#include <dlfcn.h>

int main(int argc, char **argv) {
  long mb = arg_long(argc, argv, 1, 200);
  uint64_t target = (uint64_t)mb << 20, seed = 17, total = 0;
  size_t cap = (size_t)(target / 64 + 16), n = 0;
  void **p = xmalloc(cap * sizeof(void *));
  size_t *sz = xmalloc(cap * sizeof(size_t));
  while (total < target && n < cap) {
    sz[n] = rng_logsize(&seed, 64, 65536);
    p[n] = xmalloc(sz[n]);
    fill_all(p[n], sz[n], n);
    total += sz[n];
    n++;
  }
  long rss_peak = rss_kb();
  uint64_t kept = 0, kept_bytes = 0;
  for (size_t i = 0; i < n; i++) {
    check_block(p[i], sz[i], i, "malloc-trim");
    if (i % 20 == 0) {
      kept++;
      kept_bytes += sz[i];
    } else {
      free(p[i]);
      p[i] = NULL;
    }
  }
  long rss_before = rss_kb();
  int (*trim)(size_t) = (int (*)(size_t))dlsym(RTLD_DEFAULT, "malloc_trim");
  Dl_info info;
  const char *from = "none";
  if (trim && dladdr((void *)trim, &info) && info.dli_fname) from = info.dli_fname;
  int released = trim ? trim(0) : -1;
  long rss_after = rss_kb();
  for (size_t i = 0; i < n; i++)
    if (p[i]) {
      check_block(p[i], sz[i], i, "malloc-trim (after trim)");
      free(p[i]);
    }
  if (trim) trim(0);
  long rss_empty = rss_kb();
  printf("check malloc-trim blocks=%zu kept=%llu kept_bytes=%llu\n", n, (unsigned long long)kept, (unsigned long long)kept_bytes);
  printf("metric rss_peak_mb %.1f\n", rss_peak / 1024.0);
  printf("metric rss_before_trim_mb %.1f\n", rss_before / 1024.0);
  printf("metric rss_after_trim_mb %.1f\n", rss_after / 1024.0);
  printf("metric rss_after_free_all_trim_mb %.1f\n", rss_empty / 1024.0);
  printf("info malloc_trim from %s returned %d\n", from, released);
  free(p);
  free(sz);
  return 0;
}
