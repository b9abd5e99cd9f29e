/*
 * Process-wide counters, declared once in the table below (Varnish VSC
 * style): the struct, the log dump and later /metrics all come from it.
 * Touched on the loop thread only.
 */
#ifndef TP_STATS_H
#define TP_STATS_H

#include <stdint.h>

#define TP_COUNTERS(C)                                                                             \
    C(changes, "Row changes read from sources")                                                    \
    C(changes_mapped, "Row changes of mapped tables")                                              \
    C(txns, "Transactions committed")                                                              \
    C(txns_collapsed, "Transactions past max_txn_tags, collapsed to fallback tags")                \
    C(tags_emitted, "Tags emitted (after per-transaction deduplication)")                          \
    C(fallback_purges, "Changes that purged fallback tags (value missing, TRUNCATE, oversize)")    \
    C(fallback_missing, "Changes that needed fallback tags but the entry has none")                \
    C(updates_ignored, "UPDATEs of ignore_columns only (nothing purged)")                          \
    C(statement_events, "Statement-format events on mapped tables (fallback tags purged)")         \
    C(batches, "Batches submitted to the fan-out")                                                 \
    C(purges_acked, "Batch acknowledgements by nodes")                                             \
    C(purge_requests, "HTTP purge requests completed")                                             \
    C(purge_failures, "HTTP purge requests that failed")                                           \
    C(purge_retries, "Retries scheduled")                                                          \
    C(retry_after_waits, "Retries delayed by a Retry-After answer (429/503)")                      \
    C(rate_waits, "Requests held back by a sink's rate limit")                                     \
    C(escalations, "Node backlogs replaced by one broad purge (max_pending_tags, node down)")      \
    C(flushes, "Broad purges acknowledged after a node was down or escalated with flush")          \
    C(nodes_down, "Nodes marked down (unreachable past flush_after_down_s)")                       \
    C(node_drops, "Nodes removed (reload, discovery) with their pending purges released")          \
    C(rebound_purges, "Rebound purges (second pass after rebound_ms)")                             \
    C(checkpoints, "Checkpoint advances confirmed to sources")                                     \
    C(gaps, "Source continuity lost (slot, server, binlog): broad purges emitted")                 \
    C(cascade_purges, "Foreign-key cascades purged for child tables (MySQL/MariaDB)")              \
    C(dirty_releases, "Purges a dirty node no longer holds (down past flush_after_down_s)")

struct tp_stats {
#define TP_STATS_FIELD(name, doc) uint64_t name;
    TP_COUNTERS(TP_STATS_FIELD)
#undef TP_STATS_FIELD
};

extern struct tp_stats stats;

/* One "name=value" line of every counter at info level. */
void stats_log(void);
/* Every counter as a Prometheus counter "tagpurge_<name>_total". */
struct sbuf;
void stats_metrics(struct sbuf *out);

#endif
