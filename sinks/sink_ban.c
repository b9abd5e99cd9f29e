/*
 * Varnish BAN: "BAN" with "X-Cache-Tags: (^|,)(t1|t2|...)(,|$)", the
 * convention of FOSHttpCache's fos_ban.vcl, plus X-Host/X-Url/X-Content-Type
 * ".*" by default.  The regex is anchored on both sides over a
 * comma-separated response header, and every regex metacharacter in a tag is
 * escaped, so "name-a.b" never bans "name-axb".
 */
#include <string.h>

#include "../broker/lib/obj.h"
#include "../broker/lib/strv.h"
#include "sink.h"

static const char ban_prefix[] = "(^|,)(";
static const char ban_suffix[] = ")(,|$)";

static int
is_meta(char c)
{
    return (strchr("\\^$.|?*+()[]{}", c) != NULL);
}

static size_t
ban_cost(const char *tag)
{
    size_t n = 0;

    for (; *tag != '\0'; tag++)
        n += is_meta(*tag) ? 2 : 1;
    return (n);
}

static int
ban_configure(void **priv, const json_t *obj, struct sink_common *c, struct cfg_ctx *ctx)
{
    static const char *const defaults[] = {"X-Host: .*", "X-Url: .*", "X-Content-Type: .*"};
    size_t i;

    (void)obj;
    (void)ctx;
    for (i = 0; i < 3; i++)
        strv_push(&c->extra, &c->nextra, defaults[i]);
    *priv = NULL;
    return (0);
}

/* Escape tag into dst; returns the new length. */
static size_t
ban_escape(char *dst, const char *tag)
{
    size_t o = 0;

    for (; *tag != '\0'; tag++) {
        if (is_meta(*tag))
            dst[o++] = '\\';
        dst[o++] = *tag;
    }
    return (o);
}

static void
ban_render(const void *priv, const struct sink_common *c, const char *node_url,
           const char *const *tags, size_t n, struct reqlist *out)
{
    size_t overhead = sizeof ban_prefix - 1 + sizeof ban_suffix - 1;
    size_t start = 0, end, i, len;
    char *buf;

    (void)priv;
    (void)node_url;
    AN(c->max_header_bytes > overhead);
    buf = tp_malloc(c->max_header_bytes + 1);
    while (start < n) {
        end = sink_chunk_end(tags, n, start, c->max_header_bytes - overhead, ban_cost);
        memcpy(buf, ban_prefix, sizeof ban_prefix - 1);
        len = sizeof ban_prefix - 1;
        for (i = start; i < end; i++) {
            AN(len + 1 + ban_cost(tags[i]) + sizeof ban_suffix - 1 <= c->max_header_bytes);
            if (i > start)
                buf[len++] = '|';
            len += ban_escape(buf + len, tags[i]);
        }
        memcpy(buf + len, ban_suffix, sizeof ban_suffix);
        req_add_header(reqlist_add(out, c->method), c->header, buf);
        start = end;
    }
    free(buf);
}

static void
ban_destroy(void *priv)
{
    (void)priv;
}

const struct sink_impl sink_ban = {
    .name = "ban",
    .default_method = "BAN",
    .default_header = "X-Cache-Tags",
    .keys = NULL,
    .overhead = sizeof ban_prefix - 1 + sizeof ban_suffix - 1,
    .configure = ban_configure,
    .tag_cost = ban_cost,
    .render = ban_render,
    .destroy = ban_destroy,
    .check_online = sink_check_nodes_2xx,
};
