#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "obj.h"
#include "secret.h"

int
secret_read(const char *env, const char *file, const char *prefix, char **out, char *why,
            size_t whylen)
{
    char buf[8192];
    size_t n;
    FILE *f;

    *out = NULL;
    if (prefix == NULL)
        prefix = "";
    if (env != NULL) {
        const char *v = getenv(env);
        if (v == NULL) {
            snprintf(why, whylen, "environment variable %s is not set", env);
            return (-1);
        }
        snprintf(buf, sizeof buf, "%s%s", prefix, v);
    } else if (file != NULL) {
        f = fopen(file, "r");
        if (f == NULL) {
            snprintf(why, whylen, "cannot read %s: %s", file, strerror(errno));
            return (-1);
        }
        n = (size_t)snprintf(buf, sizeof buf, "%s", prefix);
        n += fread(buf + n, 1, sizeof buf - 1 - n, f);
        fclose(f);
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
    } else {
        return (0);
    }
    *out = tp_strdup(buf);
    memset(buf, 0, sizeof buf);
    return (0);
}

int
secret_load(const char *source, const char *env, const char *file, char **out)
{
    char why[1024];

    if (secret_read(env, file, NULL, out, why, sizeof why) != 0) {
        log_err("source %s: %s %s", source, env != NULL ? "password_env:" : "password_file:", why);
        return (-1);
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
