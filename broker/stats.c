/* The process-wide counters (stats.h): the one struct stats, its log dump and its /metrics lines.
 */
#include <inttypes.h>
#include <stdio.h>

#include "lib/log.h"
#include "lib/sbuf.h"
#include "stats.h"

struct tp_stats stats;

void
stats_log(void)
{
    char buf[2048];
    size_t o = 0;

#define TP_STATS_PRINT(name, doc)                                                                  \
    if (o < sizeof buf)                                                                            \
        o += (size_t)snprintf(buf + o, sizeof buf - o, " %s=%" PRIu64, #name, stats.name);
    TP_COUNTERS(TP_STATS_PRINT)
#undef TP_STATS_PRINT
    log_info("stats:%s", buf);
}

void
stats_metrics(struct sbuf *out)
{
#define TP_STATS_PROM(name, doc)                                                                   \
    sbuf_printf(out,                                                                               \
                "# HELP tagpurge_%s_total %s\n# TYPE tagpurge_%s_total counter\n"                  \
                "tagpurge_%s_total %" PRIu64 "\n",                                                 \
                #name, doc, #name, #name, stats.name);
    TP_COUNTERS(TP_STATS_PROM)
#undef TP_STATS_PROM
}
