/*
 * stats.c - what depot did, told on demand: depot_stats_get (a struct),
 * depot_stats_print and depot_bins_print (text), and glibc's mallinfo,
 * mallinfo2, malloc_stats and malloc_info.  Counters live where they are
 * updated (arenas under their locks, thread caches unlocked, large.c under
 * its lock) and are merged here when asked.  Nothing here allocates;
 * malloc_info builds its XML in a buffer and hands it to stdio at the end,
 * with no depot lock held.
 */
#include "large.h"
#include "tcache.h"
#include "vg.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#ifdef DEPOT_PREFIX
struct mallinfo2 DEPOT_NAME(mallinfo2)(void);
struct mallinfo DEPOT_NAME(mallinfo)(void);
void DEPOT_NAME(malloc_stats)(void);
int DEPOT_NAME(malloc_info)(int options, FILE *fp);
#endif

DEPOT_EXPORT int depot_stats_get(depot_stats_t *out) {
  dp_init();
  dp_vg_quiet(); /* the walk reads free chunks */
  memset(out, 0, sizeof *out);
  out->heap_start = dp_heap_start;
  out->heap_peak = dp_heap_peak;
  out->brk_grows = dp_brk_grows;
  out->brk_shrinks = dp_brk_shrinks;
  out->brk_failures = dp_brk_failures;
  for (dp_arena *a = dp_arenas; a; a = a->next) {
    dp_lock_acquire(&a->lock);
    for (dp_segment *s = a->segs; s; s = s->next) {
      if (s->is_brk) {
        out->heap_bytes += s->end + 16 - s->base;
      } else {
        out->region_bytes += s->map_size;
        out->region_count++;
      }
    }
    out->in_use_bytes += a->out_bytes;
    out->fast_bytes += a->fast_bytes + __atomic_load_n(&a->remote_bytes, __ATOMIC_RELAXED);
    out->system_bytes += a->system_bytes;
    out->in_use_peak += a->out_peak;
    out->free_bytes += a->free_bytes;
    out->free_chunks += a->free_chunks;
    if (a->top) {
      size_t t = chunk_size(a->top);
      out->top_bytes += t;
      out->free_bytes += t;
      if (t > out->largest_free)
        out->largest_free = t;
    }
    for (unsigned i = ARENA_NBINS; i-- > 0;) {
      if (a->bins[i]) {
        for (dp_chunk *c = a->bins[i]; c; c = link_decode(&c->fd_enc, c->fd_enc))
          if (chunk_size(c) > out->largest_free)
            out->largest_free = chunk_size(c);
        break;
      }
    }
    out->madvise_calls += a->madvise_calls;
    out->madvise_bytes += a->madvise_bytes;
    dp_lock_release(&a->lock);
  }
  out->arenas = dp_narenas;
  dp_large_stats ls;
  dp_large_stats_get(&ls);
  out->mmap_count = ls.count;
  out->mmap_bytes = ls.bytes;
  out->mmap_peak_bytes = ls.peak_bytes;
  out->mmap_total = ls.total_maps;
  out->munmap_total = ls.total_unmaps;
  out->mmap_threshold = __atomic_load_n(&dp_opt.mmap_threshold, __ATOMIC_RELAXED);
  dp_tc_totals tt;
  dp_tcache_merge_stats(&tt);
  out->malloc_calls = tt.nmalloc;
  out->free_calls = tt.nfree;
  out->threads_live = tt.live;
  out->threads_total = tt.total;
  out->cache_hits = tt.hits;
  out->free_pagemap = tt.free_pagemap;
  out->cached_bytes = tt.cached_bytes;
  /* blocks in thread caches and fast lists are out of the bins but not in use */
  uint64_t idle = tt.cached_bytes + out->fast_bytes;
  out->in_use_bytes = out->in_use_bytes > idle ? out->in_use_bytes - idle : 0;
  out->in_use_bytes += ls.bytes;
  out->in_use_peak += ls.peak_bytes;
  dp_vg_loud();
  return 0;
}

static void kv(int fd, const char *k, uint64_t v, bool size) {
  dp_line l = {.len = 0};
  dp_line_str(&l, "  ");
  dp_line_str(&l, k);
  dp_line_pad(&l, 30);
  if (size) {
    dp_line_size(&l, v);
    if (v >= 1024) {
      dp_line_str(&l, " (");
      dp_line_u(&l, v);
      dp_line_str(&l, ")");
    }
  } else {
    dp_line_u(&l, v);
  }
  dp_line_str(&l, "\n");
  dp_line_flush(&l, fd);
}

static void say(int fd, const char *s) { dp_os_write(fd, s, dp_strlen(s)); }

/* count, bytes and size range of one bin (caller holds the arena lock) */
typedef struct bin_summary {
  size_t n, bytes, lo, hi;
} bin_summary;

static bin_summary summarize_bin(dp_chunk *c) {
  bin_summary r = {0, 0, SIZE_MAX, 0};
  for (; c; c = link_decode(&c->fd_enc, c->fd_enc)) {
    size_t sz = chunk_size(c);
    r.n++;
    r.bytes += sz;
    r.lo = sz < r.lo ? sz : r.lo;
    r.hi = sz > r.hi ? sz : r.hi;
  }
  return r;
}

DEPOT_EXPORT void depot_bins_print(int fd) {
  dp_init();
  dp_vg_quiet();
  for (dp_arena *a = dp_arenas; a; a = a->next) {
    dp_line l = {.len = 0};
    dp_lock_acquire(&a->lock);
    dp_line_str(&l, "  arena ");
    dp_line_u(&l, a->index);
    dp_line_str(&l, a == &dp_main_arena ? " (main, brk)" : " (mmap)");
    dp_line_str(&l, ": ");
    dp_line_u(&l, a->free_chunks);
    dp_line_str(&l, " free chunks, ");
    dp_line_size(&l, a->free_bytes);
    dp_line_str(&l, " in bins; top ");
    dp_line_size(&l, a->top ? chunk_size(a->top) : 0);
    size_t remote = __atomic_load_n(&a->remote_bytes, __ATOMIC_RELAXED);
    if (a->fast_bytes || remote) {
      dp_line_str(&l, "; fast lists ");
      dp_line_size(&l, a->fast_bytes);
      dp_line_str(&l, ", sent home by other threads ");
      dp_line_size(&l, remote);
    }
    dp_line_str(&l, "; threads ");
    dp_line_u(&l, a->threads);
    dp_line_str(&l, "\n");
    dp_line_flush(&l, fd);
    unsigned shown = 0;
    for (unsigned i = 0; i < ARENA_NBINS; i++) {
      if (!a->bins[i])
        continue;
      bin_summary sum = summarize_bin(a->bins[i]);
      size_t n = sum.n, bytes = sum.bytes, lo = sum.lo, hi = sum.hi;
      if (shown++ >= 40) {
        dp_line_str(&l, "    ... more bins\n");
        dp_line_flush(&l, fd);
        break;
      }
      dp_line_str(&l, i < ARENA_NSMALL ? "    small bin " : "    large bin ");
      dp_line_u(&l, i);
      dp_line_pad(&l, 22);
      dp_line_u(&l, n);
      dp_line_str(&l, " x ");
      if (lo == hi) {
        dp_line_u(&l, lo);
      } else {
        dp_line_u(&l, lo);
        dp_line_str(&l, "..");
        dp_line_u(&l, hi);
      }
      dp_line_str(&l, " B = ");
      dp_line_size(&l, bytes);
      dp_line_str(&l, "\n");
      dp_line_flush(&l, fd);
    }
    dp_lock_release(&a->lock);
  }
  dp_vg_loud();
}

static void comm_of_self(char *buf, size_t cap) {
  buf[0] = 0;
  int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0)
    n = 0;
  buf[n] = 0;
  *(char *)dp_strchr_or_end(buf, '\n') = 0;
}

DEPOT_EXPORT void depot_stats_print(int fd) {
  depot_stats_t s;
  depot_stats_get(&s);
  char comm[64];
  comm_of_self(comm, sizeof comm);
  dp_line l = {.len = 0};
  dp_line_str(&l, "depot " DEPOT_VERSION " report for pid ");
  dp_line_u(&l, (uint64_t)getpid());
  dp_line_str(&l, " (");
  dp_line_str(&l, comm);
  dp_line_str(&l, ")\n");
  dp_line_flush(&l, fd);
  say(fd, " brk heap ([heap] in /proc/PID/maps)\n");
  dp_line_str(&l, "  starts at");
  dp_line_pad(&l, 30);
  dp_line_hex(&l, s.heap_start);
  dp_line_str(&l, "\n");
  dp_line_flush(&l, fd);
  kv(fd, "size now", s.heap_bytes, true);
  kv(fd, "peak size", s.heap_peak, true);
  kv(fd, "brk raises", s.brk_grows, false);
  kv(fd, "brk lowers (trims)", s.brk_shrinks, false);
  kv(fd, "brk refusals", s.brk_failures, false);
  say(fd, " mmap\n");
  kv(fd, "threshold now", s.mmap_threshold, true);
  kv(fd, "large blocks mapped now", s.mmap_count, false);
  kv(fd, "large block bytes now", s.mmap_bytes, true);
  kv(fd, "large block bytes peak", s.mmap_peak_bytes, true);
  kv(fd, "large blocks ever mapped", s.mmap_total, false);
  kv(fd, "large blocks unmapped", s.munmap_total, false);
  kv(fd, "arena regions mapped", s.region_count, false);
  kv(fd, "arena region bytes", s.region_bytes, true);
  say(fd, " chunks\n");
  kv(fd, "in use now", s.in_use_bytes, true);
  kv(fd, "in use peak", s.in_use_peak, true);
  kv(fd, "free in bins + top", s.free_bytes, true);
  kv(fd, "free chunks in bins", s.free_chunks, false);
  kv(fd, "top chunks", s.top_bytes, true);
  kv(fd, "largest free chunk", s.largest_free, true);
  kv(fd, "in thread caches", s.cached_bytes, true);
  kv(fd, "in arena fast lists", s.fast_bytes, true);
  uint64_t held = s.in_use_bytes + s.free_bytes + s.cached_bytes;
  if (held) {
    dp_line_str(&l, "  fragmentation");
    dp_line_pad(&l, 30);
    uint64_t pct = (s.free_bytes - (s.free_bytes >= s.largest_free ? s.largest_free : 0)) * 1000 /
                   held;
    dp_line_u(&l, pct / 10);
    dp_line_str(&l, ".");
    dp_line_u(&l, pct % 10);
    dp_line_str(&l, "% of held memory is free outside the largest free chunk\n");
    dp_line_flush(&l, fd);
  }
  say(fd, " returned to the kernel inside segments\n");
  kv(fd, "madvise calls", s.madvise_calls, false);
  kv(fd, "madvise bytes", s.madvise_bytes, true);
  say(fd, " threads\n");
  kv(fd, "arenas", s.arenas, false);
  kv(fd, "thread caches live", s.threads_live, false);
  kv(fd, "thread caches ever", s.threads_total, false);
  kv(fd, "malloc-family calls", s.malloc_calls, false);
  kv(fd, "  served by a cache", s.cache_hits, false);
  kv(fd, "free calls", s.free_calls, false);
  kv(fd, "  checked by the pagemap", s.free_pagemap, false);
  say(fd, " bins\n");
  depot_bins_print(fd);
}

void dp_stats_atexit(void);
void dp_stats_atexit(void) { depot_stats_print(dp_opt.report_fd); }

/* ---- glibc's views ---------------------------------------------------- */

DEPOT_EXPORT struct mallinfo2 DEPOT_NAME(mallinfo2)(void) {
  depot_stats_t s;
  depot_stats_get(&s);
  struct mallinfo2 m;
  memset(&m, 0, sizeof m);
  uint64_t in_use = s.in_use_bytes - (s.in_use_bytes >= s.mmap_bytes ? s.mmap_bytes : 0);
  if (in_use > s.system_bytes)
    in_use = s.system_bytes;
  m.arena = s.system_bytes;                 /* non-mmapped space from the kernel */
  m.ordblks = s.free_chunks + (s.top_bytes ? 1 : 0);
  m.smblks = 0;
  m.hblks = s.mmap_count;                   /* blocks in their own mapping */
  m.hblkhd = s.mmap_bytes;
  m.usmblks = 0;
  m.fsmblks = s.cached_bytes + s.fast_bytes; /* whole small chunks kept for reuse */
  m.uordblks = in_use;
  m.fordblks = s.system_bytes - in_use;      /* free, overhead included */
  m.keepcost = s.top_bytes < m.fordblks ? s.top_bytes : m.fordblks;
  if (m.fsmblks > m.fordblks)
    m.fsmblks = m.fordblks;
  return m;
}

DEPOT_EXPORT struct mallinfo DEPOT_NAME(mallinfo)(void) {
  struct mallinfo2 m2 = DEPOT_NAME(mallinfo2)();
  struct mallinfo m;
  m.arena = (int)m2.arena;
  m.ordblks = (int)m2.ordblks;
  m.smblks = (int)m2.smblks;
  m.hblks = (int)m2.hblks;
  m.hblkhd = (int)m2.hblkhd;
  m.usmblks = (int)m2.usmblks;
  m.fsmblks = (int)m2.fsmblks;
  m.uordblks = (int)m2.uordblks;
  m.fordblks = (int)m2.fordblks;
  m.keepcost = (int)m2.keepcost;
  return m;
}

static void stat_line(dp_line *l, const char *k, uint64_t v) {
  dp_line_str(l, k);
  dp_line_str(l, " = ");
  char tmp[24];
  size_t n = 0;
  uint64_t x = v;
  do {
    tmp[n++] = (char)('0' + x % 10);
    x /= 10;
  } while (x);
  for (size_t i = n; i < 10; i++)
    dp_line_str(l, " ");
  while (n)
    l->buf[l->len++] = tmp[--n];
  dp_line_str(l, "\n");
}

/* glibc's format, on stderr */
DEPOT_EXPORT void DEPOT_NAME(malloc_stats)(void) {
  dp_init();
  dp_line l = {.len = 0};
  uint64_t sys_total = 0, use_total = 0;
  for (dp_arena *a = dp_arenas; a; a = a->next) {
    dp_lock_acquire(&a->lock);
    uint64_t sys = a->system_bytes, use = a->out_bytes;
    dp_lock_release(&a->lock);
    dp_line_str(&l, "Arena ");
    dp_line_u(&l, a->index);
    dp_line_str(&l, ":\n");
    stat_line(&l, "system bytes    ", sys);
    stat_line(&l, "in use bytes    ", use);
    dp_line_flush(&l, 2);
    sys_total += sys;
    use_total += use;
  }
  dp_large_stats ls;
  dp_large_stats_get(&ls);
  dp_line_str(&l, "Total (incl. mmap):\n");
  stat_line(&l, "system bytes    ", sys_total + ls.bytes);
  stat_line(&l, "in use bytes    ", use_total + ls.bytes);
  stat_line(&l, "max mmap regions", ls.peak_count); /* glibc's max_n_mmaps */
  stat_line(&l, "max mmap bytes  ", ls.peak_bytes);
  dp_line_flush(&l, 2);
}

/* a growable text buffer on mmap'd memory (never malloc) */
typedef struct xml_buf {
  char *p;
  size_t len, cap;
} xml_buf;

static void xb_put(xml_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t ncap = b->cap ? b->cap * 2 : 65536;
    while (ncap < b->len + n + 1)
      ncap *= 2;
    char *np = dp_os_mmap(ncap);
    if (!np)
      return;
    if (b->p) {
      memcpy(np, b->p, b->len);
      dp_os_munmap(b->p, b->cap);
    }
    b->p = np;
    b->cap = ncap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}
static void xb_str(xml_buf *b, const char *s) { xb_put(b, s, dp_strlen(s)); }
static void xb_u(xml_buf *b, uint64_t v) {
  dp_line l = {.len = 0};
  dp_line_u(&l, v);
  xb_put(b, l.buf, l.len);
}
static void xb_attr(xml_buf *b, const char *k, uint64_t v) {
  xb_str(b, " ");
  xb_str(b, k);
  xb_str(b, "=\"");
  xb_u(b, v);
  xb_str(b, "\"");
}

/* glibc's schema: <malloc version="1"><heap nr=..><sizes>..</sizes>
 * <total type=.. count=.. size=../>..<system type="current" size=../>
 * </heap>..<total type="mmap" ../><system ../><aspace ../></malloc> */
DEPOT_EXPORT int DEPOT_NAME(malloc_info)(int options, FILE *fp) {
  if (options != 0) {
    errno = EINVAL;
    return -1;
  }
  dp_init();
  xml_buf b = {0};
  dp_vg_quiet();
  uint64_t tot_free = 0, tot_nfree = 0, tot_sys = 0;
  xb_str(&b, "<malloc version=\"1\">\n");
  for (dp_arena *a = dp_arenas; a; a = a->next) {
    dp_lock_acquire(&a->lock);
    xb_str(&b, "<heap nr=\"");
    xb_u(&b, a->index);
    xb_str(&b, "\">\n<sizes>\n");
    for (unsigned i = 0; i < ARENA_NBINS; i++) {
      if (!a->bins[i])
        continue;
      bin_summary sum = summarize_bin(a->bins[i]);
      size_t n = sum.n, bytes = sum.bytes, lo = sum.lo, hi = sum.hi;
      xb_str(&b, "  <size");
      xb_attr(&b, "from", lo);
      xb_attr(&b, "to", hi);
      xb_attr(&b, "total", bytes);
      xb_attr(&b, "count", n);
      xb_str(&b, "/>\n");
    }
    xb_str(&b, "</sizes>\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n<total type=\"rest\"");
    xb_attr(&b, "count", a->free_chunks);
    xb_attr(&b, "size", a->free_bytes);
    xb_str(&b, "/>\n<system type=\"current\"");
    xb_attr(&b, "size", a->system_bytes);
    xb_str(&b, "/>\n<system type=\"max\"");
    xb_attr(&b, "size", a->system_bytes);
    xb_str(&b, "/>\n<aspace type=\"total\"");
    xb_attr(&b, "size", a->system_bytes);
    xb_str(&b, "/>\n<aspace type=\"mprotect\"");
    xb_attr(&b, "size", a->system_bytes);
    xb_str(&b, "/>\n</heap>\n");
    tot_free += a->free_bytes;
    tot_nfree += a->free_chunks;
    tot_sys += a->system_bytes;
    dp_lock_release(&a->lock);
  }
  dp_large_stats ls;
  dp_large_stats_get(&ls);
  xb_str(&b, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n<total type=\"rest\"");
  xb_attr(&b, "count", tot_nfree);
  xb_attr(&b, "size", tot_free);
  xb_str(&b, "/>\n<total type=\"mmap\"");
  xb_attr(&b, "count", ls.count);
  xb_attr(&b, "size", ls.bytes);
  xb_str(&b, "/>\n<system type=\"current\"");
  xb_attr(&b, "size", tot_sys);
  xb_str(&b, "/>\n<system type=\"max\"");
  xb_attr(&b, "size", tot_sys);
  xb_str(&b, "/>\n<aspace type=\"total\"");
  xb_attr(&b, "size", tot_sys);
  xb_str(&b, "/>\n<aspace type=\"mprotect\"");
  xb_attr(&b, "size", tot_sys);
  xb_str(&b, "/>\n</malloc>\n");
  dp_vg_loud();
  int r = 0;
  if (b.p) {
    if (fwrite(b.p, 1, b.len, fp) != b.len)
      r = -1;
    dp_os_munmap(b.p, b.cap);
  }
  return r;
}
