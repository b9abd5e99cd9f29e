/*
 * `tagpurge replay` (cmd.h): decodes binlog files offline and prints each transaction's end
 * position, GTID and tags, one line each ("binlog.000002:1234 0-1-45 product-1 product-list");
 * with --send, purges their union through the configured sinks with a fan-out of its own.
 *
 * A transaction cut by the end of the last file (no COMMIT) is printed too, marked
 * "incomplete", and sent: purging too much is safe.  Foreign-key cascades (my_cascade.c) are
 * not derived: the edges come from a server's information_schema, which a file does not carry.
 */
#include <stdio.h>

#include "../connectors/binlog.h"
#include "../connectors/binlog_file.h"
#include "../sinks/fanout.h"
#include "cmd.h"
#include "config.h"
#include "lib/log.h"
#include "lib/obj.h"
#include "tagmap.h"
#include "tagset.h"
#include "txn.h"

struct replay {
    const struct config *cfg;
    struct txn *txn;
    int all; /* print transactions without tags too */
    size_t ntxn, ntagged, nbroad;
    struct tagset *send; /* everything to purge, with --send */
};

static int
r_mapped(void *arg, const char *table)
{
    struct replay *r = arg;

    return (tagmap_lookup(r->cfg->map, table) != NULL);
}

static void
r_begin(void *arg)
{
    struct replay *r = arg;

    txn_reset(r->txn);
}

static void
r_change(void *arg, const struct change *c)
{
    struct replay *r = arg;

    txn_change(r->txn, c);
}

static void
r_broaden(void *arg, const char *table, const char *why)
{
    struct replay *r = arg;

    r->nbroad++;
    log_warn("replay: %s: %s: purging fallback tags", table ? table : "every mapped table", why);
    txn_broaden(r->txn, table);
}

static void
r_statement(void *arg, const char *table)
{
    struct replay *r = arg;

    (void)table;
    txn_count_statement(r->txn);
}

static void
print_txn(struct replay *r, const struct bl_pos *pos, int incomplete)
{
    struct tagset *ts = txn_finish(r->txn);
    const char *const *tags;
    size_t n, i;

    r->ntxn++;
    tags = tagset_sorted(ts, &n);
    if (n == 0 && !r->all && !incomplete) /* an incomplete one is always worth a line */
        return;
    r->ntagged += n > 0;
    printf("%s:%llu %s%s", pos->file, (unsigned long long)pos->pos, pos->gtid[0] ? pos->gtid : "-",
           incomplete ? " incomplete" : "");
    for (i = 0; i < n; i++)
        printf(" %s", tags[i]);
    printf("\n");
    if (r->send != NULL)
        tagset_merge(r->send, ts);
}

static void
r_commit(void *arg, const struct bl_pos *pos)
{
    struct replay *r = arg;

    print_txn(r, pos, 0);
    txn_reset(r->txn);
}

static void
r_abort(void *arg)
{
    struct replay *r = arg;

    txn_reset(r->txn);
}

static void
send_done(void *arg, int acked)
{
    *(int *)arg = acked;
}

/* Purge the union of every transaction's tags on every node. */
static int
replay_send(const struct config *c, struct tagset *tags)
{
    uv_loop_t loop;
    struct fanout *f;
    struct purge_tags t = {0};
    size_t n;
    int delivered = 0;

    t.tags = tagset_sorted(tags, &t.n);
    n = t.n;
    if (n == 0)
        return (0);
    AZ(uv_loop_init(&loop));
    if (fanout_new(&f, &loop, c->sinks, c->nsinks, &c->delivery, NULL) != 0)
        return (1);
    fanout_submit(f, &t, send_done, &delivered);
    while (!delivered && uv_run(&loop, UV_RUN_ONCE) != 0)
        ;
    fanout_close(f, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    log_info("replay: %zu tags purged on every node", n);
    return (delivered ? 0 : 1);
}

/* 0, or 1 when a file could not be read or delivery failed. */
static int
replay_files(const struct config *c, char *const *files, size_t nfiles, int send, int all,
             int positional)
{
    struct replay r = {c, NULL, all, 0, 0, 0, NULL};
    struct bl_callbacks cb = {&r,        r_mapped,    NULL,     NULL,    r_begin, r_change,
                              r_broaden, r_statement, r_commit, r_abort, NULL};
    struct bl_decoder *d = bl_new(&cb);
    size_t i;
    int rv = 0;

    r.txn = txn_new(c->map, c->max_txn_tags, "replay");
    r.send = send ? tagset_new() : NULL;
    bl_set_verify(d, 1);
    bl_set_positional_names(d, positional);
    for (i = 0; i < nfiles; i++)
        if (bl_feed_file(d, files[i]) != 0)
            rv = 1;
    if (bl_in_txn(d))
        print_txn(&r, bl_current(d), 1);
    fprintf(stderr, "tagpurge: replay: %zu transactions, %zu with tags, %zu broadened\n", r.ntxn,
            r.ntagged, r.nbroad);
    if (send && rv == 0)
        rv = replay_send(c, r.send);
    tagset_destroy(&r.send);
    txn_destroy(&r.txn);
    bl_destroy(&d);
    return (rv);
}

int
cmd_replay(const struct opts *o)
{
    struct config *c;
    int rv;

    if (o->nbinlogs == 0)
        return (usage_error("replay needs --binlog FILE...", NULL));
    c = load_or_complain(o->config);
    if (c == NULL)
        return (EXIT_USAGE);
    rv = replay_files(c, o->binlogs, o->nbinlogs, o->send, o->all, o->positional);
    config_destroy(&c);
    return (rv);
}
