/*
 * One transaction's tags while it is being read: the mapping applied to each
 * row change, deduplicated, bounded.  Pure and single-owner: the pipeline
 * keeps one per source on the loop thread; a connector whose reader runs on
 * its own thread (MySQL) fills one there and hands the finished transaction
 * to the loop, which takes ownership.
 *
 * Bounded memory: past max_tags distinct tags the transaction keeps only the
 * set of mapped tables it touched, and finishes as their fallback tags.
 *
 * The txn holds a reference to its tagmap (taken by txn_new, dropped by
 * txn_destroy): a reload that replaces the mapping leaves a transaction
 * being read, or handed to the loop, on the map it began with.
 */
#ifndef TP_TXN_H
#define TP_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "change.h"

struct tagmap;
struct tagset;
struct txn;

/* What happened in this transaction; the loop adds it to the global counters. */
struct txn_counts {
    uint64_t changes;
    uint64_t changes_mapped;
    uint64_t fallback_purges;
    uint64_t fallback_missing;
    uint64_t updates_ignored;
    uint64_t collapsed;
    uint64_t statements; /* statement-only events on mapped tables */
    uint64_t cascades;   /* child-table changes derived from foreign-key cascades */
};

struct txn *txn_new(const struct tagmap *, size_t max_tags, const char *source);
void txn_destroy(struct txn **);
/* The map the transaction applies (borrowed): a reader compares it with the current one. */
const struct tagmap *txn_map(const struct txn *);
void txn_reset(struct txn *);
void txn_change(struct txn *, const struct change *);
/*
 * A child row change a foreign-key cascade implies (MySQL/MariaDB log only
 * the parent's row): the mapping applied to it as to a logged change, counted
 * in cascades, not in changes.  c may carry only some columns (the foreign-key
 * columns): templates over other columns then add the fallback tags.
 */
void txn_cascade(struct txn *, const struct change *c);
/* A cascade to table whose rows cannot be derived: its fallback tags, counted in cascades. */
void txn_cascade_broaden(struct txn *, const char *table);
/*
 * Purge the fallback tags of table (NULL: of every mapped table) at commit:
 * for changes that cannot be decoded into rows.  Unmapped tables are ignored.
 */
void txn_broaden(struct txn *, const char *table);
/* Add literal tags (a gap's configured gap_tags). */
void txn_add_tags(struct txn *, const char *const *tags, size_t n);
/*
 * Mark the transaction as a gap's broad purge: nodes whose sink has a "flush"
 * send the flush instead of its tags (continuity with the source was lost).
 */
void txn_set_gap(struct txn *);
int txn_gap(const struct txn *);
/* Count a statement-only event (binlog_format STATEMENT/MIXED) on a mapped table. */
void txn_count_statement(struct txn *);
/*
 * Add the tags that cover this transaction whatever its rows were: the
 * fallback tags of every mapped table it touched, and its literal tags.  -1
 * when a touched table has no fallback tags (then out does not cover it).
 */
int txn_broad(const struct txn *, struct tagset *out);
/* The final tags (fallbacks of touched tables added when collapsed); borrowed. */
struct tagset *txn_finish(struct txn *);
const struct txn_counts *txn_counts(const struct txn *);

#endif
