/*
 * MariaDB GTID state strings (see gtid.h): parsing one triple and merging a
 * triple into a per-domain state.  Owns nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gtid.h"

/* A decimal number of len bytes at s that fits max: 0, or -1. */
static int
number(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > 20)
        return (-1);
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return (-1);
        if (v > (max - (uint64_t)(s[i] - '0')) / 10)
            return (-1);
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return (0);
}

int
gtid_parse(const char *s, size_t len, uint32_t *domain, uint32_t *server, uint64_t *seq)
{
    const char *d1 = memchr(s, '-', len), *d2;
    uint64_t d, sv;

    if (d1 == NULL)
        return (-1);
    d2 = memchr(d1 + 1, '-', len - (size_t)(d1 + 1 - s));
    if (d2 == NULL || number(s, (size_t)(d1 - s), UINT32_MAX, &d) != 0 ||
        number(d1 + 1, (size_t)(d2 - d1 - 1), UINT32_MAX, &sv) != 0 ||
        number(d2 + 1, len - (size_t)(d2 + 1 - s), UINT64_MAX, seq) != 0)
        return (-1);
    *domain = (uint32_t)d;
    *server = (uint32_t)sv;
    return (0);
}

int
gtid_state_valid(const char *s)
{
    uint32_t d, sv;
    uint64_t n;
    size_t len;

    while (*s != '\0') {
        len = strcspn(s, ",");
        if (gtid_parse(s, len, &d, &sv, &n) != 0)
            return (0);
        s += len;
        if (*s == ',' && *++s == '\0')
            return (0); /* a trailing comma */
    }
    return (1);
}

int
gtid_state_merge(char *state, size_t size, const char *triple, enum gtid_merge how)
{
    char out[1024];
    const char *p = state, *item;
    uint32_t dom, sv, d, s2;
    uint64_t seq, n;
    size_t len, ilen, o = 0;
    int done = 0, w;

    if (size > sizeof out || gtid_parse(triple, strlen(triple), &dom, &sv, &seq) != 0 ||
        !gtid_state_valid(state))
        return (-1);
    while (*p != '\0') {
        len = strcspn(p, ",");
        item = p;
        ilen = len;
        (void)gtid_parse(p, len, &d, &s2, &n); /* valid: checked above */
        if (d == dom && !done) {
            if (how == GTID_REPLACE || seq > n) {
                item = triple;
                ilen = strlen(triple);
            }
            done = 1;
        } else if (d == dom) {
            ilen = 0; /* a second entry of the domain: the state has one per domain */
        }
        if (ilen > 0) {
            w = snprintf(out + o, sizeof out - o, "%s%.*s", o ? "," : "", (int)ilen, item);
            if (w < 0 || (size_t)w >= sizeof out - o)
                return (-1);
            o += (size_t)w;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    if (!done) {
        w = snprintf(out + o, sizeof out - o, "%s%s", o ? "," : "", triple);
        if (w < 0 || (size_t)w >= sizeof out - o)
            return (-1);
        o += (size_t)w;
    }
    if (o >= size)
        return (-1);
    memcpy(state, out, o + 1);
    return (0);
}
