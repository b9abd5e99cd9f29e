/* `tagpurge tags` (cmd.h): parses one row change given as JSON and prints the tags the
 * mapping gives it, with the fallback and oversize notes. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "cmd.h"
#include "config.h"
#include "lib/obj.h"
#include "tagmap.h"
#include "tagset.h"

struct row {
    const char **names;
    struct col_value *vals;
    char **owned;
    size_t n;
};

static void
row_free(struct row *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        free(r->owned[i]);
    free(r->owned);
    free(r->names);
    free(r->vals);
}

/* A JSON object of column -> string | integer | null. */
static int
row_parse(const char *what, const char *text, struct row *r)
{
    json_error_t jerr;
    json_t *obj, *v;
    const char *k;
    char buf[64];
    size_t i = 0;

    memset(r, 0, sizeof *r);
    obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL || !json_is_object(obj)) {
        fprintf(stderr, "tagpurge: error: --%s: %s\n", what,
                obj ? "expected a JSON object" : jerr.text);
        json_decref(obj);
        return (-1);
    }
    r->n = json_object_size(obj);
    r->names = tp_calloc(r->n, sizeof *r->names);
    r->vals = tp_calloc(r->n, sizeof *r->vals);
    r->owned = tp_calloc(r->n, sizeof *r->owned);
    json_object_foreach(obj, k, v)
    {
        r->names[i] = r->owned[i] = NULL;
        if (json_is_null(v)) {
            r->vals[i].state = COL_NULL;
        } else if (json_is_string(v)) {
            r->vals[i].state = COL_VALUE;
            r->vals[i].len = json_string_length(v);
            r->owned[i] = tp_malloc(r->vals[i].len + 1);
            memcpy(r->owned[i], json_string_value(v), r->vals[i].len + 1);
            r->vals[i].data = r->owned[i];
        } else if (json_is_integer(v)) {
            snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            r->owned[i] = tp_strdup(buf);
            r->vals[i].state = COL_VALUE;
            r->vals[i].data = r->owned[i];
            r->vals[i].len = strlen(buf);
        } else {
            fprintf(stderr,
                    "tagpurge: error: --%s: column \"%s\": give the value as a JSON string, "
                    "as the database prints it\n",
                    what, k);
            r->n = i;
            json_decref(obj);
            return (-1);
        }
        r->names[i] = tp_strdup(k);
        i++;
    }
    json_decref(obj);
    return (0);
}

/* Align old and new on one column list: a column missing from one image is unknown there. */
static void
merge_rows(const struct row *a, const struct row *b, const char ***names, size_t *n)
{
    size_t i, j;

    *names = tp_calloc(a->n + b->n + 1, sizeof **names);
    *n = 0;
    for (i = 0; i < a->n; i++)
        (*names)[(*n)++] = a->names[i];
    for (i = 0; i < b->n; i++) {
        for (j = 0; j < a->n; j++)
            if (strcmp(a->names[j], b->names[i]) == 0)
                break;
        if (j == a->n)
            (*names)[(*n)++] = b->names[i];
    }
}

static struct col_value *
project(const struct row *r, const char **names, size_t n)
{
    struct col_value *v = tp_calloc(n, sizeof *v);
    size_t i, j;

    for (i = 0; i < n; i++)
        for (j = 0; j < r->n; j++)
            if (strcmp(names[i], r->names[j]) == 0)
                v[i] = r->vals[j];
    return (v);
}

static int
explain(const struct tagmap_entry *e, const struct row *oldr, const struct row *newr,
        const struct opts *o)
{
    struct change c;
    struct tagset *ts = tagset_new();
    const char *const *tags;
    const char **names;
    size_t n, i;
    int flags;

    merge_rows(oldr, newr, &names, &n);
    memset(&c, 0, sizeof c);
    c.table = o->table;
    c.colnames = names;
    c.ncols = n;
    c.op = o->oldrow && o->newrow ? CHG_UPDATE : o->newrow ? CHG_INSERT : CHG_DELETE;
    c.oldv = o->oldrow ? project(oldr, names, n) : NULL;
    c.newv = o->newrow ? project(newr, names, n) : NULL;
    flags = tagmap_apply(e, &c, ts);
    tags = tagset_sorted(ts, &n);
    for (i = 0; i < n; i++)
        printf("%s\n", tags[i]);
    if (flags & TM_UNCHANGED)
        fprintf(stderr, "tagpurge: only ignore_columns changed: nothing is purged\n");
    if (flags & TM_FALLBACK)
        fprintf(stderr, "tagpurge: a value the tags need is missing: fallback tags added\n");
    if (flags & TM_OVERSIZE)
        fprintf(stderr, "tagpurge: a tag passed max_tag_bytes: fallback tags added\n");
    if (flags & TM_NOFALLBACK)
        fprintf(stderr, "tagpurge: warning: fallback needed but the entry has none\n");
    free((void *)c.oldv);
    free((void *)c.newv);
    free(names);
    tagset_destroy(&ts);
    return (0);
}

int
cmd_tags(const struct opts *o)
{
    struct row oldr, newr;
    const struct tagmap_entry *e;
    struct config *c;
    int rv = EXIT_USAGE;

    if (o->table == NULL || (o->newrow == NULL && o->oldrow == NULL))
        return (usage_error("tags needs --table and --new and/or --old", NULL));
    c = load_or_complain(o->config);
    if (c == NULL)
        return (EXIT_USAGE);
    memset(&oldr, 0, sizeof oldr);
    memset(&newr, 0, sizeof newr);
    e = tagmap_lookup(c->map, o->table);
    if (e == NULL) {
        fprintf(stderr, "tagpurge: table %s is not in the mapping: its changes purge nothing\n",
                o->table);
        rv = 0;
    } else if ((o->oldrow == NULL || row_parse("old", o->oldrow, &oldr) == 0) &&
               (o->newrow == NULL || row_parse("new", o->newrow, &newr) == 0)) {
        rv = explain(e, &oldr, &newr, o);
    }
    row_free(&oldr);
    row_free(&newr);
    config_destroy(&c);
    return (rv);
}
