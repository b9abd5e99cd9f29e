/* Configuration loading (config.h): the top-level keys, the sources and sinks they name, and
 * the mapping file; owns the struct config it returns until config_destroy(). */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "../connectors/connector.h"
#include "../sinks/sink.h"
#include "config.h"
#include "lib/cfg.h"
#include "lib/obj.h"
#include "lib/strv.h"
#include "lib/sbuf.h"
#include "tagmap.h"

static const char *const top_keys[] = {
    "state_dir",     "mapping", "sources",          "sinks",      "delivery", "max_txn_tags",
    "max_tag_bytes", "listen",  "drain_timeout_ms", "log_format", NULL};
static const char *const delivery_keys[] = {"coalesce_ms",      "retry_initial_ms",
                                            "retry_max_ms",     "timeout_ms",
                                            "max_pending_tags", "flush_after_down_s",
                                            "rebound_ms",       "discover_interval_s",
                                            "hosts_file",       NULL};

static int
load_delivery(struct config *c, const json_t *root, struct cfg_ctx *ctx)
{
    json_t *d = json_object_get(root, "delivery");
    struct delivery_cfg *dc = &c->delivery;
    long long v;
    int rv = 0;

    dc->coalesce_ms = 5;
    dc->retry_initial_ms = 100;
    dc->retry_max_ms = 10000;
    dc->timeout_ms = 2000;
    dc->max_pending_tags = 100000;
    dc->flush_after_down_s = 300;
    dc->rebound_ms = 0;
    dc->discover_interval_s = 30;
    if (d == NULL)
        return (0);
    cfg_push_key(ctx, "delivery");
    if (cfg_expect_object(ctx, d, "delivery settings") != 0 ||
        cfg_check_keys(ctx, d, delivery_keys) != 0) {
        rv = -1;
        goto out;
    }
#define DKEY(k, lo, hi)                                                                            \
    v = dc->k;                                                                                     \
    if (cfg_get_int(ctx, d, #k, 0, lo, hi, &v) < 0) {                                              \
        rv = -1;                                                                                   \
        goto out;                                                                                  \
    }                                                                                              \
    dc->k = (long)v;
    DKEY(coalesce_ms, 0, 60000)
    DKEY(retry_initial_ms, 1, 3600000)
    DKEY(retry_max_ms, 1, 86400000)
    DKEY(timeout_ms, 1, 3600000)
    DKEY(max_pending_tags, 1, 100000000)
    DKEY(flush_after_down_s, 0, 86400 * 30)
    DKEY(rebound_ms, 0, 3600000)
    DKEY(discover_interval_s, 1, 86400)
#undef DKEY
    {
        const char *hf = NULL;
        if (cfg_get_str(ctx, d, "hosts_file", 0, &hf) < 0) {
            rv = -1;
            goto out;
        }
        if (hf != NULL)
            snprintf(dc->hosts_file, sizeof dc->hosts_file, "%s", hf);
    }
    if (dc->retry_max_ms < dc->retry_initial_ms) {
        cfg_push_key(ctx, "retry_max_ms");
        rv = cfg_error(ctx, "must not be less than retry_initial_ms (%ld)", dc->retry_initial_ms);
        cfg_pop(ctx);
    }
out:
    cfg_pop(ctx);
    return (rv);
}

#define MAX_SOURCES 64
#define MAX_SINKS   256

static struct sink *
find_sink(const struct config *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->nsinks; i++)
        if (strcmp(sink_name(c->sinks[i]), name) == 0)
            return (c->sinks[i]);
    return (NULL);
}

/* Every "after" names another sink, and following them never loops. */
static int
check_tiers(const struct config *c, const json_t *arr, struct cfg_ctx *ctx)
{
    const struct sink *s;
    size_t i, hops;
    int rv = 0;

    for (i = 0; i < c->nsinks && rv == 0; i++) {
        const char *after = sink_opts(c->sinks[i])->after;
        if (after == NULL)
            continue;
        cfg_push_idx(ctx, i);
        cfg_push_key(ctx, "after");
        if (find_sink(c, after) == NULL)
            rv = cfg_error(ctx, "no sink is named \"%s\"", after);
        for (s = c->sinks[i], hops = 0; rv == 0 && s != NULL && sink_opts(s)->after != NULL;
             hops++) {
            if (hops > c->nsinks) {
                rv = cfg_error(ctx, "sinks' \"after\" form a loop through \"%s\"", after);
                break;
            }
            s = find_sink(c, sink_opts(s)->after);
        }
        cfg_pop(ctx);
        cfg_pop(ctx);
    }
    (void)arr;
    return (rv);
}

/* Canonical text of what a compiled map depends on: equal text, equal map. */
static char *
map_sig(const json_t *mapping, size_t max_tag_bytes)
{
    struct sbuf sb = {0};
    char *j = json_dumps(mapping, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

    sbuf_printf(&sb, "%zu %s", max_tag_bytes, j ? j : "");
    free(j);
    return (sb.p);
}

/* Canonical text of the settings a reload cannot change (compared, never logged). */
static char *
restart_sig(const json_t *root)
{
    static const char *const keys[] = {"sources", "state_dir", "max_txn_tags", "listen", NULL};
    struct sbuf sb = {0};
    size_t i;
    char *j;

    sbuf_printf(&sb, "%s", "");
    for (i = 0; keys[i] != NULL; i++) {
        const json_t *v = json_object_get(root, keys[i]);
        j = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
        sbuf_printf(&sb, "%s=%s\n", keys[i], j ? j : "");
        free(j);
    }
    return (sb.p);
}

/* The mapping: a path relative to the config file's folder, or inline. */
static int
load_mapping(struct config *c, const json_t *root, struct cfg_ctx *ctx, char *err, size_t errlen)
{
    json_t *m = json_object_get(root, "mapping"), *mroot;
    struct cfg_ctx *mctx = NULL;
    char *dir, *path, *base, *text;
    size_t n;
    int rv;

    if (m == NULL)
        return (cfg_error(ctx, "missing required key \"mapping\""));
    if (json_is_object(m)) {
        cfg_push_key(ctx, "mapping");
        rv = tagmap_compile(&c->map, m, c->max_tag_bytes, ctx);
        cfg_pop(ctx);
        c->map_sig = map_sig(m, c->max_tag_bytes);
        return (rv);
    }
    if (!json_is_string(m)) {
        cfg_push_key(ctx, "mapping");
        cfg_error(ctx, "expected a file name or a mapping object");
        cfg_pop(ctx);
        return (-1);
    }
    /* dirname() may modify its argument: call it once, on a copy. */
    dir = tp_strdup(c->path);
    base = dirname(dir);
    n = strlen(base) + json_string_length(m) + 2;
    path = tp_malloc(n);
    if (json_string_value(m)[0] == '/')
        snprintf(path, n, "%s", json_string_value(m));
    else
        snprintf(path, n, "%s/%s", base, json_string_value(m));
    free(dir);
    text = cfg_read_file(path, &n, err, errlen);
    if (text == NULL) {
        /* A file that cannot be read has no line to point at: point at its name in the config. */
        free(path);
        cfg_push_key(ctx, "mapping");
        cfg_error(ctx, "%s", err);
        cfg_pop(ctx);
        return (-1);
    }
    mroot = cfg_parse_text(&mctx, path, text, n, err, errlen);
    free(text);
    free(path);
    if (mroot == NULL)
        return (-2); /* err already filled, with the mapping file's line and column */
    rv = tagmap_compile(&c->map, mroot, c->max_tag_bytes, mctx);
    c->map_sig = map_sig(mroot, c->max_tag_bytes);
    if (rv != 0)
        snprintf(err, errlen, "%s", cfg_errmsg(mctx));
    json_decref(mroot);
    cfg_ctx_destroy(&mctx);
    return (rv == 0 ? 0 : -2);
}

static int
name_unique(struct cfg_ctx *ctx, const char *kind, const char *name, char **seen, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(seen[i], name) == 0) {
            cfg_push_key(ctx, "name");
            cfg_error(ctx, "duplicate %s name \"%s\"", kind, name);
            cfg_pop(ctx);
            return (-1);
        }
    return (0);
}

static int
load_source(struct config *c, const json_t *obj, struct cfg_ctx *ctx)
{
    const char *name = NULL, *type = NULL;
    struct source_cfg *s = &c->sources[c->nsources];
    char **names = tp_calloc(c->nsources + 1, sizeof *names);
    size_t i;
    int rv = -1;

    for (i = 0; i < c->nsources; i++)
        names[i] = c->sources[i].name;
    if (cfg_expect_object(ctx, obj, "a source") != 0 ||
        cfg_get_str(ctx, obj, "name", 1, &name) < 0 || cfg_get_str(ctx, obj, "type", 1, &type) < 0)
        goto out;
    if (name_unique(ctx, "source", name, names, c->nsources) != 0)
        goto out;
    s->impl = connector_find(type);
    if (s->impl == NULL) {
        cfg_push_key(ctx, "type");
        cfg_error(ctx, "unknown source type \"%s\" (known: %s)", type, connector_names());
        cfg_pop(ctx);
        goto out;
    }
    s->name = tp_strdup(name);
    c->nsources++;
    rv = s->impl->configure(&s->priv, name, obj, ctx);
out:
    free(names);
    return (rv);
}

static int
load_array(struct config *c, const json_t *root, const char *key, struct cfg_ctx *ctx)
{
    json_t *arr = json_object_get(root, key), *v;
    size_t i, max = strcmp(key, "sources") == 0 ? MAX_SOURCES : MAX_SINKS;
    int rv = 0;

    if (arr == NULL)
        return (cfg_error(ctx, "missing required key \"%s\"", key));
    cfg_push_key(ctx, key);
    if (!json_is_array(arr)) {
        rv = cfg_error(ctx, "expected an array");
        goto out;
    }
    /* Names are checked pairwise and tiers followed per sink: keep n small. */
    if (json_array_size(arr) > max) {
        rv = cfg_error(ctx, "%zu entries: at most %zu %s", json_array_size(arr), max, key);
        goto out;
    }
    if (strcmp(key, "sources") == 0)
        c->sources = tp_calloc(json_array_size(arr), sizeof *c->sources);
    else
        c->sinks = tp_calloc(json_array_size(arr), sizeof *c->sinks);
    json_array_foreach(arr, i, v)
    {
        cfg_push_idx(ctx, i);
        if (strcmp(key, "sources") == 0) {
            rv = load_source(c, v, ctx);
        } else {
            rv = sink_configure(&c->sinks[c->nsinks], v, c->max_tag_bytes, ctx);
            if (c->sinks[c->nsinks] != NULL)
                c->nsinks++;
            for (size_t j = 0; rv == 0 && j + 1 < c->nsinks; j++)
                if (strcmp(sink_name(c->sinks[j]), sink_name(c->sinks[c->nsinks - 1])) == 0) {
                    cfg_push_key(ctx, "name");
                    rv = cfg_error(ctx, "duplicate sink name \"%s\"", sink_name(c->sinks[j]));
                    cfg_pop(ctx);
                }
        }
        cfg_pop(ctx);
        if (rv != 0)
            break;
    }
out:
    if (rv == 0 && strcmp(key, "sinks") == 0)
        rv = check_tiers(c, arr, ctx);
    cfg_pop(ctx);
    return (rv);
}

static int
load_limits(struct config *c, const json_t *root, struct cfg_ctx *ctx)
{
    long long mtb = TAGMAP_DEFAULT_MAX_TAG_BYTES, mtt = 100000, dt = 10000;
    const char *sd = "/var/lib/tagpurge", *listen = "127.0.0.1:9187", *lf = "text";

    if (cfg_get_int(ctx, root, "max_tag_bytes", 0, 16, TAGMAP_MAX_TAG_BYTES, &mtb) < 0 ||
        cfg_get_int(ctx, root, "max_txn_tags", 0, 1, 100000000, &mtt) < 0 ||
        cfg_get_str(ctx, root, "state_dir", 0, &sd) < 0 ||
        cfg_get_str(ctx, root, "listen", 0, &listen) < 0 ||
        cfg_get_int(ctx, root, "drain_timeout_ms", 0, 0, 3600000, &dt) < 0)
        return (-1);
    c->drain_timeout_ms = (long)dt;
    if (cfg_get_str(ctx, root, "log_format", 0, &lf) < 0)
        return (-1);
    if (strcmp(lf, "text") != 0 && strcmp(lf, "json") != 0) {
        cfg_push_key(ctx, "log_format");
        cfg_error(ctx, "expected \"text\" or \"json\"");
        cfg_pop(ctx);
        return (-1);
    }
    c->log_json = strcmp(lf, "json") == 0;
    if (strlen(listen) >= sizeof c->listen || (listen[0] != '\0' && strchr(listen, ':') == NULL)) {
        cfg_push_key(ctx, "listen");
        cfg_error(ctx, "expected \"ADDR:PORT\" such as \"127.0.0.1:9187\", or \"\" for no "
                       "status server");
        cfg_pop(ctx);
        return (-1);
    }
    snprintf(c->listen, sizeof c->listen, "%s", listen);
    c->max_tag_bytes = (size_t)mtb;
    c->max_txn_tags = (size_t)mtt;
    c->state_dir = tp_strdup(sd);
    return (0);
}

/* Warn where a mapping can only broaden: what `check` reports. */
static void
mapping_warnings(struct config *c, struct cfg_ctx *ctx)
{
    size_t i, j, ncols;

    for (i = 0; i < tagmap_count(c->map); i++) {
        const struct tagmap_entry *e = tagmap_at(c->map, i);
        const char *const *cols = tagmap_columns(e, &ncols);
        char buf[1024];
        size_t o = 0;

        if (ncols == 0)
            continue;
        for (j = 0; j < ncols && o < sizeof buf; j++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", j ? ", " : "", cols[j]);
        cfg_push_key(ctx, "mapping");
        if (tagmap_nfallback(e) == 0)
            cfg_warn(ctx,
                     "%s: tags need columns %s but there are no fallback tags: a change that "
                     "lacks one of them (REPLICA IDENTITY DEFAULT on PostgreSQL, an unchanged "
                     "TOAST value, a minimal row image) cannot be purged; add \"fallback_tags\"",
                     tagmap_table(e), buf);
        else
            cfg_warn(ctx,
                     "%s: tags need columns %s; a change that lacks one of them (REPLICA "
                     "IDENTITY DEFAULT on PostgreSQL, an unchanged TOAST value, a minimal row "
                     "image) purges the fallback tags instead (%zu tags, first \"%s\")",
                     tagmap_table(e), buf, tagmap_nfallback(e), tagmap_fallback_tag(e, 0));
        cfg_pop(ctx);
    }
}

static void
copy_warnings(struct config *c, const struct cfg_ctx *ctx)
{
    size_t i;

    c->nwarnings = cfg_nwarnings(ctx);
    c->warnings = tp_calloc(c->nwarnings + 1, sizeof *c->warnings);
    for (i = 0; i < c->nwarnings; i++)
        c->warnings[i] = tp_strdup(cfg_warning(ctx, i));
}

int
config_load(struct config **cp, const char *path, char *err, size_t errlen)
{
    struct cfg_ctx *ctx = NULL;
    struct config *c;
    json_t *root;
    int rv = -1, mrv;

    *cp = NULL;
    root = cfg_load_file(&ctx, path, err, errlen);
    if (root == NULL)
        return (-1);
    c = tp_calloc(1, sizeof *c);
    c->path = tp_strdup(path);
    if (cfg_check_keys(ctx, root, top_keys) != 0 || load_limits(c, root, ctx) != 0 ||
        load_delivery(c, root, ctx) != 0)
        goto out;
    mrv = load_mapping(c, root, ctx, err, errlen);
    if (mrv == -2) {
        config_destroy(&c);
        json_decref(root);
        cfg_ctx_destroy(&ctx);
        return (-1);
    }
    if (mrv != 0 || load_array(c, root, "sources", ctx) != 0 ||
        load_array(c, root, "sinks", ctx) != 0)
        goto out;
    mapping_warnings(c, ctx);
    copy_warnings(c, ctx);
    c->restart_sig = restart_sig(root);
    rv = 0;
out:
    if (rv != 0) {
        snprintf(err, errlen, "%s", cfg_errmsg(ctx) ? cfg_errmsg(ctx) : "invalid configuration");
        config_destroy(&c);
    }
    json_decref(root);
    cfg_ctx_destroy(&ctx);
    *cp = c;
    return (rv);
}

void
config_destroy(struct config **cp)
{
    struct config *c = *cp;
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->nsources; i++) {
        if (c->sources[i].priv != NULL)
            c->sources[i].impl->destroy(c->sources[i].priv);
        free(c->sources[i].name);
    }
    free(c->sources);
    for (i = 0; i < c->nsinks; i++)
        sink_destroy(&c->sinks[i]);
    free(c->sinks);
    strv_free(c->warnings, c->nwarnings);
    tagmap_unref(&c->map);
    free(c->map_sig);
    free(c->restart_sig);
    free(c->state_dir);
    free(c->path);
    free(c);
    *cp = NULL;
}
