/* The registry of connectors.  To add one: implement struct connector_impl
 * in conn_NAME.c and list it here. */
#include <string.h>

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
