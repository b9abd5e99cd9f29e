/* The PostgreSQL connector's relations and row changes (pgrel.h): owns the relation cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../broker/lib/obj.h"
#include "pgrel.h"

struct pgrel *
pgrels_find(struct pgrels *rs, uint32_t relid)
{
    size_t i;

    for (i = 0; i < rs->n; i++)
        if (rs->v[i].relid == relid)
            return (&rs->v[i]);
    return (NULL);
}

static void
rel_clear(struct pgrel *r)
{
    size_t i;

    for (i = 0; i < r->ncols; i++)
        free(r->names[i]);
    free(r->names);
    free(r->key);
    free(r->table);
    memset(r, 0, sizeof *r);
}

struct pgrel *
pgrels_set(struct pgrels *rs, const struct pgo_relation *rel)
{
    struct pgrel *r = pgrels_find(rs, rel->relid);
    size_t i, n;

    if (r == NULL) {
        rs->v = tp_grow(rs->v, rs->n, sizeof *rs->v);
        r = &rs->v[rs->n++];
        memset(r, 0, sizeof *r);
    } else {
        rel_clear(r);
    }
    r->relid = rel->relid;
    n = strlen(rel->nspname) + strlen(rel->relname) + 2;
    r->table = tp_malloc(n);
    snprintf(r->table, n, "%s.%s", rel->nspname, rel->relname);
    r->ncols = rel->ncols;
    r->names = tp_calloc(rel->ncols + 1, sizeof *r->names);
    r->key = tp_calloc(rel->ncols + 1, sizeof *r->key);
    for (i = 0; i < rel->ncols; i++) {
        r->names[i] = tp_strdup(rel->cols[i].name);
        r->key[i] = rel->cols[i].key;
    }
    if (rs->scratch < r->ncols) {
        rs->scratch = r->ncols;
        rs->oldv = tp_realloc(rs->oldv, r->ncols * sizeof *rs->oldv);
        rs->newv = tp_realloc(rs->newv, r->ncols * sizeof *rs->newv);
    }
    return (r);
}

static void
set_val(struct col_value *v, const struct pgo_value *pv)
{
    v->data = pv->data;
    v->len = pv->len;
    v->state = pv->kind == 'n' ? COL_NULL : pv->kind == 't' ? COL_VALUE : COL_UNKNOWN;
}

/*
 * The old image pgoutput gives: 'O' the full old row; 'K' the replica
 * identity columns only (the others arrive as 'n' but are unknown); none for
 * an UPDATE that kept the key, whose key values are therefore the new ones.
 */
static void
build_old(const struct pgrel *r, char oldkind, const struct pgo_tuple *oldt,
          const struct pgo_tuple *newt, struct col_value *oldv)
{
    size_t i;

    for (i = 0; i < r->ncols; i++) {
        oldv[i].state = COL_UNKNOWN;
        if (oldkind == 'O' && i < oldt->ncols)
            set_val(&oldv[i], &oldt->vals[i]);
        else if (oldkind == 'K' && i < oldt->ncols && r->key[i])
            set_val(&oldv[i], &oldt->vals[i]);
        else if (oldkind == 0 && newt != NULL && i < newt->ncols && r->key[i])
            set_val(&oldv[i], &newt->vals[i]);
    }
}

/* 'u' (unchanged TOAST) in the new row equals the full old value, when we have it. */
static void
build_new(const struct pgrel *r, const struct pgo_tuple *newt, char oldkind,
          const struct col_value *oldv, struct col_value *newv)
{
    size_t i;

    for (i = 0; i < r->ncols; i++) {
        newv[i].state = COL_UNKNOWN;
        if (i >= newt->ncols)
            continue;
        if (newt->vals[i].kind == 'u' && oldkind == 'O')
            newv[i] = oldv[i];
        else
            set_val(&newv[i], &newt->vals[i]);
    }
}

void
pgrels_change(struct pgrels *rs, const struct pgrel *r, char op, char oldkind,
              const struct pgo_tuple *oldt, const struct pgo_tuple *newt, struct change *c)
{
    memset(c, 0, sizeof *c);
    c->op = op == 'I' ? CHG_INSERT : op == 'U' ? CHG_UPDATE : CHG_DELETE;
    c->table = r->table;
    c->colnames = (const char *const *)r->names;
    c->ncols = r->ncols;
    if (op != 'I') {
        build_old(r, oldkind, oldt, newt, rs->oldv);
        c->oldv = rs->oldv;
    }
    if (op != 'D') {
        build_new(r, newt, oldkind, rs->oldv, rs->newv);
        c->newv = rs->newv;
    }
}

void
pgrels_free(struct pgrels *rs)
{
    size_t i;

    for (i = 0; i < rs->n; i++)
        rel_clear(&rs->v[i]);
    free(rs->v);
    free(rs->oldv);
    free(rs->newv);
    memset(rs, 0, sizeof *rs);
}
