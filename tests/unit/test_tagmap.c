/* The mapping rules of the README, one case each. */
#include "../../broker/lib/cfg.h"
#include "../../broker/tagmap.h"
#include "../../broker/tagset.h"
#include "test.h"

#include "maputil.h"

static const char *const products_map =
    "{\"public.products\": {\"tags\": [\"product-{id}\", \"category-{category_id}\", "
    "\"product-list\"], \"ignore_columns\": [\"view_count\", \"updated_at\"]},"
    " \"public.pair\": {\"tags\": [\"p-{a}-{b}\", \"{a}{b}\"], \"fallback_tags\": [\"pairs\"]},"
    " \"public.bare\": {\"tags\": [\"bare-{id}\"]}}";

static const char *const cols[] = {"id", "category_id", "view_count", "name"};
static const char *const pcols[] = {"a", "b"};
static const char *const idcol[] = {"id"};

/* The columns of a row: products (4), pair (2), bare or a products change with only id. */
#define PRODUCTS cols, 4
#define PAIR     pcols, 2
#define ID_ONLY  idcol, 1

#define V(s)                                                                                       \
    {                                                                                              \
        COL_VALUE, s, sizeof(s) - 1                                                                \
    }
#define NUL                                                                                        \
    {                                                                                              \
        COL_NULL, NULL, 0                                                                          \
    }
#define UNK                                                                                        \
    {                                                                                              \
        COL_UNKNOWN, NULL, 0                                                                       \
    }
#define ROW(...) ((const struct col_value[]){__VA_ARGS__})

/*
 * One mapping rule of the README: a change of {table, op, old, new} maps to
 * exactly the tags WANT (sorted, space-joined); FLAGS_EQ (unless -1) is
 * tagmap_apply's result, FLAGS_SET must be set in it and FLAGS_CLEAR clear.
 */
struct rule {
    const char *name;
    const char *table;
    enum change_op op;
    const char *const *cols;
    size_t ncols;
    const struct col_value *oldv, *newv;
    const char *want;
    int flags_eq, flags_set, flags_clear;
};

#define ANY       -1, 0, 0
#define EQ(f)     (f), 0, 0
#define HAS(s, c) -1, (s), (c)

static const struct rule rules[] = {
    {"insert_uses_new_row", "public.products", CHG_INSERT, PRODUCTS, NULL,
     ROW(V("1"), V("3"), V("0"), V("x")), "category-3 product-1 product-list", ANY},
    {"delete_uses_old_row", "public.products", CHG_DELETE, PRODUCTS,
     ROW(V("10"), V("5"), V("0"), V("x")), NULL, "category-5 product-10 product-list", ANY},
    {"update_is_union_of_old_and_new", "public.products", CHG_UPDATE, PRODUCTS,
     ROW(V("1"), V("3"), V("0"), V("x")), ROW(V("1"), V("4"), V("0"), V("x")),
     "category-3 category-4 product-1 product-list", ANY},
    {"several_placeholders_per_tag", "public.pair", CHG_INSERT, PAIR, NULL, ROW(V("x"), V("y")),
     "p-x-y xy", EQ(0)},
    /* "{a}{b}" of two empty values is no tag; "p-{a}-{b}" still is one. */
    {"empty_rendering_drops_that_tag", "public.pair", CHG_INSERT, PAIR, NULL, ROW(V(""), V("")),
     "p--", EQ(0)},
    {"null_drops_only_that_tag", "public.products", CHG_INSERT, PRODUCTS, NULL,
     ROW(V("7"), NUL, V("0"), V("x")), "product-7 product-list", EQ(0)},
    /* PostgreSQL REPLICA IDENTITY DEFAULT: the old category is not in the change. */
    {"unknown_value_purges_default_fallback", "public.products", CHG_UPDATE, PRODUCTS,
     ROW(V("1"), UNK, UNK, UNK), ROW(V("1"), V("4"), V("0"), V("x")),
     "category-4 product-1 product-list", HAS(TM_FALLBACK, TM_NOFALLBACK)},
    {"explicit_fallback_tags", "public.pair", CHG_DELETE, PAIR, ROW(V("x"), UNK), NULL, "pairs",
     EQ(TM_FALLBACK)},
    {"missing_fallback_is_flagged", "public.bare", CHG_DELETE, ID_ONLY, ROW(UNK), NULL, "",
     EQ(TM_FALLBACK | TM_NOFALLBACK)},
    {"truncate_purges_fallback", "public.products", CHG_TRUNCATE, PRODUCTS, NULL, NULL,
     "product-list", EQ(TM_FALLBACK)},
    {"update_of_ignored_columns_purges_nothing", "public.products", CHG_UPDATE, PRODUCTS,
     ROW(V("1"), V("3"), V("0"), V("x")), ROW(V("1"), V("3"), V("1"), V("x")), "",
     EQ(TM_UNCHANGED)},
    {"update_of_ignored_and_other_columns_purges", "public.products", CHG_UPDATE, PRODUCTS,
     ROW(V("1"), V("3"), V("0"), V("x")), ROW(V("1"), V("3"), V("1"), V("y")),
     "category-3 product-1 product-list", ANY},
    /* Old image lacks a column: cannot decide, so it purges as usual. */
    {"ignore_columns_needs_complete_old_image", "public.products", CHG_UPDATE, PRODUCTS,
     ROW(V("1"), V("3"), V("0"), UNK), ROW(V("1"), V("3"), V("1"), V("x")),
     "category-3 product-1 product-list", HAS(0, TM_UNCHANGED)},
    {"null_to_value_is_a_change", "public.products", CHG_UPDATE, PRODUCTS,
     ROW(V("1"), NUL, V("0"), V("x")), ROW(V("1"), V("3"), V("0"), V("x")),
     "category-3 product-1 product-list", ANY},
    {"encoding_of_hostile_values", "public.products", CHG_INSERT, PRODUCTS, NULL,
     ROW(V("a,b c\r\nX-Evil: 1|(.*)%~_-."), V("\xc3\xa9t\xc3\xa9"), V("0"), V("x")),
     "category-%C3%A9t%C3%A9 product-a%2Cb%20c%0D%0AX-Evil%3A%201%7C%28.%2A%29%25~_-. "
     "product-list",
     ANY},
    {"encoding_of_nul_byte", "public.products", CHG_INSERT, PRODUCTS, NULL,
     ROW({COL_VALUE, "a\0b", 3}, V("1"), V("0"), V("x")), "category-1 product-a%00b product-list",
     ANY},
    /* product-1 and the fallback product-list (category_id is not in the change). */
    {"missing_column_in_change_falls_back", "public.products", CHG_INSERT, ID_ONLY, NULL,
     ROW(V("1")), "product-1 product-list", EQ(TM_FALLBACK)},
};

/* Apply one rule to products_map; 0, or 1 after printing what differs. */
static int
run_rule(const struct rule *r)
{
    struct tagmap *m = map_compile_ok(products_map, TAGMAP_DEFAULT_MAX_TAG_BYTES);
    struct tagset *ts = tagset_new();
    struct change c = {r->op, r->table, r->cols, r->ncols, r->oldv, r->newv};
    const char *got;
    int f, bad = 0;

    f = tagmap_apply(tagmap_lookup(m, r->table), &c, ts);
    got = tags_join(ts);
    if (strcmp(got, r->want) != 0)
        bad = fprintf(stderr, "%s: tags \"%s\" != \"%s\"\n", r->name, got, r->want);
    if (r->flags_eq >= 0 && f != r->flags_eq)
        bad = fprintf(stderr, "%s: flags %#x != %#x\n", r->name, f, r->flags_eq);
    if ((f & r->flags_set) != r->flags_set)
        bad = fprintf(stderr, "%s: flags %#x lack %#x\n", r->name, f, r->flags_set);
    if ((f & r->flags_clear) != 0)
        bad = fprintf(stderr, "%s: flags %#x have %#x\n", r->name, f, r->flags_clear);
    tagset_destroy(&ts);
    tagmap_unref(&m);
    return (bad != 0);
}

TEST(mapping_rules)
{
    size_t i, failed = 0;

    for (i = 0; i < sizeof rules / sizeof rules[0]; i++)
        failed += (size_t)run_rule(&rules[i]);
    if (failed != 0)
        FAILF("%zu of %zu mapping rules failed", failed, sizeof rules / sizeof rules[0]);
}

/* A value past max_tag_bytes: that tag falls back (the row is built at run time). */
TEST(huge_value_falls_back)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    struct col_value nv[] = {{COL_VALUE, big, n}, V("3"), V("0"), V("x")};
    struct rule r = {"huge_value_falls_back",   "public.products",  CHG_INSERT, PRODUCTS, NULL, nv,
                     "category-3 product-list", HAS(TM_OVERSIZE, 0)};

    ASSERT(big != NULL);
    memset(big, 'x', n);
    ASSERT_EQ(run_rule(&r), 0);
    free(big);
}

TEST(tag_encode_unreserved_and_hex)
{
    char buf[64];
    ASSERT_EQ(tag_encode(buf, "AZaz09-._~", 10), 10);
    ASSERT_STR_EQ(buf, "AZaz09-._~");
    tag_encode(buf, "\xff/ +", 4);
    ASSERT_STR_EQ(buf, "%FF%2F%20%2B");
}

TEST(tags_are_deduplicated)
{
    struct tagset *ts = tagset_new();
    ASSERT_EQ(tagset_add(ts, "a", 1), 1);
    ASSERT_EQ(tagset_add(ts, "a", 1), 0);
    ASSERT_EQ(tagset_add(ts, "ab", 1), 0); /* length-bounded: "a" again */
    for (int i = 0; i < 1000; i++) {
        char t[16];
        snprintf(t, sizeof t, "t%d", i % 100);
        tagset_add(ts, t, strlen(t));
    }
    ASSERT_EQ(tagset_count(ts), 101);
    tagset_destroy(&ts);
}

static void
expect_error(const char *map, const char *needle)
{
    const char *err;
    struct tagmap *m = map_compile("map.json", map, TAGMAP_DEFAULT_MAX_TAG_BYTES, &err);
    if (m != NULL)
        FAILF("mapping compiled but should fail: %s", map);
    ASSERT_CONTAINS(err, needle);
}

TEST(literal_text_is_checked_at_load)
{
    expect_error("{\"a.b\": {\"tags\": [\"x y\"]}}", "literal text must be printable ASCII");
    expect_error("{\"a.b\": {\"tags\": [\"x,y\"]}}", "byte 0x2c");
    expect_error("{\"a.b\": {\"tags\": [\"x\\\"y\"]}}", "byte 0x22");
    expect_error("{\"a.b\": {\"tags\": [\"x%y\"]}}", "byte 0x25");
    expect_error("{\"a.b\": {\"tags\": [\"x\\ny\"]}}", "byte 0x0a");
    expect_error("{\"a.b\": {\"tags\": [\"x{id\"]}}", "unclosed '{'");
    expect_error("{\"a.b\": {\"tags\": [\"x{}\"]}}", "bad placeholder");
    expect_error("{\"a.b\": {\"tags\": [\"x}\"]}}", "unmatched '}'");
    expect_error("{\"a.b\": {\"tags\": []}}", "non-empty array");
    expect_error("{\"a.b\": {\"tags\": [\"\"]}}", "empty tag template");
    expect_error("{\"ab\": {\"tags\": [\"x\"]}}", "schema.table or database.table");
    expect_error("{\"a.b\": {\"tags\": [\"x\"], \"fallback\": []}}", "unknown key \"fallback\"");
    expect_error("{\"a.b\": {\"tags\": [\"x\"], \"fallback_tags\": [\"y {z}\"]}}", "fallback tag");
    expect_error("{\"a.b\": {}}", "missing required key \"tags\"");
}

TEST(error_positions_point_into_the_file)
{
    expect_error("{\n  \"a.b\": {\n    \"tags\": [\"ok\", \"x y\"]\n  }\n}", "map.json:3:20:");
    expect_error("{\n  \"a.b\": {\"tags\": [\"x\"],\n  \"oops\": 1}\n}", "map.json:3:3:");
}

static void
count_missing(void *arg, const char *col)
{
    (void)col;
    (*(int *)arg)++;
}

TEST(missing_columns_are_reported)
{
    static const char *const have[] = {"id", "name"};
    struct tagmap *m = map_compile_ok(products_map, TAGMAP_DEFAULT_MAX_TAG_BYTES);
    int n = 0;

    ASSERT_EQ(
        tagmap_missing_columns(tagmap_lookup(m, "public.products"), have, 2, count_missing, &n), 1);
    ASSERT_EQ(n, 1);
    tagmap_unref(&m);
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(mapping_rules)
    TEST_ENTRY(huge_value_falls_back)
    TEST_ENTRY(tag_encode_unreserved_and_hex)
    TEST_ENTRY(tags_are_deduplicated)
    TEST_ENTRY(literal_text_is_checked_at_load)
    TEST_ENTRY(error_positions_point_into_the_file)
    TEST_ENTRY(missing_columns_are_reported)
)
/* clang-format on */
