/*
 * The text of the status server's /metrics and /readyz (broker/status.c).
 * Reads the pipeline only through pipeline_foreach_source(),
 * pipeline_foreach_node() and pipeline_latency(), and the global counters
 * through stats_metrics().  Loop thread only; keeps nothing between calls.
 *
 * The series names, labels and help texts are an interface: the Grafana
 * dashboard (deploy/) and test_pg_status read them.
 */
#ifndef TP_METRICS_H
#define TP_METRICS_H

struct pipeline;
struct sbuf;

/* Prometheus text of every counter and gauge, appended to out. */
void metrics_render(const struct pipeline *, struct sbuf *out);
/* 1 when every source streams and no node is failing or dirty; else 0 with JSON strings in why. */
int metrics_ready(const struct pipeline *, struct sbuf *why);

#endif
