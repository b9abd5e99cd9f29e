/*
 * A deduplicating set of tags (NUL-free strings).  The set owns copies of
 * everything added.  Not thread-safe; used on the loop thread only.
 */
#ifndef TP_TAGSET_H
#define TP_TAGSET_H

#include <stddef.h>

struct tagset;

struct tagset *tagset_new(void);
void tagset_destroy(struct tagset **);
/* 1 when added, 0 when already present. */
int tagset_add(struct tagset *, const char *tag, size_t len);
int tagset_has(const struct tagset *, const char *tag, size_t len);
size_t tagset_count(const struct tagset *);
/* Sum of tag lengths (memory bound checks). */
size_t tagset_bytes(const struct tagset *);
void tagset_clear(struct tagset *);
void tagset_merge(struct tagset *dst, const struct tagset *src);
/*
 * The tags in byte order.  The array and strings are borrowed from the set and
 * stay valid until the set is next modified or destroyed.
 */
const char *const *tagset_sorted(struct tagset *, size_t *n);

#endif
