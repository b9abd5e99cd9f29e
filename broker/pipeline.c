#include <stdint.h>
#include <string.h>
#include <time.h>

#include "../connectors/connector.h"
#include "../sinks/fanout.h"
#include "config.h"
#include "log.h"
#include "obj.h"
#include "pipeline.h"
#include "stats.h"
#include "tagmap.h"
#include "tagset.h"
#include "txn.h"

/* A committed transaction waiting for its batch to be acknowledged. */
struct ckpt {
    struct src_pos pos;
    int done;
    struct ckpt *next;
};

struct batch {
    unsigned magic;
#define BATCH_MAGIC 0x0ba7c4e5
    struct pipeline *p;
    struct tagset *tags;
    struct tagset *broad;  /* what covers them all (escalation) */
    int broad_ok;          /* every transaction's broad tags are known */
    size_t ntags;          /* for the log, after tags went to the fan-out */
    struct ckpt **entries; /* transactions it carries; borrowed from their source */
    size_t nentries;
    uint64_t first_commit_ns; /* monotonic, when the first transaction arrived */
    int64_t first_commit_us;  /* database commit time of the first transaction */
};

struct source {
    unsigned magic;
#define SOURCE_MAGIC 0x50c3e1b2
    struct pipeline *p;
    const struct source_cfg *cfg;
    struct conn_core core;
    int in_txn;
    struct txn *txn;            /* the open transaction of changes delivered on the loop */
    struct ckpt *head, *tail;   /* committed, not yet confirmed; commit order */
    struct tagset *seen_tables; /* relations already checked for missing columns */
    int streaming;              /* as last reported by the connector */
};

struct pipeline {
    unsigned magic;
#define PIPELINE_MAGIC 0x71be11e0
    uv_loop_t *loop;
    const struct config *cfg;
    struct fanout *fanout;
    struct source *sources;
    size_t nsources;
    struct batch *open; /* collecting transactions for coalesce_ms */
    uv_timer_t coalesce;
    unsigned stopping_pending;
    void (*stopped)(void *);
    void *stopped_arg;
    size_t pending; /* committed transactions not yet confirmed, all sources */
    void (*on_state)(void *);
    void *on_state_arg;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

static int64_t
wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* Confirm the newest position whose transaction and all older ones are done. */
static void
source_advance(struct source *s)
{
    struct src_pos last;
    struct ckpt *c;
    int any = 0;
    char buf[160];

    while (s->head != NULL && s->head->done) {
        c = s->head;
        last = c->pos;
        any = 1;
        s->head = c->next;
        if (s->head == NULL)
            s->tail = NULL;
        free(c);
        AN(s->p->pending > 0);
        s->p->pending--;
    }
    if (!any)
        return;
    stats.checkpoints++;
    if (log_get_level() >= LOG_LVL_DEBUG) {
        s->cfg->impl->format_pos(&last, buf, sizeof buf);
        log_debug("source %s: checkpoint %s", s->cfg->name, buf);
    }
    s->cfg->impl->confirm(s->cfg->priv, &last);
}

static void
batch_done(void *arg, int acked)
{
    struct batch *b;
    struct pipeline *p;
    size_t i;

    CAST_OBJ_NOTNULL(b, arg, BATCH_MAGIC);
    p = b->p;
    if (!acked) { /* stopping: its transactions stay unconfirmed */
        free(b->entries);
        FREE_OBJ(b);
        return;
    }
    if (b->first_commit_us > 0 && log_get_level() >= LOG_LVL_DEBUG)
        log_debug("purged %zu tags of %zu transactions on every node: %.1f ms after receipt, "
                  "%.1f ms after commit",
                  b->ntags, b->nentries, (double)(now_ns() - b->first_commit_ns) / 1e6,
                  (double)(wall_us() - b->first_commit_us) / 1e3);
    for (i = 0; i < b->nentries; i++)
        b->entries[i]->done = 1;
    free(b->entries);
    FREE_OBJ(b);
    for (i = 0; i < p->nsources; i++)
        source_advance(&p->sources[i]);
}

/* Hand the open batch to the fan-out. */
static void
batch_close(struct pipeline *p)
{
    struct batch *b = p->open;
    struct purge_tags t;
    struct tagset *tags, *broad;

    if (b == NULL)
        return;
    p->open = NULL;
    uv_timer_stop(&p->coalesce);
    stats.batches++;
    /* The fan-out copies what it needs; b keeps only its entries. */
    tags = b->tags;
    broad = b->broad;
    b->tags = b->broad = NULL;
    t.tags = tagset_sorted(tags, &t.n);
    b->ntags = t.n;
    t.broad = tagset_sorted(broad, &t.nbroad);
    if (!b->broad_ok)
        t.nbroad = 0;
    /* May call batch_done() before it returns (no nodes): b is not used after. */
    fanout_submit(p->fanout, &t, batch_done, b);
    tagset_destroy(&tags);
    tagset_destroy(&broad);
}

static void
coalesce_cb(uv_timer_t *t)
{
    struct pipeline *p;

    CAST_OBJ_NOTNULL(p, t->data, PIPELINE_MAGIC);
    batch_close(p);
}

static void
batch_add(struct pipeline *p, struct ckpt *c, const struct txn *t, struct tagset *tags,
          int64_t commit_us)
{
    struct batch *b = p->open;

    if (b == NULL) {
        ALLOC_OBJ(b, BATCH_MAGIC);
        b->p = p;
        b->tags = tagset_new();
        b->broad = tagset_new();
        b->broad_ok = 1;
        b->first_commit_ns = now_ns();
        b->first_commit_us = commit_us;
        p->open = b;
        if (p->cfg->delivery.coalesce_ms > 0)
            AZ(uv_timer_start(&p->coalesce, coalesce_cb, (uint64_t)p->cfg->delivery.coalesce_ms,
                              0));
    }
    tagset_merge(b->tags, tags);
    if (txn_broad(t, b->broad) != 0)
        b->broad_ok = 0;
    b->entries = tp_realloc(b->entries, (b->nentries + 1) * sizeof *b->entries);
    b->entries[b->nentries++] = c;
    if (p->cfg->delivery.coalesce_ms == 0)
        batch_close(p);
}

/*------------------------------------------------------------------------
 * Callbacks from connectors (struct conn_core).
 */

static void
src_reset(struct source *s)
{
    txn_reset(s->txn);
    s->in_txn = 0;
}

static void
missing_col(void *arg, const char *col)
{
    const char *table = arg;

    log_err("mapping: %s: a tag names column \"%s\", which the table does not have: changes of "
            "this table purge its fallback tags instead",
            table, col);
}

static void
core_relation(void *arg, const char *table, const char *const *cols, size_t ncols)
{
    struct source *s;
    const struct tagmap_entry *e;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    e = tagmap_lookup(s->p->cfg->map, table);
    if (e == NULL || tagset_has(s->seen_tables, table, strlen(table)))
        return;
    tagset_add(s->seen_tables, table, strlen(table));
    tagmap_missing_columns(e, cols, ncols, missing_col, (void *)(uintptr_t)table);
}

static void
core_begin(void *arg)
{
    struct source *s;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    src_reset(s);
    s->in_txn = 1;
}

static void
core_change(void *arg, const struct change *c)
{
    struct source *s;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    txn_change(s->txn, c);
}

static void
core_broaden(void *arg, const char *table)
{
    struct source *s;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    txn_broaden(s->txn, table);
}

static void
add_counts(const struct txn_counts *c)
{
    stats.txns++;
    stats.changes += c->changes;
    stats.changes_mapped += c->changes_mapped;
    stats.fallback_purges += c->fallback_purges;
    stats.fallback_missing += c->fallback_missing;
    stats.updates_ignored += c->updates_ignored;
    stats.txns_collapsed += c->collapsed;
    stats.statement_events += c->statements;
}

/* Queue a finished transaction behind the older ones of its source. */
static void
source_commit(struct source *s, const struct src_pos *pos, int64_t commit_us, struct txn *t)
{
    struct tagset *tags = txn_finish(t);
    struct ckpt *c;

    add_counts(txn_counts(t));
    c = tp_calloc(1, sizeof *c);
    c->pos = *pos;
    s->p->pending++;
    if (s->tail != NULL)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    if (tagset_count(tags) == 0) {
        c->done = 1; /* nothing to purge: only its place in the order matters */
        source_advance(s);
    } else {
        stats.tags_emitted += tagset_count(tags);
        batch_add(s->p, c, t, tags, commit_us);
    }
}

static void
core_commit(void *arg, const struct src_pos *pos, int64_t commit_us)
{
    struct source *s;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    source_commit(s, pos, commit_us, s->txn);
    src_reset(s);
}

static void
core_commit_txn(void *arg, const struct src_pos *pos, int64_t commit_us, struct txn *t)
{
    struct source *s;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    source_commit(s, pos, commit_us, t);
    txn_destroy(&t);
}

static void
core_abort(void *arg)
{
    struct source *s;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    src_reset(s);
}

static int
core_drained(void *arg)
{
    struct source *s;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    return (s->head == NULL && !s->in_txn);
}

static void
core_state(void *arg, int streaming)
{
    struct source *s;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    log_info("source %s: %s", s->cfg->name, streaming ? "streaming" : "not streaming");
    s->streaming = streaming != 0;
    if (s->p->on_state != NULL)
        s->p->on_state(s->p->on_state_arg);
}

/*------------------------------------------------------------------------*/

int
pipeline_new(struct pipeline **pp, uv_loop_t *loop, const struct config *cfg)
{
    struct pipeline *p;
    size_t i;

    ALLOC_OBJ(p, PIPELINE_MAGIC);
    p->loop = loop;
    p->cfg = cfg;
    if (fanout_new(&p->fanout, loop, cfg->sinks, cfg->nsinks, &cfg->delivery) != 0) {
        FREE_OBJ(p);
        return (-1);
    }
    AZ(uv_timer_init(loop, &p->coalesce));
    p->coalesce.data = p;
    p->sources = tp_calloc(cfg->nsources, sizeof *p->sources);
    p->nsources = cfg->nsources;
    for (i = 0; i < cfg->nsources; i++) {
        struct source *s = &p->sources[i];
        s->magic = SOURCE_MAGIC;
        s->p = p;
        s->cfg = &cfg->sources[i];
        s->txn = txn_new(cfg->map, cfg->max_txn_tags, s->cfg->name);
        s->seen_tables = tagset_new();
        s->core = (struct conn_core){
            .arg = s,
            .relation = core_relation,
            .begin = core_begin,
            .change = core_change,
            .broaden = core_broaden,
            .commit = core_commit,
            .commit_txn = core_commit_txn,
            .abort = core_abort,
            .drained = core_drained,
            .state = core_state,
        };
    }
    *pp = p;
    return (0);
}

int
pipeline_start(struct pipeline *p)
{
    size_t i;

    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    if (fanout_empty(p->fanout))
        log_warn("no sink nodes configured: changes are read and confirmed without purging");
    for (i = 0; i < p->nsources; i++) {
        struct source *s = &p->sources[i];
        struct conn_env env = {p->cfg->state_dir, p->cfg->max_txn_tags};
        if (s->cfg->impl->start(s->cfg->priv, p->loop, p->cfg->map, &s->core, &env) != 0)
            return (-1);
    }
    return (0);
}

void
pipeline_on_state(struct pipeline *p, void (*fn)(void *), void *arg)
{
    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    p->on_state = fn;
    p->on_state_arg = arg;
}

void
pipeline_status(const struct pipeline *p, struct pipeline_status *st)
{
    size_t i;

    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    memset(st, 0, sizeof *st);
    st->nsources = p->nsources;
    for (i = 0; i < p->nsources; i++)
        st->nstreaming += p->sources[i].streaming ? 1 : 0;
    st->nnodes = p->fanout != NULL ? fanout_nnodes(p->fanout) : 0;
    st->pending = p->pending;
}

void
pipeline_reload(struct pipeline *p, const struct config *cfg)
{
    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    if (p->fanout == NULL)
        return;
    fanout_reconfigure(p->fanout, cfg->sinks, cfg->nsinks, &cfg->delivery);
    log_info("reloaded %s: %zu sinks, %zu nodes now (mapping, sources, state_dir and "
             "coalesce_ms take effect at the next start)",
             cfg->path, cfg->nsinks, fanout_nnodes(p->fanout));
}

static void
part_stopped(void *arg)
{
    struct pipeline *p;

    CAST_OBJ_NOTNULL(p, arg, PIPELINE_MAGIC);
    AN(p->stopping_pending > 0);
    if (--p->stopping_pending == 0 && p->stopped != NULL)
        p->stopped(p->stopped_arg);
}

static void
coalesce_closed(uv_handle_t *h)
{
    part_stopped(h->data);
}

void
pipeline_stop(struct pipeline *p, void (*done)(void *), void *arg)
{
    size_t i;

    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    p->stopped = done;
    p->stopped_arg = arg;
    p->stopping_pending = (unsigned)p->nsources + 2;
    for (i = 0; i < p->nsources; i++)
        p->sources[i].cfg->impl->stop(p->sources[i].cfg->priv, part_stopped, p);
    /* An open batch was never submitted: it stays unconfirmed and is replayed. */
    if (p->open != NULL) {
        tagset_destroy(&p->open->tags);
        tagset_destroy(&p->open->broad);
        free(p->open->entries);
        FREE_OBJ(p->open);
    }
    uv_close((uv_handle_t *)&p->coalesce, coalesce_closed);
    fanout_close(p->fanout, part_stopped, p);
    p->fanout = NULL;
}

void
pipeline_destroy(struct pipeline **pp)
{
    struct pipeline *p = *pp;
    struct ckpt *c;
    size_t i;

    if (p == NULL)
        return;
    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    for (i = 0; i < p->nsources; i++) {
        struct source *s = &p->sources[i];
        while ((c = s->head) != NULL) {
            s->head = c->next;
            free(c);
        }
        txn_destroy(&s->txn);
        tagset_destroy(&s->seen_tables);
    }
    free(p->sources);
    FREE_OBJ(p);
    *pp = NULL;
}
