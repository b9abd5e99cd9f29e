#include <stdlib.h>
#include <string.h>

#include "../broker/log.h"
#include "../broker/obj.h"
#include "../broker/stats.h"
#include "../broker/tagset.h"
#include "fanout.h"
#include "http.h"
#include "sink.h"

/* One batch of tags on its way to every node; freed when the last node acks. */
struct purge {
    unsigned magic;
#define PURGE_MAGIC 0x0b5e1a6d
    char **tags;
    size_t ntags;
    unsigned pending; /* nodes that have not acknowledged yet */
    void (*done)(void *);
    void *arg;
};

/*
 * Node states.
 *  NODE_IDLE     nothing in flight.  next: SENDING (a purge was queued).
 *                watchers: none.
 *  NODE_SENDING  request reqs[cur] in flight.  next: SENDING (next request),
 *                IDLE (round acknowledged, queue empty), BACKOFF (failure).
 *                watchers: the HTTP transfer (timeout_ms).
 *  NODE_BACKOFF  waiting to resend reqs[cur].  next: SENDING.
 *                watchers: the backoff timer.
 */
enum node_state { NODE_IDLE, NODE_SENDING, NODE_BACKOFF };

struct node {
    unsigned magic;
#define NODE_MAGIC 0x6e0de5a1
    struct fanout *f;
    const struct sink *sink;
    const char *url; /* borrowed from the sink */
    enum node_state state;
    struct purge **queue; /* waiting, FIFO */
    size_t qlen, qcap;
    struct purge **round; /* being delivered now */
    size_t nround;
    struct reqlist reqs;
    size_t cur;
    unsigned attempts; /* failures of reqs[cur] */
    struct http_xfer *xfer;
    uv_timer_t backoff;
    struct tagset *merge;
};

struct fanout {
    unsigned magic;
#define FANOUT_MAGIC 0x2fa70c19
    uv_loop_t *loop;
    struct http *http;
    struct node *nodes;
    size_t nnodes;
    struct delivery_cfg cfg;
    unsigned open_timers;
    void (*closed)(void *);
    void *closed_arg;
};

static void node_send(struct node *);

static void
purge_release(struct purge *p)
{
    size_t i;

    CHECK_OBJ_NOTNULL(p, PURGE_MAGIC);
    AN(p->pending > 0);
    if (--p->pending > 0)
        return;
    p->done(p->arg);
    for (i = 0; i < p->ntags; i++)
        free(p->tags[i]);
    free(p->tags);
    FREE_OBJ(p);
}

/* Take every queued purge, merge their tags, render this round's requests. */
static void
node_start_round(struct node *n)
{
    const char *const *tags;
    size_t i, j, ntags;

    AZ(n->nround);
    n->round = n->queue;
    n->nround = n->qlen;
    n->queue = NULL;
    n->qlen = n->qcap = 0;
    tagset_clear(n->merge);
    for (i = 0; i < n->nround; i++)
        for (j = 0; j < n->round[i]->ntags; j++)
            tagset_add(n->merge, n->round[i]->tags[j], strlen(n->round[i]->tags[j]));
    tags = tagset_sorted(n->merge, &ntags);
    reqlist_free(&n->reqs);
    sink_render(n->sink, n->url, tags, ntags, &n->reqs);
    n->cur = 0;
    n->attempts = 0;
}

static void
node_round_done(struct node *n)
{
    struct purge **round = n->round;
    size_t i, nround = n->nround;

    n->round = NULL;
    n->nround = 0;
    n->state = NODE_IDLE;
    stats.purges_acked += nround;
    for (i = 0; i < nround; i++)
        purge_release(round[i]);
    free(round);
    if (n->qlen > 0) {
        node_start_round(n);
        node_send(n);
    }
}

static long
backoff_ms(const struct fanout *f, unsigned attempts)
{
    long d = f->cfg.retry_initial_ms;
    unsigned i;

    for (i = 1; i < attempts && d < f->cfg.retry_max_ms; i++)
        d *= 2;
    if (d > f->cfg.retry_max_ms)
        d = f->cfg.retry_max_ms;
    /* Full jitter on the upper half: spreads retries of many nodes apart. */
    return (d / 2 + (long)(random() % (d / 2 + 1)));
}

static void
backoff_cb(uv_timer_t *t)
{
    struct node *n;

    CAST_OBJ_NOTNULL(n, t->data, NODE_MAGIC);
    AN(n->state == NODE_BACKOFF);
    node_send(n);
}

static void
node_failed(struct node *n, const char *why)
{
    long d;

    n->attempts++;
    stats.purge_retries++;
    d = backoff_ms(n->f, n->attempts);
    log_warn("sink %s: node %s: purge failed: %s (attempt %u, retry in %ld ms)", sink_name(n->sink),
             n->url, why, n->attempts, d);
    n->state = NODE_BACKOFF;
    AZ(uv_timer_start(&n->backoff, backoff_cb, (uint64_t)d, 0));
}

static void
xfer_done(void *arg, long status, long retry_after_s, const char *err, const char *body)
{
    struct node *n;
    char why[512];

    (void)retry_after_s;
    CAST_OBJ_NOTNULL(n, arg, NODE_MAGIC);
    AN(n->state == NODE_SENDING);
    stats.purge_requests++;
    if (status >= 200 && status < 300) {
        if (n->attempts > 0)
            log_info("sink %s: node %s: delivered after %u failed attempts", sink_name(n->sink),
                     n->url, n->attempts);
        n->attempts = 0;
        if (++n->cur == n->reqs.n)
            node_round_done(n);
        else
            node_send(n);
        return;
    }
    stats.purge_failures++;
    if (status != 0)
        snprintf(why, sizeof why, "HTTP %ld %.*s", status, (int)strcspn(body, "\r\n"), body);
    else
        snprintf(why, sizeof why, "%s", err ? err : "unknown error");
    node_failed(n, why);
}

static void
node_send(struct node *n)
{
    if (n->cur == n->reqs.n) { /* nothing to send: an empty round */
        node_round_done(n);
        return;
    }
    const struct sink_opts *so = sink_opts(n->sink);
    struct http_opts o = {n->f->cfg.timeout_ms, so->ca_file, so->client_cert, so->client_key,
                          so->tls_verify};
    n->state = NODE_SENDING;
    if (http_xfer_start(n->xfer, n->url, &n->reqs.v[n->cur], &o, xfer_done, n) != 0)
        node_failed(n, "could not start the request");
}

static void
node_enqueue(struct node *n, struct purge *p)
{
    if (n->qlen == n->qcap) {
        n->qcap = n->qcap ? 2 * n->qcap : 16;
        n->queue = tp_realloc(n->queue, n->qcap * sizeof *n->queue);
    }
    n->queue[n->qlen++] = p;
    if (n->state == NODE_IDLE) {
        node_start_round(n);
        node_send(n);
    }
}

int
fanout_new(struct fanout **fp, uv_loop_t *loop, struct sink *const *sinks, size_t nsinks,
           const struct delivery_cfg *cfg)
{
    struct fanout *f;
    size_t i, j, k = 0;

    ALLOC_OBJ(f, FANOUT_MAGIC);
    f->loop = loop;
    f->cfg = *cfg;
    if (http_new(&f->http, loop) != 0) {
        FREE_OBJ(f);
        return (-1);
    }
    for (i = 0; i < nsinks; i++)
        f->nnodes += sink_nnodes(sinks[i]);
    f->nodes = tp_calloc(f->nnodes, sizeof *f->nodes);
    for (i = 0; i < nsinks; i++)
        for (j = 0; j < sink_nnodes(sinks[i]); j++, k++) {
            struct node *n = &f->nodes[k];
            n->magic = NODE_MAGIC;
            n->f = f;
            n->sink = sinks[i];
            n->url = sink_node(sinks[i], j);
            n->xfer = http_xfer_new(f->http);
            n->merge = tagset_new();
            AZ(uv_timer_init(loop, &n->backoff));
            n->backoff.data = n;
        }
    *fp = f;
    return (0);
}

size_t
fanout_nnodes(const struct fanout *f)
{
    CHECK_OBJ_NOTNULL(f, FANOUT_MAGIC);
    return (f->nnodes);
}

void
fanout_submit(struct fanout *f, const char *const *tags, size_t n, void (*done)(void *), void *arg)
{
    struct purge *p;
    size_t i;

    CHECK_OBJ_NOTNULL(f, FANOUT_MAGIC);
    if (f->nnodes == 0) {
        done(arg);
        return;
    }
    ALLOC_OBJ(p, PURGE_MAGIC);
    p->tags = tp_calloc(n, sizeof *p->tags);
    for (i = 0; i < n; i++)
        p->tags[i] = tp_strdup(tags[i]);
    p->ntags = n;
    p->done = done;
    p->arg = arg;
    p->pending = (unsigned)f->nnodes;
    for (i = 0; i < f->nnodes; i++)
        node_enqueue(&f->nodes[i], p);
}

static void
http_closed(void *arg)
{
    struct fanout *f;
    void (*done)(void *);
    void *darg;

    CAST_OBJ_NOTNULL(f, arg, FANOUT_MAGIC);
    done = f->closed;
    darg = f->closed_arg;
    free(f->nodes);
    FREE_OBJ(f);
    if (done != NULL)
        done(darg);
}

static void
timer_closed(uv_handle_t *h)
{
    struct node *n;
    struct fanout *f;

    CAST_OBJ_NOTNULL(n, h->data, NODE_MAGIC);
    f = n->f;
    if (--f->open_timers == 0)
        http_close(f->http, http_closed, f);
}

/* Free a purge without calling done(): it stays unconfirmed. */
static void
purge_drop(struct purge *p)
{
    size_t i;

    CHECK_OBJ_NOTNULL(p, PURGE_MAGIC);
    if (--p->pending > 0)
        return;
    for (i = 0; i < p->ntags; i++)
        free(p->tags[i]);
    free(p->tags);
    FREE_OBJ(p);
}

void
fanout_close(struct fanout *f, void (*done)(void *), void *arg)
{
    size_t i, j;

    CHECK_OBJ_NOTNULL(f, FANOUT_MAGIC);
    f->closed = done;
    f->closed_arg = arg;
    if (f->nnodes == 0) {
        http_close(f->http, http_closed, f);
        return;
    }
    for (i = 0; i < f->nnodes; i++) {
        struct node *n = &f->nodes[i];
        http_xfer_destroy(&n->xfer);
        for (j = 0; j < n->nround; j++)
            purge_drop(n->round[j]);
        for (j = 0; j < n->qlen; j++)
            purge_drop(n->queue[j]);
        free(n->round);
        free(n->queue);
        reqlist_free(&n->reqs);
        tagset_destroy(&n->merge);
        uv_timer_stop(&n->backoff);
        f->open_timers++;
        uv_close((uv_handle_t *)&n->backoff, timer_closed);
    }
}
