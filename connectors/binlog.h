/*
 * A decoder for a MySQL/MariaDB binlog event stream: raw events in (from a
 * binlog file or the replication protocol), committed transactions out.
 * Pure: no I/O, no loop, no threads of its own; the MySQL connector runs it
 * on its reader thread and `tagpurge replay` on files.
 *
 * Event bodies are decoded here, not by Connector/C (whose row extraction and
 * ROTATE parsing are broken in 3.3): FORMAT_DESCRIPTION, ROTATE, TABLE_MAP
 * with optional metadata, WRITE/UPDATE/DELETE_ROWS v1 and v2,
 * PARTIAL_UPDATE_ROWS, QUERY, XID, MariaDB GTID/GTID_LIST, MySQL
 * GTID/ANONYMOUS_GTID/GTID_TAGGED, TRANSACTION_PAYLOAD (zstd), XA_PREPARE.
 * Everything else is skipped by its length.
 *
 * Never silent: what cannot be decoded into rows (statement-format events and
 * DDL on a mapped table, compressed or malformed rows events, a table without
 * column names unless positional names are on) is reported through
 * broaden(), so that transaction purges the table's fallback tags.
 *
 * Every callback gets borrowed data valid only during the call.
 */
#ifndef TP_BINLOG_H
#define TP_BINLOG_H

#include <stddef.h>
#include <stdint.h>

#include "../broker/change.h"

struct bl_pos {
    char file[128];
    uint64_t pos;       /* offset of the next event in file */
    char gtid[256];     /* MariaDB: per-domain state "0-1-45,1-2-7"; MySQL: last "uuid:n" */
    uint32_t timestamp; /* of the ending event (seconds) */
};

struct bl_callbacks {
    void *arg;
    /* 1 when db.table is mapped: only those rows are decoded. */
    int (*mapped)(void *arg, const char *table);
    /*
     * Column names of db.table when TABLE_MAP carries none (binlog_row_metadata
     * below FULL): an array of ncols names, or NULL when unknown (the rows then
     * broaden).  Optional.
     */
    const char *const *(*names)(void *arg, const char *table, size_t ncols);
    /* DDL touched db.table: cached column names are stale.  Optional. */
    void (*schema_changed)(void *arg, const char *table);
    void (*begin)(void *arg);
    void (*change)(void *arg, const struct change *);
    /* Purge table's fallback tags (NULL: every mapped table); why is for logs. */
    void (*broaden)(void *arg, const char *table, const char *why);
    /* A statement-format event on a mapped table (counted). */
    void (*statement)(void *arg, const char *table);
    void (*commit)(void *arg, const struct bl_pos *);
    /* The open transaction rolled back or was cut: it purges nothing. */
    void (*abort)(void *arg);
    /*
     * A statement that is neither DML nor transaction control (DDL, GRANT,
     * ...), whatever tables it names: sql is its text.  Optional.
     */
    void (*ddl)(void *arg, const char *sql, size_t len);
};

struct bl_decoder;

struct bl_decoder *bl_new(const struct bl_callbacks *);
void bl_destroy(struct bl_decoder **);
/* Where the next event starts (a file's first event is at 4). */
void bl_set_position(struct bl_decoder *, const char *file, uint64_t pos);
/* MariaDB GTID state to start from ("" for none). */
void bl_set_gtid_state(struct bl_decoder *, const char *);
/*
 * Whether events carry a CRC32 before the first FORMAT_DESCRIPTION says so:
 * a network dump starts with an artificial ROTATE that already carries one.
 */
void bl_set_checksum(struct bl_decoder *, int);
/* Verify each event's CRC32 when the stream carries checksums (files; the
 * network client verifies them itself). */
void bl_set_verify(struct bl_decoder *, int);
/*
 * Offline only (`replay --positional`): when neither TABLE_MAP nor names()
 * gives column names, call them "@1".."@n" as mysqlbinlog does, instead of
 * broadening.  The online connector must not: a mapping written against real
 * names would silently see none of them.
 */
void bl_set_positional_names(struct bl_decoder *, int);
/*
 * Feed one whole event: the 19-byte header, the body and, when the stream
 * carries them, the 4 checksum bytes.  0, or -1 when the event is malformed
 * (logged; an open transaction is broadened for every mapped table).
 */
int bl_feed(struct bl_decoder *, const unsigned char *ev, size_t len);
int bl_in_txn(const struct bl_decoder *);
/* The position after the last committed transaction (where to resume). */
const struct bl_pos *bl_committed(const struct bl_decoder *);
/* The position after the last event fed (for an incomplete transaction). */
const struct bl_pos *bl_current(const struct bl_decoder *);

/* Event type codes used by the decoder and its callers. */
enum bl_event_type {
    BL_E_START_V3 = 1,
    BL_E_QUERY = 2,
    BL_E_STOP = 3,
    BL_E_ROTATE = 4,
    BL_E_INTVAR = 5,
    BL_E_RAND = 13,
    BL_E_USER_VAR = 14,
    BL_E_FDE = 15,
    BL_E_XID = 16,
    BL_E_BEGIN_LOAD_QUERY = 17,
    BL_E_EXECUTE_LOAD_QUERY = 18,
    BL_E_TABLE_MAP = 19,
    BL_E_WRITE_ROWS_V1 = 23,
    BL_E_UPDATE_ROWS_V1 = 24,
    BL_E_DELETE_ROWS_V1 = 25,
    BL_E_INCIDENT = 26,
    BL_E_HEARTBEAT = 27,
    BL_E_ROWS_QUERY = 29,
    BL_E_WRITE_ROWS_V2 = 30,
    BL_E_UPDATE_ROWS_V2 = 31,
    BL_E_DELETE_ROWS_V2 = 32,
    BL_E_GTID = 33,
    BL_E_ANONYMOUS_GTID = 34,
    BL_E_PREVIOUS_GTIDS = 35,
    BL_E_XA_PREPARE = 38,
    BL_E_PARTIAL_UPDATE_ROWS = 39,
    BL_E_TRANSACTION_PAYLOAD = 40,
    BL_E_HEARTBEAT_V2 = 41,
    BL_E_GTID_TAGGED = 42,
    BL_E_MARIA_ANNOTATE_ROWS = 160,
    BL_E_MARIA_BINLOG_CHECKPOINT = 161,
    BL_E_MARIA_GTID = 162,
    BL_E_MARIA_GTID_LIST = 163,
    BL_E_MARIA_START_ENCRYPTION = 164,
    BL_E_MARIA_QUERY_COMPRESSED = 165,
    BL_E_MARIA_WRITE_ROWS_COMPRESSED = 166,
    BL_E_MARIA_UPDATE_ROWS_COMPRESSED = 167,
    BL_E_MARIA_DELETE_ROWS_COMPRESSED = 168,
    BL_E_MARIA_WRITE_ROWS_COMPRESSED_V1 = 169,
    BL_E_MARIA_UPDATE_ROWS_COMPRESSED_V1 = 170,
    BL_E_MARIA_DELETE_ROWS_COMPRESSED_V1 = 171,
};

#define BL_HEADER_LEN      19
#define BL_FLAG_ARTIFICIAL 0x20

uint32_t bl_crc32(uint32_t crc, const unsigned char *p, size_t n);

#endif
