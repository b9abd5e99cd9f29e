/*
 * The pipeline: sources -> per-transaction tag sets -> coalesced batches ->
 * fan-out, and the checkpoint that follows acknowledgements.
 *
 * Invariants (README "Delivery guarantees"):
 *  - nothing is purged before its transaction commits; an aborted or
 *    incomplete transaction purges nothing;
 *  - tags are deduplicated per transaction, then per batch (transactions
 *    committed within coalesce_ms);
 *  - each source keeps its committed transactions in commit order; the
 *    position confirmed to the source is the end of the newest transaction
 *    that, with every older one, was acknowledged by every node.  Never more.
 *
 * Owns the fan-out and one state per source; borrows the config, which must
 * outlive it.  Loop thread only.
 */
#ifndef TP_PIPELINE_H
#define TP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct config;
struct pipeline;

int pipeline_new(struct pipeline **, uv_loop_t *, const struct config *);
/* Start every source.  0, or -1 when a source could not even be started. */
int pipeline_start(struct pipeline *);
/*
 * Apply a reloaded configuration (SIGHUP): its sinks and delivery settings,
 * and its mapping when that differs (each source switches at its next
 * transaction; the pipeline takes its own reference).  The sinks of cfg are
 * borrowed from now on: cfg must outlive the pipeline or the next reload.
 * Sources, state_dir, max_txn_tags and listen stay as started (logged).
 */
void pipeline_reload(struct pipeline *, const struct config *cfg);
/*
 * SIGTERM: take no new transactions, send the open batch, and call done(arg)
 * once everything read is purged everywhere (the checkpoint confirmed), or
 * after timeout_ms with the rest left for replay.  Then pipeline_stop().
 */
void pipeline_drain(struct pipeline *, long timeout_ms, void (*done)(void *), void *arg);
/*
 * fn(arg) runs on the loop each time a source reports that it starts or stops
 * streaming, after pipeline_status() counts the change.  arg is borrowed.
 */
void pipeline_on_state(struct pipeline *, void (*fn)(void *arg), void *arg);

/* A snapshot for status lines (sd_notify STATUS=, logs). */
struct pipeline_status {
    size_t nsources;
    size_t nstreaming; /* sources streaming now */
    size_t nnodes;     /* sink nodes known now; 0 once stopping */
    size_t pending;    /* committed transactions not yet confirmed to their source */
};
void pipeline_status(const struct pipeline *, struct pipeline_status *);

/* Stop sources and delivery; done(arg) once every handle is closed. */
void pipeline_stop(struct pipeline *, void (*done)(void *), void *arg);
void pipeline_destroy(struct pipeline **);

/*
 * For /metrics and /readyz (broker/metrics.c renders them); loop thread only.
 * One source as they see it, a snapshot taken for the callback; name is
 * borrowed for the callback.
 */
struct source_info {
    const char *name;
    int streaming;
    uint64_t changes, txns, tags, fallbacks, checkpoints;
    uint64_t released_bytes, released_txns; /* confirmed while a node was dirty */
    size_t pending;                         /* committed transactions not yet confirmed */
    double lag_s;           /* age of the oldest commit not purged everywhere; 0: none */
    int64_t last_commit_us; /* commit time of the newest transaction read; 0: none */
    int has_lag_bytes;      /* the server's log end and the checkpoint are both known */
    uint64_t lag_bytes;     /* server log end minus the checkpoint (PostgreSQL: WAL bytes) */
    int has_position;       /* a position was confirmed to the source */
    char position[512];     /* it, as the connector formats it */
};
/* cb(arg, info) for every source, in configuration order. */
void pipeline_foreach_source(const struct pipeline *,
                             void (*cb)(void *arg, const struct source_info *), void *arg);
/* fanout_foreach_node() of the pipeline's fan-out (none once stopped). */
struct node_info;
void pipeline_foreach_node(const struct pipeline *, void (*cb)(void *arg, const struct node_info *),
                           void *arg);
int pipeline_has_fanout(const struct pipeline *);
/* The delivery latency histogram, commit -> every node acknowledged (seconds). */
struct pipeline_latency {
    const double *bounds;    /* upper bounds, ascending */
    size_t nbounds;          /* buckets has nbounds + 1 entries: the last is +Inf */
    const uint64_t *buckets; /* per bucket, not cumulative; borrowed for the call's caller */
    uint64_t count;
    double sum;
};
void pipeline_latency(const struct pipeline *, struct pipeline_latency *out);

/* For the status server (broker/status.c); loop thread only. */
struct waiter;
/*
 * Call answer(arg, status, json) once source has confirmed pos (200), on
 * timeout (408), or at once for an unknown source (404) or position (400).
 * Returns the pending wait (cancel it if the client goes away), or NULL when
 * answered already.  Pending waits are answered 503 when the pipeline stops.
 */
struct waiter *pipeline_wait(struct pipeline *, const char *source, const char *pos,
                             long timeout_ms, void (*answer)(void *, int, const char *), void *arg);
void pipeline_wait_cancel(struct waiter *);

#endif
