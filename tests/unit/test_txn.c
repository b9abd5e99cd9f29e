/* Per-transaction accumulation: dedup, broaden, and the max_txn_tags collapse. */
#include "../../broker/lib/cfg.h"
#include "../../broker/tagmap.h"
#include "../../broker/tagset.h"
#include "../../broker/txn.h"
#include "test.h"

#include "maputil.h"

static struct tagmap *
map(void)
{
    const char *text =
        "{\"db.items\": {\"tags\": [\"item-{id}\", \"items\"]},"
        " \"db.other\": {\"tags\": [\"other-{id}\"], \"fallback_tags\": [\"others\"]}}";

    return (map_compile_ok(text, 64));
}

static void
insert(struct txn *t, const char *table, const char *id)
{
    static const char *const cols[] = {"id"};
    struct col_value v[] = {{COL_VALUE, id, strlen(id)}};
    struct change c = {CHG_INSERT, table, cols, 1, NULL, v};

    txn_change(t, &c);
}

TEST(deduplicates_and_counts)
{
    struct tagmap *m = map();
    struct txn *t = txn_new(m, 100, "s");

    insert(t, "db.items", "1");
    insert(t, "db.items", "1");
    insert(t, "db.items", "2");
    insert(t, "db.unmapped", "2");
    ASSERT_EQ(tagset_count(txn_finish(t)), 3); /* item-1 item-2 items */
    ASSERT_EQ(txn_counts(t)->changes, 4);
    ASSERT_EQ(txn_counts(t)->changes_mapped, 3);
    txn_reset(t);
    ASSERT_EQ(tagset_count(txn_finish(t)), 0);
    ASSERT_EQ(txn_counts(t)->changes, 0);
    txn_destroy(&t);
    tagmap_unref(&m);
}

TEST(collapses_past_max_tags)
{
    struct tagmap *m = map();
    struct txn *t = txn_new(m, 10, "s");
    struct tagset *ts;
    size_t n;
    char id[16];

    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "%d", i);
        insert(t, "db.items", id);
    }
    insert(t, "db.other", "1");
    ts = txn_finish(t);
    ASSERT_EQ(tagset_count(ts), 2);
    ASSERT_STR_EQ(tagset_sorted(ts, &n)[0], "items");
    ASSERT_STR_EQ(tagset_sorted(ts, &n)[1], "others");
    ASSERT_EQ(txn_counts(t)->collapsed, 1);
    txn_destroy(&t);
    tagmap_unref(&m);
}

TEST(broaden_one_or_all_tables)
{
    struct tagmap *m = map();
    struct txn *t = txn_new(m, 100, "s");
    size_t n;

    txn_broaden(t, "db.other");
    txn_broaden(t, "db.unmapped");
    ASSERT_EQ(tagset_count(txn_finish(t)), 1);
    ASSERT_STR_EQ(tagset_sorted(txn_finish(t), &n)[0], "others");
    txn_reset(t);
    txn_broaden(t, NULL);
    ASSERT_EQ(tagset_count(txn_finish(t)), 2);
    txn_destroy(&t);
    tagmap_unref(&m);
}

/* A reload drops the config's reference: the open transaction keeps its map. */
TEST(keeps_its_map_after_a_reload)
{
    struct tagmap *m = map();
    struct tagmap *second = tagmap_ref(m);
    struct txn *t = txn_new(m, 100, "s");

    ASSERT(second == m);
    tagmap_unref(&m);
    ASSERT(m == NULL);
    tagmap_unref(&second); /* only the txn holds it now (ASan: not freed yet) */
    insert(t, "db.items", "7");
    ASSERT_EQ(tagset_count(txn_finish(t)), 2); /* item-7 items */
    ASSERT_EQ(tagmap_count(txn_map(t)), 2);
    txn_destroy(&t); /* the last reference: freed here (ASan: no leak) */
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(deduplicates_and_counts)
    TEST_ENTRY(collapses_past_max_tags)
    TEST_ENTRY(broaden_one_or_all_tables)
    TEST_ENTRY(keeps_its_map_after_a_reload)
)
/* clang-format on */
