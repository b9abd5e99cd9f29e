/*
 * One column value of a MySQL/MariaDB binlog ROW image, rendered as the text
 * the server's SELECT returns for it over the text protocol.  Pure: no I/O, no
 * globals, never reads past the bytes it is given, so it is unit- and
 * fuzz-tested stand-alone.  The rows-event walker calls bl_value() once per
 * present, non-NULL column and uses *used to find the next value.
 *
 * Text forms follow MySQL 8.0 (sql/field.cc, strings/dtoa.cc my_gcvt(),
 * strings/decimal.cc decimal2string(), sql-common/json_dom.cc
 * wrapper_to_string()):
 *  - integers in decimal, signed unless is_unsigned; YEAR 0 -> "0000";
 *  - FLOAT at most 6 significant digits, DOUBLE the shortest round-trip
 *    digits; plain notation from 1e-15 to just below 1e15 ("0.0000001",
 *    "100000000000000"), otherwise "1e15", "1.5e-16" (no '+', no leading
 *    exponent zeros);
 *  - NEWDECIMAL with exactly `scale` fraction digits ("12.50", "-0.50");
 *  - DATE, DATETIME, TIMESTAMP (UTC), TIME with exactly fsp fraction digits;
 *    zero dates as "0000-00-00[ 00:00:00[.000]]";
 *  - strings and BIT/BLOB/GEOMETRY/VECTOR as their raw bytes; BINARY(n)
 *    re-padded with zero bytes to n (charset 63); ENUM/SET by name;
 *  - JSON as MySQL prints it: {"k": 1, "a": [1, 2.0]}, opaque DATE/TIME/
 *    DATETIME/DECIMAL as values, other opaque types as "base64:typeNN:...";
 *    a zero-length JSON value is "null".
 * A value that cannot be printed exactly (ENUM/SET without names, CHAR of
 * unknown charset shorter than its column, JSON MySQL itself would reject,
 * NaN) is BL_UNKNOWN: the caller purges the broader tags instead.  Not
 * visible in the binlog, so not handled: ZEROFILL padding, the fixed
 * decimals of the deprecated FLOAT(M,D)/DOUBLE(M,D), and TIMESTAMP in a
 * session time zone other than UTC.
 */
#ifndef TP_BINLOG_VALUE_H
#define TP_BINLOG_VALUE_H

#include <stddef.h>
#include <stdint.h>

/* Column type codes of TABLE_MAP (MySQL enum_field_types). */
enum bl_type {
    BL_T_DECIMAL = 0, /* pre-5.0 DECIMAL: size not knowable, rejected */
    BL_T_TINY = 1,
    BL_T_SHORT = 2,
    BL_T_LONG = 3,
    BL_T_FLOAT = 4,
    BL_T_DOUBLE = 5,
    BL_T_NULL = 6, /* never carries a value, rejected */
    BL_T_TIMESTAMP = 7,
    BL_T_LONGLONG = 8,
    BL_T_INT24 = 9,
    BL_T_DATE = 10,
    BL_T_TIME = 11,
    BL_T_DATETIME = 12,
    BL_T_YEAR = 13,
    BL_T_NEWDATE = 14,
    BL_T_VARCHAR = 15,
    BL_T_BIT = 16,
    BL_T_TIMESTAMP2 = 17,
    BL_T_DATETIME2 = 18,
    BL_T_TIME2 = 19,
    BL_T_VECTOR = 242,
    BL_T_JSON = 245,
    BL_T_NEWDECIMAL = 246,
    BL_T_ENUM = 247,
    BL_T_SET = 248,
    BL_T_TINY_BLOB = 249,
    BL_T_MEDIUM_BLOB = 250,
    BL_T_LONG_BLOB = 251,
    BL_T_BLOB = 252,
    BL_T_VAR_STRING = 253,
    BL_T_STRING = 254,
    BL_T_GEOMETRY = 255,
};

#define BL_CHARSET_BINARY 63

/*
 * A growable output buffer; the caller owns buf (free()).  After an append,
 * buf[len] is '\0' (values may hold NUL bytes: use len).
 */
struct bl_out {
    char *buf;
    size_t len, cap;
};
void bl_out_reset(struct bl_out *); /* len = 0, keeps memory */
void bl_out_free(struct bl_out *);

struct bl_coldef {
    uint8_t type;    /* binlog column type code from TABLE_MAP (254 STRING still packed) */
    uint16_t meta;   /* TABLE_MAP metadata: 1-byte types: the byte; 2-byte types: p[0] | p[1] << 8
                        (so NEWDECIMAL precision = meta & 0xff, scale = meta >> 8; STRING m0 = meta &
                        0xff, m1 = meta >> 8; VARCHAR max length; BIT m0/m1 as bits%8 / bytes) */
    int is_unsigned; /* from SIGNEDNESS optional metadata; 0 when unknown */
    int charset;     /* collation id, -1 unknown; 63 = binary */
    const char *const *names; /* ENUM or SET value names (FULL metadata); NULL: unknown */
    size_t nnames;
};

/* Bytes of TABLE_MAP metadata a column type carries (0, 1 or 2), -1 for an unknown type. */
int bl_meta_len(uint8_t type);
/* Read that metadata from p (which has at least bl_meta_len bytes) into the meta encoding above. */
uint16_t bl_meta_read(uint8_t type, const unsigned char *p);

enum bl_vstate { BL_VALUE, BL_UNKNOWN };

/*
 * Decode the value starting at p (avail bytes available) for column c.
 * On success returns 0, stores the bytes the value occupies in *used, and
 * sets *state:
 *
 * - BL_VALUE: the SELECT text form was appended to out (out may be NULL to
 *   only measure);
 * - BL_UNKNOWN: the value's size is known but its text cannot be known
 *   exactly (e.g. ENUM/SET without names, JSON that MySQL itself could not
 *   print): nothing appended, the caller purges broader tags.
 *
 * Returns -1 when the bytes are truncated or malformed or the type is
 * unknown; never reads past avail.  Only BL_VALUE changes out.
 */
int bl_value(const struct bl_coldef *c, const unsigned char *p, size_t avail, size_t *used,
             enum bl_vstate *state, struct bl_out *out);

#endif
