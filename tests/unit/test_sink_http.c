/*
 * The generic HTTP sink: the README presets, templates and their encodings,
 * exact chunk boundaries for every limit, config errors.
 *
 * Presets (README "Sinks"), rendered below exactly as written there:
 *
 * {"name":"fastly","type":"http","method":"POST",
 *  "nodes":["https://api.fastly.com/service/SERVICE_ID/purge"],
 *  "headers":{"Fastly-Key":{"env":"FASTLY_API_TOKEN"},"Fastly-Soft-Purge":"1",
 *             "Content-Type":"application/json","Accept":"application/json"},
 *  "body":"{\"surrogate_keys\":{tags_json}}","max_tags_per_request":256,
 *  "rate_per_s":10,"rate_burst":50}
 *
 * {"name":"cloudflare","type":"http",
 *  "nodes":["https://api.cloudflare.com/client/v4/zones/ZONE_ID/purge_cache"],
 *  "headers":{"Authorization":{"env":"CF_API_TOKEN","prefix":"Bearer "},
 *             "Content-Type":"application/json"},
 *  "body":"{\"tags\":{tags_json}}","max_tags_per_request":100,
 *  "rate_per_s":5,"rate_burst":25,"flush":{"body":"{\"purge_everything\":true}"}}
 *
 * {"name":"symfony","type":"http","method":"PURGETAGS","nodes":["http://127.0.0.1:8000/"],
 *  "headers":{"X-Cache-Tags":"{tags_comma}"},"max_header_bytes":7500}
 *
 * {"name":"plain","type":"http","method":"PURGE","nodes":["http://127.0.0.1:6081/"],
 *  "headers":{"xkey-purge":"{tags_space}"},"max_tags_per_request":1}
 */
#include <unistd.h>

#include "../../broker/lib/cfg.h"
#include "../../sinks/sink.h"
#include "sinkutil.h"
#include "test.h"

static const char fastly_json[] =
    "{\"name\":\"fastly\",\"type\":\"http\",\"method\":\"POST\","
    "\"nodes\":[\"https://api.fastly.com/service/SERVICE_ID/purge\"],"
    "\"headers\":{\"Fastly-Key\":{\"env\":\"FASTLY_API_TOKEN\"},\"Fastly-Soft-Purge\":\"1\","
    "\"Content-Type\":\"application/json\",\"Accept\":\"application/json\"},"
    "\"body\":\"{\\\"surrogate_keys\\\":{tags_json}}\",\"max_tags_per_request\":256,"
    "\"rate_per_s\":10,\"rate_burst\":50}";

static const char cloudflare_json[] =
    "{\"name\":\"cloudflare\",\"type\":\"http\","
    "\"nodes\":[\"https://api.cloudflare.com/client/v4/zones/ZONE_ID/purge_cache\"],"
    "\"headers\":{\"Authorization\":{\"env\":\"CF_API_TOKEN\",\"prefix\":\"Bearer \"},"
    "\"Content-Type\":\"application/json\"},"
    "\"body\":\"{\\\"tags\\\":{tags_json}}\",\"max_tags_per_request\":100,"
    "\"rate_per_s\":5,\"rate_burst\":25,\"flush\":{\"body\":\"{\\\"purge_everything\\\":true}\"}}";

static const char symfony_json[] =
    "{\"name\":\"symfony\",\"type\":\"http\",\"method\":\"PURGETAGS\","
    "\"nodes\":[\"http://127.0.0.1:8000/\"],"
    "\"headers\":{\"X-Cache-Tags\":\"{tags_comma}\"},\"max_header_bytes\":7500}";

static const char plain_json[] =
    "{\"name\":\"plain\",\"type\":\"http\",\"method\":\"PURGE\",\"nodes\":[\"http://127.0.0.1:6081/"
    "\"],"
    "\"headers\":{\"xkey-purge\":\"{tags_space}\"},\"max_tags_per_request\":1}";

/* The config must fail with "sink.json:1:COL: " where COL is where needle starts in json. */
static void
expect_error(const char *json, const char *needle, const char *msg)
{
    const char *err, *at = strstr(json, needle);
    char pos[64];

    ASSERT(at != NULL);
    ASSERT(make(json, &err) == NULL);
    snprintf(pos, sizeof pos, "sink.json:1:%d: ", (int)(at - json) + 1);
    ASSERT_CONTAINS(err, pos);
    ASSERT_CONTAINS(err, msg);
}

/* n sorted, distinct tags "tag-000000" ...; free with free_tags. */
static char **
make_tags(size_t n, int varied)
{
    char **t = malloc(n * sizeof *t);
    size_t i;

    for (i = 0; i < n; i++) {
        t[i] = malloc(64);
        snprintf(t[i], 64, "tag-%06zu%.*s", i, varied ? (int)(i % 23) : 0,
                 "-xxxxxxxxxxxxxxxxxxxxxxx");
    }
    return (t);
}

static void
free_tags(char **t, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(t[i]);
    free(t);
}

/* The body is {"<key>": [...]} holding exactly tags[*k..*k + want), in order. */
static void
check_json_body(const struct http_req *r, const char *key, char **tags, size_t *k, size_t want)
{
    json_error_t jerr;
    json_t *root, *arr;
    size_t i;

    ASSERT(r->body != NULL);
    ASSERT_EQ(strlen(r->body), r->bodylen);
    root = json_loads(r->body, 0, &jerr);
    if (root == NULL)
        FAILF("body is not JSON: %s", jerr.text);
    arr = json_object_get(root, key);
    ASSERT(json_is_array(arr));
    ASSERT_EQ(json_object_size(root), 1);
    ASSERT_EQ(json_array_size(arr), want);
    for (i = 0; i < want; i++)
        ASSERT_STR_EQ(json_string_value(json_array_get(arr, i)), tags[(*k)++]);
    json_decref(root);
}

TEST(preset_fastly)
{
    static const size_t want[] = {256, 256, 88};
    char **tags = make_tags(600, 1);
    struct reqlist l = {0};
    const char *err;
    struct sink *s;
    size_t i, k = 0;

    setenv("FASTLY_API_TOKEN", "fastly-secret-token", 1);
    s = make(fastly_json, &err);
    ASSERT(s != NULL);
    ASSERT(sink_opts(s)->rate_per_s == 10);
    ASSERT(sink_opts(s)->rate_burst == 50);
    sink_render(s, sink_node(s, 0), (const char *const *)tags, 600, &l);
    ASSERT_EQ(l.n, 3);
    for (i = 0; i < 3; i++) {
        ASSERT_STR_EQ(l.v[i].method, "POST");
        ASSERT(l.v[i].url == NULL); /* the node's URL */
        ASSERT_EQ(l.v[i].nheaders, 4);
        ASSERT_STR_EQ(l.v[i].headers[0], "Fastly-Key: fastly-secret-token");
        ASSERT_STR_EQ(l.v[i].headers[1], "Fastly-Soft-Purge: 1");
        ASSERT_STR_EQ(l.v[i].headers[2], "Content-Type: application/json");
        ASSERT_STR_EQ(l.v[i].headers[3], "Accept: application/json");
        check_json_body(&l.v[i], "surrogate_keys", tags, &k, want[i]);
    }
    ASSERT_EQ(k, 600);
    reqlist_free(&l);
    sink_destroy(&s);
    free_tags(tags, 600);
}

TEST(preset_cloudflare)
{
    static const size_t want[] = {100, 100, 50};
    char **tags = make_tags(250, 1);
    struct reqlist l = {0};
    const char *err;
    struct sink *s;
    size_t i, k = 0;

    setenv("CF_API_TOKEN", "cf-token", 1);
    s = make(cloudflare_json, &err);
    ASSERT(s != NULL);
    sink_render(s, sink_node(s, 0), (const char *const *)tags, 250, &l);
    ASSERT_EQ(l.n, 3);
    for (i = 0; i < 3; i++) {
        ASSERT_STR_EQ(l.v[i].method, "POST"); /* the default */
        ASSERT(l.v[i].url == NULL);
        ASSERT_EQ(l.v[i].nheaders, 2);
        ASSERT_STR_EQ(header_value(&l.v[i], "Authorization"), "Bearer cf-token");
        ASSERT_STR_EQ(header_value(&l.v[i], "Content-Type"), "application/json");
        check_json_body(&l.v[i], "tags", tags, &k, want[i]);
    }
    ASSERT_EQ(k, 250);
    reqlist_free(&l);

    ASSERT(sink_opts(s)->has_flush);
    sink_render_flush(s, sink_node(s, 0), &l);
    ASSERT_EQ(l.n, 1);
    ASSERT_STR_EQ(l.v[0].method, "POST");
    ASSERT(l.v[0].url == NULL);
    ASSERT_STR_EQ(l.v[0].body, "{\"purge_everything\":true}");
    ASSERT_STR_EQ(header_value(&l.v[0], "Authorization"), "Bearer cf-token");
    ASSERT_STR_EQ(header_value(&l.v[0], "Content-Type"), "application/json");
    reqlist_free(&l);
    sink_destroy(&s);
    free_tags(tags, 250);
}

TEST(preset_symfony)
{
    char **tags = make_tags(5000, 1), *joined, *p;
    struct reqlist l = {0};
    const char *err, *v;
    struct sink *s = make(symfony_json, &err);
    size_t j, k = 0, line;

    ASSERT(s != NULL);
    sink_render(s, sink_node(s, 0), (const char *const *)tags, 5000, &l);
    ASSERT(l.n > 10);
    for (j = 0; j < l.n; j++) {
        ASSERT_STR_EQ(l.v[j].method, "PURGETAGS");
        ASSERT(l.v[j].body == NULL);
        ASSERT_EQ(l.v[j].nheaders, 1);
        line = strlen(l.v[j].headers[0]);
        ASSERT(line <= 7500);
        v = header_value(&l.v[j], "X-Cache-Tags");
        ASSERT(v != NULL);
        joined = strdup(v);
        for (p = strtok(joined, ","); p != NULL; p = strtok(NULL, ","))
            ASSERT_STR_EQ(p, tags[k++]);
        free(joined);
        /* Greedy: the next tag would not have fit. */
        if (k < 5000)
            ASSERT(line + 1 + strlen(tags[k]) > 7500);
    }
    ASSERT_EQ(k, 5000);
    reqlist_free(&l);
    sink_destroy(&s);
    free_tags(tags, 5000);
}

TEST(preset_plain_purge_one_tag_per_request)
{
    const char *tags[] = {"a", "b", "c"};
    struct reqlist l = {0};
    const char *err;
    struct sink *s = make(plain_json, &err);
    size_t i;

    ASSERT(s != NULL);
    sink_render(s, sink_node(s, 0), tags, 3, &l);
    ASSERT_EQ(l.n, 3);
    for (i = 0; i < 3; i++) {
        ASSERT_STR_EQ(l.v[i].method, "PURGE");
        ASSERT_EQ(l.v[i].nheaders, 1);
        ASSERT_STR_EQ(header_value(&l.v[i], "xkey-purge"), tags[i]);
    }
    reqlist_free(&l);
    sink_render(s, sink_node(s, 0), tags, 0, &l);
    ASSERT_EQ(l.n, 0);
    sink_destroy(&s);
}

static void
check_url(const char *node, const char *const *tags, size_t n, const char *want)
{
    char json[512];
    struct reqlist l = {0};
    const char *err;
    struct sink *s;

    snprintf(json, sizeof json, "{\"name\":\"u\",\"type\":\"http\",\"nodes\":[\"%s\"]}", node);
    s = make(json, &err);
    if (s == NULL)
        FAILF("%s", err);
    sink_render(s, node, tags, n, &l);
    ASSERT_EQ(l.n, 1);
    ASSERT_STR_EQ(l.v[0].url, want);
    ASSERT(l.v[0].body == NULL);
    reqlist_free(&l);
    sink_destroy(&s);
}

TEST(url_templates_are_percent_encoded)
{
    const char *tags[] = {"a%2Fb", "c.d"};
    const char *odd[] = {"q\\x", "~_-.Az9"};

    check_url("http://h:1/purge/{tags_comma}", tags, 2, "http://h:1/purge/a%252Fb%2Cc.d");
    check_url("http://h:1/purge/{tags_space}", tags, 2, "http://h:1/purge/a%252Fb%20c.d");
    check_url("http://h:1/p?k={tags_json}&x={y}", tags, 2,
              "http://h:1/p?k=%5B%22a%252Fb%22%2C%22c.d%22%5D&x={y}");
    /* The JSON text is escaped first, then encoded; unreserved bytes stay. */
    check_url("http://h:1/{tags_json}", odd, 2, "http://h:1/%5B%22q%5C%5Cx%22%2C%22~_-.Az9%22%5D");
    check_url("http://h:1/{tags_space}/{tags_comma}", tags, 1, "http://h:1/a%252Fb/a%252Fb");
}

TEST(body_and_header_templates_are_raw)
{
    const char *tags[] = {"a\\b", "c\"d", "e,f"};
    const char *json =
        "{\"name\":\"b\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
        "\"headers\":{\"X-A\":\"<{tags_space}>\",\"X-B\":\"{tags_comma}\","
        "\"X-C\":\"{tags_json}\",\"X-D\":\"{tags_nope} {x}\"},"
        "\"body\":\"{\\\"k\\\":{tags_json},\\\"s\\\":\\\"{tags_space}\\\"} {tags}\"}";
    struct reqlist l = {0};
    const char *err;
    struct sink *s = make(json, &err);
    json_t *root;

    if (s == NULL)
        FAILF("%s", err);
    sink_render(s, "http://h:1/", tags, 3, &l);
    ASSERT_EQ(l.n, 1);
    ASSERT(l.v[0].url == NULL);
    ASSERT_STR_EQ(l.v[0].method, "POST");
    ASSERT_STR_EQ(l.v[0].headers[0], "X-A: <a\\b c\"d e,f>");
    ASSERT_STR_EQ(l.v[0].headers[1], "X-B: a\\b,c\"d,e,f");
    ASSERT_STR_EQ(l.v[0].headers[2], "X-C: [\"a\\\\b\",\"c\\\"d\",\"e,f\"]");
    ASSERT_STR_EQ(l.v[0].headers[3], "X-D: {tags_nope} {x}");
    ASSERT_STR_EQ(l.v[0].body,
                  "{\"k\":[\"a\\\\b\",\"c\\\"d\",\"e,f\"],\"s\":\"a\\b c\"d e,f\"} {tags}");
    /* The array itself is valid JSON holding the tags. */
    root = json_loads(l.v[0].headers[2] + 5, 0, NULL);
    ASSERT(root != NULL);
    ASSERT_STR_EQ(json_string_value(json_array_get(root, 0)), "a\\b");
    ASSERT_STR_EQ(json_string_value(json_array_get(root, 1)), "c\"d");
    json_decref(root);
    reqlist_free(&l);
    sink_destroy(&s);
}

/* Render n tags of 10 bytes with json; return the tag count of each request in counts. */
static size_t
chunk_counts(const char *json, size_t n, size_t *counts, size_t max)
{
    char **tags = make_tags(n, 0);
    struct reqlist l = {0};
    const char *err;
    struct sink *s = make(json, &err);
    size_t i, nreq;

    if (s == NULL)
        FAILF("%s", err);
    sink_render(s, sink_node(s, 0), (const char *const *)tags, n, &l);
    nreq = l.n;
    ASSERT(nreq <= max);
    for (i = 0; i < l.n; i++) {
        json_t *root = l.v[i].body != NULL ? json_loads(l.v[i].body, 0, NULL) : NULL;
        counts[i] = root != NULL ? json_array_size(json_object_get(root, "k")) : 0;
        json_decref(root);
    }
    reqlist_free(&l);
    sink_destroy(&s);
    free_tags(tags, n);
    return (nreq);
}

TEST(max_body_bytes_boundary_is_exact)
{
    /* {"k":[...]}: 6 fixed bytes + 13 per 10-byte tag + 1 = 2607 for 200 tags. */
    const char *fit = "{\"name\":\"b\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                      "\"body\":\"{\\\"k\\\":{tags_json}}\",\"max_body_bytes\":2607}";
    const char *less = "{\"name\":\"b\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                       "\"body\":\"{\\\"k\\\":{tags_json}}\",\"max_body_bytes\":2606}";
    size_t c[8];

    ASSERT_EQ(chunk_counts(fit, 400, c, 8), 2);
    ASSERT_EQ(c[0], 200);
    ASSERT_EQ(c[1], 200);
    ASSERT_EQ(chunk_counts(less, 400, c, 8), 3);
    ASSERT_EQ(c[0], 199);
    ASSERT_EQ(c[1], 199);
    ASSERT_EQ(c[2], 2);
}

TEST(max_body_bytes_exact_size)
{
    char **tags = make_tags(200, 0);
    struct reqlist l = {0};
    const char *err;
    struct sink *s = make("{\"name\":\"b\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                          "\"body\":\"{\\\"k\\\":{tags_json}}\",\"max_body_bytes\":2607}",
                          &err);

    ASSERT(s != NULL);
    sink_render(s, "http://h:1/", (const char *const *)tags, 200, &l);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.v[0].bodylen, 2607);
    reqlist_free(&l);
    sink_destroy(&s);
    free_tags(tags, 200);
}

/* The number of tags in each request's X-T header, and the longest line. */
static size_t
header_chunks(const char *json, size_t n, size_t *counts, size_t max, size_t *longest)
{
    char **tags = make_tags(n, 0);
    struct reqlist l = {0};
    const char *err, *v;
    struct sink *s = make(json, &err);
    size_t i, nreq;

    if (s == NULL)
        FAILF("%s", err);
    sink_render(s, sink_node(s, 0), (const char *const *)tags, n, &l);
    nreq = l.n;
    ASSERT(nreq <= max);
    *longest = 0;
    for (i = 0; i < l.n; i++) {
        v = header_value(&l.v[i], "X-T");
        ASSERT(v != NULL);
        counts[i] = (strlen(v) + 1) / 11; /* "tag-000000" and a comma each */
        if (strlen(l.v[i].headers[0]) > *longest)
            *longest = strlen(l.v[i].headers[0]);
    }
    reqlist_free(&l);
    sink_destroy(&s);
    free_tags(tags, n);
    return (nreq);
}

TEST(max_header_bytes_boundary_is_exact)
{
    /* "X-T: " + 100 tags of 10 bytes + 99 commas = 1104 bytes. */
    const char *fit = "{\"name\":\"h\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                      "\"headers\":{\"X-T\":\"{tags_comma}\"},\"max_header_bytes\":1104}";
    const char *less = "{\"name\":\"h\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                       "\"headers\":{\"X-T\":\"{tags_comma}\"},\"max_header_bytes\":1103}";
    size_t c[8], longest;

    ASSERT_EQ(header_chunks(fit, 200, c, 8, &longest), 2);
    ASSERT_EQ(c[0], 100);
    ASSERT_EQ(c[1], 100);
    ASSERT_EQ(longest, 1104);
    ASSERT_EQ(header_chunks(less, 200, c, 8, &longest), 3);
    ASSERT_EQ(c[0], 99);
    ASSERT_EQ(c[1], 99);
    ASSERT_EQ(c[2], 2);
    ASSERT_EQ(longest, 1093); /* 99 tags */
}

TEST(url_limit_is_8000_bytes)
{
    /* "http://h:1/p/" (13) + 614 tags of 10 + 613 x "%20" = 7992; one more is 8005. */
    char **tags = make_tags(1000, 0);
    struct reqlist l = {0};
    const char *err;
    struct sink *s =
        make("{\"name\":\"u\",\"type\":\"http\",\"nodes\":[\"http://h:1/p/{tags_space}\"]}", &err);

    ASSERT(s != NULL);
    sink_render(s, "http://h:1/p/{tags_space}", (const char *const *)tags, 1000, &l);
    ASSERT_EQ(l.n, 2);
    ASSERT_EQ(strlen(l.v[0].url), 7992);
    ASSERT(strlen(l.v[1].url) < 8000);
    reqlist_free(&l);
    sink_destroy(&s);
    free_tags(tags, 1000);
}

TEST(a_tag_past_a_limit_goes_alone)
{
    char big[1500];
    const char *tags[] = {"a", "b", big, "c"};
    struct reqlist l = {0};
    const char *err;
    struct sink *s = make("{\"name\":\"h\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                          "\"headers\":{\"X-T\":\"{tags_comma}\"},\"max_header_bytes\":1104}",
                          &err);

    ASSERT(s != NULL);
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sink_render(s, "http://h:1/", tags, 4, &l);
    ASSERT_EQ(l.n, 3);
    ASSERT_STR_EQ(header_value(&l.v[0], "X-T"), "a,b");
    ASSERT_STR_EQ(header_value(&l.v[1], "X-T"), big);
    ASSERT_STR_EQ(header_value(&l.v[2], "X-T"), "c");
    reqlist_free(&l);
    sink_destroy(&s);
}

TEST(config_errors)
{
    static const char no_tpl[] =
        "{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/{tags}\"],"
        "\"headers\":{\"X-A\":\"{tags_Space}\"},\"body\":\"{\\\"tags\\\":[]}\"}";
    static const char header[] = "{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                                 "\"header\":\"X-Cache-Tags\",\"body\":\"{tags_json}\"}";
    static const char zero[] = "{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                               "\"body\":\"{tags_json}\",\"max_tags_per_request\":0}";
    static const char env[] =
        "{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
        "\"headers\":{\"Authorization\":{\"env\":\"UNSET_VAR_XYZ\"}},\"body\":\"{tags_json}\"}";
    static const char file[] =
        "{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
        "\"headers\":{\"Authorization\":{\"file\":\"/nonexistent\"}},\"body\":\"{tags_json}\"}";

    unsetenv("UNSET_VAR_XYZ");
    expect_error(no_tpl, "{\"name\"", "no {tags_space}, {tags_comma} or {tags_json}");
    expect_error(header, "\"header\"", "use");
    expect_error(header, "\"header\"", "\"headers\"");
    expect_error(header, "\"header\"", "{tags_");
    expect_error(zero, "0}", "max_tags_per_request: 0 is out of range");
    expect_error(env, "{\"env\"", "UNSET_VAR_XYZ");
    expect_error(file, "{\"file\"", "cannot read /nonexistent");
}

TEST(config_errors_on_limits)
{
    /* A 1024-byte tag of backslashes is ["\\..."]: 2052 bytes, 2057 with "X-T: ". */
    static const char hdr[] = "{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                              "\"headers\":{\"Authorization\":\"secret-value\","
                              "\"X-T\":\"{tags_json}\"},\"max_header_bytes\":2000}";
    static const char fixed[] = "{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                                "\"headers\":{\"X-T\":\"{tags_comma}\"},"
                                "\"body\":\"0123456789\",\"max_body_bytes\":9}";
    static const char body[] = "{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                               "\"body\":\"{tags_json}\",\"max_body_bytes\":2051}";
    static const char flush[] =
        "{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/{tags_comma}\"],"
        "\"flush\":{\"body\":\"all\"}}";
    static const char small[] = "{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
                                "\"body\":\"{tags_json}\",\"max_header_bytes\":1000}";
    const char *err;
    struct sink *s;

    expect_error(hdr, "\"{tags_json}\"",
                 "headers.X-T: the header line takes 2057 bytes with one "
                 "tag of max_tag_bytes (1024), over max_header_bytes (2000)");
    ASSERT(make(hdr, &err) == NULL);
    ASSERT(strstr(err, "secret-value") == NULL);
    expect_error(fixed, "\"0123456789\"", "the body takes 10 bytes, over max_body_bytes (9)");
    expect_error(
        body, "\"{tags_json}\"",
        "takes 2052 bytes with one tag of max_tag_bytes (1024), over max_body_bytes (2051)");
    expect_error(flush, "{\"body\":\"all\"}", "set \"url\" for the flush");
    /* No header names the tags: a max_header_bytes below max_tag_bytes is fine. */
    s = make(small, &err);
    ASSERT(s != NULL);
    sink_destroy(&s);
    s = make("{\"name\":\"n\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
             "\"body\":\"{tags_json}\",\"max_body_bytes\":2052}",
             &err);
    ASSERT(s != NULL);
    sink_destroy(&s);
}

TEST(header_value_from_file)
{
    char path[] = "/tmp/tp_test_sink_http_XXXXXX", json[512];
    const char *tags[] = {"t"};
    struct reqlist l = {0};
    const char *err;
    struct sink *s;
    int fd = mkstemp(path);

    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, "tok\n", 4), 4);
    close(fd);
    snprintf(json, sizeof json,
             "{\"name\":\"f\",\"type\":\"http\",\"nodes\":[\"http://h:1/\"],"
             "\"headers\":{\"X-Token\":{\"file\":\"%s\"},\"X-T\":\"{tags_space}\"}}",
             path);
    s = make(json, &err);
    unlink(path);
    if (s == NULL)
        FAILF("%s", err);
    sink_render(s, "http://h:1/", tags, 1, &l);
    ASSERT_EQ(l.n, 1);
    ASSERT_STR_EQ(l.v[0].headers[0], "X-Token: tok");
    ASSERT_STR_EQ(l.v[0].headers[1], "X-T: t");
    reqlist_free(&l);
    sink_destroy(&s);
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(preset_fastly)
    TEST_ENTRY(preset_cloudflare)
    TEST_ENTRY(preset_symfony)
    TEST_ENTRY(preset_plain_purge_one_tag_per_request)
    TEST_ENTRY(url_templates_are_percent_encoded)
    TEST_ENTRY(body_and_header_templates_are_raw)
    TEST_ENTRY(max_body_bytes_boundary_is_exact)
    TEST_ENTRY(max_body_bytes_exact_size)
    TEST_ENTRY(max_header_bytes_boundary_is_exact)
    TEST_ENTRY(url_limit_is_8000_bytes)
    TEST_ENTRY(a_tag_past_a_limit_goes_alone)
    TEST_ENTRY(config_errors)
    TEST_ENTRY(config_errors_on_limits)
    TEST_ENTRY(header_value_from_file)
)
/* clang-format on */
