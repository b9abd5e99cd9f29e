/* Dirty-node marks (sinks/dirty.c): load, save, unchanged marks not rewritten, pruning. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../broker/tagset.h"
#include "../../sinks/dirty.h"
#include "test.h"

static char *
tmpdir(void)
{
    static char buf[64];

    snprintf(buf, sizeof buf, "/tmp/tp-dirty-XXXXXX");
    ASSERT(mkdtemp(buf) != NULL);
    return (buf);
}

static void
path_of(char *out, size_t len, const char *dir)
{
    snprintf(out, len, "%s/dirty.json", dir);
}

static void
cleanup(const char *dir)
{
    char p[128];

    path_of(p, sizeof p, dir);
    (void)unlink(p);
    ASSERT_EQ(rmdir(dir), 0);
}

static void
write_text(const char *dir, const char *text)
{
    char p[128];
    FILE *f;

    path_of(p, sizeof p, dir);
    f = fopen(p, "w");
    ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

static ino_t
inode(const char *dir)
{
    char p[128];
    struct stat st;

    path_of(p, sizeof p, dir);
    if (stat(p, &st) != 0)
        return (0);
    return (st.st_ino);
}

TEST(save_and_load)
{
    static const char *const tags[] = {"names", "products"};
    char *dir = tmpdir();
    struct dirty *d;
    struct tagset *ts = tagset_new();
    const char *const *got;
    size_t n;
    int flush = -1;

    ASSERT_EQ(dirty_open(&d, dir), 0);
    ASSERT_EQ(dirty_count(d), 0);
    ASSERT_EQ(inode(dir), 0); /* nothing written until a mark exists */
    ASSERT_EQ(dirty_set(d, "edge", "http://a:1", 1, NULL, 0), 0);
    ASSERT_EQ(dirty_set(d, "legacy", "http://b:2", 0, tags, 2), 0);
    dirty_destroy(&d);
    ASSERT(d == NULL);

    ASSERT_EQ(dirty_open(&d, dir), 0);
    ASSERT_EQ(dirty_count(d), 2);
    ASSERT_EQ(dirty_get(d, "edge", "http://a:1", &flush, ts), 1);
    ASSERT_EQ(flush, 1);
    ASSERT_EQ(tagset_count(ts), 0);
    ASSERT_EQ(dirty_get(d, "legacy", "http://b:2", &flush, ts), 1);
    ASSERT_EQ(flush, 0);
    got = tagset_sorted(ts, &n);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(got[0], "names");
    ASSERT_STR_EQ(got[1], "products");
    ASSERT_EQ(dirty_get(d, "edge", "http://b:2", &flush, NULL), 0);
    ASSERT_EQ(dirty_get(d, "nosuch", "http://a:1", &flush, NULL), 0);
    dirty_destroy(&d);
    tagset_destroy(&ts);
    cleanup(dir);
}

TEST(unchanged_not_rewritten)
{
    static const char *const t1[] = {"names"}, *const t2[] = {"names", "x"};
    char *dir = tmpdir();
    struct dirty *d;
    ino_t i0;

    ASSERT_EQ(dirty_open(&d, dir), 0);
    ASSERT_EQ(dirty_set(d, "s", "http://a:1", 0, t1, 1), 0);
    i0 = inode(dir);
    ASSERT(i0 != 0);
    ASSERT_EQ(dirty_set(d, "s", "http://a:1", 0, t1, 1), 0);
    ASSERT_EQ(inode(dir), i0); /* same mark: the file is not replaced */
    ASSERT_EQ(dirty_set(d, "s", "http://a:1", 0, t2, 2), 0);
    ASSERT(inode(dir) != i0); /* statefile_write renames a new file over it */
    i0 = inode(dir);
    ASSERT_EQ(dirty_set(d, "s", "http://a:1", 1, t2, 2), 0);
    ASSERT(inode(dir) != i0);
    i0 = inode(dir);
    ASSERT_EQ(dirty_set(d, "s", "http://a:1", 1, NULL, 0), 0); /* a flush ignores tags */
    ASSERT_EQ(inode(dir), i0);
    dirty_destroy(&d);
    cleanup(dir);
}

static int
keep_a(void *arg, const char *sink, const char *url)
{
    (*(int *)arg)++;
    return (strcmp(sink, "s") == 0 && strcmp(url, "http://a:1") == 0);
}

TEST(prune_and_remove)
{
    char *dir = tmpdir();
    struct dirty *d;
    int calls = 0, flush;

    ASSERT_EQ(dirty_open(&d, dir), 0);
    ASSERT_EQ(dirty_set(d, "s", "http://a:1", 1, NULL, 0), 0);
    ASSERT_EQ(dirty_set(d, "s", "http://gone:1", 1, NULL, 0), 0);
    ASSERT_EQ(dirty_set(d, "removed-sink", "http://a:1", 1, NULL, 0), 0);
    ASSERT_EQ(dirty_prune(d, keep_a, &calls), 2);
    ASSERT_EQ(calls, 3);
    ASSERT_EQ(dirty_count(d), 1);
    dirty_destroy(&d);
    /* Durable: a new process sees only the kept mark. */
    ASSERT_EQ(dirty_open(&d, dir), 0);
    ASSERT_EQ(dirty_count(d), 1);
    ASSERT_EQ(dirty_get(d, "s", "http://a:1", &flush, NULL), 1);
    ASSERT_EQ(dirty_prune(d, keep_a, &calls), 0);
    ASSERT_EQ(dirty_remove(d, "s", "http://a:1"), 0);
    ASSERT_EQ(dirty_remove(d, "s", "http://a:1"), 0); /* none: nothing to do */
    dirty_destroy(&d);
    ASSERT_EQ(dirty_open(&d, dir), 0);
    ASSERT_EQ(dirty_count(d), 0);
    dirty_destroy(&d);
    cleanup(dir);
}

TEST(broken_file_refused)
{
    static const char *const bad[] = {
        "{",
        "[]",
        "{\"version\": 2, \"marks\": {}}",
        "{\"version\": 1}",
        "{\"version\": 1, \"marks\": {\"s\": {\"http://a:1\": {}}}}",
        "{\"version\": 1, \"marks\": {\"s\": {\"http://a:1\": {\"tags\": [1]}}}}",
        "{\"version\": 1, \"marks\": {\"s\": {\"http://a:1\": {\"flush\": false}}}}",
        "{\"version\": 1, \"marks\": {\"s\": []}}",
    };
    char *dir = tmpdir();
    struct dirty *d = NULL;
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(dir, bad[i]);
        if (dirty_open(&d, dir) != -1)
            FAILF("accepted %s", bad[i]);
        ASSERT(d == NULL);
    }
    write_text(dir, "{\"version\": 1, \"marks\": {\"s\": {\"http://a:1\": {\"tags\": []}}}}");
    ASSERT_EQ(dirty_open(&d, dir), 0);
    ASSERT_EQ(dirty_count(d), 1);
    dirty_destroy(&d);
    cleanup(dir);
}

TEST_MAIN(TEST_ENTRY(save_and_load) TEST_ENTRY(unchanged_not_rewritten) TEST_ENTRY(prune_and_remove)
              TEST_ENTRY(broken_file_refused))
