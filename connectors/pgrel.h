/*
 * The PostgreSQL connector's rows: the relations a pgoutput stream announced
 * (Relation messages) and the change a row message makes of them, as the
 * mapping wants it (struct change).  Pure, no I/O: conn_postgres.c runs it
 * on the loop thread and tests/fuzz/fuzz_pgoutput.c behind the decoder.
 */
#ifndef TP_PGREL_H
#define TP_PGREL_H

#include <stddef.h>
#include <stdint.h>

#include "../broker/change.h"
#include "pgoutput.h"

struct tagmap_entry;

struct pgrel {
    uint32_t relid;
    char *table; /* "schema.table" */
    char **names;
    int *key; /* part of the replica identity */
    size_t ncols;
    const struct tagmap_entry *entry; /* set by the connector: NULL when unmapped */
};

struct pgrels {
    struct pgrel *v;
    size_t n;
    struct col_value *oldv, *newv; /* pgrels_change() scratch, as wide as the widest relation */
    size_t scratch;
};

struct pgrel *pgrels_find(struct pgrels *, uint32_t relid);
/* Add the relation, or replace the one of its relid (later tuples follow the latest). */
struct pgrel *pgrels_set(struct pgrels *, const struct pgo_relation *);
/*
 * The change of a row message (op 'I', 'U' or 'D'; oldkind as pgoutput.h
 * gives it) on relation r.  c borrows from r, the message and the scratch:
 * valid until the next call.
 */
void pgrels_change(struct pgrels *, const struct pgrel *r, char op, char oldkind,
                   const struct pgo_tuple *oldt, const struct pgo_tuple *newt, struct change *c);
void pgrels_free(struct pgrels *);

#endif
