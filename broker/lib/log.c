/* Logging (log.h): the level, the line format (text, JSON, journal) and one write per line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "obj.h"

static enum log_level cur_level = LOG_LVL_INFO;
static enum log_format cur_format = LOG_TEXT;
static const int syslog_prio[] = {3, 4, 6, 7}; /* err, warning, info, debug */
static const char *const level_names[] = {"error", "warning", "info", "debug"};

void
log_set_format(enum log_format f)
{
    cur_format = f;
}

/* JOURNAL_STREAM is "device:inode" of the journal's stream: only trust it for our stderr. */
void
log_init_from_env(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return;
    if ((unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
        cur_format = LOG_JOURNAL;
}

/* msg as a JSON string body: quotes, backslashes and control bytes escaped. */
static void
json_escape(char *out, size_t outlen, const char *msg)
{
    size_t o = 0;

    for (; *msg != '\0' && o + 7 < outlen; msg++) {
        unsigned char ch = (unsigned char)*msg;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

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
    char buf[4096], esc[6 * 4096 + 8], stamp[96];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (l > cur_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* A message is one line whatever it quotes. */
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (cur_format == LOG_JOURNAL) {
        fprintf(stderr, "<%d>%s\n", syslog_prio[l], buf);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    /* One fprintf per line keeps lines whole when stderr is shared. */
    if (cur_format == LOG_JSON) {
        json_escape(esc, sizeof esc, buf);
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", stamp, level_names[l],
                esc);
        return;
    }
    fprintf(stderr, "%s tagpurge[%s]: %s\n", stamp, level_names[l], buf);
}
