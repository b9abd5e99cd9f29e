/* The fan-out (fanout.h): owns every purge, sink, node and discovery entry; the tiers, the node
 * state machine, the rate bucket, the rebound and reload reconciliation. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "../broker/lib/backoff.h"
#include "../broker/lib/dueq.h"
#include "../broker/lib/list.h"
#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/strv.h"
#include "../broker/stats.h"
#include "../broker/tagset.h"
#include "dirty.h"
#include "discover.h"
#include "fanout.h"
#include "http.h"
#include "sink.h"

/*
 * Objects and who owns them:
 *  fanout  owns every fsink, node, purge and disc.
 *  purge   one submitted batch, shared by every node that still owes it; one
 *          entry per sink (its tier state).  Its tags are freed as soon as no
 *          one can render them any more (tag_refs 0), so a node that escalated
 *          does not pin memory; the purge itself lives until done().
 *  fsink   per configured sink: tier delay queue, rate bucket, its nodes.
 *  node    one cache node: FIFO of purge pointers, state machine below.
 *  disc    one dns:// node spec of a sink.
 *  dirty   the durable marks of dirty nodes (dirty.h); NULL without a state_dir.
 */

enum entry_state {
    E_WAIT,  /* for the "after" sink, or for the sink's first discovery */
    E_DELAY, /* after_delay_ms running, in the fsink's delay queue */
    E_SENT,  /* queued on the sink's nodes; pending of them still owe it */
    E_DONE,
};

struct entry {
    unsigned sink_id;
    enum entry_state st;
    unsigned pending;
};

struct purge {
    unsigned magic;
#define PURGE_MAGIC 0x0b5e1a6d
    char **tags; /* NULL once tag_refs reached 0 */
    size_t ntags;
    char **broad;
    size_t nbroad;
    unsigned tag_refs; /* entries waiting + nodes holding it unescalated + rebound */
    struct entry *ent;
    size_t nent;
    size_t open_ents; /* entries not E_DONE */
    int flush;        /* a gap: nodes whose sink has a flush send it instead of the tags */
    int rebound;      /* this is the second pass */
    int rebound_hold; /* a second pass is due: tag_refs counts one for it */
    unsigned hold;    /* frames on the stack that use it: do not free */
    int in_reboundq;  /* first pass done, waiting for the rebound */
    uint64_t due_ms;  /* in the rebound queue: when */
    void (*done)(void *, int);
    void *arg;
    struct list_link live; /* the fan-out's live list */
};

/*
 * Node states (logged on change, README "Delivery guarantees"):
 *  N_IDLE        nothing to send.  next: CONNECTING/SENDING (a purge queued),
 *                BACKOFF (a rate-limit token is needed first).
 *  N_CONNECTING  a request in flight to a node not known healthy: new, or
 *                after a failure.  next: SENDING/IDLE (acknowledged),
 *                BACKOFF/DOWN (failed).
 *  N_SENDING     a request in flight to a healthy node.  next: SENDING (next
 *                request), IDLE (round acknowledged, queue empty), BACKOFF.
 *  N_BACKOFF     waiting for the timer: retry after a failure (exponential,
 *                jittered, at least Retry-After on 429/503), or a rate-limit
 *                token.  next: CONNECTING/SENDING, DOWN.
 *  N_DOWN        failing for longer than flush_after_down_s (or failing at
 *                all while its mark is in the file): the backlog was
 *                escalated, and the first request it gets back is the broad
 *                purge ("flush", or the backlog's fallback tags).  With a
 *                state_dir the broad purge is written to dirty.json as the
 *                node's mark and the node releases what it holds (see
 *                node_release_dirty): it no longer holds the checkpoint.
 *                next: CONNECTING (timer).
 */
enum node_state { N_IDLE, N_CONNECTING, N_SENDING, N_BACKOFF, N_DOWN };
static const char *const state_names[] = {"idle", "connecting", "sending", "backoff", "down"};

enum round_kind { R_TAGS, R_BROAD, R_FLUSH };

struct node {
    unsigned magic;
#define NODE_MAGIC 0x6e0de5a1
    struct fanout *f;
    struct fsink *fs;
    char *url;
    char *spec; /* the dns:// spec it came from; NULL: listed in "nodes" */
    enum node_state state;
    struct purge **queue; /* FIFO; the first nabsorbed are covered by the escalation */
    size_t qlen, qcap, nabsorbed;
    size_t qtags; /* tags of the unabsorbed queued purges */
    int esc;      /* the queue is escalated: absorb every purge that arrives */
    int esc_flush;
    struct tagset *esc_tags;   /* the broad tags of absorbed purges */
    struct tagset *round_tags; /* what an R_BROAD round names */
    int dirty;                 /* was down: a broad purge goes first */
    int marked;                /* its mark is in dirty.json: implies dirty */
    int mark_held;             /* logged that it could not release (once per episode) */
    uint64_t dirty_releases;   /* purges released while dirty, for /metrics */
    struct purge **round;      /* being delivered now */
    size_t nround;
    int in_round; /* a round is out: its requests may cover no purge (a marked node's) */
    enum round_kind kind;
    struct reqlist reqs;
    size_t cur;
    unsigned attempts;   /* failures of reqs[cur] */
    uint64_t fail_since; /* monotonic ms of the first failure in a row; 0: healthy */
    int ever_ok;
    int renew_xfer;             /* the sink's TLS settings may have changed */
    struct node_code codes[12]; /* answers by status, for /metrics; the last is "other" */
    size_t ncodes;
    uint64_t retries, escalations;
    int removed;
    struct http_xfer *xfer;
    uv_timer_t timer;
    struct tagset *merge;
    struct list_link link; /* the fsink's nodes */
};

struct disc {
    unsigned magic;
#define DISC_MAGIC 0x0d15c0fe
    struct fsink *fs;
    char *spec;
    struct dns_spec d;
    uv_getaddrinfo_t req;
    int busy, ok_once, removed;
    struct list_link link; /* its fsink's discs */
};

struct fsink {
    unsigned magic;
#define FSINK_MAGIC 0x5f51c4e0
    struct fanout *f;
    unsigned id;
    char *name;
    struct sink *sink; /* borrowed from the current configuration */
    int removed;
    struct list_head nodes;
    size_t nnodes;
    struct list_head discs;
    struct dueq delayq;
    uv_timer_t delay_timer;
    double tokens;
    uint64_t refill_ms;
    struct fsink *next;
};

struct fanout {
    unsigned magic;
#define FANOUT_MAGIC 0x2fa70c19
    uv_loop_t *loop;
    struct http *http;
    struct fsink *sinks;
    unsigned next_id;
    struct delivery_cfg cfg;
    struct dirty *dirty;   /* NULL: no state_dir, a down node holds its purges */
    size_t ndirty;         /* nodes with n->dirty: changed only by node_set_dirty() */
    struct list_head live; /* every purge not yet done, newest first */
    struct dueq reboundq;
    uv_timer_t rebound_timer, discover_timer;
    unsigned open; /* handles and requests not yet closed or returned */
    int closing;
    void (*closed)(void *);
    void *closed_arg;
};

static void node_kick(struct node *);
static void entry_advance(struct fanout *, struct purge *, struct entry *);
static void purge_advance_all(struct fanout *, struct purge *);
static void disc_start(struct disc *);

static uint64_t
now_ms(const struct fanout *f)
{
    return (uv_now(f->loop));
}

/*------------------------------------------------------------------------
 * Purges
 */

static void
tag_unref(struct purge *p)
{
    AN(p->tag_refs > 0);
    if (--p->tag_refs > 0)
        return;
    strv_free(p->tags, p->ntags);
    p->tags = NULL;
}

static void
purge_free(struct purge *p)
{
    list_remove(&p->live);
    if (p->tags != NULL)
        strv_free(p->tags, p->ntags);
    strv_free(p->broad, p->nbroad);
    free(p->ent);
    FREE_OBJ(p);
}

static struct entry *
purge_entry(struct purge *p, unsigned sink_id)
{
    size_t i;

    for (i = 0; i < p->nent; i++)
        if (p->ent[i].sink_id == sink_id)
            return (&p->ent[i]);
    return (NULL);
}

static void
rebound_cb(uv_timer_t *t)
{
    struct fanout *f;
    struct purge *p;
    uint64_t next = 0;
    size_t i;

    CAST_OBJ_NOTNULL(f, t->data, FANOUT_MAGIC);
    while ((p = dueq_pop_due(&f->reboundq, now_ms(f), &next)) != NULL) {
        stats.rebound_purges++;
        p->rebound = 1;
        p->in_reboundq = 0;
        p->open_ents = p->nent;
        for (i = 0; i < p->nent; i++) {
            p->ent[i].st = E_WAIT;
            p->tag_refs++;
        }
        tag_unref(p); /* the rebound's own hold; the entries hold the tags now */
        purge_advance_all(f, p);
    }
    if (next != 0)
        AZ(uv_timer_start(&f->rebound_timer, rebound_cb, next - now_ms(f), 0));
}

/* Every sink acknowledged this pass. */
static void
purge_pass_done(struct fanout *f, struct purge *p)
{
    if (p->rebound_hold && !p->rebound) {
        /* The tags stay (tag_refs held since submit) for the second pass. */
        /*
         * At least rebound_ms after the acknowledgement: the loop's clock is in
         * whole milliseconds (truncated), so one more keeps the delay from
         * coming out a fraction of a millisecond short.
         */
        if (f->reboundq.len == 0)
            AZ(uv_timer_start(&f->rebound_timer, rebound_cb, (uint64_t)f->cfg.rebound_ms + 1, 0));
        dueq_push(&f->reboundq, p, now_ms(f) + (uint64_t)f->cfg.rebound_ms + 1);
        p->in_reboundq = 1;
        return;
    }
    p->done(p->arg, 1);
    purge_free(p);
}

/* Finish the pass once no frame uses p and every entry is done. */
static void
purge_settle(struct fanout *f, struct purge *p)
{
    if (p->hold == 0 && p->open_ents == 0 && !p->in_reboundq)
        purge_pass_done(f, p);
}

/* p may be freed when this returns. */
static void
entry_done(struct fanout *f, struct purge *p, struct entry *e)
{
    AN(e->st != E_DONE);
    e->st = E_DONE;
    AN(p->open_ents > 0);
    p->open_ents--;
    /* Tiers after this sink may go now. */
    purge_advance_all(f, p);
}

/* A node of sink_id acknowledged p, covered it, or was removed. */
static void
purge_node_release(struct fanout *f, struct purge *p, unsigned sink_id)
{
    struct entry *e = purge_entry(p, sink_id);

    CHECK_OBJ_NOTNULL(p, PURGE_MAGIC);
    AN(e != NULL && e->st == E_SENT && e->pending > 0);
    if (--e->pending == 0)
        entry_done(f, p, e);
}

/*------------------------------------------------------------------------
 * Sinks
 */

static struct fsink *
fsink_by_id(const struct fanout *f, unsigned id)
{
    struct fsink *fs;

    for (fs = f->sinks; fs != NULL; fs = fs->next)
        if (fs->id == id)
            return (fs->removed ? NULL : fs);
    return (NULL);
}

static struct fsink *
fsink_by_name(const struct fanout *f, const char *name)
{
    struct fsink *fs;

    for (fs = f->sinks; fs != NULL; fs = fs->next)
        if (!fs->removed && strcmp(fs->name, name) == 0)
            return (fs);
    return (NULL);
}

/* Every dns:// spec of the sink answered once: until then its purges wait. */
static int
fsink_ready(const struct fsink *fs)
{
    const struct disc *d;

    LIST_FOREACH (d, &fs->discs, struct disc, link)
        if (!d->removed && !d->ok_once)
            return (0);
    return (1);
}

static void node_enqueue(struct node *, struct purge *);

static void
entry_send(struct fanout *f, struct purge *p, struct entry *e, struct fsink *fs)
{
    struct node *n;

    e->st = E_SENT;
    e->pending = 0;
    LIST_FOREACH (n, &fs->nodes, struct node, link)
        e->pending++;
    p->hold++; /* a node could release p before the loop ends */
    LIST_FOREACH (n, &fs->nodes, struct node, link)
        node_enqueue(n, p);
    tag_unref(p); /* the entry's hold passed to the nodes */
    if (e->st == E_SENT && e->pending == 0)
        entry_done(f, p, e);
    p->hold--;
    purge_settle(f, p);
}

static void
delay_cb(uv_timer_t *t)
{
    struct fsink *fs;
    struct purge *p;
    struct entry *e;
    uint64_t next = 0;

    CAST_OBJ_NOTNULL(fs, t->data, FSINK_MAGIC);
    while ((p = dueq_pop_due(&fs->delayq, now_ms(fs->f), &next)) != NULL) {
        e = purge_entry(p, fs->id);
        AN(e != NULL && e->st == E_DELAY);
        entry_send(fs->f, p, e, fs);
    }
    if (next != 0)
        AZ(uv_timer_start(&fs->delay_timer, delay_cb, next - now_ms(fs->f), 0));
}

/* Move a waiting entry on if its sink's turn has come. */
static void
entry_advance(struct fanout *f, struct purge *p, struct entry *e)
{
    struct fsink *fs = fsink_by_id(f, e->sink_id), *parent;
    const struct sink_opts *o;
    struct entry *pe = NULL;

    if (e->st != E_WAIT)
        return;
    if (fs == NULL) { /* the sink was removed */
        tag_unref(p);
        entry_done(f, p, e);
        return;
    }
    o = sink_opts(fs->sink);
    parent = o->after != NULL ? fsink_by_name(f, o->after) : NULL;
    if (parent != NULL)
        pe = purge_entry(p, parent->id);
    if ((pe != NULL && pe->st != E_DONE) || !fsink_ready(fs))
        return;
    if (pe != NULL && o->after_delay_ms > 0) {
        e->st = E_DELAY;
        if (fs->delayq.len == 0)
            AZ(uv_timer_start(&fs->delay_timer, delay_cb, (uint64_t)o->after_delay_ms, 0));
        dueq_push(&fs->delayq, p, now_ms(f) + (uint64_t)o->after_delay_ms);
        return;
    }
    entry_send(f, p, e, fs);
}

/* Advance every waiting entry of p; p may be freed when this returns. */
static void
purge_advance_all(struct fanout *f, struct purge *p)
{
    size_t i;

    p->hold++;
    for (i = 0; i < p->nent; i++)
        if (p->ent[i].st == E_WAIT)
            entry_advance(f, p, &p->ent[i]);
    p->hold--;
    purge_settle(f, p);
}

/*------------------------------------------------------------------------
 * Nodes
 */

static void
node_set_state(struct node *n, enum node_state st)
{
    if (n->state == st)
        return;
    if (st == N_DOWN || n->state == N_DOWN || (st == N_IDLE && n->state == N_CONNECTING))
        log_info("sink %s: node %s: %s -> %s", n->fs->name, n->url, state_names[n->state],
                 state_names[st]);
    else
        log_debug("sink %s: node %s: %s -> %s", n->fs->name, n->url, state_names[n->state],
                  state_names[st]);
    n->state = st;
}

static long
max_pending(const struct node *n)
{
    long m = sink_opts(n->fs->sink)->max_pending_tags;

    return (m > 0 ? m : n->f->cfg.max_pending_tags);
}

/* Cover p with the node's escalation: its broad tags (or its own when it has none). */
static void
node_absorb_one(struct node *n, struct purge *p)
{
    const char *const *t = (const char *const *)(p->nbroad > 0 ? p->broad : p->tags);
    size_t i, nt = p->nbroad > 0 ? p->nbroad : p->ntags;

    if (!n->esc_flush) {
        AN(t != NULL);
        for (i = 0; i < nt; i++)
            tagset_add(n->esc_tags, t[i], strlen(t[i]));
        if (tagset_count(n->esc_tags) > (size_t)max_pending(n) &&
            sink_opts(n->fs->sink)->has_flush) {
            n->esc_flush = 1; /* the flush covers everything: forget the tags */
            tagset_clear(n->esc_tags);
        }
    }
    tag_unref(p); /* covered: this node never renders its tags */
}

/* Replace the unabsorbed backlog by one broad purge. */
static void
node_escalate(struct node *n, const char *why)
{
    size_t i;

    /* One count per episode: a broad round already out extends it. */
    if (!n->esc && (!n->in_round || n->kind == R_TAGS)) {
        stats.escalations++;
        n->escalations++;
        log_warn("sink %s: node %s: %s: its backlog of %zu purges (%zu tags) becomes one broad "
                 "purge",
                 n->fs->name, n->url, why, n->qlen - n->nabsorbed, n->qtags);
    }
    n->esc = 1;
    for (i = n->nabsorbed; i < n->qlen; i++)
        node_absorb_one(n, n->queue[i]);
    n->nabsorbed = n->qlen;
    n->qtags = 0;
}

/*
 * A round that is waiting to be retried joins the escalation: its requests
 * never went through, so the next broad purge covers its purges too.
 */
static void
node_abort_round(struct node *n)
{
    size_t i;

    if (!n->in_round)
        return;
    n->in_round = 0;
    if (n->kind == R_FLUSH) {
        n->esc_flush = 1;
        tagset_clear(n->esc_tags);
    } else if (n->kind == R_BROAD) {
        if (!n->esc_flush)
            tagset_merge(n->esc_tags, n->round_tags);
    } else {
        for (i = 0; i < n->nround; i++)
            node_absorb_one(n, n->round[i]);
    }
    if (!n->esc_flush && tagset_count(n->esc_tags) > (size_t)max_pending(n) &&
        sink_opts(n->fs->sink)->has_flush) {
        n->esc_flush = 1;
        tagset_clear(n->esc_tags);
    }
    /* In front of the queue, absorbed (a marked node's round may cover none). */
    if (n->nround > 0) {
        n->queue = tp_realloc(n->queue, (n->qlen + n->nround) * sizeof *n->queue);
        memmove(n->queue + n->nround, n->queue, n->qlen * sizeof *n->queue);
        memcpy(n->queue, n->round, n->nround * sizeof *n->queue);
        n->qlen += n->nround;
        n->qcap = n->qlen;
        n->nabsorbed += n->nround;
    }
    n->esc = 1;
    free(n->round);
    n->round = NULL;
    n->nround = 0;
    reqlist_free(&n->reqs);
    n->cur = 0;
}

/*
 * A down node stops holding the checkpoint: its escalated backlog (every
 * queued purge is absorbed, nothing is in flight) becomes its mark in
 * dirty.json, written durably first, and only then are its purges released.
 * The escalation (esc, esc_flush, esc_tags) stays: it is the broad purge the
 * node gets first when it answers, and absorbs what arrives meanwhile.
 *
 * Bounded: with a flush the mark is that word and never changes.  Without
 * one it is the union of the fallback tags (node_absorb_one); past
 * max_pending_tags the node keeps holding its purges as it did before marks
 * existed (the checkpoint waits, a restart replays them), so the file stays
 * small.  Without a state_dir, or when the file cannot be written, it holds too.
 */
static void
node_release_dirty(struct node *n)
{
    struct fanout *f = n->f;
    struct fsink *fs = n->fs;
    struct purge **queue = n->queue;
    const char *const *tags = NULL;
    size_t i, qlen = n->qlen, ntags = 0;
    int flush = sink_opts(fs->sink)->has_flush;

    AN(n->dirty && !n->in_round && n->nabsorbed == n->qlen);
    if (f->dirty == NULL)
        return;
    if (!flush && tagset_count(n->esc_tags) > (size_t)max_pending(n)) {
        if (!n->mark_held)
            log_warn("sink %s: node %s: its broad purge passed max_pending_tags (%zu tags) and "
                     "the sink has no flush: it keeps holding its purges until it is back",
                     fs->name, n->url, tagset_count(n->esc_tags));
        n->mark_held = 1;
        return;
    }
    if (!flush)
        tags = tagset_sorted(n->esc_tags, &ntags);
    if (dirty_set(f->dirty, fs->name, n->url, flush, tags, ntags) != 0) {
        if (!n->mark_held)
            log_err("sink %s: node %s: cannot write %s (%s): it keeps holding its purges", fs->name,
                    n->url, dirty_path(f->dirty), strerror(errno));
        n->mark_held = 1;
        return;
    }
    if (!n->marked)
        log_warn("sink %s: node %s: down: marked dirty in %s (first request when back: %s); it "
                 "no longer holds the checkpoint",
                 fs->name, n->url, dirty_path(f->dirty), flush ? "the flush" : "fallback tags");
    n->marked = 1;
    n->mark_held = 0;
    if (qlen == 0)
        return;
    /* Detached first: a done() may submit, and this node absorbs and releases that too. */
    n->queue = NULL;
    n->qlen = n->qcap = n->nabsorbed = 0;
    stats.dirty_releases += qlen;
    n->dirty_releases += qlen;
    for (i = 0; i < qlen; i++)
        purge_node_release(f, queue[i], fs->id); /* absorbed: no tag reference left */
    free(queue);
}

/* The one place n->dirty changes, so f->ndirty stays its count. */
static void
node_set_dirty(struct node *n, int dirty)
{
    dirty = dirty != 0;
    if (n->dirty == dirty)
        return;
    n->dirty = dirty;
    if (dirty)
        n->f->ndirty++;
    else
        n->f->ndirty--;
}

/* The broad purge went through (or nothing needs one): the node is clean. */
static void
node_clean(struct node *n)
{
    node_set_dirty(n, 0);
    n->mark_held = 0;
    if (!n->marked)
        return;
    n->marked = 0;
    if (dirty_remove(n->f->dirty, n->fs->name, n->url) != 0)
        log_err("sink %s: node %s: cannot rewrite %s (%s): the next start sends it a broad "
                "purge again",
                n->fs->name, n->url, dirty_path(n->f->dirty), strerror(errno));
    else
        log_info("sink %s: node %s: clean again, mark removed from %s", n->fs->name, n->url,
                 dirty_path(n->f->dirty));
}

static void
node_enqueue(struct node *n, struct purge *p)
{
    CHECK_OBJ_NOTNULL(n, NODE_MAGIC);
    if (n->qlen == n->qcap) {
        n->qcap = n->qcap ? 2 * n->qcap : 16;
        n->queue = tp_realloc(n->queue, n->qcap * sizeof *n->queue);
    }
    n->queue[n->qlen++] = p;
    p->tag_refs++;
    if (p->flush && sink_opts(n->fs->sink)->has_flush) {
        /* A gap: the flush covers the backlog and this purge alike. */
        node_escalate(n, "a source gap");
        n->esc_flush = 1;
        tagset_clear(n->esc_tags);
        if (n->state == N_BACKOFF || n->state == N_DOWN)
            node_abort_round(n);
    } else if (n->esc) {
        node_absorb_one(n, p);
        n->nabsorbed++;
    } else {
        n->qtags += p->ntags;
        if (n->qtags > (size_t)max_pending(n)) {
            node_escalate(n, "max_pending_tags passed");
            if (n->state == N_BACKOFF || n->state == N_DOWN)
                node_abort_round(n);
        }
    }
    if (n->dirty && n->state == N_DOWN)
        node_release_dirty(n);
    else if (n->state == N_IDLE)
        node_kick(n);
}

/* Take the whole queue as this round and render its requests. */
static void
node_start_round(struct node *n)
{
    const struct sink_opts *o = sink_opts(n->fs->sink);
    const char *const *tags;
    size_t i, j, ntags;

    AZ(n->in_round);
    n->in_round = 1;
    log_debug("sink %s: node %s: round of %zu purges (escalated %d, dirty %d)", n->fs->name, n->url,
              n->qlen, n->esc, n->dirty);
    if (n->dirty && !n->esc)
        node_escalate(n, "node was down");
    n->round = n->queue;
    n->nround = n->qlen;
    n->queue = NULL;
    n->qlen = n->qcap = 0;
    reqlist_free(&n->reqs);
    n->cur = 0;
    if (n->fail_since == 0)
        n->attempts = 0; /* a failing node's backoff keeps growing across rounds */
    if (n->esc || n->dirty) {
        AN(n->nabsorbed == n->nround);
        if (o->has_flush && (n->esc_flush || n->dirty)) {
            n->kind = R_FLUSH;
            sink_render_flush(n->fs->sink, n->url, &n->reqs);
        } else {
            n->kind = R_BROAD;
            tagset_clear(n->round_tags);
            tagset_merge(n->round_tags, n->esc_tags);
            tags = tagset_sorted(n->round_tags, &ntags);
            sink_render(n->fs->sink, n->url, tags, ntags, &n->reqs);
        }
        n->esc = n->esc_flush = 0;
        n->nabsorbed = 0;
        tagset_clear(n->esc_tags);
        return;
    }
    n->kind = R_TAGS;
    tagset_clear(n->merge);
    for (i = 0; i < n->nround; i++)
        for (j = 0; j < n->round[i]->ntags; j++)
            tagset_add(n->merge, n->round[i]->tags[j], strlen(n->round[i]->tags[j]));
    n->qtags = 0;
    tags = tagset_sorted(n->merge, &ntags);
    sink_render(n->fs->sink, n->url, tags, ntags, &n->reqs);
}

static void
node_round_done(struct node *n)
{
    struct fanout *f = n->f;
    struct purge **round = n->round;
    size_t i, nround = n->nround;
    enum round_kind kind = n->kind;
    unsigned id = n->fs->id;

    n->round = NULL;
    n->nround = 0;
    n->in_round = 0;
    if (kind == R_FLUSH || (kind == R_BROAD && n->dirty)) {
        stats.flushes++;
        log_info("sink %s: node %s: broad purge acknowledged (%s), covering %zu purges",
                 n->fs->name, n->url, kind == R_FLUSH ? "flush" : "fallback tags", nround);
        node_clean(n);
    }
    stats.purges_acked += nround;
    for (i = 0; i < nround; i++) {
        if (kind == R_TAGS)
            tag_unref(round[i]);
        purge_node_release(f, round[i], id);
    }
    free(round);
}

static void
timer_cb(uv_timer_t *t)
{
    struct node *n;

    CAST_OBJ_NOTNULL(n, t->data, NODE_MAGIC);
    node_kick(n);
}

static long
backoff_ms(const struct fanout *f, unsigned attempts)
{
    /* Jitter on the upper half: spreads retries of many nodes apart. */
    return (backoff_jitter(backoff_delay(f->cfg.retry_initial_ms, f->cfg.retry_max_ms, attempts)));
}

/* A token of the sink's bucket, or how long to wait for one (ms). */
static uint64_t
take_token(struct fsink *fs)
{
    const struct sink_opts *o = sink_opts(fs->sink);
    uint64_t now = now_ms(fs->f);

    if (o->rate_per_s <= 0)
        return (0);
    fs->tokens += (double)(now - fs->refill_ms) * o->rate_per_s / 1000.0;
    fs->refill_ms = now;
    if (fs->tokens > o->rate_burst)
        fs->tokens = o->rate_burst;
    if (fs->tokens >= 1.0) {
        fs->tokens -= 1.0;
        return (0);
    }
    return ((uint64_t)((1.0 - fs->tokens) * 1000.0 / o->rate_per_s) + 1);
}

static void xfer_done(void *, long, long, const char *, const char *);

static void
node_failed(struct node *n, const char *why, long status, long retry_after_s)
{
    struct fanout *f = n->f;
    uint64_t now = now_ms(f);
    long d;

    n->attempts++;
    n->retries++;
    stats.purge_retries++;
    d = backoff_ms(f, n->attempts);
    if ((status == 429 || status == 503) && retry_after_s > 0) {
        stats.retry_after_waits++;
        if (retry_after_s > 3600)
            retry_after_s = 3600;
        if (d < retry_after_s * 1000)
            d = retry_after_s * 1000;
    }
    /* Rate limiting is not an outage. */
    if (status != 429 && n->fail_since == 0)
        n->fail_since = now ? now : 1;
    log_warn("sink %s: node %s: purge failed: %s (attempt %u, retry in %ld ms)", n->fs->name,
             n->url, why, n->attempts, d);
    /* A node whose mark is in the file was down already: no second wait. */
    if (n->fail_since != 0 &&
        (n->marked || (f->cfg.flush_after_down_s > 0 &&
                       now - n->fail_since >= (uint64_t)f->cfg.flush_after_down_s * 1000))) {
        if (!n->dirty) {
            log_warn("sink %s: node %s: unreachable for %lld s (flush_after_down_s %ld): it gets "
                     "a broad purge first when it is back",
                     n->fs->name, n->url, (long long)(now - n->fail_since) / 1000,
                     f->cfg.flush_after_down_s);
            node_set_dirty(n, 1);
            stats.nodes_down++;
        }
        node_set_state(n, N_DOWN);
    } else {
        node_set_state(n, N_BACKOFF);
    }
    /*
     * Down, a broad round failing, or the backlog escalated while this round was
     * out: the round and the queue join the escalation, so one broad purge is
     * outstanding, not a series.
     */
    if (n->dirty || (n->in_round && n->kind != R_TAGS)) {
        node_abort_round(n);
        node_escalate(n, "node down");
    } else if (n->esc) {
        node_abort_round(n);
    }
    AZ(uv_timer_start(&n->timer, timer_cb, (uint64_t)d, 0));
    if (n->state == N_DOWN)
        node_release_dirty(n); /* last: its done()s may reach this node again */
}

static void
node_send(struct node *n)
{
    struct http_opts o;

    sink_http_opts(n->fs->sink, n->f->cfg.timeout_ms, &o);
    if (n->renew_xfer) {
        http_xfer_destroy(&n->xfer);
        n->xfer = http_xfer_new(n->f->http);
        n->renew_xfer = 0;
    }
    node_set_state(n, n->fail_since == 0 && n->ever_ok ? N_SENDING : N_CONNECTING);
    if (http_xfer_start(n->xfer, n->url, &n->reqs.v[n->cur], &o, xfer_done, n) != 0)
        node_failed(n, "could not start the request", 0, 0);
}

/*
 * The node's next step when no request is in flight: finish the round, send
 * its next request, start a round, or go idle.
 */
static void
node_kick(struct node *n)
{
    uint64_t wait;

    CHECK_OBJ_NOTNULL(n, NODE_MAGIC);
    for (;;) {
        if (n->in_round && n->cur == n->reqs.n)
            node_round_done(n);
        if (n->dirty && !n->in_round && n->qlen == 0 && !sink_opts(n->fs->sink)->has_flush &&
            tagset_count(n->esc_tags) == 0)
            node_clean(n); /* nothing it missed that fallback tags could name */
        if (!n->in_round && n->qlen == 0 && !n->dirty) {
            node_set_state(n, N_IDLE);
            return;
        }
        wait = take_token(n->fs);
        if (wait > 0) {
            stats.rate_waits++;
            if (n->state != N_DOWN)
                node_set_state(n, N_BACKOFF);
            AZ(uv_timer_start(&n->timer, timer_cb, wait, 0));
            return;
        }
        if (!n->in_round)
            node_start_round(n);
        if (n->cur < n->reqs.n)
            break;
        /* An empty round (an escalation with nothing to name): done at once. */
    }
    node_send(n);
}

static void
count_code(struct node *n, long status)
{
    size_t i, max = sizeof n->codes / sizeof n->codes[0];

    for (i = 0; i < n->ncodes; i++)
        if (n->codes[i].code == status) {
            n->codes[i].n++;
            return;
        }
    if (n->ncodes < max - 1) {
        n->codes[n->ncodes].code = status;
        n->codes[n->ncodes++].n = 1;
        return;
    }
    n->codes[max - 1].code = -1; /* other */
    n->codes[max - 1].n++;
    n->ncodes = max;
}

static void
xfer_done(void *arg, long status, long retry_after_s, const char *err, const char *body)
{
    struct node *n;
    char why[512];

    CAST_OBJ_NOTNULL(n, arg, NODE_MAGIC);
    AN(n->state == N_SENDING || n->state == N_CONNECTING);
    stats.purge_requests++;
    count_code(n, status);
    if (status >= 200 && status < 300) {
        if (n->attempts > 0 || n->fail_since != 0)
            log_info("sink %s: node %s: delivered after %u failed attempts", n->fs->name, n->url,
                     n->attempts);
        n->attempts = 0;
        n->fail_since = 0;
        n->ever_ok = 1;
        n->cur++;
        node_kick(n);
        return;
    }
    stats.purge_failures++;
    if (status != 0)
        snprintf(why, sizeof why, "HTTP %ld %.*s", status, (int)strcspn(body, "\r\n"), body);
    else
        snprintf(why, sizeof why, "%s", err ? err : "unknown error");
    if (status == 400 || status == 401 || status == 403 || status == 404 || status == 405)
        log_err("sink %s: node %s answers HTTP %ld: check the sink's nodes URL, method, headers "
                "(credentials) and the cache's purge ACL; retrying",
                n->fs->name, n->url, status);
    node_failed(n, why, status, retry_after_s);
}

/* A node with a mark in dirty.json starts dirty: the broad purge goes first, now. */
static void
node_load_mark(struct node *n)
{
    int flush = 0;

    if (n->f->dirty == NULL || !dirty_get(n->f->dirty, n->fs->name, n->url, &flush, n->esc_tags))
        return;
    if (flush && !sink_opts(n->fs->sink)->has_flush)
        log_err("sink %s: node %s: its mark in %s asks for the flush, but the sink has none now: "
                "nothing broader can be sent; flush it by hand",
                n->fs->name, n->url, dirty_path(n->f->dirty));
    log_warn("sink %s: node %s: dirty (marked in %s): its first request is the %s", n->fs->name,
             n->url, dirty_path(n->f->dirty), flush ? "flush" : "broad purge");
    node_set_dirty(n, 1);
    n->marked = 1;
    n->esc = 1;
    n->esc_flush = flush;
    node_kick(n);
}

static struct node *
node_new(struct fsink *fs, const char *url, const char *spec)
{
    struct fanout *f = fs->f;
    struct node *n;

    ALLOC_OBJ(n, NODE_MAGIC);
    n->f = f;
    n->fs = fs;
    n->url = tp_strdup(url);
    n->spec = spec != NULL ? tp_strdup(spec) : NULL;
    n->state = N_IDLE;
    n->xfer = http_xfer_new(f->http);
    n->merge = tagset_new();
    n->esc_tags = tagset_new();
    n->round_tags = tagset_new();
    AZ(uv_timer_init(f->loop, &n->timer));
    n->timer.data = n;
    f->open++;
    list_insert_head(&fs->nodes, &n->link);
    fs->nnodes++;
    log_info("sink %s: node %s added", fs->name, url);
    node_load_mark(n);
    return (n);
}

static void closed_one(struct fanout *);

static void
node_timer_closed(uv_handle_t *h)
{
    struct node *n;
    struct fanout *f;

    CAST_OBJ_NOTNULL(n, h->data, NODE_MAGIC);
    f = n->f;
    free(n->url);
    free(n->spec);
    FREE_OBJ(n);
    closed_one(f);
}

/* Free the node's memory; release = also release what it owed (not at close). */
static void
node_destroy(struct node *n, int release)
{
    struct fsink *fs = n->fs;
    struct fanout *f = n->f;
    struct purge **round = n->round, **queue = n->queue;
    size_t i, nround = n->nround, qlen = n->qlen;
    enum round_kind kind = n->kind;
    size_t nabsorbed = n->nabsorbed;

    n->removed = 1;
    node_set_dirty(n, 0); /* the count is of live nodes; the mark file is not touched here */
    list_remove(&n->link);
    fs->nnodes--;
    http_xfer_destroy(&n->xfer);
    reqlist_free(&n->reqs);
    tagset_destroy(&n->merge);
    tagset_destroy(&n->esc_tags);
    tagset_destroy(&n->round_tags);
    uv_timer_stop(&n->timer);
    uv_close((uv_handle_t *)&n->timer, node_timer_closed);
    n->round = n->queue = NULL;
    n->nround = n->qlen = 0;
    if (release) {
        if (nround + qlen > 0)
            log_warn("sink %s: node %s removed: the %zu purges it still owed are released",
                     fs->name, n->url, nround + qlen);
        stats.node_drops++;
        for (i = 0; i < nround; i++) {
            if (kind == R_TAGS)
                tag_unref(round[i]);
            purge_node_release(f, round[i], fs->id);
        }
        for (i = 0; i < qlen; i++) {
            if (i >= nabsorbed)
                tag_unref(queue[i]);
            purge_node_release(f, queue[i], fs->id);
        }
    }
    free(round);
    free(queue);
}

/*------------------------------------------------------------------------
 * Discovery
 */

static struct node *
fsink_node(const struct fsink *fs, const char *url)
{
    struct node *n;

    LIST_FOREACH (n, &fs->nodes, struct node, link)
        if (strcmp(n->url, url) == 0)
            return (n);
    return (NULL);
}

/* A mark stays while its node exists, or may still be discovered (dirty.h). */
static int
mark_keep(void *arg, const char *sink, const char *url)
{
    const struct fsink *fs = fsink_by_name(arg, sink);

    return (fs != NULL && (fsink_node(fs, url) != NULL || !fsink_ready(fs)));
}

static void
fanout_prune_marks(struct fanout *f)
{
    if (f->dirty != NULL && !f->closing && dirty_prune(f->dirty, mark_keep, f) < 0)
        log_err("cannot rewrite %s (%s): a removed node's mark stays in it", dirty_path(f->dirty),
                strerror(errno));
}

/* Make the nodes from disc d exactly urls[0..n). */
static void
disc_apply(struct disc *d, char **urls, size_t nurls)
{
    struct fsink *fs = d->fs;
    struct node *n, *next;
    size_t i;
    int was_ready = fsink_ready(fs), found;

    for (n = LIST_FIRST(&fs->nodes, struct node, link); n != NULL; n = next) {
        next = LIST_NEXT(n, struct node, link);
        if (n->spec == NULL || strcmp(n->spec, d->spec) != 0)
            continue;
        for (i = 0, found = 0; i < nurls && !found; i++)
            found = strcmp(urls[i], n->url) == 0;
        if (!found) {
            log_info("sink %s: %s no longer resolves to %s: node dropped", fs->name, d->spec,
                     n->url);
            node_destroy(n, 1);
            /* releasing may have changed the list? restart safely */
            next = LIST_FIRST(&fs->nodes, struct node, link);
        }
    }
    for (i = 0; i < nurls; i++)
        if (fsink_node(fs, urls[i]) == NULL)
            (void)node_new(fs, urls[i], d->spec);
    d->ok_once = 1;
    fanout_prune_marks(fs->f); /* an address gone from the name is a removed node */
    if (!was_ready && fsink_ready(fs)) {
        struct purge *p, *pn;
        LIST_FOREACH_SAFE (p, pn, &fs->f->live, struct purge, live)
            purge_advance_all(fs->f, p);
    }
}

static void
gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct disc *d;
    struct fanout *f;
    char **urls;
    size_t n;

    CAST_OBJ_NOTNULL(d, req->data, DISC_MAGIC);
    f = d->fs->f;
    d->busy = 0;
    if (!f->closing && !d->removed && !d->fs->removed) {
        if (status == 0) {
            discover_from_addrinfo(res, &d->d, &urls, &n);
            disc_apply(d, urls, n);
            discover_free(urls, n);
        } else if (status == UV_EAI_NONAME) {
            disc_apply(d, NULL, 0); /* the name is gone: so are its nodes */
        } else {
            log_warn("sink %s: cannot resolve %s: %s (keeping the nodes it had)", d->fs->name,
                     d->spec, uv_strerror(status));
        }
    }
    if (res != NULL)
        uv_freeaddrinfo(res);
    if (d->removed) {
        free(d->spec);
        FREE_OBJ(d);
    }
    closed_one(f);
}

static void
disc_start(struct disc *d)
{
    struct fanout *f = d->fs->f;
    struct addrinfo hints;
    char **urls;
    size_t n;

    if (d->busy)
        return;
    if (f->cfg.hosts_file[0] != '\0') {
        if (discover_hosts_file(f->cfg.hosts_file, &d->d, &urls, &n) != 0) {
            log_warn("sink %s: cannot read hosts_file %s (keeping the nodes of %s)", d->fs->name,
                     f->cfg.hosts_file, d->spec);
            return;
        }
        disc_apply(d, urls, n);
        discover_free(urls, n);
        return;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    d->req.data = d;
    if (uv_getaddrinfo(f->loop, &d->req, gai_cb, d->d.host, d->d.port, &hints) != 0) {
        log_warn("sink %s: cannot start resolving %s", d->fs->name, d->spec);
        return;
    }
    d->busy = 1;
    f->open++;
}

static void
discover_cb(uv_timer_t *t)
{
    struct fanout *f;
    struct fsink *fs;
    struct disc *d;
    int pending = 0;

    CAST_OBJ_NOTNULL(f, t->data, FANOUT_MAGIC);
    for (fs = f->sinks; fs != NULL; fs = fs->next)
        for (d = LIST_FIRST(&fs->discs, struct disc, link); d != NULL && !fs->removed;
             d = LIST_NEXT(d, struct disc, link))
            if (!d->removed) {
                disc_start(d);
                pending |= !d->ok_once;
            }
    /* Until every name answered once, retry every second: purges wait for it. */
    AZ(uv_timer_start(&f->discover_timer, discover_cb,
                      pending ? 1000 : (uint64_t)f->cfg.discover_interval_s * 1000, 0));
}

/*------------------------------------------------------------------------
 * Configuration
 */

static void
delay_closed(uv_handle_t *h)
{
    struct fsink *fs;
    struct fanout *f;

    CAST_OBJ_NOTNULL(fs, h->data, FSINK_MAGIC);
    f = fs->f;
    closed_one(f);
}

static struct fsink *
fsink_new(struct fanout *f, struct sink *s)
{
    struct fsink *fs, **tail;

    ALLOC_OBJ(fs, FSINK_MAGIC);
    fs->f = f;
    fs->id = ++f->next_id;
    fs->name = tp_strdup(sink_name(s));
    fs->sink = s;
    fs->tokens = sink_opts(s)->rate_burst;
    fs->refill_ms = now_ms(f);
    AZ(uv_timer_init(f->loop, &fs->delay_timer));
    fs->delay_timer.data = fs;
    f->open++;
    for (tail = &f->sinks; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = fs;
    return (fs);
}

static int
spec_listed(const struct sink *s, const char *spec)
{
    size_t i;

    for (i = 0; i < sink_nnodes(s); i++)
        if (strcmp(sink_node(s, i), spec) == 0)
            return (1);
    return (0);
}

/*
 * Take d off its sink's list and free it, or, while its lookup is out, mark it
 * removed and let gai_cb free it (cancel: ask libuv to cut the lookup short).
 */
static void
disc_drop(struct disc *d, int cancel)
{
    list_remove(&d->link);
    d->removed = 1;
    if (d->busy) {
        if (cancel)
            (void)uv_cancel((uv_req_t *)&d->req);
        return;
    }
    free(d->spec);
    FREE_OBJ(d);
}

/* Bring fs's node list in line with its sink's "nodes". */
static void
fsink_sync_nodes(struct fsink *fs)
{
    struct node *n, *next;
    struct disc *d, *dn;
    size_t i;

    LIST_FOREACH_SAFE (n, next, &fs->nodes, struct node, link) {
        if (!spec_listed(fs->sink, n->spec != NULL ? n->spec : n->url))
            node_destroy(n, 1);
    }
    LIST_FOREACH_SAFE (d, dn, &fs->discs, struct disc, link)
        if (!spec_listed(fs->sink, d->spec))
            disc_drop(d, 0);
    for (i = 0; i < sink_nnodes(fs->sink); i++) {
        const char *u = sink_node(fs->sink, i);
        if (!discover_is_dns(u)) {
            if (fsink_node(fs, u) == NULL)
                (void)node_new(fs, u, NULL);
            continue;
        }
        for (d = LIST_FIRST(&fs->discs, struct disc, link); d != NULL && strcmp(d->spec, u) != 0;
             d = LIST_NEXT(d, struct disc, link))
            ;
        if (d != NULL)
            continue;
        ALLOC_OBJ(d, DISC_MAGIC);
        d->fs = fs;
        d->spec = tp_strdup(u);
        AZ(discover_parse(u, &d->d)); /* sink.c validated it */
        list_insert_head(&fs->discs, &d->link);
        disc_start(d);
    }
}

static void
fsink_remove(struct fsink *fs)
{
    struct node *n;
    struct disc *d;

    fs->removed = 1;
    log_info("sink %s removed", fs->name);
    while ((n = LIST_FIRST(&fs->nodes, struct node, link)) != NULL)
        node_destroy(n, 1);
    while ((d = LIST_FIRST(&fs->discs, struct disc, link)) != NULL)
        disc_drop(d, 0);
}

void
fanout_reconfigure(struct fanout *f, struct sink *const *sinks, size_t nsinks,
                   const struct delivery_cfg *cfg)
{
    struct fsink *fs;
    struct node *n;
    struct purge *p, *pn;
    size_t i;
    int keep;

    CHECK_OBJ_NOTNULL(f, FANOUT_MAGIC);
    f->cfg = *cfg;
    for (fs = f->sinks; fs != NULL; fs = fs->next) {
        if (fs->removed)
            continue;
        for (i = 0, keep = 0; i < nsinks && !keep; i++)
            keep = strcmp(sink_name(sinks[i]), fs->name) == 0;
        if (!keep)
            fsink_remove(fs);
    }
    for (i = 0; i < nsinks; i++) {
        fs = fsink_by_name(f, sink_name(sinks[i]));
        if (fs == NULL) {
            fs = fsink_new(f, sinks[i]);
            log_info("sink %s added", fs->name);
        }
        fs->sink = sinks[i];
        LIST_FOREACH (n, &fs->nodes, struct node, link)
            n->renew_xfer = 1;
        fsink_sync_nodes(fs);
    }
    fanout_prune_marks(f);
    /* Entries of removed sinks finish; waiting ones may go under the new tiers. */
    LIST_FOREACH_SAFE (p, pn, &f->live, struct purge, live)
        purge_advance_all(f, p);
}

int
fanout_new(struct fanout **fp, uv_loop_t *loop, struct sink *const *sinks, size_t nsinks,
           const struct delivery_cfg *cfg, const char *state_dir)
{
    struct fanout *f;

    ALLOC_OBJ(f, FANOUT_MAGIC);
    f->loop = loop;
    f->cfg = *cfg;
    if (state_dir != NULL && dirty_open(&f->dirty, state_dir) != 0) {
        FREE_OBJ(f);
        return (-1);
    }
    if (http_new(&f->http, loop) != 0) {
        dirty_destroy(&f->dirty);
        FREE_OBJ(f);
        return (-1);
    }
    AZ(uv_timer_init(loop, &f->rebound_timer));
    AZ(uv_timer_init(loop, &f->discover_timer));
    f->rebound_timer.data = f->discover_timer.data = f;
    f->open += 2;
    fanout_reconfigure(f, sinks, nsinks, cfg);
    AZ(uv_timer_start(&f->discover_timer, discover_cb, 1000, 0));
    *fp = f;
    return (0);
}

size_t
fanout_nnodes(const struct fanout *f)
{
    const struct fsink *fs;
    size_t n = 0;

    CHECK_OBJ_NOTNULL(f, FANOUT_MAGIC);
    for (fs = f->sinks; fs != NULL; fs = fs->next)
        if (!fs->removed)
            n += fs->nnodes;
    return (n);
}

size_t
fanout_ndirty(const struct fanout *f)
{
    CHECK_OBJ_NOTNULL(f, FANOUT_MAGIC);
    return (f->ndirty); /* the pipeline asks at every checkpoint advance: no walk */
}

void
fanout_foreach_node(const struct fanout *f, void (*cb)(void *, const struct node_info *), void *arg)
{
    const struct fsink *fs;
    const struct node *n;
    struct node_info ni;
    size_t i;

    CHECK_OBJ_NOTNULL(f, FANOUT_MAGIC);
    for (fs = f->sinks; fs != NULL; fs = fs->next)
        for (n = LIST_FIRST(&fs->nodes, struct node, link); n != NULL && !fs->removed;
             n = LIST_NEXT(n, struct node, link)) {
            ni.sink = fs->name;
            ni.url = n->url;
            ni.state = state_names[n->state];
            ni.failing = n->fail_since != 0;
            ni.dirty = n->dirty;
            ni.dirty_releases = n->dirty_releases;
            ni.pending_purges = n->qlen + n->nround;
            ni.pending_tags = n->qtags + tagset_count(n->esc_tags);
            for (i = 0; i < n->nround && n->kind == R_TAGS; i++)
                ni.pending_tags += n->round[i]->ntags;
            ni.retries = n->retries;
            ni.escalations = n->escalations;
            ni.codes = n->codes;
            ni.ncodes = n->ncodes;
            cb(arg, &ni);
        }
}

int
fanout_empty(const struct fanout *f)
{
    const struct fsink *fs;

    CHECK_OBJ_NOTNULL(f, FANOUT_MAGIC);
    for (fs = f->sinks; fs != NULL; fs = fs->next)
        if (!fs->removed && (fs->nnodes > 0 || !list_empty(&fs->discs)))
            return (0);
    return (1);
}

void
fanout_submit(struct fanout *f, const struct purge_tags *t, void (*done)(void *, int), void *arg)
{
    struct fsink *fs;
    struct purge *p;
    size_t n = 0;

    CHECK_OBJ_NOTNULL(f, FANOUT_MAGIC);
    AZ(f->closing);
    for (fs = f->sinks; fs != NULL; fs = fs->next)
        n += !fs->removed;
    if (n == 0) {
        done(arg, 1);
        return;
    }
    ALLOC_OBJ(p, PURGE_MAGIC);
    p->tags = strv_dup(t->tags, t->n);
    p->ntags = t->n;
    p->broad = strv_dup(t->broad, t->nbroad);
    p->nbroad = t->nbroad;
    p->flush = t->flush;
    p->done = done;
    p->arg = arg;
    p->ent = tp_calloc(n, sizeof *p->ent);
    for (fs = f->sinks; fs != NULL; fs = fs->next)
        if (!fs->removed)
            p->ent[p->nent++] = (struct entry){.sink_id = fs->id, .st = E_WAIT};
    p->open_ents = p->nent;
    p->rebound_hold = f->cfg.rebound_ms > 0;
    p->tag_refs = (unsigned)p->nent + (p->rebound_hold ? 1 : 0);
    list_insert_head(&f->live, &p->live);
    purge_advance_all(f, p);
}

/*------------------------------------------------------------------------
 * Close
 */

static void
http_closed(void *arg)
{
    struct fanout *f;
    void (*done)(void *);
    void *darg;
    struct fsink *fs;

    CAST_OBJ_NOTNULL(f, arg, FANOUT_MAGIC);
    done = f->closed;
    darg = f->closed_arg;
    while ((fs = f->sinks) != NULL) {
        f->sinks = fs->next;
        dueq_free(&fs->delayq);
        free(fs->name);
        FREE_OBJ(fs);
    }
    dueq_free(&f->reboundq);
    dirty_destroy(&f->dirty);
    FREE_OBJ(f);
    if (done != NULL)
        done(darg);
}

static void
closed_one(struct fanout *f)
{
    AN(f->open > 0);
    if (--f->open == 0 && f->closing)
        http_close(f->http, http_closed, f);
}

static void
fanout_timer_closed(uv_handle_t *h)
{
    struct fanout *f;

    CAST_OBJ_NOTNULL(f, h->data, FANOUT_MAGIC);
    closed_one(f);
}

void
fanout_close(struct fanout *f, void (*done)(void *), void *arg)
{
    struct fsink *fs;
    struct node *n;
    struct disc *d;
    struct purge *p;

    CHECK_OBJ_NOTNULL(f, FANOUT_MAGIC);
    f->closed = done;
    f->closed_arg = arg;
    f->closing = 1;
    f->open++; /* hold: handles may close synchronously below */
    for (fs = f->sinks; fs != NULL; fs = fs->next) {
        while ((n = LIST_FIRST(&fs->nodes, struct node, link)) != NULL)
            node_destroy(n, 0);
        while ((d = LIST_FIRST(&fs->discs, struct disc, link)) != NULL)
            disc_drop(d, 1);
        uv_timer_stop(&fs->delay_timer);
        uv_close((uv_handle_t *)&fs->delay_timer, delay_closed);
    }
    /* Unconfirmed: a restart replays them from the source. */
    while ((p = LIST_FIRST(&f->live, struct purge, live)) != NULL) {
        p->done(p->arg, 0);
        purge_free(p);
    }
    uv_timer_stop(&f->rebound_timer);
    uv_timer_stop(&f->discover_timer);
    uv_close((uv_handle_t *)&f->rebound_timer, fanout_timer_closed);
    uv_close((uv_handle_t *)&f->discover_timer, fanout_timer_closed);
    closed_one(f);
}
