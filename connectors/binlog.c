/* The binlog event decoder (binlog.h): owns the table-map cache and the transaction state
 * between BEGIN/GTID and XID/COMMIT; committed transactions go out through callbacks. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/strv.h"
#include "binlog.h"
#include "binlog_value.h"
#include "gtid.h"

/*------------------------------------------------------------------------
 * Bounded little-endian reading.  Every reader returns -1 instead of
 * reading past the end; callers stop at the first failure.
 */
struct rd {
    const unsigned char *p, *end;
};

static int
need(const struct rd *r, size_t n)
{
    return ((size_t)(r->end - r->p) >= n ? 0 : -1);
}

static uint64_t
le(const unsigned char *p, int n)
{
    uint64_t v = 0;

    while (n-- > 0)
        v = (v << 8) | p[n];
    return (v);
}

static int
rd_le(struct rd *r, int n, uint64_t *v)
{
    if (need(r, (size_t)n) != 0)
        return (-1);
    *v = le(r->p, n);
    r->p += n;
    return (0);
}

static int
rd_skip(struct rd *r, size_t n)
{
    if (need(r, n) != 0)
        return (-1);
    r->p += n;
    return (0);
}

/* MySQL length-encoded integer. */
static int
rd_lenenc(struct rd *r, uint64_t *v)
{
    uint8_t b;

    if (need(r, 1) != 0)
        return (-1);
    b = *r->p++;
    if (b < 0xfb) {
        *v = b;
        return (0);
    }
    if (b == 0xfc)
        return (rd_le(r, 2, v));
    if (b == 0xfd)
        return (rd_le(r, 3, v));
    if (b == 0xfe)
        return (rd_le(r, 8, v));
    return (-1); /* 0xfb is NULL, 0xff an error marker: neither is valid here */
}

uint32_t
bl_crc32(uint32_t crc, const unsigned char *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    uint32_t c;
    int i, k;

    if (!ready) { /* idempotent: a race only recomputes the same table */
        for (i = 0; i < 256; i++) {
            c = (uint32_t)i;
            for (k = 0; k < 8; k++)
                c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    while (n-- > 0)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return (~crc);
}

/*------------------------------------------------------------------------
 * Decoder state
 */
struct bl_table {
    uint64_t id;
    char name[2 * 64 + 2]; /* "db.table" */
    int mapped;
    size_t ncols;
    struct bl_coldef *cols;
    int signedness;    /* SIGNEDNESS metadata seen: cols[].is_unsigned is known */
    int mariadb;       /* written by MariaDB: its charset metadata counts GEOMETRY too */
    char **names;      /* from COLUMN_NAME metadata, or NULL */
    char **enum_names; /* all ENUM/SET value strings, owned; cols[].names point in */
    size_t nenum_names;
    const char **enum_ptrs; /* per-column arrays laid end to end */
};

struct bl_decoder {
    unsigned magic;
#define BL_DECODER_MAGIC 0x3b1d0c7a
    struct bl_callbacks cb;
    int checksum; /* events carry CRC32 */
    int verify;
    int positional;  /* name unnamed columns "@1".."@n" (replay only) */
    char **posnames; /* "@1".."@nposnames", grown on demand */
    size_t nposnames;
    uint8_t ph_len[256]; /* post-header lengths from the FDE */
    int have_fde;
    int mariadb;       /* the FDE's server version says MariaDB */
    struct bl_pos cur; /* after the last event */
    struct bl_pos committed;
    int in_txn;
    int standalone;        /* MariaDB GTID with FL_STANDALONE: the next event ends it */
    int in_payload;        /* inside a TRANSACTION_PAYLOAD: inner events have no position */
    char maria_state[256]; /* per-domain GTID state */
    char txn_gtid[128];
    struct bl_table *tables;
    size_t ntables;
    struct bl_out val; /* value text arena for one row */
    struct col_value *oldv, *newv;
    size_t scratch;
};

static void
table_free(struct bl_table *t)
{
    size_t i;

    if (t->names != NULL)
        for (i = 0; i < t->ncols; i++)
            free(t->names[i]);
    for (i = 0; i < t->nenum_names; i++)
        free(t->enum_names[i]);
    free(t->enum_names);
    free(t->enum_ptrs);
    free(t->names);
    free(t->cols);
    memset(t, 0, sizeof *t);
}

static struct bl_table *
table_find(struct bl_decoder *d, uint64_t id)
{
    size_t i;

    for (i = d->ntables; i-- > 0;)
        if (d->tables[i].id == id)
            return (&d->tables[i]);
    return (NULL);
}

/* A TABLE_MAP replaces the entry for its id (ids are reused after DDL/FLUSH). */
static struct bl_table *
table_slot(struct bl_decoder *d, uint64_t id)
{
    struct bl_table *t = table_find(d, id);

    if (t != NULL) {
        table_free(t);
    } else {
        /* Bound the cache: ids only grow, so old ones are rarely reused. */
        if (d->ntables == 4096) {
            table_free(&d->tables[0]);
            memmove(d->tables, d->tables + 1, (d->ntables - 1) * sizeof *d->tables);
            d->ntables--;
        }
        d->tables = tp_grow(d->tables, d->ntables, sizeof *d->tables);
        t = &d->tables[d->ntables++];
        memset(t, 0, sizeof *t);
    }
    t->id = id;
    return (t);
}

struct bl_decoder *
bl_new(const struct bl_callbacks *cb)
{
    struct bl_decoder *d;

    ALLOC_OBJ(d, BL_DECODER_MAGIC);
    d->cb = *cb;
    bl_set_position(d, "", 4);
    return (d);
}

void
bl_destroy(struct bl_decoder **dp)
{
    struct bl_decoder *d = *dp;
    size_t i;

    if (d == NULL)
        return;
    CHECK_OBJ_NOTNULL(d, BL_DECODER_MAGIC);
    for (i = 0; i < d->ntables; i++)
        table_free(&d->tables[i]);
    free(d->tables);
    strv_free(d->posnames, d->nposnames);
    bl_out_free(&d->val);
    free(d->oldv);
    free(d->newv);
    FREE_OBJ(d);
    *dp = NULL;
}

void
bl_set_position(struct bl_decoder *d, const char *file, uint64_t pos)
{
    snprintf(d->cur.file, sizeof d->cur.file, "%s", file);
    d->cur.pos = pos;
    d->committed = d->cur;
}

void
bl_set_gtid_state(struct bl_decoder *d, const char *state)
{
    /* A MySQL "uuid:n" is no MariaDB state: it must not stick as one. */
    snprintf(d->maria_state, sizeof d->maria_state, "%s", gtid_state_valid(state) ? state : "");
    snprintf(d->cur.gtid, sizeof d->cur.gtid, "%s", state);
    d->committed = d->cur;
}

void
bl_set_checksum(struct bl_decoder *d, int on)
{
    d->checksum = on;
}

void
bl_set_verify(struct bl_decoder *d, int on)
{
    d->verify = on;
}

void
bl_set_positional_names(struct bl_decoder *d, int on)
{
    d->positional = on;
}

int
bl_in_txn(const struct bl_decoder *d)
{
    return (d->in_txn);
}

const struct bl_pos *
bl_committed(const struct bl_decoder *d)
{
    return (&d->committed);
}

const struct bl_pos *
bl_current(const struct bl_decoder *d)
{
    return (&d->cur);
}

/*------------------------------------------------------------------------
 * Transactions
 */

static void
txn_begin(struct bl_decoder *d)
{
    if (d->in_txn)
        d->cb.abort(d->cb.arg); /* a new group before the old one ended: it never committed */
    d->in_txn = 1;
    d->cb.begin(d->cb.arg);
}

static void
txn_implicit(struct bl_decoder *d)
{
    if (!d->in_txn)
        txn_begin(d);
}

/*
 * Put this GTID into the per-domain MariaDB state.  A state that would not fit
 * keeps its older entry: resuming there repeats transactions, never skips any.
 */
static void
maria_state_update(struct bl_decoder *d, const char *gtid, enum gtid_merge how)
{
    if (gtid_state_merge(d->maria_state, sizeof d->maria_state, gtid, how) != 0)
        log_warn("binlog: GTID %s not added to the state %s (too many domains?)", gtid,
                 d->maria_state);
}

static void
txn_commit(struct bl_decoder *d, uint32_t timestamp)
{
    if (!d->in_txn)
        txn_begin(d); /* a lone event that ends a group still moves the position */
    d->in_txn = 0;
    d->standalone = 0;
    d->cur.timestamp = timestamp;
    snprintf(d->cur.gtid, sizeof d->cur.gtid, "%s",
             d->maria_state[0] ? d->maria_state : d->txn_gtid);
    d->committed = d->cur;
    d->cb.commit(d->cb.arg, &d->committed);
}

static void
txn_abort(struct bl_decoder *d)
{
    if (!d->in_txn)
        return;
    d->in_txn = 0;
    d->standalone = 0;
    d->cb.abort(d->cb.arg);
}

static void
broaden(struct bl_decoder *d, const char *table, const char *why)
{
    txn_implicit(d);
    d->cb.broaden(d->cb.arg, table, why);
}

/*------------------------------------------------------------------------
 * FORMAT_DESCRIPTION, ROTATE, GTIDs
 */

/* Checksums exist from MySQL 5.6.1 and MariaDB 5.3 on: the FDE then ends with alg + CRC. */
static int
version_has_checksum(const char *v)
{
    int maj = 0, min = 0, pat = 0;

    if (sscanf(v, "%d.%d.%d", &maj, &min, &pat) < 2)
        return (0);
    if (strstr(v, "MariaDB") != NULL)
        return (maj > 5 || (maj == 5 && min >= 3));
    return (maj > 5 || (maj == 5 && (min > 6 || (min == 6 && pat >= 1))));
}

static int
on_fde(struct bl_decoder *d, const unsigned char *body, size_t len)
{
    char version[51];
    size_t n, i, tail;

    if (len < 2 + 50 + 4 + 1)
        return (-1);
    memcpy(version, body + 2, 50);
    version[50] = '\0';
    tail = version_has_checksum(version) ? 5 : 0;
    if (len < 57 + tail)
        return (-1);
    d->checksum = tail ? body[len - 5] == 1 : 0;
    n = len - 57 - tail;
    memset(d->ph_len, 0, sizeof d->ph_len);
    for (i = 0; i < n && i < 255; i++)
        d->ph_len[i + 1] = body[57 + i];
    d->have_fde = 1;
    d->mariadb = strstr(version, "MariaDB") != NULL;
    return (0);
}

/* Real and fake ROTATE: position (8) + file name; the library's parse is broken. */
static int
on_rotate(struct bl_decoder *d, const unsigned char *body, size_t len)
{
    size_t nlen;

    if (len < 8)
        return (-1);
    nlen = len - 8;
    if (nlen >= sizeof d->cur.file)
        return (-1);
    memcpy(d->cur.file, body + 8, nlen);
    d->cur.file[nlen] = '\0';
    d->cur.pos = le(body, 8);
    if (!d->in_txn)
        d->committed = d->cur; /* a rotation between transactions moves the resume point */
    return (0);
}

/* MariaDB GTID: seq (8), domain (4), flags2 (1); the server id is in the header. */
static int
on_maria_gtid(struct bl_decoder *d, const unsigned char *body, size_t len, uint32_t server_id)
{
    uint64_t seq;
    uint32_t domain;
    uint8_t flags2;

    if (len < 13)
        return (-1);
    seq = le(body, 8);
    domain = (uint32_t)le(body + 8, 4);
    flags2 = body[12];
    txn_begin(d);
    snprintf(d->txn_gtid, sizeof d->txn_gtid, "%u-%u-%llu", domain, server_id,
             (unsigned long long)seq);
    maria_state_update(d, d->txn_gtid, GTID_REPLACE);
    snprintf(d->cur.gtid, sizeof d->cur.gtid, "%s", d->maria_state); /* the open one */
    d->standalone = flags2 & 0x01;
    return (0);
}

/* MariaDB GTID_LIST at the start of a file/stream: the state so far. */
static int
on_maria_gtid_list(struct bl_decoder *d, const unsigned char *body, size_t len)
{
    uint32_t count, i;
    char g[64];

    if (len < 4)
        return (-1);
    count = (uint32_t)le(body, 4) & 0x0fffffff; /* the high bits are flags */
    if (len < 4 + (size_t)count * 16)
        return (-1);
    for (i = 0; i < count; i++) {
        const unsigned char *e = body + 4 + i * 16;
        snprintf(g, sizeof g, "%u-%u-%llu", (unsigned)le(e, 4), (unsigned)le(e + 4, 4),
                 (unsigned long long)le(e + 8, 8));
        maria_state_update(d, g, GTID_HIGHER); /* never back */
    }
    if (!d->in_txn)
        snprintf(d->committed.gtid, sizeof d->committed.gtid, "%s", d->maria_state);
    return (0);
}

static void
uuid_text(char *out, const unsigned char *u)
{
    static const char hex[] = "0123456789abcdef";
    int i, o = 0;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
    }
    out[o] = '\0';
}

/* MySQL GTID / ANONYMOUS_GTID: flags (1), uuid (16), gno (8), ... */
static int
on_mysql_gtid(struct bl_decoder *d, const unsigned char *body, size_t len, uint8_t type)
{
    char uuid[40];

    if (len < 25)
        return (-1);
    if (d->in_txn)
        txn_abort(d);
    if (type == BL_E_ANONYMOUS_GTID) {
        d->txn_gtid[0] = '\0';
        return (0);
    }
    uuid_text(uuid, body + 1);
    snprintf(d->txn_gtid, sizeof d->txn_gtid, "%s:%llu", uuid,
             (unsigned long long)le(body + 17, 8));
    snprintf(d->cur.gtid, sizeof d->cur.gtid, "%s", d->txn_gtid); /* the open one */
    return (0);
}

/*
 * An unsigned integer of MySQL's serialization library (libs/mysql/
 * serialization): the trailing one bits of the first byte say how many more
 * bytes follow; the value is the rest of those bits.  0xff: 8 bytes follow.
 */
static int
rd_varlen(struct rd *r, uint64_t *v)
{
    int n = 1;

    if (need(r, 1) != 0)
        return (-1);
    while (n < 9 && (r->p[0] >> (n - 1)) & 1)
        n++;
    if (need(r, (size_t)n) != 0)
        return (-1);
    *v = n == 9 ? le(r->p + 1, 8) : le(r->p, n) >> n;
    r->p += n;
    return (0);
}

static int
tagged_uuid(struct rd *r, unsigned char *uuid)
{
    uint64_t v;
    int i;

    for (i = 0; i < 16; i++) { /* a fixed array: 16 integers, one per byte */
        if (rd_varlen(r, &v) != 0 || v > 255)
            return (-1);
        uuid[i] = (unsigned char)v;
    }
    return (0);
}

static int
tagged_tag(struct rd *r, char *tag, size_t cap)
{
    uint64_t n;
    size_t i;

    if (rd_varlen(r, &n) != 0 || n == 0 || n >= cap || need(r, n) != 0)
        return (-1);
    for (i = 0; i < n; i++) {
        if (!isalnum(r->p[i]) && r->p[i] != '_')
            return (-1); /* a tag is [a-z_][a-z0-9_]*, at most 32 characters */
        tag[i] = (char)r->p[i];
    }
    tag[n] = '\0';
    r->p += n;
    return (0);
}

/*
 * GTID_TAGGED (MySQL 8.3+): a serialization-library message: version (1),
 * size of the whole message, last non-ignorable field id, then (field id,
 * value) pairs in id order: flags 0, uuid 1, gno 2 (zigzag signed), tag 3,
 * and after those only commit data tagpurge does not need.  The GTID reads
 * "uuid:tag:gno".
 */
static int
on_gtid_tagged(struct bl_decoder *d, const unsigned char *body, size_t len)
{
    struct rd r = {body, body + len};
    unsigned char uuid[16] = {0};
    char utext[40], tag[33] = "";
    uint64_t size, id, v = 0, gno = 0;
    int rv;

    if (d->in_txn)
        txn_abort(d);
    if (rd_skip(&r, 1) != 0 || rd_varlen(&r, &size) != 0 || size > len ||
        size < (uint64_t)(r.p - body))
        return (-1);
    r.end = body + size;
    if (rd_varlen(&r, &v) != 0)
        return (-1);
    while (r.p < r.end && tag[0] == '\0') {
        if (rd_varlen(&r, &id) != 0 || id > 3)
            return (-1); /* the tag comes before any field with a greater id */
        if (id == 1)
            rv = tagged_uuid(&r, uuid);
        else if (id == 3)
            rv = tagged_tag(&r, tag, sizeof tag);
        else
            rv = rd_varlen(&r, &v);
        if (rv != 0 || (id == 2 && (v & 1)))
            return (-1); /* malformed, or a negative gno */
        if (id == 2)
            gno = v >> 1;
    }
    if (tag[0] == '\0')
        return (-1);
    uuid_text(utext, uuid);
    snprintf(d->txn_gtid, sizeof d->txn_gtid, "%s:%s:%llu", utext, tag, (unsigned long long)gno);
    snprintf(d->cur.gtid, sizeof d->cur.gtid, "%s", d->txn_gtid); /* the open one */
    return (0);
}

/*------------------------------------------------------------------------
 * TABLE_MAP
 */

static int
is_numeric(uint8_t type)
{
    /* The SIGNEDNESS bitmap covers these, YEAR included (MariaDB 10.11 verified). */
    switch (type) {
    case BL_T_TINY:
    case BL_T_SHORT:
    case BL_T_INT24:
    case BL_T_LONG:
    case BL_T_LONGLONG:
    case BL_T_FLOAT:
    case BL_T_DOUBLE:
    case BL_T_NEWDECIMAL:
    case BL_T_YEAR:
        return (1);
    default:
        return (0);
    }
}

/* The real type of a STRING (254) column: its first metadata byte, or packed. */
static uint8_t
real_type(const struct bl_coldef *c)
{
    uint8_t m0 = c->meta & 0xff;

    if (c->type != BL_T_STRING)
        return (c->type);
    if ((m0 & 0x30) != 0x30)
        return ((uint8_t)(m0 | 0x30));
    return (m0);
}

static int
is_character(const struct bl_coldef *c)
{
    uint8_t t = real_type(c);

    return (t == BL_T_STRING || t == BL_T_VARCHAR || t == BL_T_VAR_STRING ||
            (t >= BL_T_TINY_BLOB && t <= BL_T_BLOB));
}

static int
is_enum_or_set(const struct bl_coldef *c, uint8_t which)
{
    return (real_type(c) == which);
}

static int
tm_signedness(struct bl_table *t, struct rd *v)
{
    size_t i, k = 0;

    for (i = 0; i < t->ncols; i++) {
        if (!is_numeric(t->cols[i].type))
            continue;
        if ((size_t)(v->end - v->p) <= k / 8)
            return (-1);
        t->cols[i].is_unsigned = (v->p[k / 8] >> (7 - k % 8)) & 1; /* MSB first */
        k++;
    }
    t->signedness = 1;
    return (0);
}

/*
 * Whether column i has an entry in the charset metadata.  MySQL lists the
 * character columns; MariaDB GEOMETRY columns too (a 10.5 server numbers its
 * DEFAULT_CHARSET pairs so: fixture gomysql_tablemap_optmeta_charsets_*).
 */
static int
has_charset(const struct bl_table *t, size_t i)
{
    return (is_character(&t->cols[i]) || (t->mariadb && real_type(&t->cols[i]) == BL_T_GEOMETRY));
}

/* DEFAULT_CHARSET: default id, then (index among character columns, id) pairs. */
static int
tm_default_charset(struct bl_table *t, struct rd *v)
{
    uint64_t def, idx, cs;
    size_t i, k = 0;

    if (rd_lenenc(v, &def) != 0)
        return (-1);
    for (i = 0; i < t->ncols; i++)
        if (has_charset(t, i))
            t->cols[i].charset = (int)def;
    while (v->p < v->end) {
        if (rd_lenenc(v, &idx) != 0 || rd_lenenc(v, &cs) != 0)
            return (-1);
        for (i = 0, k = 0; i < t->ncols; i++)
            if (has_charset(t, i) && k++ == idx)
                t->cols[i].charset = (int)cs;
    }
    return (0);
}

static int
tm_column_charset(struct bl_table *t, struct rd *v)
{
    uint64_t cs;
    size_t i;

    for (i = 0; i < t->ncols; i++) {
        if (!has_charset(t, i))
            continue;
        if (rd_lenenc(v, &cs) != 0)
            return (-1);
        t->cols[i].charset = (int)cs;
    }
    return (0);
}

static int
tm_names(struct bl_table *t, struct rd *v)
{
    uint64_t n;
    size_t i;

    /* A second COLUMN_NAME field is malformed: it used to leak the first (fuzz_binlog_events). */
    if (t->names != NULL)
        return (-1);
    t->names = tp_calloc(t->ncols, sizeof *t->names);
    for (i = 0; i < t->ncols; i++) {
        if (rd_lenenc(v, &n) != 0 || need(v, n) != 0)
            return (-1);
        t->names[i] = tp_strndup((const char *)v->p, n);
        v->p += n;
    }
    return (0);
}

/* SET_STR_VALUE / ENUM_STR_VALUE: per such column, a count and the strings. */
static int
tm_enum_strings(struct bl_table *t, struct rd *v, uint8_t which)
{
    uint64_t count, n, j;
    size_t i;

    for (i = 0; i < t->ncols; i++) {
        if (!is_enum_or_set(&t->cols[i], which))
            continue;
        if (rd_lenenc(v, &count) != 0 || count > 65535)
            return (-1);
        size_t first = t->nenum_names;
        for (j = 0; j < count; j++) {
            if (rd_lenenc(v, &n) != 0 || need(v, n) != 0)
                return (-1);
            t->enum_names = tp_grow(t->enum_names, t->nenum_names, sizeof(char *));
            t->enum_names[t->nenum_names++] = tp_strndup((const char *)v->p, n);
            v->p += n;
        }
        /* cols[i].names is fixed up once all strings are read (the array moves). */
        t->cols[i].nnames = count;
        t->cols[i].names = (const char *const *)(uintptr_t)(first + 1);
    }
    return (0);
}

static void
tm_fix_enum_ptrs(struct bl_table *t)
{
    size_t i;

    t->enum_ptrs = tp_calloc(t->nenum_names + 1, sizeof *t->enum_ptrs);
    for (i = 0; i < t->nenum_names; i++)
        t->enum_ptrs[i] = t->enum_names[i];
    for (i = 0; i < t->ncols; i++)
        if (t->cols[i].names != NULL)
            t->cols[i].names = t->enum_ptrs + ((uintptr_t)t->cols[i].names - 1);
}

static int
tm_optional(struct bl_table *t, struct rd *r)
{
    uint64_t len;
    uint8_t type;
    struct rd v;
    int rv = 0;

    while (rv == 0 && r->p < r->end) {
        type = *r->p++;
        if (rd_lenenc(r, &len) != 0 || need(r, len) != 0)
            return (-1);
        v.p = r->p;
        v.end = r->p + len;
        r->p += len;
        switch (type) {
        case 1:
            rv = tm_signedness(t, &v);
            break;
        case 2:
            rv = tm_default_charset(t, &v);
            break;
        case 3:
            rv = tm_column_charset(t, &v);
            break;
        case 4:
            rv = tm_names(t, &v);
            break;
        case 5:
            rv = tm_enum_strings(t, &v, BL_T_SET);
            break;
        case 6:
            rv = tm_enum_strings(t, &v, BL_T_ENUM);
            break;
        default:
            break; /* geometry types, keys, visibility, ...: not needed for text */
        }
    }
    tm_fix_enum_ptrs(t);
    return (rv);
}

static int
tm_columns(struct bl_table *t, struct rd *r)
{
    uint64_t ncols, mlen;
    const unsigned char *types;
    struct rd m;
    size_t i;
    int ml;

    if (rd_lenenc(r, &ncols) != 0 || ncols == 0 || ncols > 4096 || need(r, ncols) != 0)
        return (-1);
    t->ncols = ncols;
    types = r->p;
    r->p += ncols;
    if (rd_lenenc(r, &mlen) != 0 || need(r, mlen) != 0)
        return (-1);
    m.p = r->p;
    m.end = r->p + mlen;
    r->p += mlen;
    t->cols = tp_calloc(ncols, sizeof *t->cols);
    for (i = 0; i < ncols; i++) {
        t->cols[i].type = types[i];
        t->cols[i].charset = -1;
        ml = bl_meta_len(types[i]);
        if (ml < 0 || need(&m, (size_t)ml) != 0)
            return (-1);
        t->cols[i].meta = ml ? bl_meta_read(types[i], m.p) : 0;
        m.p += ml;
    }
    return (rd_skip(r, (ncols + 7) / 8)); /* nullable bitmap */
}

static int
on_table_map(struct bl_decoder *d, const unsigned char *body, size_t len)
{
    struct rd r = {body, body + len};
    uint64_t id, n;
    struct bl_table *t;
    char db[65], tbl[65];
    int idlen = d->ph_len[BL_E_TABLE_MAP] == 6 ? 4 : 6;

    if (rd_le(&r, idlen, &id) != 0 || rd_skip(&r, 2) != 0)
        return (-1);
    if (rd_le(&r, 1, &n) != 0 || n > 64 || need(&r, n + 1) != 0)
        return (-1);
    memcpy(db, r.p, n);
    db[n] = '\0';
    r.p += n + 1;
    if (rd_le(&r, 1, &n) != 0 || n > 64 || need(&r, n + 1) != 0)
        return (-1);
    memcpy(tbl, r.p, n);
    tbl[n] = '\0';
    r.p += n + 1;
    t = table_slot(d, id);
    snprintf(t->name, sizeof t->name, "%s.%s", db, tbl);
    t->mapped = d->cb.mapped(d->cb.arg, t->name);
    t->mariadb = d->mariadb;
    if (tm_columns(t, &r) != 0 || tm_optional(t, &r) != 0) {
        table_free(t);
        t->id = id; /* keep the slot: its rows will broaden as undecodable */
        snprintf(t->name, sizeof t->name, "%s.%s", db, tbl);
        t->mapped = d->cb.mapped(d->cb.arg, t->name);
        return (-1);
    }
    return (0);
}

/*------------------------------------------------------------------------
 * Rows events
 */

struct rows_ev {
    uint8_t type;
    enum change_op op;
    int v2;
    int update;
    int partial;
};

static int
bit(const unsigned char *bm, size_t i)
{
    return ((bm[i / 8] >> (i % 8)) & 1);
}

static size_t
popcount_bm(const unsigned char *bm, size_t n)
{
    size_t i, c = 0;

    for (i = 0; i < n; i++)
        c += (size_t)bit(bm, i);
    return (c);
}

static void
grow_scratch(struct bl_decoder *d, size_t n)
{
    if (d->scratch >= n)
        return;
    d->scratch = n;
    d->oldv = tp_realloc(d->oldv, n * sizeof *d->oldv);
    d->newv = tp_realloc(d->newv, n * sizeof *d->newv);
}

/* A JSON column of a partial after-image carries a diff: skip it, value unknown. */
static int
skip_partial_json(const struct bl_coldef *c, struct rd *r)
{
    uint64_t n;
    int lb = c->meta ? c->meta : 4;

    if (lb > 4 || rd_le(r, lb, &n) != 0)
        return (-1);
    return (rd_skip(r, n));
}

static int
read_partial_bits(const struct bl_table *t, const unsigned char *present, struct rd *r,
                  const unsigned char **pbits)
{
    uint64_t opts;
    size_t i, njson = 0;

    *pbits = NULL;
    if (rd_lenenc(r, &opts) != 0)
        return (-1);
    if (!(opts & 1)) /* PARTIAL_JSON_UPDATES not set: an ordinary after-image */
        return (0);
    for (i = 0; i < t->ncols; i++)
        if (t->cols[i].type == BL_T_JSON && bit(present, i))
            njson++;
    *pbits = r->p;
    return (rd_skip(r, (njson + 7) / 8));
}

/*------------------------------------------------------------------------
 * Character sets.  Tags are built from text as a UTF-8 client sees it, so
 * character columns are converted from their column charset.  ASCII-only
 * text is the same in every ASCII-compatible charset; other text is
 * converted from latin1, passed through from UTF-8, and otherwise unknown
 * (fallback tags: never a guess).
 */
enum cs_kind { CS_UTF8, CS_LATIN1, CS_BINARY, CS_OTHER };

static enum cs_kind
charset_kind(int id)
{
    if (id == 63)
        return (CS_BINARY);
    if (id == 5 || id == 8 || id == 15 || id == 31 || (id >= 47 && id <= 49) || id == 94)
        return (CS_LATIN1);
    if (id == 11 || id == 65 || id == 33 || id == 83 || (id >= 192 && id <= 215) || id == 223 ||
        id == 45 || id == 46 || (id >= 224 && id <= 247) || (id >= 255 && id <= 323))
        return (CS_UTF8); /* ascii, utf8mb3, utf8mb4 (MySQL 8 and MariaDB ids) */
    return (CS_OTHER);
}

/* MySQL's latin1 is Windows-1252: 0x80-0x9F are not C1 controls. */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static size_t
utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return (1);
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return (2);
    }
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return (3);
}

/* Re-encode arena bytes [off, len) from latin1 to UTF-8. */
static void
latin1_to_utf8(struct bl_out *a, size_t off)
{
    size_t n = a->len - off, i, o = 0;
    char *tmp = tp_malloc(3 * n + 1);

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a->buf[off + i];
        o += utf8_put(tmp + o, c >= 0x80 && c < 0xA0 ? cp1252_hi[c - 0x80] : c);
    }
    a->len = off;
    if (a->cap < off + o + 1) {
        a->cap = off + o + 1;
        a->buf = tp_realloc(a->buf, a->cap);
    }
    memcpy(a->buf + off, tmp, o);
    a->len = off + o;
    a->buf[a->len] = '\0';
    free(tmp);
}

/* 0, or -1 when the text cannot be known as UTF-8 (the value becomes unknown). */
static int
to_utf8(struct bl_decoder *d, const struct bl_coldef *c, size_t off)
{
    enum cs_kind k;
    size_t i;

    if (!is_character(c) || real_type(c) == BL_T_ENUM || real_type(c) == BL_T_SET)
        return (0);
    k = charset_kind(c->charset);
    if (k == CS_UTF8 || k == CS_BINARY)
        return (0);
    for (i = off; i < d->val.len; i++)
        if ((unsigned char)d->val.buf[i] >= 0x80)
            break;
    if (i == d->val.len)
        return (0); /* ASCII: the same text in every charset we could meet */
    if (k == CS_LATIN1) {
        latin1_to_utf8(&d->val, off);
        return (0);
    }
    d->val.len = off;
    return (-1);
}

/* Value offsets go into the arena; pointers are fixed once the row is complete. */
static int
decode_value(struct bl_decoder *d, const struct bl_coldef *c, struct rd *r, struct col_value *v)
{
    enum bl_vstate st;
    size_t used, off = d->val.len;

    if (bl_value(c, r->p, (size_t)(r->end - r->p), &used, &st, &d->val) != 0)
        return (-1);
    r->p += used;
    if (st == BL_VALUE && to_utf8(d, c, off) != 0)
        st = BL_UNKNOWN;
    v->state = st == BL_VALUE ? COL_VALUE : COL_UNKNOWN;
    v->data = (const char *)(uintptr_t)off;
    v->len = st == BL_VALUE ? d->val.len - off : 0;
    return (0);
}

/*
 * Without SIGNEDNESS metadata (MySQL 5.7, MariaDB binlog_row_metadata=NO_LOG)
 * integers are read as signed, so a negative one may really be a large
 * UNSIGNED value (mysqlbinlog prints "-1 (4294967295)"): unknown, not a guess.
 */
static void
unsure_sign(const struct bl_decoder *d, const struct bl_coldef *c, struct col_value *v)
{
    /* v->data is still an offset into the arena (see decode_value()). */
    switch (c->type) {
    case BL_T_TINY:
    case BL_T_SHORT:
    case BL_T_INT24:
    case BL_T_LONG:
    case BL_T_LONGLONG:
        if (v->state == COL_VALUE && v->len > 0 && d->val.buf[(uintptr_t)v->data] == '-') {
            v->state = COL_UNKNOWN;
            v->len = 0;
        }
        break;
    default:
        break;
    }
}

static int
decode_image(struct bl_decoder *d, const struct bl_table *t, const unsigned char *present,
             struct rd *r, int partial_ai, struct col_value *out)
{
    const unsigned char *nulls, *pbits = NULL;
    size_t i, k = 0, j = 0, np = popcount_bm(present, t->ncols);

    if (partial_ai && read_partial_bits(t, present, r, &pbits) != 0)
        return (-1);
    nulls = r->p;
    if (rd_skip(r, (np + 7) / 8) != 0)
        return (-1);
    for (i = 0; i < t->ncols; i++) {
        out[i].state = COL_UNKNOWN; /* absent from a minimal/noblob image */
        out[i].data = NULL;
        out[i].len = 0;
        if (!bit(present, i))
            continue;
        int is_json = t->cols[i].type == BL_T_JSON;
        int partial = is_json && pbits != NULL && bit(pbits, j);
        j += (size_t)is_json;
        if (bit(nulls, k++)) {
            out[i].state = COL_NULL;
            continue;
        }
        if (partial ? skip_partial_json(&t->cols[i], r) : decode_value(d, &t->cols[i], r, &out[i]))
            return (-1);
        if (!t->signedness)
            unsure_sign(d, &t->cols[i], &out[i]);
    }
    return (0);
}

static void
fix_pointers(struct bl_decoder *d, struct col_value *v, size_t n)
{
    size_t i;

    /* Before the arena has memory, values are empty: "", never NULL + 0 (fuzz_binlog_events). */
    for (i = 0; i < n; i++)
        if (v[i].state == COL_VALUE)
            v[i].data = d->val.buf != NULL ? d->val.buf + (uintptr_t)v[i].data : "";
}

static int
decode_row(struct bl_decoder *d, const struct bl_table *t, const struct rows_ev *e,
           const unsigned char *bm1, const unsigned char *bm2, struct rd *r,
           const char *const *names)
{
    struct change c;

    bl_out_reset(&d->val);
    memset(&c, 0, sizeof c);
    c.op = e->op;
    c.table = t->name;
    c.colnames = names;
    c.ncols = t->ncols;
    if (decode_image(d, t, bm1, r, 0, e->op == CHG_INSERT ? d->newv : d->oldv) != 0)
        return (-1);
    if (e->update && decode_image(d, t, bm2, r, e->partial, d->newv) != 0)
        return (-1);
    if (e->op != CHG_INSERT) {
        fix_pointers(d, d->oldv, t->ncols);
        c.oldv = d->oldv;
    }
    if (e->op != CHG_DELETE) {
        fix_pointers(d, d->newv, t->ncols);
        c.newv = d->newv;
    }
    d->cb.change(d->cb.arg, &c);
    return (0);
}

static void
rows_kind(uint8_t type, struct rows_ev *e)
{
    memset(e, 0, sizeof *e);
    e->type = type;
    e->v2 = type >= BL_E_WRITE_ROWS_V2;
    switch (type) {
    case BL_E_WRITE_ROWS_V1:
    case BL_E_WRITE_ROWS_V2:
        e->op = CHG_INSERT;
        break;
    case BL_E_DELETE_ROWS_V1:
    case BL_E_DELETE_ROWS_V2:
        e->op = CHG_DELETE;
        break;
    default:
        e->op = CHG_UPDATE;
        e->update = 1;
        break;
    }
    e->partial = type == BL_E_PARTIAL_UPDATE_ROWS;
}

/* "@1".."@n", 1-based like mysqlbinlog's ### lines; shared by every table. */
static const char *const *
positional_names(struct bl_decoder *d, size_t n)
{
    char name[24]; /* "@" and any size_t */

    if (d->nposnames < n) {
        d->posnames = tp_realloc(d->posnames, n * sizeof *d->posnames);
        for (; d->nposnames < n; d->nposnames++) {
            snprintf(name, sizeof name, "@%zu", d->nposnames + 1);
            d->posnames[d->nposnames] = tp_strdup(name);
        }
    }
    return ((const char *const *)d->posnames);
}

static const char *const *
column_names(struct bl_decoder *d, const struct bl_table *t)
{
    const char *const *names = NULL;

    if (t->names != NULL)
        return ((const char *const *)t->names);
    if (d->cb.names != NULL)
        names = d->cb.names(d->cb.arg, t->name, t->ncols);
    if (names == NULL && d->positional && t->cols != NULL)
        names = positional_names(d, t->ncols);
    return (names);
}

static int
rows_body(struct bl_decoder *d, const struct bl_table *t, const struct rows_ev *e, struct rd *r,
          const char *const *names)
{
    const unsigned char *bm1, *bm2 = NULL;
    uint64_t ncols;
    size_t bml;

    if (rd_lenenc(r, &ncols) != 0 || ncols != t->ncols)
        return (-1);
    bml = (ncols + 7) / 8;
    bm1 = r->p;
    if (rd_skip(r, bml) != 0)
        return (-1);
    if (e->update) {
        bm2 = r->p;
        if (rd_skip(r, bml) != 0)
            return (-1);
    }
    /*
     * With no column in any image a row is zero bytes long, and the loop below
     * would deliver empty rows forever without moving: such an event is
     * malformed (found by fuzz_binlog_events: the reader thread spun at 100%).
     */
    if (popcount_bm(bm1, t->ncols) == 0 && (bm2 == NULL || popcount_bm(bm2, t->ncols) == 0))
        return (-1);
    grow_scratch(d, t->ncols);
    while (r->p < r->end)
        if (decode_row(d, t, e, bm1, bm2, r, names) != 0)
            return (-1);
    return (0);
}

static int
on_rows(struct bl_decoder *d, uint8_t type, const unsigned char *body, size_t len)
{
    struct rd r = {body, body + len};
    int idlen = d->ph_len[type] == 6 ? 4 : 6;
    const char *const *names;
    struct bl_table *t;
    struct rows_ev e;
    uint64_t id, extra;

    rows_kind(type, &e);
    if (rd_le(&r, idlen, &id) != 0 || rd_skip(&r, 2) != 0)
        return (-1);
    if (e.v2 && (rd_le(&r, 2, &extra) != 0 || extra < 2 || rd_skip(&r, extra - 2) != 0))
        return (-1);
    txn_implicit(d);
    t = table_find(d, id);
    if (t == NULL) {
        broaden(d, NULL, "rows event for a table id without TABLE_MAP");
        return (0);
    }
    if (!t->mapped)
        return (0);
    names = column_names(d, t);
    if (t->cols == NULL || names == NULL) {
        broaden(d, t->name,
                t->cols ? "no column names (binlog_row_metadata is not FULL)"
                        : "undecodable TABLE_MAP");
        return (0);
    }
    /* Rows decoded before a failure were delivered; the broaden covers the rest. */
    if (rows_body(d, t, &e, &r, names) != 0)
        broaden(d, t->name, "undecodable row image");
    return (0);
}

/*------------------------------------------------------------------------
 * QUERY: transaction control, and statements that touch mapped tables
 * without rows (DDL, TRUNCATE, binlog_format STATEMENT/MIXED).  Table names
 * are found by scanning identifiers: over-matching only over-purges.
 */

struct sqlscan {
    const char *p, *end;
};

static void
sql_skip_space(struct sqlscan *s)
{
    for (;;) {
        while (s->p < s->end && isspace((unsigned char)*s->p))
            s->p++;
        if (s->end - s->p >= 2 && s->p[0] == '/' && s->p[1] == '*') {
            const char *e = memmem(s->p + 2, (size_t)(s->end - s->p - 2), "*/", 2);
            s->p = e ? e + 2 : s->end;
        } else if (s->end - s->p >= 2 && s->p[0] == '-' && s->p[1] == '-') {
            while (s->p < s->end && *s->p != '\n')
                s->p++;
        } else if (s->p < s->end && *s->p == '#') {
            while (s->p < s->end && *s->p != '\n')
                s->p++;
        } else {
            return;
        }
    }
}

/* Next identifier (bare or `quoted`) into buf; skips literals and punctuation. */
static int
sql_next_ident(struct sqlscan *s, char *buf, size_t len, int *dot_before)
{
    size_t o = 0;
    char q;

    *dot_before = 0;
    for (;;) {
        sql_skip_space(s);
        if (s->p >= s->end)
            return (0);
        q = *s->p;
        if (q == '\'' || q == '"') { /* a string literal */
            for (s->p++; s->p < s->end && *s->p != q; s->p++)
                if (*s->p == '\\' && s->p + 1 < s->end)
                    s->p++;
            s->p++;
            continue;
        }
        if (q == '.') {
            *dot_before = 1;
            s->p++;
            continue;
        }
        if (q == '`') {
            for (s->p++; s->p < s->end && *s->p != '`'; s->p++)
                if (o + 1 < len)
                    buf[o++] = *s->p;
            s->p++;
            break;
        }
        if (isalnum((unsigned char)q) || q == '_' || q == '$') {
            while (s->p < s->end && (isalnum((unsigned char)*s->p) || *s->p == '_' || *s->p == '$'))
                if (o + 1 < len)
                    buf[o++] = *s->p++;
                else
                    s->p++;
            break;
        }
        *dot_before = 0;
        s->p++;
    }
    buf[o] = '\0';
    return (1);
}

static int
mapped_name(struct bl_decoder *d, const char *db, const char *tbl, char *out, size_t len)
{
    char lower[2 * 64 + 2];
    size_t i;

    snprintf(out, len, "%s.%s", db, tbl);
    if (d->cb.mapped(d->cb.arg, out))
        return (1);
    /* Names compare case-insensitively here: over-matching only over-purges. */
    snprintf(lower, sizeof lower, "%s", out);
    for (i = 0; lower[i] != '\0'; i++)
        lower[i] = (char)tolower((unsigned char)lower[i]);
    if (strcmp(lower, out) != 0 && d->cb.mapped(d->cb.arg, lower)) {
        snprintf(out, len, "%s", lower);
        return (1);
    }
    return (0);
}

static int
starts_with_word(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);

    return ((size_t)(end - p) >= n && strncasecmp(p, word, n) == 0 &&
            ((size_t)(end - p) == n || !isalnum((unsigned char)p[n])));
}

/* Broaden every mapped table the statement names; returns how many. */
static int
sql_tables(struct bl_decoder *d, const char *db, const char *sql, size_t len, int dml)
{
    struct sqlscan s = {sql, sql + len};
    char prev[65] = "", cur[65], name[2 * 64 + 2];
    int dot, n = 0;

    while (sql_next_ident(&s, cur, sizeof cur, &dot)) {
        int hit = (dot && prev[0] && mapped_name(d, prev, cur, name, sizeof name)) ||
                  (!dot && db[0] && mapped_name(d, db, cur, name, sizeof name));
        if (hit) {
            broaden(d, name, dml ? "statement-format event" : "DDL or TRUNCATE");
            if (dml)
                d->cb.statement(d->cb.arg, name);
            else if (d->cb.schema_changed != NULL)
                d->cb.schema_changed(d->cb.arg, name);
            n++;
        }
        snprintf(prev, sizeof prev, "%s", cur);
    }
    return (n);
}

static void
on_sql(struct bl_decoder *d, const char *db, const char *sql, size_t len, uint32_t ts)
{
    struct sqlscan s = {sql, sql + len};
    const char *p, *e = sql + len;
    int dml, was_in;

    sql_skip_space(&s);
    p = s.p;
    if (starts_with_word(p, e, "BEGIN") || starts_with_word(p, e, "XA START")) {
        if (!d->in_txn)
            txn_begin(d);
        return;
    }
    if (starts_with_word(p, e, "COMMIT")) {
        txn_commit(d, ts);
        return;
    }
    if (starts_with_word(p, e, "ROLLBACK") && !starts_with_word(p, e, "ROLLBACK TO")) {
        txn_abort(d);
        return;
    }
    if (starts_with_word(p, e, "SAVEPOINT") || starts_with_word(p, e, "ROLLBACK TO") ||
        starts_with_word(p, e, "RELEASE") || starts_with_word(p, e, "XA END"))
        return;
    if (starts_with_word(p, e, "DROP DATABASE") || starts_with_word(p, e, "DROP SCHEMA")) {
        /* Its tables are not named: purge every mapped table (over-purging is safe). */
        was_in = d->in_txn;
        broaden(d, NULL, "DROP DATABASE");
        if (!was_in || d->standalone)
            txn_commit(d, ts);
        return;
    }
    dml = starts_with_word(p, e, "INSERT") || starts_with_word(p, e, "UPDATE") ||
          starts_with_word(p, e, "DELETE") || starts_with_word(p, e, "REPLACE") ||
          starts_with_word(p, e, "LOAD");
    if (!dml && d->cb.ddl != NULL)
        d->cb.ddl(d->cb.arg, p, (size_t)(e - p));
    was_in = d->in_txn; /* sql_tables() may open one implicitly */
    sql_tables(d, db, p, (size_t)(e - p), dml);
    /* DDL (MySQL: no BEGIN; MariaDB: a standalone GTID) ends its own group. */
    if (!was_in || d->standalone)
        txn_commit(d, ts);
}

static int
on_query(struct bl_decoder *d, uint8_t type, const unsigned char *body, size_t len, uint32_t ts)
{
    size_t ph = d->ph_len[type] ? d->ph_len[type] : (type == BL_E_QUERY ? 13 : 26);
    size_t dblen, svlen;
    char db[65];

    if (len < ph || ph < 13)
        return (-1);
    dblen = body[8];
    svlen = le(body + 11, 2);
    if (dblen > 64 || len < ph + svlen + dblen + 1)
        return (-1);
    memcpy(db, body + ph + svlen, dblen);
    db[dblen] = '\0';
    on_sql(d, db, (const char *)body + ph + svlen + dblen + 1, len - ph - svlen - dblen - 1, ts);
    return (0);
}

/*------------------------------------------------------------------------
 * TRANSACTION_PAYLOAD (MySQL 8.0.20+ binlog_transaction_compression): a
 * header of (type, length, value) fields up to an end mark, then the events
 * of the whole transaction, zstd-compressed, without checksums.
 */
#define PAYLOAD_MAX (256u << 20)

static int feed_event(struct bl_decoder *, const unsigned char *, size_t);

static int
payload_header(struct rd *r, uint64_t *size, uint64_t *ctype, uint64_t *usize)
{
    uint64_t type, len, v;

    for (;;) {
        if (rd_lenenc(r, &type) != 0)
            return (-1);
        if (type == 0)
            return (0);
        if (rd_lenenc(r, &len) != 0 || need(r, len) != 0)
            return (-1);
        struct rd f = {r->p, r->p + len};
        r->p += len;
        if (rd_lenenc(&f, &v) != 0)
            return (-1);
        if (type == 1)
            *size = v;
        else if (type == 2)
            *ctype = v;
        else if (type == 3)
            *usize = v;
    }
}

static int
payload_events(struct bl_decoder *d, const unsigned char *p, size_t n)
{
    size_t off = 0, sz;
    int rv = 0, saved = d->checksum;

    d->checksum = 0;
    d->in_payload = 1;
    while (rv == 0 && off + BL_HEADER_LEN <= n) {
        sz = le(p + off + 9, 4);
        if (sz < BL_HEADER_LEN || sz > n - off)
            rv = -1;
        else
            rv = feed_event(d, p + off, sz);
        off += sz;
    }
    d->in_payload = 0;
    d->checksum = saved;
    return (rv == 0 && off == n ? 0 : -1);
}

static int
on_payload(struct bl_decoder *d, const unsigned char *body, size_t len)
{
    struct rd r = {body, body + len};
    uint64_t size = 0, ctype = 255, usize = 0;
    unsigned char *buf;
    size_t got;
    int rv;

    if (payload_header(&r, &size, &ctype, &usize) != 0)
        return (-1);
    if (ctype == 255)
        return (payload_events(d, r.p, (size_t)(r.end - r.p)));
    if (ctype != 0 || usize == 0 || usize > PAYLOAD_MAX)
        return (-1);
    buf = tp_malloc(usize);
    got = ZSTD_decompress(buf, usize, r.p, (size_t)(r.end - r.p));
    rv = ZSTD_isError(got) || got != usize ? -1 : payload_events(d, buf, got);
    free(buf);
    return (rv);
}

/*------------------------------------------------------------------------
 * Dispatch
 */

struct ev_hdr {
    uint32_t ts;
    uint8_t type;
    uint32_t server_id;
    uint32_t size;
    uint32_t log_pos;
    uint16_t flags;
};

static uint32_t
crc_with_header(const unsigned char *h, const unsigned char *ev, size_t len)
{
    return (bl_crc32(bl_crc32(0, h, BL_HEADER_LEN), ev + BL_HEADER_LEN, len - BL_HEADER_LEN - 4));
}

/*
 * A FORMAT_DESCRIPTION's CRC is computed with LOG_EVENT_BINLOG_IN_USE_F
 * cleared: the server sets that flag on an open file.  One computed over the
 * flag as it stands (go-mysql's test FDE in gomysql_full_events_with_header)
 * is accepted too: it differs in a flag the decoder ignores.
 */
static int
check_crc(const unsigned char *ev, size_t len, uint8_t type)
{
    unsigned char h[BL_HEADER_LEN];
    uint32_t want;

    if (len < BL_HEADER_LEN + 4)
        return (-1);
    want = (uint32_t)le(ev + len - 4, 4);
    memcpy(h, ev, BL_HEADER_LEN);
    if (type == BL_E_FDE && (h[17] & 1)) {
        h[17] &= (unsigned char)~1;
        if (crc_with_header(h, ev, len) == want)
            return (0);
        h[17] |= 1;
    }
    return (crc_with_header(h, ev, len) == want ? 0 : -1);
}

/*
 * The next position: end_log_pos when the server wrote one; MariaDB 11.4 row
 * events carry 0, so count from where this event started.  Artificial events,
 * heartbeats and the events inside a payload do not move the position.
 */
static void
advance(struct bl_decoder *d, const struct ev_hdr *h)
{
    if (d->in_payload || (h->flags & BL_FLAG_ARTIFICIAL) || h->type == BL_E_ROTATE ||
        h->type == BL_E_HEARTBEAT || h->type == BL_E_HEARTBEAT_V2)
        return;
    if (h->log_pos != 0)
        d->cur.pos = h->log_pos;
    else if (h->type != BL_E_FDE)
        d->cur.pos += h->size;
}

static int
dispatch(struct bl_decoder *d, const struct ev_hdr *h, const unsigned char *b, size_t n)
{
    switch (h->type) {
    case BL_E_FDE:
        return (on_fde(d, b, n));
    case BL_E_ROTATE:
        return (on_rotate(d, b, n));
    case BL_E_TABLE_MAP:
        return (on_table_map(d, b, n));
    case BL_E_WRITE_ROWS_V1:
    case BL_E_UPDATE_ROWS_V1:
    case BL_E_DELETE_ROWS_V1:
    case BL_E_WRITE_ROWS_V2:
    case BL_E_UPDATE_ROWS_V2:
    case BL_E_DELETE_ROWS_V2:
    case BL_E_PARTIAL_UPDATE_ROWS:
        return (on_rows(d, h->type, b, n));
    case BL_E_QUERY:
    case BL_E_EXECUTE_LOAD_QUERY:
        return (on_query(d, h->type, b, n, h->ts));
    case BL_E_XID:
    case BL_E_XA_PREPARE:
        txn_commit(d, h->ts);
        return (0);
    case BL_E_MARIA_GTID:
        return (on_maria_gtid(d, b, n, h->server_id));
    case BL_E_MARIA_GTID_LIST:
        return (on_maria_gtid_list(d, b, n));
    case BL_E_GTID:
    case BL_E_ANONYMOUS_GTID:
        return (on_mysql_gtid(d, b, n, h->type));
    case BL_E_GTID_TAGGED:
        return (on_gtid_tagged(d, b, n));
    case BL_E_TRANSACTION_PAYLOAD:
        return (on_payload(d, b, n));
    case BL_E_MARIA_QUERY_COMPRESSED:
        broaden(d, NULL, "compressed QUERY event");
        if (d->standalone)
            txn_commit(d, h->ts);
        return (0);
    case BL_E_MARIA_WRITE_ROWS_COMPRESSED:
    case BL_E_MARIA_UPDATE_ROWS_COMPRESSED:
    case BL_E_MARIA_DELETE_ROWS_COMPRESSED:
    case BL_E_MARIA_WRITE_ROWS_COMPRESSED_V1:
    case BL_E_MARIA_UPDATE_ROWS_COMPRESSED_V1:
    case BL_E_MARIA_DELETE_ROWS_COMPRESSED_V1:
        broaden(d, NULL, "compressed rows event (log_bin_compress)");
        return (0);
    case BL_E_INCIDENT:
        broaden(d, NULL, "INCIDENT event: the server lost track of changes");
        return (0);
    default:
        return (0); /* known but irrelevant, or unknown: skipped by its length */
    }
}

static int
fde_has_crc(const unsigned char *ev, size_t len)
{
    char version[51];

    if (len < BL_HEADER_LEN + 57 + 5)
        return (0);
    memcpy(version, ev + BL_HEADER_LEN + 2, 50);
    version[50] = '\0';
    return (version_has_checksum(version) && ev[len - 5] == 1);
}

static int
feed_event(struct bl_decoder *d, const unsigned char *ev, size_t len)
{
    struct ev_hdr h;
    size_t blen;
    int has_crc;

    if (len < BL_HEADER_LEN)
        return (-1);
    h.ts = (uint32_t)le(ev, 4);
    h.type = ev[4];
    h.server_id = (uint32_t)le(ev + 5, 4);
    h.size = (uint32_t)le(ev + 9, 4);
    h.log_pos = (uint32_t)le(ev + 13, 4);
    h.flags = (uint16_t)le(ev + 17, 2);
    if (h.size != len)
        return (-1);
    blen = len - BL_HEADER_LEN;
    /* The FDE says itself whether it carries a checksum (on_fde() strips its own). */
    has_crc = h.type == BL_E_FDE ? fde_has_crc(ev, len) : d->checksum && !d->in_payload;
    if (has_crc && d->verify && check_crc(ev, len, h.type) != 0)
        return (-1);
    if (has_crc && h.type != BL_E_FDE) {
        if (blen < 4)
            return (-1);
        blen -= 4;
    }
    advance(d, &h);
    if (d->standalone && h.type != BL_E_QUERY && h.type != BL_E_MARIA_QUERY_COMPRESSED &&
        h.type != BL_E_MARIA_ANNOTATE_ROWS)
        d->standalone = 0; /* only a QUERY ends a standalone group */
    return (dispatch(d, &h, ev + BL_HEADER_LEN, blen));
}

int
bl_feed(struct bl_decoder *d, const unsigned char *ev, size_t len)
{
    char why[96];

    CHECK_OBJ_NOTNULL(d, BL_DECODER_MAGIC);
    if (feed_event(d, ev, len) == 0)
        return (0);
    snprintf(why, sizeof why, "malformed or corrupt event (type %u, %zu bytes)",
             len > 4 ? ev[4] : 0, len);
    log_err("binlog %s:%llu: %s", d->cur.file, (unsigned long long)d->cur.pos, why);
    if (d->in_txn)
        d->cb.broaden(d->cb.arg, NULL, why);
    return (-1);
}
