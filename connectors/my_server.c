/*
 * MySQL / MariaDB server queries and checks: connecting, the settings, grants and
 * server_id checks, the binlog listing and end position, and `check --online`.
 * Owns no state: each runs on the connection and thread of its caller.
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

#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/tagmap.h"
#include "my_cascade.h"
#include "my_int.h"

/*------------------------------------------------------------------------
 * Connecting and the server's settings
 */

/* "host:port" or "[v6]:port", for logs. */
void
my_host_name(const struct my_host *h, char *buf, size_t len)
{
    snprintf(buf, len, strchr(h->host, ':') ? "[%s]:%u" : "%s:%u", h->host, h->port);
}

/* Connect to hosts[m->cur] (any thread that owns m->cur: reader, or check). */
MYSQL *
my_connect(struct my *m, char *err, size_t errlen)
{
    unsigned timeout = 5, rto = 3 * m->heartbeat_ms / 1000 + 2;
    const struct my_host *h = &m->hosts[m->cur];
    char hostname[300];
    MYSQL *c = mysql_init(NULL);

    my_host_name(h, hostname, sizeof hostname);

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
char *
my_query_value(MYSQL *c, const char *q, int col)
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

int
my_setting_is(MYSQL *c, const char *var, const char *want, char **got)
{
    char q[128];

    snprintf(q, sizeof q, "SELECT %s", var);
    *got = my_query_value(c, q, 0);
    return (*got != NULL && strcasecmp(*got, want) == 0);
}

/* Warn when a setting is not what tagpurge needs; the message names the fix. */
static int
want_setting(struct my *m, MYSQL *c, const char *var, const char *want, const char *fix)
{
    char *v = NULL;
    int bad = !my_setting_is(c, var, want, &v);

    if (bad)
        log_warn("source %s: %s is %s: %s", m->name, var, v ? v : "unknown (server too old?)", fix);
    free(v);
    return (bad);
}

/* Which server answered: its identity (checkpointed), its kind, a log line. */
static void
note_server(struct my *m, MYSQL *c)
{
    char *v = my_query_value(c, "SELECT @@server_uuid", 0), *ver, where[300];

    if (v == NULL)
        v = my_query_value(c, "SELECT CONCAT('server_id:', @@server_id)", 0);
    uv_mutex_lock(&m->mu);
    snprintf(m->identity, sizeof m->identity, "%s", v ? v : "");
    uv_mutex_unlock(&m->mu);
    free(v);
    ver = my_query_value(c, "SELECT VERSION()", 0);
    m->mariadb = ver != NULL && strstr(ver, "MariaDB") != NULL;
    v = my_query_value(c, "SELECT @@server_id", 0);
    my_host_name(&m->hosts[m->cur], where, sizeof where);
    log_info("source %s: connected to %s (host %zu of %zu, server_id %s, %s)", m->name, where,
             m->cur + 1, m->nhosts, v ? v : "?", ver ? ver : "?");
    free(v);
    free(ver);
}

/*
 * Settings tagpurge depends on; -1 when streaming is impossible.  *nwarn
 * (optional) counts the settings that only degrade it.
 */
int
my_check_server(struct my *m, MYSQL *c, int *nwarn)
{
    char *v = NULL;
    int rv = 0, w = 0;

    if (!my_setting_is(c, "@@log_bin", "1", &v)) {
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
    v = my_query_value(c, "SELECT @@server_id", 0);
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
 * The binlog: listing and end position
 */

/* SHOW BINARY LOGS: 1 when file is listed; oldest gets the first file. */
int
my_binlog_listed(MYSQL *c, const char *file, char *oldest, size_t len)
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

int
my_end_position(struct my *m, MYSQL *c, struct src_pos *p)
{
    char *file = my_query_value(c, "SHOW MASTER STATUS", 0), *pos;

    if (file == NULL) /* MySQL 8.4 renamed it */
        file = my_query_value(c, "SHOW BINARY LOG STATUS", 0);
    if (file == NULL) {
        log_err("source %s: cannot read the binlog position (SHOW MASTER STATUS): %s; grant "
                "REPLICATION CLIENT (BINLOG MONITOR) and enable log_bin",
                m->name, mysql_error(c));
        return (-1);
    }
    pos = my_query_value(c, "SHOW MASTER STATUS", 1);
    if (pos == NULL)
        pos = my_query_value(c, "SHOW BINARY LOG STATUS", 1);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", file);
    p->off = pos ? strtoull(pos, NULL, 10) : 4;
    free(file);
    free(pos);
    file = my_query_value(c, "SELECT @@gtid_binlog_pos", 0);
    snprintf(p->gtid, sizeof p->gtid, "%s", file ? file : "");
    free(file);
    return (0);
}

/*------------------------------------------------------------------------
 * check --online
 */

/*
 * `check --online`: the user may read the binlog (REPLICATION SLAVE on *.*).
 * Privileges a role carries are not followed: a grant only a role holds is
 * reported missing (the message says where to look).
 */
static int
check_grants(struct my *m, MYSQL *c)
{
    char *who = my_query_value(c, "SELECT CURRENT_USER()", 0);
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
    if (my_check_server(m, c, &warn) != 0)
        problems++;
    problems += warn;
    if (my_binlog_listed(c, "", oldest, sizeof oldest) < 0) {
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
int
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
    if (my_load_password(m) != 0) {
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
