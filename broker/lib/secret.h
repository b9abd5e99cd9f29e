/*
 * Secrets (database passwords, API tokens in header values): read from an
 * environment variable or a file when the configuration is loaded, never
 * from the command line, never logged.  The caller owns *out and should wipe
 * it (secret_free) when done.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 */
#ifndef TP_SECRET_H
#define TP_SECRET_H

#include <jansson.h>
#include <stddef.h>

struct cfg_ctx;

/*
 * prefix + the value of env (variable name) or of file's first line (newline
 * stripped).  Neither set: *out = NULL, 0.  Else -1 with what to fix in why
 * (it names the variable or file, never a value).
 */
int secret_read(const char *env, const char *file, const char *prefix, char **out, char *why,
                size_t whylen);
/*
 * A source's "password_env" / "password_file" keys of obj (both optional, not
 * both): 0, or -1 with the error recorded in ctx.  The strings are borrowed
 * from obj.
 */
int secret_keys(struct cfg_ctx *, const json_t *obj, const char **env, const char **file);
/* secret_read() for a source's password_env / password_file; errors logged naming source. */
int secret_load(const char *source, const char *env, const char *file, char **out);
void secret_free(char **);

#endif
