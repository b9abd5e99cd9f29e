/*
 * Foreign-key cascades for MySQL/MariaDB: the edge set read from
 * information_schema, and the walk from one logged parent row to the child
 * changes InnoDB made without logging them.  Owns the edges (see my_cascade.h).
 */
#include <mysql.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/tagmap.h"
#include "../broker/txn.h"
#include "my_cascade.h"

struct myc_edge {
    char *name, *parent, *child;
    char *pcols[MYC_MAX_COLS], *ccols[MYC_MAX_COLS];
    size_t ncols;
    enum myc_rule del, upd;
};

struct my_cascade {
    unsigned magic;
#define MY_CASCADE_MAGIC 0x3ca5cade
    struct myc_edge *e; /* sorted by parent once prepared */
    size_t n, max;
    int dirty;            /* edges added since the last prepare() */
    struct tagmap *bound; /* a reference: the map wanted[] was computed for */
    const char **wanted;  /* parents reaching a mapped table, sorted; borrowed from e[] */
    size_t nwanted, maxwanted;
};

struct my_cascade *
myc_new(void)
{
    struct my_cascade *s;

    ALLOC_OBJ(s, MY_CASCADE_MAGIC);
    return (s);
}

static void
edge_free(struct myc_edge *e)
{
    size_t i;

    for (i = 0; i < e->ncols; i++) {
        free(e->pcols[i]);
        free(e->ccols[i]);
    }
    free(e->name);
    free(e->parent);
    free(e->child);
}

void
myc_destroy(struct my_cascade **sp)
{
    struct my_cascade *s = *sp;
    size_t i;

    if (s == NULL)
        return;
    CHECK_OBJ_NOTNULL(s, MY_CASCADE_MAGIC);
    for (i = 0; i < s->n; i++)
        edge_free(&s->e[i]);
    free(s->e);
    free(s->wanted);
    tagmap_unref(&s->bound);
    FREE_OBJ(s);
    *sp = NULL;
}

enum myc_rule
myc_rule_parse(const char *r)
{
    if (r == NULL)
        return (MYC_UNKNOWN);
    if (strcasecmp(r, "CASCADE") == 0)
        return (MYC_CASCADE);
    if (strcasecmp(r, "SET NULL") == 0)
        return (MYC_SET_NULL);
    if (strcasecmp(r, "SET DEFAULT") == 0)
        return (MYC_SET_DEFAULT);
    return (MYC_NONE);
}

const char *
myc_rule_name(enum myc_rule r)
{
    switch (r) {
    case MYC_CASCADE:
        return ("CASCADE");
    case MYC_SET_NULL:
        return ("SET NULL");
    case MYC_SET_DEFAULT:
        return ("SET DEFAULT");
    case MYC_UNKNOWN:
        return ("UNKNOWN (treated as CASCADE)");
    case MYC_NONE:
        break;
    }
    return ("NO ACTION");
}

static int
edge_same(const struct myc_edge *e, const char *name, const char *parent, const char *child,
          const char *const *pcols, const char *const *ccols, size_t ncols, enum myc_rule del,
          enum myc_rule upd)
{
    size_t i;

    if (e->ncols != ncols || e->del != del || e->upd != upd || strcmp(e->name, name) != 0 ||
        strcmp(e->parent, parent) != 0 || strcmp(e->child, child) != 0)
        return (0);
    for (i = 0; i < ncols; i++)
        if (strcmp(e->pcols[i], pcols[i]) != 0 || strcmp(e->ccols[i], ccols[i]) != 0)
            return (0);
    return (1);
}

void
myc_add(struct my_cascade *s, const char *name, const char *parent, const char *child,
        const char *const *pcols, const char *const *ccols, size_t ncols, enum myc_rule del,
        enum myc_rule upd)
{
    struct myc_edge *e;
    size_t i;

    CHECK_OBJ_NOTNULL(s, MY_CASCADE_MAGIC);
    AN(ncols > 0 && ncols <= MYC_MAX_COLS);
    for (i = 0; i < s->n; i++)
        if (edge_same(&s->e[i], name, parent, child, pcols, ccols, ncols, del, upd))
            return;
    if (s->n == s->max) {
        s->max = s->max ? 2 * s->max : 8;
        s->e = tp_realloc(s->e, s->max * sizeof *s->e);
    }
    e = &s->e[s->n++];
    memset(e, 0, sizeof *e);
    e->name = tp_strdup(name);
    e->parent = tp_strdup(parent);
    e->child = tp_strdup(child);
    for (i = 0; i < ncols; i++) {
        e->pcols[i] = tp_strdup(pcols[i]);
        e->ccols[i] = tp_strdup(ccols[i]);
    }
    e->ncols = ncols;
    e->del = del;
    e->upd = upd;
    s->dirty = 1;
}

size_t
myc_count(const struct my_cascade *s)
{
    CHECK_OBJ_NOTNULL(s, MY_CASCADE_MAGIC);
    return (s->n);
}

size_t
myc_unknown_rules(const struct my_cascade *s)
{
    size_t i, n = 0;

    CHECK_OBJ_NOTNULL(s, MY_CASCADE_MAGIC);
    for (i = 0; i < s->n; i++)
        n += s->e[i].del == MYC_UNKNOWN || s->e[i].upd == MYC_UNKNOWN;
    return (n);
}

/*------------------------------------------------------------------------
 * Which tables matter: parents whose acting edges reach a mapped table
 */

static int
cmp_edge(const void *a, const void *b)
{
    return (strcmp(((const struct myc_edge *)a)->parent, ((const struct myc_edge *)b)->parent));
}

static int
cmp_str(const void *a, const void *b)
{
    return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

static int
acting(const struct myc_edge *e)
{
    return (e->del != MYC_NONE || e->upd != MYC_NONE);
}

static int
listed(const char *const *v, size_t n, const char *t)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(v[i], t) == 0)
            return (1);
    return (0);
}

static void
push_str(const char ***v, size_t *n, size_t *max, const char *t)
{
    if (*n == *max) {
        *max = *max ? 2 * *max : 8;
        *v = tp_realloc(*v, *max * sizeof **v);
    }
    (*v)[(*n)++] = t;
}

/* Walk acting edges backwards from every mapped child; what is reached is wanted. */
static void
compute_wanted(struct my_cascade *s, const struct tagmap *map)
{
    const char **work = NULL;
    size_t nwork = 0, maxwork = 0, i, k;

    s->nwanted = 0;
    for (i = 0; i < s->n; i++)
        if (acting(&s->e[i]) && tagmap_lookup(map, s->e[i].child) != NULL &&
            !listed(work, nwork, s->e[i].child))
            push_str(&work, &nwork, &maxwork, s->e[i].child);
    for (k = 0; k < nwork; k++)
        for (i = 0; i < s->n; i++)
            if (acting(&s->e[i]) && strcmp(s->e[i].child, work[k]) == 0 &&
                !listed(s->wanted, s->nwanted, s->e[i].parent)) {
                push_str(&s->wanted, &s->nwanted, &s->maxwanted, s->e[i].parent);
                if (!listed(work, nwork, s->e[i].parent))
                    push_str(&work, &nwork, &maxwork, s->e[i].parent);
            }
    free(work);
    if (s->nwanted > 0) /* qsort(NULL, 0) is undefined */
        qsort(s->wanted, s->nwanted, sizeof *s->wanted, cmp_str);
}

static void
prepare(struct my_cascade *s, const struct tagmap *map)
{
    CHECK_OBJ_NOTNULL(s, MY_CASCADE_MAGIC);
    if (!s->dirty && s->bound == map)
        return;
    if (s->dirty && s->n > 0)
        qsort(s->e, s->n, sizeof *s->e, cmp_edge); /* wanted[] points into e[]: recomputed */
    tagmap_unref(&s->bound);
    s->bound = tagmap_ref(map);
    compute_wanted(s, map);
    s->dirty = 0;
}

static int
is_wanted(const struct my_cascade *s, const char *table)
{
    return (s->nwanted > 0 &&
            bsearch(&table, s->wanted, s->nwanted, sizeof *s->wanted, cmp_str) != NULL);
}

int
myc_wanted(struct my_cascade *s, const struct tagmap *map, const char *table)
{
    prepare(s, map);
    return (is_wanted(s, table));
}

/* The child leads to a mapped table (itself or below). */
static int
reaches(const struct my_cascade *s, const struct myc_edge *e)
{
    return (tagmap_lookup(s->bound, e->child) != NULL || is_wanted(s, e->child));
}

/* Edges whose parent is table: [*lo, *hi) of the sorted e[]. */
static void
edges_of(const struct my_cascade *s, const char *table, size_t *lo, size_t *hi)
{
    size_t a = 0, b = s->n, mid;

    while (a < b) {
        mid = a + (b - a) / 2;
        if (strcmp(s->e[mid].parent, table) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    *lo = a;
    while (a < s->n && strcmp(s->e[a].parent, table) == 0)
        a++;
    *hi = a;
}

/*------------------------------------------------------------------------
 * The walk
 */

/* A table's row change as far as it is known: logged (every column) or derived (FK columns). */
struct img {
    const char *table;
    enum change_op op;
    const char *const *cols;
    size_t n;
    const struct col_value *oldv, *newv;
    int derived; /* cols are exactly the columns the cascade changed */
};

struct walk {
    struct my_cascade *s;
    struct txn *t;
    const char *path[MYC_MAX_DEPTH];
    size_t depth;
    size_t fired;
};

static const struct col_value *
img_val(const struct img *m, const struct col_value *v, const char *col)
{
    size_t i;

    if (v == NULL)
        return (NULL);
    for (i = 0; i < m->n; i++)
        if (strcmp(m->cols[i], col) == 0)
            return (&v[i]);
    return (NULL);
}

/* Both known and equal. */
static int
same(const struct col_value *a, const struct col_value *b)
{
    if (a == NULL || b == NULL || a->state == COL_UNKNOWN || a->state != b->state)
        return (0);
    return (a->state == COL_NULL || (a->len == b->len && memcmp(a->data, b->data, a->len) == 0));
}

/* The rule edge e applies to change m, MYC_NONE when it does not act. */
static enum myc_rule
edge_fires(const struct myc_edge *e, const struct img *m)
{
    const struct col_value *o, *n;
    size_t i;

    if (m->op == CHG_DELETE)
        return (e->del);
    if (m->op != CHG_UPDATE || e->upd == MYC_NONE)
        return (MYC_NONE);
    for (i = 0; i < e->ncols; i++) {
        o = img_val(m, m->oldv, e->pcols[i]);
        n = img_val(m, m->newv, e->pcols[i]);
        if (m->derived && o == NULL && n == NULL)
            continue; /* the cascade did not change this column */
        if (!same(o, n))
            return (e->upd); /* changed, or not known to be unchanged */
    }
    return (MYC_NONE);
}

/* The child change edge e makes of m under rule r; ov/nv hold its values. */
static void
derive(const struct myc_edge *e, enum myc_rule r, const struct img *m, struct img *c,
       struct col_value *ov, struct col_value *nv)
{
    static const struct col_value unknown = {COL_UNKNOWN, NULL, 0};
    static const struct col_value null = {COL_NULL, NULL, 0};
    const struct col_value *o, *n;
    size_t i;

    c->table = e->child;
    if (r == MYC_UNKNOWN)
        r = MYC_CASCADE; /* a deleted child: at least the tags a SET NULL would purge */
    c->op = m->op == CHG_DELETE && r == MYC_CASCADE ? CHG_DELETE : CHG_UPDATE;
    c->cols = (const char *const *)e->ccols;
    c->n = e->ncols;
    c->derived = 1;
    for (i = 0; i < e->ncols; i++) {
        o = img_val(m, m->oldv, e->pcols[i]);
        n = img_val(m, m->newv, e->pcols[i]);
        ov[i] = o != NULL ? *o : unknown;
        if (r == MYC_SET_NULL)
            nv[i] = null;
        else if (r == MYC_CASCADE && n != NULL)
            nv[i] = *n;
        else
            nv[i] = unknown; /* SET DEFAULT: the column default is not known here */
    }
    c->oldv = ov;
    c->newv = c->op == CHG_UPDATE ? nv : NULL;
}

static void
log_edge(const struct myc_edge *e, enum myc_rule r, const struct img *m, const char *how)
{
    if (log_get_level() < LOG_LVL_DEBUG)
        return;
    log_debug("cascade: %s %s %s -> %s (%s) ON %s %s%s", m->derived ? "derived" : "logged",
              m->op == CHG_DELETE ? "DELETE of" : "UPDATE of", e->parent, e->child, e->name,
              m->op == CHG_DELETE ? "DELETE" : "UPDATE", myc_rule_name(r), how);
}

/*
 * Every mapped table reachable from parent's edges (those that fire for m, or
 * all acting ones when m is NULL) purges its fallback tags: their rows are
 * not known.  Breadth first, each table once.
 */
static size_t
closure(struct walk *w, const char *parent, const struct img *m)
{
    const char **q = NULL;
    size_t nq = 0, maxq = 0, k, lo, hi, i, n = 0;

    edges_of(w->s, parent, &lo, &hi);
    for (i = lo; i < hi; i++)
        if ((m != NULL ? edge_fires(&w->s->e[i], m) != MYC_NONE : acting(&w->s->e[i])) &&
            reaches(w->s, &w->s->e[i]) && !listed(q, nq, w->s->e[i].child)) {
            log_edge(&w->s->e[i], MYC_CASCADE, m ? m : &(struct img){.table = parent},
                     ": rows unknown, fallback tags");
            push_str(&q, &nq, &maxq, w->s->e[i].child);
        }
    for (k = 0; k < nq; k++) {
        if (tagmap_lookup(w->s->bound, q[k]) != NULL) {
            txn_cascade_broaden(w->t, q[k]);
            n++;
        }
        edges_of(w->s, q[k], &lo, &hi);
        for (i = lo; i < hi; i++)
            if (acting(&w->s->e[i]) && reaches(w->s, &w->s->e[i]) &&
                !listed(q, nq, w->s->e[i].child))
                push_str(&q, &nq, &maxq, w->s->e[i].child);
    }
    free(q);
    return (n);
}

static int
on_path(const struct walk *w, const char *table)
{
    size_t i;

    for (i = 0; i <= w->depth; i++)
        if (strcmp(w->path[i], table) == 0)
            return (1);
    return (0);
}

static void
child_change(struct walk *w, const struct img *c)
{
    struct change ch = {c->op, c->table, c->cols, c->n, c->oldv, c->newv};

    txn_cascade(w->t, &ch);
}

static void
walk(struct walk *w, const struct img *m)
{
    struct col_value ov[MYC_MAX_COLS], nv[MYC_MAX_COLS];
    const struct myc_edge *e;
    enum myc_rule r;
    struct img c;
    size_t lo, hi, i;

    edges_of(w->s, m->table, &lo, &hi);
    for (i = lo; i < hi; i++) {
        e = &w->s->e[i];
        r = edge_fires(e, m);
        if (r == MYC_NONE || !reaches(w->s, e))
            continue;
        derive(e, r, m, &c, ov, nv);
        w->fired++;
        log_edge(e, r, m, "");
        child_change(w, &c); /* ignored when the child is not mapped */
        if (on_path(w, c.table) || w->depth + 1 >= MYC_MAX_DEPTH) {
            /* A cycle or the depth cap: what c cascades to further is not derived. */
            w->fired += closure(w, c.table, &c);
            continue;
        }
        w->path[++w->depth] = c.table;
        walk(w, &c);
        w->depth--;
    }
}

size_t
myc_apply(struct my_cascade *s, struct txn *t, const struct change *c)
{
    struct walk w = {.s = s, .t = t};
    struct img m = {c->table, c->op, c->colnames, c->ncols, c->oldv, c->newv, 0};

    prepare(s, txn_map(t));
    if (!is_wanted(s, c->table))
        return (0);
    w.path[0] = c->table;
    walk(&w, &m);
    return (w.fired);
}

size_t
myc_broaden(struct my_cascade *s, struct txn *t, const char *table)
{
    struct walk w = {.s = s, .t = t};

    prepare(s, txn_map(t));
    if (!is_wanted(s, table))
        return (0);
    return (closure(&w, table, NULL));
}

void
myc_describe(struct my_cascade *s, const struct tagmap *map, size_t i, char *buf, size_t len,
             int *reaches_mapped)
{
    const struct myc_edge *e;
    char pc[512] = "", cc[512] = "";
    size_t k, po = 0, co = 0;

    CHECK_OBJ_NOTNULL(s, MY_CASCADE_MAGIC);
    if (map != NULL)
        prepare(s, map);
    AN(i < s->n);
    e = &s->e[i];
    for (k = 0; k < e->ncols; k++) {
        po += (size_t)snprintf(pc + po, po < sizeof pc ? sizeof pc - po : 0, "%s%s", k ? ", " : "",
                               e->pcols[k]);
        co += (size_t)snprintf(cc + co, co < sizeof cc ? sizeof cc - co : 0, "%s%s", k ? ", " : "",
                               e->ccols[k]);
        if (po >= sizeof pc || co >= sizeof cc)
            break;
    }
    snprintf(buf, len, "%s(%s) -> %s(%s) [%s] ON DELETE %s ON UPDATE %s", e->parent, pc, e->child,
             cc, e->name, myc_rule_name(e->del), myc_rule_name(e->upd));
    *reaches_mapped = map == NULL || reaches(s, e);
}

/*------------------------------------------------------------------------
 * Reading the edges (blocking, the caller's connection and thread).
 * KEY_COLUMN_USAGE names the columns and is visible with SELECT;
 * REFERENTIAL_CONSTRAINTS holds the rules and may be hidden (LEFT JOIN:
 * MYC_UNKNOWN then).
 */

#define MYC_EDGES_SQL                                                                              \
    "SELECT k.CONSTRAINT_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.REFERENCED_TABLE_SCHEMA, "     \
    "k.REFERENCED_TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE, "            \
    "r.UPDATE_RULE FROM information_schema.KEY_COLUMN_USAGE k "                                    \
    "LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON "                                   \
    "r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "         \
    "AND r.TABLE_NAME = k.TABLE_NAME "                                                             \
    "WHERE k.REFERENCED_TABLE_NAME IS NOT NULL "                                                   \
    "ORDER BY k.CONSTRAINT_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION"

/* One constraint being gathered from its KEY_COLUMN_USAGE rows. */
struct pending {
    char key[3 * 200], name[200], parent[200], child[200];
    const char *pcols[MYC_MAX_COLS], *ccols[MYC_MAX_COLS];
    size_t n;
    enum myc_rule del, upd;
};

static void
pending_flush(struct my_cascade *s, struct pending *p)
{
    size_t i;

    if (p->n > 0)
        myc_add(s, p->name, p->parent, p->child, p->pcols, p->ccols, p->n, p->del, p->upd);
    for (i = 0; i < p->n; i++) {
        free((char *)(uintptr_t)p->pcols[i]);
        free((char *)(uintptr_t)p->ccols[i]);
    }
    p->n = 0;
}

static void
pending_row(struct my_cascade *s, struct pending *p, MYSQL_ROW row)
{
    char key[sizeof p->key];
    int i;

    for (i = 0; i < 7; i++)
        if (row[i] == NULL)
            return;
    snprintf(key, sizeof key, "%s.%s.%s", row[0], row[1], row[2]);
    if (strcmp(key, p->key) != 0) {
        pending_flush(s, p);
        snprintf(p->key, sizeof p->key, "%s", key);
        snprintf(p->name, sizeof p->name, "%s", row[2]);
        snprintf(p->child, sizeof p->child, "%s.%s", row[0], row[1]);
        snprintf(p->parent, sizeof p->parent, "%s.%s", row[3], row[4]);
        p->del = myc_rule_parse(row[7]);
        p->upd = myc_rule_parse(row[8]);
    }
    if (p->n == MYC_MAX_COLS)
        return;
    p->ccols[p->n] = tp_strdup(row[5]);
    p->pcols[p->n++] = tp_strdup(row[6]);
}

int
myc_read(struct my_cascade *s, MYSQL *c, char *err, size_t errlen)
{
    struct my_cascade *tmp;
    struct pending p;
    MYSQL_RES *res;
    MYSQL_ROW row;
    size_t i;

    CHECK_OBJ_NOTNULL(s, MY_CASCADE_MAGIC);
    if (mysql_query(c, MYC_EDGES_SQL) != 0 || (res = mysql_store_result(c)) == NULL) {
        snprintf(err, errlen, "cannot read foreign keys from information_schema: %s",
                 mysql_error(c));
        return (-1);
    }
    tmp = myc_new();
    memset(&p, 0, sizeof p);
    while ((row = mysql_fetch_row(res)) != NULL)
        pending_row(tmp, &p, row);
    pending_flush(tmp, &p);
    mysql_free_result(res);
    for (i = 0; i < tmp->n; i++) {
        const struct myc_edge *e = &tmp->e[i];
        myc_add(s, e->name, e->parent, e->child, (const char *const *)e->pcols,
                (const char *const *)e->ccols, e->ncols, e->del, e->upd);
    }
    myc_destroy(&tmp);
    return (0);
}
