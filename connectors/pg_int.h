/*
 * The PostgreSQL connector's private structs, shared by its three files
 * (the model is Varnish's cache_ban.h):
 *   conn_postgres.c  configuration, the connection, the COPY BOTH stream,
 *                    status updates and the state file (the loop side);
 *   pg_setup.c       the set-up step machine of each connect (wal_level,
 *                    IDENTIFY_SYSTEM, tables, publication, slot) and the gap
 *                    decision, plus the pure SQL builders and result readers;
 *   pg_check.c       `check --online`: its own blocking queries on those
 *                    builders and readers; the set-up never asks "am I checking".
 * Everything runs on the loop thread (check --online: the main thread, no loop).
 */
#ifndef TP_PG_INT_H
#define TP_PG_INT_H

#include <libpq-fe.h>
#include <stdint.h>
#include <uv.h>

#include "../broker/lib/sbuf.h"
#include "connector.h"
#include "pgrel.h"
#include "pgstate.h"

enum pg_state { PG_WAIT, PG_CONNECTING, PG_SETUP, PG_STREAMING, PG_STOPPED };

struct pg_poll {
    unsigned magic;
#define PG_POLL_MAGIC 0x0f00a11e
    uv_poll_t h;
    struct pg *pg;
    int fd;
};

struct pg;
typedef int pg_step_f(struct pg *, PGresult *);

struct pg {
    unsigned magic;
#define PG_MAGIC 0x9e57c0aa
    /* configuration */
    char *name;
    char *conninfo;
    char *password_env, *password_file;
    char *slot, *publication;
    int create;
    long status_interval_ms;
    char **gap_tags; /* literal tags a gap purges too */
    size_t ngap_tags;
    int problems; /* `check --online` only (pg_check.c): what it found */
    /* runtime */
    uv_loop_t *loop;
    struct tagmap *map; /* a reference; refreshed from core->mapping() at each connect */
    const struct conn_core *core;
    enum pg_state state;
    PGconn *conn;
    struct pg_poll *poll;
    uv_timer_t timer; /* reconnect backoff, or status interval */
    unsigned failures;
    int step;
    pg_step_f *step_fn;
    PGresult *step_res;
    struct pgo_decoder *dec;
    struct pgrels rels; /* relations of this session, and the row scratch */
    int in_txn;
    uint64_t written; /* highest commit end_lsn received */
    uint64_t flushed; /* what we may confirm */
    uint64_t sent_flush;
    char *password;
    /* the server and slot as the set-up steps found them (loop thread) */
    char systemid[32];
    unsigned timeline;
    int slot_exists, slot_lost;
    uint64_t slot_lsn;   /* confirmed_flush_lsn, or the new slot's consistent point */
    int have;            /* statefile_read() of this connect: 1, 0 none, -1 unreadable */
    struct pgstate seen; /* the file as read at this connect */
    char gap[256];       /* the gap found at this connect ("" none) */
    int gap_logged;      /* GAP logged, its purge not yet handed over */
    /* the state file (loop thread) */
    char *state_path;
    size_t max_txn_tags;
    struct pgstate rec; /* the slot being streamed; written when confirmed */
    uint64_t recorded;  /* the LSN the file holds for that slot: what status updates send */
    uint64_t epoch;     /* slot incarnation; src_pos.off of its transactions */
    int gap_pending;    /* the broad purge of epoch is not confirmed: the file keeps the old */
    int dirty;
    uv_timer_t state_timer;
    unsigned open_handles;
    void (*stopped)(void *);
    void *stopped_arg;
};

/* conn_postgres.c */
void pg_schedule_reconnect(struct pg *, const char *why);
int pg_flush(struct pg *);
int pg_load_password(struct pg *);
void pg_conn_params(const struct pg *, int replication, const char **keys, const char **vals);
int pg_state_path(struct pg *, const char *state_dir, int create);
int pg_state_write(struct pg *, const struct pgstate *);
int pg_state_read(struct pg *);
void pg_streaming_begin(struct pg *);

/* pg_setup.c: the step machine (loop thread) */
void pg_run_step(struct pg *);
void pg_setup_input(struct pg *);

/* pg_setup.c: pure builders and readers, also used by pg_check.c */
int pg_res_ok(struct pg *, PGresult *, const char *what);
char *pg_sql_tables(struct pg *);
char *pg_sql_pub(struct pg *);
char *pg_sql_slot(struct pg *);
int pg_wal_level_res(struct pg *, PGresult *);
int pg_identify_res(struct pg *, PGresult *);
int pg_tables_res(struct pg *, PGresult *);
int pg_pub_res(struct pg *, PGresult *, int *exists, struct sbuf *sql);
void pg_pub_missing(struct pg *, int exists, const char *sql);
int pg_slot_res(struct pg *, PGresult *);
int pg_slot_sql(struct pg *);
void pg_facts(const struct pg *, struct pgfacts *);

/* pg_check.c */
int pg_check_online(void *priv, const struct tagmap *map, const struct conn_env *env);

#endif
