/*
 * Where the shared MySQL/MariaDB fixtures are: $TAGPURGE_FIXTURES, else
 * <repository>/../shared/fixtures/mysql, found from the test source's path.
 */
#ifndef TP_TEST_FIXTURES_H
#define TP_TEST_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define fixtures_dir()     fixtures_dir_from(__FILE__)
#define fixtures_missing() fixtures_missing_from(__FILE__)

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

#endif
