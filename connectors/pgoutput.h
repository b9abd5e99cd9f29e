/*
 * A decoder for pgoutput protocol version 1 messages (the payload of an
 * XLogData 'w' message): pure, no I/O, fuzzable.
 *
 * pgoutput_decode() parses one message and calls the matching callback.
 * Everything passed to a callback is borrowed from the message buffer or the
 * decoder's scratch space and valid only during the call.  Unknown message
 * types are skipped (return 0); a malformed message returns -1.
 */
#ifndef TP_PGOUTPUT_H
#define TP_PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

struct pgo_col_def {
    int key; /* part of the replica identity */
    const char *name;
    uint32_t type_oid;
};

struct pgo_relation {
    uint32_t relid;
    const char *nspname;
    const char *relname;
    char replident; /* 'd', 'n', 'f', 'i' */
    uint16_t ncols;
    const struct pgo_col_def *cols;
};

struct pgo_value {
    char kind; /* 'n' NULL, 'u' unchanged TOAST, 't' text, 'b' binary */
    const char *data;
    uint32_t len;
};

struct pgo_tuple {
    uint16_t ncols;
    const struct pgo_value *vals;
};

struct pgo_callbacks {
    void *arg;
    int (*begin)(void *arg, uint64_t final_lsn, int64_t commit_ts, uint32_t xid);
    int (*commit)(void *arg, uint64_t commit_lsn, uint64_t end_lsn, int64_t commit_ts);
    int (*relation)(void *arg, const struct pgo_relation *);
    /* op 'I', 'U' or 'D'; oldkind 'K' (key only), 'O' (full) or 0 (none). */
    int (*change)(void *arg, char op, uint32_t relid, char oldkind, const struct pgo_tuple *oldt,
                  const struct pgo_tuple *newt);
    int (*truncate)(void *arg, const uint32_t *relids, uint32_t n);
};

struct pgo_decoder;

struct pgo_decoder *pgo_new(void);
void pgo_destroy(struct pgo_decoder **);
int pgo_decode(struct pgo_decoder *, const unsigned char *msg, size_t len,
               const struct pgo_callbacks *);

/* Big-endian helpers shared with the connector's framing. */
uint64_t pgo_be64(const unsigned char *);
void pgo_put_be64(unsigned char *, uint64_t);

/* Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
#define PGO_EPOCH_OFFSET_US 946684800000000LL

#endif
