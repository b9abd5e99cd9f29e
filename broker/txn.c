/* One transaction's tags while it is read (txn.h): owns its tag set, the touched tables and the
 * broadening decision when the bound is passed. */
#include <string.h>

#include "lib/log.h"
#include "lib/obj.h"
#include "tagmap.h"
#include "tagset.h"
#include "txn.h"

struct txn {
    unsigned magic;
#define TXN_MAGIC 0x7e1a5c02
    struct tagmap *map; /* a reference: the transaction finishes on the map it began with */
    size_t max_tags;
    char *source;
    struct tagset *tags;
    struct tagset *literal; /* tags added by txn_add_tags(): broad already */
    int collapsed;
    int gap; /* a gap's broad purge: sinks with a flush send it */
    const struct tagmap_entry **touched;
    size_t ntouched, maxtouched;
    struct txn_counts counts;
};

struct txn *
txn_new(const struct tagmap *map, size_t max_tags, const char *source)
{
    struct txn *t;

    ALLOC_OBJ(t, TXN_MAGIC);
    t->map = tagmap_ref(map);
    t->max_tags = max_tags;
    t->source = tp_strdup(source);
    t->tags = tagset_new();
    t->literal = tagset_new();
    return (t);
}

void
txn_destroy(struct txn **tp)
{
    struct txn *t = *tp;

    if (t == NULL)
        return;
    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    tagset_destroy(&t->tags);
    tagset_destroy(&t->literal);
    free(t->touched);
    free(t->source);
    tagmap_unref(&t->map);
    FREE_OBJ(t);
    *tp = NULL;
}

const struct tagmap *
txn_map(const struct txn *t)
{
    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    return (t->map);
}

void
txn_reset(struct txn *t)
{
    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    tagset_clear(t->tags);
    tagset_clear(t->literal);
    t->collapsed = 0;
    t->gap = 0;
    t->ntouched = 0;
    memset(&t->counts, 0, sizeof t->counts);
}

static void
touch(struct txn *t, const struct tagmap_entry *e)
{
    size_t i;

    for (i = 0; i < t->ntouched; i++)
        if (t->touched[i] == e)
            return;
    if (t->ntouched == t->maxtouched) {
        t->maxtouched = t->maxtouched ? 2 * t->maxtouched : 8;
        t->touched = tp_realloc(t->touched, t->maxtouched * sizeof *t->touched);
    }
    t->touched[t->ntouched++] = e;
}

static void
collapse(struct txn *t)
{
    log_warn("source %s: transaction passed max_txn_tags (%zu): purging the fallback tags of its "
             "tables instead",
             t->source, t->max_tags);
    t->counts.collapsed = 1;
    tagset_clear(t->tags);
    t->collapsed = 1;
}

/* The mapping applied to one change of entry e: tags, counters, the collapse. */
static void
apply(struct txn *t, const struct tagmap_entry *e, const struct change *c)
{
    int flags;

    touch(t, e);
    if (t->collapsed)
        return;
    flags = tagmap_apply(e, c, t->tags);
    if (flags & TM_UNCHANGED)
        t->counts.updates_ignored++;
    if (flags & (TM_FALLBACK | TM_OVERSIZE))
        t->counts.fallback_purges++;
    if (flags & TM_NOFALLBACK) {
        t->counts.fallback_missing++;
        log_err("mapping: %s: a change lacks values its tags need and the entry has no "
                "fallback tags: add \"fallback_tags\" to the mapping",
                c->table);
    }
    if (tagset_count(t->tags) > t->max_tags)
        collapse(t);
}

void
txn_change(struct txn *t, const struct change *c)
{
    const struct tagmap_entry *e;

    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    t->counts.changes++;
    e = tagmap_lookup(t->map, c->table);
    if (e == NULL)
        return;
    t->counts.changes_mapped++;
    apply(t, e, c);
}

void
txn_cascade(struct txn *t, const struct change *c)
{
    const struct tagmap_entry *e;

    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    e = tagmap_lookup(t->map, c->table);
    if (e == NULL)
        return;
    t->counts.cascades++;
    apply(t, e, c);
}

static void
broaden_entry(struct txn *t, const struct tagmap_entry *e)
{
    touch(t, e);
    if (!t->collapsed)
        tagmap_add_fallback(e, t->tags);
}

void
txn_broaden(struct txn *t, const char *table)
{
    const struct tagmap_entry *e;
    size_t i;

    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    t->counts.fallback_purges++;
    if (table != NULL) {
        e = tagmap_lookup(t->map, table);
        if (e != NULL)
            broaden_entry(t, e);
        return;
    }
    for (i = 0; i < tagmap_count(t->map); i++)
        broaden_entry(t, tagmap_at(t->map, i));
}

void
txn_cascade_broaden(struct txn *t, const char *table)
{
    const struct tagmap_entry *e;

    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    e = tagmap_lookup(t->map, table);
    if (e == NULL)
        return;
    t->counts.cascades++;
    t->counts.fallback_purges++;
    if (tagmap_nfallback(e) == 0) {
        t->counts.fallback_missing++;
        log_err("mapping: %s: a foreign-key cascade changed rows whose values are unknown and "
                "the entry has no fallback tags: add \"fallback_tags\" to the mapping",
                table);
    }
    broaden_entry(t, e);
}

void
txn_add_tags(struct txn *t, const char *const *tags, size_t n)
{
    size_t i;

    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    for (i = 0; i < n; i++) {
        tagset_add(t->tags, tags[i], strlen(tags[i]));
        tagset_add(t->literal, tags[i], strlen(tags[i]));
    }
}

int
txn_broad(const struct txn *t, struct tagset *out)
{
    size_t i;
    int rv = 0;

    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    tagset_merge(out, t->literal);
    for (i = 0; i < t->ntouched; i++) {
        if (tagmap_nfallback(t->touched[i]) == 0)
            rv = -1;
        tagmap_add_fallback(t->touched[i], out);
    }
    return (rv);
}

void
txn_set_gap(struct txn *t)
{
    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    t->gap = 1;
}

int
txn_gap(const struct txn *t)
{
    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    return (t->gap);
}

void
txn_count_statement(struct txn *t)
{
    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    t->counts.statements++;
}

struct tagset *
txn_finish(struct txn *t)
{
    size_t i;

    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    if (t->collapsed)
        for (i = 0; i < t->ntouched; i++)
            tagmap_add_fallback(t->touched[i], t->tags);
    return (t->tags);
}

const struct txn_counts *
txn_counts(const struct txn *t)
{
    CHECK_OBJ_NOTNULL(t, TXN_MAGIC);
    return (&t->counts);
}
