/*
 * Helpers shared by the sink unit tests: configure a sink from JSON text
 * ("sink.json", max_tag_bytes 1024) and read a rendered request's header.
 */
#ifndef TP_TEST_SINKUTIL_H
#define TP_TEST_SINKUTIL_H

#include <string.h>

#include "../../broker/lib/cfg.h"
#include "../../sinks/sink.h"
#include "test.h"

static struct sink *
make(const char *json, const char **err)
{
    static char errbuf[1024];
    struct cfg_ctx *ctx = cfg_ctx_new("sink.json", json);
    json_t *obj = json_loads(json, 0, NULL);
    struct sink *s = NULL;

    ASSERT(obj != NULL);
    *err = NULL;
    if (sink_configure(&s, obj, 1024, ctx) != 0) {
        snprintf(errbuf, sizeof errbuf, "%s", cfg_errmsg(ctx));
        *err = errbuf;
        sink_destroy(&s);
    }
    json_decref(obj);
    cfg_ctx_destroy(&ctx);
    return (s);
}

static const char *
header_value(const struct http_req *r, const char *name)
{
    size_t i, n = strlen(name);

    for (i = 0; i < r->nheaders; i++)
        if (strncmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
            return (r->headers[i] + n + 2);
    return (NULL);
}

#endif
