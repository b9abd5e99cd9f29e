/*
 * String vectors: arrays of n owned, NUL-terminated strings.  The array and
 * every string are malloc'ed and owned by whoever holds the vector; strv_free
 * frees both.  No locking.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 */
#ifndef TP_STRV_H
#define TP_STRV_H

#include <stddef.h>

void strv_free(char **v, size_t n);
/* A copy of v[0..n) (an allocated, empty array when n is 0). */
char **strv_dup(const char *const *v, size_t n);
/* Append a copy of s to *v (*n items, grown by tp_grow). */
void strv_push(char ***v, size_t *n, const char *s);
/* Append s itself (taking ownership of it). */
void strv_push_owned(char ***v, size_t *n, char *s);

#endif
