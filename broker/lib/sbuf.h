/*
 * A growing text buffer (for /metrics and other generated text).  The
 * buffer owns its bytes; sbuf_free() releases them.  Always NUL-terminated.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 */
#ifndef TP_SBUF_H
#define TP_SBUF_H

#include <stddef.h>

struct sbuf {
    char *p;
    size_t len, cap;
};

void sbuf_printf(struct sbuf *, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_free(struct sbuf *);

#endif
