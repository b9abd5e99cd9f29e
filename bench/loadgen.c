/*
 * loadgen: open-loop commit generator for the tagpurge benchmarks.
 *
 *   loadgen pg --conn CONNINFO         [options]
 *   loadgen my --host H --port P --user U --password-env VAR --db D [options]
 *
 *   --sql TEMPLATE  one statement per transaction (autocommit); every "{id}" is
 *                   replaced by the transaction's id
 *   --rate R        transactions per second (schedule: t0 + i / R)
 *   --count N       transactions
 *   --threads K     connections; transaction i runs on connection i % K (default 4)
 *   --first ID      id of transaction 0 (default 1)
 *   --cycle M       id = first + i % M instead of first + i (hot rows)
 *   --out FILE      one line per transaction: "id start_us commit_us", CLOCK_REALTIME
 *                   microseconds before the statement was sent and after its commit
 *                   returned
 *
 * Open loop: a transaction is sent at its scheduled time whatever happened to
 * the previous ones, so a slow consumer cannot slow the commit rate down.  A
 * connection that falls behind sends at once until it is back on schedule; the
 * summary line reports the rate achieved and the worst lateness.
 *
 * Exit status: 0 all committed, 1 a statement failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
    int pg; /* 1: PostgreSQL, 0: MySQL/MariaDB */
    const char *conninfo;
    const char *host, *user, *password, *db;
    unsigned port;
    const char *sql;
    double rate;
    long count, first, cycle;
    int threads;
    const char *out;
};

/* What each transaction recorded; written out once all threads are done. */
struct record {
    long id;
    int64_t start_us, commit_us, late_us;
};

struct worker {
    const struct opts *o;
    int index;
    struct timespec t0; /* CLOCK_MONOTONIC schedule origin, shared by all workers */
    struct record *recs;
    PGconn *pg;
    MYSQL *my;
    int failed;
};

static int64_t
now_us(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct timespec
ts_add_ns(struct timespec t, int64_t ns)
{
    ns += t.tv_nsec;
    t.tv_sec += (time_t)(ns / 1000000000);
    t.tv_nsec = (long)(ns % 1000000000);
    return t;
}

static int64_t
ts_us(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* The statement for one id: every "{id}" in the template replaced. */
static char *
render(const char *tmpl, long id)
{
    size_t cap = strlen(tmpl) * 2 + 64, len = 0;
    char *out = malloc(cap), num[32];
    int nlen = snprintf(num, sizeof num, "%ld", id);

    if (out == NULL)
        abort();
    while (*tmpl != '\0') {
        if (len + (size_t)nlen + 2 > cap) {
            cap *= 2;
            if ((out = realloc(out, cap)) == NULL)
                abort();
        }
        if (strncmp(tmpl, "{id}", 4) == 0) {
            memcpy(out + len, num, (size_t)nlen);
            len += (size_t)nlen;
            tmpl += 4;
        } else {
            out[len++] = *tmpl++;
        }
    }
    out[len] = '\0';
    return out;
}

static int
connect_worker(struct worker *w)
{
    const struct opts *o = w->o;

    if (o->pg) {
        w->pg = PQconnectdb(o->conninfo);
        if (PQstatus(w->pg) == CONNECTION_OK)
            return 0;
        fprintf(stderr, "loadgen: connect: %s", PQerrorMessage(w->pg));
        return -1;
    }
    w->my = mysql_init(NULL);
    if (w->my != NULL &&
        mysql_real_connect(w->my, o->host, o->user, o->password, o->db, o->port, NULL, 0) != NULL)
        return 0;
    fprintf(stderr, "loadgen: connect: %s\n", w->my ? mysql_error(w->my) : "out of memory");
    return -1;
}

static void
disconnect_worker(struct worker *w)
{
    if (w->pg != NULL)
        PQfinish(w->pg);
    if (w->my != NULL)
        mysql_close(w->my);
}

/* Run one statement in autocommit; 0 once the commit has returned. */
static int
exec_one(struct worker *w, const char *sql)
{
    if (w->pg != NULL) {
        PGresult *r = PQexec(w->pg, sql);
        ExecStatusType st = PQresultStatus(r);
        int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

        if (!ok)
            fprintf(stderr, "loadgen: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        return ok ? 0 : -1;
    }
    if (mysql_query(w->my, sql) != 0) {
        fprintf(stderr, "loadgen: %s: %s\n", sql, mysql_error(w->my));
        return -1;
    }
    /* A statement with a result set (none expected) must be drained. */
    mysql_free_result(mysql_store_result(w->my));
    return 0;
}

static long
txn_id(const struct opts *o, long i)
{
    return o->first + (o->cycle > 0 ? i % o->cycle : i);
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    long i;

    for (i = w->index; i < o->count && !w->failed; i += o->threads) {
        struct timespec due = ts_add_ns(w->t0, (int64_t)((double)i * 1e9 / o->rate));
        struct record *r = &w->recs[i];
        char *sql = render(o->sql, txn_id(o, i));

        /* EINTR only: the schedule is absolute, so sleeping again is exact. */
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
            ;
        r->late_us = now_us(CLOCK_MONOTONIC) - ts_us(due);
        r->id = txn_id(o, i);
        r->start_us = now_us(CLOCK_REALTIME);
        if (exec_one(w, sql) != 0)
            w->failed = 1;
        r->commit_us = now_us(CLOCK_REALTIME);
        free(sql);
    }
    return NULL;
}

static int
write_records(const struct opts *o, const struct record *recs)
{
    FILE *f;
    long i;

    if (o->out == NULL)
        return 0;
    if ((f = fopen(o->out, "w")) == NULL) {
        perror(o->out);
        return -1;
    }
    for (i = 0; i < o->count; i++)
        fprintf(f, "%ld %" PRId64 " %" PRId64 "\n", recs[i].id, recs[i].start_us,
                recs[i].commit_us);
    return fclose(f) == 0 ? 0 : -1;
}

/* Achieved rate over the whole run and the worst lateness against the schedule. */
static void
summary(const struct opts *o, const struct record *recs)
{
    int64_t first = recs[0].start_us, last = recs[0].commit_us, late = 0;
    long i;

    for (i = 0; i < o->count; i++) {
        if (recs[i].start_us < first)
            first = recs[i].start_us;
        if (recs[i].commit_us > last)
            last = recs[i].commit_us;
        if (recs[i].late_us > late)
            late = recs[i].late_us;
    }
    printf("loadgen: %ld transactions in %.3f s: %.1f txn/s (target %.1f), max late %.3f ms\n",
           o->count, (double)(last - first) / 1e6,
           o->count > 1 ? (double)(o->count - 1) * 1e6 / (double)(last - first) : 0.0, o->rate,
           (double)late / 1e3);
}

static int
run(const struct opts *o)
{
    struct worker *ws = calloc((size_t)o->threads, sizeof *ws);
    struct record *recs = calloc((size_t)o->count, sizeof *recs);
    pthread_t *tids = calloc((size_t)o->threads, sizeof *tids);
    struct timespec t0;
    int i, failed = 0;

    if (ws == NULL || recs == NULL || tids == NULL)
        abort();
    for (i = 0; i < o->threads; i++) {
        ws[i] = (struct worker){.o = o, .index = i, .recs = recs};
        if (connect_worker(&ws[i]) != 0)
            failed = 1;
    }
    /* Every connection is open before the clock starts: no connect in the schedule. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    t0 = ts_add_ns(t0, 20 * 1000000);
    for (i = 0; i < o->threads && !failed; i++) {
        ws[i].t0 = t0;
        if (pthread_create(&tids[i], NULL, worker_main, &ws[i]) != 0)
            abort();
    }
    for (i = 0; i < o->threads && !failed; i++)
        pthread_join(tids[i], NULL);
    for (i = 0; i < o->threads; i++) {
        failed |= ws[i].failed;
        disconnect_worker(&ws[i]);
    }
    if (!failed) {
        summary(o, recs);
        failed = write_records(o, recs) != 0;
    }
    free(ws);
    free(recs);
    free(tids);
    return failed ? 1 : 0;
}

static int
usage(void)
{
    fprintf(stderr, "usage: loadgen pg --conn CONNINFO | my --host H --port P --user U "
                    "--password-env VAR --db D\n"
                    "       --sql TEMPLATE --rate R --count N [--threads K] [--first ID] "
                    "[--cycle M] [--out FILE]\n");
    return 2;
}

static int
parse_opt(struct opts *o, int c, const char *arg)
{
    switch (c) {
    case 'c':
        o->conninfo = arg;
        break;
    case 'h':
        o->host = arg;
        break;
    case 'P':
        o->port = (unsigned)strtoul(arg, NULL, 10);
        break;
    case 'u':
        o->user = arg;
        break;
    case 'w':
        o->password = getenv(arg);
        break;
    case 'd':
        o->db = arg;
        break;
    case 's':
        o->sql = arg;
        break;
    case 'r':
        o->rate = strtod(arg, NULL);
        break;
    case 'n':
        o->count = strtol(arg, NULL, 10);
        break;
    case 't':
        o->threads = atoi(arg);
        break;
    case 'f':
        o->first = strtol(arg, NULL, 10);
        break;
    case 'm':
        o->cycle = strtol(arg, NULL, 10);
        break;
    case 'o':
        o->out = arg;
        break;
    default:
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"conn", 1, NULL, 'c'},         {"host", 1, NULL, 'h'},
        {"port", 1, NULL, 'P'},         {"user", 1, NULL, 'u'},
        {"password-env", 1, NULL, 'w'}, {"db", 1, NULL, 'd'},
        {"sql", 1, NULL, 's'},          {"rate", 1, NULL, 'r'},
        {"count", 1, NULL, 'n'},        {"threads", 1, NULL, 't'},
        {"first", 1, NULL, 'f'},        {"cycle", 1, NULL, 'm'},
        {"out", 1, NULL, 'o'},          {NULL, 0, NULL, 0}};
    struct opts o = {.host = "127.0.0.1", .port = 3306, .threads = 4, .first = 1};
    int c;

    if (argc < 2 || (strcmp(argv[1], "pg") != 0 && strcmp(argv[1], "my") != 0))
        return usage();
    o.pg = strcmp(argv[1], "pg") == 0;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (parse_opt(&o, c, optarg) != 0)
            return usage();
    if (optind != argc || o.sql == NULL || o.rate <= 0 || o.count <= 0 || o.threads <= 0 ||
        (o.pg && o.conninfo == NULL) || (!o.pg && (o.user == NULL || o.db == NULL)))
        return usage();
    return run(&o);
}
