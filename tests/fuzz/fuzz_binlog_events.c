/*
 * libFuzzer target for the binlog event decoder (connectors/binlog.h): a
 * sequence of events through bl_feed(), as a binlog file or a replication
 * stream gives them, down to row images and the mapping.
 *
 * Input: one options byte, then events, each a 16-bit little-endian length
 * and that many bytes (the last one may be cut short).  Options:
 *   bits 0-1  a FORMAT_DESCRIPTION fed first: 0 none (the input brings its
 *             own, or the decoder's MySQL 5.6+ defaults apply), 1 MySQL 8.0.36,
 *             2 MariaDB 10.5.15, 3 MySQL 5.7.21 with CRC32 checksums
 *   bit 2     raw: each part is a whole event (header, body, checksum); its
 *             size field is set to the part's length unless bit 6.  Else a
 *             part is a type byte and a body: the header (log_pos counting up)
 *             and, after prefix 3, a valid CRC32 are added here, so mutations
 *             reach the bodies instead of dying on the framing
 *   bit 3     verify checksums;  bit 4  positional column names
 *   bit 5     names() knows column names of tables whose TABLE_MAP has none
 *   bit 6     raw events keep their own size field
 *   bit 7     bl_set_checksum(1) before the first event (a network dump)
 * Each event is copied to an exact-size buffer, so ASan sees any read past
 * it.  The callbacks check the decoder's contract: begin/commit/abort pair
 * up and agree with bl_in_txn(), every change carries readable names and
 * values (each byte is read), positions stay NUL-terminated, and the rows go
 * through the real txn and tagmap whose tags must obey the tag rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../broker/lib/obj.h"
#include "../../broker/tagmap.h"
#include "../../broker/tagset.h"
#include "../../broker/txn.h"
#include "../../connectors/binlog.h"
#include "fuzz.h"

#define MAX_TAG   64
#define MAX_TAGS  32
#define MAX_NAMES 4096

enum {
    OPT_PREFIX = 0x03,
    OPT_RAW = 0x04,
    OPT_VERIFY = 0x08,
    OPT_POSITIONAL = 0x10,
    OPT_NAMES = 0x20,
    OPT_KEEP_SIZE = 0x40,
    OPT_NET_CRC = 0x80,
};

struct fz_bl {
    struct txn *txn;
    int in_txn;
    int names_on;
    uint32_t pos; /* log_pos of synthesized headers */
    int crc;      /* synthesized events carry a CRC32 */
};

static struct tagmap *map;
static char *colnames[MAX_NAMES];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char name[16];
    size_t i;

    (void)argc;
    (void)argv;
    map = fz_test_map(MAX_TAG);
    for (i = 0; i < MAX_NAMES; i++) {
        if (i == 0 || i == 1) {
            colnames[i] = tp_strdup(i == 0 ? "id" : "name");
            continue;
        }
        snprintf(name, sizeof name, "@%zu", i - 1);
        colnames[i] = tp_strdup(name);
    }
    return (0);
}

/*--------------------------------------------------------------------
 * Callbacks
 */

static int
cb_mapped(void *arg, const char *table)
{
    (void)arg;
    fz_touch(table, strlen(table));
    return (strncmp(table, "mysql.", 6) != 0);
}

static const char *const *
cb_names(void *arg, const char *table, size_t ncols)
{
    struct fz_bl *f = arg;

    fz_touch(table, strlen(table));
    if (!f->names_on || ncols > MAX_NAMES)
        return (NULL);
    return ((const char *const *)colnames);
}

static void
cb_schema_changed(void *arg, const char *table)
{
    (void)arg;
    fz_touch(table, strlen(table));
}

static void
cb_begin(void *arg)
{
    struct fz_bl *f = arg;

    AZ(f->in_txn);
    f->in_txn = 1;
    txn_reset(f->txn);
}

static void
cb_change(void *arg, const struct change *c)
{
    struct fz_bl *f = arg;
    struct change m = *c;

    AN(f->in_txn);
    AN(c->op != CHG_TRUNCATE);
    AN(c->oldv != NULL || c->op == CHG_INSERT);
    AN(c->newv != NULL || c->op == CHG_DELETE);
    fz_check_change(c);
    m.table = "fuzz.t"; /* every table through the one test entry */
    txn_change(f->txn, &m);
}

static void
cb_broaden(void *arg, const char *table, const char *why)
{
    struct fz_bl *f = arg;

    AN(f->in_txn);
    AN(why != NULL);
    fz_touch(why, strlen(why));
    if (table != NULL)
        fz_touch(table, strlen(table));
    txn_broaden(f->txn, table != NULL ? "fuzz.t" : NULL);
}

static void
cb_statement(void *arg, const char *table)
{
    struct fz_bl *f = arg;

    AN(f->in_txn);
    fz_touch(table, strlen(table));
    txn_count_statement(f->txn);
}

static void
check_pos(const struct bl_pos *p)
{
    AN(memchr(p->file, '\0', sizeof p->file) != NULL);
    AN(memchr(p->gtid, '\0', sizeof p->gtid) != NULL);
}

static void
cb_commit(void *arg, const struct bl_pos *pos)
{
    struct fz_bl *f = arg;

    AN(f->in_txn);
    f->in_txn = 0;
    check_pos(pos);
    fz_check_tagset(txn_finish(f->txn), MAX_TAG);
    txn_reset(f->txn);
}

static void
cb_abort(void *arg)
{
    struct fz_bl *f = arg;

    AN(f->in_txn);
    f->in_txn = 0;
    txn_reset(f->txn);
}

/*--------------------------------------------------------------------
 * Framing
 */

static void
put_le(uint8_t *p, uint64_t v, int n)
{
    int i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Header (and CRC32 when f->crc) around a body: an exact-size buffer. */
static uint8_t *
make_event(struct fz_bl *f, uint8_t type, const uint8_t *body, size_t blen, size_t *len)
{
    size_t n = BL_HEADER_LEN + blen + (f->crc ? 4 : 0);
    uint8_t *ev = tp_malloc(n);

    f->pos += (uint32_t)n;
    put_le(ev, f->pos, 4); /* timestamp: anything that moves */
    ev[4] = type;
    put_le(ev + 5, 1, 4);
    put_le(ev + 9, n, 4);
    put_le(ev + 13, f->pos, 4);
    put_le(ev + 17, 0, 2);
    if (blen > 0)
        memcpy(ev + BL_HEADER_LEN, body, blen);
    if (f->crc)
        put_le(ev + n - 4, bl_crc32(0, ev, n - 4), 4);
    *len = n;
    return (ev);
}

static int
unhex(char c)
{
    return (c <= '9' ? c - '0' : c - 'a' + 10);
}

/* Post-header lengths as the servers' own FORMAT_DESCRIPTIONs list them. */
static const char *const fde_ph[3] = {
    "000d0008000000000400040000006200041a08000000080808020000000a0a0a2a2a001234000a2800",
    "380d000800120004040404120000e400041a08000000080808020000000a0a0a"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000041304000d0808080a0a0a",
    "380d0008001200040404041200005f00041a08000000080808020000000a0a0a2a2a00123400",
};
static const char *const fde_version[3] = {"8.0.36", "10.5.15-MariaDB-log", "5.7.21-log"};

/* FORMAT_DESCRIPTION of prefix k (0-2): version 4, server version, ph lengths, alg, CRC. */
static void
feed_fde(struct bl_decoder *d, struct fz_bl *f, int k)
{
    uint8_t body[512];
    size_t i, nph = strlen(fde_ph[k]) / 2, n = 0, len;
    uint8_t *ev;
    int saved = f->crc;

    memset(body, 0, sizeof body);
    put_le(body, 4, 2);
    memcpy(body + 2, fde_version[k], strlen(fde_version[k]));
    n = 2 + 50 + 4;
    body[n++] = BL_HEADER_LEN;
    for (i = 0; i < nph; i++)
        body[n++] = (uint8_t)(unhex(fde_ph[k][2 * i]) << 4 | unhex(fde_ph[k][2 * i + 1]));
    body[n++] = k == 2; /* checksum algorithm: CRC32 for 5.7.21, off for the others */
    f->crc = 1;         /* the FDE of a checksum-capable server always ends with a CRC */
    ev = make_event(f, BL_E_FDE, body, n, &len);
    f->crc = saved;
    AZ(bl_feed(d, ev, len));
    free(ev);
}

static void
feed_part(struct bl_decoder *d, struct fz_bl *f, const uint8_t *p, size_t n, int opts)
{
    uint8_t *ev;
    size_t len;

    if (opts & OPT_RAW) {
        ev = fz_dup(p, n);
        len = n;
        if (!(opts & OPT_KEEP_SIZE) && n >= 13)
            put_le(ev + 9, n, 4);
    } else {
        ev = make_event(f, n > 0 ? p[0] : 0, p + (n > 0), n > 0 ? n - 1 : 0, &len);
    }
    (void)bl_feed(d, ev, len); /* a malformed event is logged and broadens */
    free(ev);
    AN(bl_in_txn(d) == f->in_txn);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_bl f = {NULL, 0, 0, 4, 0};
    struct bl_callbacks cb = {&f,        cb_mapped, cb_names,   cb_schema_changed,
                              cb_begin,  cb_change, cb_broaden, cb_statement,
                              cb_commit, cb_abort,  NULL};
    struct fz_in in = {data, size};
    struct bl_decoder *d;
    const uint8_t *p;
    size_t n;
    int opts = fz_u8(&in);

    f.txn = txn_new(map, MAX_TAGS, "fuzz");
    f.names_on = (opts & OPT_NAMES) != 0;
    d = bl_new(&cb);
    bl_set_position(d, "binlog.000001", 4);
    bl_set_verify(d, (opts & OPT_VERIFY) != 0);
    bl_set_positional_names(d, (opts & OPT_POSITIONAL) != 0);
    bl_set_checksum(d, (opts & OPT_NET_CRC) != 0);
    if (opts & OPT_PREFIX)
        feed_fde(d, &f, (opts & OPT_PREFIX) - 1);
    f.crc = (opts & OPT_PREFIX) == 3;
    while (in.n > 0) {
        n = fz_u16(&in);
        p = fz_take(&in, n, &n);
        feed_part(d, &f, p, n, opts);
    }
    check_pos(bl_committed(d));
    check_pos(bl_current(d));
    bl_destroy(&d);
    txn_destroy(&f.txn);
    return (0);
}
