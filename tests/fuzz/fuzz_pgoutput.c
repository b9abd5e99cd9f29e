/*
 * libFuzzer target for the pgoutput decoder (connectors/pgoutput.h): a
 * sequence of protocol-1 messages through pgo_decode(), as the XLogData
 * payloads of a replication stream (Begin, Relation, Insert/Update/Delete
 * with key-only or full old tuples, Truncate, Commit, Type, Origin,
 * Message, ...).
 *
 * Input: messages, each a 16-bit little-endian length and that many bytes
 * (the last one may be cut short), each copied to an exact-size buffer so
 * ASan sees any read past it.
 *
 * Invariants: everything a callback borrows lies inside the message (names
 * NUL-terminated there, values of their stated length; every byte is read);
 * counts stay within the decoder's 1664 columns; kinds and old-tuple kinds
 * are the documented ones, a DELETE has an old tuple and no new one.  Rows
 * then go, built by the PostgreSQL connector's own pgrel.c, through the
 * real txn and tagmap, whose tags must obey the tag rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../broker/lib/obj.h"
#include "../../broker/tagmap.h"
#include "../../broker/tagset.h"
#include "../../broker/txn.h"
#include "../../connectors/pgoutput.h"
#include "../../connectors/pgrel.h"
#include "fuzz.h"

#define MAX_TAG  64
#define MAX_TAGS 32
#define MAX_COLS 1664

struct fz_pg {
    struct txn *txn;
    int in_txn;
    const uint8_t *msg; /* the message being decoded */
    size_t len;
    struct pgrels rels;
};

static struct tagmap *map;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    map = fz_test_map(MAX_TAG);
    return (0);
}

/* p[0..n) lies inside the message; every byte is read. */
static void
inside(const struct fz_pg *f, const void *p, size_t n)
{
    const uint8_t *b = p;

    AN(b >= f->msg && n <= f->len && b - f->msg <= (ptrdiff_t)(f->len - n));
    fz_touch(b, n);
}

static void
inside_str(const struct fz_pg *f, const char *s)
{
    AN(s != NULL);
    inside(f, s, strlen(s) + 1);
}

static int
cb_relation(void *arg, const struct pgo_relation *rel)
{
    struct fz_pg *f = arg;
    uint16_t i;

    inside_str(f, rel->nspname);
    inside_str(f, rel->relname);
    AN(rel->ncols <= MAX_COLS);
    AN(rel->ncols == 0 || rel->cols != NULL);
    for (i = 0; i < rel->ncols; i++) {
        inside_str(f, rel->cols[i].name);
        AN(rel->cols[i].key == 0 || rel->cols[i].key == 1);
    }
    (void)pgrels_set(&f->rels, rel);
    return (0);
}

static int
cb_begin(void *arg, uint64_t final_lsn, int64_t ts, uint32_t xid)
{
    struct fz_pg *f = arg;

    (void)final_lsn;
    (void)ts;
    (void)xid;
    f->in_txn = 1; /* a Begin inside a transaction starts over, as the connector does */
    txn_reset(f->txn);
    return (0);
}

static int
cb_commit(void *arg, uint64_t commit_lsn, uint64_t end_lsn, int64_t ts)
{
    struct fz_pg *f = arg;

    (void)commit_lsn;
    (void)end_lsn;
    (void)ts;
    if (!f->in_txn)
        return (-1);
    f->in_txn = 0;
    fz_check_tagset(txn_finish(f->txn), MAX_TAG);
    txn_reset(f->txn);
    return (0);
}

static void
check_tuple(const struct fz_pg *f, const struct pgo_tuple *t)
{
    uint16_t i;

    AN(t->ncols <= MAX_COLS);
    AN(t->ncols == 0 || t->vals != NULL);
    for (i = 0; i < t->ncols; i++) {
        const struct pgo_value *v = &t->vals[i];
        AN(v->kind == 'n' || v->kind == 'u' || v->kind == 't' || v->kind == 'b');
        if (v->kind == 'n' || v->kind == 'u')
            AN(v->data == NULL && v->len == 0);
        else
            inside(f, v->data, v->len);
    }
}

static int
cb_change(void *arg, char op, uint32_t relid, char oldkind, const struct pgo_tuple *oldt,
          const struct pgo_tuple *newt)
{
    struct fz_pg *f = arg;
    struct pgrel *r = pgrels_find(&f->rels, relid);
    struct change c;

    AN(op == 'I' || op == 'U' || op == 'D');
    AN(oldkind == 0 || oldkind == 'K' || oldkind == 'O');
    AN((oldt != NULL) == (oldkind != 0));
    AN((newt != NULL) == (op != 'D'));
    AN(op != 'I' || oldt == NULL);
    if (oldt != NULL)
        check_tuple(f, oldt);
    if (newt != NULL)
        check_tuple(f, newt);
    if (r == NULL || !f->in_txn)
        return (-1); /* the protocol sends Relation first, and changes inside a transaction */
    pgrels_change(&f->rels, r, op, oldkind, oldt, newt, &c); /* as conn_postgres.c does */
    fz_check_change(&c);
    c.table = "fuzz.t"; /* every relation through the one test entry */
    txn_change(f->txn, &c);
    return (0);
}

static int
cb_truncate(void *arg, const uint32_t *relids, uint32_t n)
{
    struct fz_pg *f = arg;
    uint32_t i;

    AN(n <= MAX_COLS);
    AN(n == 0 || relids != NULL);
    fz_touch(relids, n * sizeof *relids);
    if (!f->in_txn)
        return (-1);
    for (i = 0; i < n; i++)
        if (pgrels_find(&f->rels, relids[i]) != NULL)
            txn_broaden(f->txn, "fuzz.t");
    return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct pgo_callbacks tpl = {NULL,        cb_begin,  cb_commit,
                                             cb_relation, cb_change, cb_truncate};
    struct pgo_callbacks cb = tpl;
    struct fz_in in = {data, size};
    struct pgo_decoder *d = pgo_new();
    struct fz_pg *f = tp_calloc(1, sizeof *f);
    uint8_t *msg;

    cb.arg = f;
    f->txn = txn_new(map, MAX_TAGS, "fuzz");
    while (in.n > 0) {
        msg = fz_chunk(&in, &f->len);
        f->msg = msg;
        /* An undecodable message inside a transaction broadens it (conn_postgres.c). */
        if (pgo_decode(d, msg, f->len, &cb) != 0 && f->in_txn)
            txn_broaden(f->txn, NULL);
        free(msg);
    }
    pgrels_free(&f->rels);
    txn_destroy(&f->txn);
    free(f);
    pgo_destroy(&d);
    return (0);
}
