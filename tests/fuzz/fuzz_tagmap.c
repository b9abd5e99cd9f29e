/*
 * libFuzzer target for the mapping (broker/tagmap.h): tagmap_compile() of a
 * fuzzed mapping, then tagmap_apply() of every entry to a fuzzed row change.
 *
 * Input: an options byte (bits 0-1 max_tag_bytes 16/64/1024/4096, bits 2-3
 * the operation, bit 4 no old image, bit 5 no new image), the mapping JSON
 * (16-bit length, then the text), a column count, then per column its name
 * (8-bit length), then its old and its new value: a state byte (low bits: 0
 * unknown, 1 NULL, else a value of 16-bit length; bit 7 repeats the value to
 * 1 MiB).  Values hold anything: CR/LF, NUL, invalid UTF-8.
 *
 * Invariants (README "Mapping", "Tag encoding rule"): a compile error names
 * mapping.json:line:col; fallback tags are valid literal tags; apply returns
 * only TM_* flags, TM_UNCHANGED only for an UPDATE and then adds nothing, a
 * fallback adds every fallback tag; and every emitted tag is non-empty, at
 * most max_tag_bytes, and only unreserved bytes, %XX escapes and literal
 * template bytes (never NUL, CR, LF, space or comma).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../broker/lib/cfg.h"
#include "../../broker/lib/obj.h"
#include "../../broker/tagmap.h"
#include "../../broker/tagset.h"
#include "fuzz.h"

#define MAX_COLS 64
#define HUGE_LEN (1u << 20)

struct row {
    size_t n;
    char *names[MAX_COLS];
    struct col_value oldv[MAX_COLS], newv[MAX_COLS];
    char *owned[2 * MAX_COLS];
    size_t nowned;
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return (0);
}

static void
read_value(struct fz_in *in, struct row *r, struct col_value *v)
{
    uint8_t s = fz_u8(in);
    const uint8_t *p;
    size_t n, i;
    char *b;

    memset(v, 0, sizeof *v);
    v->state = (s & 3) == 0 ? COL_UNKNOWN : (s & 3) == 1 ? COL_NULL : COL_VALUE;
    if (v->state != COL_VALUE)
        return;
    p = fz_take(in, fz_u16(in), &n);
    if (s & 0x80) { /* huge: the bytes over and over */
        b = tp_malloc(HUGE_LEN);
        for (i = 0; i < HUGE_LEN; i++)
            b[i] = n ? (char)p[i % n] : 'x';
        n = HUGE_LEN;
    } else {
        b = (char *)fz_dup(p, n);
    }
    r->owned[r->nowned++] = b;
    v->data = b;
    v->len = n;
}

static void
read_row(struct fz_in *in, struct row *r)
{
    const uint8_t *p;
    size_t i, n;

    r->n = fz_u8(in) % (MAX_COLS + 1);
    for (i = 0; i < r->n; i++) {
        p = fz_take(in, fz_u8(in), &n);
        r->names[i] = tp_strndup((const char *)p, n);
        read_value(in, r, &r->oldv[i]);
        read_value(in, r, &r->newv[i]);
    }
}

static void
free_row(struct row *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        free(r->names[i]);
    for (i = 0; i < r->nowned; i++)
        free(r->owned[i]);
}

/* "mapping.json:LINE:COL: ..." */
static void
check_error(const char *msg)
{
    static const char file[] = "mapping.json:";
    char *end;

    AN(msg != NULL);
    AZ(strncmp(msg, file, strlen(file)));
    (void)strtol(msg + strlen(file), &end, 10);
    AN(end > msg + strlen(file) && *end == ':');
    msg = end + 1;
    (void)strtol(msg, &end, 10);
    AN(end > msg && end[0] == ':' && end[1] == ' ');
}

static void
count_missing(void *arg, const char *col)
{
    fz_touch(col, strlen(col));
    (*(size_t *)arg)++;
}

static void
apply_entry(const struct tagmap_entry *e, const struct change *tpl, size_t max)
{
    struct tagset *ts = tagset_new();
    struct change c = *tpl;
    size_t i, n = 0;
    int flags;

    for (i = 0; i < tagmap_nfallback(e); i++)
        AN(tag_literal_ok(tagmap_fallback_tag(e, i)));
    AN(tagmap_missing_columns(e, c.colnames, c.ncols, count_missing, &n) == n);
    c.table = tagmap_table(e);
    flags = tagmap_apply(e, &c, ts);
    AZ(flags & ~(TM_FALLBACK | TM_OVERSIZE | TM_UNCHANGED | TM_NOFALLBACK));
    if (flags & TM_UNCHANGED)
        AN(c.op == CHG_UPDATE && flags == TM_UNCHANGED && tagset_count(ts) == 0);
    if (flags & (TM_FALLBACK | TM_OVERSIZE))
        for (i = 0; i < tagmap_nfallback(e); i++)
            AN(tagset_has(ts, tagmap_fallback_tag(e, i), strlen(tagmap_fallback_tag(e, i))));
    AN(!(flags & TM_NOFALLBACK) || tagmap_nfallback(e) == 0);
    fz_check_tagset(ts, max);
    tagset_destroy(&ts);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[4] = {16, 64, TAGMAP_DEFAULT_MAX_TAG_BYTES, TAGMAP_MAX_TAG_BYTES};
    struct fz_in in = {data, size};
    struct row r = {0};
    struct change c = {0};
    struct tagmap *m = NULL;
    struct cfg_ctx *ctx;
    uint8_t opts = fz_u8(&in);
    size_t len, i, max = maxes[opts & 3];
    const uint8_t *text = fz_take(&in, fz_u16(&in), &len);
    char *copy = tp_strndup((const char *)text, len);
    json_t *j = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, NULL);

    if (j != NULL) {
        ctx = cfg_ctx_new("mapping.json", copy);
        if (tagmap_compile(&m, j, max, ctx) != 0)
            check_error(cfg_errmsg(ctx));
        cfg_ctx_destroy(&ctx);
        json_decref(j);
    }
    free(copy);
    if (m == NULL)
        return (0);
    read_row(&in, &r);
    c.op = (enum change_op)(opts >> 2 & 3);
    c.colnames = (const char *const *)r.names;
    c.ncols = r.n;
    c.oldv = opts & 0x10 ? NULL : r.oldv;
    c.newv = opts & 0x20 ? NULL : r.newv;
    for (i = 0; i < tagmap_count(m); i++) {
        AN(tagmap_lookup(m, tagmap_table(tagmap_at(m, i))) == tagmap_at(m, i));
        apply_entry(tagmap_at(m, i), &c, max);
    }
    tagmap_unref(&m);
    free_row(&r);
    return (0);
}
