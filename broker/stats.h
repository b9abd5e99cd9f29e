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
    C(checkpoints, "Checkpoint advances confirmed to sources")

struct tp_stats {
#define TP_STATS_FIELD(name, doc) uint64_t name;
    TP_COUNTERS(TP_STATS_FIELD)
#undef TP_STATS_FIELD
};

extern struct tp_stats stats;

/* One "name=value" line of every counter at info level. */
void stats_log(void);

#endif
