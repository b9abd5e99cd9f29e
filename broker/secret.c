#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "obj.h"
#include "secret.h"

int
secret_load(const char *source, const char *env, const char *file, char **out)
{
    char buf[1024];
    FILE *f;
    size_t n;

    *out = NULL;
    if (env != NULL) {
        const char *v = getenv(env);
        if (v == NULL) {
            log_err("source %s: password_env names %s, which is not set", source, env);
            return (-1);
        }
        *out = tp_strdup(v);
    } else if (file != NULL) {
        f = fopen(file, "r");
        if (f == NULL) {
            log_err("source %s: cannot read password_file %s: %s", source, file, strerror(errno));
            return (-1);
        }
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        *out = tp_strdup(buf);
        memset(buf, 0, sizeof buf);
    }
    return (0);
}

void
secret_free(char **sp)
{
    if (*sp == NULL)
        return;
    memset(*sp, 0, strlen(*sp));
    free(*sp);
    *sp = NULL;
}
