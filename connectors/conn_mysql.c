/*
 * MySQL / MariaDB source: binlog replication, ROW format.
 *
 * Threads: the client library's dump fetch blocks, so one reader thread per
 * source owns the connection, the binlog decoder (binlog.c) and the
 * transaction being read (broker/txn.c, with a reference to the tagmap,
 * replaced at a transaction start after a reload).  It hands
 * each committed transaction to the loop through a bounded queue and
 * uv_async; when the queue is full the thread waits (back-pressure reaches
 * the server through TCP).  Nothing else crosses the thread boundary: the
 * queue, the stop flag and the socket to shut down are guarded by mu.
 *
 * Checkpoint: confirm() (loop thread) records the end of the newest
 * transaction every node acknowledged in state_dir/<source>.binlog.json,
 * written atomically (temp file, fsync, rename, fsync of the folder).  A
 * restart resumes there: duplicates possible, losses not.
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
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../broker/lib/backoff.h"
#include "../broker/lib/cfg.h"
#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/secret.h"
#include "../broker/lib/statefile.h"
#include "../broker/lib/strv.h"
#include "../broker/tagmap.h"
#include "../broker/tagset.h"
#include "../broker/txn.h"
#include "binlog.h"
#include "binlog_fetch.h"
#include "connector.h"
#include "gtid.h"
#include "my_cascade.h"

#define QUEUE_CAP 256

struct my_item {
    struct src_pos pos;
    int64_t commit_us;
    struct txn *txn; /* NULL: a state change (streaming on/off) */
    int streaming;
    char identity[128]; /* the server it came from, for the checkpoint */
};

struct my_names {
    char *table;
    char **cols;
    size_t n;
};

struct my_host {
    char *host; /* a name or an address, IPv6 without brackets */
    unsigned port;
};

struct my {
    unsigned magic;
#define MY_MAGIC 0x4d79c0aa
    /* configuration (read-only once started) */
    struct my_host *hosts; /* "hosts", or the one "host"/"port" */
    size_t nhosts;
    char *name, *user, *password_env, *password_file, *socket, *ssl_ca, *ssl_mode;
    char *state_path;
    uint32_t server_id;
    char *start_file, *start_gtid;
    char **gap_tags; /* literal tags a gap purges too (e.g. one every page carries) */
    size_t ngap_tags;
    uint64_t start_pos;
    unsigned heartbeat_ms;
    size_t max_txn_tags;
    /*
     * Set by start() before the thread exists, never changed: the loop calls
     * its callbacks, the reader thread only core->mapping() (any-thread).
     */
    const struct conn_core *core;
    /* shared with the reader thread, under mu */
    uv_mutex_t mu;
    uv_cond_t cond;
    struct my_item queue[QUEUE_CAP];
    size_t qhead, qlen;
    int stop;
    MYSQL *live; /* the dump connection, to shut down on stop */
    /* reader thread only */
    uv_thread_t thread;
    int thread_started;
    struct tagmap *map; /* a reference; the loop thread sets it only before the thread runs */
    char *password;
    struct txn *txn;
    struct bl_decoder *dec;
    int64_t txn_us;
    struct my_names *names;
    size_t nnames;
    MYSQL *meta;           /* a second connection for information_schema */
    size_t cur;            /* the host tried (and, once connected, read) now */
    int mariadb;           /* the connected server is MariaDB: GTID resume works */
    struct my_cascade *fk; /* foreign-key edges; read again when fk_stale */
    int fk_stale, fk_failing;
    int in_ddl;         /* between cb_ddl and the end of that statement's group */
    char identity[128]; /* the server's server_uuid or server_id */
    char ckpt_identity[128];
    int refused; /* this session's server cannot serve our position (1236) */
    int lost;    /* no host could in a full pass: the next session is a gap */
    char lost_why[640];
    int misconfigured; /* the last session ended on a configuration error: keep backing off */
    /* loop thread only */
    uv_loop_t *loop;
    uv_async_t async;
    uv_timer_t flush;
    struct src_pos confirmed;
    char loop_identity[128];
    int dirty;
    void (*stopped)(void *);
    void *stopped_arg;
};

/*------------------------------------------------------------------------
 * Configuration
 */

static int
my_start_cfg(struct my *m, const json_t *obj, struct cfg_ctx *ctx)
{
    json_t *s = json_object_get(obj, "start");
    const char *f = NULL, *g = NULL;
    long long pos = 4;
    int rv = 0;

    if (s == NULL || (json_is_string(s) && strcmp(json_string_value(s), "end") == 0))
        return (0);
    cfg_push_key(ctx, "start");
    if (!json_is_object(s)) {
        rv = cfg_error(ctx, "expected \"end\", {\"file\": ..., \"pos\": ...} or {\"gtid\": ...}");
    } else if (cfg_check_keys(ctx, s, (const char *const[]){"file", "pos", "gtid", NULL}) != 0 ||
               cfg_get_str(ctx, s, "file", 0, &f) < 0 || cfg_get_str(ctx, s, "gtid", 0, &g) < 0 ||
               cfg_get_int(ctx, s, "pos", 0, 4, INT64_MAX, &pos) < 0) {
        rv = -1;
    } else if ((f == NULL) == (g == NULL)) {
        rv = cfg_error(ctx, "give either \"file\" (with \"pos\") or \"gtid\"");
    } else {
        m->start_file = f ? tp_strdup(f) : NULL;
        m->start_gtid = g ? tp_strdup(g) : NULL;
        m->start_pos = (uint64_t)pos;
    }
    cfg_pop(ctx);
    return (rv);
}

/*
 * One "hosts" entry: "HOST:PORT", "[IPv6]:PORT", or a bare "HOST" / "[IPv6]"
 * meaning port 3306 (the server's default; "port" does not apply to "hosts").
 * 0, or -1 when malformed.
 */
static int
parse_host(const char *s, struct my_host *h)
{
    const char *end, *colon;
    char *stop;
    unsigned long port = 3306;
    size_t hl;

    if (s[0] == '[') {
        end = strchr(s, ']');
        if (end == NULL || end == s + 1 || (end[1] != '\0' && end[1] != ':'))
            return (-1);
        hl = (size_t)(end - s - 1);
        s++;
        colon = end[1] == ':' ? end + 1 : NULL;
    } else {
        colon = strchr(s, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL)
            return (-1); /* an IPv6 address needs brackets */
        hl = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (hl == 0 || hl > 255 || memchr(s, ' ', hl) != NULL)
        return (-1);
    if (colon != NULL) {
        if (colon[1] < '0' || colon[1] > '9')
            return (-1);
        port = strtoul(colon + 1, &stop, 10);
        if (*stop != '\0' || port < 1 || port > 65535)
            return (-1);
    }
    h->host = tp_malloc(hl + 1);
    memcpy(h->host, s, hl);
    h->host[hl] = '\0';
    h->port = (unsigned)port;
    return (0);
}

/* "hosts": the servers to try in order; exclusive with "host"/"port". */
static int
my_hosts_cfg(struct my *m, const json_t *obj, struct cfg_ctx *ctx)
{
    json_t *a = json_object_get(obj, "hosts"), *v;
    size_t i;
    int rv = 0;

    cfg_push_key(ctx, "hosts");
    if (json_object_get(obj, "host") != NULL || json_object_get(obj, "port") != NULL)
        rv = cfg_error(ctx, "give either \"hosts\" or \"host\"/\"port\", not both");
    else if (!json_is_array(a) || json_array_size(a) == 0)
        rv = cfg_error(ctx, "expected a non-empty array of \"HOST:PORT\" strings");
    if (rv != 0)
        goto out;
    m->hosts = tp_calloc(json_array_size(a), sizeof *m->hosts);
    json_array_foreach(a, i, v)
    {
        cfg_push_idx(ctx, i);
        if (!json_is_string(v) || parse_host(json_string_value(v), &m->hosts[i]) != 0)
            rv = cfg_error(ctx, "expected \"HOST:PORT\", \"[IPv6]:PORT\" or \"HOST\" (port "
                                "3306)");
        cfg_pop(ctx);
        if (rv != 0)
            goto out;
        m->nhosts++;
    }
out:
    cfg_pop(ctx);
    return (rv);
}

static char *
dup_or_null(const char *s)
{
    return (s ? tp_strdup(s) : NULL);
}

static int
my_configure(void **privp, const char *srcname, const json_t *obj, struct cfg_ctx *ctx)
{
    static const char *const keys[] = {"name",      "type",         "host",         "hosts",
                                       "port",      "user",         "password_env", "password_file",
                                       "server_id", "socket",       "ssl_ca",       "ssl_mode",
                                       "start",     "heartbeat_ms", "gap_tags",     NULL};
    const char *host = "127.0.0.1", *user = NULL, *penv = NULL, *pfile = NULL, *sock = NULL;
    const char *ca = NULL, *mode = NULL;
    long long port = 3306, sid = 0, hb = 1000;
    struct my *m;

    if (cfg_check_keys(ctx, obj, keys) != 0 || cfg_get_str(ctx, obj, "host", 0, &host) < 0 ||
        cfg_get_int(ctx, obj, "port", 0, 1, 65535, &port) < 0 ||
        cfg_get_str(ctx, obj, "user", 1, &user) < 0 || secret_keys(ctx, obj, &penv, &pfile) != 0 ||
        cfg_get_int(ctx, obj, "server_id", 1, 1, UINT32_MAX, &sid) < 0 ||
        cfg_get_str(ctx, obj, "socket", 0, &sock) < 0 ||
        cfg_get_str(ctx, obj, "ssl_ca", 0, &ca) < 0 ||
        cfg_get_str(ctx, obj, "ssl_mode", 0, &mode) < 0 ||
        cfg_get_int(ctx, obj, "heartbeat_ms", 0, 100, 60000, &hb) < 0)
        return (-1);
    if (mode != NULL && strcmp(mode, "disabled") != 0 && strcmp(mode, "preferred") != 0 &&
        strcmp(mode, "required") != 0 && strcmp(mode, "verify_ca") != 0 &&
        strcmp(mode, "verify_identity") != 0) {
        cfg_push_key(ctx, "ssl_mode");
        cfg_error(ctx, "expected disabled, preferred, required, verify_ca or verify_identity");
        cfg_pop(ctx);
        return (-1);
    }
    ALLOC_OBJ(m, MY_MAGIC);
    *privp = m;
    m->name = tp_strdup(srcname);
    if (json_object_get(obj, "hosts") != NULL) {
        if (my_hosts_cfg(m, obj, ctx) != 0)
            return (-1);
    } else {
        m->hosts = tp_calloc(1, sizeof *m->hosts);
        m->hosts[0].host = tp_strdup(host);
        m->hosts[0].port = (unsigned)port;
        m->nhosts = 1;
    }
    m->user = tp_strdup(user);
    m->password_env = dup_or_null(penv);
    m->password_file = dup_or_null(pfile);
    m->socket = dup_or_null(sock);
    m->ssl_ca = dup_or_null(ca);
    m->ssl_mode = dup_or_null(mode);
    m->server_id = (uint32_t)sid;
    m->heartbeat_ms = (unsigned)hb;
    if (conn_gap_tags_cfg(ctx, obj, &m->gap_tags, &m->ngap_tags) != 0)
        return (-1);
    return (my_start_cfg(m, obj, ctx));
}

/*------------------------------------------------------------------------
 * State file: {"file": ..., "pos": ..., "gtid": ..., "server": ...}
 */

/* Atomic replace: a crash leaves either the old or the new checkpoint. */
static int
state_write(const struct my *m, const struct src_pos *p, const char *identity)
{
    json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "file", p->name, "pos", (json_int_t)p->off,
                          "gtid", p->gtid, "server", identity);
    int rv;

    if (o == NULL)
        return (-1);
    rv = statefile_write(m->state_path, o);
    json_decref(o);
    if (rv != 0)
        log_err("source %s: cannot write the checkpoint %s: %s", m->name, m->state_path,
                strerror(errno));
    return (rv);
}

/* 1 when a checkpoint was read, 0 when there is none, -1 when it is unreadable. */
static int
state_read(struct my *m, struct src_pos *p)
{
    json_error_t jerr;
    json_t *o = json_load_file(m->state_path, 0, &jerr);
    const char *file = NULL, *gtid = "", *server = "";
    json_int_t pos = 0;

    if (o == NULL)
        return (access(m->state_path, F_OK) == 0 ? -1 : 0);
    if (json_unpack(o, "{s:s, s:I, s?s, s?s}", "file", &file, "pos", &pos, "gtid", &gtid, "server",
                    &server) != 0 ||
        pos < 4) {
        json_decref(o);
        return (-1);
    }
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", file);
    p->off = (uint64_t)pos;
    snprintf(p->gtid, sizeof p->gtid, "%s", gtid);
    snprintf(m->ckpt_identity, sizeof m->ckpt_identity, "%s", server);
    json_decref(o);
    return (1);
}

/*------------------------------------------------------------------------
 * The queue (reader thread -> loop)
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

/* Loop thread: take everything queued. */
static void
async_cb(uv_async_t *h)
{
    struct my_item items[QUEUE_CAP];
    struct my *m;
    size_t n, i;

    CAST_OBJ_NOTNULL(m, h->data, MY_MAGIC);
    uv_mutex_lock(&m->mu);
    n = m->qlen;
    for (i = 0; i < n; i++)
        items[i] = m->queue[(m->qhead + i) % QUEUE_CAP];
    m->qhead = (m->qhead + n) % QUEUE_CAP;
    m->qlen = 0;
    uv_cond_signal(&m->cond);
    uv_mutex_unlock(&m->mu);
    for (i = 0; i < n; i++) {
        snprintf(m->loop_identity, sizeof m->loop_identity, "%s", items[i].identity);
        if (items[i].txn == NULL)
            m->core->state(m->core->arg, items[i].streaming);
        else
            m->core->commit_txn(m->core->arg, &items[i].pos, items[i].commit_us, items[i].txn);
    }
}

/*------------------------------------------------------------------------
 * Reader thread: connection and server checks
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

/* "host:port" or "[v6]:port", for logs. */
static void
host_name(const struct my_host *h, char *buf, size_t len)
{
    snprintf(buf, len, strchr(h->host, ':') ? "[%s]:%u" : "%s:%u", h->host, h->port);
}

/* Connect to hosts[m->cur] (any thread that owns m->cur: reader, or check). */
static MYSQL *
my_connect(struct my *m, char *err, size_t errlen)
{
    unsigned timeout = 5, rto = 3 * m->heartbeat_ms / 1000 + 2;
    const struct my_host *h = &m->hosts[m->cur];
    char hostname[300];
    MYSQL *c = mysql_init(NULL);

    host_name(h, hostname, sizeof hostname);

    AN(c);
    mysql_optionsv(c, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_optionsv(c, MYSQL_OPT_READ_TIMEOUT, &rto); /* > heartbeat: a dead peer is noticed */
    if (m->ssl_ca != NULL)
        mysql_optionsv(c, MYSQL_OPT_SSL_CA, m->ssl_ca);
    if (m->ssl_mode != NULL && strcmp(m->ssl_mode, "disabled") != 0) {
        my_bool on = 1, verify = strcmp(m->ssl_mode, "verify_ca") == 0 ||
                                 strcmp(m->ssl_mode, "verify_identity") == 0;
        if (strcmp(m->ssl_mode, "preferred") != 0)
            mysql_optionsv(c, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_optionsv(c, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    }
    if (mysql_real_connect(c, h->host, m->user, m->password, NULL, h->port, m->socket, 0) == NULL) {
        snprintf(err, errlen, "could not connect to %s: %s%s", hostname, mysql_error(c),
                 mysql_errno(c) == 1045 ? " (check user and password_env/password_file)" : "");
        mysql_close(c);
        return (NULL);
    }
    return (c);
}

/* One value of a one-row query, or NULL on any error. */
static char *
query_value(MYSQL *c, const char *q, int col)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    char *v = NULL;

    if (mysql_query(c, q) != 0)
        return (NULL);
    res = mysql_store_result(c);
    if (res == NULL)
        return (NULL);
    row = mysql_fetch_row(res);
    if (row != NULL && (unsigned)col < mysql_num_fields(res) && row[col] != NULL)
        v = tp_strdup(row[col]);
    mysql_free_result(res);
    return (v);
}

static int
setting_is(MYSQL *c, const char *var, const char *want, char **got)
{
    char q[128];

    snprintf(q, sizeof q, "SELECT %s", var);
    *got = query_value(c, q, 0);
    return (*got != NULL && strcasecmp(*got, want) == 0);
}

/* Warn when a setting is not what tagpurge needs; the message names the fix. */
static int
want_setting(struct my *m, MYSQL *c, const char *var, const char *want, const char *fix)
{
    char *v = NULL;
    int bad = !setting_is(c, var, want, &v);

    if (bad)
        log_warn("source %s: %s is %s: %s", m->name, var, v ? v : "unknown (server too old?)", fix);
    free(v);
    return (bad);
}

/* Which server answered: its identity (checkpointed), its kind, a log line. */
static void
note_server(struct my *m, MYSQL *c)
{
    char *v = query_value(c, "SELECT @@server_uuid", 0), *ver, where[300];

    if (v == NULL)
        v = query_value(c, "SELECT CONCAT('server_id:', @@server_id)", 0);
    uv_mutex_lock(&m->mu);
    snprintf(m->identity, sizeof m->identity, "%s", v ? v : "");
    uv_mutex_unlock(&m->mu);
    free(v);
    ver = query_value(c, "SELECT VERSION()", 0);
    m->mariadb = ver != NULL && strstr(ver, "MariaDB") != NULL;
    v = query_value(c, "SELECT @@server_id", 0);
    host_name(&m->hosts[m->cur], where, sizeof where);
    log_info("source %s: connected to %s (host %zu of %zu, server_id %s, %s)", m->name, where,
             m->cur + 1, m->nhosts, v ? v : "?", ver ? ver : "?");
    free(v);
    free(ver);
}

/*
 * Settings tagpurge depends on; -1 when streaming is impossible.  *nwarn
 * (optional) counts the settings that only degrade it.
 */
static int
check_server(struct my *m, MYSQL *c, int *nwarn)
{
    char *v = NULL;
    int rv = 0, w = 0;

    if (!setting_is(c, "@@log_bin", "1", &v)) {
        log_err("source %s: binary logging is disabled on the server: start it with log_bin "
                "(e.g. --log-bin=binlog) and binlog_format=ROW",
                m->name);
        rv = -1;
    }
    free(v);
    w += want_setting(m, c, "@@global.binlog_format", "ROW",
                      "set binlog_format=ROW; statement-format events on mapped tables purge their "
                      "fallback tags");
    w += want_setting(m, c, "@@global.binlog_row_image", "FULL",
                      "set binlog_row_image=FULL; partial row images purge fallback tags for the "
                      "values they lack");
    w += want_setting(m, c, "@@global.binlog_row_metadata", "FULL",
                      "set binlog_row_metadata=FULL; until then column names come from "
                      "information_schema, guarded by column counts");
    v = query_value(c, "SELECT @@server_id", 0);
    if (v != NULL && strtoul(v, NULL, 10) == m->server_id) {
        log_err("source %s: server_id %u is the server's own: choose another server_id", m->name,
                m->server_id);
        rv = -1;
    }
    free(v);
    note_server(m, c);
    if (nwarn != NULL)
        *nwarn = w;
    return (rv);
}

/*------------------------------------------------------------------------
 * Reader thread: where to start
 */

/* SHOW BINARY LOGS: 1 when file is listed; oldest gets the first file. */
static int
binlog_listed(MYSQL *c, const char *file, char *oldest, size_t len)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    int found = 0;

    oldest[0] = '\0';
    if (mysql_query(c, "SHOW BINARY LOGS") != 0 || (res = mysql_store_result(c)) == NULL)
        return (-1);
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (oldest[0] == '\0' && row[0] != NULL)
            snprintf(oldest, len, "%s", row[0]);
        if (row[0] != NULL && strcmp(row[0], file) == 0)
            found = 1;
    }
    mysql_free_result(res);
    return (found);
}

static int
end_position(struct my *m, MYSQL *c, struct src_pos *p)
{
    char *file = query_value(c, "SHOW MASTER STATUS", 0), *pos;

    if (file == NULL) /* MySQL 8.4 renamed it */
        file = query_value(c, "SHOW BINARY LOG STATUS", 0);
    if (file == NULL) {
        log_err("source %s: cannot read the binlog position (SHOW MASTER STATUS): %s; grant "
                "REPLICATION CLIENT (BINLOG MONITOR) and enable log_bin",
                m->name, mysql_error(c));
        return (-1);
    }
    pos = query_value(c, "SHOW MASTER STATUS", 1);
    if (pos == NULL)
        pos = query_value(c, "SHOW BINARY LOG STATUS", 1);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", file);
    p->off = pos ? strtoull(pos, NULL, 10) : 4;
    free(file);
    free(pos);
    file = query_value(c, "SELECT @@gtid_binlog_pos", 0);
    snprintf(p->gtid, sizeof p->gtid, "%s", file ? file : "");
    free(file);
    return (0);
}

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
    if (end_position(m, c, p) != 0)
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
    v = query_value(c, q, 0);
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
    int r = state_read(m, &ck);

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
    } else if (r == 0 && end_position(m, c, p) != 0) {
        return (-1);
    }
    listed = binlog_listed(c, p->name, oldest, sizeof oldest);
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
        if (state_write(m, p, m->identity) != 0)
            return (-1);
    }
    return (0);
}

/*------------------------------------------------------------------------
 * Reader thread: decoder callbacks
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

static void
names_drop(struct my *m, const char *table)
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
        names_drop(m, table);
        return (NULL);
    }
    return ((const char *const *)n->cols);
}

static void
cb_schema_changed(void *arg, const char *table)
{
    names_drop(arg, table);
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
 * Reader thread: the dump
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
    bl_set_checksum(m->dec, setting_is(c, "@@global.binlog_checksum", "CRC32", &crc));
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

static int
load_password(struct my *m)
{
    return (secret_load(m->name, m->password_env, m->password_file, &m->password));
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
    if (check_server(m, c, NULL) == 0 && start_position(m, c, &start) == 0) {
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

static void
reader_main(void *arg)
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

/*------------------------------------------------------------------------
 * The connector interface (loop thread)
 */

/* Checkpoint writes are fsynced: batch them to at most one per FLUSH_MS. */
#define FLUSH_MS 50

static void
flush_cb(uv_timer_t *t)
{
    struct my *m;

    CAST_OBJ_NOTNULL(m, t->data, MY_MAGIC);
    if (!m->dirty)
        return;
    m->dirty = 0;
    (void)state_write(m, &m->confirmed, m->loop_identity);
}

static int
my_start(void *priv, uv_loop_t *loop, const struct conn_core *core, const struct conn_env *env)
{
    struct my *m;
    size_t n;

    CAST_OBJ_NOTNULL(m, priv, MY_MAGIC);
    if (load_password(m) != 0)
        return (-1); /* before m->loop is set: stop() then has nothing to close */
    m->loop = loop;
    m->core = core;
    m->map = core->mapping(core->arg, NULL);
    AZ(uv_mutex_init(&m->mu));
    AZ(uv_cond_init(&m->cond));
    AZ(uv_async_init(loop, &m->async, async_cb));
    m->async.data = m;
    AZ(uv_timer_init(loop, &m->flush));
    m->flush.data = m;
    m->max_txn_tags = env->max_txn_tags;
    if (mkdir(env->state_dir, 0700) != 0 && errno != EEXIST) {
        log_err("source %s: cannot create state_dir %s: %s", m->name, env->state_dir,
                strerror(errno));
        return (-1);
    }
    n = strlen(env->state_dir) + strlen(m->name) + 16;
    m->state_path = tp_malloc(n);
    snprintf(m->state_path, n, "%s/%s.binlog.json", env->state_dir, m->name);
    if (uv_thread_create(&m->thread, reader_main, m) != 0) {
        log_err("source %s: cannot start the reader thread", m->name);
        return (-1);
    }
    m->thread_started = 1;
    return (0);
}

static void
my_confirm(void *priv, const struct src_pos *pos)
{
    struct my *m;

    CAST_OBJ_NOTNULL(m, priv, MY_MAGIC);
    m->confirmed = *pos;
    m->dirty = 1;
    if (!uv_is_active((uv_handle_t *)&m->flush))
        AZ(uv_timer_start(&m->flush, flush_cb, FLUSH_MS, 0));
}

static void
handle_closed(uv_handle_t *h)
{
    struct my *m;

    CAST_OBJ_NOTNULL(m, h->data, MY_MAGIC);
    if (h == (uv_handle_t *)&m->flush && m->stopped != NULL)
        m->stopped(m->stopped_arg);
}

static void
my_stop(void *priv, void (*done)(void *), void *arg)
{
    struct my *m;
    struct my_item it;

    CAST_OBJ_NOTNULL(m, priv, MY_MAGIC);
    if (m->loop == NULL) {
        done(arg);
        return;
    }
    uv_mutex_lock(&m->mu);
    m->stop = 1;
    uv_cond_broadcast(&m->cond);
    if (m->live != NULL) /* wake a fetch blocked in recv() */
        (void)shutdown(mysql_get_socket(m->live), SHUT_RDWR);
    uv_mutex_unlock(&m->mu);
    if (m->thread_started)
        AZ(uv_thread_join(&m->thread));
    m->thread_started = 0;
    /* Transactions still queued were never delivered: drop them unconfirmed. */
    while (m->qlen > 0) {
        it = m->queue[m->qhead];
        m->qhead = (m->qhead + 1) % QUEUE_CAP;
        m->qlen--;
        txn_destroy(&it.txn);
    }
    flush_cb(&m->flush); /* the last confirmed position, nothing newer */
    m->stopped = done;
    m->stopped_arg = arg;
    uv_close((uv_handle_t *)&m->async, handle_closed);
    uv_close((uv_handle_t *)&m->flush, handle_closed);
}

static void
my_destroy(void *priv)
{
    struct my *m;
    size_t i;

    CAST_OBJ_NOTNULL(m, priv, MY_MAGIC);
    if (m->loop != NULL) {
        uv_mutex_destroy(&m->mu);
        uv_cond_destroy(&m->cond);
    }
    for (i = 0; m->names != NULL && i < m->nnames;)
        names_drop(m, m->names[i].table);
    free(m->names);
    tagmap_unref(&m->map);
    secret_free(&m->password);
    free(m->name);
    for (i = 0; i < m->nhosts; i++)
        free(m->hosts[i].host);
    free(m->hosts);
    free(m->user);
    free(m->password_env);
    free(m->password_file);
    free(m->socket);
    free(m->ssl_ca);
    free(m->ssl_mode);
    free(m->state_path);
    free(m->start_file);
    free(m->start_gtid);
    conn_gap_tags_free(&m->gap_tags, &m->ngap_tags);
    FREE_OBJ(m);
}

static void
my_format_pos(const struct src_pos *pos, char *buf, size_t len)
{
    snprintf(buf, len, "%s:%llu%s%s", pos->name, (unsigned long long)pos->off,
             pos->gtid[0] ? " " : "", pos->gtid);
}

/*
 * The highest sequence number of GTID domain/source key in a state, -1 when
 * absent.  MariaDB: "0-1-37,1-2-5" (key "0", "1"); MySQL:
 * "uuid:1-37:40-41,uuid2:1-5" (key the uuid; the end of its last interval).
 */
static long long
gtid_high(const char *state, const char *key, int mariadb)
{
    size_t kl = strlen(key);
    const char *p = state, *e;
    long long best = -1, v;

    while (*p != '\0') {
        e = p + strcspn(p, ",");
        while (*p == ' ' || *p == '\n')
            p++;
        if ((size_t)(e - p) > kl && strncmp(p, key, kl) == 0 && p[kl] == (mariadb ? '-' : ':')) {
            const char *last = e;
            while (last > p && last[-1] != '-' && last[-1] != ':')
                last--;
            v = strtoll(last, NULL, 10);
            if (v > best)
                best = v;
        }
        p = *e ? e + 1 : e;
    }
    return (best);
}

/* Every GTID domain (MariaDB) or source uuid (MySQL) of want is reached. */
static int
gtid_reached(const char *confirmed, const char *want)
{
    char key[64];
    const char *p = want, *e;
    int mariadb = strchr(want, ':') == NULL;
    long long need;
    size_t kl;

    while (*p != '\0') {
        e = p + strcspn(p, ",");
        while (*p == ' ' || *p == '\n')
            p++;
        kl = strcspn(p, mariadb ? "-" : ":");
        if (kl == 0 || kl >= sizeof key || p + kl >= e)
            return (-1);
        memcpy(key, p, kl);
        key[kl] = '\0';
        need = gtid_high(want, key, mariadb);
        if (need < 0)
            return (-1);
        if (gtid_high(confirmed, key, mariadb) < need)
            return (0);
        p = *e ? e + 1 : e;
    }
    return (1);
}

/* want: "binlog.000002:1234" (SHOW MASTER STATUS), or a GTID state (@@gtid_binlog_pos,
 * @@gtid_executed). */
static int
my_pos_reached(const struct src_pos *confirmed, const char *want)
{
    const char *colon = strrchr(want, ':');
    char *end;
    unsigned long long off;
    int c;

    if (colon != NULL && strchr(want, '.') != NULL && strchr(want, ',') == NULL) {
        off = strtoull(colon + 1, &end, 10);
        if (*end != '\0' || end == colon + 1)
            return (-1);
        /* Same base name, zero-padded sequence: byte order is file order. */
        c = strncmp(confirmed->name, want, (size_t)(colon - want));
        if (c == 0 && confirmed->name[colon - want] != '\0')
            c = 1;
        return (c > 0 || (c == 0 && confirmed->off >= off));
    }
    return (gtid_reached(confirmed->gtid, want));
}

/*
 * `check --online`: the user may read the binlog (REPLICATION SLAVE on *.*).
 * Privileges a role carries are not followed: a grant only a role holds is
 * reported missing (the message says where to look).
 */
static int
check_grants(struct my *m, MYSQL *c)
{
    char *who = query_value(c, "SELECT CURRENT_USER()", 0);
    MYSQL_RES *res;
    MYSQL_ROW row;
    int ok = 0;

    if (mysql_query(c, "SHOW GRANTS") != 0 || (res = mysql_store_result(c)) == NULL) {
        log_warn("source %s: SHOW GRANTS failed (%s): REPLICATION SLAVE not checked", m->name,
                 mysql_error(c));
        free(who);
        return (0);
    }
    while ((row = mysql_fetch_row(res)) != NULL)
        if (row[0] != NULL && strstr(row[0], " ON *.* ") != NULL &&
            (strstr(row[0], "REPLICATION SLAVE") != NULL ||
             strstr(row[0], "ALL PRIVILEGES") != NULL))
            ok = 1;
    mysql_free_result(res);
    if (!ok)
        log_err("source %s: user %s may not read the binlog: run GRANT REPLICATION SLAVE ON *.* "
                "TO %s (if a role grants it, make that role the user's default)",
                m->name, who ? who : "?", who ? who : "the user");
    free(who);
    return (!ok);
}

/*
 * `check --online`: a replica registered with the server under our server_id
 * (the server would disconnect one of us).  Listing replicas needs
 * REPLICATION MASTER ADMIN (MariaDB) or REPLICATION SLAVE (MySQL 8's SHOW
 * REPLICAS); without it the check is skipped, and said so.  tagpurge itself
 * does not register, so a running tagpurge is not listed.
 */
static int
check_server_id_clash(struct my *m, MYSQL *c)
{
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    int clash = 0;

    if (mysql_query(c, "SHOW SLAVE HOSTS") != 0 && mysql_query(c, "SHOW REPLICAS") != 0) {
        log_info("source %s: cannot list the server's replicas (%s): server_id clash not checked; "
                 "grant REPLICATION MASTER ADMIN to check it",
                 m->name, mysql_error(c));
        return (0);
    }
    if ((res = mysql_store_result(c)) == NULL)
        return (0);
    while ((row = mysql_fetch_row(res)) != NULL)
        if (mysql_num_fields(res) >= 3 && row[0] != NULL &&
            strtoul(row[0], NULL, 10) == m->server_id) {
            log_err("source %s: server_id %u is already used by the replica registered from "
                    "%s:%s: choose a unique server_id",
                    m->name, m->server_id, row[1] ? row[1] : "?", row[2] ? row[2] : "?");
            clash = 1;
        }
    mysql_free_result(res);
    return (clash);
}

/* `check --online`: the foreign keys whose cascades reach mapped tables (what run decodes). */
static int
report_edges(struct my *m, MYSQL *c, const struct tagmap *map)
{
    struct my_cascade *fk = myc_new();
    char err[512], line[1024];
    size_t i, n = 0, unknown = 0;
    int reaches, rv = 0;

    if (myc_read(fk, c, err, sizeof err) != 0) {
        log_err("source %s: %s", m->name, err);
        rv = 1;
    }
    for (i = 0; rv == 0 && i < myc_count(fk); i++) {
        myc_describe(fk, map, i, line, sizeof line, &reaches);
        if (reaches) {
            printf("source %s: cascade edge %s\n", m->name, line);
            n++;
            unknown += strstr(line, "UNKNOWN") != NULL;
        }
    }
    if (rv == 0)
        printf("source %s: %zu foreign-key edges reach mapped tables (RESTRICT/NO ACTION rules "
               "purge nothing)\n",
               m->name, n);
    if (unknown > 0) {
        log_warn("source %s: the rules of %zu foreign keys are not visible to the user "
                 "(information_schema.REFERENTIAL_CONSTRAINTS): they are treated as CASCADE, "
                 "which purges more; GRANT REFERENCES ON the mapped databases to show them",
                 m->name, unknown);
        rv = 1;
    }
    myc_destroy(&fk);
    return (rv);
}

/* `check --online` on hosts[m->cur]: problems found, or -1 when unreachable. */
static int
check_host(struct my *m, const struct tagmap *map)
{
    char err[512], oldest[256];
    int problems = 0, warn = 0;
    MYSQL *c = my_connect(m, err, sizeof err);

    if (c == NULL) {
        log_err("source %s: %s", m->name, err);
        return (-1);
    }
    if (check_server(m, c, &warn) != 0)
        problems++;
    problems += warn;
    if (binlog_listed(c, "", oldest, sizeof oldest) < 0) {
        log_err("source %s: SHOW BINARY LOGS failed: %s; grant REPLICATION CLIENT (BINLOG "
                "MONITOR)",
                m->name, mysql_error(c));
        problems++;
    }
    problems += check_grants(m, c);
    problems += check_server_id_clash(m, c);
    problems += report_edges(m, c, map);
    mysql_close(c);
    return (problems);
}

/*
 * `check --online`: the same checks the reader thread makes, plus the
 * privileges, on every listed host (each is a failover target, so each must
 * be usable); an unreachable host is one problem, all unreachable is -1.
 */
static int
my_check_online(void *priv, const struct tagmap *map, const struct conn_env *env)
{
    struct my *m;
    int problems = 0, n;
    size_t down = 0;

    (void)env; /* the checkpoint is not compared with the server yet */
    CAST_OBJ_NOTNULL(m, priv, MY_MAGIC);
    tagmap_unref(&m->map);
    m->map = tagmap_ref(map);
    AZ(uv_mutex_init(&m->mu));
    if (load_password(m) != 0) {
        uv_mutex_destroy(&m->mu);
        return (-1);
    }
    for (m->cur = 0; m->cur < m->nhosts; m->cur++) {
        n = check_host(m, map);
        if (n < 0)
            down++;
        problems += n < 0 ? 1 : n;
    }
    m->cur = 0;
    uv_mutex_destroy(&m->mu);
    return (down == m->nhosts ? -1 : problems);
}

const struct connector_impl conn_mysql = {
    .name = "mysql",
    .configure = my_configure,
    .start = my_start,
    .confirm = my_confirm,
    .stop = my_stop,
    .destroy = my_destroy,
    .format_pos = my_format_pos,
    .pos_reached = my_pos_reached,
    .check_online = my_check_online,
};
