/* The registry of connectors.  To add one: implement struct connector_impl
 * in conn_NAME.c and list it here.  Also the configuration both sources share. */
#include <stdlib.h>
#include <string.h>

#include "../broker/lib/cfg.h"
#include "../broker/lib/obj.h"
#include "../broker/lib/strv.h"
#include "../broker/tagmap.h"
#include "connector.h"

extern const struct connector_impl conn_postgres;
extern const struct connector_impl conn_mysql;

static const struct connector_impl *const registry[] = {
    &conn_postgres,
    &conn_mysql,
    NULL,
};

const struct connector_impl *
connector_find(const char *type)
{
    size_t i;

    for (i = 0; registry[i] != NULL; i++)
        if (strcmp(registry[i]->name, type) == 0)
            return (registry[i]);
    return (NULL);
}

const char *
connector_names(void)
{
    return ("postgres, mysql");
}

int
conn_gap_tags_cfg(struct cfg_ctx *ctx, const json_t *obj, char ***tags, size_t *n)
{
    json_t *a = json_object_get(obj, "gap_tags"), *v;
    size_t i;
    int rv = 0;

    *tags = NULL;
    *n = 0;
    if (a == NULL)
        return (0);
    cfg_push_key(ctx, "gap_tags");
    if (!json_is_array(a)) {
        rv = cfg_error(ctx, "expected an array of tags");
        goto out;
    }
    *tags = tp_calloc(json_array_size(a) + 1, sizeof **tags);
    json_array_foreach(a, i, v)
    {
        cfg_push_idx(ctx, i);
        if (!json_is_string(v) || !tag_literal_ok(json_string_value(v)))
            rv = cfg_error(ctx, "expected a tag: printable ASCII without space, comma, quote, "
                                "'%%' or braces");
        cfg_pop(ctx);
        if (rv != 0)
            goto out;
        (*tags)[(*n)++] = tp_strdup(json_string_value(v));
    }
out:
    cfg_pop(ctx);
    return (rv);
}

void
conn_gap_tags_free(char ***tags, size_t *n)
{
    strv_free(*tags, *n);
    *tags = NULL;
    *n = 0;
}
