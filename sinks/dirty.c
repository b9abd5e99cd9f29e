/* Dirty-node marks (dirty.h): owns the in-memory copy of <state_dir>/dirty.json and its writes. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/statefile.h"
#include "../broker/tagset.h"
#include "dirty.h"

struct dirty {
    unsigned magic;
#define DIRTY_MAGIC 0x0d127e55
    char *path;
    json_t *marks; /* {"<sink>": {"<url>": mark}}: what the file holds */
};

/* A mark read from the file is {"flush": true} or {"tags": [strings]}, nothing else. */
static int
mark_valid(const json_t *m)
{
    const json_t *t = json_object_get(m, "tags"), *v;
    size_t i;

    if (!json_is_object(m))
        return (0);
    if (json_is_true(json_object_get(m, "flush")))
        return (json_object_size(m) == 1);
    if (!json_is_array(t) || json_object_size(m) != 1)
        return (0);
    json_array_foreach(t, i, v) if (!json_is_string(v)) return (0);
    return (1);
}

static int
marks_valid(const json_t *root)
{
    const json_t *marks = json_object_get(root, "marks"), *urls, *m;
    const char *sink, *url;

    if (!json_is_object(root) || json_integer_value(json_object_get(root, "version")) != 1 ||
        !json_is_object(marks))
        return (0);
    json_object_foreach((json_t *)marks, sink, urls)
    {
        if (!json_is_object(urls))
            return (0);
        json_object_foreach((json_t *)urls, url, m) if (!mark_valid(m)) return (0);
    }
    return (1);
}

int
dirty_open(struct dirty **dp, const char *state_dir)
{
    struct dirty *d;
    json_t *root = NULL;
    int r;

    /* Not fatal: without the folder no mark is written, so a down node holds as before. */
    if (statefile_dir(state_dir) != 0)
        log_warn("cannot create state_dir %s (%s): down nodes keep holding the checkpoint",
                 state_dir, strerror(errno));
    ALLOC_OBJ(d, DIRTY_MAGIC);
    d->path = statefile_path(state_dir, "dirty", ".json");
    r = statefile_read(d->path, &root);
    if (r < 0 || (r == 1 && !marks_valid(root))) {
        log_err("%s cannot be read or is not a dirty-node mark file: it names the nodes that "
                "missed purges; restore it, or flush every node by hand and remove it",
                d->path);
        json_decref(root);
        dirty_destroy(&d);
        return (-1);
    }
    d->marks = r == 1 ? json_incref(json_object_get(root, "marks")) : json_object();
    json_decref(root);
    if (json_object_size(d->marks) > 0)
        log_info("%s: %zu sinks with dirty nodes", d->path, json_object_size(d->marks));
    *dp = d;
    return (0);
}

void
dirty_destroy(struct dirty **dp)
{
    struct dirty *d = *dp;

    *dp = NULL;
    if (d == NULL)
        return;
    CHECK_OBJ_NOTNULL(d, DIRTY_MAGIC);
    json_decref(d->marks);
    free(d->path);
    FREE_OBJ(d);
}

const char *
dirty_path(const struct dirty *d)
{
    CHECK_OBJ_NOTNULL(d, DIRTY_MAGIC);
    return (d->path);
}

size_t
dirty_count(const struct dirty *d)
{
    const char *sink;
    json_t *urls;
    size_t n = 0;

    CHECK_OBJ_NOTNULL(d, DIRTY_MAGIC);
    json_object_foreach(d->marks, sink, urls) n += json_object_size(urls);
    return (n);
}

static int
dirty_save(const struct dirty *d)
{
    json_t *root = json_pack("{s:i, s:O}", "version", 1, "marks", d->marks);
    int rv;

    AN(root != NULL);
    rv = statefile_write(d->path, root);
    json_decref(root);
    return (rv);
}

int
dirty_get(const struct dirty *d, const char *sink, const char *url, int *flush, struct tagset *tags)
{
    const json_t *m = json_object_get(json_object_get(d->marks, sink), url), *v;
    size_t i;

    CHECK_OBJ_NOTNULL(d, DIRTY_MAGIC);
    if (m == NULL)
        return (0);
    *flush = json_is_true(json_object_get(m, "flush"));
    if (tags != NULL)
        json_array_foreach(json_object_get(m, "tags"), i, v)
            tagset_add(tags, json_string_value(v), json_string_length(v));
    return (1);
}

static json_t *
mark_new(int flush, const char *const *tags, size_t n)
{
    json_t *arr;
    size_t i;

    if (flush)
        return (json_pack("{s:b}", "flush", 1));
    arr = json_array();
    for (i = 0; i < n; i++)
        AZ(json_array_append_new(arr, json_string(tags[i])));
    return (json_pack("{s:o}", "tags", arr));
}

int
dirty_set(struct dirty *d, const char *sink, const char *url, int flush, const char *const *tags,
          size_t n)
{
    json_t *urls, *m, *old;
    int rv;

    CHECK_OBJ_NOTNULL(d, DIRTY_MAGIC);
    m = mark_new(flush, tags, n);
    urls = json_object_get(d->marks, sink);
    old = json_object_get(urls, url);
    if (old != NULL && json_equal(old, m)) {
        json_decref(m);
        return (0); /* the file holds it already */
    }
    if (urls == NULL) {
        urls = json_object();
        AZ(json_object_set_new(d->marks, sink, urls));
    }
    json_incref(old);
    AZ(json_object_set_new(urls, url, m));
    rv = dirty_save(d);
    if (rv != 0) {
        int saved = errno;
        if (old != NULL)
            AZ(json_object_set(urls, url, old));
        else
            AZ(json_object_del(urls, url));
        if (json_object_size(urls) == 0)
            AZ(json_object_del(d->marks, sink));
        errno = saved;
    }
    json_decref(old);
    return (rv);
}

/* Remove without saving; 1 when there was a mark. */
static int
mark_drop(struct dirty *d, const char *sink, const char *url)
{
    json_t *urls = json_object_get(d->marks, sink);

    if (urls == NULL || json_object_del(urls, url) != 0)
        return (0);
    if (json_object_size(urls) == 0)
        AZ(json_object_del(d->marks, sink));
    return (1);
}

/*
 * A failed rewrite leaves the old file, which still names the node: the next
 * start sends it one broad purge more than needed, never one less.
 */
int
dirty_remove(struct dirty *d, const char *sink, const char *url)
{
    CHECK_OBJ_NOTNULL(d, DIRTY_MAGIC);
    if (!mark_drop(d, sink, url))
        return (0);
    return (dirty_save(d));
}

int
dirty_prune(struct dirty *d, int (*keep)(void *, const char *, const char *), void *arg)
{
    const char *sink, *url;
    json_t *urls, *m;
    void *t1, *t2;
    int n = 0;

    CHECK_OBJ_NOTNULL(d, DIRTY_MAGIC);
    json_object_foreach_safe(d->marks, t1, sink, urls)
    {
        json_object_foreach_safe(urls, t2, url, m) if (!keep(arg, sink, url))
        {
            log_info("sink %s: node %s is no longer configured: its dirty mark is dropped", sink,
                     url);
            AZ(json_object_del(urls, url));
            n++;
        }
        if (json_object_size(urls) == 0)
            AZ(json_object_del(d->marks, sink));
    }
    if (n > 0 && dirty_save(d) != 0)
        return (-1);
    return (n);
}
