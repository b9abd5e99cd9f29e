/* The table -> tag mapping (tagmap.h): compiling the JSON rules into entries and templates it
 * owns, and applying them to row changes. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "lib/cfg.h"
#include "lib/obj.h"
#include "lib/strv.h"
#include "tagmap.h"
#include "tagset.h"

struct tpl_part {
    char *lit; /* literal text, or NULL for a placeholder */
    size_t litlen;
    char *col; /* placeholder column */
};

struct tpl {
    struct tpl_part *parts;
    size_t nparts;
    int nholes;
};

struct tagmap_entry {
    unsigned magic;
#define TAGMAP_ENTRY_MAGIC 0x1e4a9b21
    char *table;
    struct tpl *tags;
    size_t ntags;
    char **fallback;
    size_t nfallback;
    char **ignore;
    size_t nignore;
    char **cols; /* distinct placeholder columns */
    size_t ncols;
    size_t max_tag_bytes;
};

struct tagmap {
    unsigned magic;
#define TAGMAP_MAGIC 0x6d2c51a8
    atomic_uint refs;
    struct tagmap_entry *entries; /* sorted by table */
    size_t n;
};

static int
unreserved(unsigned char c)
{
    return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~');
}

size_t
tag_encode(char *dst, const char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (unreserved(c)) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '%';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    dst[o] = '\0';
    return (o);
}

/* Literal template text: printable ASCII without space, comma, quotes or '%'. */
static int
literal_ok(char c)
{
    return (c > 0x20 && c < 0x7f && c != ',' && c != '"' && c != '\'' && c != '%');
}

int
tag_literal_ok(const char *s)
{
    if (*s == '\0')
        return (0);
    for (; *s != '\0'; s++)
        if (!literal_ok(*s) || *s == '{' || *s == '}')
            return (0);
    return (1);
}

static void
add_col(struct tagmap_entry *e, const char *col)
{
    size_t i;

    for (i = 0; i < e->ncols; i++)
        if (strcmp(e->cols[i], col) == 0)
            return;
    strv_push(&e->cols, &e->ncols, col);
}

static void
tpl_add(struct tpl *t, const char *lit, size_t litlen, const char *col, size_t collen)
{
    struct tpl_part *p;

    t->parts = tp_grow(t->parts, t->nparts, sizeof *t->parts);
    p = &t->parts[t->nparts++];
    memset(p, 0, sizeof *p);
    if (col != NULL) {
        p->col = tp_strndup(col, collen);
        t->nholes++;
    } else {
        p->lit = tp_strndup(lit, litlen);
        p->litlen = litlen;
    }
}

static int
tpl_parse(struct tpl *t, const char *s, struct cfg_ctx *ctx)
{
    const char *p = s, *lit = s, *end;

    memset(t, 0, sizeof *t);
    if (*s == '\0')
        return (cfg_error(ctx, "empty tag template"));
    while (*p != '\0') {
        if (*p == '{') {
            end = strchr(p + 1, '}');
            if (end == NULL)
                return (cfg_error(ctx, "unclosed '{' in tag template \"%s\"", s));
            if (end == p + 1 || memchr(p + 1, '{', (size_t)(end - p - 1)) != NULL)
                return (cfg_error(ctx, "bad placeholder in tag template \"%s\"", s));
            if (p > lit)
                tpl_add(t, lit, (size_t)(p - lit), NULL, 0);
            tpl_add(t, NULL, 0, p + 1, (size_t)(end - p - 1));
            p = lit = end + 1;
            continue;
        }
        if (*p == '}')
            return (cfg_error(ctx, "unmatched '}' in tag template \"%s\"", s));
        if (!literal_ok(*p))
            return (cfg_error(ctx,
                              "tag template \"%s\": literal text must be printable ASCII without "
                              "space, comma, quote or '%%' (byte 0x%02x at offset %zu)",
                              s, (unsigned char)*p, (size_t)(p - s)));
        p++;
    }
    if (p > lit)
        tpl_add(t, lit, (size_t)(p - lit), NULL, 0);
    return (0);
}

static int
str_array(struct cfg_ctx *ctx, const json_t *obj, const char *key, int required, char ***out,
          size_t *n, size_t max_bytes)
{
    json_t *arr = json_object_get(obj, key), *v;
    size_t i;
    int rv = 0;

    if (arr == NULL)
        return (required ? cfg_error(ctx, "missing required key \"%s\"", key) : 0);
    cfg_push_key(ctx, key);
    if (!json_is_array(arr)) {
        rv = cfg_error(ctx, "expected an array of strings");
        goto out;
    }
    *out = tp_calloc(json_array_size(arr) + 1, sizeof **out);
    json_array_foreach(arr, i, v)
    {
        cfg_push_idx(ctx, i);
        if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v))) {
            rv = cfg_error(ctx, "expected a string");
        } else if (max_bytes > 0) { /* literal tags of at most max_bytes */
            const char *s = json_string_value(v);
            if (*s == '\0')
                rv = cfg_error(ctx, "empty tag");
            else if (strlen(s) > max_bytes)
                rv = cfg_error(ctx, "tag longer than max_tag_bytes (%zu)", max_bytes);
            for (; rv == 0 && *s != '\0'; s++)
                if (!literal_ok(*s) || *s == '{' || *s == '}')
                    rv = cfg_error(ctx,
                                   "fallback tag \"%s\": must be printable ASCII without space, "
                                   "comma, quote, '%%' or placeholder",
                                   json_string_value(v));
        }
        cfg_pop(ctx);
        if (rv != 0)
            goto out;
        (*out)[(*n)++] = tp_strdup(json_string_value(v));
    }
out:
    cfg_pop(ctx);
    return (rv);
}

/* Bytes of a template's literal parts: the shortest tag it can render. */
static size_t
tpl_fixed_len(const struct tpl *t)
{
    size_t i, n = 0;

    for (i = 0; i < t->nparts; i++)
        n += t->parts[i].litlen;
    return (n);
}

static int
compile_tags(struct tagmap_entry *e, const json_t *obj, struct cfg_ctx *ctx)
{
    json_t *arr = json_object_get(obj, "tags"), *v;
    size_t i, j;
    int rv = 0;

    if (arr == NULL)
        return (cfg_error(ctx, "missing required key \"tags\""));
    cfg_push_key(ctx, "tags");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        rv = cfg_error(ctx, "expected a non-empty array of tag templates");
        goto out;
    }
    e->tags = tp_calloc(json_array_size(arr), sizeof *e->tags);
    json_array_foreach(arr, i, v)
    {
        cfg_push_idx(ctx, i);
        if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)))
            rv = cfg_error(ctx, "expected a string");
        else
            rv = tpl_parse(&e->tags[e->ntags++], json_string_value(v), ctx);
        if (rv == 0 && e->tags[e->ntags - 1].nholes == 0 &&
            strlen(json_string_value(v)) > e->max_tag_bytes)
            rv = cfg_error(ctx, "tag longer than max_tag_bytes (%zu)", e->max_tag_bytes);
        else if (rv == 0 && tpl_fixed_len(&e->tags[e->ntags - 1]) > e->max_tag_bytes)
            /* Every tag it renders would be oversized and replaced by the fallback. */
            rv = cfg_error(ctx,
                           "the template's fixed text alone is %zu bytes, more than "
                           "max_tag_bytes (%zu)",
                           tpl_fixed_len(&e->tags[e->ntags - 1]), e->max_tag_bytes);
        cfg_pop(ctx);
        if (rv != 0)
            goto out;
        for (j = 0; j < e->tags[i].nparts; j++)
            if (e->tags[i].parts[j].col != NULL)
                add_col(e, e->tags[i].parts[j].col);
    }
out:
    cfg_pop(ctx);
    return (rv);
}

/* The default fallback: the entry's tags without placeholders. */
static void
default_fallback(struct tagmap_entry *e)
{
    size_t i;

    e->fallback = tp_calloc(e->ntags + 1, sizeof *e->fallback);
    for (i = 0; i < e->ntags; i++)
        if (e->tags[i].nholes == 0)
            e->fallback[e->nfallback++] = tp_strdup(e->tags[i].parts[0].lit);
}

static int
compile_entry(struct tagmap_entry *e, const char *table, const json_t *obj, struct cfg_ctx *ctx)
{
    static const char *const keys[] = {"tags", "fallback_tags", "ignore_columns", NULL};
    const char *dot = strchr(table, '.');

    e->magic = TAGMAP_ENTRY_MAGIC;
    e->table = tp_strdup(table);
    if (dot == NULL || dot == table || dot[1] == '\0')
        return (cfg_error_key(ctx, "table \"%s\" must be written schema.table or database.table",
                              table));
    if (cfg_expect_object(ctx, obj, "a mapping entry") != 0 || cfg_check_keys(ctx, obj, keys) != 0)
        return (-1);
    if (compile_tags(e, obj, ctx) != 0)
        return (-1);
    if (json_object_get(obj, "fallback_tags") != NULL) {
        if (str_array(ctx, obj, "fallback_tags", 0, &e->fallback, &e->nfallback,
                      e->max_tag_bytes) != 0)
            return (-1);
    } else {
        default_fallback(e);
    }
    return (str_array(ctx, obj, "ignore_columns", 0, &e->ignore, &e->nignore, 0));
}

static void
entry_free(struct tagmap_entry *e)
{
    size_t i, j;

    for (i = 0; i < e->ntags; i++) {
        for (j = 0; j < e->tags[i].nparts; j++) {
            free(e->tags[i].parts[j].lit);
            free(e->tags[i].parts[j].col);
        }
        free(e->tags[i].parts);
    }
    free(e->tags);
    strv_free(e->fallback, e->nfallback);
    strv_free(e->ignore, e->nignore);
    strv_free(e->cols, e->ncols);
    free(e->table);
}

static int
cmp_entry(const void *a, const void *b)
{
    return (
        strcmp(((const struct tagmap_entry *)a)->table, ((const struct tagmap_entry *)b)->table));
}

int
tagmap_compile(struct tagmap **mp, const json_t *mapping, size_t max_tag_bytes, struct cfg_ctx *ctx)
{
    struct tagmap *m;
    const char *table;
    json_t *obj;
    int rv = 0;

    *mp = NULL;
    if (cfg_expect_object(ctx, mapping, "the mapping") != 0)
        return (-1);
    ALLOC_OBJ(m, TAGMAP_MAGIC);
    atomic_init(&m->refs, 1);
    m->entries = tp_calloc(json_object_size(mapping), sizeof *m->entries);
    json_object_foreach((json_t *)mapping, table, obj)
    {
        cfg_push_key(ctx, table);
        m->entries[m->n].max_tag_bytes = max_tag_bytes;
        rv = compile_entry(&m->entries[m->n++], table, obj, ctx);
        cfg_pop(ctx);
        if (rv != 0)
            break;
    }
    if (rv != 0) {
        tagmap_unref(&m);
        return (-1);
    }
    qsort(m->entries, m->n, sizeof *m->entries, cmp_entry);
    *mp = m;
    return (0);
}

struct tagmap *
tagmap_ref(const struct tagmap *cm)
{
    struct tagmap *m = (struct tagmap *)(uintptr_t)cm; /* the count is not the map's content */

    CHECK_OBJ_NOTNULL(m, TAGMAP_MAGIC);
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return (m);
}

void
tagmap_unref(struct tagmap **mp)
{
    struct tagmap *m = *mp;
    size_t i;

    if (m == NULL)
        return;
    *mp = NULL;
    CHECK_OBJ_NOTNULL(m, TAGMAP_MAGIC);
    /* Release: our reads of the map happen before whoever frees it. */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (i = 0; i < m->n; i++)
        entry_free(&m->entries[i]);
    free(m->entries);
    FREE_OBJ(m);
}

size_t
tagmap_count(const struct tagmap *m)
{
    CHECK_OBJ_NOTNULL(m, TAGMAP_MAGIC);
    return (m->n);
}

const struct tagmap_entry *
tagmap_at(const struct tagmap *m, size_t i)
{
    CHECK_OBJ_NOTNULL(m, TAGMAP_MAGIC);
    AN(i < m->n);
    return (&m->entries[i]);
}

const struct tagmap_entry *
tagmap_lookup(const struct tagmap *m, const char *table)
{
    struct tagmap_entry key;

    CHECK_OBJ_NOTNULL(m, TAGMAP_MAGIC);
    key.table = (char *)(uintptr_t)table;
    return (bsearch(&key, m->entries, m->n, sizeof *m->entries, cmp_entry));
}

const char *
tagmap_table(const struct tagmap_entry *e)
{
    CHECK_OBJ_NOTNULL(e, TAGMAP_ENTRY_MAGIC);
    return (e->table);
}

const char *const *
tagmap_columns(const struct tagmap_entry *e, size_t *n)
{
    CHECK_OBJ_NOTNULL(e, TAGMAP_ENTRY_MAGIC);
    *n = e->ncols;
    return ((const char *const *)e->cols);
}

size_t
tagmap_nfallback(const struct tagmap_entry *e)
{
    CHECK_OBJ_NOTNULL(e, TAGMAP_ENTRY_MAGIC);
    return (e->nfallback);
}

const char *
tagmap_fallback_tag(const struct tagmap_entry *e, size_t i)
{
    CHECK_OBJ_NOTNULL(e, TAGMAP_ENTRY_MAGIC);
    AN(i < e->nfallback);
    return (e->fallback[i]);
}

void
tagmap_add_fallback(const struct tagmap_entry *e, struct tagset *out)
{
    size_t i;

    CHECK_OBJ_NOTNULL(e, TAGMAP_ENTRY_MAGIC);
    for (i = 0; i < e->nfallback; i++)
        tagset_add(out, e->fallback[i], strlen(e->fallback[i]));
}

static int
col_index(const struct change *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->ncols; i++)
        if (strcmp(c->colnames[i], name) == 0)
            return ((int)i);
    return (-1);
}

static int
ignored(const struct tagmap_entry *e, const char *col)
{
    size_t i;

    for (i = 0; i < e->nignore; i++)
        if (strcmp(e->ignore[i], col) == 0)
            return (1);
    return (0);
}

/*
 * Render one template against one row image into buf (max_tag_bytes + 1).
 * Returns the length, -1 when a NULL drops the tag, or a TM_* flag (negated)
 * when a value is missing or the tag is too long.
 */
static long
render(const struct tagmap_entry *e, const struct tpl *t, const struct change *c,
       const struct col_value *img, char *buf)
{
    size_t i, o = 0;
    int k;

    for (i = 0; i < t->nparts; i++) {
        const struct tpl_part *p = &t->parts[i];
        if (p->lit != NULL) {
            if (o + p->litlen > e->max_tag_bytes)
                return (-(long)TM_OVERSIZE - 1);
            memcpy(buf + o, p->lit, p->litlen);
            o += p->litlen;
            continue;
        }
        k = col_index(c, p->col);
        if (k < 0 || img[k].state == COL_UNKNOWN)
            return (-(long)TM_FALLBACK - 1);
        if (img[k].state == COL_NULL)
            return (-1);
        /* Encode straight into buf, refusing as soon as the tag passes the limit:
         * a 1 MB value costs one pass over at most max_tag_bytes of it. */
        for (size_t j = 0; j < img[k].len; j++) {
            unsigned char ch = (unsigned char)img[k].data[j];
            size_t need = unreserved(ch) ? 1 : 3;
            if (o + need > e->max_tag_bytes)
                return (-(long)TM_OVERSIZE - 1);
            o += tag_encode(buf + o, (const char *)&ch, 1);
        }
    }
    buf[o] = '\0';
    return ((long)o);
}

static int
render_image(const struct tagmap_entry *e, const struct change *c, const struct col_value *img,
             struct tagset *out)
{
    char buf[TAGMAP_MAX_TAG_BYTES + 4];
    int flags = 0;
    size_t i;
    long n;

    for (i = 0; i < e->ntags; i++) {
        n = render(e, &e->tags[i], c, img, buf);
        /*
         * A template of placeholders only renders empty when every value is
         * empty.  No page can carry an empty tag, and in a request it is an
         * empty element ("a,,b", ["a","","b"]) that a purge API may refuse
         * forever: drop it, as a NULL drops its tag (found by fuzz_tagmap).
         */
        if (n > 0)
            tagset_add(out, buf, (size_t)n);
        else if (n < -1)
            flags |= (int)(-n - 1);
    }
    return (flags);
}

static int
image_complete(const struct change *c, const struct col_value *img)
{
    size_t i;

    for (i = 0; i < c->ncols; i++)
        if (img[i].state == COL_UNKNOWN)
            return (0);
    return (1);
}

/* Both images complete and equal outside ignore_columns. */
static int
only_ignored_changed(const struct tagmap_entry *e, const struct change *c)
{
    size_t i;

    if (!image_complete(c, c->oldv) || !image_complete(c, c->newv))
        return (0);
    for (i = 0; i < c->ncols; i++) {
        const struct col_value *a = &c->oldv[i], *b = &c->newv[i];
        if (ignored(e, c->colnames[i]))
            continue;
        if (a->state != b->state)
            return (0);
        if (a->state == COL_VALUE && (a->len != b->len || memcmp(a->data, b->data, a->len) != 0))
            return (0);
    }
    return (1);
}

int
tagmap_apply(const struct tagmap_entry *e, const struct change *c, struct tagset *out)
{
    int flags = 0;

    CHECK_OBJ_NOTNULL(e, TAGMAP_ENTRY_MAGIC);
    switch (c->op) {
    case CHG_INSERT:
        flags = c->newv ? render_image(e, c, c->newv, out) : TM_FALLBACK;
        break;
    case CHG_DELETE:
        flags = c->oldv ? render_image(e, c, c->oldv, out) : TM_FALLBACK;
        break;
    case CHG_UPDATE:
        if (c->oldv != NULL && c->newv != NULL && e->nignore > 0 && only_ignored_changed(e, c))
            return (TM_UNCHANGED);
        flags = c->oldv ? render_image(e, c, c->oldv, out) : TM_FALLBACK;
        flags |= c->newv ? render_image(e, c, c->newv, out) : TM_FALLBACK;
        break;
    case CHG_TRUNCATE:
        flags = TM_FALLBACK;
        break;
    }
    if (flags & (TM_FALLBACK | TM_OVERSIZE)) {
        tagmap_add_fallback(e, out);
        if (e->nfallback == 0)
            flags |= TM_NOFALLBACK;
    }
    return (flags);
}

size_t
tagmap_missing_columns(const struct tagmap_entry *e, const char *const *colnames, size_t ncols,
                       void (*missing)(void *, const char *), void *arg)
{
    size_t i, j, n = 0;

    CHECK_OBJ_NOTNULL(e, TAGMAP_ENTRY_MAGIC);
    for (i = 0; i < e->ncols; i++) {
        for (j = 0; j < ncols; j++)
            if (strcmp(e->cols[i], colnames[j]) == 0)
                break;
        if (j == ncols) {
            missing(arg, e->cols[i]);
            n++;
        }
    }
    return (n);
}
