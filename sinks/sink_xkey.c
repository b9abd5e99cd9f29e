/*
 * Varnish xkey: "PURGEKEYS" with "xkey-purge: t1 t2 ..." (or xkey-softpurge
 * when "soft": true), the convention of FOSHttpCache's fos_tags_xkey.vcl.
 * Tags are space-separated; a request is split on tag boundaries so the
 * header value never passes max_header_bytes.  Never repeat the header to
 * split: VCL sees only the first of duplicate headers.
 */
#include <string.h>

#include "../broker/lib/cfg.h"
#include "../broker/lib/obj.h"
#include "sink.h"

struct xkey {
    unsigned magic;
#define XKEY_MAGIC 0x3e1f9a77
    char *header;
};

static const char *const xkey_keys[] = {"soft", NULL};

static size_t
xkey_cost(const char *tag)
{
    return (strlen(tag));
}

static int
xkey_configure(void **priv, const json_t *obj, struct sink_common *c, struct cfg_ctx *ctx)
{
    struct xkey *x;
    int soft = 0;

    if (cfg_get_bool(ctx, obj, "soft", 0, &soft) < 0)
        return (-1);
    ALLOC_OBJ(x, XKEY_MAGIC);
    /* An explicit "header" wins over "soft". */
    if (json_object_get(obj, "header") == NULL && soft)
        x->header = tp_strdup("xkey-softpurge");
    else
        x->header = tp_strdup(c->header);
    *priv = x;
    return (0);
}

static void
xkey_render(const void *priv, const struct sink_common *c, const char *node_url,
            const char *const *tags, size_t n, struct reqlist *out)
{
    (void)node_url;
    const struct xkey *x = priv;
    size_t start = 0, end, i, len;
    char *buf;

    CHECK_OBJ_NOTNULL(x, XKEY_MAGIC);
    buf = tp_malloc(c->max_header_bytes + 1);
    while (start < n) {
        end = sink_chunk_end(tags, n, start, c->max_header_bytes, xkey_cost);
        len = 0;
        for (i = start; i < end; i++) {
            size_t tl = strlen(tags[i]);
            if (i > start)
                buf[len++] = ' ';
            AN(len + tl <= c->max_header_bytes); /* config guarantees one tag fits */
            memcpy(buf + len, tags[i], tl);
            len += tl;
        }
        buf[len] = '\0';
        req_add_header(reqlist_add(out, c->method), x->header, buf);
        start = end;
    }
    free(buf);
}

static void
xkey_destroy(void *priv)
{
    struct xkey *x = priv;

    CHECK_OBJ_NOTNULL(x, XKEY_MAGIC);
    free(x->header);
    FREE_OBJ(x);
}

const struct sink_impl sink_xkey = {
    .name = "xkey",
    .default_method = "PURGEKEYS",
    .default_header = "xkey-purge",
    .keys = xkey_keys,
    .overhead = 0,
    .configure = xkey_configure,
    .tag_cost = xkey_cost,
    .render = xkey_render,
    .destroy = xkey_destroy,
    .check_online = sink_check_nodes_2xx,
};
