/*
 * The binlog dump as a blocking iterator of raw events: the only code that
 * knows the client library's replication API.  This build uses MariaDB
 * Connector/C (Debian's default-libmysqlclient-dev); a build against Oracle's
 * libmysqlclient (mysql_binlog_open/mysql_binlog_fetch) would add a
 * binlog_fetch_mysql.c beside it with the same four functions.
 *
 * Blocking: call only from the connector's reader thread.  The connection
 * (MYSQL *) is the caller's; the fetch borrows it until closed.
 */
#ifndef TP_BINLOG_FETCH_H
#define TP_BINLOG_FETCH_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

struct bl_fetch;

struct bl_fetch_params {
    uint32_t server_id; /* ours, as a replica: unique among the server's replicas */
    const char *file;   /* "" with a GTID start */
    uint64_t pos;
    const char *gtid; /* MariaDB connect state, or NULL */
    unsigned heartbeat_ms;
};

/* 0, or -1 with errnum/err set (the server's error number when it has one). */
int bl_fetch_open(struct bl_fetch **, MYSQL *, const struct bl_fetch_params *, unsigned *errnum,
                  char *err, size_t errlen);
/*
 * The next event (header, body and checksum), borrowed until the next call:
 * 1 with *ev and *len set, or -1 with errnum/err set (connection lost, server
 * error such as 1236).  Heartbeats are returned like any event.
 */
int bl_fetch_next(struct bl_fetch *, const unsigned char **ev, size_t *len, unsigned *errnum,
                  char *err, size_t errlen);
void bl_fetch_close(struct bl_fetch **);

#endif
