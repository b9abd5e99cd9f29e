/*
 * The connector interface: a source of committed row changes.
 *
 * A connector is a const table of function pointers registered by name in
 * connectors/connector.c.  The core (broker/pipeline.c) drives it; adding a
 * connector never touches the pipeline.
 *
 * Threading: every callback in struct conn_core is called on the loop thread,
 * except mapping(), which any thread may call.  A connector whose client
 * library blocks keeps its thread private and hands changes to the loop
 * itself (see the MySQL connector).
 *
 * Mapping: a connector holds a reference to the tagmap it decodes with and
 * asks mapping() at each transaction start whether a reload (SIGHUP) replaced
 * it, so a new mapping applies from a transaction boundary on and a
 * transaction never mixes two.
 *
 * Positions: struct src_pos is a value type.  The connector fills it and the
 * core hands the same bytes back in confirm(); only the connector interprets
 * it.  The core calls confirm(pos) only when the transaction ending at pos and
 * every earlier one has been acknowledged by every node of every sink.
 */
#ifndef TP_CONNECTOR_H
#define TP_CONNECTOR_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "../broker/change.h"

struct cfg_ctx;
struct tagmap;
struct txn;

struct src_pos {
    uint64_t lsn;   /* PostgreSQL: COMMIT end_lsn; others: connector-defined */
    uint64_t off;   /* connector-defined (binlog offset) */
    char name[128]; /* connector-defined (binlog file) */
    char gtid[256]; /* connector-defined (GTID state at this position) */
};

/* What the core offers a running connector.  All calls on the loop thread. */
struct conn_core {
    void *arg;
    /*
     * NULL when have is still the current mapping (one atomic load), else a
     * new reference to the current one, which the caller owns (tagmap_unref).
     * have may be NULL (no map yet).  Any thread.
     */
    struct tagmap *(*mapping)(void *arg, const struct tagmap *have);
    /* A table's column list became known (or changed); mapped tables only. */
    void (*relation)(void *arg, const char *table, const char *const *cols, size_t ncols);
    void (*begin)(void *arg);
    /* The change is borrowed for the duration of the call. */
    void (*change)(void *arg, const struct change *);
    /*
     * The open transaction touched table (NULL: possibly any mapped table) in a
     * way that cannot be decoded into rows: purge its fallback tags at commit.
     */
    void (*broaden)(void *arg, const char *table);
    /* Commit at pos; commit_us is the commit time (µs since the Unix epoch, 0 if unknown). */
    void (*commit)(void *arg, const struct src_pos *pos, int64_t commit_us);
    /*
     * A whole transaction decoded off the loop (by a connector's reader thread):
     * the core takes ownership of t (see broker/txn.h).
     */
    void (*commit_txn)(void *arg, const struct src_pos *pos, int64_t commit_us, struct txn *t);
    /* An open transaction will never commit here (disconnect mid-transaction). */
    void (*abort)(void *arg);
    /* 1 when every committed transaction has been confirmed. */
    int (*drained)(void *arg);
    /* The connector is streaming (1) or not (0); for logs and readiness. */
    void (*state)(void *arg, int streaming);
    /* Optional: how far the server's log is (PostgreSQL: its WAL end), for lag metrics. */
    void (*server_pos)(void *arg, const struct src_pos *);
};

/* What a connector gets at start besides its own config; borrowed. */
struct conn_env {
    const char *state_dir; /* for connector state files (created if missing) */
    size_t max_txn_tags;
};

struct connector_impl {
    const char *name; /* the "type" in a source's config */
    /* Validate type-specific keys; obj is the source's JSON object.  May keep borrowed
     * pointers into obj only after json_incref()ing it. */
    int (*configure)(void **priv, const char *srcname, const json_t *obj, struct cfg_ctx *);
    /* Begin streaming.  core and env are borrowed for the life of the connector. */
    int (*start)(void *priv, uv_loop_t *, const struct conn_core *, const struct conn_env *);
    /*
     * Optional, loop thread: a reload replaced the mapping.  A connector whose
     * server-side set-up depends on the mapped tables (a publication, replica
     * identity checks) redoes it here; others just pick the new map up at the
     * next transaction through core->mapping().
     */
    void (*remapped)(void *priv);
    /* Everything up to and including pos is delivered; persist/report it. */
    void (*confirm)(void *priv, const struct src_pos *);
    /* Stop reading and close handles; done(arg) runs when all handles are closed. */
    void (*stop)(void *priv, void (*done)(void *), void *arg);
    void (*destroy)(void *priv);
    /*
     * Optional, for `tagpurge check --online`: connect (blocking), report each
     * problem with its fix on stderr, return how many; -1 when unreachable.
     * The tagmap and env (state_dir: compare state files) are borrowed for the call.
     */
    int (*check_online)(void *priv, const struct tagmap *, const struct conn_env *);
    /* Human-readable position for logs: "0/1957B58", "binlog.000002:1234". */
    void (*format_pos)(const struct src_pos *, char *buf, size_t len);
    /*
     * For /v1/wait: 1 when confirmed is at or past want (a position as the
     * application reads it from its server: an LSN, "file:pos", a GTID),
     * 0 when not yet, -1 when want cannot be parsed.
     */
    int (*pos_reached)(const struct src_pos *confirmed, const char *want);
};

const struct connector_impl *connector_find(const char *type);
/* "postgres, mysql" for messages. */
const char *connector_names(void);

/*
 * A source's "gap_tags": literal tags a gap's broad purge adds (e.g. one tag
 * every page carries), checked like mapping literals.  *tags is
 * NULL-terminated and owned by the caller (conn_gap_tags_free), also after
 * an error.  0, or -1 after reporting the error.
 */
int conn_gap_tags_cfg(struct cfg_ctx *, const json_t *obj, char ***tags, size_t *n);
void conn_gap_tags_free(char ***tags, size_t *n);

#endif
