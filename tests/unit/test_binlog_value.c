/*
 * Binlog value decoding: every case of the shared MySQL fixtures (loaded at
 * run time from $TAGPURGE_FIXTURES, default <repo>/../shared/fixtures/mysql;
 * those cases print "skip" and pass when the folder is missing), then one
 * case per type rule.  Every hand-written value is also decoded from each of
 * its prefixes, which must all be refused, from exact-size heap copies so
 * that ASan sees any over-read.
 */
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../../connectors/binlog_value.h"
#include "test.h"
#include "fixture_file.h"

static struct bl_out out;

static struct bl_coldef
col(uint8_t type, uint16_t meta)
{
    struct bl_coldef c = {type, meta, 0, -1, NULL, 0};

    return (c);
}

/* bl_value() on an exact-size heap copy of b[0..n). */
static int
decode_copy(const struct bl_coldef *c, const unsigned char *b, size_t n, size_t *used,
            enum bl_vstate *st, struct bl_out *o)
{
    unsigned char *copy = malloc(n ? n : 1);
    int rv;

    ASSERT(copy != NULL);
    memcpy(copy, b, n);
    rv = bl_value(c, copy, n, used, st, o);
    free(copy);
    return (rv);
}

/*
 * Decodes b[0..n), which must be exactly one value, and checks the measuring
 * call and every truncation agree.  The text is left in out.
 */
static enum bl_vstate
run(const struct bl_coldef *c, const unsigned char *b, size_t n)
{
    enum bl_vstate st, st2;
    size_t used, used2, k, len;

    bl_out_reset(&out);
    if (decode_copy(c, b, n, &used, &st, &out) != 0)
        FAILF("type %u meta %#x: a %zu-byte value was refused", c->type, c->meta, n);
    ASSERT_EQ(used, n);
    if (st == BL_UNKNOWN)
        ASSERT_EQ(out.len, 0);
    ASSERT_EQ(decode_copy(c, b, n, &used2, &st2, NULL), 0);
    ASSERT_EQ(used2, used);
    ASSERT_EQ(st2, st);
    len = out.len;
    for (k = 0; k < n; k++) {
        if (decode_copy(c, b, k, &used2, &st2, &out) != -1)
            FAILF("type %u: a %zu-byte prefix of a %zu-byte value was accepted", c->type, k, n);
        ASSERT_EQ(out.len, len);
    }
    return (st);
}

static void
expect_bytes(const struct bl_coldef *c, const char *hex, const void *text, size_t tlen)
{
    unsigned char b[2048];
    size_t n = unhex(hex, b, sizeof b);

    if (run(c, b, n) != BL_VALUE)
        FAILF("type %u, %s: BL_UNKNOWN, expected a value", c->type, hex);
    if (out.len != tlen || (tlen > 0 && memcmp(out.buf, text, tlen) != 0))
        FAILF("type %u meta %#x, %s: got \"%.*s\" (%zu bytes), expected \"%.*s\"", c->type, c->meta,
              hex, (int)out.len, out.buf, out.len, (int)tlen, (const char *)text);
}

static void
expect(const struct bl_coldef *c, const char *hex, const char *text)
{
    expect_bytes(c, hex, text, strlen(text));
}

static void
expect_unknown(const struct bl_coldef *c, const char *hex)
{
    unsigned char b[2048];
    size_t n = unhex(hex, b, sizeof b);

    if (run(c, b, n) != BL_UNKNOWN)
        FAILF("type %u, %s: got \"%s\", expected BL_UNKNOWN", c->type, hex, out.buf);
}

static void
expect_bad(const struct bl_coldef *c, const char *hex)
{
    unsigned char b[2048];
    size_t n = unhex(hex, b, sizeof b), used;
    enum bl_vstate st;

    bl_out_reset(&out);
    if (decode_copy(c, b, n, &used, &st, &out) != -1)
        FAILF("type %u meta %#x, %s: accepted (\"%s\")", c->type, c->meta, hex, out.buf);
    ASSERT_EQ(out.len, 0);
}

/* Little-endian hex of the n low bytes of v. */
static const char *
hex_le(uint64_t v, size_t n)
{
    static char buf[4][40];
    static int slot;
    char *h = buf[slot++ % 4];
    size_t i;

    for (i = 0; i < n; i++, v >>= 8)
        snprintf(h + 2 * i, 3, "%02x", (unsigned)(v & 0xff));
    return (h);
}

/*--------------------------------------------------------------------
 * Fixture loading
 */

static long long
jint(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v))
        FAILF("fixture case lacks integer \"%s\"", key);
    return (json_integer_value(v));
}

/*--------------------------------------------------------------------
 * Expected JSON text, printed the way MySQL prints a JSON column
 */

struct sb {
    char buf[8192];
    size_t n;
};

static void sb_add(struct sb *, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(b->buf + b->n, sizeof b->buf - b->n, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof b->buf - b->n)
        FAILF("expected text too long");
    b->n += (size_t)n;
}

static void
sb_quote(struct sb *b, const char *s)
{
    sb_add(b, "\"");
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            sb_add(b, "\\%c", *s);
        else if (*s == '\n')
            sb_add(b, "\\n");
        else if ((unsigned char)*s < 0x20)
            sb_add(b, "\\u%04x", (unsigned char)*s);
        else
            sb_add(b, "%c", *s);
    }
    sb_add(b, "\"");
}

static void
sb_real(struct sb *b, double x)
{
    char buf[64];
    int p;

    for (p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    sb_add(b, "%s%s", buf, strpbrk(buf, ".e") == NULL ? ".0" : "");
}

static void
sb_json(struct sb *b, const json_t *v)
{
    const char *s;
    void *it;
    size_t i = 0;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        sb_add(b, "{");
        for (it = json_object_iter((json_t *)v); it != NULL;
             it = json_object_iter_next((json_t *)v, it)) {
            sb_add(b, "%s", i++ ? ", " : "");
            sb_quote(b, json_object_iter_key(it));
            sb_add(b, ": ");
            sb_json(b, json_object_iter_value(it));
        }
        sb_add(b, "}");
        break;
    case JSON_ARRAY:
        sb_add(b, "[");
        for (i = 0; i < json_array_size(v); i++) {
            sb_add(b, "%s", i ? ", " : "");
            sb_json(b, json_array_get(v, i));
        }
        sb_add(b, "]");
        break;
    case JSON_STRING:
        s = json_string_value(v);
        if (strncmp(s, "#big#", 5) == 0)
            sb_add(b, "%s", s + 5);
        else
            sb_quote(b, s);
        break;
    case JSON_INTEGER:
        sb_add(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        sb_real(b, json_real_value(v));
        break;
    default:
        sb_add(b, "%s", json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
    }
}

static void
sb_base64(struct sb *b, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    uint32_t c;

    for (i = 0; i < n; i += 3) {
        c = (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        sb_add(b, "%c%c%c%c", tab[c >> 18 & 63], tab[c >> 12 & 63],
               i + 1 < n ? tab[c >> 6 & 63] : '=', i + 2 < n ? tab[c & 63] : '=');
    }
}

/*
 * The vitess cases give values, not MySQL's text: an opaque DECIMAL is given
 * as a string but MySQL prints it as a number, and other opaque values are
 * given as {"opaque_*_hex": ...} where MySQL prints "base64:typeNN:...".
 */
static void
vitess_expected(struct sb *b, const json_t *c, const unsigned char *doc, size_t n)
{
    const json_t *v = json_object_get(c, "expected_value");
    const char *desc = jstr(c, "description");

    b->n = 0;
    if (strncmp(desc, "opaque DECIMAL", 14) == 0) {
        sb_add(b, "%s", json_string_value(v));
    } else if (json_is_object(v) && (json_object_get(v, "opaque_bit_hex") != NULL ||
                                     json_object_get(v, "opaque_blob_hex") != NULL)) {
        ASSERT(n >= 3 && doc[0] == 0x0f && doc[2] == n - 3);
        sb_add(b, "\"base64:type%u:", doc[1]);
        sb_base64(b, doc + 3, n - 3);
        sb_add(b, "\"");
    } else {
        sb_json(b, v);
    }
}

/*--------------------------------------------------------------------
 * Fixture cases
 */

/* One fixture value: decodes, checks text and size, and refuses every truncation. */
static void
check_vector(const struct bl_coldef *c, const unsigned char *b, size_t consumed, size_t avail,
             const char *want, size_t line)
{
    enum bl_vstate st;
    size_t used, k;

    bl_out_reset(&out);
    if (decode_copy(c, b, avail, &used, &st, &out) != 0 || st != BL_VALUE)
        FAILF("line %zu: not decoded", line);
    if (used != consumed || strcmp(out.buf, want) != 0)
        FAILF("line %zu: got \"%s\" in %zu bytes, expected \"%s\" in %zu", line, out.buf, used,
              want, consumed);
    for (k = 0; k < consumed; k++)
        if (decode_copy(c, b, k, &used, &st, NULL) != -1)
            FAILF("line %zu: %zu-byte prefix accepted", line, k);
}

FIXTURE_TEST(fixture_gomysql_values_decimal)
{
    unsigned char b[64];
    struct fixture f;
    const json_t *c;
    struct bl_coldef cd;
    size_t i, n, consumed;

    fixture_load_ex(&f, "gomysql_values_decimal", 1);
    for (i = 0; i < json_array_size(f.cases); i++) {
        c = json_array_get(f.cases, i);
        n = unhex(f.line[i], b, sizeof b);
        ASSERT_EQ(n, jint(c, "length"));
        cd = col(BL_T_NEWDECIMAL, (uint16_t)(jint(c, "precision") | jint(c, "scale") << 8));
        /* Some vectors carry the next column's bytes; the others are exactly the value. */
        consumed = json_object_get(c, "expected_bytes_consumed") != NULL
                       ? (size_t)jint(c, "expected_bytes_consumed")
                       : n;
        check_vector(&cd, b, consumed, n, jstr(c, "expected_text"), i + 1);
    }
    printf("gomysql_values_decimal: %zu of %zu cases pass\n", i, f.nlines);
    ASSERT_EQ(i, 199);
    fixture_free(&f);
}

FIXTURE_TEST(fixture_gomysql_values_datetime2_time2)
{
    unsigned char b[64];
    struct fixture f;
    const json_t *c;
    struct bl_coldef cd;
    const char *type;
    size_t i, n;

    fixture_load_ex(&f, "gomysql_values_datetime2_time2", 1);
    for (i = 0; i < json_array_size(f.cases); i++) {
        c = json_array_get(f.cases, i);
        n = unhex(f.line[i], b, sizeof b);
        ASSERT_EQ(n, jint(c, "length"));
        type = jstr(c, "column_type");
        cd = col(strncmp(type, "DATETIME2", 9) == 0 ? BL_T_DATETIME2 : BL_T_TIME2,
                 (uint16_t)jint(c, "fsp"));
        ASSERT(strncmp(type, "DATETIME2", 9) == 0 || strncmp(type, "TIME2", 5) == 0);
        check_vector(&cd, b, n, n, jstr(c, "expected_text"), i + 1);
    }
    printf("gomysql_values_datetime2_time2: %zu of %zu cases pass\n", i, f.nlines);
    ASSERT_EQ(i, 26);
    fixture_free(&f);
}

FIXTURE_TEST(fixture_vitess_json_binary_values)
{
    unsigned char b[1024];
    struct fixture f;
    struct sb want;
    const json_t *c;
    struct bl_coldef cd = col(BL_T_JSON, 4);
    size_t i, n;

    fixture_load_ex(&f, "vitess_json_binary_values", 1);
    for (i = 0; i < json_array_size(f.cases); i++) {
        c = json_array_get(f.cases, i);
        /* The vectors are documents; a row holds them behind a 4-byte length (meta 4). */
        n = unhex(f.line[i], b + 4, sizeof b - 4);
        ASSERT_EQ(n, jint(c, "length"));
        b[0] = (unsigned char)n;
        b[1] = (unsigned char)(n >> 8);
        b[2] = b[3] = 0;
        vitess_expected(&want, c, b + 4, n);
        check_vector(&cd, b, n + 4, n + 4, want.buf, i + 1);
    }
    printf("vitess_json_binary_values: %zu of %zu cases pass\n", i, f.nlines);
    ASSERT_EQ(i, 42);
    fixture_free(&f);
}

/* A TABLE_MAP body (6-byte table id) reduced to what bl_value() needs. */
struct tmap {
    size_t ncols;
    struct bl_coldef cols[16];
};

static void
parse_table_map(const unsigned char *b, size_t n, struct tmap *t)
{
    size_t o = 8, i, m;
    int ml;

    o += 1 + b[o] + 1; /* schema: length, name, NUL */
    o += 1 + b[o] + 1; /* table */
    t->ncols = b[o++]; /* a length-encoded integer, one byte below 251 */
    ASSERT(t->ncols <= 16 && o + t->ncols + 1 < n);
    m = o + t->ncols + 1;
    for (i = 0; i < t->ncols; i++) {
        t->cols[i] = col(b[o + i], 0);
        ml = bl_meta_len(b[o + i]);
        ASSERT(ml >= 0);
        ASSERT(m + (size_t)ml <= n);
        t->cols[i].meta = bl_meta_read(b[o + i], b + m);
        m += (size_t)ml;
    }
    ASSERT_EQ(m, o + t->ncols + 1 + b[o + t->ncols]);
}

/*
 * The single row of a WRITE_ROWS_V2 body, every column present: text[i] is
 * the value of column i or NULL for SQL NULL (free() them).
 */
static void
parse_row(const unsigned char *b, size_t n, const struct tmap *t, char **text)
{
    size_t o = 8 + (b[8] | b[9] << 8), i, used; /* the extra-data length counts itself */
    const unsigned char *nulls;
    enum bl_vstate st;

    ASSERT_EQ(b[o], t->ncols);
    o += 1 + (t->ncols + 7) / 8;
    nulls = b + o;
    o += (t->ncols + 7) / 8;
    for (i = 0; i < t->ncols; i++) {
        text[i] = NULL;
        if (nulls[i / 8] >> (i % 8) & 1)
            continue;
        bl_out_reset(&out);
        ASSERT_EQ(bl_value(&t->cols[i], b + o, n - o, &used, &st, &out), 0);
        ASSERT_EQ(st, BL_VALUE);
        text[i] = strdup(out.buf);
        o += used;
    }
    ASSERT_EQ(o, n);
}

static void
check_column(char *got, const json_t *want, const char *name)
{
    struct sb b = {.n = 0};

    if (json_is_null(want)) {
        if (got != NULL)
            FAILF("%s: got \"%s\", expected NULL", name, got);
        return;
    }
    if (json_is_string(want))
        sb_add(&b, "%s", json_string_value(want));
    else
        sb_json(&b, want);
    if (got == NULL || strcmp(got, b.buf) != 0)
        FAILF("%s: got \"%s\", expected \"%s\"", name, got ? got : "NULL", b.buf);
    free(got);
}

FIXTURE_TEST(fixture_gomysql_rows_json_decimal)
{
    static const char *const names[] = {"c1", "c2"};
    unsigned char *b = malloc(4096);
    struct fixture f;
    struct tmap t;
    char *text[16];
    size_t i, k, n;
    const json_t *row;

    fixture_load_ex(&f, "gomysql_rows_json_decimal", 1);
    n = unhex(f.line[0], b, 4096);
    parse_table_map(b, n, &t);
    ASSERT_EQ(t.ncols, 2);
    for (i = 1; i < f.nlines; i++) {
        n = unhex(f.line[i], b, 4096);
        parse_row(b, n, &t, text);
        row = json_array_get(json_object_get(json_array_get(f.cases, i), "expected_rows"), 0);
        /* c1 is JSON: MySQL's text of the expected document; c2 DECIMAL(10,0) as given. */
        for (k = 0; k < 2; k++)
            check_column(text[k], json_object_get(row, names[k]), names[k]);
    }
    printf("gomysql_rows_json_decimal: %zu rows of %zu cases pass\n", i - 1, f.nlines);
    free(b);
    fixture_free(&f);
}

FIXTURE_TEST(fixture_gomysql_rows_json_zero_length)
{
    static const char *const names[] = {"id", "buyer_id", "order_sn", NULL, "is_del", "add_time"};
    unsigned char b[256];
    struct fixture f;
    struct tmap t;
    char *text[16], want[64];
    const json_t *row;
    size_t n, k;

    fixture_load_ex(&f, "gomysql_rows_json_zero_length", 1);
    parse_table_map(b, unhex(f.line[0], b, sizeof b), &t);
    ASSERT_EQ(t.ncols, 7);
    n = unhex(f.line[1], b, sizeof b);
    parse_row(b, n, &t, text);
    row = json_array_get(json_object_get(json_array_get(f.cases, 1), "expected_rows"), 0);
    for (k = 0; k < 6; k++) {
        if (names[k] == NULL)
            continue;
        snprintf(want, sizeof want, "%lld", jint(row, names[k]));
        ASSERT_STR_EQ(text[k], want);
        free(text[k]);
    }
    /* order_detail: the zero-length JSON value reads as the null literal. */
    ASSERT_STR_EQ(text[3], "null");
    /*
     * last_update_time: the expectation 1479983995 comes from the INSERT in
     * the source test's comment; the row bytes hold TIMESTAMP2 00000000.
     */
    ASSERT_STR_EQ(text[6], "0000-00-00 00:00:00");
    free(text[3]);
    free(text[6]);
    printf("gomysql_rows_json_zero_length: 1 row, 7 columns pass\n");
    fixture_free(&f);
}

/*--------------------------------------------------------------------
 * Hand-written cases
 */

TEST(integers_every_width)
{
    struct bl_coldef c = col(BL_T_TINY, 0);

    expect(&c, "80", "-128");
    expect(&c, "7f", "127");
    expect(&c, "ff", "-1");
    c.is_unsigned = 1;
    expect(&c, "ff", "255");
    expect(&c, "80", "128");
    c = col(BL_T_SHORT, 0);
    expect(&c, "0080", "-32768");
    expect(&c, "ff7f", "32767");
    c.is_unsigned = 1;
    expect(&c, "ffff", "65535");
    c = col(BL_T_INT24, 0);
    expect(&c, "000080", "-8388608");
    expect(&c, "ffff7f", "8388607");
    expect(&c, "ffffff", "-1");
    c.is_unsigned = 1;
    expect(&c, "ffffff", "16777215");
    c = col(BL_T_LONG, 0);
    expect(&c, "00000080", "-2147483648");
    expect(&c, "ffffff7f", "2147483647");
    c.is_unsigned = 1;
    expect(&c, "ffffffff", "4294967295");
    expect(&c, "d3f988c0", "3230202323"); /* rmc_minimal_row_image_8040's INT UNSIGNED */
    c = col(BL_T_LONGLONG, 0);
    expect(&c, "0000000000000080", "-9223372036854775808");
    expect(&c, "ffffffffffffff7f", "9223372036854775807");
    expect(&c, "0000000000000000", "0");
    c.is_unsigned = 1;
    expect(&c, "ffffffffffffffff", "18446744073709551615");
}

TEST(year)
{
    struct bl_coldef c = col(BL_T_YEAR, 0);

    expect(&c, "00", "0000");
    expect(&c, "01", "1901");
    expect(&c, "7c", "2024");
    expect(&c, "ff", "2155");
}

static void
expect_float(float f, const char *text)
{
    struct bl_coldef c = col(BL_T_FLOAT, 4);
    uint32_t bits;

    memcpy(&bits, &f, sizeof bits);
    expect(&c, hex_le(bits, 4), text);
}

static void
expect_double(double x, const char *text)
{
    struct bl_coldef c = col(BL_T_DOUBLE, 8);
    uint64_t bits;

    memcpy(&bits, &x, sizeof bits);
    expect(&c, hex_le(bits, 8), text);
}

TEST(float_six_digits)
{
    expect_float(1.5f, "1.5");
    expect_float(12345.678f, "12345.7"); /* mysqlsync_*_8036 float_col */
    expect_float(0.1f, "0.1");
    expect_float(16777216.0f, "16777200");
    expect_float(123456789.0f, "123457000");
    expect_float(100.0f, "100");
    expect_float(1e14f, "100000000000000");
    expect_float(1e15f, "1e15");
    expect_float(1e20f, "1e20");
    expect_float(1e-7f, "0.0000001");
    expect_float(1e-15f, "0.000000000000001");
    expect_float(1e-16f, "1e-16");
    expect_float(3.4028235e38f, "3.40282e38");
    expect_float(-1.17549435e-38f, "-1.17549e-38");
    expect_float(-0.0f, "-0");
    expect_float(0.0f, "0");
}

TEST(double_shortest)
{
    struct bl_coldef c = col(BL_T_DOUBLE, 8);

    expect_double(0.1, "0.1");
    expect_double(1.0 / 3, "0.3333333333333333");
    expect_double(12345678.91011, "12345678.91011"); /* mysqlsync_*_8036 double_col */
    expect_double(-2.5, "-2.5");
    expect_double(100.0, "100");
    expect_double(1e14, "100000000000000");
    expect_double(1e15, "1e15");
    expect_double(1e20, "1e20");
    expect_double(1234567890123456.7, "1234567890123456.8");
    expect_double(123456789012345678.0, "1.2345678901234568e17");
    expect_double(9223372036854775808.0, "9.223372036854776e18");
    expect_double(1e-7, "0.0000001");
    expect_double(1e-15, "0.000000000000001");
    expect_double(1e-16, "1e-16");
    expect_double(1.5e-16, "1.5e-16");
    expect_double(DBL_MAX, "1.7976931348623157e308");
    expect_double(5e-324, "5e-324");
    expect_double(DBL_MIN, "2.2250738585072014e-308");
    expect_double(0.0, "0");
    expect_double(-0.0, "-0");
    /* MySQL never stores NaN or infinity. */
    expect_unknown(&c, "000000000000f87f");
    expect_unknown(&c, "000000000000f07f");
}

TEST(newdecimal)
{
    struct bl_coldef c = col(BL_T_NEWDECIMAL, 10 | 2 << 8);

    expect(&c, "8000000c32", "12.50");
    expect(&c, "7fffffffcd", "-0.50");
    expect(&c, "8000000000", "0.00");
    expect(&c, "85f5e0ff63", "99999999.99");
    /* A negative zero keeps its sign, as bin2decimal() + decimal2string() do. */
    expect(&c, "7fffffffff", "-0.00");
    c = col(BL_T_NEWDECIMAL, 5);
    expect(&c, "800000", "0");
    expect(&c, "7fffff", "0");
    expect(&c, "803039", "12345");
    expect_bad(&c, "8f4240"); /* 1000000 does not fit 5 digits */
    c = col(BL_T_NEWDECIMAL, 65 | 30 << 8);
    expect(&c, "85f5e0ff3b9ac9ff3b9ac9ff3b9ac9ff3b9ac9ff3b9ac9ff3b9ac9ff03e7",
           "99999999999999999999999999999999999.999999999999999999999999999999");
    expect(&c, "7a0a1f00c4653600c4653600c4653600c4653600c4653600c4653600fc18",
           "-99999999999999999999999999999999999.999999999999999999999999999999");
    expect_bad(&c, "ff");
    c = col(BL_T_NEWDECIMAL, 2 | 3 << 8); /* scale above precision */
    expect_bad(&c, "800000");
    c = col(BL_T_NEWDECIMAL, 66);
    expect_bad(&c, "80000000000000000000000000000000");
    c = col(BL_T_NEWDECIMAL, 0);
    expect_bad(&c, "80");
}

TEST(date)
{
    struct bl_coldef c = col(BL_T_DATE, 0);

    expect(&c, "aad00f", "2024-05-10");
    expect(&c, "000000", "0000-00-00");
    expect(&c, "9f1f4e", "9999-12-31");
    c = col(BL_T_NEWDATE, 0);
    expect(&c, "aad00f", "2024-05-10");
}

TEST(timestamp2_fsp_0_3_6)
{
    struct bl_coldef c = col(BL_T_TIMESTAMP2, 0);

    expect(&c, "00000000", "0000-00-00 00:00:00");
    expect(&c, "6640843a", "2024-05-12 08:56:26");
    expect(&c, "7fffffff", "2038-01-19 03:14:07");
    expect(&c, "00000001", "1970-01-01 00:00:01");
    c.meta = 3;
    expect(&c, "6640843a04ce", "2024-05-12 08:56:26.123");
    expect(&c, "000000000000", "0000-00-00 00:00:00.000");
    expect_bad(&c, "6640843a2710"); /* 10000 hundreds of microseconds */
    c.meta = 6;
    expect(&c, "6640843a01e240", "2024-05-12 08:56:26.123456");
    expect(&c, "583dc3bb0f423f", "2016-11-29 18:06:51.999999");
    c.meta = 1;
    expect(&c, "6640843a32", "2024-05-12 08:56:26.5");
    c.meta = 7;
    expect_bad(&c, "6640843a01e240");
}

TEST(datetime2_and_time2)
{
    struct bl_coldef c = col(BL_T_DATETIME2, 0);

    expect(&c, "99b354f780", "2024-05-10 15:30:00");
    expect_bad(&c, "7fffffffff"); /* a negative DATETIME */
    c.meta = 3;
    expect(&c, "99b354f78001f4", "2024-05-10 15:30:00.050");
    c = col(BL_T_TIME2, 0);
    expect(&c, "80f780", "15:30:00");
    expect(&c, "6043e5", "-507:48:27"); /* rmc_time2_negative_8040 */
    c.meta = 3;
    expect(&c, "80c0001388", "12:00:00.500");
    c.meta = 5;
    expect(&c, "80c000000001", "12:00:00.00000");
    expect_bad(&c, "80c0000f4240"); /* a fraction of 1000000 microseconds */
}

TEST(legacy_temporal_types)
{
    struct bl_coldef c = col(BL_T_TIMESTAMP, 0);

    expect(&c, "3a844066", "2024-05-12 08:56:26");
    expect(&c, "00000000", "0000-00-00 00:00:00");
    c = col(BL_T_DATETIME, 0);
    expect(&c, hex_le(20240510153000ULL, 8), "2024-05-10 15:30:00");
    expect(&c, "0000000000000000", "0000-00-00 00:00:00");
    c = col(BL_T_TIME, 0);
    expect(&c, hex_le(123456, 3), "12:34:56");
    expect(&c, hex_le((uint64_t)-123456, 3), "-12:34:56");
    expect(&c, hex_le(8385959, 3), "838:59:59");
}

TEST(varchar_length_prefix)
{
    struct bl_coldef c = col(BL_T_VARCHAR, 255);
    char big[301];
    char hex[700];
    size_t i;

    expect(&c, "03616263", "abc");
    expect(&c, "00", "");
    c.meta = 1020; /* VARCHAR(255) utf8mb4: 1020 bytes, so a 2-byte length */
    expect(&c, "0300616263", "abc");
    memset(big, 'x', 300);
    big[300] = '\0';
    strcpy(hex, "2c01");
    for (i = 0; i < 300; i++)
        strcat(hex, "78");
    expect(&c, hex, big);
    c = col(BL_T_VAR_STRING, 10);
    expect(&c, "026869", "hi");
}

TEST(char_longer_than_255_bytes)
{
    /* CHAR(100) utf8mb4 is 400 bytes: m0 = 0xfe ^ (0x100 >> 4) = 0xee, m1 = 400 & 0xff. */
    struct bl_coldef c = col(BL_T_STRING, 0xee | 0x90 << 8);
    char big[301];
    char hex[700];
    size_t i;

    c.charset = 45;
    memset(big, 'y', 300);
    big[300] = '\0';
    strcpy(hex, "2c01");
    for (i = 0; i < 300; i++)
        strcat(hex, "79");
    expect(&c, hex, big);
    expect(&c, "0300616263", "abc");
    c = col(BL_T_STRING, 0xfe | 10 << 8); /* CHAR(10) latin1: a 1-byte length */
    c.charset = 8;
    expect(&c, "03616263", "abc");
    expect(&c, "0461626320", "abc "); /* as stored: not re-padded */
    c.meta = 0xfe | 40 << 8;
    c.charset = 255;
    expect(&c, "054142434445", "ABCDE"); /* mysqlsync_*_8036 char_col */
}

TEST(binary_is_repadded)
{
    struct bl_coldef c = col(BL_T_STRING, 0xfe | 4 << 8);

    c.charset = BL_CHARSET_BINARY;
    expect_bytes(&c, "026162", "ab\0\0", 4);
    expect_bytes(&c, "00", "\0\0\0\0", 4);
    expect_bytes(&c, "0461626364", "abcd", 4);
    expect_bad(&c, "056162636465");
    /* Unknown charset: a short value could be CHAR or zero-stripped BINARY. */
    c.charset = -1;
    expect_unknown(&c, "026162");
    expect(&c, "0461626364", "abcd");
}

TEST(enum_with_and_without_names)
{
    static const char *const names[] = {"val1", "val2", "val3"};
    struct bl_coldef c = col(BL_T_STRING, 0xf7 | 1 << 8);

    expect_unknown(&c, "02");
    expect(&c, "00", "");
    c.names = names;
    c.nnames = 3;
    expect(&c, "01", "val1");
    expect(&c, "03", "val3");
    expect(&c, "00", "");
    expect_unknown(&c, "04");
    c.meta = 0xf7 | 2 << 8;
    expect(&c, "0200", "val2");
    expect_unknown(&c, "0001");
    c.meta = 0xf7 | 3 << 8;
    expect_bad(&c, "010000");
    c = col(BL_T_ENUM, 0xf7 | 1 << 8);
    c.names = names;
    c.nnames = 3;
    expect(&c, "02", "val2");
}

TEST(set_with_and_without_names)
{
    static const char *const names[] = {"set1", "set2", "set3"};
    static const char *names64[64];
    struct bl_coldef c = col(BL_T_STRING, 0xf8 | 1 << 8);
    size_t i;

    expect_unknown(&c, "03");
    expect(&c, "00", "");
    c.names = names;
    c.nnames = 3;
    expect(&c, "05", "set1,set3");
    expect(&c, "07", "set1,set2,set3");
    expect(&c, "02", "set2");
    expect_unknown(&c, "08");
    c.meta = 0xf8 | 3 << 8;
    expect(&c, "040000", "set3");
    expect_unknown(&c, "000001");
    c.meta = 0xf8 | 5 << 8;
    expect_bad(&c, "0100000000");
    for (i = 0; i < 64; i++)
        names64[i] = i == 0 ? "a" : i == 63 ? "z" : "m";
    c.names = names64;
    c.nnames = 64;
    c.meta = 0xf8 | 8 << 8;
    expect(&c, "0100000000000080", "a,z");
}

TEST(bit_3_and_10)
{
    struct bl_coldef c = col(BL_T_BIT, 3); /* BIT(3): m0 = 3, m1 = 0 */

    expect_bytes(&c, "04", "\x04", 1); /* rmc_bit_full_metadata_8026 a */
    c.meta = 0 | 1 << 8;               /* BIT(8) */
    expect_bytes(&c, "20", "\x20", 1);
    c.meta = 2 | 1 << 8; /* BIT(10) */
    expect_bytes(&c, "0201", "\x02\x01", 2);
    c.meta = 0 | 8 << 8; /* BIT(64) */
    expect_bytes(&c, "8000000000000001", "\x80\0\0\0\0\0\0\x01", 8);
    c.meta = 0;
    expect_bad(&c, "00");
    c.meta = 8;
    expect_bad(&c, "00");
    c.meta = 1 | 8 << 8;
    expect_bad(&c, "000000000000000000");
}

TEST(blob_length_sizes_1_to_4)
{
    struct bl_coldef c = col(BL_T_BLOB, 1);

    expect(&c, "03616263", "abc");
    c.meta = 2;
    expect(&c, "0300616263", "abc");
    c.meta = 3;
    expect(&c, "030000616263", "abc");
    c.meta = 4;
    expect(&c, "03000000616263", "abc");
    expect_bytes(&c, "0200000000ff", "\0\xff", 2);
    c.meta = 0;
    expect_bad(&c, "00");
    c.meta = 5;
    expect_bad(&c, "0000000000");
    c = col(BL_T_GEOMETRY, 4);
    expect_bytes(&c, "0400000000000000", "\0\0\0\0", 4);
    c = col(BL_T_VECTOR, 4); /* rmc_vector_type_901: [1.0, -1.0, 0.0] */
    expect_bytes(&c, "0c0000000000803f000080bf00000000",
                 "\x00\x00\x80\x3f\x00\x00\x80\xbf\x00\x00\x00\x00", 12);
}

/* A JSON column value (meta 4) holding the document given in hex. */
static void
expect_json(const char *doc_hex, const char *text)
{
    struct bl_coldef c = col(BL_T_JSON, 4);
    char hex[1200];

    snprintf(hex, sizeof hex, "%s%s", hex_le(strlen(doc_hex) / 2, 4), doc_hex);
    expect(&c, hex, text);
}

static void
expect_json_unknown(const char *doc_hex)
{
    struct bl_coldef c = col(BL_T_JSON, 4);
    char hex[1200];

    snprintf(hex, sizeof hex, "%s%s", hex_le(strlen(doc_hex) / 2, 4), doc_hex);
    expect_unknown(&c, hex);
}

TEST(json_opaque_values_from_mysql_9)
{
    /* The row values of rmc_json_opaque_types_901.binlog, as MySQL 9.0.1 wrote them. */
    expect_json("0001000f000b0001000f0c00610f0155", "{\"a\": \"base64:type15:VQ==\"}");
    expect_json("00010016000b0001000f0c00620a080000000000e48b19", "{\"b\": \"2012-03-18\"}");
    expect_json("00010016000b0001000f0c00630c08000000adb7e48b19",
                "{\"c\": \"2012-03-18 11:30:45.000000\"}");
    expect_json("00010016000b0001000f0c00630b08f1fb09ee77050000", "{\"c\": \"87:31:46.654321\"}");
    expect_json("00010014000b0001000f0c0064f6060603807b01c8", "{\"d\": 123.456}");
    expect_json("00010015000b0001000f0c0065f6070b028000000900", "{\"e\": 9.00}");
    expect_json("0001001c000b000100020c006504001000050000050100040100040200",
                "{\"e\": [0, 1, true, false]}");
    expect_json("0001000c000b00010004000065", "{\"e\": null}");
}

TEST(json_strings_numbers_and_containers)
{
    struct bl_coldef c = col(BL_T_JSON, 4);

    expect(&c, "00000000", "null");
    c.meta = 2;
    expect(&c, "0000", "null");
    /* MySQL escapes only '"', '\' and bytes below 0x20. */
    expect_json("0c0a61225c0a011f7fc3a92f", "\"a\\\"\\\\\\n\\u0001\\u001f\x7f\xc3\xa9/\"");
    expect_json("0b000000000000f03f", "1.0");
    expect_json("0b0000000000000080", "-0.0");
    expect_json("0b000000000000e03f", "0.5");
    expect_json("0b00000000006a4841", "3200000.0");
    expect_json("0bf64ae1c7022db544", "1e23"); /* no ".0": an exponent is enough */
    expect_json("0b9a9999999999b93f", "0.1");
    expect_json("0401", "true");
    /* Large array: 4-byte counts, int32 inline. */
    expect_json("030200000012000000070100000008ffffffff", "[1, 4294967295]");
    /* Large object with one key. */
    expect_json("010100000014000000130000000100050200000061", "{\"a\": 2}");
    expect_json("0000000400", "{}");
    expect_json("0c00", "\"\"");
}

TEST(json_opaque_base64_wraps_at_76)
{
    char doc[400], want[400];
    size_t i;

    /* 60 zero bytes of a BLOB opaque: 80 base64 characters, a newline after 76. */
    snprintf(doc, sizeof doc, "0ffc3c");
    for (i = 0; i < 60; i++)
        strcat(doc, "00");
    snprintf(want, sizeof want, "\"base64:type252:");
    for (i = 0; i < 76; i++)
        strcat(want, "A");
    strcat(want, "\\nAAAA\"");
    expect_json(doc, want);
    expect_json("0ffd0161", "\"a\""); /* VAR_STRING opaque prints as a string */
}

TEST(json_malformed_is_unknown)
{
    expect_json_unknown("0403");               /* no such literal */
    expect_json_unknown("0d00");               /* no such type */
    expect_json_unknown("0c05616263");         /* string longer than the document */
    expect_json_unknown("0201000400");         /* header larger than the array */
    expect_json_unknown("02010007000c0200");   /* entry points into the header */
    expect_json_unknown("0ff603020180");       /* DECIMAL(2,1) needs 2 bytes, has 1 */
    expect_json_unknown("0f0a0400000000");     /* DATE of 4 bytes */
    expect_json_unknown("0c8080808010");       /* string length beyond 32 bits */
    expect_json_unknown("0b000000000000f87f"); /* NaN */
}

/* A document of `levels` small arrays of `fan` entries that all point at the next level. */
static size_t
nested_arrays(unsigned char *doc, int levels, int fan)
{
    size_t hdr = 4 + 3 * (size_t)fan, size;
    unsigned char *a;
    int i, k;

    doc[0] = 0x02;
    for (i = 0; i < levels; i++) {
        a = doc + 1 + hdr * (size_t)i;
        size = hdr * (size_t)(levels - i);
        a[0] = (unsigned char)fan;
        a[1] = 0;
        a[2] = (unsigned char)size;
        a[3] = (unsigned char)(size >> 8);
        for (k = 0; k < fan; k++) {
            a[4 + 3 * k] = i + 1 < levels ? 0x02 : 0x04; /* array, or the null literal */
            a[5 + 3 * k] = i + 1 < levels ? (unsigned char)hdr : 0;
            a[6 + 3 * k] = 0;
        }
    }
    return (1 + hdr * (size_t)levels);
}

static enum bl_vstate
run_doc(const unsigned char *doc, size_t n)
{
    struct bl_coldef c = col(BL_T_JSON, 4);
    unsigned char *v = malloc(n + 4);
    enum bl_vstate st;

    ASSERT(v != NULL);
    v[0] = (unsigned char)n;
    v[1] = (unsigned char)(n >> 8);
    v[2] = v[3] = 0;
    memcpy(v + 4, doc, n);
    st = run(&c, v, n + 4);
    free(v);
    return (st);
}

TEST(json_depth_limit)
{
    unsigned char doc[1024];
    char want[512];
    int i;

    /* MySQL refuses documents nested deeper than 100 (JSON_DOCUMENT_MAX_DEPTH). */
    ASSERT_EQ(run_doc(doc, nested_arrays(doc, 100, 1)), BL_VALUE);
    for (i = 0; i < 100; i++)
        want[i] = '[';
    memcpy(want + 100, "null", 4);
    for (i = 0; i < 100; i++)
        want[104 + i] = ']';
    want[204] = '\0';
    ASSERT_STR_EQ(out.buf, want);
    ASSERT_EQ(run_doc(doc, nested_arrays(doc, 101, 1)), BL_UNKNOWN);
}

TEST(json_shared_subtrees_are_capped)
{
    unsigned char doc[1024];

    /* Valid for MySQL, and printed as such while small. */
    ASSERT_EQ(run_doc(doc, nested_arrays(doc, 2, 2)), BL_VALUE);
    ASSERT_STR_EQ(out.buf, "[[null, null], [null, null]]");
    /*
     * 30 levels of 2 entries pointing at one next level: 2^30 nulls from 301
     * bytes.  Past 8 output bytes per input byte the decoder stops: unknown.
     */
    ASSERT_EQ(run_doc(doc, nested_arrays(doc, 30, 2)), BL_UNKNOWN);
}

TEST(meta_lengths)
{
    static const unsigned char p[2] = {0x0a, 0x02};
    int t;

    ASSERT_EQ(bl_meta_len(BL_T_TINY), 0);
    ASSERT_EQ(bl_meta_len(BL_T_DATE), 0);
    ASSERT_EQ(bl_meta_len(BL_T_NULL), 0);
    ASSERT_EQ(bl_meta_len(BL_T_FLOAT), 1);
    ASSERT_EQ(bl_meta_len(BL_T_TIME2), 1);
    ASSERT_EQ(bl_meta_len(BL_T_JSON), 1);
    ASSERT_EQ(bl_meta_len(BL_T_BLOB), 1);
    ASSERT_EQ(bl_meta_len(BL_T_GEOMETRY), 1);
    ASSERT_EQ(bl_meta_len(BL_T_VECTOR), 1);
    ASSERT_EQ(bl_meta_len(BL_T_VARCHAR), 2);
    ASSERT_EQ(bl_meta_len(BL_T_BIT), 2);
    ASSERT_EQ(bl_meta_len(BL_T_NEWDECIMAL), 2);
    ASSERT_EQ(bl_meta_len(BL_T_STRING), 2);
    ASSERT_EQ(bl_meta_len(20), -1);
    ASSERT_EQ(bl_meta_len(243), -1);
    ASSERT_EQ(bl_meta_read(BL_T_NEWDECIMAL, p), 0x020a);
    ASSERT_EQ(bl_meta_read(BL_T_NEWDECIMAL, p) & 0xff, 10);
    ASSERT_EQ(bl_meta_read(BL_T_DOUBLE, p), 0x0a);
    ASSERT_EQ(bl_meta_read(BL_T_LONG, p), 0);
    for (t = 0; t < 256; t++)
        ASSERT(bl_meta_len((uint8_t)t) >= -1 && bl_meta_len((uint8_t)t) <= 2);
}

TEST(unknown_types_are_refused)
{
    struct bl_coldef c = col(BL_T_DECIMAL, 0);

    expect_bad(&c, "0000");
    c.type = BL_T_NULL;
    expect_bad(&c, "00");
    c.type = 20;
    expect_bad(&c, "00");
    c.type = 243;
    expect_bad(&c, "00");
}

TEST(out_buffer_appends)
{
    struct bl_out o = {NULL, 0, 0};
    struct bl_coldef c = col(BL_T_TINY, 0);
    static const unsigned char one = 1, two = 2;
    size_t used;
    enum bl_vstate st;

    ASSERT_EQ(bl_value(&c, &one, 1, &used, &st, &o), 0);
    ASSERT_EQ(bl_value(&c, &two, 1, &used, &st, &o), 0);
    ASSERT_EQ(o.len, 2);
    ASSERT_STR_EQ(o.buf, "12");
    bl_out_reset(&o);
    ASSERT_EQ(o.len, 0);
    ASSERT_STR_EQ(o.buf, "");
    bl_out_free(&o);
    ASSERT(o.buf == NULL && o.cap == 0);
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(fixture_gomysql_values_decimal)
    TEST_ENTRY(fixture_gomysql_values_datetime2_time2)
    TEST_ENTRY(fixture_vitess_json_binary_values)
    TEST_ENTRY(fixture_gomysql_rows_json_decimal)
    TEST_ENTRY(fixture_gomysql_rows_json_zero_length)
    TEST_ENTRY(integers_every_width)
    TEST_ENTRY(year)
    TEST_ENTRY(float_six_digits)
    TEST_ENTRY(double_shortest)
    TEST_ENTRY(newdecimal)
    TEST_ENTRY(date)
    TEST_ENTRY(timestamp2_fsp_0_3_6)
    TEST_ENTRY(datetime2_and_time2)
    TEST_ENTRY(legacy_temporal_types)
    TEST_ENTRY(varchar_length_prefix)
    TEST_ENTRY(char_longer_than_255_bytes)
    TEST_ENTRY(binary_is_repadded)
    TEST_ENTRY(enum_with_and_without_names)
    TEST_ENTRY(set_with_and_without_names)
    TEST_ENTRY(bit_3_and_10)
    TEST_ENTRY(blob_length_sizes_1_to_4)
    TEST_ENTRY(json_opaque_values_from_mysql_9)
    TEST_ENTRY(json_strings_numbers_and_containers)
    TEST_ENTRY(json_opaque_base64_wraps_at_76)
    TEST_ENTRY(json_malformed_is_unknown)
    TEST_ENTRY(json_depth_limit)
    TEST_ENTRY(json_shared_subtrees_are_capped)
    TEST_ENTRY(meta_lengths)
    TEST_ENTRY(unknown_types_are_refused)
    TEST_ENTRY(out_buffer_appends)
)
/* clang-format on */
