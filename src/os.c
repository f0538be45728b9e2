/*
 * os.c - the platform layer: the only file that calls the kernel.
 *
 * Every request for address space (brk, mmap), every return of it (brk
 * down, munmap, madvise) and every diagnostic write passes through here, so
 * DEPOT_TRACE=1 can show each one as it happens.  Nothing here allocates.
 * Functions return NULL (or (void*)-1 for sbrk) on failure and leave errno
 * as the kernel set it; callers turn that into ENOMEM for the program.
 */
#include "internal.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void os_trace(const char *what, const void *addr, intptr_t len, const void *result) {
  dp_line l = {.len = 0};
  dp_line_str(&l, "depot: ");
  dp_line_str(&l, what);
  dp_line_str(&l, " ");
  if (addr) {
    dp_line_hex(&l, (uintptr_t)addr);
    dp_line_str(&l, " ");
  }
  if (len < 0) {
    dp_line_str(&l, "-");
    dp_line_u(&l, (uint64_t)(-len));
  } else {
    dp_line_u(&l, (uint64_t)len);
  }
  dp_line_str(&l, " bytes");
  if (result) {
    dp_line_str(&l, " -> ");
    dp_line_hex(&l, (uintptr_t)result);
  }
  dp_line_str(&l, "\n");
  dp_line_flush(&l, 2);
}

void *dp_os_sbrk(intptr_t incr) {
  int saved = errno;
  void *r = sbrk(incr);
  if (r == (void *)-1) {
    if (dp_opt.trace)
      os_trace("brk failed", NULL, incr, NULL);
    return r;
  }
  errno = saved;
  if (dp_opt.trace)
    os_trace(incr >= 0 ? "brk grow" : "brk shrink", r, incr, (char *)r + incr);
  return r;
}

void *dp_os_brk_current(void) { return sbrk(0); }

void *dp_os_mmap(size_t len) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    if (dp_opt.trace)
      os_trace("mmap failed", NULL, (intptr_t)len, NULL);
    return NULL;
  }
  if (dp_opt.trace)
    os_trace("mmap", NULL, (intptr_t)len, p);
  return p;
}

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* A mapping at exactly `at`, or NULL when anything is there already (or
 * the kernel is older than MAP_FIXED_NOREPLACE and put it elsewhere). */
static void *mmap_at(uintptr_t at, size_t len) {
  int saved = errno;
  void *p = mmap((void *)at, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) {
    errno = saved;
    return NULL;
  }
  if ((uintptr_t)p != at) {
    munmap(p, len);
    errno = saved;
    return NULL;
  }
  if (dp_opt.trace)
    os_trace("mmap", NULL, (intptr_t)len, p);
  return p;
}

/* A mapping whose start is a multiple of align (a power of two >= page).
 * First at `want` (0: anywhere), where the caller would have it: an arena
 * asks for the place right below its lowest segment, so that its segments
 * form one run that free()'s tag range covers.  Else map len + align and
 * cut off the head and the tail, keeping the highest aligned start: the
 * kernel places mappings top-down, so the last one usually begins where
 * this one's over-mapping ends, and keeping the top puts the two side by
 * side (keeping the lowest start left a hole of `align` bytes between
 * every two). */
void *dp_os_mmap_aligned(size_t len, size_t align, uintptr_t want) {
  if (len + align < len)
    return NULL;
  if (want && !(want & (align - 1))) {
    void *p = mmap_at(want, len);
    if (p)
      return p;
  }
  char *p = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    if (dp_opt.trace)
      os_trace("mmap failed", NULL, (intptr_t)len, NULL);
    return NULL;
  }
  uintptr_t a = ((uintptr_t)p + align) & ~(uintptr_t)(align - 1);
  size_t head = a - (uintptr_t)p, tail = align - head;
  if (head)
    munmap(p, head);
  if (tail)
    munmap((char *)a + len, tail);
  if (dp_opt.trace)
    os_trace("mmap", NULL, (intptr_t)len, (void *)a);
  return (void *)a;
}

/* The address-space plan.  The kernel places mappings top-down, one
 * below the other, so an arena's segments would interleave with every
 * other mapping of the process: depot's records, large blocks, other
 * arenas' segments.  Side by side, an arena's segments form one run that
 * free()'s tag range covers; apart, every free of a block in an older
 * segment takes the pagemap path (bench-malloc-thread, one thread: 3.7M
 * of its 12M frees, kept apart by a pagemap leaf mapped between two
 * segments).  So depot asks for places of its own, 1 TiB above where the
 * break started plus a random offset of up to 1 TiB:
 *   [base, base + 16 GiB)            depot's records (pagemap leaves, meta
 *                                    chunks, the large-block table),
 *                                    apart from the program's blocks
 *   region k: the next 16 GiB each   arena k's segments, from the top down
 * Each is a request (MAP_FIXED_NOREPLACE), never a claim: where the place
 * is taken, or there is no break, the kernel chooses as before. */
/* ThreadSanitizer keeps the program's mappings to ranges of its choosing
 * and aborts on a request elsewhere: its builds let the kernel choose. */
#if defined(__SANITIZE_THREAD__)
#define AREA_PLAN 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AREA_PLAN 0
#endif
#endif
#ifndef AREA_PLAN
#define AREA_PLAN 1
#endif
#define AREA_GAP ((uintptr_t)1 << 40)
#define AREA_REGION ((uintptr_t)16 << 30)
#define AREA_REGIONS 64u
static uintptr_t area_base; /* atomic; 0: not chosen yet, 1: none */
static uintptr_t meta_next; /* atomic: the records' bump pointer */

static uintptr_t area_get(void) {
  uintptr_t base = __atomic_load_n(&area_base, __ATOMIC_ACQUIRE);
  if (base)
    return base;
  void *brk0 = sbrk(0);
  uintptr_t b = (uintptr_t)brk0, span = 2 * AREA_GAP + (AREA_REGIONS + 1) * AREA_REGION;
  uintptr_t mine = 1;
  if (AREA_PLAN && brk0 != (void *)-1 && b < ((uintptr_t)1 << 47) - span)
    mine = dp_align_up(b + AREA_GAP + dp_os_random() % AREA_GAP, (uintptr_t)2 << 20);
  uintptr_t expect = 0;
  if (__atomic_compare_exchange_n(&area_base, &expect, mine, false, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE))
    return mine;
  return expect; /* another thread chose first */
}

uintptr_t dp_os_region_top(unsigned k) {
  uintptr_t base = area_get();
  if (base == 1 || k >= AREA_REGIONS)
    return 0;
  return base + (uintptr_t)(k + 2) * AREA_REGION;
}

void *dp_os_mmap_meta(size_t len) {
  len = dp_align_up(len, DP_PAGE);
  uintptr_t base = area_get();
  if (base != 1) {
    uintptr_t off = __atomic_fetch_add(&meta_next, len, __ATOMIC_RELAXED);
    void *p = off + len <= AREA_REGION ? mmap_at(base + off, len) : NULL;
    if (p)
      return p;
  }
  return dp_os_mmap(len);
}

void dp_os_munmap(void *p, size_t len) {
  int saved = errno;
  munmap(p, len);
  errno = saved;
  if (dp_opt.trace)
    os_trace("munmap", p, (intptr_t)len, NULL);
}

void *dp_os_mremap(void *p, size_t old_len, size_t new_len) {
  void *r = mremap(p, old_len, new_len, MREMAP_MAYMOVE);
  if (r == MAP_FAILED)
    return NULL;
  if (dp_opt.trace)
    os_trace("mremap", p, (intptr_t)new_len, r);
  return r;
}

void dp_os_release(void *p, size_t len) {
  int saved = errno;
  madvise(p, len, MADV_DONTNEED);
  errno = saved;
  if (dp_opt.trace)
    os_trace("madvise dontneed", p, (intptr_t)len, NULL);
}

void dp_os_write(int fd, const char *s, size_t n) {
  int saved = errno;
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    s += w;
    n -= (size_t)w;
  }
  errno = saved;
}

/* System calls made here directly, not through libc's syscall(2) and
 * clock_gettime(3): their code pages are ones a small program never
 * touches otherwise, and each first touch maps up to 64 KiB of libc
 * (fault-around).  Returns the kernel's value (-errno on failure); errno
 * is left alone. */
static long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

void dp_os_futex_wait(atomic_int *addr, int val) {
  raw_syscall(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val, 0, 0, 0);
}

void dp_os_futex_wake(atomic_int *addr, int n) {
  raw_syscall(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, n, 0, 0, 0);
}

uint64_t dp_os_random(void) {
  uint64_t v = 0;
  if (raw_syscall(SYS_getrandom, (long)&v, sizeof v, GRND_NONBLOCK, 0, 0, 0) != (long)sizeof v) {
    struct timespec ts = {0, 0};
    raw_syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0, 0, 0);
    v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&v ^
        ((uint64_t)raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0) << 32);
  }
  return v | 1;
}

/* rare (a purge's decay, a thread's exit): the system call, not the vDSO */
uint64_t dp_os_now_ms(void) {
  struct timespec ts = {0, 0};
  raw_syscall(SYS_clock_gettime, CLOCK_MONOTONIC_COARSE, (long)&ts, 0, 0, 0, 0);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* the CPUs this thread may run on; the system call itself, as libc's
 * wrapper and CPU_COUNT sit in code pages nothing else here touches */
unsigned dp_os_ncpus(void) {
  uint64_t mask[16] = {0}; /* 1024 CPUs */
  long got = raw_syscall(SYS_sched_getaffinity, 0, sizeof mask, (long)mask, 0, 0, 0);
  unsigned n = 0;
  for (long i = 0; i < got / 8; i++)
    n += (unsigned)__builtin_popcountll(mask[i]);
  return n ? n : 1;
}

__thread dp_lock *dp_locks_held[DP_HELD_MAX] __attribute__((tls_model("initial-exec")));
__thread unsigned dp_nlocks_held __attribute__((tls_model("initial-exec")));
/* the locks the fork handlers found held by this thread and left alone */
static __thread dp_lock *fork_skipped[DP_HELD_MAX] __attribute__((tls_model("initial-exec")));
static __thread unsigned fork_nskipped __attribute__((tls_model("initial-exec")));

void dp_lock_fork_take(dp_lock *l) {
  unsigned n = dp_nlocks_held < DP_HELD_MAX ? dp_nlocks_held : DP_HELD_MAX;
  for (unsigned i = 0; i < n; i++)
    if (dp_locks_held[i] == l) { /* held by the code this signal interrupted */
      if (fork_nskipped < DP_HELD_MAX)
        fork_skipped[fork_nskipped++] = l;
      return;
    }
  dp_lock_acquire(l);
}

static int fork_skipped_at(const dp_lock *l) {
  for (unsigned i = 0; i < fork_nskipped; i++)
    if (fork_skipped[i] == l)
      return (int)i;
  return -1;
}

bool dp_lock_fork_skipped(const dp_lock *l) { return fork_skipped_at(l) >= 0; }

void dp_lock_fork_give(dp_lock *l) {
  int i = fork_skipped_at(l);
  if (i >= 0) { /* not ours to give: the interrupted code still holds it */
    fork_skipped[i] = fork_skipped[--fork_nskipped];
    return;
  }
  dp_lock_release(l);
}

/* In the child every lock starts free: this thread holds only what the
 * interrupted code held (it still releases those), not what the fork
 * handlers took. */
void dp_lock_fork_child_reset(void) {
  for (unsigned i = 0; i < fork_nskipped; i++)
    dp_locks_held[i] = fork_skipped[i];
  dp_nlocks_held = fork_nskipped;
  fork_nskipped = 0;
}

/* the futex mutex's contended path */
void dp_lock_slow(dp_lock *l) {
  int c = 0;
  for (int spin = 0; spin < 100; spin++) {
    c = 0;
    if (atomic_compare_exchange_weak_explicit(&l->state, &c, 1, memory_order_acquire,
                                              memory_order_relaxed))
      return;
    if (c == 2)
      break;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  if (c != 2)
    c = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
  while (c != 0) {
    dp_os_futex_wait(&l->state, 2);
    c = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
  }
}
