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

/* For the status server (broker/status.c); loop thread only. */
struct sbuf;
struct waiter;
/* Prometheus text of every counter and gauge, appended to out. */
void pipeline_metrics(const struct pipeline *, struct sbuf *out);
/* 1 when every source streams and no node is failing; else 0 with JSON strings in why. */
int pipeline_ready(const struct pipeline *, struct sbuf *why);
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
