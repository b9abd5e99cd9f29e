/*
 * Always-on assertions and magic-checked objects (after Varnish's vas.h and
 * miniobj.h).  Assertions guard programmer errors and out-of-memory; they are
 * never compiled out.  Aborting is acceptable because the checkpoint only ever
 * covers delivered purges: a restart replays whatever was in flight.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 */
#ifndef TP_OBJ_H
#define TP_OBJ_H

#include <stdlib.h>

void tp_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#define AN(x)                                                                                      \
    do {                                                                                           \
        if (!(x))                                                                                  \
            tp_assert_fail(#x, __FILE__, __LINE__);                                                \
    } while (0)
#define AZ(x)                                                                                      \
    do {                                                                                           \
        if ((x) != 0)                                                                              \
            tp_assert_fail(#x " == 0", __FILE__, __LINE__);                                        \
    } while (0)
#define WRONG(why) tp_assert_fail(why, __FILE__, __LINE__)

#define ALLOC_OBJ(p, m)                                                                            \
    do {                                                                                           \
        (p) = calloc(1, sizeof *(p));                                                              \
        AN(p);                                                                                     \
        (p)->magic = (m);                                                                          \
    } while (0)
#define CHECK_OBJ_NOTNULL(p, m)                                                                    \
    do {                                                                                           \
        AN(p);                                                                                     \
        if ((p)->magic != (m))                                                                     \
            tp_assert_fail(#p "->magic == " #m, __FILE__, __LINE__);                               \
    } while (0)
#define CAST_OBJ_NOTNULL(to, from, m)                                                              \
    do {                                                                                           \
        (to) = (from);                                                                             \
        CHECK_OBJ_NOTNULL(to, m);                                                                  \
    } while (0)
#define FREE_OBJ(p)                                                                                \
    do {                                                                                           \
        (p)->magic = 0;                                                                            \
        free(p);                                                                                   \
        (p) = NULL;                                                                                \
    } while (0)

/* Allocation helpers that assert instead of returning NULL. */
void *tp_malloc(size_t n);
void *tp_calloc(size_t n, size_t sz);
void *tp_realloc(void *p, size_t n);
char *tp_strdup(const char *s);
char *tp_strndup(const char *s, size_t n);

/*
 * Room for item n of an array of n items (size bytes each) that grows only by
 * appending: arr = tp_grow(arr, n, sizeof *arr); arr[n++] = x.  Capacity
 * doubles (4, 8, 16, ...) and is implied by n, so the caller keeps no cap
 * field; the array must come from tp_grow (or be NULL with n 0), and n may
 * shrink but only grows through this call.
 */
void *tp_grow(void *p, size_t n, size_t size);

#endif
