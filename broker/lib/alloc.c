/*
 * The floor's allocators and always-on assertion (obj.h): they abort instead of
 * returning NULL, so no caller carries an out-of-memory path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obj.h"

void
tp_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "tagpurge: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

void *
tp_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    AN(p);
    return (p);
}

void *
tp_calloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);

    AN(p);
    return (p);
}

void *
tp_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    AN(q);
    return (q);
}

char *
tp_strdup(const char *s)
{
    char *p = strdup(s);

    AN(p);
    return (p);
}

char *
tp_strndup(const char *s, size_t n)
{
    char *p = strndup(s, n);

    AN(p);
    return (p);
}

/* Capacity is implied by n (0, then 4, 8, 16...): reallocate only when n reaches it. */
void *
tp_grow(void *p, size_t n, size_t size)
{
    if (n == 0)
        return (tp_realloc(p, 4 * size));
    if (n < 4 || (n & (n - 1)) != 0)
        return (p);
    return (tp_realloc(p, 2 * n * size));
}
