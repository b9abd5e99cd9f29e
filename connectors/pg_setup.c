/*
 * PostgreSQL set-up: the step machine each connect runs before streaming (wal_level,
 * IDENTIFY_SYSTEM, tables, publication, slot, the gap decision, START_REPLICATION).
 * It owns pg->step*, the slot facts and the gap of the connect; the SQL builders and
 * result readers here are pure and shared with pg_check.c.
 *
 * Gaps: at every (re)connect pgstate_gap() decides whether the slot continues what
 * tagpurge read.  When it does not, the GAP is logged, marked in the state file, the
 * slot re-created (with "create"), and a broad purge handed to the core at the slot's
 * start; the new server and slot are recorded only when that purge is confirmed.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/sbuf.h"
#include "../broker/tagmap.h"
#include "../broker/txn.h"
#include "pg_int.h"

/*------------------------------------------------------------------------
 * Set-up queries, one at a time.  Each step sends a query; its handler gets
 * the (last) result and returns 0 to go on, 1 when it sent another query
 * itself, -1 to give up (after logging what to fix).
 */

static char *
lit(struct pg *pg, const char *s)
{
    char *e = PQescapeLiteral(pg->conn, s, strlen(s));

    AN(e);
    return (e);
}

/* "schema"."table" for SQL, from "schema.table". */
static char *
qualified(struct pg *pg, const char *table)
{
    const char *dot = strchr(table, '.');
    char *nsp = tp_strndup(table, (size_t)(dot - table));
    char *a = PQescapeIdentifier(pg->conn, nsp, strlen(nsp));
    char *b = PQescapeIdentifier(pg->conn, dot + 1, strlen(dot + 1));
    size_t n;
    char *out;

    AN(a);
    AN(b);
    n = strlen(a) + strlen(b) + 2;
    out = tp_malloc(n);
    snprintf(out, n, "%s.%s", a, b);
    PQfreemem(a);
    PQfreemem(b);
    free(nsp);
    return (out);
}

static int
pg_send(struct pg *pg, const char *sql, pg_step_f *fn)
{
    pg->step_fn = fn;
    if (PQsendQuery(pg->conn, sql) != 1 || pg_flush(pg) != 0) {
        pg_schedule_reconnect(pg, PQerrorMessage(pg->conn));
        return (-1);
    }
    return (1);
}

/* pg_send() of a built query, which it frees. */
static int
pg_send_built(struct pg *pg, char *sql, pg_step_f *fn)
{
    int rv = pg_send(pg, sql, fn);

    free(sql);
    return (rv);
}

int
pg_res_ok(struct pg *pg, PGresult *res, const char *what)
{
    ExecStatusType st = PQresultStatus(res);

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return (1);
    log_err("source %s: %s failed: %s", pg->name, what, PQresultErrorMessage(res));
    return (0);
}

int
pg_wal_level_res(struct pg *pg, PGresult *res)
{
    const char *v;

    if (!pg_res_ok(pg, res, "SHOW wal_level"))
        return (-1);
    v = PQgetvalue(res, 0, 0);
    if (strcmp(v, "logical") != 0) {
        log_err("source %s: the server's wal_level is '%s': set wal_level = logical in "
                "postgresql.conf and restart PostgreSQL",
                pg->name, v);
        return (-1);
    }
    return (0);
}

/* IN list of mapped tables as 'schema.table' literals. */
static char *
mapped_list(struct pg *pg)
{
    struct sbuf sb = {0};
    char *l;
    size_t i;

    sbuf_printf(&sb, "%s", "");
    for (i = 0; i < tagmap_count(pg->map); i++) {
        l = lit(pg, tagmap_table(tagmap_at(pg->map, i)));
        sbuf_printf(&sb, "%s%s", i > 0 ? ", " : "", l);
        PQfreemem(l);
    }
    return (sb.p);
}

/* Columns the entry needs that the replica identity does not carry: 1 when warned. */
static int
warn_identity(struct pg *pg, const char *table, const char *ident, const char *keys)
{
    const struct tagmap_entry *e = tagmap_lookup(pg->map, table);
    const char *const *cols;
    size_t i, n, klen;
    const char *k;

    if (e == NULL || strcmp(ident, "f") == 0)
        return (0);
    cols = tagmap_columns(e, &n);
    for (i = 0; i < n; i++) {
        int found = 0;
        for (k = keys; *k != '\0'; k += klen + (k[klen] == ',')) {
            klen = strcspn(k, ",");
            if (klen == strlen(cols[i]) && strncmp(k, cols[i], klen) == 0)
                found = 1;
        }
        if (!found) {
            log_warn("source %s: table %s: tags need column %s, which UPDATE and DELETE do not "
                     "carry with REPLICA IDENTITY %s: they purge the fallback tags instead; "
                     "to purge exactly run: ALTER TABLE %s REPLICA IDENTITY FULL",
                     pg->name, table, cols[i],
                     strcmp(ident, "d") == 0   ? "DEFAULT"
                     : strcmp(ident, "i") == 0 ? "USING INDEX"
                                               : "NOTHING",
                     table);
            return (1);
        }
    }
    return (0);
}

/* The mapped tables and their replica identity: -1, or how many warnings. */
int
pg_tables_res(struct pg *pg, PGresult *res)
{
    size_t i;
    int r, found, warned = 0;

    if (!pg_res_ok(pg, res, "reading the mapped tables"))
        return (-1);
    for (i = 0; i < tagmap_count(pg->map); i++) {
        const char *t = tagmap_table(tagmap_at(pg->map, i));
        found = 0;
        for (r = 0; r < PQntuples(res); r++)
            if (strcmp(PQgetvalue(res, r, 0), t) == 0) {
                found = 1;
                warned += warn_identity(pg, t, PQgetvalue(res, r, 1), PQgetvalue(res, r, 2));
            }
        if (!found) {
            warned++;
            log_warn("source %s: mapped table %s does not exist in this database", pg->name, t);
        }
    }
    return (warned);
}

static int
step_tables_res(struct pg *pg, PGresult *res)
{
    return (pg_tables_res(pg, res) < 0 ? -1 : 0);
}

char *
pg_sql_tables(struct pg *pg)
{
    char *list = mapped_list(pg);
    struct sbuf sql = {0};

    sbuf_printf(&sql,
                "SELECT n.nspname || '.' || c.relname, c.relreplident::text, "
                "coalesce((SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = "
                "c.oid AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE "
                "i.indisprimary END), '') FROM pg_class c JOIN pg_namespace n ON n.oid = "
                "c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname || '.' || c.relname "
                "IN (%s)",
                list[0] ? list : "NULL");
    free(list);
    return (sql.p);
}

static int
step_tables(struct pg *pg)
{
    return (pg_send_built(pg, pg_sql_tables(pg), step_tables_res));
}

/* Mapped tables that exist and are not yet in the publication. */
static char *
missing_pub_tables(struct pg *pg, PGresult *res, int *count)
{
    struct sbuf sb = {0};
    char *q;
    size_t i;
    int r, in;

    *count = 0;
    sbuf_printf(&sb, "%s", "");
    for (i = 0; i < tagmap_count(pg->map); i++) {
        const char *t = tagmap_table(tagmap_at(pg->map, i));
        in = 0;
        for (r = 0; r < PQntuples(res); r++)
            if (!PQgetisnull(res, r, 0) && strcmp(PQgetvalue(res, r, 0), t) == 0)
                in = 1 + (PQgetvalue(res, r, 1)[0] == 't');
        if (in != 1)
            continue; /* listed already (2), or the table does not exist (0) */
        q = qualified(pg, t);
        sbuf_printf(&sb, "%s%s", (*count)++ > 0 ? ", " : "", q);
        free(q);
    }
    return (sb.p);
}

static int step_slot(struct pg *);

static int
step_pub_done(struct pg *pg, PGresult *res)
{
    if (!pg_res_ok(pg, res, "creating or altering the publication"))
        return (-1);
    log_info("source %s: publication %s is ready", pg->name, pg->publication);
    return (0);
}

/*
 * Rows: (mapped table, exists-in-publication) for every existing mapped
 * table, plus whether the publication exists at all (column 2).  Returns -1,
 * 0 (ready), or 1 with the CREATE or ALTER PUBLICATION that makes it ready in sql.
 */
int
pg_pub_res(struct pg *pg, PGresult *res, int *exists, struct sbuf *sql)
{
    char *missing;
    int n;

    if (!pg_res_ok(pg, res, "reading the publication"))
        return (-1);
    *exists = PQntuples(res) > 0 && PQgetvalue(res, 0, 2)[0] == 't';
    missing = missing_pub_tables(pg, res, &n);
    if (*exists && n == 0) {
        free(missing);
        return (0);
    }
    sbuf_printf(sql, "%s %s", *exists ? "ALTER PUBLICATION" : "CREATE PUBLICATION",
                pg->publication);
    if (n > 0)
        sbuf_printf(sql, "%s%s", *exists ? " ADD TABLE " : " FOR TABLE ", missing);
    free(missing);
    return (1);
}

/* Without "create": what a DBA runs. */
void
pg_pub_missing(struct pg *pg, int exists, const char *sql)
{
    log_err("source %s: publication %s %s; run: %s;  (or set \"create\": true)", pg->name,
            pg->publication, exists ? "lacks mapped tables" : "does not exist", sql);
}

static int
step_pub_res(struct pg *pg, PGresult *res)
{
    struct sbuf sql = {0};
    int exists = 0, rv = pg_pub_res(pg, res, &exists, &sql);

    if (rv == 1 && !pg->create) {
        pg_pub_missing(pg, exists, sql.p);
        rv = exists ? 0 : -1; /* a partial publication still streams what it has */
    } else if (rv == 1) {
        rv = pg_send(pg, sql.p, step_pub_done);
    }
    sbuf_free(&sql);
    return (rv);
}

char *
pg_sql_pub(struct pg *pg)
{
    char *list = mapped_list(pg), *pub = lit(pg, pg->publication);
    struct sbuf sql = {0};

    sbuf_printf(&sql,
                "SELECT t.name, EXISTS (SELECT 1 FROM pg_publication_tables pt "
                "WHERE pt.pubname = %s AND pt.schemaname || '.' || pt.tablename = t.name), "
                "EXISTS (SELECT 1 FROM pg_publication WHERE pubname = %s) "
                "FROM (SELECT n.nspname || '.' || c.relname AS name FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN "
                "('r', 'p') AND n.nspname || '.' || c.relname IN (%s) UNION ALL SELECT NULL) t",
                pub, pub, list[0] ? list : "NULL");
    PQfreemem(pub);
    free(list);
    return (sql.p);
}

static int
step_pub(struct pg *pg)
{
    return (pg_send_built(pg, pg_sql_pub(pg), step_pub_res));
}

/*------------------------------------------------------------------------
 * The gap decision (the state file itself: conn_postgres.c)
 */

void
pg_facts(const struct pg *pg, struct pgfacts *f)
{
    memset(f, 0, sizeof *f);
    f->systemid = pg->systemid;
    f->timeline = pg->timeline;
    f->slot = pg->slot;
    f->slot_exists = pg->slot_exists;
    f->confirmed_flush = pg->slot_lsn;
    f->wal_lost = pg->slot_lost;
}

/* What the file will hold for the slot of this connect, at lsn. */
static void
pg_current(const struct pg *pg, uint64_t lsn, struct pgstate *st)
{
    memset(st, 0, sizeof *st);
    snprintf(st->systemid, sizeof st->systemid, "%s", pg->systemid);
    st->timeline = pg->timeline;
    snprintf(st->slot, sizeof st->slot, "%s", pg->slot);
    st->lsn = lsn;
}

/*
 * The gap is marked in the file before anything changes on the server: a
 * crash from here until its purge is confirmed produces it again.
 */
static int
pg_mark_gap(struct pg *pg)
{
    struct pgstate st = pg->seen;

    if (pg->have <= 0)
        pg_current(pg, 0, &st);
    if (st.gap[0] == '\0')
        snprintf(st.gap, sizeof st.gap, "%s", pg->gap);
    return (pg_state_write(pg, &st));
}

/*
 * The broad purge, as the first transaction of the new slot incarnation: the
 * core confirms it only after every node acknowledged it, and only then
 * (pg_confirm) does the file record the new server and slot.
 */
static void
pg_emit_gap(struct pg *pg)
{
    struct src_pos pos;
    struct txn *t;
    char at[32];

    pgstate_lsn_fmt(pg->slot_lsn, at, sizeof at);
    log_info("source %s: the broad purge is handed over; streaming slot %s from %s", pg->name,
             pg->slot, at);
    pg->epoch++;
    pg->gap_pending = 1;
    pg->flushed = pg->written = pg->recorded = 0;
    pg->dirty = 0;
    pg_current(pg, pg->slot_lsn, &pg->rec);
    memset(&pos, 0, sizeof pos);
    pos.lsn = pg->slot_lsn;
    pos.off = pg->epoch;
    t = txn_new(pg->map, pg->max_txn_tags, pg->name);
    txn_broaden(t, NULL);
    txn_add_tags(t, (const char *const *)pg->gap_tags, pg->ngap_tags);
    txn_set_gap(t);
    pg->core->commit_txn(pg->core->arg, &pos, 0, t);
}

/* The slot exists and is usable: purge for a gap, or record a first start. */
static int
pg_slot_ready(struct pg *pg)
{
    if (pg->gap[0] != '\0') {
        pg_emit_gap(pg);
        pg->gap[0] = '\0';
        pg->gap_logged = 0;
        return (0);
    }
    if (pg->have == 0) { /* first start: from here on nothing may be missed */
        pg_current(pg, pg->slot_lsn, &pg->rec);
        if (pg_state_write(pg, &pg->rec) != 0)
            return (-1);
        pg->recorded = pg->rec.lsn;
    } else if (!pg->gap_pending) {
        pg->rec = pg->seen; /* continuing: the file's LSN is at or past the slot's */
        pg->recorded = pg->seen.lsn;
    }
    if (pg->flushed < pg->recorded)
        pg->flushed = pg->recorded;
    return (0);
}

static int
step_slot_created(struct pg *pg, PGresult *res)
{
    if (!pg_res_ok(pg, res, "CREATE_REPLICATION_SLOT"))
        return (-1);
    /* Columns: slot_name, consistent_point, snapshot_name, output_plugin. */
    if (PQntuples(res) != 1 || pgstate_lsn_parse(PQgetvalue(res, 0, 1), &pg->slot_lsn) != 0) {
        log_err("source %s: CREATE_REPLICATION_SLOT returned no consistent point", pg->name);
        return (-1);
    }
    log_info("source %s: created replication slot %s (pgoutput) at %s", pg->name, pg->slot,
             PQgetvalue(res, 0, 1));
    pg->slot_exists = 1;
    return (pg_slot_ready(pg));
}

static int pg_decide(struct pg *);

static int
pg_create_slot(struct pg *pg)
{
    char sql[256];

    snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput NOEXPORT_SNAPSHOT",
             pg->slot);
    return (pg_send(pg, sql, step_slot_created));
}

static int
step_decide(struct pg *pg)
{
    int r = pg_decide(pg);

    if (r < 0 && pg->state == PG_SETUP) /* not yet reconnecting (pg_send does that itself) */
        pg_schedule_reconnect(pg, "set-up failed");
    return (r);
}

static int
step_slot_dropped(struct pg *pg, PGresult *res)
{
    if (!pg_res_ok(pg, res, "DROP_REPLICATION_SLOT"))
        return (-1);
    log_info("source %s: dropped the invalidated replication slot %s", pg->name, pg->slot);
    return (pg_create_slot(pg));
}

/* Without "create": what a DBA runs; the gap stays marked until the slot exists. */
int
pg_slot_sql(struct pg *pg)
{
    if (pg->slot_lost)
        log_err("source %s: replication slot %s is invalidated; run: SELECT "
                "pg_drop_replication_slot('%s'); SELECT pg_create_logical_replication_slot('%s', "
                "'pgoutput');  (or set \"create\": true)",
                pg->name, pg->slot, pg->slot, pg->slot);
    else
        log_err("source %s: replication slot %s does not exist; run: SELECT "
                "pg_create_logical_replication_slot('%s', 'pgoutput');  (or set \"create\": true)",
                pg->name, pg->slot, pg->slot);
    return (-1);
}

/* The decision (pgstate_gap), then the slot: kept, dropped and created, or created. */
static int
pg_decide(struct pg *pg)
{
    struct pgfacts f;
    char sql[256];

    pg_state_read(pg);
    pg_facts(pg, &f);
    if (pgstate_gap(pg->have, &pg->seen, &f, pg->gap, sizeof pg->gap)) {
        if (!pg->gap_logged)
            log_err("source %s: GAP: %s: changes may have been lost: purging the fallback tags "
                    "of every mapped table%s",
                    pg->name, pg->gap, pg->ngap_tags > 0 ? " and the gap_tags" : "");
        else /* the same gap, retried: logged once per process */
            log_warn("source %s: the gap is still pending: %s", pg->name, pg->gap);
        pg->gap_logged = 1;
        if (pg_mark_gap(pg) != 0)
            return (-1);
    }
    if (pg->slot_exists && !pg->slot_lost)
        return (pg_slot_ready(pg) == 0 ? 0 : -1);
    if (!pg->create)
        return (pg_slot_sql(pg));
    if (!pg->slot_lost)
        return (pg_create_slot(pg));
    /* An invalidated slot can never stream again: it must go before a new one. */
    snprintf(sql, sizeof sql, "DROP_REPLICATION_SLOT %s", pg->slot);
    return (pg_send(pg, sql, step_slot_dropped));
}

/* Columns: plugin, same database, confirmed_flush_lsn, wal_status. */
int
pg_slot_res(struct pg *pg, PGresult *res)
{
    if (!pg_res_ok(pg, res, "reading the replication slot"))
        return (-1);
    pg->slot_exists = PQntuples(res) > 0;
    pg->slot_lsn = 0;
    pg->slot_lost = 0;
    if (pg->slot_exists) {
        if (strcmp(PQgetvalue(res, 0, 0), "pgoutput") != 0 || PQgetvalue(res, 0, 1)[0] != 't') {
            log_err("source %s: replication slot %s exists but is not a pgoutput slot of this "
                    "database (plugin %s): use another \"slot\" or drop it",
                    pg->name, pg->slot, PQgetvalue(res, 0, 0));
            return (-1);
        }
        (void)pgstate_lsn_parse(PQgetvalue(res, 0, 2), &pg->slot_lsn); /* NULL: 0 */
        pg->slot_lost = strcmp(PQgetvalue(res, 0, 3), "lost") == 0;
    }
    return (0);
}

char *
pg_sql_slot(struct pg *pg)
{
    char *s = lit(pg, pg->slot);
    struct sbuf sql = {0};

    sbuf_printf(&sql,
                "SELECT plugin, (database = current_database())::text, "
                "coalesce(confirmed_flush_lsn::text, ''), coalesce(wal_status, '') "
                "FROM pg_replication_slots WHERE slot_name = %s",
                s);
    PQfreemem(s);
    return (sql.p);
}

static int
step_slot(struct pg *pg)
{
    return (pg_send_built(pg, pg_sql_slot(pg), pg_slot_res));
}

/* IDENTIFY_SYSTEM: systemid, timeline, xlogpos, dbname. */
int
pg_identify_res(struct pg *pg, PGresult *res)
{
    if (!pg_res_ok(pg, res, "IDENTIFY_SYSTEM"))
        return (-1);
    if (PQntuples(res) != 1 || PQnfields(res) < 2) {
        log_err("source %s: IDENTIFY_SYSTEM returned no row", pg->name);
        return (-1);
    }
    snprintf(pg->systemid, sizeof pg->systemid, "%s", PQgetvalue(res, 0, 0));
    pg->timeline = (unsigned)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    return (0);
}

static int
step_identify(struct pg *pg)
{
    return (pg_send(pg, "IDENTIFY_SYSTEM", pg_identify_res));
}

static int
step_start_res(struct pg *pg, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        log_err("source %s: START_REPLICATION failed: %s", pg->name, PQresultErrorMessage(res));
        return (-1);
    }
    pg_streaming_begin(pg);
    return (1);
}

static int
step_start(struct pg *pg)
{
    char sql[512];

    /* 0/0: resume from the slot's confirmed_flush_lsn, never from the WAL end. */
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '1', publication_names '%s')",
             pg->slot, pg->publication);
    return (pg_send(pg, sql, step_start_res));
}

static int
step_show(struct pg *pg)
{
    return (pg_send(pg, "SHOW wal_level", pg_wal_level_res));
}

/* The set-up sequence; each returns 1 when a query is in flight. */
static int (*const setup_steps[])(struct pg *) = {
    step_show, step_identify, step_tables, step_pub, step_slot, step_decide, step_start,
};

void
pg_run_step(struct pg *pg)
{
    size_t nsteps = sizeof setup_steps / sizeof *setup_steps;

    while (pg->state == PG_SETUP && (size_t)pg->step < nsteps) {
        if (setup_steps[pg->step++](pg) != 0)
            return; /* waiting for a result, or reconnecting */
    }
}

static void
pg_step_result(struct pg *pg)
{
    pg_step_f *fn = pg->step_fn;
    PGresult *res = pg->step_res;
    int r;

    pg->step_res = NULL;
    pg->step_fn = NULL;
    r = fn(pg, res);
    PQclear(res);
    if (r < 0)
        pg_schedule_reconnect(pg, "set-up failed");
    else if (r == 0)
        pg_run_step(pg);
}

void
pg_setup_input(struct pg *pg)
{
    PGresult *res;

    if (PQconsumeInput(pg->conn) != 1) {
        pg_schedule_reconnect(pg, PQerrorMessage(pg->conn));
        return;
    }
    while (pg->state == PG_SETUP && !PQisBusy(pg->conn)) {
        res = PQgetResult(pg->conn);
        if (res == NULL) {
            if (pg->step_res != NULL)
                pg_step_result(pg);
            return;
        }
        if (PQresultStatus(res) == PGRES_COPY_BOTH) {
            if (pg->step_res != NULL)
                PQclear(pg->step_res);
            pg->step_res = res;
            pg_step_result(pg); /* no NULL result follows COPY BOTH */
            return;
        }
        if (pg->step_res != NULL)
            PQclear(pg->step_res);
        pg->step_res = res;
    }
}
