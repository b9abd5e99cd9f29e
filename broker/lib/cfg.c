/* Strict configuration reading (cfg.h): the key-path stack, typed getters and the
 * position re-scan that turns a JSON path into file:line:column. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "obj.h"

#define CFG_MAX_DEPTH 32

/* A position in JSON text (the scanner at the end of this file). */
struct jscan {
    const char *p;
    int line, col;
};

struct cfg_ctx {
    unsigned magic;
#define CFG_CTX_MAGIC 0x5a1c0e77
    char *file;
    char *text;
    struct jpath_comp path[CFG_MAX_DEPTH];
    char *keys[CFG_MAX_DEPTH]; /* owned copies of path[].key */
    size_t depth;
    char *err;
    char **warn;
    size_t nwarn, maxwarn;
};

struct cfg_ctx *
cfg_ctx_new(const char *file, const char *text)
{
    struct cfg_ctx *c;

    ALLOC_OBJ(c, CFG_CTX_MAGIC);
    c->file = tp_strdup(file);
    c->text = tp_strdup(text ? text : "");
    return (c);
}

void
cfg_ctx_destroy(struct cfg_ctx **cp)
{
    struct cfg_ctx *c = *cp;
    size_t i;

    if (c == NULL)
        return;
    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    while (c->depth > 0)
        cfg_pop(c);
    for (i = 0; i < c->nwarn; i++)
        free(c->warn[i]);
    free(c->warn);
    free(c->err);
    free(c->text);
    free(c->file);
    FREE_OBJ(c);
    *cp = NULL;
}

char *
cfg_read_file(const char *path, size_t *lenp, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return (NULL);
    }
    do {
        if (len + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            buf = tp_realloc(buf, cap);
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        free(buf);
        buf = NULL;
    } else {
        buf[len] = '\0';
        *lenp = len;
    }
    fclose(f);
    return (buf);
}

static void js_adv(struct jscan *s);

json_t *
cfg_parse_text(struct cfg_ctx **ctxp, const char *path, const char *text, size_t len, char *err,
               size_t errlen)
{
    json_error_t jerr;
    json_t *root;

    *ctxp = NULL;
    if (strlen(text) != len) {
        /* Like any other error, it names where: the line and column of the first NUL. */
        struct jscan s = {text, 1, 1};
        while (*s.p != '\0')
            js_adv(&s);
        snprintf(err, errlen, "%s:%d:%d: contains a NUL byte", path, s.line, s.col);
        return (NULL);
    }
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    } else if (!json_is_object(root)) {
        snprintf(err, errlen, "%s:1:1: expected a JSON object at the top level", path);
        json_decref(root);
        root = NULL;
    } else {
        *ctxp = cfg_ctx_new(path, text);
    }
    return (root);
}

json_t *
cfg_load_file(struct cfg_ctx **ctxp, const char *path, char *err, size_t errlen)
{
    json_t *root;
    size_t len;
    char *text;

    *ctxp = NULL;
    text = cfg_read_file(path, &len, err, errlen);
    if (text == NULL)
        return (NULL);
    root = cfg_parse_text(ctxp, path, text, len, err, errlen);
    free(text);
    return (root);
}

void
cfg_push_key(struct cfg_ctx *c, const char *key)
{
    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    AN(c->depth < CFG_MAX_DEPTH);
    c->keys[c->depth] = tp_strdup(key);
    c->path[c->depth].key = c->keys[c->depth];
    c->path[c->depth].idx = 0;
    c->depth++;
}

void
cfg_push_idx(struct cfg_ctx *c, size_t idx)
{
    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    AN(c->depth < CFG_MAX_DEPTH);
    c->keys[c->depth] = NULL;
    c->path[c->depth].key = NULL;
    c->path[c->depth].idx = idx;
    c->depth++;
}

void
cfg_pop(struct cfg_ctx *c)
{
    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    AN(c->depth > 0);
    c->depth--;
    free(c->keys[c->depth]);
    c->keys[c->depth] = NULL;
}

const char *
cfg_file(const struct cfg_ctx *c)
{
    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    return (c->file);
}

/* "sinks[1].nodes" for messages. */
static void
path_str(const struct cfg_ctx *c, char *buf, size_t len)
{
    size_t i, o = 0;

    buf[0] = '\0';
    for (i = 0; i < c->depth && o < len; i++) {
        if (c->path[i].key != NULL && strchr(c->path[i].key, '.') != NULL)
            o += snprintf(buf + o, len - o, "[\"%s\"]", c->path[i].key);
        else if (c->path[i].key != NULL)
            o += snprintf(buf + o, len - o, "%s%s", i ? "." : "", c->path[i].key);
        else
            o += snprintf(buf + o, len - o, "[%zu]", c->path[i].idx);
    }
}

static char *fmt_at(struct cfg_ctx *c, int want_key, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static char *
fmt_at(struct cfg_ctx *c, int want_key, const char *fmt, va_list ap)
{
    char msg[1024], path[512], *out;
    int line = 1, col = 1;
    size_t n;

    vsnprintf(msg, sizeof msg, fmt, ap);
    path_str(c, path, sizeof path);
    if (jsonpos_find(c->text, c->path, c->depth, want_key, &line, &col) != 0) {
        /* A missing key: point at the enclosing object. */
        size_t d = c->depth;
        while (d > 0 && jsonpos_find(c->text, c->path, d, 0, &line, &col) != 0)
            d--;
        if (d == 0)
            line = col = 1;
    }
    n = strlen(c->file) + strlen(msg) + strlen(path) + 64;
    out = tp_malloc(n);
    if (path[0] != '\0')
        snprintf(out, n, "%s:%d:%d: %s: %s", c->file, line, col, path, msg);
    else
        snprintf(out, n, "%s:%d:%d: %s", c->file, line, col, msg);
    return (out);
}

int
cfg_error(struct cfg_ctx *c, const char *fmt, ...)
{
    va_list ap;

    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    if (c->err != NULL)
        return (-1);
    va_start(ap, fmt);
    c->err = fmt_at(c, 0, fmt, ap);
    va_end(ap);
    return (-1);
}

int
cfg_error_key(struct cfg_ctx *c, const char *fmt, ...)
{
    va_list ap;

    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    if (c->err != NULL)
        return (-1);
    va_start(ap, fmt);
    c->err = fmt_at(c, 1, fmt, ap);
    va_end(ap);
    return (-1);
}

void
cfg_warn(struct cfg_ctx *c, const char *fmt, ...)
{
    va_list ap;

    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    va_start(ap, fmt);
    if (c->nwarn == c->maxwarn) { /* doubling: a mapping may warn once per table */
        c->maxwarn = c->maxwarn ? 2 * c->maxwarn : 16;
        c->warn = tp_realloc(c->warn, c->maxwarn * sizeof *c->warn);
    }
    c->warn[c->nwarn++] = fmt_at(c, 0, fmt, ap);
    va_end(ap);
}

const char *
cfg_errmsg(const struct cfg_ctx *c)
{
    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    return (c->err);
}

size_t
cfg_nwarnings(const struct cfg_ctx *c)
{
    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    return (c->nwarn);
}

const char *
cfg_warning(const struct cfg_ctx *c, size_t i)
{
    CHECK_OBJ_NOTNULL(c, CFG_CTX_MAGIC);
    AN(i < c->nwarn);
    return (c->warn[i]);
}

int
cfg_check_keys(struct cfg_ctx *c, const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    size_t i;

    json_object_foreach((json_t *)obj, key, v)
    {
        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(allowed[i], key) == 0)
                break;
        if (allowed[i] == NULL) {
            cfg_push_key(c, key);
            cfg_error_key(c, "unknown key \"%s\"", key);
            cfg_pop(c);
            return (-1);
        }
    }
    return (0);
}

int
cfg_expect_object(struct cfg_ctx *c, const json_t *v, const char *what)
{
    if (json_is_object(v))
        return (0);
    return (cfg_error(c, "expected %s (a JSON object)", what));
}

static json_t *
get_member(struct cfg_ctx *c, const json_t *obj, const char *key, int required)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL && required)
        cfg_error(c, "missing required key \"%s\"", key);
    return (v);
}

int
cfg_get_str(struct cfg_ctx *c, const json_t *obj, const char *key, int required, const char **out)
{
    json_t *v = get_member(c, obj, key, required);
    int rv = 1;

    if (v == NULL)
        return (required ? -1 : 0);
    cfg_push_key(c, key);
    if (!json_is_string(v))
        rv = cfg_error(c, "expected a string");
    else if (json_string_length(v) != strlen(json_string_value(v)))
        rv = cfg_error(c, "string contains a NUL character");
    else
        *out = json_string_value(v);
    cfg_pop(c);
    return (rv);
}

int
cfg_get_int(struct cfg_ctx *c, const json_t *obj, const char *key, int required, long long min,
            long long max, long long *out)
{
    json_t *v = get_member(c, obj, key, required);
    int rv = 1;

    if (v == NULL)
        return (required ? -1 : 0);
    cfg_push_key(c, key);
    if (!json_is_integer(v))
        rv = cfg_error(c, "expected an integer");
    else if (json_integer_value(v) < min || json_integer_value(v) > max)
        rv = cfg_error(c, "%lld is out of range [%lld, %lld]", (long long)json_integer_value(v),
                       min, max);
    else
        *out = json_integer_value(v);
    cfg_pop(c);
    return (rv);
}

int
cfg_get_bool(struct cfg_ctx *c, const json_t *obj, const char *key, int required, int *out)
{
    json_t *v = get_member(c, obj, key, required);
    int rv = 1;

    if (v == NULL)
        return (required ? -1 : 0);
    cfg_push_key(c, key);
    if (!json_is_boolean(v))
        rv = cfg_error(c, "expected true or false");
    else
        *out = json_is_true(v);
    cfg_pop(c);
    return (rv);
}

/*------------------------------------------------------------------------
 * A minimal JSON scanner over text jansson has already accepted: it only
 * needs to skip values and compare keys, counting lines and columns.
 */

static void
js_adv(struct jscan *s)
{
    if (*s->p == '\n') {
        s->line++;
        s->col = 1;
    } else if (((unsigned char)*s->p & 0xc0) != 0x80) {
        s->col++; /* count code points, not continuation bytes */
    }
    s->p++;
}

static void
js_ws(struct jscan *s)
{
    while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')
        js_adv(s);
}

/* Reads a string token; copies its decoded form (ASCII escapes only) into buf. */
static int
js_string(struct jscan *s, char *buf, size_t len)
{
    size_t o = 0;
    char ch;

    if (*s->p != '"')
        return (-1);
    js_adv(s);
    while (*s->p != '"') {
        if (*s->p == '\0')
            return (-1);
        ch = *s->p;
        if (ch == '\\') {
            js_adv(s);
            ch = *s->p;
            switch (ch) {
            case 'n':
                ch = '\n';
                break;
            case 't':
                ch = '\t';
                break;
            case 'r':
                ch = '\r';
                break;
            case 'b':
                ch = '\b';
                break;
            case 'f':
                ch = '\f';
                break;
            case 'u':
                ch = '?'; /* positions only: close enough */
                for (int i = 0; i < 4 && s->p[1] != '\0'; i++)
                    js_adv(s);
                break;
            default:
                break;
            }
        }
        if (buf != NULL && o + 1 < len)
            buf[o++] = ch;
        js_adv(s);
    }
    js_adv(s);
    if (buf != NULL)
        buf[o] = '\0';
    return (0);
}

static int js_skip(struct jscan *s, int depth);

static int
js_skip_container(struct jscan *s, char close, int depth)
{
    js_adv(s);
    js_ws(s);
    if (*s->p == close) {
        js_adv(s);
        return (0);
    }
    for (;;) {
        if (close == '}') {
            if (js_string(s, NULL, 0) != 0)
                return (-1);
            js_ws(s);
            if (*s->p != ':')
                return (-1);
            js_adv(s);
            js_ws(s);
        }
        if (js_skip(s, depth + 1) != 0)
            return (-1);
        js_ws(s);
        if (*s->p == ',') {
            js_adv(s);
            js_ws(s);
            continue;
        }
        if (*s->p != close)
            return (-1);
        js_adv(s);
        return (0);
    }
}

static int
js_skip(struct jscan *s, int depth)
{
    if (depth > 2048)
        return (-1);
    switch (*s->p) {
    case '"':
        return (js_string(s, NULL, 0));
    case '{':
        return (js_skip_container(s, '}', depth));
    case '[':
        return (js_skip_container(s, ']', depth));
    case '\0':
        return (-1);
    default:
        while (*s->p != '\0' && strchr(",]} \t\r\n", *s->p) == NULL)
            js_adv(s);
        return (0);
    }
}

static int
js_find(struct jscan *s, const struct jpath_comp *comps, size_t n, int want_key)
{
    char key[1024];
    struct jscan at;
    size_t idx = 0;

    js_ws(s);
    if (n == 0)
        return (0);
    if ((comps->key != NULL && *s->p != '{') || (comps->key == NULL && *s->p != '['))
        return (-1);
    js_adv(s);
    js_ws(s);
    while (*s->p != '}' && *s->p != ']' && *s->p != '\0') {
        at = *s;
        if (comps->key != NULL) {
            if (js_string(s, key, sizeof key) != 0)
                return (-1);
            js_ws(s);
            js_adv(s); /* ':' */
            js_ws(s);
            if (strcmp(key, comps->key) == 0) {
                if (n == 1 && want_key) {
                    *s = at;
                    return (0);
                }
                return (js_find(s, comps + 1, n - 1, want_key));
            }
        } else if (idx == comps->idx) {
            return (js_find(s, comps + 1, n - 1, want_key));
        }
        if (js_skip(s, 0) != 0)
            return (-1);
        idx++;
        js_ws(s);
        if (*s->p == ',') {
            js_adv(s);
            js_ws(s);
        }
    }
    return (-1);
}

int
jsonpos_find(const char *text, const struct jpath_comp *comps, size_t n, int want_key, int *line,
             int *col)
{
    struct jscan s = {text, 1, 1};

    if (js_find(&s, comps, n, want_key) != 0)
        return (-1);
    *line = s.line;
    *col = s.col;
    return (0);
}
