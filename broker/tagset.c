/* The deduplicating tag set (tagset.h): an open-addressing hash that owns a copy of every tag. */
#include <stdint.h>
#include <string.h>

#include "lib/obj.h"
#include "tagset.h"

struct tagset {
    unsigned magic;
#define TAGSET_MAGIC 0x7a65e7c1
    char **slots; /* open addressing, power-of-two capacity */
    size_t cap;
    size_t count;
    size_t bytes;
    const char **sorted; /* cache for tagset_sorted(); NULL when stale */
};

static uint64_t
hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    while (len-- > 0) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return (h);
}

struct tagset *
tagset_new(void)
{
    struct tagset *ts;

    ALLOC_OBJ(ts, TAGSET_MAGIC);
    ts->cap = 16;
    ts->slots = tp_calloc(ts->cap, sizeof *ts->slots);
    return (ts);
}

void
tagset_clear(struct tagset *ts)
{
    size_t i;

    CHECK_OBJ_NOTNULL(ts, TAGSET_MAGIC);
    for (i = 0; i < ts->cap; i++) {
        free(ts->slots[i]);
        ts->slots[i] = NULL;
    }
    free(ts->sorted);
    ts->sorted = NULL;
    ts->count = ts->bytes = 0;
}

void
tagset_destroy(struct tagset **tsp)
{
    struct tagset *ts = *tsp;

    if (ts == NULL)
        return;
    tagset_clear(ts);
    free(ts->slots);
    FREE_OBJ(ts);
    *tsp = NULL;
}

static size_t
find_slot(char *const *slots, size_t cap, const char *tag, size_t len)
{
    size_t i = hash(tag, len) & (cap - 1);

    while (slots[i] != NULL && (strncmp(slots[i], tag, len) != 0 || slots[i][len] != '\0'))
        i = (i + 1) & (cap - 1);
    return (i);
}

static void
grow(struct tagset *ts)
{
    char **old = ts->slots;
    size_t oldcap = ts->cap, i;

    ts->cap *= 2;
    ts->slots = tp_calloc(ts->cap, sizeof *ts->slots);
    for (i = 0; i < oldcap; i++)
        if (old[i] != NULL)
            ts->slots[find_slot(ts->slots, ts->cap, old[i], strlen(old[i]))] = old[i];
    free(old);
}

int
tagset_add(struct tagset *ts, const char *tag, size_t len)
{
    size_t i;

    CHECK_OBJ_NOTNULL(ts, TAGSET_MAGIC);
    i = find_slot(ts->slots, ts->cap, tag, len);
    if (ts->slots[i] != NULL)
        return (0);
    ts->slots[i] = tp_strndup(tag, len);
    ts->count++;
    ts->bytes += len;
    free(ts->sorted);
    ts->sorted = NULL;
    if (ts->count * 2 > ts->cap)
        grow(ts);
    return (1);
}

int
tagset_has(const struct tagset *ts, const char *tag, size_t len)
{
    CHECK_OBJ_NOTNULL(ts, TAGSET_MAGIC);
    return (ts->slots[find_slot(ts->slots, ts->cap, tag, len)] != NULL);
}

size_t
tagset_count(const struct tagset *ts)
{
    CHECK_OBJ_NOTNULL(ts, TAGSET_MAGIC);
    return (ts->count);
}

size_t
tagset_bytes(const struct tagset *ts)
{
    CHECK_OBJ_NOTNULL(ts, TAGSET_MAGIC);
    return (ts->bytes);
}

void
tagset_merge(struct tagset *dst, const struct tagset *src)
{
    size_t i;

    CHECK_OBJ_NOTNULL(src, TAGSET_MAGIC);
    for (i = 0; i < src->cap; i++)
        if (src->slots[i] != NULL)
            tagset_add(dst, src->slots[i], strlen(src->slots[i]));
}

static int
cmp_str(const void *a, const void *b)
{
    return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

const char *const *
tagset_sorted(struct tagset *ts, size_t *n)
{
    size_t i, o = 0;

    CHECK_OBJ_NOTNULL(ts, TAGSET_MAGIC);
    *n = ts->count;
    if (ts->sorted == NULL) {
        ts->sorted = tp_calloc(ts->count + 1, sizeof *ts->sorted);
        for (i = 0; i < ts->cap; i++)
            if (ts->slots[i] != NULL)
                ts->sorted[o++] = ts->slots[i];
        qsort(ts->sorted, o, sizeof *ts->sorted, cmp_str);
    }
    return (ts->sorted);
}
