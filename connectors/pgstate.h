/*
 * The PostgreSQL source's state file and the gap decision.
 *
 * state_dir/<source>.postgres.json records which server and slot tagpurge
 * streamed from and the last LSN every node acknowledged:
 *   {"systemid": "7301...", "timeline": 1, "slot": "tagpurge", "lsn": "0/1957B58"}
 * plus "gap": "<reason>" while a gap's broad purge is not yet confirmed (so a
 * crash before then produces the gap again).  The connector (loop thread)
 * owns the file; these functions are pure and keep no state.
 */
#ifndef TP_PGSTATE_H
#define TP_PGSTATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct pgstate {
    char systemid[32]; /* IDENTIFY_SYSTEM's systemid, decimal */
    unsigned timeline;
    char slot[64];
    uint64_t lsn;  /* last LSN confirmed to the server (never past what every node acknowledged) */
    char gap[256]; /* non-empty: a gap purge for this reason is pending */
};

/* What the server says at (re)connect. */
struct pgfacts {
    const char *systemid;
    unsigned timeline;
    const char *slot; /* the configured slot name */
    int slot_exists;
    uint64_t confirmed_flush; /* the slot's confirmed_flush_lsn (0: NULL) */
    int wal_lost;             /* wal_status = 'lost' */
};

/* A new reference, or NULL (out of memory). */
json_t *pgstate_json(const struct pgstate *);
/* 0, or -1 when o is not a state document. */
int pgstate_parse(const json_t *o, struct pgstate *);
/*
 * The gap decision.  have: statefile_read()'s result (1 read, 0 no file,
 * -1 unreadable); st is meaningful only when have is 1.  Returns 0 when the
 * slot continues what tagpurge read (or on a first start), 1 when it does
 * not, with the reason in why.
 */
int pgstate_gap(int have, const struct pgstate *st, const struct pgfacts *f, char *why, size_t len);
/* Every rule that applies, each reason to each(arg, why); returns how many. */
int pgstate_gaps(int have, const struct pgstate *st, const struct pgfacts *f,
                 void (*each)(void *, const char *why), void *arg);
/* "16/B374D848"; 0 on success, -1 when s is not an LSN. */
int pgstate_lsn_parse(const char *s, uint64_t *lsn);
void pgstate_lsn_fmt(uint64_t lsn, char *buf, size_t len);

#endif
