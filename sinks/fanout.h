/*
 * Fan-out: every purge to every node of every sink, at least once, or a
 * broader purge that covers it.  README "Delivery guarantees" is the user's
 * version of this comment.
 *
 * Each node has its own FIFO and state machine (fanout.c), so a slow or dead
 * node never delays the others.  When a node is free it takes every purge
 * queued for it, merges their tags (a hot tag is sent once however many
 * transactions touched it), renders them through its sink into requests split
 * on tag boundaries, and sends them one after another on a kept-alive
 * connection, retrying with backoff until acknowledged.  A node's queue is
 * bounded by max_pending_tags: past it the backlog is replaced by one broad
 * purge (the transactions' fallback tags, or the sink's "flush").
 *
 * Sinks with "after" get a purge only once every node of the named sink
 * acknowledged it (plus after_delay_ms).  With rebound_ms, a purge acknowledged
 * everywhere is sent once more after that delay.
 *
 * A purge's done() runs exactly once, on the loop thread, when every node of
 * every sink acknowledged it (rebound included), or covered it with an
 * acknowledged broad purge, or was removed from the configuration, or is
 * down with its dirty mark written (fanout_new).  That is
 * what lets the checkpoint move.  Nothing is confirmed for a purge still
 * pending when the fan-out is closed: a restart replays it from the source.
 */
#ifndef TP_FANOUT_H
#define TP_FANOUT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct sink;
struct fanout;

struct delivery_cfg {
    long coalesce_ms;
    long retry_initial_ms;
    long retry_max_ms;
    long timeout_ms;
    long max_pending_tags;    /* per node, before its backlog escalates */
    long flush_after_down_s;  /* 0: never */
    long rebound_ms;          /* 0: no rebound purge */
    long discover_interval_s; /* dns:// nodes are re-resolved this often */
    char hosts_file[256];     /* "": dns:// names through the system resolver */
};

/*
 * Sinks are borrowed and must outlive the fan-out, or the next
 * fanout_reconfigure().  dns:// nodes are resolved from here on.
 *
 * state_dir (borrowed, read here only): where the dirty-node marks live
 * (<state_dir>/dirty.json, sinks/dirty.h).  Marks are loaded now: a node
 * named there starts dirty.  With it, a node that is down releases what it
 * owed once its mark is written (done() runs for it), so a dead node holds
 * the checkpoint for flush_after_down_s at most.  NULL (replay --send): no
 * marks, a down node holds its purges until it is back.  -1 when the mark
 * file cannot be read (logged).
 */
int fanout_new(struct fanout **, uv_loop_t *, struct sink *const *sinks, size_t nsinks,
               const struct delivery_cfg *, const char *state_dir);
/* Nodes known now (dns:// names count the addresses resolved so far). */
size_t fanout_nnodes(const struct fanout *);
/* One node as /metrics and /readyz see it; strings borrowed for the callback. */
struct node_code {
    long code; /* HTTP status; 0: no answer (refused, timeout, TLS) */
    uint64_t n;
};
struct node_info {
    const char *sink, *url, *state;
    int failing;             /* its last request failed */
    int dirty;               /* its next request must be the broad purge (it was down, or marked) */
    uint64_t dirty_releases; /* purges it released while dirty */
    size_t pending_tags, pending_purges;
    uint64_t retries, escalations;
    const struct node_code *codes;
    size_t ncodes;
};
void fanout_foreach_node(const struct fanout *, void (*cb)(void *arg, const struct node_info *),
                         void *arg);

/* Nodes that are dirty now: down past flush_after_down_s, or marked in dirty.json. */
size_t fanout_ndirty(const struct fanout *);
/* 1 when the configuration names no node at all (not even a dns:// one). */
int fanout_empty(const struct fanout *);

/* What one purge is: its tags, and the broad tags that cover it. */
struct purge_tags {
    const char *const *tags; /* sorted, distinct */
    size_t n;
    const char *const *broad; /* the fallback tags of its tables; nbroad 0: none known */
    size_t nbroad;
    int flush; /* a gap's broad purge: a sink with a "flush" sends the flush instead */
};

/*
 * Deliver t (copied) to every node.  done(arg, 1) runs once, when every node
 * acknowledged it (see above); with no nodes, before this returns.
 */
void fanout_submit(struct fanout *, const struct purge_tags *t, void (*done)(void *, int acked),
                   void *arg);

/*
 * Apply a reloaded configuration: sinks are matched by name, nodes by URL.
 * Kept nodes keep their queues; new nodes get purges submitted from now on;
 * removed nodes and sinks are dropped, releasing what they still owed.  The
 * previous sinks may be freed when this returns.
 */
void fanout_reconfigure(struct fanout *, struct sink *const *sinks, size_t nsinks,
                        const struct delivery_cfg *);
/*
 * Stop sending and close handles; every purge still pending gets done(arg, 0)
 * (not acknowledged: its owner frees it and confirms nothing); then done(arg).
 */
void fanout_close(struct fanout *, void (*done)(void *), void *arg);

#endif
