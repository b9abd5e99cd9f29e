/*
 * `tagpurge replay`: decode binlog files offline and print each
 * transaction's end position and tags, one line each:
 *
 *   binlog.000002:1234 0-1-45 product-1 category-3 product-list
 *
 * A transaction cut by the end of the last file (no COMMIT) is printed too,
 * marked "incomplete".  With send, the tags of every transaction (incomplete
 * ones included: purging too much is safe) go through the configured sinks.
 *
 * Foreign-key cascades (my_cascade.c) are not derived: the edges come from a
 * server's information_schema, which a file does not carry.
 */
#ifndef TP_REPLAY_H
#define TP_REPLAY_H

#include <stddef.h>

struct config;

/*
 * Exit status: 0, 1 when a file could not be read or delivery failed.  With
 * positional, columns of a TABLE_MAP without names are "@1".."@n".
 */
int binlog_replay(const struct config *, char *const *files, size_t nfiles, int send, int all,
                  int positional);

#endif
