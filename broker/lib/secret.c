/* Secrets (secret.h): read from an environment variable or a file, wiped when freed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "log.h"
#include "obj.h"
#include "secret.h"

int
secret_keys(struct cfg_ctx *ctx, const json_t *obj, const char **env, const char **file)
{
    if (cfg_get_str(ctx, obj, "password_env", 0, env) < 0 ||
        cfg_get_str(ctx, obj, "password_file", 0, file) < 0)
        return (-1);
    if (*env != NULL && *file != NULL) {
        cfg_push_key(ctx, "password_file");
        cfg_error(ctx, "give password_env or password_file, not both");
        cfg_pop(ctx);
        return (-1);
    }
    return (0);
}

int
secret_read(const char *env, const char *file, const char *prefix, char **out, char *why,
            size_t whylen)
{
    char buf[8192];
    size_t n, plen;
    const char *v;
    FILE *f;
    int rv = 0;

    *out = NULL;
    if (prefix == NULL)
        prefix = "";
    if (env == NULL && file == NULL)
        return (0);
    /*
     * The prefix and the value share buf: one that does not fit is refused,
     * never cut short (a cut token fails in ways hard to trace).  A prefix
     * longer than buf once made the file branch write past it (an ASan stack
     * overflow; corpus input config/regress-secret-long-prefix).
     */
    plen = strlen(prefix);
    if (plen >= sizeof buf - 1) {
        snprintf(why, whylen, "prefix longer than %zu bytes", sizeof buf - 2);
        return (-1);
    }
    memcpy(buf, prefix, plen);
    if (env != NULL) {
        v = getenv(env);
        if (v == NULL) {
            snprintf(why, whylen, "environment variable %s is not set", env);
            return (-1);
        }
        n = strlen(v);
        if (n >= sizeof buf - plen) {
            snprintf(why, whylen, "environment variable %s: prefix and value longer than %zu bytes",
                     env, sizeof buf - 1);
            return (-1);
        }
        memcpy(buf + plen, v, n + 1);
    } else {
        f = fopen(file, "r");
        if (f == NULL) {
            snprintf(why, whylen, "cannot read %s: %s", file, strerror(errno));
            return (-1);
        }
        n = fread(buf + plen, 1, sizeof buf - 1 - plen, f);
        buf[plen + n] = '\0';
        if (strcspn(buf + plen, "\r\n") == sizeof buf - 1 - plen && fgetc(f) != EOF) {
            snprintf(why, whylen, "%s: prefix and first line longer than %zu bytes", file,
                     sizeof buf - 1);
            rv = -1;
        }
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
    }
    if (rv == 0)
        *out = tp_strdup(buf);
    memset(buf, 0, sizeof buf);
    return (rv);
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
