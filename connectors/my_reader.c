/*
 * MySQL / MariaDB reader thread: the session (connect, check, position), the binlog
 * dump, the decoder callbacks and the queue's push side.  It owns the fields struct my
 * marks "reader thread only" (my_int.h).
 *
 * Foreign-key cascades (my_cascade.c): InnoDB does not log the child rows a
 * cascade changes.  The reader thread owns the edge set; it reads it on its
 * second connection (meta) at the first transaction of each session and
 * after any DDL statement, decodes the rows of parents whose edges reach a
 * mapped table, and adds the implied child tags to the transaction.
 *
 * Servers: "hosts" lists servers to fail over between.  The reader thread
 * alone connects (session() -> my_connect(), hosts[cur]) and moves cur to the
 * next host when a session fails before streaming; the loop never connects.
 *
 * Resume: MariaDB with a GTID state (checkpoint or this process) resumes by
 * GTID on whichever server answers (binlog_fetch_mariadb.c sets the replica's
 * session variables); otherwise by file:pos on the same server.
 *
 * Gaps: when the server cannot serve our position (error 1236), or on the
 * file:pos path the server is not the one the checkpoint came from or the
 * binlog is gone, the changes in between are unknowable: the fallback tags of
 * every mapped table are purged (logged, counted) at the server's current end,
 * and reading continues from that end.
 */
#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../broker/lib/backoff.h"
#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/strv.h"
#include "../broker/tagmap.h"
#include "../broker/tagset.h"
#include "../broker/txn.h"
#include "binlog.h"
#include "binlog_fetch.h"
#include "gtid.h"
#include "my_cascade.h"
#include "my_int.h"

/*------------------------------------------------------------------------
 * The queue's push side (the loop drains it: conn_mysql.c)
 */

/* Reader thread: wait for room; 0, or -1 when stopping. */
static int
queue_push(struct my *m, struct my_item *it)
{
    int rv = 0;

    uv_mutex_lock(&m->mu);
    snprintf(it->identity, sizeof it->identity, "%s", m->identity);
    while (m->qlen == QUEUE_CAP && !m->stop)
        uv_cond_wait(&m->cond, &m->mu);
    if (m->stop) {
        rv = -1;
    } else {
        m->queue[(m->qhead + m->qlen) % QUEUE_CAP] = *it;
        m->qlen++;
    }
    uv_mutex_unlock(&m->mu);
    if (rv == 0)
        uv_async_send(&m->async);
    return (rv);
}

/*------------------------------------------------------------------------
 * Stop and backoff
 */

static int
stopping(struct my *m)
{
    int s;

    uv_mutex_lock(&m->mu);
    s = m->stop;
    uv_mutex_unlock(&m->mu);
    return (s);
}

/*
 * Sleep ms, waking early only on stop: cond is also signalled whenever the
 * loop drains the queue, which must not cut a backoff short.
 */
static void
nap(struct my *m, unsigned ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000ULL, now;

    uv_mutex_lock(&m->mu);
    while (!m->stop && (now = uv_hrtime()) < end)
        if (uv_cond_timedwait(&m->cond, &m->mu, end - now) == UV_ETIMEDOUT)
            break;
    uv_mutex_unlock(&m->mu);
}

/*------------------------------------------------------------------------
 * Where to start
 */

/*
 * The gap: purge everything mapped, once, as its own transaction at the new
 * start, so the checkpoint moves there only after the broad purge is delivered.
 */
static void
emit_gap(struct my *m, const struct src_pos *at, const char *why)
{
    struct my_item it;

    log_err("source %s: GAP: %s: changes may have been lost: purging the fallback tags of every "
            "mapped table and continuing from %s:%llu",
            m->name, why, at->name, (unsigned long long)at->off);
    memset(&it, 0, sizeof it);
    it.pos = *at;
    it.txn = txn_new(m->map, m->max_txn_tags, m->name);
    txn_broaden(it.txn, NULL);
    txn_add_tags(it.txn, (const char *const *)m->gap_tags, m->ngap_tags);
    txn_set_gap(it.txn);
    (void)queue_push(m, &it);
}

/*
 * After a gap: the server's current end (file:pos and @@gtid_binlog_pos), the
 * broad purge there, streaming from there.  The broad purge is delivered after
 * everything up to that end committed, and everything after it is streamed:
 * replaying the server's older history would add nothing.
 */
static int
gap_at_end(struct my *m, MYSQL *c, struct src_pos *p, const char *why)
{
    if (my_end_position(m, c, p) != 0)
        return (-1);
    emit_gap(m, p, why);
    return (0);
}

/* MariaDB: the GTID state at file:pos (BINLOG_GTID_POS), so a start there has every domain. */
static void
seed_gtid(struct my *m, MYSQL *c, struct src_pos *p)
{
    char q[400], esc[2 * sizeof p->name + 1], *v;

    if (!m->mariadb)
        return;
    mysql_real_escape_string(c, esc, p->name, (unsigned long)strlen(p->name));
    snprintf(q, sizeof q, "SELECT BINLOG_GTID_POS('%s', %llu)", esc, (unsigned long long)p->off);
    v = my_query_value(c, q, 0);
    if (v != NULL && gtid_state_valid(v))
        snprintf(p->gtid, sizeof p->gtid, "%s", v);
    free(v);
}

/*
 * Where this process or the checkpoint left off: 1 with *p set (2 when it is
 * the checkpoint's), 0 when neither exists, -1 when the checkpoint is unreadable.
 */
static int
resume_point(struct my *m, struct src_pos *p)
{
    const struct bl_pos *b = bl_committed(m->dec);
    struct src_pos ck;
    int r = my_state_read(m, &ck);

    memset(p, 0, sizeof *p);
    if (b->file[0] != '\0' || (b->gtid[0] != '\0' && gtid_state_valid(b->gtid))) {
        /* Reconnecting within this process: resume after what was already queued. */
        snprintf(p->name, sizeof p->name, "%s", b->file);
        p->off = b->pos;
        snprintf(p->gtid, sizeof p->gtid, "%s", b->gtid);
        return (r < 0 ? -1 : 1);
    }
    if (r > 0)
        *p = ck;
    return (r > 0 ? 2 : r);
}

/*
 * Decide the start: this process's position or the checkpoint, else config,
 * else the current end.  MariaDB with a GTID state resumes by GTID on whichever
 * server answers; a file:pos resume needs the same server.  Gaps continue at
 * the server's current end.
 */
static int
start_position(struct my *m, MYSQL *c, struct src_pos *p)
{
    char oldest[sizeof p->name], why[400];
    int r = resume_point(m, p), listed;

    if (m->lost) {
        m->lost = 0;
        return (gap_at_end(m, c, p, m->lost_why));
    }
    if (r < 0)
        return (gap_at_end(m, c, p, "the checkpoint file is unreadable"));
    if (r > 0 && m->mariadb && p->gtid[0] != '\0' && gtid_state_valid(p->gtid)) {
        p->name[0] = '\0'; /* GTID mode: the server picks the file (a fake ROTATE names it) */
        p->off = 4;
        return (0);
    }
    if (r > 0 && m->ckpt_identity[0] && m->identity[0] &&
        strcmp(m->ckpt_identity, m->identity) != 0)
        return (gap_at_end(m, c, p, "the server is not the one the checkpoint came from"));
    if (r == 0 && m->start_gtid != NULL) {
        snprintf(p->gtid, sizeof p->gtid, "%s", m->start_gtid);
        p->off = 4;
        return (0); /* the server finds the file itself */
    } else if (r == 0 && m->start_file != NULL) {
        snprintf(p->name, sizeof p->name, "%s", m->start_file);
        p->off = m->start_pos;
        seed_gtid(m, c, p);
    } else if (r == 0 && my_end_position(m, c, p) != 0) {
        return (-1);
    }
    listed = my_binlog_listed(c, p->name, oldest, sizeof oldest);
    if (listed < 0 || oldest[0] == '\0') {
        /* No binlog to read: an error on this server, not a gap (nothing was read from it). */
        log_err("source %s: SHOW BINARY LOGS failed or lists no file: %s; grant REPLICATION "
                "CLIENT (BINLOG MONITOR) and enable log_bin",
                m->name, mysql_error(c));
        return (-1);
    }
    if (listed == 0) {
        snprintf(why, sizeof why, "binlog %s is no longer on the server", p->name);
        return (gap_at_end(m, c, p, why));
    }
    if (r == 0) {
        /*
         * First start: make the start position the checkpoint before reading,
         * so a crash before the first acknowledgement resumes here and not at
         * a newer end.  The loop writes the file only after confirms, and none
         * can exist yet: this is the one write from the reader thread.
         */
        if (my_state_write(m, p, m->identity) != 0)
            return (-1);
    }
    return (0);
}

/*------------------------------------------------------------------------
 * Decoder callbacks
 */

static int
cb_mapped(void *arg, const char *table)
{
    struct my *m = arg;

    /* A parent of a mapped child is decoded too: its rows imply the child's (cascades). */
    return (tagmap_lookup(m->map, table) != NULL || myc_wanted(m->fk, m->map, table));
}

static struct my_names *
names_find(struct my *m, const char *table)
{
    size_t i;

    for (i = 0; i < m->nnames; i++)
        if (strcmp(m->names[i].table, table) == 0)
            return (&m->names[i]);
    return (NULL);
}

void
my_names_drop(struct my *m, const char *table)
{
    struct my_names *n = names_find(m, table);

    if (n == NULL)
        return;
    strv_free(n->cols, n->n);
    free(n->table);
    *n = m->names[--m->nnames];
}

/* information_schema, for servers without binlog_row_metadata=FULL. */
static void
names_load(struct my *m, const char *table, struct my_names *n)
{
    char q[1024], esc[2][130], db[65];
    const char *dot = strchr(table, '.');
    MYSQL_RES *res;
    MYSQL_ROW row;

    if (m->meta == NULL || dot == NULL || dot - table > 64 || strlen(dot + 1) > 64)
        return;
    snprintf(db, sizeof db, "%.*s", (int)(dot - table), table);
    mysql_real_escape_string(m->meta, esc[0], db, (unsigned long)strlen(db));
    mysql_real_escape_string(m->meta, esc[1], dot + 1, (unsigned long)strlen(dot + 1));
    snprintf(q, sizeof q,
             "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '%s' "
             "AND TABLE_NAME = '%s' ORDER BY ORDINAL_POSITION",
             esc[0], esc[1]);
    if (mysql_query(m->meta, q) != 0 || (res = mysql_store_result(m->meta)) == NULL)
        return;
    while ((row = mysql_fetch_row(res)) != NULL) {
        strv_push(&n->cols, &n->n, row[0] ? row[0] : "");
    }
    mysql_free_result(res);
}

/*
 * Names without FULL metadata.  The guard: the column count of the
 * information_schema answer must equal the event's, else the rows broaden
 * instead of decoding with a wrong schema.  A DDL on the table drops the
 * cache entry (schema_changed), so the names are read again.
 */
static const char *const *
cb_names(void *arg, const char *table, size_t ncols)
{
    struct my *m = arg;
    struct my_names *n = names_find(m, table);

    if (n == NULL) {
        m->names = tp_grow(m->names, m->nnames, sizeof *m->names);
        n = &m->names[m->nnames++];
        memset(n, 0, sizeof *n);
        n->table = tp_strdup(table);
        names_load(m, table, n);
    }
    if (n->n != ncols) {
        log_warn("source %s: %s: information_schema has %zu columns, the binlog %zu: purging "
                 "fallback tags",
                 m->name, table, n->n, ncols);
        my_names_drop(m, table);
        return (NULL);
    }
    return ((const char *const *)n->cols);
}

static void
cb_schema_changed(void *arg, const char *table)
{
    my_names_drop(arg, table);
}

/* A reload replaced the mapping: decode from this transaction on with the new one. */
static void
take_map(struct my *m)
{
    struct tagmap *n = m->core->mapping(m->core->arg, m->map);

    if (n == NULL)
        return;
    tagmap_unref(&m->map);
    m->map = n;
    txn_destroy(&m->txn);
    m->txn = txn_new(m->map, m->max_txn_tags, m->name);
}

/*
 * Read the foreign keys again when a session started or a DDL ran (on meta,
 * reconnected once if it went away).  -1 when they cannot be read: the
 * caller purges broadly, since cascades through unknown edges cannot be known.
 */
static int
fk_refresh(struct my *m)
{
    char err[512] = "";
    int rv = -1;

    if (!m->fk_stale)
        return (0);
    if (m->meta != NULL)
        rv = myc_read(m->fk, m->meta, err, sizeof err);
    if (rv != 0) {
        if (m->meta != NULL)
            mysql_close(m->meta);
        m->meta = my_connect(m, err, sizeof err);
        if (m->meta != NULL)
            rv = myc_read(m->fk, m->meta, err, sizeof err);
    }
    if (rv != 0 && !m->fk_failing)
        log_err("source %s: %s: purging the fallback tags of every mapped table in each "
                "transaction until the foreign keys are read",
                m->name, err);
    else if (rv == 0 && myc_unknown_rules(m->fk) > 0)
        log_warn("source %s: the rules of %zu foreign keys are not visible (GRANT REFERENCES "
                 "shows them): treated as CASCADE",
                 m->name, myc_unknown_rules(m->fk));
    m->fk_failing = rv != 0;
    m->fk_stale = rv != 0;
    return (rv);
}

static void
cb_begin(void *arg)
{
    struct my *m = arg;

    txn_reset(m->txn);
    take_map(m);
    m->in_ddl = 0;
    if (fk_refresh(m) != 0)
        txn_broaden(m->txn, NULL);
}

static void
cb_change(void *arg, const struct change *c)
{
    struct my *m = arg;

    m->in_ddl = 0;
    txn_change(m->txn, c);
    (void)myc_apply(m->fk, m->txn, c); /* the child rows InnoDB changed without logging them */
}

/* ALTER/CREATE/DROP/RENAME may add, drop or move a foreign key: read them again. */
static void
cb_ddl(void *arg, const char *sql, size_t len)
{
    static const char *const verbs[] = {"ALTER", "CREATE", "DROP", "RENAME", NULL};
    struct my *m = arg;
    size_t i, n;

    m->in_ddl = 1;
    for (i = 0; verbs[i] != NULL; i++) {
        n = strlen(verbs[i]);
        if (len > n && strncasecmp(sql, verbs[i], n) == 0)
            m->fk_stale = 1;
    }
}

static void
cb_broaden(void *arg, const char *table, const char *why)
{
    struct my *m = arg;

    log_warn("source %s: %s: %s: purging fallback tags", m->name,
             table ? table : "every mapped table", why);
    txn_broaden(m->txn, table);
    /* Rows it lost could have cascaded: the children too.  DDL changes no child rows. */
    if (table != NULL && !m->in_ddl)
        (void)myc_broaden(m->fk, m->txn, table);
}

static void
cb_statement(void *arg, const char *table)
{
    struct my *m = arg;

    (void)table;
    txn_count_statement(m->txn);
}

static void
cb_commit(void *arg, const struct bl_pos *bp)
{
    struct my *m = arg;
    struct my_item it;

    memset(&it, 0, sizeof it);
    snprintf(it.pos.name, sizeof it.pos.name, "%s", bp->file);
    it.pos.off = bp->pos;
    snprintf(it.pos.gtid, sizeof it.pos.gtid, "%s", bp->gtid);
    it.commit_us = (int64_t)bp->timestamp * 1000000;
    m->in_ddl = 0;
    it.txn = m->txn; /* the loop takes it */
    m->txn = txn_new(m->map, m->max_txn_tags, m->name);
    if (queue_push(m, &it) != 0)
        txn_destroy(&it.txn);
}

static void
cb_abort(void *arg)
{
    struct my *m = arg;

    txn_reset(m->txn);
}

/*------------------------------------------------------------------------
 * The dump and the session
 */

static void
say_state(struct my *m, int streaming)
{
    struct my_item it;

    memset(&it, 0, sizeof it);
    it.streaming = streaming;
    (void)queue_push(m, &it);
}

static const char *
dump_hint(unsigned errnum, const char *err)
{
    if (errnum == 1227)
        return ("; grant REPLICATION SLAVE to the user");
    if (strstr(err, "same server_id") != NULL || strstr(err, "same server_uuid") != NULL)
        return ("; another replica uses this server_id: choose a unique server_id");
    if (strstr(err, "binary logging") != NULL)
        return ("; enable log_bin on the server");
    return ("");
}

/* Stream until an error; returns after logging it. */
static void
dump(struct my *m, MYSQL *c, const struct src_pos *start)
{
    struct bl_fetch_params fp = {m->server_id, start->name, start->off,
                                 start->name[0] ? NULL : start->gtid, m->heartbeat_ms};
    const unsigned char *ev;
    struct bl_fetch *f;
    unsigned errnum = 0;
    char err[512], *crc = NULL;
    size_t len;
    int first = 1;

    bl_set_position(m->dec, start->name, start->off);
    bl_set_gtid_state(m->dec, start->gtid);
    bl_set_checksum(m->dec, my_setting_is(c, "@@global.binlog_checksum", "CRC32", &crc));
    free(crc);
    if (bl_fetch_open(&f, c, &fp, &errnum, err, sizeof err) != 0) {
        log_err("source %s: could not start the binlog dump: %s%s", m->name, err,
                dump_hint(errnum, err));
        return;
    }
    while (!stopping(m) && bl_fetch_next(f, &ev, &len, &errnum, err, sizeof err) == 1) {
        if (first) {
            first = 0;
            say_state(m, 1);
        }
        (void)bl_feed(m->dec, ev, len); /* errors broaden the transaction, logged there */
    }
    if (!stopping(m))
        log_err("source %s: binlog dump stopped: %s%s", m->name, err, dump_hint(errnum, err));
    /*
     * 1236 covers several fatal dump errors; only a missing file or GTID is a
     * gap (another replica with our server_id is a configuration error).
     */
    if (errnum == 1236 && !stopping(m) &&
        (strstr(err, "Could not find") != NULL || strstr(err, "purged") != NULL ||
         strstr(err, "GTID") != NULL || strstr(err, "not in the master's binlog") != NULL)) {
        m->refused = 1;
        snprintf(m->lost_why, sizeof m->lost_why,
                 "the server cannot serve our position %s (error 1236: %.250s)",
                 fp.gtid != NULL ? fp.gtid : start->name, err);
    }
    if (dump_hint(errnum, err)[0] != '\0')
        m->misconfigured = 1;
    bl_fetch_close(&f);
    if (!first)
        say_state(m, 0);
}

/*
 * One connection's life: connect, check, position, stream.  0 when it
 * streamed, 1 when the server cannot serve our position (1236), -1 otherwise.
 */
static int
session(struct my *m)
{
    struct src_pos start;
    char err[512];
    MYSQL *c = my_connect(m, err, sizeof err);
    int rv = -1;

    if (c == NULL) {
        log_err("source %s: %s", m->name, err);
        return (-1);
    }
    m->meta = my_connect(m, err, sizeof err);
    m->fk_stale = 1; /* read at the first transaction (cb_begin), on meta */
    if (my_check_server(m, c, NULL) == 0 && start_position(m, c, &start) == 0) {
        uv_mutex_lock(&m->mu);
        m->live = c;
        uv_mutex_unlock(&m->mu);
        log_info("source %s: reading binlog from %s:%llu%s%s", m->name,
                 start.name[0] ? start.name : "(gtid)", (unsigned long long)start.off,
                 start.gtid[0] ? " gtid " : "", start.gtid);
        m->misconfigured = 0;
        dump(m, c, &start);
        rv = m->misconfigured ? -1 : m->refused ? 1 : 0;
        m->refused = 0;
    }
    uv_mutex_lock(&m->mu);
    m->live = NULL;
    uv_mutex_unlock(&m->mu);
    mysql_close(c);
    if (m->meta != NULL)
        mysql_close(m->meta);
    m->meta = NULL;
    return (rv);
}

/* Reader thread: where a pass over the hosts stands. */
struct my_pass {
    size_t tried;   /* sessions failed in a row in this pass */
    size_t refused; /* of those, servers that refused our position (1236) */
    size_t refuser; /* the first of them: reachable, with a binlog: where a gap goes */
    int gapped;     /* a gap was started without backoff since the last stream */
};

/*
 * After a session (rv as session() returns): pick the next host; 1 to start
 * the next session at once, 0 to back off first.  A server that streamed is
 * tried again first; one that did not (no connection, a failed check or
 * start, our position refused) passes to the next host at once.  The backoff
 * comes between full passes; a pass in which a server refused our position
 * and none served it makes the next session a gap, on that server, at once
 * (waiting brings no GTID back), but only once until something streams again.
 */
static int
pass_step(struct my *m, struct my_pass *ps, int rv)
{
    if (rv == 0) {
        memset(ps, 0, sizeof *ps);
        return (0);
    }
    ps->tried++;
    if (rv > 0 && ps->refused++ == 0)
        ps->refuser = m->cur;
    m->cur = (m->cur + 1) % m->nhosts;
    if (ps->tried < m->nhosts)
        return (1);
    if (ps->refused > 0) {
        m->lost = 1;
        m->cur = ps->refuser;
    }
    ps->tried = ps->refused = 0;
    if (m->lost && !ps->gapped) {
        ps->gapped = 1;
        return (1);
    }
    return (0);
}

void
my_reader_main(void *arg)
{
    struct my *m = arg;
    unsigned tries = 0; /* reconnects since the last clean session */
    long backoff;
    struct my_pass ps;
    struct bl_callbacks cb = {m,         cb_mapped, cb_names,   cb_schema_changed,
                              cb_begin,  cb_change, cb_broaden, cb_statement,
                              cb_commit, cb_abort,  cb_ddl};
    int rv, now;

    mysql_thread_init();
    memset(&ps, 0, sizeof ps);
    m->txn = txn_new(m->map, m->max_txn_tags, m->name);
    m->dec = bl_new(&cb);
    m->fk = myc_new();
    while (!stopping(m)) {
        rv = session(m);
        if (rv == 0)
            tries = 0;
        now = pass_step(m, &ps, rv);
        if (stopping(m))
            break;
        if (bl_in_txn(m->dec))
            cb_abort(m); /* the server resends the whole transaction */
        if (now)
            continue;
        backoff = backoff_delay(500, 30000, ++tries);
        log_info("source %s: reconnecting in %ld ms", m->name, backoff);
        nap(m, (unsigned)backoff);
    }
    bl_destroy(&m->dec);
    myc_destroy(&m->fk);
    txn_destroy(&m->txn);
    mysql_thread_end();
}
