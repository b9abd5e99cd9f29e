/* String vectors (strv.h): free, copy and append arrays of owned strings. */
#include <stdlib.h>

#include "obj.h"
#include "strv.h"

void
strv_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

char **
strv_dup(const char *const *v, size_t n)
{
    char **c = tp_calloc(n ? n : 1, sizeof *c);
    size_t i;

    for (i = 0; i < n; i++)
        c[i] = tp_strdup(v[i]);
    return (c);
}

void
strv_push_owned(char ***v, size_t *n, char *s)
{
    *v = tp_grow(*v, *n, sizeof **v);
    (*v)[(*n)++] = s;
}

void
strv_push(char ***v, size_t *n, const char *s)
{
    strv_push_owned(v, n, tp_strdup(s));
}
