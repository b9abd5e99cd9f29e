/*
 * Where the shared MySQL/MariaDB fixtures are: $TAGPURGE_FIXTURES, else
 * <repository>/../shared/fixtures/mysql, found from the test source's path.
 * A case that reads them is FIXTURE_TEST(name): without the folder it exits
 * 77 (ctest SKIP_RETURN_CODE, label `fixtures`), so it is reported skipped,
 * never passed; .ci/run fails when such a case skipped while ../shared exists
 * (tests/check_no_fixture_skips.sh).
 */
#ifndef TP_TEST_FIXTURES_H
#define TP_TEST_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define fixtures_dir()     fixtures_dir_from(__FILE__)
#define fixtures_missing() fixtures_missing_from(__FILE__)
#define fixtures_require() fixtures_require_from(__FILE__)

/* Exit code ctest reads as "skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt). */
#define FIXTURES_SKIP 77

/*
 * TEST(name) whose body runs only with the fixtures present: the skip is in
 * the macro, so no case can forget it; tests/CMakeLists.txt labels these
 * `fixtures` by the macro's name.
 */
#define FIXTURE_TEST(name)                                                                         \
    static void fixture_body_##name(void);                                                         \
    static void test_##name(void)                                                                  \
    {                                                                                              \
        fixtures_require();                                                                        \
        fixture_body_##name();                                                                     \
    }                                                                                              \
    static void fixture_body_##name(void)

static inline const char *
fixtures_dir_from(const char *me)
{
    static const char tail[] = "tests/unit/";
    static char path[4096];
    const char *env = getenv("TAGPURGE_FIXTURES"), *at = strstr(me, tail);

    if (env != NULL && *env != '\0')
        return (env);
    if (at != NULL)
        snprintf(path, sizeof path, "%.*s../shared/fixtures/mysql", (int)(at - me), me);
    else
        snprintf(path, sizeof path, "../shared/fixtures/mysql");
    return (path);
}

static inline int
fixtures_missing_from(const char *me)
{
    struct stat st;

    if (stat(fixtures_dir_from(me), &st) == 0 && S_ISDIR(st.st_mode))
        return (0);
    printf("skip: no fixture folder %s (set TAGPURGE_FIXTURES)\n", fixtures_dir_from(me));
    return (1);
}

/* Fixtures absent: say so and exit FIXTURES_SKIP (the case is skipped, not passed). */
static inline void
fixtures_require_from(const char *me)
{
    if (!fixtures_missing_from(me))
        return;
    fflush(stdout);
    exit(FIXTURES_SKIP);
}

#endif
