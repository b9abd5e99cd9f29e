/*
 * Fan-out: every purge to every node of every sink, at least once.
 *
 * Each node has its own FIFO of purges and its own state machine, so a slow
 * or dead node never delays the others.  When a node is free it takes every
 * purge queued for it, merges their tags (deduplicated: a hot tag is sent
 * once however many transactions touched it), renders them through its sink
 * into requests split on tag boundaries, and sends them one after another on
 * a persistent connection.  A failed request (non-2xx, timeout, refused) is
 * retried with exponential backoff and jitter until it succeeds.
 *
 * A purge's done() runs exactly once, on the loop thread, when every node
 * acknowledged it; that is what lets the checkpoint move.  Nothing is
 * confirmed for a purge still queued when the fan-out is closed: a restart
 * replays it from the source.
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

/* Sinks are borrowed and must outlive the fan-out. */
int fanout_new(struct fanout **, uv_loop_t *, struct sink *const *sinks, size_t nsinks,
               const struct delivery_cfg *);
size_t fanout_nnodes(const struct fanout *);
/*
 * Deliver tags[0..n) (sorted, distinct; copied) to every node.  done(arg)
 * runs once every node acknowledged; with no nodes, before this returns.
 */
void fanout_submit(struct fanout *, const char *const *tags, size_t n, void (*done)(void *),
                   void *arg);
/* Stop sending, drop queued purges unconfirmed, close handles; then done(arg). */
void fanout_close(struct fanout *, void (*done)(void *), void *arg);

#endif
