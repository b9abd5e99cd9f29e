/*
 * PostgreSQL source: logical replication with pgoutput (protocol 1).  This file owns
 * the connection, the COPY BOTH stream, status updates and the state file; the set-up
 * steps are in pg_setup.c, `check --online` in pg_check.c (structs: pg_int.h).
 *
 * libpq in non-blocking mode on the libuv loop: a uv_poll_t on PQsocket()
 * drives connection, the set-up queries and the COPY BOTH stream; a timer
 * sends standby status updates (pg_recvlogical's loop in event-loop form).
 *
 * Life of a connection (enum pg_state):
 *   PG_WAIT       backoff before (re)connecting.   next: CONNECTING
 *   PG_CONNECTING PQconnectPoll.                   next: SETUP, WAIT
 *   PG_SETUP      one set-up query at a time (wal_level, IDENTIFY_SYSTEM,
 *                 tables, publication, slot), the gap decision (and the
 *                 slot's drop or creation), then START_REPLICATION.
 *                                                  next: STREAMING, WAIT
 *   PG_STREAMING  COPY BOTH.                       next: WAIT
 *   PG_STOPPED    after stop().
 *
 * The flush LSN sent to the server is the end_lsn of the last transaction the
 * core confirmed (acknowledged by every node), or, when nothing is pending,
 * the latest keepalive position.  Never more: a restart replays from there.
 *
 * State file (pgstate.h): state_dir/<source>.postgres.json records the
 * server (system identifier, timeline), the slot and the LSN confirmed to it.
 * It is written before the server is told (status updates send only what
 * the file holds), so the slot's confirmed_flush_lsn is never past it and a
 * crash leaves the file behind what every node acknowledged, never ahead.
 *
 * Gaps: decided at every (re)connect by the set-up steps (pg_setup.c).
 * Positions carry the slot incarnation (src_pos.off = epoch): confirms for
 * a slot that is gone are ignored.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../broker/lib/backoff.h"
#include "../broker/lib/cfg.h"
#include "../broker/lib/clock.h"
#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/sbuf.h"
#include "../broker/lib/secret.h"
#include "../broker/lib/statefile.h"
#include "../broker/tagmap.h"
#include "../broker/txn.h"
#include "pg_int.h"
#include "pgoutput.h"

/* State file writes are fsynced: at most one per STATE_MS, then the server is told. */
#define STATE_MS 100

static void pg_state_later(struct pg *);
static void pg_send_status(struct pg *, int reply);
static void pg_state_flush(struct pg *);

/*------------------------------------------------------------------------
 * Configuration
 */

static int
name_ok(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++, n++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return (0);
    return (n > 0 && n < 64);
}

static int
pg_check_conninfo(struct cfg_ctx *ctx, const char *ci)
{
    PQconninfoOption *opts, *o;
    char *err = NULL;
    int rv = 0;

    opts = PQconninfoParse(ci, &err);
    cfg_push_key(ctx, "conninfo");
    if (opts == NULL) {
        /* libpq's message names the problem, never the values. */
        rv = cfg_error(ctx, "invalid conninfo: %s", err ? err : "out of memory");
        if (err != NULL)
            PQfreemem(err);
        goto out;
    }
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "replication") == 0)
            rv = cfg_error(ctx, "do not set replication in conninfo: tagpurge sets it");
        else if (strcmp(o->keyword, "password") == 0)
            cfg_warn(ctx, "conninfo contains a password: use password_env or password_file");
    }
    PQconninfoFree(opts);
out:
    cfg_pop(ctx);
    return (rv);
}

static int
pg_configure(void **privp, const char *srcname, const json_t *obj, struct cfg_ctx *ctx)
{
    static const char *const keys[] = {
        "name", "type",        "conninfo", "password_env",       "password_file",
        "slot", "publication", "create",   "status_interval_ms", "gap_tags",
        NULL};
    const char *ci = NULL, *penv = NULL, *pfile = NULL, *slot = "tagpurge", *pub = "tagpurge";
    long long interval = 10000;
    int create = 0;
    struct pg *pg;

    if (cfg_check_keys(ctx, obj, keys) != 0 || cfg_get_str(ctx, obj, "conninfo", 1, &ci) < 0 ||
        secret_keys(ctx, obj, &penv, &pfile) != 0 || cfg_get_str(ctx, obj, "slot", 0, &slot) < 0 ||
        cfg_get_str(ctx, obj, "publication", 0, &pub) < 0 ||
        cfg_get_bool(ctx, obj, "create", 0, &create) < 0 ||
        cfg_get_int(ctx, obj, "status_interval_ms", 0, 100, 3600000, &interval) < 0)
        return (-1);
    if (!name_ok(slot) || !name_ok(pub)) {
        cfg_push_key(ctx, name_ok(slot) ? "publication" : "slot");
        cfg_error(ctx, "use 1 to 63 lower-case letters, digits or underscores");
        cfg_pop(ctx);
        return (-1);
    }
    if (pg_check_conninfo(ctx, ci) != 0)
        return (-1);
    ALLOC_OBJ(pg, PG_MAGIC);
    pg->name = tp_strdup(srcname);
    pg->conninfo = tp_strdup(ci);
    pg->password_env = penv ? tp_strdup(penv) : NULL;
    pg->password_file = pfile ? tp_strdup(pfile) : NULL;
    pg->slot = tp_strdup(slot);
    pg->publication = tp_strdup(pub);
    pg->create = create;
    pg->status_interval_ms = (long)interval;
    *privp = pg;
    return (conn_gap_tags_cfg(ctx, obj, &pg->gap_tags, &pg->ngap_tags));
}

/* Secrets are read at start, never logged, and never put on a command line. */
int
pg_load_password(struct pg *pg)
{
    return (secret_load(pg->name, pg->password_env, pg->password_file, &pg->password));
}

/*------------------------------------------------------------------------
 * Socket polling
 */

static void
poll_closed(uv_handle_t *h)
{
    struct pg_poll *pp;
    struct pg *pg;

    CAST_OBJ_NOTNULL(pp, h->data, PG_POLL_MAGIC);
    pg = pp->pg;
    FREE_OBJ(pp);
    pg->open_handles--;
    if (pg->state == PG_STOPPED && pg->open_handles == 0 && pg->stopped != NULL)
        pg->stopped(pg->stopped_arg);
}

static void
pg_unpoll(struct pg *pg)
{
    if (pg->poll == NULL)
        return;
    uv_poll_stop(&pg->poll->h);
    uv_close((uv_handle_t *)&pg->poll->h, poll_closed);
    pg->poll = NULL;
}

static void poll_cb(uv_poll_t *, int, int);

/* Watch the libpq socket; it can change while connecting. */
static void
pg_poll_for(struct pg *pg, int events)
{
    int fd = PQsocket(pg->conn);

    if (pg->poll != NULL && pg->poll->fd != fd)
        pg_unpoll(pg);
    if (pg->poll == NULL) {
        ALLOC_OBJ(pg->poll, PG_POLL_MAGIC);
        pg->poll->pg = pg;
        pg->poll->fd = fd;
        AZ(uv_poll_init(pg->loop, &pg->poll->h, fd));
        pg->poll->h.data = pg->poll;
        pg->open_handles++;
    }
    AZ(uv_poll_start(&pg->poll->h, events, poll_cb));
}

static void
pg_disconnect(struct pg *pg)
{
    pg_unpoll(pg);
    if (pg->step_res != NULL) {
        PQclear(pg->step_res);
        pg->step_res = NULL;
    }
    if (pg->conn != NULL) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    if (pg->in_txn) {
        pg->core->abort(pg->core->arg);
        pg->in_txn = 0;
    }
}

/* Sending may leave data in libpq's buffer: wait for writability then. */
int
pg_flush(struct pg *pg)
{
    int r = PQflush(pg->conn);

    if (r < 0)
        return (-1);
    pg_poll_for(pg, UV_READABLE | (r == 1 ? UV_WRITABLE : 0));
    return (0);
}

/*------------------------------------------------------------------------
 * Reconnect and status timers
 */

static void reconnect_cb(uv_timer_t *t);

/*
 * libpq's messages span lines (one per host tried with a multi-host
 * conninfo): one log line, the lines joined by "; ".
 */
static void
one_line(char *out, size_t len, const char *in)
{
    size_t o = 0;

    for (; *in != '\0' && o + 3 < len; in++) {
        if (*in == '\n') {
            while (in[1] == '\t' || in[1] == ' ' || in[1] == '\n')
                in++;
            if (in[1] != '\0') {
                out[o++] = ';';
                out[o++] = ' ';
            }
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

void
pg_schedule_reconnect(struct pg *pg, const char *why)
{
    long d;
    char msg[1024];

    /* why may be PQerrorMessage(pg->conn), which pg_disconnect() frees. */
    one_line(msg, sizeof msg, why);
    why = msg;
    pg_disconnect(pg);
    if (pg->state == PG_STREAMING)
        pg->core->state(pg->core->arg, 0);
    pg->failures++;
    d = backoff_delay(500, 30000, pg->failures);
    log_err("source %s: %s; reconnecting in %ld ms", pg->name, why, d);
    pg->state = PG_WAIT;
    uv_timer_stop(&pg->timer);
    AZ(uv_timer_start(&pg->timer, reconnect_cb, (uint64_t)d, 0));
}

static void
status_cb(uv_timer_t *t)
{
    struct pg *pg;

    CAST_OBJ_NOTNULL(pg, t->data, PG_MAGIC);
    if (pg->state == PG_STREAMING)
        pg_send_status(pg, 0);
}

/* START_REPLICATION answered COPY BOTH: the stream and its status updates run. */
void
pg_streaming_begin(struct pg *pg)
{
    pg->state = PG_STREAMING;
    pg->failures = 0;
    pg->sent_flush = 0;
    pg->core->state(pg->core->arg, 1);
    AZ(uv_timer_start(&pg->timer, status_cb, (uint64_t)pg->status_interval_ms,
                      (uint64_t)pg->status_interval_ms));
}

/*------------------------------------------------------------------------
 * Connecting
 */

/*
 * libpq parameters: the configured conninfo (expanded as "dbname"), the
 * password loaded from its secret, a replication connection or a plain one
 * (`check --online`).  keys/vals need room for 5 entries; borrowed strings.
 */
void
pg_conn_params(const struct pg *pg, int replication, const char **keys, const char **vals)
{
    int n = 0;

    keys[n] = "dbname";
    vals[n++] = pg->conninfo;
    if (replication) {
        keys[n] = "replication";
        vals[n++] = "database";
    }
    keys[n] = "fallback_application_name";
    vals[n++] = replication ? "tagpurge" : "tagpurge-check";
    if (pg->password != NULL) {
        keys[n] = "password";
        vals[n++] = pg->password;
    }
    keys[n] = NULL;
    vals[n] = NULL;
}

/*
 * Take the current mapping.  Only between sessions: the set-up steps check the
 * tables and the publication against it, and the server sends every Relation
 * again in the new session, so no transaction mixes two maps.
 */
static void
pg_take_map(struct pg *pg)
{
    struct tagmap *m = pg->core->mapping(pg->core->arg, pg->map);
    size_t i;

    if (m == NULL)
        return;
    tagmap_unref(&pg->map);
    pg->map = m;
    for (i = 0; i < pg->rels.n; i++)
        pg->rels.v[i].entry = tagmap_lookup(pg->map, pg->rels.v[i].table);
}

static void
pg_connect(struct pg *pg)
{
    const char *keys[5], *vals[5];

    pg_take_map(pg);
    pg_conn_params(pg, 1, keys, vals);
    pg->state = PG_CONNECTING;
    pg->conn = PQconnectStartParams(keys, vals, 1);
    if (pg->conn == NULL || PQstatus(pg->conn) == CONNECTION_BAD) {
        pg_schedule_reconnect(pg, pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        return;
    }
    pg_poll_for(pg, UV_WRITABLE);
}

static void
reconnect_cb(uv_timer_t *t)
{
    struct pg *pg;

    CAST_OBJ_NOTNULL(pg, t->data, PG_MAGIC);
    pg_connect(pg);
}

static void
pg_connect_poll(struct pg *pg)
{
    char why[1024];

    switch (PQconnectPoll(pg->conn)) {
    case PGRES_POLLING_READING:
        pg_poll_for(pg, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        pg_poll_for(pg, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(pg->conn, 1) != 0) {
            pg_schedule_reconnect(pg, "could not make the connection non-blocking");
            break;
        }
        pg->state = PG_SETUP;
        pg->step = 0;
        pg_run_step(pg);
        break;
    default:
        snprintf(why, sizeof why, "could not connect: %s", PQerrorMessage(pg->conn));
        pg_schedule_reconnect(pg, why);
        break;
    }
}

/*------------------------------------------------------------------------
 * Streaming
 */

static int64_t
pg_now_us(void)
{
    return (clock_wall_us() - PGO_EPOCH_OFFSET_US);
}

static void
pg_send_status(struct pg *pg, int reply)
{
    unsigned char buf[34];
    uint64_t write = pg->written > pg->flushed ? pg->written : pg->flushed;

    /* Never past the state file: the slot's confirmed_flush_lsn must not pass it. */

    buf[0] = 'r';
    pgo_put_be64(buf + 1, write);
    pgo_put_be64(buf + 9, pg->recorded);
    pgo_put_be64(buf + 17, pg->recorded);
    pgo_put_be64(buf + 25, (uint64_t)pg_now_us());
    buf[33] = (unsigned char)reply;
    if (PQputCopyData(pg->conn, (const char *)buf, sizeof buf) != 1 || pg_flush(pg) != 0) {
        pg_schedule_reconnect(pg, "could not send a status update");
        return;
    }
    if (pg->recorded != pg->sent_flush)
        log_debug("source %s: confirmed %X/%X to the server", pg->name,
                  (unsigned)(pg->recorded >> 32), (unsigned)pg->recorded);
    pg->sent_flush = pg->recorded;
}

static int
cb_relation(void *arg, const struct pgo_relation *rel)
{
    struct pg *pg = arg;
    struct pgrel *r = pgrels_set(&pg->rels, rel);

    r->entry = tagmap_lookup(pg->map, r->table);
    if (r->entry != NULL)
        pg->core->relation(pg->core->arg, r->table, (const char *const *)r->names, r->ncols);
    return (0);
}

static int
cb_begin(void *arg, uint64_t final_lsn, int64_t ts, uint32_t xid)
{
    struct pg *pg = arg;

    (void)final_lsn;
    (void)ts;
    (void)xid;
    if (pg->in_txn)
        pg->core->abort(pg->core->arg);
    pg->in_txn = 1;
    pg->core->begin(pg->core->arg);
    return (0);
}

static int
cb_commit(void *arg, uint64_t commit_lsn, uint64_t end_lsn, int64_t ts)
{
    struct pg *pg = arg;
    struct src_pos pos;

    (void)commit_lsn;
    if (!pg->in_txn)
        return (-1);
    memset(&pos, 0, sizeof pos);
    pos.lsn = end_lsn;
    pos.off = pg->epoch;
    if (end_lsn > pg->written)
        pg->written = end_lsn;
    pg->in_txn = 0;
    pg->core->commit(pg->core->arg, &pos, ts + PGO_EPOCH_OFFSET_US);
    return (0);
}

static int
cb_change(void *arg, char op, uint32_t relid, char oldkind, const struct pgo_tuple *oldt,
          const struct pgo_tuple *newt)
{
    struct pg *pg = arg;
    struct pgrel *r = pgrels_find(&pg->rels, relid);
    struct change c;

    if (r == NULL || !pg->in_txn)
        return (-1); /* the protocol always sends Relation first */
    pgrels_change(&pg->rels, r, op, oldkind, oldt, newt, &c);
    if (r->entry == NULL)
        c.oldv = c.newv = NULL; /* counted, not mapped */
    pg->core->change(pg->core->arg, &c);
    return (0);
}

static int
cb_truncate(void *arg, const uint32_t *relids, uint32_t n)
{
    struct pg *pg = arg;
    struct change c;
    struct pgrel *r;
    uint32_t i;

    if (!pg->in_txn)
        return (-1);
    for (i = 0; i < n; i++) {
        r = pgrels_find(&pg->rels, relids[i]);
        if (r == NULL)
            return (-1);
        memset(&c, 0, sizeof c);
        c.op = CHG_TRUNCATE;
        c.table = r->table;
        c.colnames = (const char *const *)r->names;
        c.ncols = r->ncols;
        pg->core->change(pg->core->arg, &c);
    }
    return (0);
}

static const struct pgo_callbacks pg_callbacks_tpl = {
    .begin = cb_begin,
    .commit = cb_commit,
    .relation = cb_relation,
    .change = cb_change,
    .truncate = cb_truncate,
};

static void
pg_xlogdata(struct pg *pg, const unsigned char *buf, size_t len)
{
    struct pgo_callbacks cb = pg_callbacks_tpl;

    cb.arg = pg;
    if (len < 25 || pgo_decode(pg->dec, buf + 25, len - 25, &cb) != 0) {
        /*
         * Never silence: a message we cannot decode inside a transaction
         * makes that transaction purge every mapped table's fallback tags.
         */
        log_err("source %s: undecodable pgoutput message (type 0x%02x, %zu bytes): purging "
                "the fallback tags of every mapped table for this transaction",
                pg->name, len > 25 ? buf[25] : 0, len);
        if (pg->in_txn)
            pg->core->broaden(pg->core->arg, NULL);
    }
}

static void
pg_keepalive(struct pg *pg, const unsigned char *buf, size_t len)
{
    uint64_t wal_end;

    if (len < 18)
        return;
    wal_end = pgo_be64(buf + 1);
    /* A quiet slot must not hold WAL forever: with nothing pending, the
     * server's position is safe to confirm. */
    if (!pg->in_txn && !pg->gap_pending && pg->core->drained(pg->core->arg) &&
        wal_end > pg->flushed) {
        pg->flushed = wal_end;
        pg_state_later(pg);
    }
    if (buf[17])
        pg_send_status(pg, 0);
}

/* The server's WAL end, from an XLogData ('w', at 9) or keepalive ('k', at 1) header. */
static void
pg_report_server(struct pg *pg, const unsigned char *buf, size_t len)
{
    struct src_pos sp;

    if (pg->core->server_pos == NULL || (buf[0] != 'w' && buf[0] != 'k') || len < 17)
        return;
    memset(&sp, 0, sizeof sp);
    sp.lsn = pgo_be64(buf + (buf[0] == 'w' ? 9 : 1));
    pg->core->server_pos(pg->core->arg, &sp);
}

static void
pg_stream_input(struct pg *pg)
{
    char *buf;
    int n;

    if (PQconsumeInput(pg->conn) != 1) {
        pg_schedule_reconnect(pg, PQerrorMessage(pg->conn));
        return;
    }
    while (pg->state == PG_STREAMING) {
        n = PQgetCopyData(pg->conn, &buf, 1);
        if (n == 0)
            return;
        if (n < 0) {
            PGresult *res = PQgetResult(pg->conn);
            char why[1024];
            snprintf(why, sizeof why, "replication stream ended: %s",
                     res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
            why[strcspn(why, "\n")] = '\0';
            PQclear(res);
            pg_schedule_reconnect(pg, why);
            return;
        }
        if (buf[0] == 'w')
            pg_xlogdata(pg, (const unsigned char *)buf, (size_t)n);
        else if (buf[0] == 'k')
            pg_keepalive(pg, (const unsigned char *)buf, (size_t)n);
        pg_report_server(pg, (const unsigned char *)buf, (size_t)n);
        PQfreemem(buf);
    }
}

static void
poll_cb(uv_poll_t *h, int status, int events)
{
    struct pg_poll *pp;
    struct pg *pg;

    CAST_OBJ_NOTNULL(pp, h->data, PG_POLL_MAGIC);
    pg = pp->pg;
    if (status < 0 && pg->state != PG_CONNECTING) {
        pg_schedule_reconnect(pg, uv_strerror(status));
        return;
    }
    if ((events & UV_WRITABLE) && pg->state != PG_CONNECTING && pg_flush(pg) != 0) {
        pg_schedule_reconnect(pg, PQerrorMessage(pg->conn));
        return;
    }
    switch (pg->state) {
    case PG_CONNECTING:
        pg_connect_poll(pg);
        break;
    case PG_SETUP:
        if (events & UV_READABLE)
            pg_setup_input(pg);
        break;
    case PG_STREAMING:
        if (events & UV_READABLE)
            pg_stream_input(pg);
        break;
    default:
        break;
    }
}

/*------------------------------------------------------------------------
 * The connector interface
 */

/* Record the confirmed LSN, then tell the server (the file first: see the top). */
static void
pg_state_flush(struct pg *pg)
{
    if (!pg->dirty || pg->gap_pending || pg->state_path == NULL)
        return;
    pg->dirty = 0;
    pg->rec.lsn = pg->flushed;
    pg->rec.gap[0] = '\0';
    if (pg_state_write(pg, &pg->rec) != 0)
        return; /* the server keeps the older position: replayed, never skipped */
    pg->recorded = pg->flushed;
    if (pg->state == PG_STREAMING)
        pg_send_status(pg, 0);
}

static void
state_timer_cb(uv_timer_t *t)
{
    struct pg *pg;

    CAST_OBJ_NOTNULL(pg, t->data, PG_MAGIC);
    pg_state_flush(pg);
}

static void
pg_state_later(struct pg *pg)
{
    pg->dirty = 1;
    if (!uv_is_active((uv_handle_t *)&pg->state_timer))
        AZ(uv_timer_start(&pg->state_timer, state_timer_cb, STATE_MS, 0));
}

int
pg_state_write(struct pg *pg, const struct pgstate *st)
{
    json_t *o = pgstate_json(st);
    int rv = o != NULL ? statefile_write(pg->state_path, o) : -1;

    json_decref(o);
    if (rv != 0)
        log_err("source %s: cannot write the state file %s: %s", pg->name, pg->state_path,
                strerror(errno));
    return (rv);
}

/* pg->have and pg->seen from the file; 1, 0 (none) or -1 (unreadable). */
int
pg_state_read(struct pg *pg)
{
    json_t *o = NULL;

    memset(&pg->seen, 0, sizeof pg->seen);
    pg->have = statefile_read(pg->state_path, &o);
    if (pg->have > 0 && pgstate_parse(o, &pg->seen) != 0)
        pg->have = -1;
    json_decref(o);
    return (pg->have);
}

/* state_dir/<source>.postgres.json; state_dir is created if missing (create). */
int
pg_state_path(struct pg *pg, const char *state_dir, int create)
{
    if (create && statefile_dir(state_dir) != 0) {
        log_err("source %s: cannot create state_dir %s: %s", pg->name, state_dir, strerror(errno));
        return (-1);
    }
    free(pg->state_path);
    pg->state_path = statefile_path(state_dir, pg->name, ".postgres.json");
    return (0);
}

static int
pg_start(void *priv, uv_loop_t *loop, const struct conn_core *core, const struct conn_env *env)
{
    struct pg *pg;

    CAST_OBJ_NOTNULL(pg, priv, PG_MAGIC);
    if (pg_load_password(pg) != 0 || pg_state_path(pg, env->state_dir, 1) != 0)
        return (-1); /* before pg->loop is set: stop() then has nothing to close */
    pg->loop = loop;
    pg->core = core;
    pg->max_txn_tags = env->max_txn_tags;
    pg->dec = pgo_new();
    AZ(uv_timer_init(loop, &pg->timer));
    pg->timer.data = pg;
    AZ(uv_timer_init(loop, &pg->state_timer));
    pg->state_timer.data = pg;
    pg->open_handles += 2;
    pg_connect(pg);
    return (0);
}

static void
pg_confirm(void *priv, const struct src_pos *pos)
{
    struct pg *pg;

    CAST_OBJ_NOTNULL(pg, priv, PG_MAGIC);
    if (pos->off < pg->epoch)
        return; /* read from a slot incarnation that is gone: nothing to tell this one */
    if (pg->gap_pending) {
        /* The gap's broad purge (or a later transaction) was acknowledged by every node. */
        pg->gap_pending = 0;
        pg->flushed = pos->lsn;
        log_info("source %s: the gap's broad purge is confirmed: the state file now records "
                 "slot %s on system %s timeline %u",
                 pg->name, pg->rec.slot, pg->rec.systemid, pg->rec.timeline);
        pg->dirty = 1;
        pg_state_flush(pg);
        return;
    }
    if (pos->lsn <= pg->flushed)
        return;
    pg->flushed = pos->lsn;
    pg_state_later(pg);
}

static void
timer_closed(uv_handle_t *h)
{
    struct pg *pg;

    CAST_OBJ_NOTNULL(pg, h->data, PG_MAGIC);
    pg->open_handles--;
    if (pg->open_handles == 0 && pg->stopped != NULL)
        pg->stopped(pg->stopped_arg);
}

static void
pg_stop(void *priv, void (*done)(void *), void *arg)
{
    struct pg *pg;

    CAST_OBJ_NOTNULL(pg, priv, PG_MAGIC);
    pg->stopped = done;
    pg->stopped_arg = arg;
    pg_state_flush(pg);
    if (pg->state == PG_STREAMING)
        pg_send_status(pg, 0); /* the last confirmed position, nothing newer */
    pg->state = PG_STOPPED;
    pg_disconnect(pg);
    if (pg->loop == NULL) { /* never started */
        done(arg);
        return;
    }
    uv_timer_stop(&pg->timer);
    uv_close((uv_handle_t *)&pg->timer, timer_closed);
    uv_timer_stop(&pg->state_timer);
    uv_close((uv_handle_t *)&pg->state_timer, timer_closed);
}

/*
 * A reload replaced the mapping: start a new session at once (from the
 * confirmed position, so nothing is skipped) to check the new tables, replica
 * identities and publication, and to decode with the new map.  A session
 * waiting to reconnect picks the map up when it does.
 */
static void
pg_remapped(void *priv)
{
    struct pg *pg;

    CAST_OBJ_NOTNULL(pg, priv, PG_MAGIC);
    if (pg->state == PG_WAIT || pg->state == PG_STOPPED)
        return;
    log_info("source %s: mapping reloaded: starting a new session to apply it", pg->name);
    if (pg->state == PG_STREAMING) {
        pg_send_status(pg, 0);
        pg->core->state(pg->core->arg, 0);
    }
    pg_disconnect(pg);
    uv_timer_stop(&pg->timer);
    pg_connect(pg);
}

static void
pg_destroy(void *priv)
{
    struct pg *pg;

    CAST_OBJ_NOTNULL(pg, priv, PG_MAGIC);
    pgrels_free(&pg->rels);
    pgo_destroy(&pg->dec);
    tagmap_unref(&pg->map);
    secret_free(&pg->password);
    free(pg->name);
    free(pg->conninfo);
    free(pg->password_env);
    free(pg->password_file);
    free(pg->slot);
    free(pg->publication);
    free(pg->state_path);
    conn_gap_tags_free(&pg->gap_tags, &pg->ngap_tags);
    FREE_OBJ(pg);
}

static void
pg_format_pos(const struct src_pos *pos, char *buf, size_t len)
{
    snprintf(buf, len, "%X/%X", (unsigned)(pos->lsn >> 32), (unsigned)pos->lsn);
}

/* want: an LSN as pg_current_wal_lsn() prints it, "16/B374D848". */
static int
pg_pos_reached(const struct src_pos *confirmed, const char *want)
{
    unsigned hi, lo;
    char tail;

    if (sscanf(want, "%X/%X%c", &hi, &lo, &tail) != 2)
        return (-1);
    return (confirmed->lsn >= (((uint64_t)hi << 32) | lo));
}

const struct connector_impl conn_postgres = {
    .name = "postgres",
    .configure = pg_configure,
    .start = pg_start,
    .remapped = pg_remapped,
    .confirm = pg_confirm,
    .stop = pg_stop,
    .destroy = pg_destroy,
    .format_pos = pg_format_pos,
    .pos_reached = pg_pos_reached,
    .check_online = pg_check_online,
};
