/*
 * Helpers shared by the unit tests that map rows to tags: compile a mapping
 * from JSON text (cfg positions name FILE) and join a tag set, sorted, by
 * spaces.  Include after test.h and broker/cfg.h, tagmap.h, tagset.h (the
 * including file names the paths).  Ownership: the tagmap is the caller's
 * (tagmap_unref); joined strings and error text live in static buffers,
 * valid until the next call (single-threaded tests).
 */
#ifndef TP_TEST_MAPUTIL_H
#define TP_TEST_MAPUTIL_H

#include <jansson.h>
#include <stdio.h>

/* NULL with *err set when tagmap_compile refuses TEXT; bad JSON fails the case. */
static inline struct tagmap *
map_compile(const char *file, const char *text, size_t max_tag_bytes, const char **err)
{
    static char errbuf[1024];
    struct cfg_ctx *ctx = cfg_ctx_new(file, text);
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    struct tagmap *m = NULL;

    if (root == NULL)
        FAILF("bad test JSON: %s", jerr.text);
    *err = NULL;
    if (tagmap_compile(&m, root, max_tag_bytes, ctx) != 0) {
        snprintf(errbuf, sizeof errbuf, "%s", cfg_errmsg(ctx));
        *err = errbuf;
    }
    json_decref(root);
    cfg_ctx_destroy(&ctx);
    return (m);
}

/* A mapping that must compile ("m.json", max_tag_bytes MAX). */
static inline struct tagmap *
map_compile_ok(const char *text, size_t max_tag_bytes)
{
    const char *err;
    struct tagmap *m = map_compile("m.json", text, max_tag_bytes, &err);

    if (m == NULL)
        FAILF("mapping does not compile: %s", err);
    return (m);
}

/* The tags of TS, sorted, joined by single spaces ("" when empty). */
static inline const char *
tags_join(struct tagset *ts)
{
    static char out[8192];
    const char *const *tags;
    size_t n, i, o = 0;

    tags = tagset_sorted(ts, &n);
    out[0] = '\0';
    for (i = 0; i < n; i++) {
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? " " : "", tags[i]);
        if (o >= sizeof out)
            FAILF("%zu tags do not fit the join buffer", n);
    }
    return (out);
}

#endif
