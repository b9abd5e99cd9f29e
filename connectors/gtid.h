/*
 * MariaDB GTID state strings, the @@gtid_binlog_pos form "D-S-N[,D-S-N...]":
 * one triple (domain, server id, sequence number) per domain.  This is what
 * the MySQL connector checkpoints and hands to @slave_connect_state, so a
 * state must never lose a domain.
 *
 * Pure functions on caller-owned buffers; any thread.
 */
#ifndef TP_GTID_H
#define TP_GTID_H

#include <stddef.h>
#include <stdint.h>

/* Parse one triple "D-S-N" (exactly, no spaces): 0, or -1 when malformed. */
int gtid_parse(const char *s, size_t len, uint32_t *domain, uint32_t *server, uint64_t *seq);

enum gtid_merge {
    GTID_REPLACE, /* the triple is the domain's newest (a GTID event in stream order) */
    GTID_HIGHER   /* keep whichever of the two has the higher sequence (a GTID_LIST) */
};

/*
 * Put triple into state (size bytes, NUL-terminated), replacing the entry of
 * its domain or appending one; the other domains stay as they are.  0, or -1
 * when triple or state is malformed or the result would not fit (state is
 * then unchanged).
 */
int gtid_state_merge(char *state, size_t size, const char *triple, enum gtid_merge how);

/* 1 when s is a well-formed state ("" included: no domain yet), else 0. */
int gtid_state_valid(const char *s);

#endif
