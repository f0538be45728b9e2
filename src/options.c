/*
 * options.c - the option table.
 *
 * Each tunable has one row: its depot name, its environment variable
 * (DEPOT_*, and glibc's MALLOC_*_ spelling as a fallback), the mallopt(3)
 * parameter with the same meaning, and where its value lives.  The
 * environment is read once, at initialisation, by walking environ (no
 * getenv, no allocation).  mallopt and depot_option_set write the same
 * fields, with glibc's rules for what is accepted.
 */
#include "internal.h"

#include <limits.h>
#include <malloc.h>
#include <strings.h>

extern char **environ;

/* the largest tcache_max: malloc(32768), whose chunk is the thread
 * caches' largest class */
#define TCACHE_MAX_REQUEST ((size_t)TC_MAX_CHUNK - 16)

dp_options dp_opt = {
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
_Atomic unsigned dp_options_epoch;

enum opt_id {
  OPT_MMAP_THRESHOLD,
  OPT_TRIM_THRESHOLD,
  OPT_TOP_PAD,
  OPT_MMAP_MAX,
  OPT_ARENA_MAX,
  OPT_ARENA_TEST,
  OPT_PERTURB,
  OPT_TRACE,
  OPT_REPORT,
  OPT_DECAY_MS,
  OPT_TCACHE_MAX,
  OPT_TCACHE_COUNT,
  OPT_COUNT
};

typedef struct opt_row {
  const char *name;      /* depot_option_* name, DEPOT_<NAME> in the environment */
  const char *glibc_env; /* glibc's environment spelling */
  int mallopt_param;     /* M_* with the same meaning, or 0 */
  bool tunable;          /* glibc.malloc.<name> in GLIBC_TUNABLES means the same */
} opt_row;

static const opt_row opt_table[OPT_COUNT] = {
    [OPT_MMAP_THRESHOLD] = {"mmap_threshold", "MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, true},
    [OPT_TRIM_THRESHOLD] = {"trim_threshold", "MALLOC_TRIM_THRESHOLD_", M_TRIM_THRESHOLD, true},
    [OPT_TOP_PAD] = {"top_pad", "MALLOC_TOP_PAD_", M_TOP_PAD, true},
    [OPT_MMAP_MAX] = {"mmap_max", "MALLOC_MMAP_MAX_", M_MMAP_MAX, true},
    [OPT_ARENA_MAX] = {"arena_max", "MALLOC_ARENA_MAX", M_ARENA_MAX, true},
    [OPT_ARENA_TEST] = {"arena_test", "MALLOC_ARENA_TEST", M_ARENA_TEST, true},
    [OPT_PERTURB] = {"perturb", "MALLOC_PERTURB_", M_PERTURB, true},
    [OPT_TRACE] = {"trace", NULL, 0, false},
    [OPT_REPORT] = {"report", NULL, 0, false},
    [OPT_DECAY_MS] = {"decay_ms", NULL, 0, false},
    [OPT_TCACHE_MAX] = {"tcache_max", NULL, 0, true},
    [OPT_TCACHE_COUNT] = {"tcache_count", NULL, 0, true},
};

/* Apply one value with glibc's acceptance rules.  Returns false if the
 * value is refused (as mallopt returns 0). */
static bool opt_apply(enum opt_id id, long v) {
  switch (id) {
  case OPT_MMAP_THRESHOLD:
    /* any value, as glibc 2.36 (older releases refused > 32 MiB) */
    __atomic_store_n(&dp_opt.mmap_threshold, (size_t)(unsigned long)v, __ATOMIC_RELAXED);
    __atomic_store_n(&dp_opt.mmap_threshold_fixed, true, __ATOMIC_RELAXED);
    break;
  case OPT_TRIM_THRESHOLD:
    __atomic_store_n(&dp_opt.trim_threshold, (size_t)(unsigned long)v, __ATOMIC_RELAXED);
    __atomic_store_n(&dp_opt.mmap_threshold_fixed, true, __ATOMIC_RELAXED);
    break;
  case OPT_TOP_PAD:
    dp_opt.top_pad = (size_t)(unsigned long)v;
    __atomic_store_n(&dp_opt.mmap_threshold_fixed, true, __ATOMIC_RELAXED);
    break;
  case OPT_MMAP_MAX:
    dp_opt.mmap_max = v < 0 ? 0 : v;
    __atomic_store_n(&dp_opt.mmap_threshold_fixed, true, __ATOMIC_RELAXED);
    break;
  case OPT_ARENA_MAX:
    if (v > 0)
      dp_opt.arena_max = v;
    break;
  case OPT_ARENA_TEST:
    if (v > 0)
      dp_opt.arena_test = v;
    break;
  case OPT_PERTURB:
    dp_opt.perturb = (int)(v & 0xff);
    break;
  case OPT_TRACE:
    dp_opt.trace = v != 0;
    break;
  case OPT_REPORT:
    dp_opt.report = v != 0;
    break;
  case OPT_DECAY_MS:
    if (v < 0)
      return false;
    dp_opt.decay_ms = v;
    break;
  case OPT_TCACHE_MAX:
    /* above what the cache's classes reach: the largest they reach, as
     * glibc caps glibc.malloc.tcache_max */
    if (v < 0)
      return false;
    dp_opt.tcache_max = (size_t)v < TCACHE_MAX_REQUEST ? (size_t)v : TCACHE_MAX_REQUEST;
    break;
  case OPT_TCACHE_COUNT:
    /* glibc's range for glibc.malloc.tcache_count (0 turns the caches
     * off), and -1 for depot's default: a byte budget per size */
    if (v < -1 || v > 65535)
      return false;
    dp_opt.tcache_count = v;
    break;
  case OPT_COUNT:
    return false;
  }
  atomic_fetch_add(&dp_options_epoch, 1);
  return true;
}

static long opt_value(enum opt_id id) {
  switch (id) {
  case OPT_MMAP_THRESHOLD: return (long)dp_opt.mmap_threshold;
  case OPT_TRIM_THRESHOLD: return (long)dp_opt.trim_threshold;
  case OPT_TOP_PAD: return (long)dp_opt.top_pad;
  case OPT_MMAP_MAX: return dp_opt.mmap_max;
  case OPT_ARENA_MAX: return dp_opt.arena_max;
  case OPT_ARENA_TEST: return dp_opt.arena_test;
  case OPT_PERTURB: return dp_opt.perturb;
  case OPT_TRACE: return dp_opt.trace;
  case OPT_REPORT: return dp_opt.report;
  case OPT_DECAY_MS: return dp_opt.decay_ms;
  case OPT_TCACHE_MAX: return (long)dp_opt.tcache_max;
  case OPT_TCACHE_COUNT: return dp_opt.tcache_count;
  case OPT_COUNT: break;
  }
  return -1;
}

/* environ lookup without getenv: "NAME=value" -> value */
static const char *env_find(const char *name) {
  if (!environ || !name)
    return NULL;
  size_t n = dp_strlen(name);
  for (char **e = environ; *e; e++)
    if (dp_strneq(*e, name, n) && (*e)[n] == '=')
      return *e + n + 1;
  return NULL;
}

static int name_eq_upper(const char *lower, const char *s, size_t n) {
  /* DEPOT_<NAME>: compare the upper-case env name with the table's name */
  for (size_t i = 0; i < n; i++) {
    char c = lower[i];
    if (c >= 'a' && c <= 'z')
      c = (char)(c - 'a' + 'A');
    if (c != s[i])
      return 0;
  }
  return lower[n] == 0;
}

static const char *env_find_depot(const char *name) {
  if (!environ)
    return NULL;
  for (char **e = environ; *e; e++) {
    if (!dp_strneq(*e, "DEPOT_", 6))
      continue;
    const char *k = *e + 6, *eq = dp_strchr_or_end(k, '=');
    if (*eq && name_eq_upper(name, k, (size_t)(eq - k)))
      return eq + 1;
  }
  return NULL;
}

/* glibc.malloc.<name> in GLIBC_TUNABLES ("glibc.malloc.a=1:glibc.malloc.b=2"):
 * its value copied into buf (which ends it at the ':'), or NULL */
static const char *tunable_find(const char *name, char *buf, size_t cap) {
  const char *t = env_find("GLIBC_TUNABLES");
  size_t n = dp_strlen(name);
  for (const char *item = t; item && *item;) {
    const char *end = dp_strchr_or_end(item, ':');
    size_t len = (size_t)(end - item);
    if (!*end)
      end = NULL;
    if (len > 13 + n && dp_strneq(item, "glibc.malloc.", 13) &&
        dp_strneq(item + 13, name, n) && item[13 + n] == '=') {
      size_t vl = len - 14 - n;
      if (vl >= cap)
        return NULL;
      memcpy(buf, item + 14 + n, vl);
      buf[vl] = 0;
      return buf;
    }
    item = end ? end + 1 : NULL;
  }
  return NULL;
}

/* does environment variable `name` contain `needle`? (no getenv, no malloc) */
bool dp_env_contains(const char *name, const char *needle) {
  const char *v = env_find(name);
  return v && dp_strcontains(v, needle);
}

void dp_set_mxfast(size_t request) {
  extern size_t dp_fast_max_chunk;
  size_t cs = request ? (request + DP_HDR + 15) & ~(size_t)15 : 0;
  dp_fast_max_chunk = cs < DP_MINCHUNK && request ? DP_MINCHUNK : cs;
}

void dp_options_init(void) {
  char tbuf[32];
  const char *mx = env_find_depot("mxfast");
  if (!mx)
    mx = tunable_find("mxfast", tbuf, sizeof tbuf);
  if (!mx)
    mx = env_find("MALLOC_MXFAST_");
  if (mx) {
    bool ok;
    size_t v = dp_parse_size(mx, &ok);
    if (ok && v <= 1016)
      dp_set_mxfast(v);
  }
  for (int id = 0; id < OPT_COUNT; id++) {
    const opt_row *r = &opt_table[id];
    /* DEPOT_<NAME>, then glibc's tunable, then its MALLOC_*_ spelling */
    const char *v = env_find_depot(r->name);
    if (!v && r->tunable)
      v = tunable_find(r->name, tbuf, sizeof tbuf);
    if (!v)
      v = env_find(r->glibc_env);
    if (!v)
      continue;
    if (id == OPT_REPORT && v[0] && !(v[0] >= '0' && v[0] <= '9')) {
      /* DEPOT_REPORT=stdout|stderr */
      dp_opt.report = true;
      dp_opt.report_fd = dp_strneq(v, "stdout", sizeof "stdout") ? 1 : 2;
      continue;
    }
    bool ok;
    bool neg = v[0] == '-';
    size_t mag = dp_parse_size(v + neg, &ok);
    if (!ok)
      continue;
    /* negate in size_t (defined wrap-around), never a long (LONG_MIN) */
    long val = (long)(neg ? (size_t)0 - mag : mag);
    opt_apply((enum opt_id)id, val);
  }
}

int dp_mallopt(int param, int value) {
  switch (param) {
  case M_MXFAST:
    /* the largest request whose chunks go to the arena fast lists whole;
     * glibc's range (0..160) and answer; 0 turns the fast lists off */
    if (value < 0 || (size_t)value > 80 * sizeof(size_t) / 4)
      return 0;
    dp_set_mxfast((size_t)value);
    return 1;
  case M_CHECK_ACTION:
    dp_opt.check_action = value;
    return 1;
  }
  for (int id = 0; id < OPT_COUNT; id++)
    if (opt_table[id].mallopt_param == param && param != 0)
      return opt_apply((enum opt_id)id, value) ? 1 : 0;
  return 1; /* glibc ignores unknown parameters and returns 1 */
}

static int opt_lookup(const char *name) {
  if (!name)
    return -1;
  for (int id = 0; id < OPT_COUNT; id++)
    if (dp_strcaseeq(opt_table[id].name, name))
      return id;
  return -1;
}

DEPOT_EXPORT int depot_option_set(const char *name, long value) {
  dp_init();
  int id = opt_lookup(name);
  if (id < 0 || !opt_apply((enum opt_id)id, value)) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

DEPOT_EXPORT long depot_option_get(const char *name) {
  dp_init();
  int id = opt_lookup(name);
  if (id < 0) {
    errno = EINVAL;
    return -1;
  }
  return opt_value((enum opt_id)id);
}
