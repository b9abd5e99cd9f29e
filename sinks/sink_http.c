/*
 * The generic HTTP sink ("type": "http"): any purge API that takes the tags
 * in the URL, a header or the body.  Three templates name the tags:
 *
 *   {tags_space}  t1 t2 t3
 *   {tags_comma}  t1,t2,t3
 *   {tags_json}   ["t1","t2","t3"]   (JSON strings, escaped)
 *
 * They may appear in the node URL (every byte outside A-Z a-z 0-9 - . _ ~ of
 * the expansion, separators and JSON text included, becomes %XX), in
 * "headers" values and in "body" (both raw).  Any other "{...}" is literal.
 * Header values from {"env"} / {"file"} are expanded like the others: a
 * token holding "{tags_" would be, too.
 *
 * Tags are packed greedily, in order, on tag boundaries: a request holds at
 * most max_tags_per_request tags, every header line ("Name: value") at most
 * max_header_bytes, the body at most max_body_bytes, the URL at most 8000
 * bytes.  Sizes are exact, summed per tag.  A tag that alone passes a limit
 * still goes, alone; configure rejects limits that a worst-case tag of max_tag_bytes
 * bytes (all backslashes: the costliest byte a tag may hold in every
 * encoding) cannot meet.
 *
 * Header values may hold tokens: nothing here logs them, and config errors
 * name the header, never its value.
 *
 * Presets (README "Sinks"; the unit tests render each one):
 *
 * Fastly (256 keys per request; soft purge):
 *   {"name":"fastly","type":"http","method":"POST",
 *    "nodes":["https://api.fastly.com/service/SERVICE_ID/purge"],
 *    "headers":{"Fastly-Key":{"env":"FASTLY_API_TOKEN"},"Fastly-Soft-Purge":"1",
 *               "Content-Type":"application/json","Accept":"application/json"},
 *    "body":"{\"surrogate_keys\":{tags_json}}","max_tags_per_request":256,
 *    "rate_per_s":10,"rate_burst":50}
 *
 * Cloudflare (100 tags per request):
 *   {"name":"cloudflare","type":"http",
 *    "nodes":["https://api.cloudflare.com/client/v4/zones/ZONE_ID/purge_cache"],
 *    "headers":{"Authorization":{"env":"CF_API_TOKEN","prefix":"Bearer "},
 *               "Content-Type":"application/json"},
 *    "body":"{\"tags\":{tags_json}}","max_tags_per_request":100,
 *    "rate_per_s":5,"rate_burst":25,"flush":{"body":"{\"purge_everything\":true}"}}
 *
 * Symfony HttpCache / FOSHttpCache (PurgeTagsListener):
 *   {"name":"symfony","type":"http","method":"PURGETAGS","nodes":["http://127.0.0.1:8000/"],
 *    "headers":{"X-Cache-Tags":"{tags_comma}"},"max_header_bytes":7500}
 *
 * Plain per-tag PURGE:
 *   {"name":"plain","type":"http","method":"PURGE","nodes":["http://127.0.0.1:6081/"],
 *    "headers":{"xkey-purge":"{tags_space}"},"max_tags_per_request":1}
 */
#include <string.h>

#include "../broker/lib/cfg.h"
#include "../broker/lib/obj.h"
#include "sink.h"

#define HTTP_MAX_URL_BYTES          8000
#define HTTP_DEFAULT_MAX_BODY_BYTES 1048576

enum tenc { T_SPACE, T_COMMA, T_JSON, T_NENC };

static const char *const tokens[T_NENC] = {"{tags_space}", "{tags_comma}", "{tags_json}"};

struct http_sink {
    unsigned magic;
#define HTTP_SINK_MAGIC 0x7d2a9c41
    char *body;      /* NULL: no body */
    size_t max_tags; /* 0: no count limit */
    size_t max_body; /* bytes */
};

/*
 * One place a template sits (URL, a header line, the body): the bytes
 * outside its holes, how many holes of each kind, whether the expansion is
 * percent-encoded there, and the limit on its expanded size.
 */
struct tpl {
    const char *text; /* borrowed; NULL: absent */
    size_t prefix;    /* leading bytes never scanned (a header line's "Name: ") */
    size_t fixed;     /* bytes outside the holes, prefix included */
    size_t holes[T_NENC];
    int pct;
    size_t limit;
};

/* Running totals over a chunk's tags, one per encoding of a tag's text. */
struct tsum {
    size_t k;
    size_t raw;     /* the tag */
    size_t json;    /* the tag JSON-escaped, without quotes */
    size_t pct;     /* the tag percent-encoded */
    size_t pctjson; /* the tag JSON-escaped, then percent-encoded */
};

static const char *const http_keys[] = {"body", "max_tags_per_request", "max_body_bytes", NULL};

static int
unreserved(unsigned char c)
{
    return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~');
}

/*
 * Append p[0..len) at dst + o, percent-encoded when pct; returns the new
 * offset.  dst NULL only counts, so sizes and output share one definition.
 */
static size_t
put(char *dst, size_t o, const char *p, size_t len, int pct)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!pct || unreserved(c)) {
            if (dst != NULL)
                dst[o] = (char)c;
            o++;
            continue;
        }
        if (dst != NULL) {
            dst[o] = '%';
            dst[o + 1] = hex[c >> 4];
            dst[o + 2] = hex[c & 15];
        }
        o += 3;
    }
    return (o);
}

/* The tag's JSON string contents (no quotes), through put(). */
static size_t
put_json(char *dst, size_t o, const char *tag, int pct)
{
    static const char hex[] = "0123456789abcdef";
    char e[6];
    size_t n;

    for (; *tag != '\0'; tag++) {
        unsigned char c = (unsigned char)*tag;
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            n = 2;
        } else if (c < 0x20) {
            memcpy(e, "\\u00", 4);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            n = 6;
        } else {
            e[0] = (char)c;
            n = 1;
        }
        o = put(dst, o, e, n, pct);
    }
    return (o);
}

static void
tsum_add(struct tsum *s, const char *tag)
{
    size_t len = strlen(tag);

    s->k++;
    s->raw += len;
    s->json += put_json(NULL, 0, tag, 0);
    s->pct += put(NULL, 0, tag, len, 1);
    s->pctjson += put_json(NULL, 0, tag, 1);
}

/* The template kind at p, with its length in *len; -1 when p starts none. */
static int
hole_at(const char *p, size_t *len)
{
    int e;

    if (*p != '{')
        return (-1);
    for (e = 0; e < T_NENC; e++) {
        *len = strlen(tokens[e]);
        if (strncmp(p, tokens[e], *len) == 0)
            return (e);
    }
    return (-1);
}

static void
tpl_init(struct tpl *t, const char *text, size_t prefix, int pct, size_t limit)
{
    const char *p;
    size_t len;
    int e;

    memset(t, 0, sizeof *t);
    t->text = text;
    t->prefix = prefix;
    t->pct = pct;
    t->limit = limit;
    if (text == NULL)
        return;
    t->fixed = prefix;
    for (p = text + prefix; *p != '\0';) {
        e = hole_at(p, &len);
        if (e < 0) {
            t->fixed++;
            p++;
        } else {
            t->holes[e]++;
            p += len;
        }
    }
}

static int
tpl_has_holes(const struct tpl *t)
{
    return (t->holes[T_SPACE] + t->holes[T_COMMA] + t->holes[T_JSON] > 0);
}

/* Expanded size for the tags summed in s (at least one). */
static size_t
tpl_size(const struct tpl *t, const struct tsum *s)
{
    size_t list, json;

    AN(s->k > 0);
    if (t->pct) {
        list = s->pct + 3 * (s->k - 1);   /* %20 or %2C between */
        json = s->pctjson + 9 * s->k + 3; /* %5B %5D, %22 pairs, %2C between */
    } else {
        list = s->raw + (s->k - 1);
        json = s->json + 3 * s->k + 1; /* [ ], quote pairs, commas between */
    }
    return (t->fixed + (t->holes[T_SPACE] + t->holes[T_COMMA]) * list + t->holes[T_JSON] * json);
}

static size_t
put_hole(char *dst, size_t o, int e, int pct, const char *const *tags, size_t start, size_t end)
{
    size_t i;

    if (e == T_JSON)
        o = put(dst, o, "[", 1, pct);
    for (i = start; i < end; i++) {
        if (i > start)
            o = put(dst, o, e == T_SPACE ? " " : ",", 1, pct);
        if (e == T_JSON) {
            o = put(dst, o, "\"", 1, pct);
            o = put_json(dst, o, tags[i], pct);
            o = put(dst, o, "\"", 1, pct);
        } else {
            o = put(dst, o, tags[i], strlen(tags[i]), pct);
        }
    }
    if (e == T_JSON)
        o = put(dst, o, "]", 1, pct);
    return (o);
}

/* The template filled with tags[start..end); *lenp gets its length (== tpl_size). */
static char *
tpl_expand(const struct tpl *t, const struct tsum *s, const char *const *tags, size_t start,
           size_t end, size_t *lenp)
{
    size_t size = tpl_size(t, s), o, len;
    const char *p;
    char *buf;
    int e;

    buf = tp_malloc(size + 1);
    memcpy(buf, t->text, t->prefix);
    o = t->prefix;
    for (p = t->text + t->prefix; *p != '\0';) {
        e = hole_at(p, &len);
        if (e < 0) {
            buf[o++] = *p++; /* literal text is never encoded */
        } else {
            o = put_hole(buf, o, e, t->pct, tags, start, end);
            p += len;
        }
    }
    AN(o == size);
    buf[o] = '\0';
    *lenp = o;
    return (buf);
}

/* Where a header line's value starts: after "Name: " (names hold no colon). */
static size_t
value_offset(const char *line)
{
    const char *colon = strchr(line, ':');

    AN(colon != NULL && colon[1] == ' ');
    return ((size_t)(colon - line) + 2);
}

/*
 * The templates of one request: [0] the URL, [1..nextra] the header lines,
 * [nextra + 1] the body.  Caller frees.
 */
static struct tpl *
tpls_new(const struct http_sink *h, const struct sink_common *c, const char *url)
{
    struct tpl *t = tp_calloc(c->nextra + 2, sizeof *t);
    size_t i;

    tpl_init(&t[0], url, 0, 1, HTTP_MAX_URL_BYTES);
    for (i = 0; i < c->nextra; i++)
        tpl_init(&t[1 + i], c->extra[i], value_offset(c->extra[i]), 0, c->max_header_bytes);
    tpl_init(&t[c->nextra + 1], h->body, 0, 0, h->max_body);
    return (t);
}

static int
tpls_fit(const struct tpl *t, size_t n, const struct tsum *s)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (tpl_has_holes(&t[i]) && tpl_size(&t[i], s) > t[i].limit)
            return (0);
    return (1);
}

static void
emit(const struct tpl *t, const struct sink_common *c, const struct tsum *s,
     const char *const *tags, size_t start, size_t end, struct reqlist *out)
{
    struct http_req *r = reqlist_add(out, c->method);
    size_t i, len;
    char *v;

    if (tpl_has_holes(&t[0])) {
        v = tpl_expand(&t[0], s, tags, start, end, &len);
        req_set_url(r, v);
        free(v);
    }
    for (i = 0; i < c->nextra; i++) {
        if (!tpl_has_holes(&t[1 + i])) {
            req_add_line(r, c->extra[i]);
            continue;
        }
        v = tpl_expand(&t[1 + i], s, tags, start, end, &len);
        req_add_line(r, v);
        memset(v, 0, len); /* the line may hold a token */
        free(v);
    }
    if (t[c->nextra + 1].text != NULL) {
        v = tpl_expand(&t[c->nextra + 1], s, tags, start, end, &len);
        req_set_body(r, v, len);
        free(v);
    }
}

static void
http_render(const void *priv, const struct sink_common *c, const char *node_url,
            const char *const *tags, size_t n, struct reqlist *out)
{
    const struct http_sink *h = priv;
    struct tsum sum, next;
    size_t start = 0, end, ntpl = c->nextra + 2;
    struct tpl *t;

    CHECK_OBJ_NOTNULL(h, HTTP_SINK_MAGIC);
    t = tpls_new(h, c, node_url);
    while (start < n) {
        memset(&sum, 0, sizeof sum);
        for (end = start; end < n; end++) {
            next = sum;
            tsum_add(&next, tags[end]);
            /* The first tag always goes, even alone past a limit. */
            if (end > start &&
                ((h->max_tags > 0 && next.k > h->max_tags) || !tpls_fit(t, ntpl, &next)))
                break;
            sum = next;
        }
        emit(t, c, &sum, tags, start, end, out);
        start = end;
    }
    free(t);
}

/* The config names the tags somewhere; a request without them would purge nothing. */
static int
check_named(const struct http_sink *h, const json_t *obj, const struct sink_common *c,
            struct cfg_ctx *ctx)
{
    const json_t *v;
    struct tpl t;
    size_t i;

    json_array_foreach(json_object_get(obj, "nodes"), i, v)
    {
        tpl_init(&t, json_string_value(v), 0, 1, HTTP_MAX_URL_BYTES);
        if (tpl_has_holes(&t))
            return (0);
    }
    for (i = 0; i < c->nextra; i++) {
        tpl_init(&t, c->extra[i], value_offset(c->extra[i]), 0, c->max_header_bytes);
        if (tpl_has_holes(&t))
            return (0);
    }
    tpl_init(&t, h->body, 0, 0, h->max_body);
    if (tpl_has_holes(&t))
        return (0);
    return (cfg_error(ctx, "no {tags_space}, {tags_comma} or {tags_json} in the node URLs, "
                           "\"headers\" or \"body\": requests would not name the tags"));
}

/* t with one worst-case tag must fit its limit; the error goes at the current path. */
static int
check_one(const struct tpl *t, const struct tsum *probe, const char *what, const char *limit_name,
          struct cfg_ctx *ctx)
{
    size_t size;

    if (t->text == NULL)
        return (0);
    if (!tpl_has_holes(t)) {
        if (t->fixed <= t->limit)
            return (0);
        return (cfg_error(ctx, "%s takes %zu bytes, over %s (%zu)", what, t->fixed, limit_name,
                          t->limit));
    }
    size = tpl_size(t, probe);
    if (size <= t->limit)
        return (0);
    return (cfg_error(ctx, "%s takes %zu bytes with one tag of max_tag_bytes (%zu), over %s (%zu)",
                      what, size, probe->raw, limit_name, t->limit));
}

/*
 * Every request must be able to carry one tag: check each template with a
 * worst-case tag of max_tag_bytes (backslashes: the dearest byte in JSON and
 * in a URL).
 */
static int
check_fit(const struct http_sink *h, const json_t *obj, const struct sink_common *c,
          struct cfg_ctx *ctx)
{
    char *probe_tag, *name;
    struct tsum probe = {0};
    const json_t *v;
    struct tpl t;
    size_t i;
    int rv = 0;

    probe_tag = tp_malloc(c->max_tag_bytes + 1);
    memset(probe_tag, '\\', c->max_tag_bytes);
    probe_tag[c->max_tag_bytes] = '\0';
    tsum_add(&probe, probe_tag);
    free(probe_tag);
    cfg_push_key(ctx, "nodes");
    json_array_foreach(json_object_get(obj, "nodes"), i, v)
    {
        tpl_init(&t, json_string_value(v), 0, 1, HTTP_MAX_URL_BYTES);
        if (!tpl_has_holes(&t))
            continue; /* the node's own URL, whatever its length */
        cfg_push_idx(ctx, i);
        rv = check_one(&t, &probe, "the URL", "the URL limit", ctx);
        cfg_pop(ctx);
        if (rv != 0)
            break;
    }
    cfg_pop(ctx);
    cfg_push_key(ctx, "headers");
    for (i = 0; i < c->nextra && rv == 0; i++) {
        tpl_init(&t, c->extra[i], value_offset(c->extra[i]), 0, c->max_header_bytes);
        name = tp_strndup(c->extra[i], value_offset(c->extra[i]) - 2);
        cfg_push_key(ctx, name);
        rv = check_one(&t, &probe, "the header line", "max_header_bytes", ctx);
        cfg_pop(ctx);
        free(name);
    }
    cfg_pop(ctx);
    if (rv == 0 && h->body != NULL) {
        tpl_init(&t, h->body, 0, 0, h->max_body);
        cfg_push_key(ctx, "body");
        rv = check_one(&t, &probe, "the body", "max_body_bytes", ctx);
        cfg_pop(ctx);
    }
    return (rv);
}

static int
http_configure(void **priv, const json_t *obj, struct sink_common *c, struct cfg_ctx *ctx)
{
    const char *body = NULL;
    long long max_tags = 0, max_body = HTTP_DEFAULT_MAX_BODY_BYTES;
    struct http_sink *h;

    *priv = NULL;
    if (json_object_get(obj, "header") != NULL) {
        cfg_push_key(ctx, "header");
        cfg_error_key(ctx, "\"header\" does not apply to type http: use \"headers\" with a "
                           "{tags_...} template instead, e.g. \"headers\": {\"X-Cache-Tags\": "
                           "\"{tags_comma}\"}");
        cfg_pop(ctx);
        return (-1);
    }
    if (cfg_get_str(ctx, obj, "body", 0, &body) < 0 ||
        cfg_get_int(ctx, obj, "max_tags_per_request", 0, 1, 100000000, &max_tags) < 0 ||
        cfg_get_int(ctx, obj, "max_body_bytes", 0, 1, 1 << 30, &max_body) < 0)
        return (-1);
    ALLOC_OBJ(h, HTTP_SINK_MAGIC);
    h->body = body != NULL ? tp_strdup(body) : NULL;
    h->max_tags = (size_t)max_tags;
    h->max_body = (size_t)max_body;
    *priv = h; /* sink_destroy() frees it on the error paths below */
    if (check_named(h, obj, c, ctx) != 0 || check_fit(h, obj, c, ctx) != 0)
        return (-1);
    return (0);
}

/*
 * For sink.c's check against max_header_bytes: a tag in a header costs its
 * bytes ({tags_space}, {tags_comma}), overhead 0.  That check cannot see
 * where the templates are or the text around them, so it is a lower bound
 * that only matters when a header names the tags (and rejects a
 * max_header_bytes below max_tag_bytes even when none does); check_fit()
 * measures the real templates, with a max_tag_bytes tag.
 */
static size_t
http_tag_cost(const char *tag)
{
    return (strlen(tag));
}

static void
http_destroy(void *priv)
{
    struct http_sink *h = priv;

    CHECK_OBJ_NOTNULL(h, HTTP_SINK_MAGIC);
    free(h->body);
    FREE_OBJ(h);
}

const struct sink_impl sink_http = {
    .name = "http",
    .default_method = "POST",
    .default_header = "X-Cache-Tags", /* unused: "header" is rejected */
    .keys = http_keys,
    .overhead = 0,
    .own_headers = 1,
    .configure = http_configure,
    .tag_cost = http_tag_cost,
    .render = http_render,
    .destroy = http_destroy,
    .check_online = sink_check_nodes_2xx,
};
