/*
 * MariaDB GTID state strings (connectors/gtid.c): parsing triples and
 * merging them into a per-domain state without losing a domain.
 */
#include <stdint.h>

#include "../../connectors/gtid.h"
#include "test.h"

TEST(parse_triples)
{
    uint32_t d, s;
    uint64_t n;

    ASSERT_EQ(gtid_parse("0-1-37", 6, &d, &s, &n), 0);
    ASSERT_EQ(d, 0);
    ASSERT_EQ(s, 1);
    ASSERT_EQ(n, 37);
    ASSERT_EQ(gtid_parse("4294967295-2-18446744073709551615", 33, &d, &s, &n), 0);
    ASSERT(d == UINT32_MAX && n == UINT64_MAX);
    ASSERT_EQ(gtid_parse("4294967296-2-1", 14, &d, &s, &n), -1); /* domain overflows */
    ASSERT_EQ(gtid_parse("0-1", 3, &d, &s, &n), -1);
    ASSERT_EQ(gtid_parse("0--1", 4, &d, &s, &n), -1);
    ASSERT_EQ(gtid_parse("0-1-x", 5, &d, &s, &n), -1);
    ASSERT_EQ(gtid_parse("0-1-2-3", 7, &d, &s, &n), -1);
    ASSERT_EQ(gtid_parse("0-1-37,1-2-5", 6, &d, &s, &n), 0); /* len bounds it */
    ASSERT(gtid_state_valid("") && gtid_state_valid("0-1-37,1-2-5"));
    ASSERT(!gtid_state_valid("0-1-37,") && !gtid_state_valid(",0-1-37") &&
           !gtid_state_valid("0-1-37 ,1-2-5") && !gtid_state_valid("uuid:1-5"));
}

TEST(merge_keeps_every_domain)
{
    char st[64] = "";

    ASSERT_EQ(gtid_state_merge(st, sizeof st, "0-1-5", GTID_REPLACE), 0);
    ASSERT_STR_EQ(st, "0-1-5");
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "1-2-7", GTID_REPLACE), 0);
    ASSERT_STR_EQ(st, "0-1-5,1-2-7");
    /* a promoted replica's own transactions: same domain, another server id */
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "0-2-6", GTID_REPLACE), 0);
    ASSERT_STR_EQ(st, "0-2-6,1-2-7");
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "1-2-8", GTID_REPLACE), 0);
    ASSERT_STR_EQ(st, "0-2-6,1-2-8");
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "10-1-1", GTID_REPLACE), 0); /* "1-" is no prefix */
    ASSERT_STR_EQ(st, "0-2-6,1-2-8,10-1-1");
}

TEST(merge_higher_never_goes_back)
{
    char st[64] = "0-1-40,1-2-9";

    /* an older GTID_LIST (the start of the file a GTID dump begins in) */
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "0-1-30", GTID_HIGHER), 0);
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "1-2-3", GTID_HIGHER), 0);
    ASSERT_STR_EQ(st, "0-1-40,1-2-9");
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "1-3-10", GTID_HIGHER), 0);
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "2-1-1", GTID_HIGHER), 0);
    ASSERT_STR_EQ(st, "0-1-40,1-3-10,2-1-1");
}

TEST(merge_refuses_what_does_not_fit)
{
    char st[16] = "0-1-5,1-1-6";

    ASSERT_EQ(gtid_state_merge(st, sizeof st, "2-1-7", GTID_REPLACE), -1);
    ASSERT_STR_EQ(st, "0-1-5,1-1-6"); /* unchanged, not cut */
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "0-1-77", GTID_REPLACE), 0);
    ASSERT_STR_EQ(st, "0-1-77,1-1-6");
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "0-1", GTID_REPLACE), -1);
    strcpy(st, "0-1-5,0-2-9"); /* two entries of a domain fold into one */
    ASSERT_EQ(gtid_state_merge(st, sizeof st, "0-3-10", GTID_REPLACE), 0);
    ASSERT_STR_EQ(st, "0-3-10");
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(parse_triples)
    TEST_ENTRY(merge_keeps_every_domain)
    TEST_ENTRY(merge_higher_never_goes_back)
    TEST_ENTRY(merge_refuses_what_does_not_fit)
)
/* clang-format on */
