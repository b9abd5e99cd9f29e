/*
 * Secrets for connectors: read from an environment variable or a file at
 * start, never from the command line, never logged.  The caller owns *out
 * and should wipe it (secret_free) when done.
 */
#ifndef TP_SECRET_H
#define TP_SECRET_H

/*
 * From env (variable name) or file (path; first line, newline stripped).
 * Neither set: *out = NULL, 0.  On error logs what to fix naming source, -1.
 */
int secret_load(const char *source, const char *env, const char *file, char **out);
void secret_free(char **);

#endif
