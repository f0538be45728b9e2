/*
 * fmt.c - text without stdio.  printf may allocate, and an allocator must
 * not call itself, so reports and diagnostics are built in a fixed buffer
 * (dp_line) and written with one write(2).  A line that would overflow the
 * buffer is written out early, never truncated silently.
 */
#include "internal.h"

static void line_put(dp_line *l, const char *s, size_t n) {
  while (n > 0) {
    size_t room = sizeof l->buf - l->len;
    if (room == 0) {
      dp_os_write(2, l->buf, l->len); /* overlong: emit what we have */
      l->len = 0;
      room = sizeof l->buf;
    }
    size_t k = n < room ? n : room;
    memcpy(l->buf + l->len, s, k);
    l->len += k;
    s += k;
    n -= k;
  }
}

/* byte loops the compiler must not turn back into libc calls */
#if defined(__clang__)
#define DP_NO_LIBCALL
#else
#define DP_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif

DP_NO_LIBCALL size_t dp_strlen(const char *s) {
  size_t n = 0;
  while (s[n])
    n++;
  return n;
}

bool dp_strneq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (a[i] != b[i])
      return false;
    if (!a[i])
      return true; /* both end here */
  }
  return true;
}

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

bool dp_strcaseeq(const char *a, const char *b) {
  for (;; a++, b++) {
    if (ascii_lower(*a) != ascii_lower(*b))
      return false;
    if (!*a)
      return true;
  }
}

const char *dp_strchr_or_end(const char *s, char c) {
  while (*s && *s != c)
    s++;
  return s;
}

bool dp_strcontains(const char *s, const char *needle) {
  size_t n = dp_strlen(needle);
  for (; *s; s++)
    if (dp_strneq(s, needle, n))
      return true;
  return n == 0;
}

void dp_line_str(dp_line *l, const char *s) { line_put(l, s, dp_strlen(s)); }

void dp_line_u(dp_line *l, uint64_t v) {
  char tmp[24];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  line_put(l, tmp + i, sizeof tmp - i);
}

void dp_line_i(dp_line *l, int64_t v) {
  if (v < 0) {
    line_put(l, "-", 1);
    dp_line_u(l, (uint64_t)0 - (uint64_t)v);
  } else {
    dp_line_u(l, (uint64_t)v);
  }
}

void dp_line_hex(dp_line *l, uint64_t v) {
  if (v == 0) {
    line_put(l, "(nil)", 5); /* as glibc's %p prints a null pointer */
    return;
  }
  char tmp[18];
  size_t i = sizeof tmp;
  while (v) {
    tmp[--i] = "0123456789abcdef"[v & 15];
    v >>= 4;
  }
  tmp[--i] = 'x';
  tmp[--i] = '0';
  line_put(l, tmp + i, sizeof tmp - i);
}

/* bytes as a short human figure: 512 B, 12.3 KiB, 4.0 MiB */
void dp_line_size(dp_line *l, uint64_t b) {
  static const char *unit[] = {" B", " KiB", " MiB", " GiB", " TiB"};
  int u = 0;
  uint64_t whole = b, tenth = 0;
  while (whole >= 1024 && u < 4) {
    tenth = (whole % 1024) * 10 / 1024;
    whole /= 1024;
    u++;
  }
  dp_line_u(l, whole);
  if (u > 0) {
    line_put(l, ".", 1);
    dp_line_u(l, tenth);
  }
  dp_line_str(l, unit[u]);
}

void dp_line_pad(dp_line *l, size_t col) {
  while (l->len < col && l->len < sizeof l->buf)
    line_put(l, " ", 1);
}

void dp_line_flush(dp_line *l, int fd) {
  if (l->len)
    dp_os_write(fd, l->buf, l->len);
  l->len = 0;
}

/* "123", "64k", "1M", "2g", "0x1000"; *ok false on junk or overflow */
size_t dp_parse_size(const char *s, bool *ok) {
  size_t v = 0;
  unsigned base = 10;
  *ok = false;
  if (!s || !*s)
    return 0;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
    if (!*s)
      return 0;
  }
  const char *digits = s;
  for (; *s; s++) {
    unsigned d;
    char c = *s;
    if (c >= '0' && c <= '9')
      d = (unsigned)(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f')
      d = (unsigned)(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F')
      d = (unsigned)(c - 'A' + 10);
    else
      break;
    if (v > (SIZE_MAX - d) / base)
      return 0;
    v = v * base + d;
  }
  if (s == digits) /* "k", "M", "0x": no number at all */
    return 0;
  if (*s) {
    unsigned shift = 0;
    switch (*s) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: return 0;
    }
    s++;
    if (*s == 'i' || *s == 'I')
      s++;
    if (*s == 'b' || *s == 'B')
      s++;
    if (*s)
      return 0;
    if (v > (SIZE_MAX >> shift))
      return 0;
    v <<= shift;
  }
  *ok = true;
  return v;
}
