/*
 * One row change as connectors hand it to the pipeline: a value type, borrowed
 * for the duration of the callback (connectors own every pointer in it).
 *
 * Column arrays are indexed like colnames.  A column whose value the change
 * does not carry (PostgreSQL default replica identity, unchanged TOAST, a
 * MySQL minimal row image) is COL_UNKNOWN: the mapping then falls back to
 * broader tags instead of guessing.
 */
#ifndef TP_CHANGE_H
#define TP_CHANGE_H

#include <stddef.h>

enum change_op { CHG_INSERT = 0, CHG_UPDATE, CHG_DELETE, CHG_TRUNCATE };

enum col_state { COL_UNKNOWN = 0, COL_NULL, COL_VALUE };

struct col_value {
    enum col_state state;
    const char *data; /* text form as the database prints it; not NUL-terminated */
    size_t len;
};

struct change {
    enum change_op op;
    const char *table; /* "schema.table" or "database.table" */
    const char *const *colnames;
    size_t ncols;
    const struct col_value *oldv; /* NULL when the change has no old image */
    const struct col_value *newv; /* NULL when the change has no new image */
};

#endif
