/*
 * State files: small JSON documents in state_dir replaced atomically (write a
 * temporary file, fsync it, rename it over the old one, fsync the folder), so
 * a crash or SIGKILL leaves either the old document or the new one.
 *
 * Used for the MySQL checkpoint, the PostgreSQL slot state and the fan-out's
 * dirty-node marks.  Blocking and thread-safe (no shared state): callers
 * write only small documents.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 */
#ifndef TP_STATEFILE_H
#define TP_STATEFILE_H

#include <jansson.h>

/* Replace path with o (borrowed).  0, or -1 with errno set. */
int statefile_write(const char *path, const json_t *o);
/*
 * Read path into *o (a new reference).  1 when read, 0 when there is no
 * file, -1 when it exists but cannot be read or parsed.
 */
int statefile_read(const char *path, json_t **o);
/* Create state_dir (mode 0700) when it is missing.  0, or -1 with errno set. */
int statefile_dir(const char *state_dir);
/* "<state_dir>/<name><suffix>", malloc'ed: the caller frees it. */
char *statefile_path(const char *state_dir, const char *name, const char *suffix);

#endif
