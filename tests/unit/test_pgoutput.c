/* pgoutput v1 decoding from hand-built messages (layouts: PostgreSQL protocol docs). */
#include "../../connectors/pgoutput.h"
#include "test.h"

/* note() takes the caller's literal formats: fine for a test. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

struct buf {
    unsigned char b[4096];
    size_t n;
};

static void
u8(struct buf *b, unsigned v)
{
    b->b[b->n++] = (unsigned char)v;
}

static void
u16(struct buf *b, unsigned v)
{
    u8(b, v >> 8);
    u8(b, v & 255);
}

static void
u32(struct buf *b, uint32_t v)
{
    u16(b, v >> 16);
    u16(b, v & 0xffff);
}

static void
u64(struct buf *b, uint64_t v)
{
    u32(b, (uint32_t)(v >> 32));
    u32(b, (uint32_t)v);
}

static void
str(struct buf *b, const char *s)
{
    memcpy(b->b + b->n, s, strlen(s) + 1);
    b->n += strlen(s) + 1;
}

static void
text(struct buf *b, const char *s)
{
    u8(b, 't');
    u32(b, (uint32_t)strlen(s));
    memcpy(b->b + b->n, s, strlen(s));
    b->n += strlen(s);
}

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

static int
decode(struct buf *b)
{
    struct pgo_decoder *d = pgo_new();
    int rv = pgo_decode(d, b->b, b->n, &cbs);
    pgo_destroy(&d);
    return (rv);
}

static void
relation(struct buf *b)
{
    u8(b, 'R');
    u32(b, 16384);
    str(b, "public");
    str(b, "products");
    u8(b, 'f');
    u16(b, 2);
    u8(b, 1);
    str(b, "id");
    u32(b, 23);
    u32(b, 0xffffffff);
    u8(b, 0);
    str(b, "category_id");
    u32(b, 23);
    u32(b, 0xffffffff);
}

TEST(transaction_messages)
{
    struct buf b = {0};

    seen[0] = '\0';
    u8(&b, 'B');
    u64(&b, 100);
    u64(&b, 0);
    u32(&b, 7);
    ASSERT_EQ(decode(&b), 0);
    b.n = 0;
    relation(&b);
    ASSERT_EQ(decode(&b), 0);
    b.n = 0;
    u8(&b, 'I');
    u32(&b, 16384);
    u8(&b, 'N');
    u16(&b, 2);
    text(&b, "1");
    u8(&b, 'n');
    ASSERT_EQ(decode(&b), 0);
    b.n = 0;
    u8(&b, 'U');
    u32(&b, 16384);
    u8(&b, 'O');
    u16(&b, 2);
    text(&b, "1");
    text(&b, "3");
    u8(&b, 'N');
    u16(&b, 2);
    text(&b, "1");
    u8(&b, 'u');
    ASSERT_EQ(decode(&b), 0);
    b.n = 0;
    u8(&b, 'U');
    u32(&b, 16384);
    u8(&b, 'N');
    u16(&b, 2);
    text(&b, "2");
    text(&b, "4");
    ASSERT_EQ(decode(&b), 0);
    b.n = 0;
    u8(&b, 'D');
    u32(&b, 16384);
    u8(&b, 'K');
    u16(&b, 2);
    text(&b, "9");
    u8(&b, 'n');
    ASSERT_EQ(decode(&b), 0);
    b.n = 0;
    u8(&b, 'T');
    u32(&b, 2);
    u8(&b, 0);
    u32(&b, 16384);
    u32(&b, 16390);
    ASSERT_EQ(decode(&b), 0);
    b.n = 0;
    u8(&b, 'C');
    u8(&b, 0);
    u64(&b, 100);
    u64(&b, 0x1957B58);
    u64(&b, 0);
    ASSERT_EQ(decode(&b), 0);
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
    struct buf b = {0};

    seen[0] = '\0';
    u8(&b, 'Y');
    u32(&b, 1);
    str(&b, "public");
    str(&b, "mytype");
    ASSERT_EQ(decode(&b), 0);
    b.n = 0;
    u8(&b, 'Z'); /* from a future protocol */
    u32(&b, 1);
    ASSERT_EQ(decode(&b), 0);
    ASSERT_STR_EQ(seen, "");
}

TEST(truncated_messages_are_errors)
{
    struct buf full = {0}, b;
    size_t cut;

    relation(&full);
    for (cut = 1; cut < full.n; cut++) {
        b = full;
        b.n = cut;
        ASSERT_EQ(decode(&b), -1);
    }
    b.n = 0;
    u8(&b, 'I');
    u32(&b, 1);
    u8(&b, 'N');
    u16(&b, 1);
    u8(&b, 't');
    u32(&b, 1000); /* longer than the message */
    ASSERT_EQ(decode(&b), -1);
    b.n = 0;
    u8(&b, 'D');
    u32(&b, 1);
    u8(&b, 'N'); /* a DELETE needs K or O */
    u16(&b, 0);
    ASSERT_EQ(decode(&b), -1);
    b.n = 0;
    u8(&b, 'I');
    u32(&b, 1);
    u8(&b, 'N');
    u16(&b, 1);
    u8(&b, 'x'); /* unknown value kind */
    ASSERT_EQ(decode(&b), -1);
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(transaction_messages)
    TEST_ENTRY(unknown_messages_are_skipped)
    TEST_ENTRY(truncated_messages_are_errors)
)
/* clang-format on */
