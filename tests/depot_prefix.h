/*
 * depot_prefix.h - run the tests against the prefixed build of depot
 * (make prefix: build/prefix/libdepot.a, every standard entry point named
 * depot_<name>), so that a sanitizer keeps its own malloc beside depot.
 *
 * Included by common.h after all system headers when DEPOT_PREFIX_TEST is
 * defined.  Declares the prefixed functions and maps the standard names to
 * them with macros.  Code that obtains memory from libc itself (strdup,
 * asprintf, fopen, ...) gets the sanitizer's malloc: tests never pass such
 * memory to free().
 */
#ifndef DEPOT_PREFIX_H
#define DEPOT_PREFIX_H

#include <malloc.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

void *depot_malloc(size_t size);
void depot_free(void *ptr);
void *depot_calloc(size_t nmemb, size_t size);
void *depot_realloc(void *ptr, size_t size);
void *depot_reallocarray(void *ptr, size_t nmemb, size_t size);
void *depot_aligned_alloc(size_t alignment, size_t size);
int depot_posix_memalign(void **memptr, size_t alignment, size_t size);
void *depot_memalign(size_t alignment, size_t size);
void *depot_valloc(size_t size);
void *depot_pvalloc(size_t size);
size_t depot_malloc_usable_size(void *ptr);
void depot_cfree(void *ptr);
int depot_mallopt(int param, int value);
struct mallinfo depot_mallinfo(void);
struct mallinfo2 depot_mallinfo2(void);
int depot_malloc_trim(size_t pad);
void depot_malloc_stats(void);
int depot_malloc_info(int options, FILE *fp);

#ifdef __cplusplus
}
#endif

#define malloc depot_malloc
#define free depot_free
#define calloc depot_calloc
#define realloc depot_realloc
#define reallocarray depot_reallocarray
#define aligned_alloc depot_aligned_alloc
#define posix_memalign depot_posix_memalign
#define memalign depot_memalign
#define valloc depot_valloc
#define pvalloc depot_pvalloc
#define malloc_usable_size depot_malloc_usable_size
#define cfree depot_cfree
#define mallopt depot_mallopt
/* function-like, so that 'struct mallinfo' keeps its name */
#define mallinfo() depot_mallinfo()
#define mallinfo2() depot_mallinfo2()
#define malloc_trim depot_malloc_trim
#define malloc_stats depot_malloc_stats
#define malloc_info depot_malloc_info
/* free_sized and free_aligned_sized are looked up at run time (t_lookup),
 * which adds the prefix itself. */

#endif /* DEPOT_PREFIX_H */
