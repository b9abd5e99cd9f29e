/* The PostgreSQL source's state file (JSON encoding) and the pure gap decision (pgstate.h). */
#include <stdio.h>
#include <string.h>

#include "pgstate.h"

void
pgstate_lsn_fmt(uint64_t lsn, char *buf, size_t len)
{
    snprintf(buf, len, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

int
pgstate_lsn_parse(const char *s, uint64_t *lsn)
{
    unsigned hi, lo;
    char tail;

    if (s == NULL || sscanf(s, "%X/%X%c", &hi, &lo, &tail) != 2)
        return (-1);
    *lsn = ((uint64_t)hi << 32) | lo;
    return (0);
}

json_t *
pgstate_json(const struct pgstate *st)
{
    char lsn[32];
    json_t *o;

    pgstate_lsn_fmt(st->lsn, lsn, sizeof lsn);
    o = json_pack("{s:s, s:I, s:s, s:s}", "systemid", st->systemid, "timeline",
                  (json_int_t)st->timeline, "slot", st->slot, "lsn", lsn);
    if (o != NULL && st->gap[0] != '\0' && json_object_set_new(o, "gap", json_string(st->gap)))
        json_decref(o), o = NULL;
    return (o);
}

int
pgstate_parse(const json_t *o, struct pgstate *st)
{
    const char *sysid, *slot, *lsn, *gap = "";
    json_int_t tli;

    memset(st, 0, sizeof *st);
    if (json_unpack((json_t *)o, "{s:s, s:I, s:s, s:s, s?s}", "systemid", &sysid, "timeline", &tli,
                    "slot", &slot, "lsn", &lsn, "gap", &gap) != 0 ||
        tli < 0 || tli > UINT32_MAX || strlen(sysid) >= sizeof st->systemid ||
        strlen(slot) >= sizeof st->slot || pgstate_lsn_parse(lsn, &st->lsn) != 0)
        return (-1);
    snprintf(st->systemid, sizeof st->systemid, "%s", sysid);
    snprintf(st->slot, sizeof st->slot, "%s", slot);
    snprintf(st->gap, sizeof st->gap, "%s", gap);
    st->timeline = (unsigned)tli;
    return (0);
}

/*
 * The rules; each writes its reason and returns 1 when it applies.  The
 * first five need a readable state file.
 */
typedef int rule_f(const struct pgstate *, const struct pgfacts *, char *, size_t);

static int
r_marked(const struct pgstate *st, const struct pgfacts *f, char *why, size_t len)
{
    (void)f;
    if (st->gap[0] == '\0')
        return (0);
    snprintf(why, len, "the broad purge of an earlier gap was not confirmed (%s)", st->gap);
    return (1);
}

static int
r_system(const struct pgstate *st, const struct pgfacts *f, char *why, size_t len)
{
    if (strcmp(st->systemid, f->systemid) == 0)
        return (0);
    snprintf(why, len,
             "the server's system identifier is %s, the state file's %s: another "
             "cluster answers",
             f->systemid, st->systemid);
    return (1);
}

static int
r_slot_name(const struct pgstate *st, const struct pgfacts *f, char *why, size_t len)
{
    if (strcmp(st->slot, f->slot) == 0)
        return (0);
    snprintf(why, len, "the state file is for slot %s, the configured slot is %s", st->slot,
             f->slot);
    return (1);
}

static int
r_missing(const struct pgstate *st, const struct pgfacts *f, char *why, size_t len)
{
    (void)st;
    if (f->slot_exists)
        return (0);
    snprintf(why, len,
             "replication slot %s is missing (failover to a promoted standby, "
             "max_slot_wal_keep_size or a drop)",
             f->slot);
    return (1);
}

static int
r_timeline(const struct pgstate *st, const struct pgfacts *f, char *why, size_t len)
{
    if (!f->slot_exists || st->timeline == f->timeline)
        return (0);
    snprintf(why, len,
             "the server is on timeline %u, the state file's %u: a promoted standby, "
             "whose slot is not the one tagpurge read",
             f->timeline, st->timeline);
    return (1);
}

static int
r_advanced(const struct pgstate *st, const struct pgfacts *f, char *why, size_t len)
{
    char a[32], b[32];

    if (!f->slot_exists || f->confirmed_flush <= st->lsn)
        return (0);
    pgstate_lsn_fmt(f->confirmed_flush, a, sizeof a);
    pgstate_lsn_fmt(st->lsn, b, sizeof b);
    snprintf(why, len,
             "slot %s's confirmed_flush_lsn %s is past the %s tagpurge confirmed: "
             "another client advanced it",
             f->slot, a, b);
    return (1);
}

static int
r_lost(const struct pgstate *st, const struct pgfacts *f, char *why, size_t len)
{
    (void)st;
    if (!f->slot_exists || !f->wal_lost)
        return (0);
    snprintf(why, len,
             "replication slot %s is invalidated (wal_status lost: "
             "max_slot_wal_keep_size was passed)",
             f->slot);
    return (1);
}

static rule_f *const recorded_rules[] = {r_marked,  r_system,   r_slot_name,
                                         r_missing, r_timeline, r_advanced};

int
pgstate_gaps(int have, const struct pgstate *st, const struct pgfacts *f,
             void (*each)(void *, const char *), void *arg)
{
    char why[512];
    size_t i;
    int n = 0;

    /* Unconditional: an invalidated slot can never stream again. */
    if (r_lost(st, f, why, sizeof why) && ++n)
        each(arg, why);
    if (have < 0) {
        each(arg, "the state file is unreadable");
        return (n + 1);
    }
    for (i = 0; have > 0 && i < sizeof recorded_rules / sizeof *recorded_rules; i++)
        if (recorded_rules[i](st, f, why, sizeof why) && ++n)
            each(arg, why);
    return (n); /* have == 0: a first start, nothing was read before */
}

struct first {
    char *why;
    size_t len;
};

static void
keep_first(void *arg, const char *why)
{
    struct first *fi = arg;

    if (fi->why[0] == '\0')
        snprintf(fi->why, fi->len, "%s", why);
}

int
pgstate_gap(int have, const struct pgstate *st, const struct pgfacts *f, char *why, size_t len)
{
    struct first fi = {why, len};

    why[0] = '\0';
    return (pgstate_gaps(have, st, f, keep_first, &fi) > 0);
}
