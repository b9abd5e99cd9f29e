#include <stdio.h>
#include <string.h>

#include "../broker/cfg.h"
#include "../broker/obj.h"
#include "sink.h"

extern const struct sink_impl sink_xkey;
extern const struct sink_impl sink_ban;

/* The registry of sink types.  To add one: implement struct sink_impl in
 * sink_NAME.c and list it here. */
static const struct sink_impl *const registry[] = {
    &sink_xkey,
    &sink_ban,
    NULL,
};

#define DEFAULT_MAX_HEADER_BYTES 7500

struct sink {
    unsigned magic;
#define SINK_MAGIC 0x51c4e3a0
    const struct sink_impl *impl;
    void *priv;
    struct sink_common common;
    char *name, *method, *header;
    char **nodes;
    size_t nnodes;
};

struct http_req *
reqlist_add(struct reqlist *l, const char *method)
{
    struct http_req *r;

    l->v = tp_realloc(l->v, (l->n + 1) * sizeof *l->v);
    r = &l->v[l->n++];
    memset(r, 0, sizeof *r);
    r->method = tp_strdup(method);
    return (r);
}

void
req_add_header(struct http_req *r, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;

    r->headers = tp_realloc(r->headers, (r->nheaders + 1) * sizeof *r->headers);
    r->headers[r->nheaders] = tp_malloc(n);
    snprintf(r->headers[r->nheaders], n, "%s: %s", name, value);
    r->nheaders++;
}

void
reqlist_free(struct reqlist *l)
{
    size_t i, j;

    for (i = 0; i < l->n; i++) {
        for (j = 0; j < l->v[i].nheaders; j++)
            free(l->v[i].headers[j]);
        free(l->v[i].headers);
        free(l->v[i].method);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

size_t
sink_chunk_end(const char *const *tags, size_t n, size_t start, size_t budget,
               size_t (*cost)(const char *))
{
    size_t i = start, used = 0, c;

    while (i < n) {
        c = cost(tags[i]) + (i > start ? 1 : 0);
        if (i > start && used + c > budget)
            break;
        used += c;
        i++;
    }
    return (i);
}

static const struct sink_impl *
find_impl(const char *type)
{
    size_t i;

    for (i = 0; registry[i] != NULL; i++)
        if (strcmp(registry[i]->name, type) == 0)
            return (registry[i]);
    return (NULL);
}

/* Header names and values are fixed config strings: refuse CR/LF and colons in names. */
static int
header_ok(const char *s, int is_name)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return (0);
        if (is_name && (*s == ':' || *s == ' '))
            return (0);
    }
    return (1);
}

static int
parse_headers(struct sink *s, const json_t *obj, struct cfg_ctx *ctx)
{
    json_t *h = json_object_get(obj, "headers"), *v;
    const char *k;
    size_t n;
    int rv = 0;

    if (h == NULL)
        return (0);
    cfg_push_key(ctx, "headers");
    if (!json_is_object(h)) {
        rv = cfg_error(ctx, "expected an object of header names to values");
        goto out;
    }
    /* Configured headers replace the type's defaults wholesale. */
    while (s->common.nextra > 0)
        free(s->common.extra[--s->common.nextra]);
    json_object_foreach(h, k, v)
    {
        cfg_push_key(ctx, k);
        if (!header_ok(k, 1) || *k == '\0')
            rv = cfg_error_key(ctx, "invalid header name");
        else if (!json_is_string(v) || !header_ok(json_string_value(v), 0))
            rv = cfg_error(ctx, "expected a header value without control characters");
        cfg_pop(ctx);
        if (rv != 0)
            goto out;
        n = strlen(k) + json_string_length(v) + 3;
        s->common.extra = tp_realloc(s->common.extra, (s->common.nextra + 1) * sizeof(char *));
        s->common.extra[s->common.nextra] = tp_malloc(n);
        snprintf(s->common.extra[s->common.nextra++], n, "%s: %s", k, json_string_value(v));
    }
out:
    cfg_pop(ctx);
    return (rv);
}

static int
parse_nodes(struct sink *s, const json_t *obj, struct cfg_ctx *ctx)
{
    json_t *arr = json_object_get(obj, "nodes"), *v;
    size_t i;
    int rv = 0;

    if (arr == NULL)
        return (cfg_error(ctx, "missing required key \"nodes\""));
    cfg_push_key(ctx, "nodes");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        rv = cfg_error(ctx, "expected a non-empty array of node URLs");
        goto out;
    }
    s->nodes = tp_calloc(json_array_size(arr), sizeof *s->nodes);
    json_array_foreach(arr, i, v)
    {
        const char *u = json_string_value(v);
        cfg_push_idx(ctx, i);
        if (u == NULL || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
            !header_ok(u, 0) || strchr(u, ' ') != NULL)
            rv = cfg_error(ctx, "expected a node URL such as \"http://127.0.0.1:6081\"");
        cfg_pop(ctx);
        if (rv != 0)
            goto out;
        s->nodes[s->nnodes++] = tp_strdup(u);
    }
out:
    cfg_pop(ctx);
    return (rv);
}

static int
check_keys(const struct sink_impl *impl, const json_t *obj, struct cfg_ctx *ctx)
{
    static const char *const common[] = {
        "name", "type", "nodes", "method", "header", "max_header_bytes", "headers"};
    const char *allowed[32];
    size_t n = 0, i;

    for (i = 0; i < sizeof common / sizeof *common; i++)
        allowed[n++] = common[i];
    for (i = 0; impl->keys != NULL && impl->keys[i] != NULL && n < 31; i++)
        allowed[n++] = impl->keys[i];
    allowed[n] = NULL;
    return (cfg_check_keys(ctx, obj, allowed));
}

static int
parse_common(struct sink *s, const json_t *obj, size_t max_tag_bytes, struct cfg_ctx *ctx)
{
    const char *method = s->impl->default_method, *header = s->impl->default_header;
    long long mhb = DEFAULT_MAX_HEADER_BYTES;
    size_t worst;
    char probe[4096];

    if (cfg_get_str(ctx, obj, "method", 0, &method) < 0 ||
        cfg_get_str(ctx, obj, "header", 0, &header) < 0 ||
        cfg_get_int(ctx, obj, "max_header_bytes", 0, 64, 1 << 20, &mhb) < 0)
        return (-1);
    if (!header_ok(method, 1) || *method == '\0')
        return (cfg_error(ctx, "invalid method \"%s\"", method));
    if (!header_ok(header, 1) || *header == '\0')
        return (cfg_error(ctx, "invalid header name \"%s\"", header));
    /* The longest tag must fit in one request, whatever its bytes. */
    memset(probe, '.', sizeof probe - 1);
    probe[max_tag_bytes < sizeof probe ? max_tag_bytes : sizeof probe - 1] = '\0';
    worst = s->impl->tag_cost(probe) + s->impl->overhead;
    if ((size_t)mhb < worst) {
        cfg_push_key(ctx, "max_header_bytes");
        cfg_error(ctx, "%lld is too small for one tag of max_tag_bytes (%zu): need at least %zu",
                  mhb, max_tag_bytes, worst);
        cfg_pop(ctx);
        return (-1);
    }
    s->method = tp_strdup(method);
    s->header = tp_strdup(header);
    s->common.method = s->method;
    s->common.header = s->header;
    s->common.max_header_bytes = (size_t)mhb;
    return (0);
}

int
sink_configure(struct sink **sp, const json_t *obj, size_t max_tag_bytes, struct cfg_ctx *ctx)
{
    const char *name = NULL, *type = NULL;
    struct sink *s;

    *sp = NULL;
    if (cfg_expect_object(ctx, obj, "a sink") != 0 || cfg_get_str(ctx, obj, "name", 1, &name) < 0 ||
        cfg_get_str(ctx, obj, "type", 1, &type) < 0)
        return (-1);
    ALLOC_OBJ(s, SINK_MAGIC);
    *sp = s;
    s->name = tp_strdup(name);
    s->common.name = s->name;
    s->impl = find_impl(type);
    if (s->impl == NULL) {
        cfg_push_key(ctx, "type");
        cfg_error(ctx, "unknown sink type \"%s\" (known: xkey, ban)", type);
        cfg_pop(ctx);
        return (-1);
    }
    if (check_keys(s->impl, obj, ctx) != 0 || parse_nodes(s, obj, ctx) != 0 ||
        parse_common(s, obj, max_tag_bytes, ctx) != 0 ||
        s->impl->configure(&s->priv, obj, &s->common, ctx) != 0 || parse_headers(s, obj, ctx) != 0)
        return (-1);
    return (0);
}

void
sink_destroy(struct sink **sp)
{
    struct sink *s = *sp;
    size_t i;

    if (s == NULL)
        return;
    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    if (s->impl != NULL && s->priv != NULL)
        s->impl->destroy(s->priv);
    for (i = 0; i < s->nnodes; i++)
        free(s->nodes[i]);
    for (i = 0; i < s->common.nextra; i++)
        free(s->common.extra[i]);
    free(s->common.extra);
    free(s->nodes);
    free(s->name);
    free(s->method);
    free(s->header);
    FREE_OBJ(s);
    *sp = NULL;
}

const char *
sink_name(const struct sink *s)
{
    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    return (s->name);
}

size_t
sink_nnodes(const struct sink *s)
{
    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    return (s->nnodes);
}

const char *
sink_node(const struct sink *s, size_t i)
{
    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    AN(i < s->nnodes);
    return (s->nodes[i]);
}

void
sink_render(const struct sink *s, const char *const *tags, size_t n, struct reqlist *out)
{
    size_t i, first = out->n;

    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    s->impl->render(s->priv, &s->common, tags, n, out);
    for (; first < out->n; first++)
        for (i = 0; i < s->common.nextra; i++) {
            struct http_req *r = &out->v[first];
            r->headers = tp_realloc(r->headers, (r->nheaders + 1) * sizeof *r->headers);
            r->headers[r->nheaders++] = tp_strdup(s->common.extra[i]);
        }
}
