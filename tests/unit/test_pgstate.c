/* The PostgreSQL gap decision (connectors/pgstate.c) as a table of cases, and its state file. */
#include "../../connectors/pgstate.h"
#include "test.h"

#define SYS "7301234567890123456"

#define OK_ST                                                                                      \
    {                                                                                              \
        SYS, 1, "tp", 0x1000, ""                                                                   \
    }
static const struct pgstate ok_st = OK_ST;
#define NONE                                                                                       \
    {                                                                                              \
        "", 0, "", 0, ""                                                                           \
    }

struct gcase {
    const char *name;
    int have;             /* statefile_read(): 1, 0 none, -1 unreadable */
    struct pgstate st;    /* when have is 1 */
    const char *systemid; /* the server's */
    unsigned timeline;    /* the server's */
    int exists, lost;     /* the slot */
    uint64_t flush;       /* its confirmed_flush_lsn */
    const char *want;     /* a piece of the reason, NULL: no gap */
};

static const struct gcase gcases[] = {
    {"first start, slot missing", 0, NONE, SYS, 1, 0, 0, 0, NULL},
    {"first start, slot present", 0, NONE, SYS, 1, 1, 0, 0x5000, NULL},
    {"first start, slot lost", 0, NONE, SYS, 1, 1, 1, 0x5000, "wal_status lost"},
    {"unreadable state file", -1, NONE, SYS, 1, 1, 0, 0x1000, "unreadable"},
    {"continues", 1, OK_ST, SYS, 1, 1, 0, 0x1000, NULL},
    {"slot behind the file (replays)", 1, OK_ST, SYS, 1, 1, 0, 0x800, NULL},
    {"slot advanced by someone else", 1, OK_ST, SYS, 1, 1, 0, 0x1001, "another client"},
    {"slot missing", 1, OK_ST, SYS, 1, 0, 0, 0, "is missing"},
    {"slot lost", 1, OK_ST, SYS, 1, 1, 1, 0x1000, "wal_status lost"},
    {"another cluster", 1, ok_st, "42", 1, 1, 0, 0x1000, "system identifier"},
    {"promoted standby, slot missing", 1, OK_ST, SYS, 2, 0, 0, 0, "is missing"},
    {"promoted standby, slot made there", 1, OK_ST, SYS, 2, 1, 0, 0x900, "timeline 2"},
    {"another slot configured",
     1,
     {SYS, 1, "old", 0x1000, ""},
     SYS,
     1,
     1,
     0,
     0x1000,
     "configured slot is tp"},
    {"gap purge never confirmed",
     1,
     {SYS, 1, "tp", 0x1000, "slot tp is missing"},
     SYS,
     1,
     1,
     0,
     0x900,
     "earlier gap was not confirmed (slot tp is missing)"},
    {NULL, 0, NONE, NULL, 0, 0, 0, 0, NULL},
};

TEST(gap_table)
{
    const struct gcase *c;
    struct pgfacts f;
    char why[512];
    int gap;

    for (c = gcases; c->name != NULL; c++) {
        f = (struct pgfacts){c->systemid, c->timeline, "tp", c->exists, c->flush, c->lost};
        gap = pgstate_gap(c->have, &c->st, &f, why, sizeof why);
        if (gap != (c->want != NULL))
            FAILF("%s: gap %d, reason \"%s\"", c->name, gap, why);
        if (c->want != NULL && strstr(why, c->want) == NULL)
            FAILF("%s: reason \"%s\" lacks \"%s\"", c->name, why, c->want);
    }
}

static void
count_each(void *arg, const char *why)
{
    (void)why;
    (*(int *)arg)++;
}

/* `check --online` lists every rule that applies, not just the first. */
TEST(gaps_all)
{
    struct pgfacts f = {"42", 2, "tp", 1, 0x2000, 1};
    int n = 0;

    ASSERT_EQ(pgstate_gaps(1, &ok_st, &f, count_each, &n), 4); /* lost, system, timeline, lsn */
    ASSERT_EQ(n, 4);
}

TEST(state_json)
{
    struct pgstate st = {SYS, 3, "tp", 0x16B374D848ULL, "why"}, back;
    json_t *o = pgstate_json(&st);
    char *txt = json_dumps(o, JSON_SORT_KEYS);

    ASSERT_STR_EQ(txt, "{\"gap\": \"why\", \"lsn\": \"16/B374D848\", \"slot\": \"tp\", "
                       "\"systemid\": \"" SYS "\", \"timeline\": 3}");
    ASSERT_EQ(pgstate_parse(o, &back), 0);
    ASSERT_STR_EQ(back.systemid, SYS);
    ASSERT_EQ(back.timeline, 3);
    ASSERT_EQ(back.lsn, 0x16B374D848ULL);
    ASSERT_STR_EQ(back.gap, "why");
    free(txt);
    json_decref(o);
    o = json_pack("{s:s, s:i, s:s, s:s}", "systemid", SYS, "timeline", 1, "slot", "tp", "lsn",
                  "nonsense");
    ASSERT_EQ(pgstate_parse(o, &back), -1);
    json_decref(o);
    o = json_pack("{s:s}", "slot", "tp");
    ASSERT_EQ(pgstate_parse(o, &back), -1);
    json_decref(o);
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(gap_table)
    TEST_ENTRY(gaps_all)
    TEST_ENTRY(state_json)
)
/* clang-format on */
