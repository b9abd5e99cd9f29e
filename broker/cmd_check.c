/* `tagpurge check` (cmd.h): validates the config and its mapping; with --online asks each
 * source and each sink to check itself against the live servers and nodes. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../connectors/connector.h"
#include "../sinks/discover.h"
#include "../sinks/http.h"
#include "../sinks/sink.h"
#include "cmd.h"
#include "config.h"
#include "tagmap.h"

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

int
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
