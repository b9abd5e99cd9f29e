/* pgoutput v1 decoding from hex vectors of whole messages (layouts: PostgreSQL protocol docs). */
#include "../../connectors/pgoutput.h"
#include "test.h"

/* note() takes the caller's literal formats: fine for a test. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* What the callbacks saw. */
static char seen[4096];

static void
note(const char *fmt, const char *a, unsigned long long x)
{
    size_t n = strlen(seen);
    snprintf(seen + n, sizeof seen - n, fmt, a, x);
}

static int
on_begin(void *arg, uint64_t lsn, int64_t ts, uint32_t xid)
{
    (void)arg;
    (void)ts;
    note("B%s%llu ", "", lsn + xid);
    return (0);
}

static int
on_commit(void *arg, uint64_t clsn, uint64_t end, int64_t ts)
{
    (void)arg;
    (void)clsn;
    (void)ts;
    note("C%s%llu ", "", end);
    return (0);
}

static int
on_rel(void *arg, const struct pgo_relation *r)
{
    (void)arg;
    note("R%s.", r->nspname, 0);
    note("%s", r->relname, 0);
    note("/%s%llu:", "", r->ncols);
    for (int i = 0; i < r->ncols; i++)
        note("%s%llu,", r->cols[i].name, (unsigned long long)r->cols[i].key);
    note(" ", "", 0);
    return (0);
}

static void
tuple(const char *tag, const struct pgo_tuple *t)
{
    note("%s[", tag, 0);
    for (int i = 0; i < t->ncols; i++) {
        char v[64];
        snprintf(v, sizeof v, "%c:%.*s,", t->vals[i].kind, (int)t->vals[i].len,
                 t->vals[i].data ? t->vals[i].data : "");
        note("%s", v, 0);
    }
    note("]", "", 0);
}

static int
on_change(void *arg, char op, uint32_t relid, char oldkind, const struct pgo_tuple *o,
          const struct pgo_tuple *n)
{
    char h[8] = {op, oldkind ? oldkind : '-', 0};
    (void)arg;
    note("%s%llu", h, relid);
    if (o != NULL)
        tuple("o", o);
    if (n != NULL)
        tuple("n", n);
    note(" ", "", 0);
    return (0);
}

static int
on_trunc(void *arg, const uint32_t *relids, uint32_t n)
{
    (void)arg;
    note("T%s%llu", "", n);
    note(":%s%llu ", "", relids[n - 1]);
    return (0);
}

static const struct pgo_callbacks cbs = {NULL, on_begin, on_commit, on_rel, on_change, on_trunc};

/* HEX (bytes as hex digits, spaces between fields ignored) into buf; the byte count. */
static size_t
unhex(const char *hex, unsigned char *buf, size_t cap)
{
    size_t n = 0;
    unsigned v;

    for (; *hex != '\0'; hex++) {
        if (*hex == ' ')
            continue;
        if (n == cap || sscanf(hex, "%2x", &v) != 1 || hex[1] == '\0' || hex[1] == ' ')
            FAILF("bad hex vector at \"%s\"", hex);
        buf[n++] = (unsigned char)v;
        hex++;
    }
    return (n);
}

static int
decode(const unsigned char *b, size_t n)
{
    struct pgo_decoder *d = pgo_new();
    int rv = pgo_decode(d, b, n, &cbs);
    pgo_destroy(&d);
    return (rv);
}

/*
 * One pgoutput v1 message as a hex vector (fields in the order of the protocol
 * docs), what pgo_decode returns, and what the callbacks note for it (NULL: not
 * checked).  Each is decoded by a fresh decoder, as the old builders did.
 */
struct msg {
    const char *name;
    const char *hex;
    int rv;
    const char *seen;
};

/* Begin, a relation (id is the key), insert, updates, delete, truncate, commit. */
static const struct msg txn_msgs[] = {
    {"begin", "42 0000000000000064 0000000000000000 00000007", 0, "B107 "},
    {"relation",
     "52 00004000 7075626c696300 70726f647563747300 66 0002"
     " 01 696400 00000017 ffffffff 00 63617465676f72795f696400 00000017 ffffffff",
     0, "Rpublic.products/2:id1,category_id0, "},
    {"insert", "49 00004000 4e 0002 74 00000001 31 6e", 0, "I-16384n[t:1,n:,] "},
    {"update_old_full",
     "55 00004000 4f 0002 74 00000001 31 74 00000001 33 4e 0002 74 00000001 31 75", 0,
     "UO16384o[t:1,t:3,]n[t:1,u:,] "},
    {"update_no_old", "55 00004000 4e 0002 74 00000001 32 74 00000001 34", 0,
     "U-16384n[t:2,t:4,] "},
    {"delete_key", "44 00004000 4b 0002 74 00000001 39 6e", 0, "DK16384o[t:9,n:,] "},
    {"truncate", "54 00000002 00 00004000 00004006", 0, "T2:16390 "},
    {"commit", "43 00 0000000000000064 0000000001957b58 0000000000000000", 0, "C26573656 "},
};

/* A type message and one from a future protocol: skipped, no callback. */
static const struct msg unknown_msgs[] = {
    {"type", "59 00000001 7075626c696300 6d797479706500", 0, ""},
    {"future", "5a 00000001", 0, ""},
};

static const struct msg bad_msgs[] = {
    {"value_past_end", "49 00000001 4e 0001 74 000003e8", -1, NULL}, /* longer than the message */
    {"delete_without_old", "44 00000001 4e 0000", -1, NULL},         /* a DELETE needs K or O */
    {"unknown_value_kind", "49 00000001 4e 0001 78", -1, NULL},
};

/* Decode each of N vectors; the number that differ (each printed by name). */
static size_t
run_msgs(const struct msg *m, size_t n)
{
    unsigned char b[4096];
    size_t i, len, mark, bad = 0;
    int rv;

    for (i = 0; i < n; i++) {
        len = unhex(m[i].hex, b, sizeof b);
        mark = strlen(seen);
        rv = decode(b, len);
        if (rv != m[i].rv)
            bad +=
                (size_t)(fprintf(stderr, "%s: returned %d, not %d\n", m[i].name, rv, m[i].rv) > 0);
        else if (m[i].seen != NULL && strcmp(seen + mark, m[i].seen) != 0)
            bad += (size_t)(fprintf(stderr, "%s: saw \"%s\", not \"%s\"\n", m[i].name, seen + mark,
                                    m[i].seen) > 0);
    }
    return (bad);
}

#define NMSGS(a) (sizeof(a) / sizeof((a)[0]))

TEST(transaction_messages)
{
    seen[0] = '\0';
    ASSERT_EQ(run_msgs(txn_msgs, NMSGS(txn_msgs)), 0);
    ASSERT_STR_EQ(seen, "B107 Rpublic.products/2:id1,category_id0, "
                        "I-16384n[t:1,n:,] "
                        "UO16384o[t:1,t:3,]n[t:1,u:,] "
                        "U-16384n[t:2,t:4,] "
                        "DK16384o[t:9,n:,] "
                        "T2:16390 "
                        "C26573656 ");
}

TEST(unknown_messages_are_skipped)
{
    seen[0] = '\0';
    ASSERT_EQ(run_msgs(unknown_msgs, NMSGS(unknown_msgs)), 0);
    ASSERT_STR_EQ(seen, "");
}

TEST(truncated_messages_are_errors)
{
    unsigned char full[512];
    size_t n = unhex(txn_msgs[1].hex, full, sizeof full), cut;

    ASSERT_STR_EQ(txn_msgs[1].name, "relation");
    for (cut = 1; cut < n; cut++) {
        if (decode(full, cut) != -1)
            FAILF("the relation cut to %zu of %zu bytes decoded", cut, n);
    }
    ASSERT_EQ(run_msgs(bad_msgs, NMSGS(bad_msgs)), 0);
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(transaction_messages)
    TEST_ENTRY(unknown_messages_are_skipped)
    TEST_ENTRY(truncated_messages_are_errors)
)
/* clang-format on */
