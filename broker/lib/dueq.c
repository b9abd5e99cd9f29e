/* The due queue (dueq.h): a ring of item pointers and due times that grows by doubling. */
#include <stdlib.h>
#include <string.h>

#include "dueq.h"
#include "obj.h"

static void
dueq_grow(struct dueq *q)
{
    size_t ncap = q->cap ? 2 * q->cap : 16, i;
    void **v = tp_calloc(ncap, sizeof *v);
    uint64_t *d = tp_calloc(ncap, sizeof *d);

    for (i = 0; i < q->len; i++) {
        v[i] = q->v[(q->head + i) % q->cap];
        d[i] = q->due[(q->head + i) % q->cap];
    }
    free(q->v);
    free(q->due);
    q->v = v;
    q->due = d;
    q->head = 0;
    q->cap = ncap;
}

void
dueq_push(struct dueq *q, void *item, uint64_t due)
{
    if (q->len == q->cap)
        dueq_grow(q);
    q->v[(q->head + q->len) % q->cap] = item;
    q->due[(q->head + q->len) % q->cap] = due;
    q->len++;
}

void *
dueq_pop_due(struct dueq *q, uint64_t now, uint64_t *next_due)
{
    void *p;

    if (q->len == 0)
        return (NULL);
    if (q->due[q->head] > now) {
        *next_due = q->due[q->head];
        return (NULL);
    }
    p = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return (p);
}

void
dueq_free(struct dueq *q)
{
    free(q->v);
    free(q->due);
    memset(q, 0, sizeof *q);
}
