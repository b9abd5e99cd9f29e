/* Foreign-key cascades (connectors/my_cascade.c): edges + one parent row change -> child tags. */
#include "../../broker/lib/cfg.h"
#include "../../broker/tagmap.h"
#include "../../broker/tagset.h"
#include "../../broker/txn.h"
#include "../../connectors/my_cascade.h"
#include "test.h"

#include "maputil.h"

static const char *mapping_text =
    "{\"db.products\": {\"tags\": [\"product-{id}\", \"category-{category_id}\"],"
    "                   \"fallback_tags\": [\"products\"]},"
    " \"db.images\": {\"tags\": [\"image-{id}\", \"product-img-{product_id}\"],"
    "                 \"fallback_tags\": [\"images\"]},"
    " \"db.featured\": {\"tags\": [\"featured-{id}\", \"featured-cat-{category_id}\"], "
    "\"fallback_tags\": [\"featured\"]},"
    " \"db.orders\": {\"tags\": [\"order-{id}\"]},"
    " \"db.emp\": {\"tags\": [\"team-{manager_id}\"], \"fallback_tags\": [\"emps\"]}}";

static struct tagmap *
map(const char *text)
{
    return (map_compile_ok(text, 64));
}

static void
edge(struct my_cascade *s, const char *parent, const char *pcol, const char *child,
     const char *ccol, enum myc_rule del, enum myc_rule upd)
{
    const char *pc[] = {pcol}, *cc[] = {ccol};

    myc_add(s, "fk", parent, child, pc, cc, 1, del, upd);
}

/* categories <- products (CASCADE/CASCADE) <- images (CASCADE); featured SET NULL; orders
 * RESTRICT. */
static struct my_cascade *
shop(void)
{
    struct my_cascade *s = myc_new();

    edge(s, "db.categories", "id", "db.products", "category_id", MYC_CASCADE, MYC_CASCADE);
    edge(s, "db.products", "id", "db.images", "product_id", MYC_CASCADE, MYC_NONE);
    edge(s, "db.categories", "id", "db.featured", "category_id", MYC_SET_NULL, MYC_NONE);
    edge(s, "db.customers", "id", "db.orders", "customer_id", MYC_NONE, MYC_NONE);
    edge(s, "db.categories", "id", "db.products", "category_id", MYC_CASCADE, MYC_CASCADE);
    return (s);
}

/* A mapping, an edge set (the shop's, or empty) and a transaction on the map. */
struct fx {
    struct tagmap *m;
    struct my_cascade *s;
    struct txn *t;
};

static struct fx
fx_open(const char *text, int with_shop)
{
    struct fx f;

    f.m = map(text);
    f.s = with_shop ? shop() : myc_new();
    f.t = txn_new(f.m, 100, "s");
    return (f);
}

static void
fx_close(struct fx *f)
{
    txn_destroy(&f->t);
    myc_destroy(&f->s);
    tagmap_unref(&f->m);
}

/* The transaction's tags, sorted, space-separated. */
static const char *
tags(struct txn *t)
{
    return (tags_join(txn_finish(t)));
}

static struct col_value
val(const char *s)
{
    struct col_value v = {COL_NULL, NULL, 0};

    if (s != NULL) {
        v.state = COL_VALUE;
        v.data = s;
        v.len = strlen(s);
    }
    return (v);
}

/* A logged change of a two-column parent row (id, name). */
static size_t
change(struct my_cascade *s, struct txn *t, const char *table, enum change_op op,
       const char *old_id, const char *new_id)
{
    static const char *const cols[] = {"id", "name"};
    struct col_value ov[] = {val(old_id), val("x")}, nv[] = {val(new_id), val("y")};
    struct change c = {
        op, table, cols, 2, op == CHG_INSERT ? NULL : ov, op == CHG_DELETE ? NULL : nv};

    return (myc_apply(s, t, &c));
}

TEST(delete_cascades_to_child_grandchild_and_set_null)
{
    struct fx f = fx_open(mapping_text, 1);
    struct tagmap *m = f.m;
    struct my_cascade *s = f.s;
    struct txn *t = f.t;

    ASSERT_EQ(myc_count(s), 4); /* the identical fifth edge was not added */
    ASSERT(myc_wanted(s, m, "db.categories"));
    ASSERT(myc_wanted(s, m, "db.products"));
    ASSERT(!myc_wanted(s, m, "db.customers")); /* RESTRICT only */
    ASSERT(!myc_wanted(s, m, "db.images"));
    ASSERT_EQ(change(s, t, "db.categories", CHG_DELETE, "3", NULL), 3);
    /* products: category-3 from the parent's key, products for product-{id}; images: the
     * grandchild's product_id is a products.id nobody logged: fallback only; featured: SET NULL. */
    ASSERT_STR_EQ(tags(t), "category-3 featured featured-cat-3 images products");
    ASSERT_EQ(txn_counts(t)->cascades, 3);
    ASSERT_EQ(txn_counts(t)->changes, 0); /* derived changes are not logged changes */
    fx_close(&f);
}

TEST(update_of_key_renders_old_and_new)
{
    struct fx f = fx_open(mapping_text, 1);
    struct my_cascade *s = f.s;
    struct txn *t = f.t;

    ASSERT_EQ(change(s, t, "db.categories", CHG_UPDATE, "3", "4"), 1);
    /* images reference products.id, which the cascade did not change: nothing there. */
    ASSERT_STR_EQ(tags(t), "category-3 category-4 products");
    txn_reset(t);
    /* The key unchanged (only name): no edge acts. */
    ASSERT_EQ(change(s, t, "db.categories", CHG_UPDATE, "3", "3"), 0);
    ASSERT_STR_EQ(tags(t), "");
    /* RESTRICT / NO ACTION, and a table without edges: nothing. */
    ASSERT_EQ(change(s, t, "db.customers", CHG_DELETE, "1", NULL), 0);
    ASSERT_EQ(change(s, t, "db.other", CHG_DELETE, "1", NULL), 0);
    ASSERT_EQ(change(s, t, "db.categories", CHG_INSERT, NULL, "9"), 0);
    ASSERT_STR_EQ(tags(t), "");
    fx_close(&f);
}

TEST(direct_child_delete_renders_grandchild)
{
    struct fx f = fx_open(mapping_text, 1);
    struct my_cascade *s = f.s;
    struct txn *t = f.t;

    /* A logged products row: images' product_id is the product's id. */
    ASSERT_EQ(change(s, t, "db.products", CHG_DELETE, "7", NULL), 1);
    ASSERT_STR_EQ(tags(t), "images product-img-7");
    fx_close(&f);
}

TEST(unknown_key_value_falls_back)
{
    static const char *const cols[] = {"id"};
    struct fx f = fx_open(mapping_text, 1);
    struct my_cascade *s = f.s;
    struct txn *t = f.t;
    struct col_value ov[] = {{COL_UNKNOWN, NULL, 0}};
    struct change c = {CHG_DELETE, "db.categories", cols, 1, ov, NULL};

    ASSERT_EQ(myc_apply(s, t, &c), 3);
    ASSERT_STR_EQ(tags(t), "featured images products");
    txn_reset(t);
    /* Undecodable rows of a parent: every mapped table below it. */
    ASSERT_EQ(myc_broaden(s, t, "db.categories"), 3);
    ASSERT_STR_EQ(tags(t), "featured images products");
    fx_close(&f);
}

TEST(self_reference_stops_and_falls_back)
{
    struct fx f = fx_open(mapping_text, 0);
    struct my_cascade *s = f.s;
    struct txn *t = f.t;

    edge(s, "db.emp", "id", "db.emp", "manager_id", MYC_CASCADE, MYC_CASCADE);
    /* Deleting employee 1 deletes team 1 (known) and their teams (unknown): emps. */
    ASSERT_EQ(change(s, t, "db.emp", CHG_DELETE, "1", NULL), 2);
    ASSERT_STR_EQ(tags(t), "emps team-1");
    txn_reset(t);
    /* Renaming the key: the subordinates' manager_id moves 1 -> 2; theirs do not change. */
    ASSERT_EQ(change(s, t, "db.emp", CHG_UPDATE, "1", "2"), 1);
    ASSERT_STR_EQ(tags(t), "team-1 team-2");
    fx_close(&f);
}

TEST(cycle_between_two_tables_stops)
{
    const char *text = "{\"db.a\": {\"tags\": [\"a-{id}\", \"ab-{b_id}\"], \"fallback_tags\": "
                       "[\"as\"]}, \"db.b\": {\"tags\": [\"ba-{a_id}\"], \"fallback_tags\": "
                       "[\"bs\"]}}";
    struct fx f = fx_open(text, 0);
    struct my_cascade *s = f.s;
    struct txn *t = f.t;

    edge(s, "db.a", "id", "db.b", "a_id", MYC_CASCADE, MYC_NONE);
    edge(s, "db.b", "id", "db.a", "b_id", MYC_CASCADE, MYC_NONE);
    ASSERT_EQ(change(s, t, "db.a", CHG_DELETE, "5", NULL), 4);
    /* b: ba-5; a again (unknown b ids): as; stopped there: what a cascades to, b and a
     * itself, falls back: bs (as again). */
    ASSERT_STR_EQ(tags(t), "as ba-5 bs");
    fx_close(&f);
}

TEST(depth_cap)
{
    char text[2048], parent[16], child[16];
    size_t o, i;
    struct fx f;
    static const char *const cols[] = {"p"};
    struct col_value ov[] = {val("1")}, nv[] = {val("2")};
    struct change c = {CHG_UPDATE, "db.t0", cols, 1, ov, nv};

    /* t0 <- t1 <- ... <- t10, each t(i+1).p ON UPDATE CASCADE t(i).p: values known all along. */
    o = (size_t)snprintf(text, sizeof text, "{");
    for (i = 1; i <= 10; i++)
        o += (size_t)snprintf(text + o, sizeof text - o,
                              "%s\"db.t%zu\": {\"tags\": [\"t%zu-{p}\"], \"fallback_tags\": "
                              "[\"t%zu\"]}",
                              i > 1 ? ", " : "", i, i, i);
    snprintf(text + o, sizeof text - o, "}");
    f = fx_open(text, 0);
    for (i = 0; i < 10; i++) {
        snprintf(parent, sizeof parent, "db.t%zu", i);
        snprintf(child, sizeof child, "db.t%zu", i + 1);
        edge(f.s, parent, "p", child, "p", MYC_NONE, MYC_CASCADE);
    }
    ASSERT_EQ(myc_apply(f.s, f.t, &c), MYC_MAX_DEPTH + 2);
    /* MYC_MAX_DEPTH (8) levels rendered from values; t9 and t10 below the cap: fallback. */
    ASSERT_STR_EQ(tags(f.t), "t1-1 t1-2 t10 t2-1 t2-2 t3-1 t3-2 t4-1 t4-2 t5-1 t5-2 t6-1 t6-2 "
                             "t7-1 t7-2 t8-1 t8-2 t9");
    fx_close(&f);
}

TEST(no_fallback_is_counted)
{
    const char *text = "{\"db.c\": {\"tags\": [\"c-{id}\", \"cp-{p_id}\"], \"fallback_tags\": []}}";
    struct fx f = fx_open(text, 0);
    struct my_cascade *s = f.s;
    struct txn *t = f.t;

    edge(s, "db.p", "id", "db.c", "p_id", MYC_CASCADE, MYC_NONE);
    ASSERT_EQ(change(s, t, "db.p", CHG_DELETE, "2", NULL), 1);
    ASSERT_STR_EQ(tags(t), "cp-2");
    ASSERT_EQ(txn_counts(t)->fallback_missing, 1);
    fx_close(&f);
}

TEST(unknown_rule_acts_as_cascade)
{
    struct fx f = fx_open(mapping_text, 0);
    struct my_cascade *s = f.s;
    struct txn *t = f.t;

    ASSERT_EQ(myc_rule_parse(NULL), MYC_UNKNOWN);
    ASSERT_EQ(myc_rule_parse("RESTRICT"), MYC_NONE);
    ASSERT_EQ(myc_rule_parse("NO ACTION"), MYC_NONE);
    ASSERT_EQ(myc_rule_parse("SET NULL"), MYC_SET_NULL);
    edge(s, "db.categories", "id", "db.featured", "category_id", MYC_UNKNOWN, MYC_UNKNOWN);
    edge(s, "db.featured", "id", "db.images", "product_id", MYC_CASCADE, MYC_NONE);
    ASSERT_EQ(myc_unknown_rules(s), 1);
    /* Deleted (CASCADE), so its children are deleted too: images as fallback. */
    ASSERT_EQ(change(s, t, "db.categories", CHG_DELETE, "3", NULL), 2);
    ASSERT_STR_EQ(tags(t), "featured featured-cat-3 images");
    txn_reset(t);
    ASSERT_EQ(change(s, t, "db.categories", CHG_UPDATE, "3", "4"), 1);
    ASSERT_STR_EQ(tags(t), "featured featured-cat-3 featured-cat-4");
    fx_close(&f);
}

TEST(describe)
{
    struct tagmap *m = map(mapping_text);
    struct my_cascade *s = shop();
    char buf[256];
    size_t i;
    int reaches, found = 0;

    for (i = 0; i < myc_count(s); i++) {
        myc_describe(s, m, i, buf, sizeof buf, &reaches);
        if (strstr(buf, "db.customers") != NULL) {
            ASSERT_STR_EQ(buf, "db.customers(id) -> db.orders(customer_id) [fk] ON DELETE NO "
                               "ACTION ON UPDATE NO ACTION");
            found++;
        }
        if (strstr(buf, "db.products(id)") != NULL) {
            ASSERT_STR_EQ(buf, "db.products(id) -> db.images(product_id) [fk] ON DELETE CASCADE "
                               "ON UPDATE NO ACTION");
            ASSERT(reaches);
            found++;
        }
    }
    ASSERT_EQ(found, 2);
    myc_destroy(&s);
    tagmap_unref(&m);
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(delete_cascades_to_child_grandchild_and_set_null)
    TEST_ENTRY(update_of_key_renders_old_and_new)
    TEST_ENTRY(direct_child_delete_renders_grandchild)
    TEST_ENTRY(unknown_key_value_falls_back)
    TEST_ENTRY(self_reference_stops_and_falls_back)
    TEST_ENTRY(cycle_between_two_tables_stops)
    TEST_ENTRY(depth_cap)
    TEST_ENTRY(no_fallback_is_counted)
    TEST_ENTRY(unknown_rule_acts_as_cascade)
    TEST_ENTRY(describe)
)
/* clang-format on */
