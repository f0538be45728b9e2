/*
 * fuzz_options.c - libFuzzer harness for depot's option parsing: the size
 * parser (dp_parse_size, src/fmt.c) that reads DEPOT_* and MALLOC_*_
 * environment values, the environment walk (dp_options_init,
 * src/options.c) and depot_option_set/get by name.
 *
 * Those are internal, so this file compiles src/fmt.c and src/options.c
 * into itself (#include) and stubs the two things they need from the rest
 * of depot (dp_os_write, the init hook).  Each is checked against a
 * reference written here from the documented grammar
 *
 *     value  := ["0x" | "0X"] digits [suffix]        (digits in the base)
 *     suffix := ("k"|"K"|"m"|"M"|"g"|"G") ["i"|"I"] ["b"|"B"]
 *     ok only if the value fits a size_t; a leading "-" negates (env only)
 *
 * and the option table's rules (options.c: opt_apply).
 *
 * Input: the first byte picks the mode, the rest is the text:
 *   0  the whole text is one value for dp_parse_size
 *   1  the text, split at '\n', is an environment; each line's first byte
 *      picks a variable name (DEPOT_*, MALLOC_*_, DEPOT_MXFAST,
 *      GLIBC_TUNABLES with or without a "glibc.malloc." start, or the line
 *      verbatim),
 *      the rest is its value; dp_options_init must set what the reference
 *      environment walk says
 *   2  "name\nvalue": depot_option_set(name, value) and get
 */
#include "../../src/fmt.c"
#include "../../src/options.c"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- stubs for what fmt.c and options.c use from the rest of depot --- */
void dp_os_write(int fd, const char *s, size_t n) {
  (void)fd;
  (void)s;
  (void)n;
}
_Atomic int dp_initialized = 1;
void dp_init_slow(void) {}
size_t dp_fast_max_chunk; /* arena.c's; options.c sets it (DEPOT_MXFAST) */
#define FAST_UNSET ((size_t)12345)

/* ---- failing ---------------------------------------------------------- */
__attribute__((noreturn)) static void fail(const char *what, const char *text) {
  fprintf(stderr, "fuzz_options: CHECK FAILED: %s; input \"", what);
  for (const unsigned char *c = (const unsigned char *)text; *c; c++)
    fprintf(stderr, (*c >= 32 && *c < 127 && *c != '"' && *c != '\\') ? "%c" : "\\x%02x", *c);
  fprintf(stderr, "\"\n");
  abort();
}

/* ---- the reference parser -------------------------------------------- */
static int digit(char c, unsigned base) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (base == 16 && c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (base == 16 && c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static bool ref_parse(const char *s, size_t *out) {
  unsigned base = 10;
  unsigned __int128 v = 0;
  size_t nd = 0;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  for (; digit(*s, base) >= 0; s++, nd++) {
    v = v * base + (unsigned)digit(*s, base);
    if (v > SIZE_MAX)
      return false;
  }
  if (nd == 0)
    return false; /* no digits: junk (depot took "k" for 0 before 328b16a: B2) */
  if (*s) {
    unsigned shift;
    switch (*s) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: return false;
    }
    s++;
    if (*s == 'i' || *s == 'I')
      s++;
    if (*s == 'b' || *s == 'B')
      s++;
    if (*s)
      return false;
    v <<= shift;
    if (v > SIZE_MAX)
      return false;
  }
  *out = (size_t)v;
  return true;
}

/* ---- mode 0: one value ------------------------------------------------ */
static void check_value(const char *s) {
  bool ok;
  size_t got = dp_parse_size(s, &ok), want = 0;
  bool wok = ref_parse(s, &want);
  if (ok != wok)
    fail(ok ? "dp_parse_size accepted junk" : "dp_parse_size refused a valid size", s);
  if (ok && got != want)
    fail("dp_parse_size: wrong value", s);
}

/* ---- mode 1: an environment ------------------------------------------- */
extern char **environ;

static const char *const env_names[] = {
    "DEPOT_MMAP_THRESHOLD", "DEPOT_TRIM_THRESHOLD", "DEPOT_TOP_PAD",  "DEPOT_MMAP_MAX",
    "DEPOT_ARENA_MAX",      "DEPOT_ARENA_TEST",     "DEPOT_PERTURB",  "DEPOT_TRACE",
    "DEPOT_REPORT",         "DEPOT_DECAY_MS",       "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",    "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX",
    "MALLOC_ARENA_TEST",    "MALLOC_PERTURB_",      "DEPOT_mmap_threshold", "DEPOT_",
    "DEPOT_MXFAST",         "MALLOC_MXFAST_",       "DEPOT_TCACHE_MAX", "DEPOT_TCACHE_COUNT",
    "GLIBC_TUNABLES",
    /* a name with '=' is a prefix: the line is it and the body */
    "GLIBC_TUNABLES=glibc.malloc.",
};
#define N_ENV_NAMES (sizeof env_names / sizeof env_names[0])

static const dp_options defaults = {
    .mmap_threshold = DEFAULT_MMAP_THRESHOLD,
    .trim_threshold = DEFAULT_TRIM_THRESHOLD,
    .top_pad = DEFAULT_TOP_PAD,
    .mmap_max = DEFAULT_MMAP_MAX,
    .arena_max = 0,
    .arena_test = 8,
    .perturb = 0,
    .report_fd = 2,
    .check_action = 3,
    .decay_ms = 1000,
    .tcache_max = TCACHE_MAX_REQUEST,
    .tcache_count = -1,
};

/* the value of the first "name=" entry of env, or NULL */
static const char *ref_env(char **env, const char *name) {
  size_t n = strlen(name);
  for (char **e = env; *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
      return *e + n + 1;
  return NULL;
}

/* glibc.malloc.<name> in the first GLIBC_TUNABLES entry: items split at
 * ':', the first item for the name wins; a value of 32 bytes or more is
 * not read (options.c's buffer) */
static const char *ref_tunable(char **env, const char *name, char *buf) {
  const char *t = ref_env(env, "GLIBC_TUNABLES");
  if (!t)
    return NULL;
  char item[4200];
  for (;;) {
    const char *end = strchr(t, ':');
    size_t len = end ? (size_t)(end - t) : strlen(t);
    memcpy(item, t, len);
    item[len] = 0;
    char *eq = strchr(item, '=');
    if (eq && strncmp(item, "glibc.malloc.", 13) == 0) {
      *eq = 0;
      if (strcmp(item + 13, name) == 0) {
        if (strlen(eq + 1) >= 32)
          return NULL;
        strcpy(buf, eq + 1);
        return buf;
      }
    }
    if (!end)
      return NULL;
    t = end + 1;
  }
}

/* an option's value as options.c looks for it: DEPOT_<NAME>, then
 * glibc.malloc.<tunable> (if it has one), then glibc's spelling (if any) */
static const char *ref_lookup(char **env, const char *depot, const char *tunable,
                              const char *glibc, char *buf) {
  const char *v = ref_env(env, depot);
  if (!v && tunable)
    v = ref_tunable(env, tunable, buf);
  if (!v && glibc)
    v = ref_env(env, glibc);
  return v;
}

/* value of an environment string as options.c reads it: false if refused */
static bool ref_env_value(const char *v, long *out) {
  size_t x;
  if (v[0] == '-') {
    if (!ref_parse(v + 1, &x))
      return false;
    *out = (long)(0 - x); /* two's complement, without the overflow */
    return true;
  }
  if (!ref_parse(v, &x))
    return false;
  *out = (long)x;
  return true;
}

/* the options as the documentation lists them, in options.c's order (the
 * switches below go by this position): name for depot_option_*, its
 * DEPOT_ variable, glibc's spelling, and whether glibc.malloc.<name> in
 * GLIBC_TUNABLES sets it */
static const struct ref_opt {
  const char *name, *depot, *glibc;
  bool tunable;
} ref_opts[] = {
    {"mmap_threshold", "DEPOT_MMAP_THRESHOLD", "MALLOC_MMAP_THRESHOLD_", true},
    {"trim_threshold", "DEPOT_TRIM_THRESHOLD", "MALLOC_TRIM_THRESHOLD_", true},
    {"top_pad", "DEPOT_TOP_PAD", "MALLOC_TOP_PAD_", true},
    {"mmap_max", "DEPOT_MMAP_MAX", "MALLOC_MMAP_MAX_", true},
    {"arena_max", "DEPOT_ARENA_MAX", "MALLOC_ARENA_MAX", true},
    {"arena_test", "DEPOT_ARENA_TEST", "MALLOC_ARENA_TEST", true},
    {"perturb", "DEPOT_PERTURB", "MALLOC_PERTURB_", true},
    {"trace", "DEPOT_TRACE", NULL, false},
    {"report", "DEPOT_REPORT", NULL, false},
    {"decay_ms", "DEPOT_DECAY_MS", NULL, false},
    {"tcache_max", "DEPOT_TCACHE_MAX", NULL, true},
    {"tcache_count", "DEPOT_TCACHE_COUNT", NULL, true},
};
#define N_REF_OPTS ((int)(sizeof ref_opts / sizeof ref_opts[0]))

static void ref_options(char **env, dp_options *o) {
  *o = defaults;
  for (int id = 0; id < N_REF_OPTS; id++) {
    const struct ref_opt *r = &ref_opts[id];
    char tb[32];
    const char *v = ref_lookup(env, r->depot, r->tunable ? r->name : NULL, r->glibc, tb);
    if (!v)
      continue;
    if (id == 8 && v[0] && !(v[0] >= '0' && v[0] <= '9')) {
      o->report = true;
      o->report_fd = strcmp(v, "stdout") == 0 ? 1 : 2;
      continue;
    }
    long val;
    if (!ref_env_value(v, &val))
      continue;
    switch (id) {
    case 0: o->mmap_threshold = (size_t)val; o->mmap_threshold_fixed = true; break;
    case 1: o->trim_threshold = (size_t)val; o->mmap_threshold_fixed = true; break;
    case 2: o->top_pad = (size_t)val; o->mmap_threshold_fixed = true; break;
    case 3: o->mmap_max = val < 0 ? 0 : val; o->mmap_threshold_fixed = true; break;
    case 4: if (val > 0) o->arena_max = val; break;
    case 5: if (val > 0) o->arena_test = val; break;
    case 6: o->perturb = (int)(val & 0xff); break;
    case 7: o->trace = val != 0; break;
    case 8: o->report = val != 0; break;
    case 9: if (val >= 0) o->decay_ms = val; break;
    case 10:
      if (val >= 0)
        o->tcache_max = (size_t)val < TCACHE_MAX_REQUEST ? (size_t)val : TCACHE_MAX_REQUEST;
      break;
    case 11: if (val >= -1 && val <= 65535) o->tcache_count = val; break;
    }
  }
}

static void check_env(char *text) {
  char *lines[17];
  int n = 0;
  for (char *s = text; n < 16;) {
    char *nl = strchr(s, '\n');
    if (nl)
      *nl = 0;
    unsigned char k = (unsigned char)*s;
    const char *body = *s ? s + 1 : s;
    size_t len;
    if (k % 32 < N_ENV_NAMES) {
      const char *name = env_names[k % 32];
      const char *sep = strchr(name, '=') ? "" : "=";
      len = strlen(name) + 1 + strlen(body) + 1;
      lines[n] = malloc(len);
      snprintf(lines[n], len, "%s%s%s", name, sep, body);
    } else {
      lines[n] = strdup(body);
    }
    n++;
    if (!nl)
      break;
    s = nl + 1;
  }
  lines[n] = NULL;
  dp_options want;
  ref_options(lines, &want);
  /* DEPOT_MXFAST (MALLOC_MXFAST_): a request size up to 1016 -> its chunk size */
  size_t want_fast = FAST_UNSET, mx;
  char mtb[32];
  const char *mxv = ref_lookup(lines, "DEPOT_MXFAST", "mxfast", "MALLOC_MXFAST_", mtb);
  if (mxv && ref_parse(mxv, &mx) && mx <= 1016) {
    want_fast = mx ? (mx + 8 + 15) & ~(size_t)15 : 0;
    if (mx && want_fast < 32)
      want_fast = 32;
  }
  dp_fast_max_chunk = FAST_UNSET;
  dp_opt = defaults;
  char **saved = environ;
  environ = lines;
  dp_options_init();
  environ = saved;
  const dp_options *g = &dp_opt;
  const char *bad = NULL;
  if (g->mmap_threshold != want.mmap_threshold) bad = "mmap_threshold";
  else if (g->trim_threshold != want.trim_threshold) bad = "trim_threshold";
  else if (g->top_pad != want.top_pad) bad = "top_pad";
  else if (g->mmap_max != want.mmap_max) bad = "mmap_max";
  else if (g->arena_max != want.arena_max) bad = "arena_max";
  else if (g->arena_test != want.arena_test) bad = "arena_test";
  else if (g->perturb != want.perturb) bad = "perturb";
  else if (g->trace != want.trace) bad = "trace";
  else if (g->report != want.report) bad = "report";
  else if (g->report_fd != want.report_fd) bad = "report_fd";
  else if (g->decay_ms != want.decay_ms) bad = "decay_ms";
  else if (g->tcache_max != want.tcache_max) bad = "tcache_max";
  else if (g->tcache_count != want.tcache_count) bad = "tcache_count";
  else if (g->mmap_threshold_fixed != want.mmap_threshold_fixed) bad = "mmap_threshold_fixed";
  else if (dp_fast_max_chunk != want_fast) bad = "dp_fast_max_chunk (DEPOT_MXFAST)";
  if (bad) {
    char msg[128];
    snprintf(msg, sizeof msg, "dp_options_init set %s differently from the reference", bad);
    size_t total = 1;
    for (int i = 0; i < n; i++)
      total += strlen(lines[i]) + 1;
    char *all = malloc(total), *w = all;
    for (int i = 0; i < n; i++)
      w += sprintf(w, "%s%s", lines[i], i + 1 < n ? "|" : "");
    fail(msg, all);
  }
  for (int i = 0; i < n; i++)
    free(lines[i]);
  dp_opt = defaults;
}

/* ---- mode 2: depot_option_set / get by name ----------------------------- */
static void check_set(char *text) {
  char *nl = strchr(text, '\n');
  long value = 0;
  if (nl) {
    *nl = 0;
    value = strtol(nl + 1, NULL, 0);
  }
  int id = -1;
  for (int i = 0; i < N_REF_OPTS; i++)
    if (strcasecmp(ref_opts[i].name, text) == 0)
      id = i;
  dp_opt = defaults;
  errno = 0;
  int r = depot_option_set(text, value);
  if (id < 0) {
    if (r != -1 || errno != EINVAL)
      fail("depot_option_set accepted an unknown name", text);
    if (depot_option_get(text) != -1 || errno != EINVAL)
      fail("depot_option_get answered for an unknown name", text);
  } else {
    bool refused = ((id == 9 || id == 10) && value < 0) ||
                   (id == 11 && (value < -1 || value > 65535));
    if (refused != (r == -1))
      fail(refused ? "depot_option_set accepted a value out of its range"
                   : "depot_option_set refused a value",
           text);
    long got = depot_option_get(text), want;
    switch (id) {
    case 3: want = value < 0 ? 0 : value; break;
    case 4: want = value > 0 ? value : defaults.arena_max; break;
    case 5: want = value > 0 ? value : defaults.arena_test; break;
    case 6: want = value & 0xff; break;
    case 7: case 8: want = value != 0; break;
    case 9: want = value < 0 ? defaults.decay_ms : value; break;
    case 10:
      want = value < 0 ? (long)defaults.tcache_max
                       : (size_t)value < TCACHE_MAX_REQUEST ? value : (long)TCACHE_MAX_REQUEST;
      break;
    case 11: want = refused ? defaults.tcache_count : value; break;
    default: want = value; break;
    }
    if (got != want)
      fail("depot_option_get disagrees with the value set", text);
  }
  dp_opt = defaults;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 4096)
    return 0;
  char *text = malloc(size);
  memcpy(text, data + 1, size - 1);
  text[size - 1] = 0; /* a value ends at the first NUL, as in environ */
  switch (data[0] % 3) {
  case 0: check_value(text); break;
  case 1: check_env(text); break;
  default: check_set(text); break;
  }
  free(text);
  return 0;
}
