/*
 * MySQL / MariaDB source: binlog replication, ROW format.  This file is the loop
 * side: configuration, start/confirm/stop, the queue drain and the checkpoint
 * file.  The reader thread is my_reader.c, the server queries and checks
 * my_server.c; the thread boundary is stated in my_int.h.
 *
 * Checkpoint: confirm() (loop thread) records the end of the newest
 * transaction every node acknowledged in state_dir/<source>.binlog.json,
 * written atomically (temp file, fsync, rename, fsync of the folder).  A
 * restart resumes there: duplicates possible, losses not.
 */
#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../broker/lib/cfg.h"
#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/secret.h"
#include "../broker/lib/statefile.h"
#include "../broker/tagmap.h"
#include "../broker/txn.h"
#include "gtid.h"
#include "my_int.h"

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
int
my_state_write(const struct my *m, const struct src_pos *p, const char *identity)
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
int
my_state_read(struct my *m, struct src_pos *p)
{
    json_t *o;
    const char *file = NULL, *gtid = "", *server = "";
    json_int_t pos = 0;
    int r = statefile_read(m->state_path, &o);

    if (r <= 0)
        return (r);
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
 * The queue drain (the reader thread pushes: my_reader.c)
 */

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

int
my_load_password(struct my *m)
{
    return (secret_load(m->name, m->password_env, m->password_file, &m->password));
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
    (void)my_state_write(m, &m->confirmed, m->loop_identity);
}

static int
my_start(void *priv, uv_loop_t *loop, const struct conn_core *core, const struct conn_env *env)
{
    struct my *m;

    CAST_OBJ_NOTNULL(m, priv, MY_MAGIC);
    if (my_load_password(m) != 0)
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
    if (statefile_dir(env->state_dir) != 0) {
        log_err("source %s: cannot create state_dir %s: %s", m->name, env->state_dir,
                strerror(errno));
        return (-1);
    }
    m->state_path = statefile_path(env->state_dir, m->name, ".binlog.json");
    if (uv_thread_create(&m->thread, my_reader_main, m) != 0) {
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
        my_names_drop(m, m->names[i].table);
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
