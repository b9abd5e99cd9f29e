/*
 * Foreign-key cascades for the MySQL/MariaDB source.  InnoDB applies ON
 * DELETE / ON UPDATE actions below the binlog: `DELETE FROM categories WHERE
 * id=3` logs one row, never the products it deleted.  This module keeps the
 * server's foreign keys (the edge set) and turns one logged parent row change
 * into the child changes it implies, handed to the transaction
 * (txn_cascade(), txn_cascade_broaden()).
 *
 * Rules (README "Foreign-key cascades"):
 *  - an edge acts on a DELETE of the parent row (ON DELETE CASCADE / SET NULL
 *    / SET DEFAULT) or on an UPDATE that changes its referenced columns (ON
 *    UPDATE CASCADE / SET NULL / SET DEFAULT); RESTRICT and NO ACTION never;
 *  - the child change carries only the foreign-key columns: old values = the
 *    parent's old referenced values; new values (UPDATE) = the parent's new
 *    values (CASCADE), NULL (SET NULL) or unknown (SET DEFAULT).  The mapping
 *    then renders the child's templates that read only those columns and adds
 *    the child's fallback tags for every other template;
 *  - a grandchild is derived the same way from the child's change: its values
 *    are known only when it references the child's foreign-key columns;
 *  - a table already on the path (cycles, self-references) or a depth past
 *    MYC_MAX_DEPTH stops the walk: every mapped table the stopped change can
 *    still cascade to purges its fallback tags.
 *
 * Ownership and threads: the set owns copies of everything added.  Not
 * thread-safe: conn_mysql.c's reader thread owns its set (as it owns the
 * decoder); `check --online` uses its own.  Changes and the tagmap are
 * borrowed for the call.  Everything but myc_read() is pure (unit-tested
 * without a server).
 */
#ifndef TP_MY_CASCADE_H
#define TP_MY_CASCADE_H

#include <stddef.h>

#include "../broker/change.h"

struct tagmap;
struct txn;
struct my_cascade;

#define MYC_MAX_DEPTH 8  /* child levels below the logged row before the walk falls back */
#define MYC_MAX_COLS  16 /* InnoDB's limit of columns in one key */

/*
 * MYC_UNKNOWN: the server did not show the rule (MariaDB lists a foreign key
 * in REFERENTIAL_CONSTRAINTS only for a user with a privilege beyond SELECT,
 * e.g. REFERENCES, while KEY_COLUMN_USAGE shows it with SELECT): acts like
 * CASCADE, which purges at least what any rule would (InnoDB refuses SET
 * DEFAULT).
 */
enum myc_rule { MYC_NONE = 0, MYC_CASCADE, MYC_SET_NULL, MYC_SET_DEFAULT, MYC_UNKNOWN };

struct my_cascade *myc_new(void);
void myc_destroy(struct my_cascade **);
/*
 * "CASCADE", "SET NULL", "SET DEFAULT" act; NULL (not shown) is MYC_UNKNOWN;
 * anything else (RESTRICT, NO ACTION) is MYC_NONE.
 */
enum myc_rule myc_rule_parse(const char *);
const char *myc_rule_name(enum myc_rule);
/*
 * Add one foreign key: child.ccols[i] references parent.pcols[i] (tables
 * "db.table").  Copies everything.  An identical edge already present is not
 * added again; an edge never leaves the set (a foreign key dropped while
 * running keeps purging until restart: more, never less).  Edges without an
 * acting rule are kept for reports but never fire.  ncols 1..MYC_MAX_COLS.
 */
void myc_add(struct my_cascade *, const char *name, const char *parent, const char *child,
             const char *const *pcols, const char *const *ccols, size_t ncols, enum myc_rule del,
             enum myc_rule upd);
size_t myc_count(const struct my_cascade *);
/* How many edges have an MYC_UNKNOWN rule (rules not visible to the user). */
size_t myc_unknown_rules(const struct my_cascade *);
/*
 * 1 when rows of table must be decoded although it may be unmapped: a parent
 * from which acting edges reach a mapped table.  Recomputed when map or the
 * edges change.
 */
int myc_wanted(struct my_cascade *, const struct tagmap *map, const char *table);
/*
 * One logged row change: add to t the tags of every child change it implies
 * (t's map decides what is mapped).  Returns how many edges fired.
 */
size_t myc_apply(struct my_cascade *, struct txn *t, const struct change *c);
/*
 * Rows of table changed in a way that cannot be decoded (statement format,
 * undecodable image): every mapped table its edges reach purges its fallback
 * tags.  Returns how many tables.
 */
size_t myc_broaden(struct my_cascade *, struct txn *t, const char *table);
/*
 * Describe edge i in buf: "db.categories(id) -> db.products(category_id) ON
 * DELETE CASCADE ON UPDATE CASCADE".  *reaches: 1 when it reaches a mapped
 * table through acting edges (map may be NULL: 1).
 */
void myc_describe(struct my_cascade *, const struct tagmap *map, size_t i, char *buf, size_t len,
                  int *reaches);

/*
 * Read the server's foreign keys into the set (information_schema, blocking,
 * on the calling thread's connection).  0, or -1 with the set unchanged.
 */
struct st_mysql;
int myc_read(struct my_cascade *, struct st_mysql *conn, char *err, size_t errlen);

#endif
