/* /metrics and /readyz text (metrics.h): renders the counters, the sources and the nodes the
 * pipeline reports through its iteration functions; owns no state between scrapes. */
#include <stdint.h>
#include <stdlib.h>

#include "../sinks/fanout.h"
#include "lib/obj.h"
#include "lib/sbuf.h"
#include "metrics.h"
#include "pipeline.h"
#include "stats.h"

static void
label_escape(struct sbuf *out, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\' || *v == '"')
            sbuf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            sbuf_printf(out, "\\n");
        else
            sbuf_printf(out, "%c", *v);
    }
}

static void
metric_head(struct sbuf *out, const char *name, const char *type, const char *help)
{
    sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{source="...  (the caller closes the label and the braces). */
static void
source_series(struct sbuf *out, const char *name, const struct source_info *s)
{
    sbuf_printf(out, "%s{source=\"", name);
    label_escape(out, s->name);
}

/* name{source="..."} value, for every source. */
#define SOURCE_METRIC(out, p, mname, type, help, fmt, expr)                                        \
    do {                                                                                           \
        metric_head(out, mname, type, help);                                                       \
        for (size_t i_ = 0; i_ < (p)->n; i_++) {                                                   \
            const struct source_info *s = &(p)->v[i_];                                             \
            source_series(out, mname, s);                                                          \
            sbuf_printf(out, "\"} " fmt "\n", expr);                                               \
        }                                                                                          \
    } while (0)

/* Every source's snapshot, taken once per scrape so each series sees the same numbers. */
struct sources {
    struct source_info *v;
    size_t n;
};

static void
collect_source(void *arg, const struct source_info *si)
{
    struct sources *ss = arg;

    ss->v = tp_grow(ss->v, ss->n, sizeof *ss->v);
    ss->v[ss->n++] = *si;
}

static void
metrics_sources(const struct sources *p, struct sbuf *out)
{
    size_t i;

    SOURCE_METRIC(out, p, "tagpurge_source_streaming", "gauge",
                  "1 while the source streams its change log", "%d", s->streaming);
    SOURCE_METRIC(out, p, "tagpurge_source_changes_total", "counter",
                  "Row changes read (committed transactions)", "%llu",
                  (unsigned long long)s->changes);
    SOURCE_METRIC(out, p, "tagpurge_source_transactions_total", "counter", "Transactions committed",
                  "%llu", (unsigned long long)s->txns);
    SOURCE_METRIC(out, p, "tagpurge_source_tags_total", "counter",
                  "Tags emitted, after per-transaction deduplication", "%llu",
                  (unsigned long long)s->tags);
    SOURCE_METRIC(out, p, "tagpurge_source_fallback_purges_total", "counter",
                  "Changes that purged fallback tags", "%llu", (unsigned long long)s->fallbacks);
    SOURCE_METRIC(out, p, "tagpurge_source_pending_transactions", "gauge",
                  "Committed transactions not yet purged on every node", "%zu", s->pending);
    SOURCE_METRIC(out, p, "tagpurge_source_lag_seconds", "gauge",
                  "Age of the oldest commit not yet purged on every node (0: none)", "%.3f",
                  s->lag_s);
    SOURCE_METRIC(out, p, "tagpurge_source_last_commit_timestamp_seconds", "gauge",
                  "Commit time of the newest transaction read", "%.3f",
                  (double)s->last_commit_us / 1e6);
    SOURCE_METRIC(out, p, "tagpurge_source_checkpoints_total", "counter",
                  "Checkpoint advances confirmed to the source", "%llu",
                  (unsigned long long)s->checkpoints);
    SOURCE_METRIC(out, p, "tagpurge_source_released_bytes_total", "counter",
                  "Log bytes the checkpoint passed while a node was dirty (down past "
                  "flush_after_down_s): the WAL/binlog retention a dead node did not hold",
                  "%llu", (unsigned long long)s->released_bytes);
    SOURCE_METRIC(out, p, "tagpurge_source_released_transactions_total", "counter",
                  "Transactions confirmed while a node was dirty", "%llu",
                  (unsigned long long)s->released_txns);
    metric_head(out, "tagpurge_source_lag_bytes", "gauge",
                "Server log end minus the checkpoint (PostgreSQL: WAL bytes)");
    for (i = 0; i < p->n; i++) {
        const struct source_info *s = &p->v[i];
        if (!s->has_lag_bytes)
            continue;
        source_series(out, "tagpurge_source_lag_bytes", s);
        sbuf_printf(out, "\"} %llu\n", (unsigned long long)s->lag_bytes);
    }
    metric_head(out, "tagpurge_source_checkpoint_info", "gauge",
                "The position confirmed to the source (label position)");
    for (i = 0; i < p->n; i++) {
        const struct source_info *s = &p->v[i];
        if (!s->has_position)
            continue;
        source_series(out, "tagpurge_source_checkpoint_info", s);
        sbuf_printf(out, "\",position=\"");
        label_escape(out, s->position);
        sbuf_printf(out, "\"} 1\n");
    }
}

struct node_out {
    struct sbuf *out;
    int part;
};

static void
node_labels(struct sbuf *out, const struct node_info *ni)
{
    sbuf_printf(out, "{sink=\"");
    label_escape(out, ni->sink);
    sbuf_printf(out, "\",node=\"");
    label_escape(out, ni->url);
    sbuf_printf(out, "\"");
}

static void
node_metric(void *arg, const struct node_info *ni)
{
    struct node_out *no = arg;
    struct sbuf *out = no->out;
    size_t i;

    switch (no->part) {
    case 0:
        sbuf_printf(out, "tagpurge_node_up");
        node_labels(out, ni);
        sbuf_printf(out, "} %d\n", !ni->failing);
        break;
    case 1:
        sbuf_printf(out, "tagpurge_node_state");
        node_labels(out, ni);
        sbuf_printf(out, ",state=\"%s\"} 1\n", ni->state);
        break;
    case 2:
        sbuf_printf(out, "tagpurge_node_pending_tags");
        node_labels(out, ni);
        sbuf_printf(out, "} %zu\n", ni->pending_tags);
        sbuf_printf(out, "tagpurge_node_pending_purges");
        node_labels(out, ni);
        sbuf_printf(out, "} %zu\n", ni->pending_purges);
        break;
    case 3:
        for (i = 0; i < ni->ncodes; i++) {
            sbuf_printf(out, "tagpurge_node_requests_total");
            node_labels(out, ni);
            if (ni->codes[i].code > 0)
                sbuf_printf(out, ",code=\"%ld\"", ni->codes[i].code);
            else
                sbuf_printf(out, ",code=\"%s\"", ni->codes[i].code == 0 ? "error" : "other");
            sbuf_printf(out, "} %llu\n", (unsigned long long)ni->codes[i].n);
        }
        break;
    case 4:
        sbuf_printf(out, "tagpurge_node_retries_total");
        node_labels(out, ni);
        sbuf_printf(out, "} %llu\n", (unsigned long long)ni->retries);
        sbuf_printf(out, "tagpurge_node_escalations_total");
        node_labels(out, ni);
        sbuf_printf(out, "} %llu\n", (unsigned long long)ni->escalations);
        break;
    case 5:
        sbuf_printf(out, "tagpurge_node_dirty");
        node_labels(out, ni);
        sbuf_printf(out, "} %d\n", ni->dirty);
        sbuf_printf(out, "tagpurge_node_dirty_releases_total");
        node_labels(out, ni);
        sbuf_printf(out, "} %llu\n", (unsigned long long)ni->dirty_releases);
        break;
    }
}

static void
metrics_nodes(const struct pipeline *p, struct sbuf *out)
{
    static const char *const heads[][3] = {
        {"tagpurge_node_up", "gauge", "1 unless the node's last request failed"},
        {"tagpurge_node_state", "gauge", "The node's delivery state (label state)"},
        {"tagpurge_node_pending_tags", "gauge",
         "Tags queued or in flight for the node (tagpurge_node_pending_purges: batches)"},
        {"tagpurge_node_requests_total", "counter",
         "Purge requests answered, by HTTP status (error: no answer)"},
        {"tagpurge_node_retries_total", "counter",
         "Retries scheduled (tagpurge_node_escalations_total: backlogs made broad)"},
        {"tagpurge_node_dirty", "gauge",
         "1 while the node's next request must be its broad purge (down past flush_after_down_s, "
         "or marked in dirty.json; tagpurge_node_dirty_releases_total: purges it released then)"},
    };
    struct node_out no = {out, 0};

    if (!pipeline_has_fanout(p))
        return;
    for (no.part = 0; no.part < (int)(sizeof heads / sizeof heads[0]); no.part++) {
        metric_head(out, heads[no.part][0], heads[no.part][1], heads[no.part][2]);
        pipeline_foreach_node(p, node_metric, &no);
    }
}

static void
metrics_latency(const struct pipeline *p, struct sbuf *out)
{
    struct pipeline_latency l;
    uint64_t cum = 0;
    size_t k;

    pipeline_latency(p, &l);
    metric_head(out, "tagpurge_delivery_latency_seconds", "histogram",
                "Database commit to every node acknowledged, per batch");
    for (k = 0; k < l.nbounds; k++) {
        cum += l.buckets[k];
        sbuf_printf(out, "tagpurge_delivery_latency_seconds_bucket{le=\"%g\"} %llu\n", l.bounds[k],
                    (unsigned long long)cum);
    }
    cum += l.buckets[l.nbounds];
    sbuf_printf(out, "tagpurge_delivery_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
    sbuf_printf(out, "tagpurge_delivery_latency_seconds_sum %.6f\n", l.sum);
    sbuf_printf(out, "tagpurge_delivery_latency_seconds_count %llu\n", (unsigned long long)l.count);
}

void
metrics_render(const struct pipeline *p, struct sbuf *out)
{
    struct sources ss = {NULL, 0};

    pipeline_foreach_source(p, collect_source, &ss);
    stats_metrics(out);
    metrics_sources(&ss, out);
    free(ss.v);
    metrics_nodes(p, out);
    metrics_latency(p, out);
}

static void
ready_node(void *arg, const struct node_info *ni)
{
    struct sbuf *why = arg;

    if (ni->failing)
        sbuf_printf(why, "%s\"sink %s: node %s is failing (%s)\"", why->len > 0 ? ", " : "",
                    ni->sink, ni->url, ni->state);
    if (ni->dirty)
        sbuf_printf(why, "%s\"sink %s: node %s is dirty (its broad purge is not acknowledged)\"",
                    why->len > 0 ? ", " : "", ni->sink, ni->url);
}

static void
ready_source(void *arg, const struct source_info *si)
{
    struct sbuf *why = arg;

    if (!si->streaming)
        sbuf_printf(why, "%s\"source %s is not streaming\"", why->len > 0 ? ", " : "", si->name);
}

int
metrics_ready(const struct pipeline *p, struct sbuf *why)
{
    pipeline_foreach_source(p, ready_source, why);
    pipeline_foreach_node(p, ready_node, why);
    return (why->len == 0);
}
