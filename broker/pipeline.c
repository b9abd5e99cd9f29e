/* The pipeline (pipeline.h): owns the sources, their in-flight transactions and checkpoints,
 * the coalescing batches, the fan-out and the /v1/wait waiters; what /metrics and /readyz read
 * (the text is broker/metrics.c's). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../connectors/connector.h"
#include "../sinks/fanout.h"
#include "config.h"
#include "lib/clock.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/obj.h"
#include "pipeline.h"
#include "stats.h"
#include "tagmap.h"
#include "tagset.h"
#include "txn.h"

/* A committed transaction waiting for its batch to be acknowledged. */
struct ckpt {
    struct src_pos pos;
    int64_t commit_us; /* database commit time; 0: unknown */
    int done;
    struct ckpt *next;
};

/* A GET /v1/wait in progress: answered when its source confirms want. */
struct waiter {
    unsigned magic;
#define WAITER_MAGIC 0x3a17e5c0
    struct source *s;
    char *want;
    uv_timer_t timer;
    void (*answer)(void *arg, int status, const char *json);
    void *arg;
    struct list_link link; /* its source's waiters */
};

struct batch {
    unsigned magic;
#define BATCH_MAGIC 0x0ba7c4e5
    struct pipeline *p;
    struct tagset *tags;
    struct tagset *broad;  /* what covers them all (escalation) */
    int broad_ok;          /* every transaction's broad tags are known */
    int flush;             /* a gap is in it: sinks with a flush send that */
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
    /* For /metrics, /readyz and /v1/wait. */
    int streaming;
    uint64_t changes, txns, tags, fallbacks, checkpoints;
    struct src_pos confirmed, server;
    int has_confirmed, has_server;
    int64_t last_commit_us;
    /* Log the checkpoint moved past while a node was dirty: what a dead node would hold. */
    uint64_t released_bytes, released_txns;
    size_t pending; /* entries in head..tail: committed, not yet confirmed */
    struct list_head waiters;
};

/* Delivery latency, commit -> every node acknowledged (seconds). */
static const double lat_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NLAT (sizeof lat_bounds / sizeof lat_bounds[0])

struct pipeline {
    unsigned magic;
#define PIPELINE_MAGIC 0x71be11e0
    uv_loop_t *loop;
    const struct config *cfg; /* as started: sources, state_dir, limits */
    long coalesce_ms;         /* the last reload's */
    /*
     * The current mapping (a reference).  Replaced on the loop under map_mu;
     * reader threads load it lock-free and take their reference under map_mu
     * (core_mapping), so the old map cannot be freed between the two.
     */
    _Atomic(struct tagmap *) map;
    uv_mutex_t map_mu;
    char *map_sig;
    struct fanout *fanout;
    struct source *sources;
    size_t nsources;
    struct batch *open; /* collecting transactions for coalesce_ms */
    uint64_t lat_buckets[NLAT + 1], lat_count;
    double lat_sum;
    uv_timer_t coalesce;
    unsigned stopping_pending;
    int draining;         /* SIGTERM: no new transactions, finish what is in flight */
    uv_timer_t drain;     /* polls for an empty pipeline, and the drain deadline */
    uint64_t drain_until; /* uv_now() deadline */
    void (*drained)(void *);
    void *drained_arg;
    void (*stopped)(void *);
    void *stopped_arg;
    void (*on_state)(void *);
    void *on_state_arg;
};

static void
waiter_closed(uv_handle_t *h)
{
    struct waiter *w;

    CAST_OBJ_NOTNULL(w, h->data, WAITER_MAGIC);
    free(w->want);
    FREE_OBJ(w);
}

/* Answer (answer != NULL) or drop a waiter. */
static void
waiter_end(struct waiter *w, int status, const char *json)
{
    list_remove(&w->link);
    uv_timer_stop(&w->timer);
    if (json != NULL)
        w->answer(w->arg, status, json);
    uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

static void
waiters_check(struct source *s)
{
    struct waiter *w, *next;

    LIST_FOREACH_SAFE (w, next, &s->waiters, struct waiter, link) {
        if (s->has_confirmed && s->cfg->impl->pos_reached(&s->confirmed, w->want) == 1)
            waiter_end(w, 200, "{\"purged\": true}\n");
    }
}

/*
 * The log bytes between two positions of one source, where they tell: LSNs
 * (PostgreSQL), or offsets in one binlog file (a rotation counts the new
 * file's offset only: a lower bound).
 */
static uint64_t
pos_bytes(const struct src_pos *from, const struct src_pos *to)
{
    if (from->lsn != 0 && to->lsn > from->lsn)
        return (to->lsn - from->lsn);
    if (from->lsn == 0 && to->lsn == 0 && strcmp(from->name, to->name) == 0)
        return (to->off > from->off ? to->off - from->off : 0);
    return (to->lsn == 0 ? to->off : 0);
}

/* The checkpoint moves to to past ntxns transactions while some node is dirty. */
static void
source_released(struct source *s, const struct src_pos *to, int ntxns)
{
    if (s->has_confirmed)
        s->released_bytes += pos_bytes(&s->confirmed, to);
    s->released_txns += (uint64_t)ntxns;
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
        any++;
        s->pending--;
        s->head = c->next;
        if (s->head == NULL)
            s->tail = NULL;
        free(c);
    }
    if (!any)
        return;
    if (fanout_ndirty(s->p->fanout) > 0)
        source_released(s, &last, any);
    stats.checkpoints++;
    s->checkpoints++;
    s->confirmed = last;
    s->has_confirmed = 1;
    if (log_get_level() >= LOG_LVL_DEBUG) {
        s->cfg->impl->format_pos(&last, buf, sizeof buf);
        log_debug("source %s: checkpoint %s", s->cfg->name, buf);
    }
    s->cfg->impl->confirm(s->cfg->priv, &last);
    waiters_check(s);
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
    if (b->first_commit_us > 0) {
        double sec = (double)(clock_wall_us() - b->first_commit_us) / 1e6;
        size_t k;
        for (k = 0; k < NLAT && sec > lat_bounds[k]; k++)
            ;
        p->lat_buckets[k]++;
        p->lat_count++;
        p->lat_sum += sec > 0 ? sec : 0;
    }
    if (b->first_commit_us > 0 && log_get_level() >= LOG_LVL_DEBUG)
        log_debug("purged %zu tags of %zu transactions on every node: %.1f ms after receipt, "
                  "%.1f ms after commit",
                  b->ntags, b->nentries, (double)(clock_mono_ns() - b->first_commit_ns) / 1e6,
                  (double)(clock_wall_us() - b->first_commit_us) / 1e3);
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
    t.flush = b->flush;
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
        b->first_commit_ns = clock_mono_ns();
        b->first_commit_us = commit_us;
        p->open = b;
        if (p->coalesce_ms > 0)
            AZ(uv_timer_start(&p->coalesce, coalesce_cb, (uint64_t)p->coalesce_ms, 0));
    }
    tagset_merge(b->tags, tags);
    if (txn_broad(t, b->broad) != 0)
        b->broad_ok = 0;
    b->flush |= txn_gap(t);
    b->entries = tp_grow(b->entries, b->nentries, sizeof *b->entries);
    b->entries[b->nentries++] = c;
    if (p->coalesce_ms == 0)
        batch_close(p);
}

/*------------------------------------------------------------------------
 * Callbacks from connectors (struct conn_core).
 */

static const struct tagmap *
current_map(const struct pipeline *p)
{
    return (atomic_load_explicit(&((struct pipeline *)(uintptr_t)p)->map, memory_order_acquire));
}

static struct tagmap *
core_mapping(void *arg, const struct tagmap *have)
{
    struct source *s;
    struct tagmap *m;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    if (current_map(s->p) == have)
        return (NULL);
    uv_mutex_lock(&s->p->map_mu);
    m = tagmap_ref(current_map(s->p));
    uv_mutex_unlock(&s->p->map_mu);
    return (m);
}

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
    e = tagmap_lookup(current_map(s->p), table);
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
    if (txn_map(s->txn) != current_map(s->p)) { /* a reload: the new map from here on */
        txn_destroy(&s->txn);
        s->txn = txn_new(current_map(s->p), s->p->cfg->max_txn_tags, s->cfg->name);
    }
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
    stats.cascade_purges += c->cascades;
}

/* Queue a finished transaction behind the older ones of its source. */
static void
source_commit(struct source *s, const struct src_pos *pos, int64_t commit_us, struct txn *t)
{
    struct tagset *tags = txn_finish(t);
    struct ckpt *c;

    add_counts(txn_counts(t));
    if (txn_gap(t))
        stats.gaps++; /* counted here, on the loop: connectors may build gaps on their threads */
    s->txns++;
    s->changes += txn_counts(t)->changes;
    s->fallbacks += txn_counts(t)->fallback_purges;
    s->tags += tagset_count(tags);
    s->pending++;
    if (commit_us > 0)
        s->last_commit_us = commit_us;
    c = tp_calloc(1, sizeof *c);
    c->pos = *pos;
    c->commit_us = commit_us;
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
    if (s->p->draining) { /* read after the stop began: replayed at the next start */
        src_reset(s);
        return;
    }
    source_commit(s, pos, commit_us, s->txn);
    src_reset(s);
}

static void
core_commit_txn(void *arg, const struct src_pos *pos, int64_t commit_us, struct txn *t)
{
    struct source *s;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    if (!s->p->draining)
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
    /* Draining ignores new transactions: the server's position is not ours to confirm. */
    return (s->head == NULL && !s->in_txn && !s->p->draining);
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

static void
core_server_pos(void *arg, const struct src_pos *pos)
{
    struct source *s;

    CAST_OBJ_NOTNULL(s, arg, SOURCE_MAGIC);
    s->server = *pos;
    s->has_server = 1;
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
    p->coalesce_ms = cfg->delivery.coalesce_ms;
    if (fanout_new(&p->fanout, loop, cfg->sinks, cfg->nsinks, &cfg->delivery, cfg->state_dir) !=
        0) {
        FREE_OBJ(p);
        return (-1);
    }
    atomic_init(&p->map, tagmap_ref(cfg->map));
    AZ(uv_mutex_init(&p->map_mu));
    p->map_sig = tp_strdup(cfg->map_sig);
    AZ(uv_timer_init(loop, &p->coalesce));
    p->coalesce.data = p;
    AZ(uv_timer_init(loop, &p->drain));
    p->drain.data = p;
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
            .mapping = core_mapping,
            .relation = core_relation,
            .begin = core_begin,
            .change = core_change,
            .broaden = core_broaden,
            .commit = core_commit,
            .commit_txn = core_commit_txn,
            .abort = core_abort,
            .drained = core_drained,
            .state = core_state,
            .server_pos = core_server_pos,
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
        if (s->cfg->impl->start(s->cfg->priv, p->loop, &s->core, &env) != 0)
            return (-1);
    }
    return (0);
}

static size_t
pipeline_pending(const struct pipeline *p)
{
    size_t i, n = 0;

    for (i = 0; i < p->nsources; i++)
        n += p->sources[i].pending;
    return (n);
}

static void
drain_cb(uv_timer_t *t)
{
    struct pipeline *p;
    size_t n;

    CAST_OBJ_NOTNULL(p, t->data, PIPELINE_MAGIC);
    n = pipeline_pending(p);
    if (n > 0 && uv_now(p->loop) < p->drain_until)
        return;
    uv_timer_stop(&p->drain);
    if (n > 0)
        log_warn("drain_timeout_ms passed with %zu transactions not purged everywhere: the "
                 "checkpoint stays before them and the next start replays them",
                 n);
    else
        log_info("drained: every transaction read was purged on every node");
    p->drained(p->drained_arg);
}

void
pipeline_drain(struct pipeline *p, long timeout_ms, void (*done)(void *), void *arg)
{
    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    p->draining = 1;
    p->drained = done;
    p->drained_arg = arg;
    p->drain_until = uv_now(p->loop) + (uint64_t)timeout_ms;
    batch_close(p); /* the open batch goes now, not after coalesce_ms */
    log_info("draining: %zu transactions in flight, up to %ld ms", pipeline_pending(p), timeout_ms);
    AZ(uv_timer_start(&p->drain, drain_cb, 0, 10));
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
    st->pending = pipeline_pending(p);
}

/*
 * A new mapping: every transaction that begins from now on uses it; those
 * read already finish on the old one, which their txn keeps referenced.
 */
static void
pipeline_remap(struct pipeline *p, const struct config *cfg)
{
    struct tagmap *old;
    size_t i;

    uv_mutex_lock(&p->map_mu);
    old = atomic_exchange_explicit(&p->map, tagmap_ref(cfg->map), memory_order_acq_rel);
    uv_mutex_unlock(&p->map_mu);
    log_info("reload: mapping replaced (%zu tables, was %zu); applied from each source's next "
             "transaction",
             tagmap_count(cfg->map), tagmap_count(old));
    tagmap_unref(&old);
    free(p->map_sig);
    p->map_sig = tp_strdup(cfg->map_sig);
    for (i = 0; i < p->nsources; i++) {
        struct source *s = &p->sources[i];
        tagset_clear(s->seen_tables); /* check the new templates' columns again */
        if (s->cfg->impl->remapped != NULL)
            s->cfg->impl->remapped(s->cfg->priv);
    }
}

void
pipeline_reload(struct pipeline *p, const struct config *cfg)
{
    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    if (p->fanout == NULL)
        return;
    fanout_reconfigure(p->fanout, cfg->sinks, cfg->nsinks, &cfg->delivery);
    p->coalesce_ms = cfg->delivery.coalesce_ms;
    if (strcmp(cfg->map_sig, p->map_sig) != 0)
        pipeline_remap(p, cfg);
    if (strcmp(cfg->restart_sig, p->cfg->restart_sig) != 0)
        log_warn("reload: sources, state_dir, max_txn_tags and listen changed in %s: they take "
                 "effect at the next start",
                 cfg->path);
    log_info("reloaded %s: %zu mapped tables, %zu sinks, %zu nodes now", cfg->path,
             tagmap_count(current_map(p)), cfg->nsinks, fanout_nnodes(p->fanout));
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
    struct waiter *w;
    size_t i;

    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    p->stopped = done;
    p->stopped_arg = arg;
    p->stopping_pending = (unsigned)p->nsources + 3;
    for (i = 0; i < p->nsources; i++)
        while ((w = LIST_FIRST(&p->sources[i].waiters, struct waiter, link)) != NULL)
            waiter_end(w, 503, "{\"error\": \"stopping\"}\n");
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
    uv_timer_stop(&p->drain);
    uv_close((uv_handle_t *)&p->drain, coalesce_closed);
    fanout_close(p->fanout, part_stopped, p);
    p->fanout = NULL;
}

void
pipeline_destroy(struct pipeline **pp)
{
    struct pipeline *p = *pp;
    struct tagmap *m;
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
    m = atomic_load(&p->map);
    tagmap_unref(&m);
    uv_mutex_destroy(&p->map_mu);
    free(p->map_sig);
    FREE_OBJ(p);
    *pp = NULL;
}

/*------------------------------------------------------------------------
 * Status: what /metrics and /readyz read (broker/metrics.c), /v1/wait.
 */

static double
source_lag_s(const struct source *s)
{
    const struct ckpt *c;

    /* The oldest transaction not yet purged everywhere; 0 when none. */
    for (c = s->head; c != NULL; c = c->next)
        if (c->commit_us > 0)
            return ((double)(clock_wall_us() - c->commit_us) / 1e6);
    return (0.0);
}

static void
source_info(const struct source *s, struct source_info *si)
{
    memset(si, 0, sizeof *si);
    si->name = s->cfg->name;
    si->streaming = s->streaming;
    si->changes = s->changes;
    si->txns = s->txns;
    si->tags = s->tags;
    si->fallbacks = s->fallbacks;
    si->checkpoints = s->checkpoints;
    si->released_bytes = s->released_bytes;
    si->released_txns = s->released_txns;
    si->pending = s->pending;
    si->lag_s = source_lag_s(s);
    si->last_commit_us = s->last_commit_us;
    si->has_lag_bytes = s->has_server && s->has_confirmed && s->server.lsn != 0;
    if (si->has_lag_bytes)
        si->lag_bytes = s->server.lsn > s->confirmed.lsn ? s->server.lsn - s->confirmed.lsn : 0;
    si->has_position = s->has_confirmed;
    if (s->has_confirmed)
        s->cfg->impl->format_pos(&s->confirmed, si->position, sizeof si->position);
}

void
pipeline_foreach_source(const struct pipeline *p, void (*cb)(void *arg, const struct source_info *),
                        void *arg)
{
    struct source_info si;
    size_t i;

    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    for (i = 0; i < p->nsources; i++) {
        source_info(&p->sources[i], &si);
        cb(arg, &si);
    }
}

void
pipeline_foreach_node(const struct pipeline *p, void (*cb)(void *arg, const struct node_info *),
                      void *arg)
{
    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    if (p->fanout != NULL)
        fanout_foreach_node(p->fanout, cb, arg);
}

int
pipeline_has_fanout(const struct pipeline *p)
{
    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    return (p->fanout != NULL);
}

void
pipeline_latency(const struct pipeline *p, struct pipeline_latency *out)
{
    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    out->bounds = lat_bounds;
    out->nbounds = NLAT;
    out->buckets = p->lat_buckets;
    out->count = p->lat_count;
    out->sum = p->lat_sum;
}

static void
waiter_timeout(uv_timer_t *t)
{
    struct waiter *w;

    CAST_OBJ_NOTNULL(w, t->data, WAITER_MAGIC);
    waiter_end(w, 408, "{\"purged\": false, \"error\": \"timeout\"}\n");
}

struct waiter *
pipeline_wait(struct pipeline *p, const char *source, const char *pos, long timeout_ms,
              void (*answer)(void *, int, const char *), void *arg)
{
    struct source *s = NULL;
    struct waiter *w;
    size_t i;
    int r;

    CHECK_OBJ_NOTNULL(p, PIPELINE_MAGIC);
    for (i = 0; i < p->nsources; i++)
        if (strcmp(p->sources[i].cfg->name, source) == 0)
            s = &p->sources[i];
    if (s == NULL) {
        answer(arg, 404, "{\"error\": \"no such source\"}\n");
        return (NULL);
    }
    r = s->cfg->impl->pos_reached(&s->confirmed, pos);
    if (r < 0) {
        answer(arg, 400, "{\"error\": \"position not understood for this source\"}\n");
        return (NULL);
    }
    if (r == 1 && s->has_confirmed) {
        answer(arg, 200, "{\"purged\": true}\n");
        return (NULL);
    }
    ALLOC_OBJ(w, WAITER_MAGIC);
    w->s = s;
    w->want = tp_strdup(pos);
    w->answer = answer;
    w->arg = arg;
    AZ(uv_timer_init(p->loop, &w->timer));
    w->timer.data = w;
    AZ(uv_timer_start(&w->timer, waiter_timeout, (uint64_t)timeout_ms, 0));
    list_insert_head(&s->waiters, &w->link);
    return (w);
}

void
pipeline_wait_cancel(struct waiter *w)
{
    CHECK_OBJ_NOTNULL(w, WAITER_MAGIC);
    waiter_end(w, 0, NULL);
}
