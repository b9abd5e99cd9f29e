/*
 * tagpurge: purge HTTP caches from the database's own change stream.
 *
 *   tagpurge run   -c FILE [-v]          run the broker in the foreground
 *   tagpurge check -c FILE               validate config and mapping offline
 *   tagpurge tags  -c FILE --table T [--new JSON] [--old JSON]
 *   tagpurge --version | --help
 *
 * Exit status: 0 success, 1 runtime failure, 2 bad usage or configuration.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../connectors/connector.h"
#include "../connectors/replay.h"
#include "../sinks/discover.h"
#include "../sinks/http.h"
#include "../sinks/sink.h"
#include "config.h"
#include "lib/cfg.h"
#include "lib/log.h"
#include "lib/obj.h"
#include "notify.h"
#include "pipeline.h"
#include "stats.h"
#include "status.h"
#include "tagmap.h"
#include "tagset.h"

#ifndef TAGPURGE_VERSION
#define TAGPURGE_VERSION "0"
#endif

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: tagpurge run   -c FILE [-v]\n"
    "       tagpurge check -c FILE [--online]\n"
    "       tagpurge tags  -c FILE --table SCHEMA.TABLE [--new JSON] [--old JSON]\n"
    "       tagpurge replay -c FILE [--send] [--all] [--positional] --binlog FILE...\n"
    "       tagpurge --version | --help\n"
    "\n"
    "  run    read every source, purge every sink node; logs to stderr\n"
    "  check  validate the config and its mapping without connecting (exit 0 when valid);\n"
    "         --online also connects to each source and reports every setting to fix\n"
    "         (exit 1 when there is one)\n"
    "  tags   print the tags one row change produces, one per line:\n"
    "         --new only = INSERT, --old only = DELETE, both = UPDATE.  Values are JSON\n"
    "         strings as the database prints them, integers, or null.\n"
    "  replay decode MySQL/MariaDB binlog files offline; print each transaction's end\n"
    "         position, GTID and tags (--all: also those without tags); --send purges\n"
    "         them through the configured sinks.  Sources may be empty.  --positional:\n"
    "         columns of tables logged without names (binlog_row_metadata below FULL)\n"
    "         are @1..@n, as mysqlbinlog shows them, instead of falling back.\n"
    "\n"
    "  -c, --config FILE   configuration file (JSON)\n"
    "  -v, --verbose       debug logging\n";

struct opts {
    const char *config;
    char **binlogs;
    size_t nbinlogs;
    int send, all, positional, online;
    const char *table;
    const char *newrow, *oldrow;
    int verbose;
};

static int
usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "tagpurge: %s%s%s\n\n%s", msg, arg ? ": " : "", arg ? arg : "", usage_text);
    return (EXIT_USAGE);
}

/* Options after the command word.  0, or EXIT_USAGE. */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},
        {"table", required_argument, NULL, 't'},
        {"new", required_argument, NULL, 'n'},
        {"old", required_argument, NULL, 'o'},
        {"binlog", required_argument, NULL, 'b'},
        {"send", no_argument, NULL, 's'},
        {"all", no_argument, NULL, 'a'},
        {"online", no_argument, NULL, 'O'},
        {"positional", no_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(o, 0, sizeof *o);
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":c:v", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 't':
            o->table = optarg;
            break;
        case 'n':
            o->newrow = optarg;
            break;
        case 'o':
            o->oldrow = optarg;
            break;
        case 'b':
            o->binlogs = tp_grow(o->binlogs, o->nbinlogs, sizeof *o->binlogs);
            o->binlogs[o->nbinlogs++] = optarg;
            break;
        case 's':
            o->send = 1;
            break;
        case 'a':
            o->all = 1;
            break;
        case 'O':
            o->online = 1;
            break;
        case 'p':
            o->positional = 1;
            break;
        case ':':
            return (usage_error("option needs a value", argv[optind - 1]));
        default:
            return (usage_error("unknown option", argv[optind - 1]));
        }
    }
    /* getopt moved the other file names after --binlog here, to the end. */
    while (o->binlogs != NULL && optind < argc) {
        o->binlogs = tp_grow(o->binlogs, o->nbinlogs, sizeof *o->binlogs);
        o->binlogs[o->nbinlogs++] = argv[optind++];
    }
    if (optind < argc)
        return (usage_error("unexpected argument", argv[optind]));
    if (o->config == NULL)
        return (usage_error("-c FILE is required", NULL));
    return (0);
}

static struct config *
load_or_complain(const char *path)
{
    struct config *c;
    char err[2048];

    if (config_load(&c, path, err, sizeof err) != 0) {
        fprintf(stderr, "tagpurge: error: %s\n", err);
        return (NULL);
    }
    return (c);
}

/* Purge a tag no page carries on one node: it must answer 2xx. */
static int
check_node(const struct config *c, const struct sink *sk, const char *url, const char *tag)
{
    struct http_opts ho;
    struct reqlist reqs = {0};
    char msg[512];
    long status = 0;
    int bad = 0;

    sink_http_opts(sk, c->delivery.timeout_ms, &ho);
    sink_render(sk, url, &tag, 1, &reqs);
    if (reqs.n == 0 || http_request_sync(url, &reqs.v[0], &ho, &status, msg, sizeof msg) != 0) {
        fprintf(stderr, "tagpurge: sink %s: node %s unreachable: %s\n", sink_name(sk), url,
                reqs.n ? msg : "nothing to send");
        bad = 1;
    } else if (status < 200 || status > 299) {
        fprintf(stderr,
                "tagpurge: sink %s: node %s answers %s with HTTP %ld %s: check the node URL, "
                "\"method\", the headers (credentials) and the cache's purge ACL (for Varnish: "
                "acl purgers in tagpurge.vcl)\n",
                sink_name(sk), url, reqs.v[0].method, status, msg);
        bad = 1;
    } else {
        printf("sink %s: node %s accepts %s (HTTP %ld)\n", sink_name(sk), url, reqs.v[0].method,
               status);
    }
    reqlist_free(&reqs);
    return (bad);
}

static int
check_nodes(const struct config *c)
{
    char tag[64];
    size_t i, j;
    int problems = 0;

    snprintf(tag, sizeof tag, "tagpurge-check-%ld-%ld", (long)getpid(), (long)time(NULL));
    for (i = 0; i < c->nsinks; i++)
        for (j = 0; j < sink_nnodes(c->sinks[i]); j++) {
            const char *u = sink_node(c->sinks[i], j);
            if (discover_is_dns(u)) {
                printf("sink %s: node %s: resolved at run time, not checked\n",
                       sink_name(c->sinks[i]), u);
                continue;
            }
            problems += check_node(c, c->sinks[i], u, tag);
        }
    return (problems);
}

/* Each source's own online checks and every node; 1 when anything needs fixing. */
static int
check_online(const struct config *c)
{
    size_t i;
    int n, problems = check_nodes(c);

    for (i = 0; i < c->nsources; i++) {
        const struct source_cfg *s = &c->sources[i];
        if (s->impl->check_online == NULL) {
            fprintf(stderr, "tagpurge: source %s: no online checks for %s sources yet\n", s->name,
                    s->impl->name);
            continue;
        }
        struct conn_env env = {c->state_dir, c->max_txn_tags};
        n = s->impl->check_online(s->priv, c->map, &env);
        problems += n < 0 ? 1 : n;
        printf("source %s: %s\n", s->name,
               n == 0  ? "OK"
               : n < 0 ? "unreachable"
                       : "settings to fix (see above)");
    }
    return (problems > 0 ? 1 : 0);
}

static int
cmd_check(const struct opts *o)
{
    struct config *c = load_or_complain(o->config);
    size_t i;
    int rv;

    if (c == NULL)
        return (EXIT_USAGE);
    for (i = 0; i < c->nwarnings; i++)
        fprintf(stderr, "tagpurge: warning: %s\n", c->warnings[i]);
    printf("configuration OK: %zu sources, %zu sinks, %zu mapped tables\n", c->nsources, c->nsinks,
           tagmap_count(c->map));
    for (i = 0; !o->online && i < c->nsources; i++)
        if (strcmp(c->sources[i].impl->name, "mysql") == 0)
            printf("source %s: foreign-key cascade edges are read from the server at connect and "
                   "after DDL (check --online lists them)\n",
                   c->sources[i].name);
    rv = o->online ? check_online(c) : 0;
    config_destroy(&c);
    return (rv);
}

/*------------------------------------------------------------------------
 * tags: explain the mapping for one row change.
 */

struct row {
    const char **names;
    struct col_value *vals;
    char **owned;
    size_t n;
};

static void
row_free(struct row *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        free(r->owned[i]);
    free(r->owned);
    free(r->names);
    free(r->vals);
}

/* A JSON object of column -> string | integer | null. */
static int
row_parse(const char *what, const char *text, struct row *r)
{
    json_error_t jerr;
    json_t *obj, *v;
    const char *k;
    char buf[64];
    size_t i = 0;

    memset(r, 0, sizeof *r);
    obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL || !json_is_object(obj)) {
        fprintf(stderr, "tagpurge: error: --%s: %s\n", what,
                obj ? "expected a JSON object" : jerr.text);
        json_decref(obj);
        return (-1);
    }
    r->n = json_object_size(obj);
    r->names = tp_calloc(r->n, sizeof *r->names);
    r->vals = tp_calloc(r->n, sizeof *r->vals);
    r->owned = tp_calloc(r->n, sizeof *r->owned);
    json_object_foreach(obj, k, v)
    {
        r->names[i] = r->owned[i] = NULL;
        if (json_is_null(v)) {
            r->vals[i].state = COL_NULL;
        } else if (json_is_string(v)) {
            r->vals[i].state = COL_VALUE;
            r->vals[i].len = json_string_length(v);
            r->owned[i] = tp_malloc(r->vals[i].len + 1);
            memcpy(r->owned[i], json_string_value(v), r->vals[i].len + 1);
            r->vals[i].data = r->owned[i];
        } else if (json_is_integer(v)) {
            snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            r->owned[i] = tp_strdup(buf);
            r->vals[i].state = COL_VALUE;
            r->vals[i].data = r->owned[i];
            r->vals[i].len = strlen(buf);
        } else {
            fprintf(stderr,
                    "tagpurge: error: --%s: column \"%s\": give the value as a JSON string, "
                    "as the database prints it\n",
                    what, k);
            r->n = i;
            json_decref(obj);
            return (-1);
        }
        r->names[i] = tp_strdup(k);
        i++;
    }
    json_decref(obj);
    return (0);
}

/* Align old and new on one column list: a column missing from one image is unknown there. */
static void
merge_rows(const struct row *a, const struct row *b, const char ***names, size_t *n)
{
    size_t i, j;

    *names = tp_calloc(a->n + b->n + 1, sizeof **names);
    *n = 0;
    for (i = 0; i < a->n; i++)
        (*names)[(*n)++] = a->names[i];
    for (i = 0; i < b->n; i++) {
        for (j = 0; j < a->n; j++)
            if (strcmp(a->names[j], b->names[i]) == 0)
                break;
        if (j == a->n)
            (*names)[(*n)++] = b->names[i];
    }
}

static struct col_value *
project(const struct row *r, const char **names, size_t n)
{
    struct col_value *v = tp_calloc(n, sizeof *v);
    size_t i, j;

    for (i = 0; i < n; i++)
        for (j = 0; j < r->n; j++)
            if (strcmp(names[i], r->names[j]) == 0)
                v[i] = r->vals[j];
    return (v);
}

static int
explain(const struct tagmap_entry *e, const struct row *oldr, const struct row *newr,
        const struct opts *o)
{
    struct change c;
    struct tagset *ts = tagset_new();
    const char *const *tags;
    const char **names;
    size_t n, i;
    int flags;

    merge_rows(oldr, newr, &names, &n);
    memset(&c, 0, sizeof c);
    c.table = o->table;
    c.colnames = names;
    c.ncols = n;
    c.op = o->oldrow && o->newrow ? CHG_UPDATE : o->newrow ? CHG_INSERT : CHG_DELETE;
    c.oldv = o->oldrow ? project(oldr, names, n) : NULL;
    c.newv = o->newrow ? project(newr, names, n) : NULL;
    flags = tagmap_apply(e, &c, ts);
    tags = tagset_sorted(ts, &n);
    for (i = 0; i < n; i++)
        printf("%s\n", tags[i]);
    if (flags & TM_UNCHANGED)
        fprintf(stderr, "tagpurge: only ignore_columns changed: nothing is purged\n");
    if (flags & TM_FALLBACK)
        fprintf(stderr, "tagpurge: a value the tags need is missing: fallback tags added\n");
    if (flags & TM_OVERSIZE)
        fprintf(stderr, "tagpurge: a tag passed max_tag_bytes: fallback tags added\n");
    if (flags & TM_NOFALLBACK)
        fprintf(stderr, "tagpurge: warning: fallback needed but the entry has none\n");
    free((void *)c.oldv);
    free((void *)c.newv);
    free(names);
    tagset_destroy(&ts);
    return (0);
}

static int
cmd_tags(const struct opts *o)
{
    struct row oldr, newr;
    const struct tagmap_entry *e;
    struct config *c;
    int rv = EXIT_USAGE;

    if (o->table == NULL || (o->newrow == NULL && o->oldrow == NULL))
        return (usage_error("tags needs --table and --new and/or --old", NULL));
    c = load_or_complain(o->config);
    if (c == NULL)
        return (EXIT_USAGE);
    memset(&oldr, 0, sizeof oldr);
    memset(&newr, 0, sizeof newr);
    e = tagmap_lookup(c->map, o->table);
    if (e == NULL) {
        fprintf(stderr, "tagpurge: table %s is not in the mapping: its changes purge nothing\n",
                o->table);
        rv = 0;
    } else if ((o->oldrow == NULL || row_parse("old", o->oldrow, &oldr) == 0) &&
               (o->newrow == NULL || row_parse("new", o->newrow, &newr) == 0)) {
        rv = explain(e, &oldr, &newr, o);
    }
    row_free(&oldr);
    row_free(&newr);
    config_destroy(&c);
    return (rv);
}

static int
cmd_replay(const struct opts *o)
{
    struct config *c;
    int rv;

    if (o->nbinlogs == 0)
        return (usage_error("replay needs --binlog FILE...", NULL));
    c = load_or_complain(o->config);
    if (c == NULL)
        return (EXIT_USAGE);
    rv = binlog_replay(c, o->binlogs, o->nbinlogs, o->send, o->all, o->positional);
    config_destroy(&c);
    return (rv);
}

/*------------------------------------------------------------------------
 * run
 */

struct runner {
    uv_loop_t loop;
    struct pipeline *p;
    const char *path;
    struct config *reloaded; /* the sinks of the last reload; NULL: the start's */
    struct status *status;   /* NULL: none */
    long drain_timeout_ms;
    uv_signal_t sigterm, sigint, sigusr1, sighup;
    struct notify *notify; /* systemd's NOTIFY_SOCKET; a no-op without one */
    /* RUNNING -> DRAINING (first SIGTERM/SIGINT) -> STOPPING (drained, second signal, or a
     * failed start); pipeline_stop() is called exactly once, on entering STOPPING. */
    enum { RUNNING = 0, DRAINING, STOPPING } stopping;
    int ready;          /* READY=1 was sent: every source streamed at once */
    int reload_refused; /* the last SIGHUP kept the running configuration */
};

static void
stopped(void *arg)
{
    struct runner *r = arg;

    uv_close((uv_handle_t *)&r->sigterm, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigusr1, NULL);
    uv_close((uv_handle_t *)&r->sighup, NULL);
    notify_close(r->notify);
}

/* STATUS= for systemctl status: "streaming 1/1 sources, 2 nodes, 0 pending". */
static void
status_line(void *arg, char *buf, size_t len)
{
    struct runner *r = arg;
    struct pipeline_status st;

    pipeline_status(r->p, &st);
    snprintf(buf, len, "%s %zu/%zu sources, %zu nodes, %zu pending%s",
             r->stopping ? "stopping:" : "streaming", st.nstreaming, st.nsources, st.nnodes,
             st.pending, r->reload_refused ? "; last reload refused (see log)" : "");
}

/* A source started or stopped streaming: READY=1 the first time all stream at once. */
static void
on_state(void *arg)
{
    struct runner *r = arg;
    struct pipeline_status st;

    pipeline_status(r->p, &st);
    if (!r->ready && !r->stopping && st.nstreaming == st.nsources) {
        r->ready = 1;
        log_info("every source is streaming: ready");
        notify_ready(r->notify);
        return;
    }
    notify_status(r->notify);
}

static void
drained(void *arg)
{
    struct runner *r = arg;

    if (r->stopping == STOPPING)
        return;
    r->stopping = STOPPING;
    pipeline_stop(r->p, stopped, r);
}

/* SIGHUP: re-read the config; a broken one is reported and changes nothing. */
static void
reload(struct runner *r)
{
    struct config *c;
    char err[1024];

    /* Before start-up completed, systemd has no reload to track. */
    if (r->ready)
        notify_reloading(r->notify);
    if (config_load(&c, r->path, err, sizeof err) != 0) {
        log_err("reload refused, keeping the running configuration: %s", err);
        r->reload_refused = 1;
        goto out;
    }
    log_set_format(LOG_TEXT);
    log_init_from_env(); /* the journal's prefixes, unless JSON is asked for */
    if (c->log_json)
        log_set_format(LOG_JSON);
    pipeline_reload(r->p, c);
    /* The previous reload's sinks are no longer referenced. */
    config_destroy(&r->reloaded);
    r->reloaded = c;
    r->reload_refused = 0;
out:
    if (r->ready)
        notify_ready(r->notify);
    else
        notify_status(r->notify);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct runner *r = h->data;

    if (signum == SIGUSR1) {
        stats_log();
        return;
    }
    if (signum == SIGHUP) {
        if (!r->stopping)
            reload(r);
        return;
    }
    if (r->stopping == STOPPING)
        return;
    if (r->stopping == DRAINING) { /* a second signal while draining: stop now */
        log_info("signal %d again: stopping without waiting (what is not purged is replayed "
                 "at the next start)",
                 signum);
        r->stopping = STOPPING;
        pipeline_stop(r->p, stopped, r);
        return;
    }
    r->stopping = DRAINING;
    log_info("signal %d: draining (drain_timeout_ms %ld), then stopping", signum,
             r->drain_timeout_ms);
    notify_stopping(r->notify);
    if (r->status != NULL)
        status_close(r->status, NULL, NULL);
    r->status = NULL;
    pipeline_drain(r->p, r->drain_timeout_ms, drained, r);
}

static int
cmd_run(const struct opts *o)
{
    struct runner r;
    struct config *c;
    int rv = 1;

    log_init_from_env();
    c = load_or_complain(o->config);
    if (c == NULL)
        return (EXIT_USAGE);
    if (c->log_json)
        log_set_format(LOG_JSON);
    if (o->verbose)
        log_set_level(LOG_LVL_DEBUG);
    memset(&r, 0, sizeof r);
    AZ(uv_loop_init(&r.loop));
    signal(SIGPIPE, SIG_IGN);
    if (pipeline_new(&r.p, &r.loop, c) != 0) {
        log_err("could not start the fan-out (the HTTP engine, or the dirty-node marks above)");
        goto out;
    }
    uv_signal_init(&r.loop, &r.sigterm);
    uv_signal_init(&r.loop, &r.sigint);
    uv_signal_init(&r.loop, &r.sigusr1);
    uv_signal_init(&r.loop, &r.sighup);
    r.sigterm.data = r.sigint.data = r.sigusr1.data = r.sighup.data = &r;
    r.path = o->config;
    r.drain_timeout_ms = c->drain_timeout_ms;
    (void)notify_new(&r.notify, &r.loop, status_line, &r); /* a bad NOTIFY_SOCKET is logged */
    pipeline_on_state(r.p, on_state, &r);
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    uv_signal_start(&r.sigusr1, on_signal, SIGUSR1);
    uv_signal_start(&r.sighup, on_signal, SIGHUP);
    log_info("tagpurge %s starting: %zu sources, %zu sinks, %zu mapped tables", TAGPURGE_VERSION,
             c->nsources, c->nsinks, tagmap_count(c->map));
    /* Purging matters more than reporting: a status port in use is logged, not fatal. */
    if (c->listen[0] != '\0' && status_start(&r.status, &r.loop, c->listen, r.p) != 0 &&
        r.status != NULL) {
        status_close(r.status, NULL, NULL);
        r.status = NULL;
    }
    if (pipeline_start(r.p) != 0) {
        r.stopping = STOPPING;
        notify_stopping(r.notify);
        if (r.status != NULL)
            status_close(r.status, NULL, NULL);
        r.status = NULL;
        pipeline_stop(r.p, stopped, &r);
    } else {
        rv = 0;
        on_state(&r); /* no sources: ready at once */
    }
    uv_run(&r.loop, UV_RUN_DEFAULT);
    stats_log();
    pipeline_destroy(&r.p);
    notify_destroy(&r.notify);
    config_destroy(&r.reloaded);
    if (uv_loop_close(&r.loop) != 0)
        log_warn("event loop closed with handles still open");
out:
    config_destroy(&c);
    return (rv);
}

int
main(int argc, char **argv)
{
    struct opts o;
    const char *cmd;
    int rv;

    if (argc < 2)
        return (usage_error("a command is required", NULL));
    cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return (0);
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("tagpurge %s\n", TAGPURGE_VERSION);
        return (0);
    }
    if (strcmp(cmd, "run") != 0 && strcmp(cmd, "check") != 0 && strcmp(cmd, "tags") != 0 &&
        strcmp(cmd, "replay") != 0)
        return (usage_error("unknown command", cmd));
    rv = parse_opts(argc - 1, argv + 1, &o);
    if (rv != 0) {
        free(o.binlogs);
        return (rv);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "tagpurge: curl_global_init failed\n");
        return (1);
    }
    if (strcmp(cmd, "check") == 0)
        rv = cmd_check(&o);
    else if (strcmp(cmd, "tags") == 0)
        rv = cmd_tags(&o);
    else if (strcmp(cmd, "replay") == 0)
        rv = cmd_replay(&o);
    else
        rv = cmd_run(&o);
    curl_global_cleanup();
    free(o.binlogs);
    return (rv);
}
