/* The growing text buffer (sbuf.h); the buffer owns its bytes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "obj.h"
#include "sbuf.h"

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        AN(n >= 0);
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap ? 2 * b->cap : 4096;
        while (b->cap - b->len <= (size_t)n)
            b->cap *= 2;
        b->p = tp_realloc(b->p, b->cap);
    }
}

void
sbuf_free(struct sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
