/*
 * The table -> tag mapping: compiled once from JSON, then applied to row
 * changes.  Pure: no I/O, no loop, no globals, so it is unit-, golden- and
 * fuzz-tested stand-alone.
 *
 * Rules (README "Mapping"):
 *  INSERT -> tags(new); DELETE -> tags(old); UPDATE -> tags(old) U tags(new);
 *  TRUNCATE -> fallback tags.  A NULL drops that one tag for that image.  A
 *  value the change does not carry adds the entry's fallback tags instead of
 *  guessing (a change may name only some columns: the MySQL cascade walk
 *  hands the foreign-key columns alone, so templates over only those render
 *  and every other one falls back).  An UPDATE whose complete old and new images differ only in
 *  ignore_columns purges nothing.  Substituted values are percent-encoded
 *  (every byte outside A-Z a-z 0-9 - . _ ~ becomes %XX).
 *
 * Ownership: tagmap_compile() copies what it needs from the JSON; the map is
 * immutable afterwards and reference-counted (atomically), so a reload can
 * replace it while a reader thread and in-flight transactions still hold the
 * old one.  compile returns the first reference; tagmap_ref() takes another
 * and tagmap_unref() drops one (the last frees).  Entries are borrowed from
 * the map and live as long as a reference to it.
 */
#ifndef TP_TAGMAP_H
#define TP_TAGMAP_H

#include <jansson.h>
#include <stddef.h>

#include "change.h"

struct cfg_ctx;
struct tagmap;
struct tagmap_entry;
struct tagset;

#define TAGMAP_DEFAULT_MAX_TAG_BYTES 1024
#define TAGMAP_MAX_TAG_BYTES         4096 /* upper bound of max_tag_bytes */

/* 0 or -1 with the error recorded in ctx (positions relative to ctx's file). */
int tagmap_compile(struct tagmap **, const json_t *mapping, size_t max_tag_bytes,
                   struct cfg_ctx *ctx);
struct tagmap *tagmap_ref(const struct tagmap *);
/* Drop a reference and NULL *mp; any thread. */
void tagmap_unref(struct tagmap **mp);

size_t tagmap_count(const struct tagmap *);
const struct tagmap_entry *tagmap_at(const struct tagmap *, size_t i);
const struct tagmap_entry *tagmap_lookup(const struct tagmap *, const char *table);
const char *tagmap_table(const struct tagmap_entry *);
/* Columns the entry's tag templates read, and how many. */
const char *const *tagmap_columns(const struct tagmap_entry *, size_t *n);
size_t tagmap_nfallback(const struct tagmap_entry *);
const char *tagmap_fallback_tag(const struct tagmap_entry *, size_t i);

/* Result flags of tagmap_apply(). */
#define TM_FALLBACK   0x01 /* a value was missing: fallback tags added */
#define TM_OVERSIZE   0x02 /* a rendered tag passed max_tag_bytes: fallback added */
#define TM_UNCHANGED  0x04 /* UPDATE of ignored columns only: nothing added */
#define TM_NOFALLBACK 0x08 /* fallback needed but the entry has none */

int tagmap_apply(const struct tagmap_entry *, const struct change *, struct tagset *out);
void tagmap_add_fallback(const struct tagmap_entry *, struct tagset *out);

/*
 * Calls missing(arg, column) for each column a template names that colnames
 * lacks.  Returns how many.
 */
size_t tagmap_missing_columns(const struct tagmap_entry *, const char *const *colnames,
                              size_t ncols, void (*missing)(void *, const char *), void *arg);

/* 1 when s is a valid literal tag: printable ASCII without space, comma, quote, '%' or braces. */
int tag_literal_ok(const char *s);

/* Percent-encode src into dst (room for 3*len+1).  Returns the length. */
size_t tag_encode(char *dst, const char *src, size_t len);

#endif
