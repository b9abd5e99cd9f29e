/*
 * A due queue: a FIFO of opaque pointers, each with a due time.  Due times
 * must not decrease (one fixed delay per queue), so the head is always the
 * next due.  The queue owns its arrays, never the items.  No locking.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 */
#ifndef TP_DUEQ_H
#define TP_DUEQ_H

#include <stddef.h>
#include <stdint.h>

struct dueq {
    void **v;
    uint64_t *due;
    size_t head, len, cap;
};

/* Zeroed is empty. */
void dueq_push(struct dueq *, void *item, uint64_t due);
/* The head if its due time is <= now; else NULL and, if not empty, *next_due. */
void *dueq_pop_due(struct dueq *, uint64_t now, uint64_t *next_due);
void dueq_free(struct dueq *);

#endif
