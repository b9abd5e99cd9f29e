/*
 * Helpers shared by the fuzz targets (fuzz.h).
 */
#include <jansson.h>
#include <string.h>

#include "../../broker/lib/cfg.h"
#include "../../broker/lib/obj.h"
#include "../../broker/tagmap.h"
#include "../../broker/tagset.h"
#include "fuzz.h"

uint8_t
fz_u8(struct fz_in *in)
{
    uint8_t v;

    if (in->n == 0)
        return (0);
    v = in->p[0];
    in->p++;
    in->n--;
    return (v);
}

uint16_t
fz_u16(struct fz_in *in)
{
    uint16_t lo = fz_u8(in);

    return ((uint16_t)(lo | fz_u8(in) << 8));
}

const uint8_t *
fz_take(struct fz_in *in, size_t n, size_t *len)
{
    const uint8_t *p = in->p;

    *len = n < in->n ? n : in->n;
    in->p += *len;
    in->n -= *len;
    return (p);
}

uint8_t *
fz_dup(const uint8_t *p, size_t n)
{
    uint8_t *b = tp_malloc(n ? n : 1);

    if (n > 0)
        memcpy(b, p, n);
    return (b);
}

uint8_t *
fz_chunk(struct fz_in *in, size_t *len)
{
    const uint8_t *p;
    size_t want = fz_u16(in);

    p = fz_take(in, want, len);
    return (fz_dup(p, *len));
}

volatile unsigned fz_sink;

void
fz_touch(const void *p, size_t n)
{
    const unsigned char *b = p;
    unsigned acc = 0;
    size_t i;

    for (i = 0; i < n; i++)
        acc += b[i];
    fz_sink += acc;
}

static void
check_value(const struct col_value *v)
{
    AN(v->state == COL_UNKNOWN || v->state == COL_NULL || v->state == COL_VALUE);
    if (v->state != COL_VALUE)
        return;
    AN(v->data != NULL || v->len == 0);
    fz_touch(v->data, v->len);
}

void
fz_check_change(const struct change *c)
{
    size_t i;

    AN(c->table != NULL);
    fz_touch(c->table, strlen(c->table));
    AN(c->op == CHG_INSERT || c->op == CHG_UPDATE || c->op == CHG_DELETE || c->op == CHG_TRUNCATE);
    AN(c->ncols == 0 || c->colnames != NULL);
    for (i = 0; i < c->ncols; i++) {
        AN(c->colnames[i] != NULL);
        fz_touch(c->colnames[i], strlen(c->colnames[i]));
        if (c->oldv != NULL)
            check_value(&c->oldv[i]);
        if (c->newv != NULL)
            check_value(&c->newv[i]);
    }
}

static int
hexdigit(char c)
{
    return ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'));
}

static int
unreserved(char c)
{
    return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~');
}

void
fz_check_tag(const char *tag, size_t max)
{
    size_t i, n = strlen(tag);
    char one[2] = {0, 0};

    AN(n > 0);
    AN(n <= max);
    for (i = 0; i < n; i++) {
        AN(tag[i] != '\r' && tag[i] != '\n' && tag[i] != ' ' && tag[i] != ',');
        if (tag[i] == '%') { /* only from encoding: a literal '%' is refused */
            AN(i + 2 < n);
            AN(hexdigit(tag[i + 1]) && hexdigit(tag[i + 2]));
            i += 2;
            continue;
        }
        one[0] = tag[i];
        AN(unreserved(tag[i]) || tag_literal_ok(one));
    }
}

void
fz_check_tagset(struct tagset *ts, size_t max)
{
    const char *const *tags;
    size_t i, n;

    tags = tagset_sorted(ts, &n);
    AN(n == tagset_count(ts));
    for (i = 0; i < n; i++)
        fz_check_tag(tags[i], max);
}

struct tagmap *
fz_test_map(size_t max_tag_bytes)
{
    static const char text[] =
        "{\"fuzz.t\": {\"tags\": [\"id-{id}\", \"p{@1}.{@2}~{@3}\", \"{name}\", \"n-{name}\", "
        "\"t\"], \"fallback_tags\": [\"fb-t\"], \"ignore_columns\": [\"updated_at\", \"@4\"]}}";
    struct cfg_ctx *ctx = cfg_ctx_new("fuzz-map.json", text);
    struct tagmap *m = NULL;
    json_t *j = json_loads(text, 0, NULL);

    AN(j != NULL);
    AZ(tagmap_compile(&m, j, max_tag_bytes, ctx));
    json_decref(j);
    cfg_ctx_destroy(&ctx);
    return (m);
}
