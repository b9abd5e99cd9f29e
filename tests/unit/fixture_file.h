/*
 * Reading the shared binlog fixtures (fixtures.h says where they are):
 * NAME.hex holds one hex vector per line, and line i is case i-1 of
 * NAME.expected.json.  For test_binlog.c and test_binlog_value.c; include
 * after test.h.  Ownership: slurp() and the fixture's buffers belong to the
 * caller (free(), fixture_free()).
 */
#ifndef TP_TEST_FIXTURE_FILE_H
#define TP_TEST_FIXTURE_FILE_H

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"

#define FIXTURE_MAX_LINES 512

/* A fixture file, NUL-terminated; *len (if not NULL) gets its size. */
static inline char *
slurp(const char *name, size_t *len)
{
    char path[4200];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof path, "%s/%s", fixtures_dir(), name);
    f = fopen(path, "rb");
    if (f == NULL)
        FAILF("cannot open %s", path);
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        FAILF("cannot size %s", path);
    buf = malloc((size_t)n + 1);
    ASSERT(buf != NULL);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        FAILF("cannot read %s", path);
    buf[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return (buf);
}

/*
 * jansson refuses integers beyond 64 bits (vitess asserts UINT64_MAX), so
 * such literals outside strings become the strings "#big#<digits>".
 */
static inline char *
quote_big_ints(const char *in)
{
    char *res = malloc(strlen(in) * 2 + 1), *o = res;
    int in_str = 0, esc = 0;
    size_t k;

    ASSERT(res != NULL);
    while (*in != '\0') {
        if (in_str || (*in != '-' && (*in < '0' || *in > '9'))) {
            in_str ^= !esc && *in == '"';
            esc = in_str && !esc && *in == '\\';
            *o++ = *in++;
            continue;
        }
        k = strspn(in, "-0123456789");
        errno = 0;
        (void)strtoll(in, NULL, 10);
        if (errno == ERANGE && strchr(".eE", in[k]) == NULL)
            o += sprintf(o, "\"#big#%.*s\"", (int)k, in);
        else
            o += sprintf(o, "%.*s", (int)k, in);
        in += k;
    }
    *o = '\0';
    return (res);
}

struct fixture {
    json_t *root;
    const json_t *cases;
    char *hexbuf;
    char *line[FIXTURE_MAX_LINES];
    size_t nlines;
};

/* Load NAME; with need_cases, "cases" must be an array. An empty line is a zero-length vector. */
static inline void
fixture_load_ex(struct fixture *f, const char *name, int need_cases)
{
    char file[256], *text, *fixed, *p;
    json_error_t err;

    memset(f, 0, sizeof *f);
    snprintf(file, sizeof file, "%s.expected.json", name);
    text = slurp(file, NULL);
    fixed = quote_big_ints(text);
    f->root = json_loads(fixed, 0, &err);
    if (f->root == NULL)
        FAILF("%s: %s at line %d", file, err.text, err.line);
    free(text);
    free(fixed);
    f->cases = json_object_get(f->root, "cases");
    if (need_cases)
        ASSERT(json_is_array(f->cases));
    snprintf(file, sizeof file, "%s.hex", name);
    f->hexbuf = slurp(file, NULL);
    for (p = f->hexbuf; *p != '\0' && f->nlines < FIXTURE_MAX_LINES; f->nlines++) {
        f->line[f->nlines] = p;
        p += strcspn(p, "\n");
        if (*p == '\n')
            *p++ = '\0';
    }
    if (json_is_array(f->cases))
        ASSERT_EQ(f->nlines, json_array_size(f->cases));
}

static inline void
fixture_free(struct fixture *f)
{
    json_decref(f->root);
    free(f->hexbuf);
}

static inline const char *
jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    if (s == NULL)
        FAILF("fixture case lacks string \"%s\"", key);
    return (s);
}

/* Decode hex into buf (cap bytes); returns the byte count. */
static inline size_t
unhex(const char *hex, unsigned char *buf, size_t cap)
{
    size_t n = strlen(hex) / 2, i;
    unsigned v;

    if (n > cap)
        FAILF("hex of %zu bytes does not fit %zu", n, cap);
    for (i = 0; i < n; i++) {
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            FAILF("bad hex at %zu: %s", i, hex);
        buf[i] = (unsigned char)v;
    }
    return (n);
}

#endif
