/* The pgoutput v1 message decoder (pgoutput.h): one message in, one callback out; owns nothing. */
#include <string.h>

#include "../broker/lib/obj.h"
#include "pgoutput.h"

/*
 * Scratch space: Relation messages carry up to 1664 columns; tuples up to
 * the same.  Strings in Relation messages are NUL-terminated in the buffer
 * itself, so names point into it.
 */
#define PGO_MAX_COLS 1664

struct pgo_decoder {
    unsigned magic;
#define PGO_MAGIC 0x9b0e7a31
    struct pgo_col_def defs[PGO_MAX_COLS];
    struct pgo_value oldv[PGO_MAX_COLS];
    struct pgo_value newv[PGO_MAX_COLS];
    uint32_t relids[PGO_MAX_COLS];
};

struct rd {
    const unsigned char *p, *end;
};

uint64_t
pgo_be64(const unsigned char *b)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return (v);
}

void
pgo_put_be64(unsigned char *b, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static int
rd_u8(struct rd *r, uint8_t *v)
{
    if (r->end - r->p < 1)
        return (-1);
    *v = *r->p++;
    return (0);
}

static int
rd_u16(struct rd *r, uint16_t *v)
{
    if (r->end - r->p < 2)
        return (-1);
    *v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    return (0);
}

static int
rd_u32(struct rd *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return (-1);
    *v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) | r->p[3];
    r->p += 4;
    return (0);
}

static int
rd_u64(struct rd *r, uint64_t *v)
{
    if (r->end - r->p < 8)
        return (-1);
    *v = pgo_be64(r->p);
    r->p += 8;
    return (0);
}

static int
rd_str(struct rd *r, const char **s)
{
    const unsigned char *nul = memchr(r->p, '\0', (size_t)(r->end - r->p));

    if (nul == NULL)
        return (-1);
    *s = (const char *)r->p;
    r->p = nul + 1;
    return (0);
}

static int
rd_tuple(struct rd *r, struct pgo_value *vals, struct pgo_tuple *t)
{
    uint16_t i, n;
    uint32_t len;
    uint8_t kind;

    if (rd_u16(r, &n) != 0 || n > PGO_MAX_COLS)
        return (-1);
    for (i = 0; i < n; i++) {
        if (rd_u8(r, &kind) != 0)
            return (-1);
        vals[i].kind = (char)kind;
        vals[i].data = NULL;
        vals[i].len = 0;
        if (kind == 'n' || kind == 'u')
            continue;
        if ((kind != 't' && kind != 'b') || rd_u32(r, &len) != 0 || (size_t)(r->end - r->p) < len)
            return (-1);
        vals[i].data = (const char *)r->p;
        vals[i].len = len;
        r->p += len;
    }
    t->ncols = n;
    t->vals = vals;
    return (0);
}

static int
dec_relation(struct pgo_decoder *d, struct rd *r, const struct pgo_callbacks *cb)
{
    struct pgo_relation rel;
    uint32_t typmod;
    uint8_t flags, ident;
    uint16_t i;

    if (rd_u32(r, &rel.relid) != 0 || rd_str(r, &rel.nspname) != 0 ||
        rd_str(r, &rel.relname) != 0 || rd_u8(r, &ident) != 0 || rd_u16(r, &rel.ncols) != 0 ||
        rel.ncols > PGO_MAX_COLS)
        return (-1);
    rel.replident = (char)ident;
    for (i = 0; i < rel.ncols; i++) {
        if (rd_u8(r, &flags) != 0 || rd_str(r, &d->defs[i].name) != 0 ||
            rd_u32(r, &d->defs[i].type_oid) != 0 || rd_u32(r, &typmod) != 0)
            return (-1);
        d->defs[i].key = flags & 1;
    }
    rel.cols = d->defs;
    return (cb->relation ? cb->relation(cb->arg, &rel) : 0);
}

static int
dec_change(struct pgo_decoder *d, char op, struct rd *r, const struct pgo_callbacks *cb)
{
    struct pgo_tuple oldt = {0, NULL}, newt = {0, NULL};
    char oldkind = 0;
    uint32_t relid;
    uint8_t k;

    if (rd_u32(r, &relid) != 0 || rd_u8(r, &k) != 0)
        return (-1);
    if (op != 'I' && (k == 'K' || k == 'O')) {
        oldkind = (char)k;
        if (rd_tuple(r, d->oldv, &oldt) != 0)
            return (-1);
        if (op == 'U' && rd_u8(r, &k) != 0)
            return (-1);
    }
    if (op != 'D') {
        if (k != 'N' || rd_tuple(r, d->newv, &newt) != 0)
            return (-1);
    } else if (oldkind == 0) {
        return (-1); /* a DELETE always carries K or O */
    }
    if (r->p != r->end)
        return (-1);
    return (cb->change ? cb->change(cb->arg, op, relid, oldkind, oldkind ? &oldt : NULL,
                                    op != 'D' ? &newt : NULL)
                       : 0);
}

static int
dec_truncate(struct pgo_decoder *d, struct rd *r, const struct pgo_callbacks *cb)
{
    uint32_t n, i;
    uint8_t options;

    if (rd_u32(r, &n) != 0 || rd_u8(r, &options) != 0 || n > PGO_MAX_COLS)
        return (-1);
    for (i = 0; i < n; i++)
        if (rd_u32(r, &d->relids[i]) != 0)
            return (-1);
    return (cb->truncate ? cb->truncate(cb->arg, d->relids, n) : 0);
}

int
pgo_decode(struct pgo_decoder *d, const unsigned char *msg, size_t len,
           const struct pgo_callbacks *cb)
{
    struct rd r = {msg + 1, msg + len};
    uint64_t a, b, ts;
    uint32_t xid;
    uint8_t flags;

    CHECK_OBJ_NOTNULL(d, PGO_MAGIC);
    if (len < 1)
        return (-1);
    switch (msg[0]) {
    case 'B':
        if (rd_u64(&r, &a) != 0 || rd_u64(&r, &ts) != 0 || rd_u32(&r, &xid) != 0)
            return (-1);
        return (cb->begin ? cb->begin(cb->arg, a, (int64_t)ts, xid) : 0);
    case 'C':
        if (rd_u8(&r, &flags) != 0 || rd_u64(&r, &a) != 0 || rd_u64(&r, &b) != 0 ||
            rd_u64(&r, &ts) != 0)
            return (-1);
        return (cb->commit ? cb->commit(cb->arg, a, b, (int64_t)ts) : 0);
    case 'R':
        return (dec_relation(d, &r, cb));
    case 'I':
    case 'U':
    case 'D':
        return (dec_change(d, (char)msg[0], &r, cb));
    case 'T':
        return (dec_truncate(d, &r, cb));
    default:
        /* 'Y' type, 'O' origin, 'M' message and anything newer: nothing to purge. */
        return (0);
    }
}

struct pgo_decoder *
pgo_new(void)
{
    struct pgo_decoder *d;

    ALLOC_OBJ(d, PGO_MAGIC);
    return (d);
}

void
pgo_destroy(struct pgo_decoder **dp)
{
    if (*dp == NULL)
        return;
    FREE_OBJ(*dp);
}
