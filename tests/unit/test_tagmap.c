/* The mapping rules of the README, one case each. */
#include "../../broker/lib/cfg.h"
#include "../../broker/tagmap.h"
#include "../../broker/tagset.h"
#include "test.h"

static struct tagmap *
compile(const char *text, const char **err)
{
    struct cfg_ctx *ctx = cfg_ctx_new("map.json", text);
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    struct tagmap *m = NULL;
    static char errbuf[1024];

    if (root == NULL)
        FAILF("bad test JSON: %s", jerr.text);
    *err = NULL;
    if (tagmap_compile(&m, root, TAGMAP_DEFAULT_MAX_TAG_BYTES, ctx) != 0) {
        snprintf(errbuf, sizeof errbuf, "%s", cfg_errmsg(ctx));
        *err = errbuf;
    }
    json_decref(root);
    cfg_ctx_destroy(&ctx);
    return (m);
}

static const char *const products_map =
    "{\"public.products\": {\"tags\": [\"product-{id}\", \"category-{category_id}\", "
    "\"product-list\"], \"ignore_columns\": [\"view_count\", \"updated_at\"]},"
    " \"public.pair\": {\"tags\": [\"p-{a}-{b}\", \"{a}{b}\"], \"fallback_tags\": [\"pairs\"]},"
    " \"public.bare\": {\"tags\": [\"bare-{id}\"]}}";

static const char *const cols[] = {"id", "category_id", "view_count", "name"};

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

/* Apply and return the tags joined by spaces, sorted. */
static const char *
apply(const char *table, enum change_op op, const struct col_value *oldv,
      const struct col_value *newv, int *flags)
{
    static char out[8192];
    const char *err;
    struct tagmap *m = compile(products_map, &err);
    struct tagset *ts = tagset_new();
    const char *const *tags;
    struct change c = {op, table, cols, 4, oldv, newv};
    size_t n, i, o = 0;
    int f;

    ASSERT(m != NULL);
    f = tagmap_apply(tagmap_lookup(m, table), &c, ts);
    if (flags != NULL)
        *flags = f;
    tags = tagset_sorted(ts, &n);
    out[0] = '\0';
    for (i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? " " : "", tags[i]);
    tagset_destroy(&ts);
    tagmap_unref(&m);
    return (out);
}

TEST(insert_uses_new_row)
{
    struct col_value nv[] = {V("1"), V("3"), V("0"), V("x")};
    ASSERT_STR_EQ(apply("public.products", CHG_INSERT, NULL, nv, NULL),
                  "category-3 product-1 product-list");
}

TEST(delete_uses_old_row)
{
    struct col_value ov[] = {V("10"), V("5"), V("0"), V("x")};
    ASSERT_STR_EQ(apply("public.products", CHG_DELETE, ov, NULL, NULL),
                  "category-5 product-10 product-list");
}

TEST(update_is_union_of_old_and_new)
{
    struct col_value ov[] = {V("1"), V("3"), V("0"), V("x")};
    struct col_value nv[] = {V("1"), V("4"), V("0"), V("x")};
    ASSERT_STR_EQ(apply("public.products", CHG_UPDATE, ov, nv, NULL),
                  "category-3 category-4 product-1 product-list");
}

/* Insert into public.pair (columns a, b): its tags joined by spaces, sorted. */
static const char *
apply_pair(const struct col_value *nv, int *flags)
{
    static const char *const pcols[] = {"a", "b"};
    static char out[1024];
    struct change c = {CHG_INSERT, "public.pair", pcols, 2, NULL, nv};
    struct tagset *ts = tagset_new();
    const char *err;
    struct tagmap *m = compile(products_map, &err);
    const char *const *tags;
    size_t n, i, o = 0;

    *flags = tagmap_apply(tagmap_lookup(m, "public.pair"), &c, ts);
    tags = tagset_sorted(ts, &n);
    out[0] = '\0';
    for (i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? " " : "", tags[i]);
    tagset_destroy(&ts);
    tagmap_unref(&m);
    return (out);
}

TEST(several_placeholders_per_tag)
{
    struct col_value nv[] = {V("x"), V("y")};
    int flags;

    ASSERT_STR_EQ(apply_pair(nv, &flags), "p-x-y xy");
    ASSERT_EQ(flags, 0);
}

TEST(empty_rendering_drops_that_tag)
{
    struct col_value nv[] = {V(""), V("")};
    int flags;

    /* "{a}{b}" of two empty values is no tag; "p-{a}-{b}" still is one. */
    ASSERT_STR_EQ(apply_pair(nv, &flags), "p--");
    ASSERT_EQ(flags, 0);
}

TEST(null_drops_only_that_tag)
{
    struct col_value nv[] = {V("7"), NUL, V("0"), V("x")};
    int flags;
    ASSERT_STR_EQ(apply("public.products", CHG_INSERT, NULL, nv, &flags), "product-7 product-list");
    ASSERT_EQ(flags, 0);
}

TEST(unknown_value_purges_default_fallback)
{
    /* PostgreSQL REPLICA IDENTITY DEFAULT: the old category is not in the change. */
    struct col_value ov[] = {V("1"), UNK, UNK, UNK};
    struct col_value nv[] = {V("1"), V("4"), V("0"), V("x")};
    int flags;
    ASSERT_STR_EQ(apply("public.products", CHG_UPDATE, ov, nv, &flags),
                  "category-4 product-1 product-list");
    ASSERT(flags & TM_FALLBACK);
    ASSERT(!(flags & TM_NOFALLBACK));
}

TEST(explicit_fallback_tags)
{
    static const char *const pcols[] = {"a", "b"};
    struct col_value ov[] = {V("x"), UNK};
    struct change c = {CHG_DELETE, "public.pair", pcols, 2, ov, NULL};
    struct tagset *ts = tagset_new();
    const char *err;
    struct tagmap *m = compile(products_map, &err);
    size_t n;

    ASSERT_EQ(tagmap_apply(tagmap_lookup(m, "public.pair"), &c, ts), TM_FALLBACK);
    ASSERT_STR_EQ(tagset_sorted(ts, &n)[0], "pairs");
    ASSERT_EQ(n, 1);
    tagset_destroy(&ts);
    tagmap_unref(&m);
}

TEST(missing_fallback_is_flagged)
{
    static const char *const bcols[] = {"id"};
    struct col_value ov[] = {UNK};
    struct change c = {CHG_DELETE, "public.bare", bcols, 1, ov, NULL};
    struct tagset *ts = tagset_new();
    const char *err;
    struct tagmap *m = compile(products_map, &err);

    ASSERT_EQ(tagmap_apply(tagmap_lookup(m, "public.bare"), &c, ts), TM_FALLBACK | TM_NOFALLBACK);
    ASSERT_EQ(tagset_count(ts), 0);
    tagset_destroy(&ts);
    tagmap_unref(&m);
}

TEST(truncate_purges_fallback)
{
    int flags;
    ASSERT_STR_EQ(apply("public.products", CHG_TRUNCATE, NULL, NULL, &flags), "product-list");
    ASSERT_EQ(flags, TM_FALLBACK);
}

TEST(update_of_ignored_columns_purges_nothing)
{
    struct col_value ov[] = {V("1"), V("3"), V("0"), V("x")};
    struct col_value nv[] = {V("1"), V("3"), V("1"), V("x")};
    int flags;
    ASSERT_STR_EQ(apply("public.products", CHG_UPDATE, ov, nv, &flags), "");
    ASSERT_EQ(flags, TM_UNCHANGED);
}

TEST(update_of_ignored_and_other_columns_purges)
{
    struct col_value ov[] = {V("1"), V("3"), V("0"), V("x")};
    struct col_value nv[] = {V("1"), V("3"), V("1"), V("y")};
    ASSERT_STR_EQ(apply("public.products", CHG_UPDATE, ov, nv, NULL),
                  "category-3 product-1 product-list");
}

TEST(ignore_columns_needs_complete_old_image)
{
    /* Old image lacks a column: cannot decide, so it purges as usual. */
    struct col_value ov[] = {V("1"), V("3"), V("0"), UNK};
    struct col_value nv[] = {V("1"), V("3"), V("1"), V("x")};
    int flags;
    ASSERT_STR_EQ(apply("public.products", CHG_UPDATE, ov, nv, &flags),
                  "category-3 product-1 product-list");
    ASSERT(!(flags & TM_UNCHANGED));
}

TEST(null_to_value_is_a_change)
{
    struct col_value ov[] = {V("1"), NUL, V("0"), V("x")};
    struct col_value nv[] = {V("1"), V("3"), V("0"), V("x")};
    ASSERT_STR_EQ(apply("public.products", CHG_UPDATE, ov, nv, NULL),
                  "category-3 product-1 product-list");
}

TEST(encoding_of_hostile_values)
{
    struct col_value nv[] = {V("a,b c\r\nX-Evil: 1|(.*)%~_-."), V("\xc3\xa9t\xc3\xa9"), V("0"),
                             V("x")};
    ASSERT_STR_EQ(apply("public.products", CHG_INSERT, NULL, nv, NULL),
                  "category-%C3%A9t%C3%A9 "
                  "product-a%2Cb%20c%0D%0AX-Evil%3A%201%7C%28.%2A%29%25~_-. product-list");
}

TEST(encoding_of_nul_byte)
{
    struct col_value nv[] = {{COL_VALUE, "a\0b", 3}, V("1"), V("0"), V("x")};
    ASSERT_STR_EQ(apply("public.products", CHG_INSERT, NULL, nv, NULL),
                  "category-1 product-a%00b product-list");
}

TEST(tag_encode_unreserved_and_hex)
{
    char buf[64];
    ASSERT_EQ(tag_encode(buf, "AZaz09-._~", 10), 10);
    ASSERT_STR_EQ(buf, "AZaz09-._~");
    tag_encode(buf, "\xff/ +", 4);
    ASSERT_STR_EQ(buf, "%FF%2F%20%2B");
}

TEST(huge_value_falls_back)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    int flags;

    memset(big, 'x', n);
    struct col_value nv[] = {{COL_VALUE, big, n}, V("3"), V("0"), V("x")};
    ASSERT_STR_EQ(apply("public.products", CHG_INSERT, NULL, nv, &flags),
                  "category-3 product-list");
    ASSERT(flags & TM_OVERSIZE);
    free(big);
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
    struct tagmap *m = compile(map, &err);
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
    const char *err;
    struct tagmap *m = compile(products_map, &err);
    int n = 0;

    ASSERT_EQ(
        tagmap_missing_columns(tagmap_lookup(m, "public.products"), have, 2, count_missing, &n), 1);
    ASSERT_EQ(n, 1);
    tagmap_unref(&m);
}

TEST(missing_column_in_change_falls_back)
{
    static const char *const few[] = {"id"};
    struct col_value nv[] = {V("1")};
    struct change c = {CHG_INSERT, "public.products", few, 1, NULL, nv};
    struct tagset *ts = tagset_new();
    const char *err;
    struct tagmap *m = compile(products_map, &err);

    ASSERT_EQ(tagmap_apply(tagmap_lookup(m, "public.products"), &c, ts), TM_FALLBACK);
    ASSERT_EQ(tagset_count(ts), 2); /* product-1 and the fallback product-list */
    tagset_destroy(&ts);
    tagmap_unref(&m);
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(insert_uses_new_row)
    TEST_ENTRY(delete_uses_old_row)
    TEST_ENTRY(update_is_union_of_old_and_new)
    TEST_ENTRY(several_placeholders_per_tag)
    TEST_ENTRY(empty_rendering_drops_that_tag)
    TEST_ENTRY(null_drops_only_that_tag)
    TEST_ENTRY(unknown_value_purges_default_fallback)
    TEST_ENTRY(explicit_fallback_tags)
    TEST_ENTRY(missing_fallback_is_flagged)
    TEST_ENTRY(truncate_purges_fallback)
    TEST_ENTRY(update_of_ignored_columns_purges_nothing)
    TEST_ENTRY(update_of_ignored_and_other_columns_purges)
    TEST_ENTRY(ignore_columns_needs_complete_old_image)
    TEST_ENTRY(null_to_value_is_a_change)
    TEST_ENTRY(encoding_of_hostile_values)
    TEST_ENTRY(encoding_of_nul_byte)
    TEST_ENTRY(tag_encode_unreserved_and_hex)
    TEST_ENTRY(huge_value_falls_back)
    TEST_ENTRY(tags_are_deduplicated)
    TEST_ENTRY(literal_text_is_checked_at_load)
    TEST_ENTRY(error_positions_point_into_the_file)
    TEST_ENTRY(missing_columns_are_reported)
    TEST_ENTRY(missing_column_in_change_falls_back)
)
/* clang-format on */
