/* `tagpurge run` (cmd.h): the loop, the pipeline and the status server; owns the signals
 * (drain, stop, reload, counters to the log) and the sd_notify states. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "lib/log.h"
#include "lib/obj.h"
#include "notify.h"
#include "pipeline.h"
#include "stats.h"
#include "status.h"
#include "tagmap.h"

#ifndef TAGPURGE_VERSION
#define TAGPURGE_VERSION "0"
#endif

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

int
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
