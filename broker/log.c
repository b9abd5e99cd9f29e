#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "obj.h"

static enum log_level cur_level = LOG_LVL_INFO;
static const char *const level_names[] = {"error", "warning", "info", "debug"};

void
log_set_level(enum log_level l)
{
    cur_level = l;
}

enum log_level
log_get_level(void)
{
    return (cur_level);
}

void
log_msg(enum log_level l, const char *fmt, ...)
{
    char buf[4096];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (l > cur_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    /* One fprintf per line keeps lines whole when stderr is shared. */
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ tagpurge[%s]: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            level_names[l], buf);
}

void
tp_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "tagpurge: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

void *
tp_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    AN(p);
    return (p);
}

void *
tp_calloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);

    AN(p);
    return (p);
}

void *
tp_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    AN(q);
    return (q);
}

char *
tp_strdup(const char *s)
{
    char *p = strdup(s);

    AN(p);
    return (p);
}

char *
tp_strndup(const char *s, size_t n)
{
    char *p = strndup(s, n);

    AN(p);
    return (p);
}
