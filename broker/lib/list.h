/*
 * An intrusive doubly linked list (after the BSD queue.h LIST_*): the
 * element embeds a struct list_link and belongs to at most one list per link;
 * the list owns nothing, the caller frees elements after list_remove().
 * Unlinking is O(1) and needs no head walk.  No locking: one thread per list.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 *
 *   struct purge { ...; struct list_link live; };
 *   struct list_head live_purges;          zeroed: empty
 *   list_insert_head(&live_purges, &p->live);
 *   LIST_FOREACH_SAFE(p, pn, &live_purges, struct purge, live) { ... }
 */
#ifndef TP_LIST_H
#define TP_LIST_H

#include <stddef.h>

struct list_link {
    struct list_link *next, **pprev; /* pprev: the pointer that points at this link */
};

struct list_head {
    struct list_link *first;
};

static inline void
list_insert_head(struct list_head *h, struct list_link *l)
{
    l->next = h->first;
    if (l->next != NULL)
        l->next->pprev = &l->next;
    h->first = l;
    l->pprev = &h->first;
}

static inline void
list_remove(struct list_link *l)
{
    if (l->pprev == NULL)
        return; /* not on a list */
    *l->pprev = l->next;
    if (l->next != NULL)
        l->next->pprev = l->pprev;
    l->next = NULL;
    l->pprev = NULL;
}

static inline int
list_empty(const struct list_head *h)
{
    return (h->first == NULL);
}

/* The element that holds link l (NULL for NULL). */
#define LIST_ELEM(l, type, field)                                                                  \
    ((l) != NULL ? (type *)(void *)((char *)(l)-offsetof(type, field)) : NULL)
#define LIST_FIRST(h, type, field) LIST_ELEM((h)->first, type, field)
#define LIST_NEXT(e, type, field)  LIST_ELEM((e)->field.next, type, field)
#define LIST_FOREACH(e, h, type, field)                                                            \
    for ((e) = LIST_FIRST(h, type, field); (e) != NULL; (e) = LIST_NEXT(e, type, field))
/* e may be removed (and freed) in the body; n is the next element, read first. */
#define LIST_FOREACH_SAFE(e, n, h, type, field)                                                    \
    for ((e) = LIST_FIRST(h, type, field); (e) != NULL && ((n) = LIST_NEXT(e, type, field), 1);    \
         (e) = (n))

#endif
