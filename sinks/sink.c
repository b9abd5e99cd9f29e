/* The sink registry and the keys every sink shares (sink.h): owns each configured struct sink,
 * its nodes and extra header lines, and builds request lists from tags. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../broker/lib/cfg.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/secret.h"
#include "../broker/lib/strv.h"
#include "discover.h"
#include "http.h"
#include "sink.h"

extern const struct sink_impl sink_xkey;
extern const struct sink_impl sink_ban;
extern const struct sink_impl sink_http;

/* The registry of sink types.  To add one: implement struct sink_impl in
 * sink_NAME.c and list it here. */
static const struct sink_impl *const registry[] = {
    &sink_xkey,
    &sink_ban,
    &sink_http,
    NULL,
};

#define DEFAULT_MAX_HEADER_BYTES 7500

struct sink {
    unsigned magic;
#define SINK_MAGIC 0x51c4e3a0
    const struct sink_impl *impl;
    void *priv;
    struct sink_common common;
    struct sink_opts opts;
    char *name, *method, *header;
    char *after, *ca_file, *client_cert, *client_key;
    char **nodes;
    size_t nnodes;
    struct http_req flush; /* method, url, headers, body; valid when opts.has_flush */
};

struct http_req *
reqlist_add(struct reqlist *l, const char *method)
{
    struct http_req *r;

    l->v = tp_grow(l->v, l->n, sizeof *l->v);
    r = &l->v[l->n++];
    memset(r, 0, sizeof *r);
    r->method = tp_strdup(method);
    return (r);
}

void
req_add_header(struct http_req *r, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;

    r->headers = tp_grow(r->headers, r->nheaders, sizeof *r->headers);
    r->headers[r->nheaders] = tp_malloc(n);
    snprintf(r->headers[r->nheaders], n, "%s: %s", name, value);
    r->nheaders++;
}

void
req_add_line(struct http_req *r, const char *line)
{
    r->headers = tp_grow(r->headers, r->nheaders, sizeof *r->headers);
    r->headers[r->nheaders++] = tp_strdup(line);
}

void
req_set_url(struct http_req *r, const char *url)
{
    free(r->url);
    r->url = url != NULL ? tp_strdup(url) : NULL;
}

void
req_set_body(struct http_req *r, const char *body, size_t len)
{
    free(r->body);
    r->body = tp_malloc(len + 1);
    memcpy(r->body, body, len);
    r->body[len] = '\0';
    r->bodylen = len;
}

static void
req_clear(struct http_req *r)
{
    size_t j;

    for (j = 0; j < r->nheaders; j++) {
        memset(r->headers[j], 0, strlen(r->headers[j])); /* may hold a token */
        free(r->headers[j]);
    }
    free(r->headers);
    free(r->method);
    free(r->url);
    free(r->body);
    memset(r, 0, sizeof *r);
}

void
reqlist_free(struct reqlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        req_clear(&l->v[i]);
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

/* A secret header value from {"env": NAME} or {"file": PATH}: first line, newline stripped. */
static int
secret_value(struct cfg_ctx *ctx, const json_t *v, char **out)
{
    static const char *const keys[] = {"env", "file", "prefix", NULL};
    const char *env = NULL, *file = NULL, *prefix = "";
    char why[1024];

    if (cfg_check_keys(ctx, v, keys) != 0 || cfg_get_str(ctx, v, "env", 0, &env) < 0 ||
        cfg_get_str(ctx, v, "file", 0, &file) < 0 || cfg_get_str(ctx, v, "prefix", 0, &prefix) < 0)
        return (-1);
    if ((env == NULL) == (file == NULL))
        return (cfg_error(ctx, "expected exactly one of \"env\" or \"file\""));
    if (secret_read(env, file, prefix, out, why, sizeof why) != 0)
        return (cfg_error(ctx, "%s", why));
    return (0);
}

/* A "headers" object into "Name: value" lines appended to *lines. */
static int
parse_header_obj(const json_t *h, char ***lines, size_t *nlines, struct cfg_ctx *ctx)
{
    json_t *v;
    const char *k;
    char *val;
    size_t n;
    int rv = 0;

    if (!json_is_object(h))
        return (cfg_error(ctx, "expected an object of header names to values"));
    json_object_foreach((json_t *)h, k, v)
    {
        cfg_push_key(ctx, k);
        val = NULL;
        if (!header_ok(k, 1) || *k == '\0')
            rv = cfg_error_key(ctx, "invalid header name");
        else if (json_is_object(v))
            rv = secret_value(ctx, v, &val);
        else if (!json_is_string(v))
            rv = cfg_error(ctx, "expected a header value string, or {\"env\": NAME} or "
                                "{\"file\": PATH}");
        else
            val = tp_strdup(json_string_value(v));
        if (rv == 0 && !header_ok(val, 0))
            rv = cfg_error(ctx, "expected a header value without control characters");
        cfg_pop(ctx);
        if (rv != 0) {
            free(val);
            return (rv);
        }
        n = strlen(k) + strlen(val) + 3;
        *lines = tp_grow(*lines, *nlines, sizeof(char *));
        (*lines)[*nlines] = tp_malloc(n);
        snprintf((*lines)[(*nlines)++], n, "%s: %s", k, val);
        memset(val, 0, strlen(val));
        free(val);
    }
    return (0);
}

static int
parse_headers(struct sink *s, const json_t *obj, struct cfg_ctx *ctx)
{
    json_t *h = json_object_get(obj, "headers");
    int rv;

    if (h == NULL)
        return (0);
    /* Configured headers replace the type's defaults wholesale. */
    while (s->common.nextra > 0)
        free(s->common.extra[--s->common.nextra]);
    cfg_push_key(ctx, "headers");
    rv = parse_header_obj(h, &s->common.extra, &s->common.nextra, ctx);
    cfg_pop(ctx);
    return (rv);
}

/* http(s)://..., or dns://NAME:PORT[/PATH] (every address of NAME is a node). */
static int
node_spec_ok(const char *u)
{
    struct dns_spec d;

    if (!header_ok(u, 0) || strchr(u, ' ') != NULL)
        return (0);
    if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0)
        return (1);
    return (discover_parse(u, &d) == 0);
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
    /* Each node is a connection of its own: past this, file descriptors run out first. */
    if (json_array_size(arr) > SINK_MAX_NODES) {
        rv = cfg_error(ctx,
                       "%zu nodes: at most %d per sink (use dns:// discovery or split the sink)",
                       json_array_size(arr), SINK_MAX_NODES);
        goto out;
    }
    s->nodes = tp_calloc(json_array_size(arr), sizeof *s->nodes);
    json_array_foreach(arr, i, v)
    {
        const char *u = json_string_value(v);
        cfg_push_idx(ctx, i);
        if (u == NULL || !node_spec_ok(u))
            rv = cfg_error(ctx, "expected a node URL such as \"http://127.0.0.1:6081\" or "
                                "\"dns://varnish.internal:6081\"");
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
        "name",    "type",    "nodes",          "method",     "header",     "max_header_bytes",
        "headers", "after",   "after_delay_ms", "rate_per_s", "rate_burst", "max_pending_tags",
        "flush",   "ca_file", "client_cert",    "client_key", "tls_verify"};
    const char *allowed[48];
    size_t n = 0, i;

    for (i = 0; i < sizeof common / sizeof *common; i++)
        allowed[n++] = common[i];
    for (i = 0; impl->keys != NULL && impl->keys[i] != NULL && n < 47; i++)
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
    /* Types that template their headers measure the real templates themselves. */
    if (!s->impl->own_headers && (size_t)mhb < worst) {
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
    s->common.max_tag_bytes = max_tag_bytes;
    return (0);
}

static int
get_number(struct cfg_ctx *ctx, const json_t *obj, const char *key, double min, double max,
           double *out)
{
    json_t *v = json_object_get(obj, key);
    int rv = 0;

    if (v == NULL)
        return (0);
    cfg_push_key(ctx, key);
    if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max)
        rv = cfg_error(ctx, "expected a number from %g to %g", min, max);
    else
        *out = json_number_value(v);
    cfg_pop(ctx);
    return (rv);
}

static int
nodes_have_template(const struct sink *s)
{
    size_t i;

    for (i = 0; i < s->nnodes; i++)
        if (strstr(s->nodes[i], "{tags_") != NULL)
            return (1);
    return (0);
}

/* "flush": {"method", "url", "headers", "body"}: the request that purges everything. */
static int
parse_flush(struct sink *s, const json_t *obj, struct cfg_ctx *ctx)
{
    static const char *const keys[] = {"method", "url", "headers", "body", NULL};
    const json_t *fl = json_object_get(obj, "flush");
    const char *method = s->method, *url = NULL, *body = NULL;
    json_t *h;
    int rv = -1;

    if (fl == NULL)
        return (0);
    cfg_push_key(ctx, "flush");
    if (cfg_expect_object(ctx, fl, "a request: {\"method\", \"url\", \"headers\", \"body\"}") !=
            0 ||
        cfg_check_keys(ctx, fl, keys) != 0 || cfg_get_str(ctx, fl, "method", 0, &method) < 0 ||
        cfg_get_str(ctx, fl, "url", 0, &url) < 0 || cfg_get_str(ctx, fl, "body", 0, &body) < 0)
        goto out;
    if (!header_ok(method, 1) || *method == '\0') {
        cfg_push_key(ctx, "method");
        cfg_error(ctx, "invalid method \"%s\"", method);
        cfg_pop(ctx);
        goto out;
    }
    if (url != NULL && *url != '/' && strncmp(url, "http://", 7) != 0 &&
        strncmp(url, "https://", 8) != 0) {
        cfg_push_key(ctx, "url");
        cfg_error(ctx, "expected an absolute URL, or a path starting with / (on each node)");
        cfg_pop(ctx);
        goto out;
    }
    /* The node URL of a templating type may name the tags: a flush has none to fill in. */
    if (url == NULL && s->impl->own_headers && nodes_have_template(s)) {
        cfg_error(ctx, "a node URL holds a {tags_...} template: set \"url\" for the flush");
        goto out;
    }
    s->flush.method = tp_strdup(method);
    s->flush.url = url != NULL ? tp_strdup(url) : NULL;
    if (body != NULL)
        req_set_body(&s->flush, body, strlen(body));
    h = json_object_get(fl, "headers");
    if (h != NULL) {
        cfg_push_key(ctx, "headers");
        rv = parse_header_obj(h, &s->flush.headers, &s->flush.nheaders, ctx);
        cfg_pop(ctx);
        if (rv != 0)
            goto out;
    }
    s->opts.has_flush = 1;
    rv = 0;
out:
    cfg_pop(ctx);
    return (rv);
}

static int
dup_opt(struct cfg_ctx *ctx, const json_t *obj, const char *key, char **out)
{
    const char *v = NULL;

    if (cfg_get_str(ctx, obj, key, 0, &v) < 0)
        return (-1);
    *out = v != NULL ? tp_strdup(v) : NULL;
    return (0);
}

/* Delivery options (struct sink_opts); "after" is checked against the other sinks by the caller. */
static int
parse_opts(struct sink *s, const json_t *obj, struct cfg_ctx *ctx)
{
    struct sink_opts *o = &s->opts;
    long long delay = 0, mpt = -1;
    int verify = 1;

    o->rate_per_s = 0;
    o->rate_burst = 1;
    if (dup_opt(ctx, obj, "after", &s->after) != 0 ||
        cfg_get_int(ctx, obj, "after_delay_ms", 0, 0, 3600000, &delay) < 0 ||
        get_number(ctx, obj, "rate_per_s", 0.001, 1e6, &o->rate_per_s) != 0 ||
        get_number(ctx, obj, "rate_burst", 1, 1e6, &o->rate_burst) != 0 ||
        cfg_get_int(ctx, obj, "max_pending_tags", 0, 1, 100000000, &mpt) < 0 ||
        dup_opt(ctx, obj, "ca_file", &s->ca_file) != 0 ||
        dup_opt(ctx, obj, "client_cert", &s->client_cert) != 0 ||
        dup_opt(ctx, obj, "client_key", &s->client_key) != 0 ||
        cfg_get_bool(ctx, obj, "tls_verify", 0, &verify) < 0 || parse_flush(s, obj, ctx) != 0)
        return (-1);
    if (s->client_key != NULL && s->client_cert == NULL) {
        cfg_push_key(ctx, "client_key");
        cfg_error(ctx, "client_key needs client_cert");
        cfg_pop(ctx);
        return (-1);
    }
    if (s->after != NULL && strcmp(s->after, s->name) == 0) {
        cfg_push_key(ctx, "after");
        cfg_error(ctx, "a sink cannot come after itself");
        cfg_pop(ctx);
        return (-1);
    }
    o->after = s->after;
    o->after_delay_ms = (long)delay;
    o->max_pending_tags = (long)mpt;
    o->ca_file = s->ca_file;
    o->client_cert = s->client_cert;
    o->client_key = s->client_key;
    o->tls_verify = verify;
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
        cfg_error(ctx, "unknown sink type \"%s\" (known: xkey, ban, http)", type);
        cfg_pop(ctx);
        return (-1);
    }
    /*
     * A type that expands "headers" itself (own_headers) sees them, secrets
     * resolved, in configure; any other type may set default headers there
     * that "headers" then replaces.
     */
    if (check_keys(s->impl, obj, ctx) != 0 || parse_nodes(s, obj, ctx) != 0 ||
        parse_common(s, obj, max_tag_bytes, ctx) != 0 ||
        (s->impl->own_headers && parse_headers(s, obj, ctx) != 0) ||
        s->impl->configure(&s->priv, obj, &s->common, ctx) != 0 ||
        (!s->impl->own_headers && parse_headers(s, obj, ctx) != 0) || parse_opts(s, obj, ctx) != 0)
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
    strv_free(s->common.extra, s->common.nextra);
    req_clear(&s->flush);
    free(s->after);
    free(s->ca_file);
    free(s->client_cert);
    free(s->client_key);
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

const struct sink_opts *
sink_opts(const struct sink *s)
{
    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    return (&s->opts);
}

void
sink_http_opts(const struct sink *s, long timeout_ms, struct http_opts *out)
{
    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    out->timeout_ms = timeout_ms;
    out->ca_file = s->opts.ca_file;
    out->client_cert = s->opts.client_cert;
    out->client_key = s->opts.client_key;
    out->tls_verify = s->opts.tls_verify;
}

static void
add_extra(const struct sink *s, struct reqlist *out, size_t first)
{
    size_t i;

    for (; first < out->n; first++)
        for (i = 0; i < s->common.nextra; i++)
            req_add_line(&out->v[first], s->common.extra[i]);
}

void
sink_render(const struct sink *s, const char *node_url, const char *const *tags, size_t n,
            struct reqlist *out)
{
    size_t first = out->n;

    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    s->impl->render(s->priv, &s->common, node_url, tags, n, out);
    if (!s->impl->own_headers)
        add_extra(s, out, first);
}

/* The node URL with its path replaced by path. */
static char *
node_with_path(const char *node_url, const char *path)
{
    const char *host = strstr(node_url, "://");
    size_t keep;
    char *u;

    host = host != NULL ? host + 3 : node_url;
    keep = (size_t)(host - node_url) + strcspn(host, "/?#");
    u = tp_malloc(keep + strlen(path) + 1);
    memcpy(u, node_url, keep);
    strcpy(u + keep, path);
    return (u);
}

void
sink_render_flush(const struct sink *s, const char *node_url, struct reqlist *out)
{
    struct http_req *r;
    size_t i;

    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    AN(s->opts.has_flush);
    r = reqlist_add(out, s->flush.method);
    if (s->flush.url != NULL && s->flush.url[0] == '/')
        r->url = node_with_path(node_url, s->flush.url);
    else if (s->flush.url != NULL)
        r->url = tp_strdup(s->flush.url);
    /* The sink's own headers (tokens) first, then the flush's. */
    for (i = 0; i < s->common.nextra; i++)
        if (strstr(s->common.extra[i], "{tags_") == NULL)
            req_add_line(r, s->common.extra[i]);
    for (i = 0; i < s->flush.nheaders; i++)
        req_add_line(r, s->flush.headers[i]);
    if (s->flush.body != NULL)
        req_set_body(r, s->flush.body, s->flush.bodylen);
}

/*------------------------------------------------------------------------
 * check --online: every listed node must accept a purge.
 */

/* Purge a tag no page carries on one node: it must answer 2xx. */
static int
check_node(const struct sink *sk, long timeout_ms, const char *url, const char *tag)
{
    struct http_opts ho;
    struct reqlist reqs = {0};
    char msg[512];
    long status = 0;
    int bad = 0;

    sink_http_opts(sk, timeout_ms, &ho);
    sink_render(sk, url, &tag, 1, &reqs);
    if (reqs.n == 0 || http_request_sync(url, &reqs.v[0], &ho, &status, msg, sizeof msg) != 0) {
        fprintf(stderr, "tagpurge: sink %s: node %s unreachable: %s\n", sink_name(sk), url,
                reqs.n ? msg : "nothing to send");
        bad = 1;
    } else if (status < 200 || status > 299) {
        fprintf(stderr,
                "tagpurge: sink %s: node %s answers %s with HTTP %ld %s: check the node URL, "
                "\"method\", the headers (credentials) and the cache's purge ACL (for Varnish: "
                "acl purgers in tagpurge.vcl)\n",
                sink_name(sk), url, reqs.v[0].method, status, msg);
        bad = 1;
    } else {
        printf("sink %s: node %s accepts %s (HTTP %ld)\n", sink_name(sk), url, reqs.v[0].method,
               status);
    }
    reqlist_free(&reqs);
    return (bad);
}

int
sink_check_nodes_2xx(const struct sink *s, long timeout_ms, const char *tag)
{
    size_t j;
    int problems = 0;

    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    for (j = 0; j < s->nnodes; j++) {
        const char *u = s->nodes[j];
        if (discover_is_dns(u)) {
            printf("sink %s: node %s: resolved at run time, not checked\n", sink_name(s), u);
            continue;
        }
        problems += check_node(s, timeout_ms, u, tag);
    }
    return (problems);
}

int
sink_check_online(const struct sink *s, long timeout_ms, const char *tag)
{
    CHECK_OBJ_NOTNULL(s, SINK_MAGIC);
    if (s->impl->check_online == NULL) {
        fprintf(stderr, "tagpurge: sink %s: no online checks for %s sinks yet\n", sink_name(s),
                s->impl->name);
        return (0);
    }
    return (s->impl->check_online(s, timeout_ms, tag));
}
