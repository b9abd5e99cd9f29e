/*
 * PostgreSQL `check --online`: its own blocking queries on a plain connection (nothing
 * is created), the role, and the state file against the server and slot.  Owns
 * pg->problems; reuses pg_setup.c's SQL builders and result readers.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/sbuf.h"
#include "../broker/tagmap.h"
#include "pg_int.h"

/* The role may open a replication connection (REPLICATION or superuser). */
static int
step_role_res(struct pg *pg, PGresult *res)
{
    if (!pg_res_ok(pg, res, "reading the role"))
        return (-1);
    if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] != 't') {
        log_err("source %s: role %s may not stream changes; run: ALTER ROLE %s WITH REPLICATION",
                pg->name, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 1));
        return (-1);
    }
    return (0);
}

static void
check_gap(void *arg, const char *why)
{
    struct pg *pg = arg;

    pg->problems++;
    log_err("source %s: %s: the next start is a GAP (tagpurge purges the fallback tags of every "
            "mapped table, then streams from a new or the current slot)",
            pg->name, why);
}

/* IDENTIFY_SYSTEM needs a replication connection; the other checks use a plain one. */
static int
pg_check_identify(struct pg *pg)
{
    const char *keys[5], *vals[5];
    PGconn *plain = pg->conn;
    int rv;

    pg_conn_params(pg, 1, keys, vals);
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        log_err("source %s: cannot open a replication connection: %s", pg->name,
                pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        rv = -1;
    } else {
        PGresult *res = PQexec(pg->conn, "IDENTIFY_SYSTEM");
        rv = pg_identify_res(pg, res);
        PQclear(res);
    }
    PQfinish(pg->conn);
    pg->conn = plain;
    return (rv);
}

/* The state file against the server: each rule that applies is a gap at the next start. */
static void
pg_check_state(struct pg *pg, const struct conn_env *env)
{
    struct pgfacts f;

    (void)pg_state_path(pg, env->state_dir, 0);
    if (pg_state_read(pg) == 0) {
        if (pg->slot_exists && pg->slot_lost)
            check_gap(pg, "the replication slot is invalidated (wal_status lost)");
        else
            log_info("source %s: no state file %s: the first start is not a gap", pg->name,
                     pg->state_path);
        return;
    }
    if (pg_check_identify(pg) != 0) {
        pg->problems++;
        return;
    }
    pg_facts(pg, &f);
    if (pgstate_gaps(pg->have, &pg->seen, &f, check_gap, pg) == 0)
        log_info("source %s: the state file %s matches the server and slot %s", pg->name,
                 pg->state_path, pg->slot);
}

/* One blocking query, read by fn: 1 when it reports a problem. */
static int
check_query(struct pg *pg, const char *sql, pg_step_f *fn)
{
    PGresult *res = PQexec(pg->conn, sql);
    int rv = fn(pg, res);

    PQclear(res);
    return (rv < 0);
}

/* The mapped tables: each warning is a problem. */
static void
check_tables(struct pg *pg)
{
    char *sql = pg_sql_tables(pg);
    PGresult *res = PQexec(pg->conn, sql);
    int r = pg_tables_res(pg, res);

    PQclear(res);
    free(sql);
    pg->problems += r < 0 ? 1 : r;
}

/* The publication: what tagpurge would run at start ("create"), or a problem. */
static void
check_pub(struct pg *pg)
{
    char *q = pg_sql_pub(pg);
    PGresult *res = PQexec(pg->conn, q);
    struct sbuf sql = {0};
    int exists = 0, r = pg_pub_res(pg, res, &exists, &sql);

    if (r == 1 && pg->create) {
        log_info("source %s: publication %s %s: tagpurge will run at start: %s", pg->name,
                 pg->publication, exists ? "lacks mapped tables" : "does not exist", sql.p);
    } else if (r == 1) {
        pg_pub_missing(pg, exists, sql.p);
        pg->problems++;
    } else if (r < 0) {
        pg->problems++;
    }
    sbuf_free(&sql);
    PQclear(res);
    free(q);
}

/* The slot: a missing one is created at start ("create"), or a problem. */
static void
check_slot(struct pg *pg)
{
    char *sql = pg_sql_slot(pg);

    if (check_query(pg, sql, pg_slot_res) != 0)
        pg->problems++;
    else if (!pg->slot_exists && pg->create)
        log_info("source %s: replication slot %s does not exist: tagpurge creates it at start",
                 pg->name, pg->slot);
    else if (!pg->slot_exists)
        pg->problems += pg_slot_sql(pg) < 0;
    free(sql);
}

/*
 * `check --online`: the set-up checks as blocking queries on a plain
 * connection (nothing is created), plus the role, and the state file
 * against the server and slot.
 */
int
pg_check_online(void *priv, const struct tagmap *map, const struct conn_env *env)
{
    const char *keys[5], *vals[5];
    struct pg *pg;

    CAST_OBJ_NOTNULL(pg, priv, PG_MAGIC);
    tagmap_unref(&pg->map);
    pg->map = tagmap_ref(map);
    if (pg_load_password(pg) != 0)
        return (-1);
    pg_conn_params(pg, 0, keys, vals);
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        log_err("source %s: cannot connect: %s", pg->name,
                pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        PQfinish(pg->conn);
        pg->conn = NULL;
        return (-1);
    }
    pg->problems += check_query(pg,
                                "SELECT rolreplication OR rolsuper, rolname FROM pg_roles "
                                "WHERE rolname = current_user",
                                step_role_res);
    pg->problems += check_query(pg, "SHOW wal_level", pg_wal_level_res);
    check_tables(pg);
    check_pub(pg);
    check_slot(pg);
    pg_check_state(pg, env);
    PQfinish(pg->conn);
    pg->conn = NULL;
    if (pg->problems == 0)
        log_info("source %s: the server is ready for tagpurge", pg->name);
    return (pg->problems);
}
