/*
 * Strict configuration reading with file:line:column errors.
 *
 * jansson reports positions only for syntax errors, so a cfg_ctx keeps the
 * file text and the JSON path being validated (a stack of keys and array
 * indexes); an error re-scans the text to find where that path starts.
 * Unknown keys are errors.  The first error wins; warnings are collected.
 *
 * Ownership: a cfg_ctx borrows nothing; it copies the file name and text.
 * Strings returned by cfg_get_* are borrowed from the json_t.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 */
#ifndef TP_CFG_H
#define TP_CFG_H

#include <jansson.h>
#include <stddef.h>

struct cfg_ctx;

struct cfg_ctx *cfg_ctx_new(const char *file, const char *text);
void cfg_ctx_destroy(struct cfg_ctx **);

/* Load a JSON file strictly (duplicate keys rejected).  NULL on error. */
json_t *cfg_load_file(struct cfg_ctx **ctxp, const char *path, char *err, size_t errlen);
/* Its two steps: the file's bytes (NUL-terminated, *len of them; free() it), or NULL
 * when it cannot be opened or read ("path: cannot open: why" in err) ... */
char *cfg_read_file(const char *path, size_t *len, char *err, size_t errlen);
/* ... and those bytes parsed, or NULL with "path:line:col: why" in err (a NUL byte too). */
json_t *cfg_parse_text(struct cfg_ctx **ctxp, const char *path, const char *text, size_t len,
                       char *err, size_t errlen);

void cfg_push_key(struct cfg_ctx *, const char *key);
void cfg_push_idx(struct cfg_ctx *, size_t idx);
void cfg_pop(struct cfg_ctx *);
const char *cfg_file(const struct cfg_ctx *);

/* Record an error at the current path (its value); returns -1. */
int cfg_error(struct cfg_ctx *, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, but pointing at the key of the current path (for unknown keys). */
int cfg_error_key(struct cfg_ctx *, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cfg_warn(struct cfg_ctx *, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *cfg_errmsg(const struct cfg_ctx *); /* NULL when no error */
size_t cfg_nwarnings(const struct cfg_ctx *);
const char *cfg_warning(const struct cfg_ctx *, size_t i);

/* Fails on any key of obj not in the NULL-terminated list. */
int cfg_check_keys(struct cfg_ctx *, const json_t *obj, const char *const *allowed);
int cfg_expect_object(struct cfg_ctx *, const json_t *v, const char *what);

/* Each getter: 0 when absent and not required (out untouched), 1 when set, -1 on error. */
int cfg_get_str(struct cfg_ctx *, const json_t *obj, const char *key, int required,
                const char **out);
int cfg_get_int(struct cfg_ctx *, const json_t *obj, const char *key, int required, long long min,
                long long max, long long *out);
int cfg_get_bool(struct cfg_ctx *, const json_t *obj, const char *key, int required, int *out);

/* Locate a path in JSON text: 1-based line and column, 0 on success. */
struct jpath_comp {
    const char *key; /* NULL: array index */
    size_t idx;
};
int jsonpos_find(const char *text, const struct jpath_comp *comps, size_t n, int want_key,
                 int *line, int *col);

#endif
