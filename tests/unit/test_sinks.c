/* BAN regex construction and escaping; header splitting on tag boundaries. */
#include "sinkutil.h"

TEST(ban_regex_is_anchored_and_escaped)
{
    const char *tags[] = {"name-a.b", "p|x", "q(1)*+?[]{}^$\\"};
    struct reqlist l = {0};
    const char *err;
    struct sink *s = make("{\"name\":\"b\",\"type\":\"ban\",\"nodes\":[\"http://h:1\"]}", &err);

    ASSERT(s != NULL);
    sink_render(s, "http://h:1", tags, 3, &l);
    ASSERT_EQ(l.n, 1);
    ASSERT_STR_EQ(l.v[0].method, "BAN");
    ASSERT_STR_EQ(header_value(&l.v[0], "X-Cache-Tags"),
                  "(^|,)(name-a\\.b|p\\|x|q\\(1\\)\\*\\+\\?\\[\\]\\{\\}\\^\\$\\\\)(,|$)");
    ASSERT_STR_EQ(header_value(&l.v[0], "X-Host"), ".*");
    ASSERT_STR_EQ(header_value(&l.v[0], "X-Url"), ".*");
    ASSERT_STR_EQ(header_value(&l.v[0], "X-Content-Type"), ".*");
    reqlist_free(&l);
    sink_destroy(&s);
}

TEST(ban_headers_are_configurable)
{
    const char *tags[] = {"t"};
    struct reqlist l = {0};
    const char *err;
    struct sink *s = make("{\"name\":\"b\",\"type\":\"ban\",\"nodes\":[\"http://h:1\"],"
                          "\"method\":\"PURGETAGS\",\"header\":\"X-Tags\","
                          "\"headers\":{\"X-Host\":\"^www\\\\.example\\\\.com$\"}}",
                          &err);

    ASSERT(s != NULL);
    sink_render(s, "http://h:1", tags, 1, &l);
    ASSERT_STR_EQ(l.v[0].method, "PURGETAGS");
    ASSERT_STR_EQ(header_value(&l.v[0], "X-Tags"), "(^|,)(t)(,|$)");
    ASSERT_STR_EQ(header_value(&l.v[0], "X-Host"), "^www\\.example\\.com$");
    ASSERT(header_value(&l.v[0], "X-Url") == NULL);
    reqlist_free(&l);
    sink_destroy(&s);
}

TEST(xkey_defaults_and_soft)
{
    const char *tags[] = {"a", "b"};
    struct reqlist l = {0};
    const char *err;
    struct sink *s = make("{\"name\":\"x\",\"type\":\"xkey\",\"nodes\":[\"http://h:1\"]}", &err);

    sink_render(s, "http://h:1", tags, 2, &l);
    ASSERT_STR_EQ(l.v[0].method, "PURGEKEYS");
    ASSERT_STR_EQ(header_value(&l.v[0], "xkey-purge"), "a b");
    reqlist_free(&l);
    sink_destroy(&s);
    s = make("{\"name\":\"x\",\"type\":\"xkey\",\"nodes\":[\"http://h:1\"],\"soft\":true}", &err);
    sink_render(s, "http://h:1", tags, 2, &l);
    ASSERT_STR_EQ(header_value(&l.v[0], "xkey-softpurge"), "a b");
    reqlist_free(&l);
    sink_destroy(&s);
}

/* Every request fits, no tag is cut, every tag is sent once, in order. */
static void
check_split(const char *json, const char *header, const char *prefix, const char *suffix, char sep,
            size_t limit)
{
    char *tags[2000], *joined, *p;
    struct reqlist l = {0};
    size_t i, j, k = 0;
    const char *err;
    struct sink *s = make(json, &err);

    ASSERT(s != NULL);
    for (i = 0; i < 2000; i++) {
        tags[i] = malloc(32);
        snprintf(tags[i], 32, "tag-%04zu-%.*s", i, (int)(i % 17), "xxxxxxxxxxxxxxxxx");
    }
    sink_render(s, "http://h:1", (const char *const *)tags, 2000, &l);
    ASSERT(l.n > 1);
    for (j = 0; j < l.n; j++) {
        const char *v = header_value(&l.v[j], header);
        ASSERT(v != NULL);
        ASSERT(strlen(v) <= limit);
        ASSERT(strncmp(v, prefix, strlen(prefix)) == 0);
        joined = strdup(v + strlen(prefix));
        joined[strlen(joined) - strlen(suffix)] = '\0';
        for (p = strtok(joined, (char[]){sep, 0}); p != NULL; p = strtok(NULL, (char[]){sep, 0}))
            ASSERT_STR_EQ(p, tags[k++]);
        free(joined);
    }
    ASSERT_EQ(k, 2000);
    for (i = 0; i < 2000; i++)
        free(tags[i]);
    reqlist_free(&l);
    sink_destroy(&s);
}

TEST(xkey_splits_on_tag_boundaries)
{
    check_split("{\"name\":\"x\",\"type\":\"xkey\",\"nodes\":[\"http://h:1\"]}", "xkey-purge", "",
                "", ' ', 7500);
    check_split("{\"name\":\"x\",\"type\":\"xkey\",\"nodes\":[\"http://h:1\"],"
                "\"max_header_bytes\":1100}",
                "xkey-purge", "", "", ' ', 1100);
}

TEST(ban_splits_on_tag_boundaries)
{
    check_split("{\"name\":\"b\",\"type\":\"ban\",\"nodes\":[\"http://h:1\"]}", "X-Cache-Tags",
                "(^|,)(", ")(,|$)", '|', 7500);
    check_split("{\"name\":\"b\",\"type\":\"ban\",\"nodes\":[\"http://h:1\"],"
                "\"max_header_bytes\":2100}",
                "X-Cache-Tags", "(^|,)(", ")(,|$)", '|', 2100);
}

static size_t
len_cost(const char *t)
{
    return (strlen(t));
}

TEST(chunk_boundaries_are_exact)
{
    /* 10 tags of 9 bytes + 9 separators = 99 bytes */
    const char *tags[] = {"123456789", "223456789", "323456789", "423456789", "523456789",
                          "623456789", "723456789", "823456789", "923456789", "023456789"};

    ASSERT_EQ(sink_chunk_end(tags, 10, 0, 99, len_cost), 10);
    ASSERT_EQ(sink_chunk_end(tags, 10, 0, 98, len_cost), 9);
    ASSERT_EQ(sink_chunk_end(tags, 10, 9, 98, len_cost), 10);
    ASSERT_EQ(sink_chunk_end(tags, 10, 0, 9, len_cost), 1);
    ASSERT_EQ(sink_chunk_end(tags, 10, 0, 3, len_cost), 1); /* always progress */
}

TEST(config_rejects_a_limit_below_one_tag)
{
    const char *err;
    struct sink *s = make("{\"name\":\"b\",\"type\":\"ban\",\"nodes\":[\"http://h:1\"],"
                          "\"max_header_bytes\":500}",
                          &err);
    ASSERT(s == NULL);
    ASSERT_CONTAINS(err, "too small for one tag");
}

TEST(config_rejects_bad_nodes_and_headers)
{
    const char *err;
    ASSERT(make("{\"name\":\"b\",\"type\":\"ban\",\"nodes\":[]}", &err) == NULL);
    ASSERT_CONTAINS(err, "non-empty array");
    ASSERT(make("{\"name\":\"b\",\"type\":\"ban\",\"nodes\":[\"ftp://x\"]}", &err) == NULL);
    ASSERT_CONTAINS(err, "node URL");
    ASSERT(make("{\"name\":\"b\",\"type\":\"ban\",\"nodes\":[\"http://x\"],"
                "\"headers\":{\"X-A\":\"a\\r\\nX-B: b\"}}",
                &err) == NULL);
    ASSERT_CONTAINS(err, "without control characters");
    ASSERT(make("{\"name\":\"b\",\"type\":\"nope\",\"nodes\":[\"http://x\"]}", &err) == NULL);
    ASSERT_CONTAINS(err, "unknown sink type \"nope\"");
    ASSERT(make("{\"name\":\"b\",\"type\":\"xkey\",\"nodes\":[\"http://x\"],\"soft\":1}", &err) ==
           NULL);
    ASSERT_CONTAINS(err, "expected true or false");
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(ban_regex_is_anchored_and_escaped)
    TEST_ENTRY(ban_headers_are_configurable)
    TEST_ENTRY(xkey_defaults_and_soft)
    TEST_ENTRY(xkey_splits_on_tag_boundaries)
    TEST_ENTRY(ban_splits_on_tag_boundaries)
    TEST_ENTRY(chunk_boundaries_are_exact)
    TEST_ENTRY(config_rejects_a_limit_below_one_tag)
    TEST_ENTRY(config_rejects_bad_nodes_and_headers)
)
/* clang-format on */
