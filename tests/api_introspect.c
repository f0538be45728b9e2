/* api_introspect: malloc_stats writes a report to stderr (and nothing to
 * stdout), malloc_info(0, fp) writes an XML document, malloc_info with
 * options != 0 fails, malloc_trim returns 0 or 1. */
#include "common.h"

/* Run fn with fd `which` redirected to a temporary file; returns the bytes
 * written into buf. */
static size_t capture_fd(int which, void (*fn)(void), char *buf, size_t bufsz) {
  char path[] = "/tmp/depot-test-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  fflush(stdout);
  fflush(stderr);
  int saved = dup(which);
  dup2(fd, which);
  fn();
  fflush(stdout);
  fflush(stderr);
  dup2(saved, which);
  close(saved);
  off_t len = lseek(fd, 0, SEEK_END);
  lseek(fd, 0, SEEK_SET);
  size_t n = 0;
  while (n < bufsz - 1) {
    ssize_t r = read(fd, buf + n, bufsz - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  buf[n] = 0;
  close(fd);
  return (size_t)len;
}

static void call_stats(void) { malloc_stats(); }

static char buf[1 << 16];

int main(void) {
  t_name = "api_introspect";
  void *keep[100];
  for (int i = 0; i < 100; i++) keep[i] = malloc(opaque_size(100 + (size_t)i * 100));
  void *big = malloc(opaque_size(2 * MiB));

  size_t n = capture_fd(2, call_stats, buf, sizeof buf);
  CHECKM(n > 0, "malloc_stats wrote nothing to stderr");
  size_t out = capture_fd(1, call_stats, buf, sizeof buf);
  CHECKM(out == 0, "malloc_stats wrote %zu bytes to stdout: %.200s", out, buf);
  /* "max mmap regions" is the most blocks mapped at once (glibc's
   * max_n_mmaps), not the count now: a mapped block freed still counts */
  free(big);
  big = NULL;
  n = capture_fd(2, call_stats, buf, sizeof buf);
  buf[n < sizeof buf ? n : sizeof buf - 1] = 0;
  const char *mm = strstr(buf, "max mmap regions");
  long regions = -1;
  if (mm) sscanf(strchr(mm, '=') ? strchr(mm, '=') + 1 : mm, "%ld", &regions);
  CHECKM(regions >= 1, "after a 2 MiB block was mapped and freed, malloc_stats says "
                       "max mmap regions = %ld", regions);

  FILE *fp = tmpfile();
  REQUIRE(fp != NULL);
  int r = malloc_info(0, fp);
  CHECKM(r == 0, "malloc_info(0, fp) returned %d", r);
  fflush(fp);
  rewind(fp);
  size_t len = fread(buf, 1, sizeof buf - 1, fp);
  buf[len] = 0;
  fclose(fp);
  CHECKM(len > 0, "malloc_info wrote nothing");
  const char *s = buf;
  while (*s == ' ' || *s == '\n') s++;
  CHECKM(strncmp(s, "<malloc", 7) == 0, "malloc_info output does not start with <malloc: %.80s", s);
  CHECKM(strstr(buf, "</malloc>") != NULL, "malloc_info output lacks </malloc>");

  fp = tmpfile();
  REQUIRE(fp != NULL);
  r = malloc_info(1, fp);
  CHECKM(r != 0, "malloc_info(1, fp) returned 0 (glibc: EINVAL for options != 0)");
  fclose(fp);

  for (int i = 0; i < 100; i++) free(keep[i]);
  free(big);
  r = malloc_trim(0);
  CHECKM(r == 0 || r == 1, "malloc_trim(0) returned %d", r);
  r = malloc_trim(1 << 20);
  CHECKM(r == 0 || r == 1, "malloc_trim(1 MiB) returned %d", r);
  void *p = malloc(opaque_size(1000));
  CHECK(p != NULL);
  free(p);
  return t_done();
}
