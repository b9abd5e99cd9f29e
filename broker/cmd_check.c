/* `tagpurge check` (cmd.h): validates the config and its mapping; with --online asks each
 * source and each sink to check itself against the live servers and nodes. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../connectors/connector.h"
#include "../sinks/sink.h"
#include "cmd.h"
#include "config.h"
#include "tagmap.h"

/* Each sink checks its nodes (sink.h check_online); the tag is the same for all. */
static int
check_sinks(const struct config *c)
{
    char tag[64];
    size_t i;
    int problems = 0;

    snprintf(tag, sizeof tag, "tagpurge-check-%ld-%ld", (long)getpid(), (long)time(NULL));
    for (i = 0; i < c->nsinks; i++)
        problems += sink_check_online(c->sinks[i], c->delivery.timeout_ms, tag);
    return (problems);
}

/* Each source's own online checks and every node; 1 when anything needs fixing. */
static int
check_online(const struct config *c)
{
    size_t i;
    int n, problems = check_sinks(c);

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
