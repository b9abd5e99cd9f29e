/*
 * The commands of the tagpurge binary (README "Layout"): main.c parses the
 * arguments into struct opts and calls one cmd_*(), which owns everything it
 * creates and returns the exit status: 0 success, 1 runtime failure, 2
 * (EXIT_USAGE) bad usage or configuration.  Single-threaded callers.
 *
 *   cmd_run.c     run: the loop, the pipeline, signals, reload, sd_notify
 *   cmd_check.c   check [--online]: config and mapping, then sources and sinks
 *   cmd_tags.c    tags: the tags one row change produces
 *   cmd_replay.c  replay: binlog files offline, printed or sent to the sinks
 */
#ifndef TP_CMD_H
#define TP_CMD_H

#include <stddef.h>

#define EXIT_USAGE 2

/* Options after the command word; borrowed from argv (binlogs: owned array). */
struct opts {
    const char *config;
    char **binlogs;
    size_t nbinlogs;
    int send, all, positional, online;
    const char *table;
    const char *newrow, *oldrow;
    int verbose;
};

int cmd_run(const struct opts *);
int cmd_check(const struct opts *);
int cmd_tags(const struct opts *);
int cmd_replay(const struct opts *);

/* Shared by the commands (main.c). */
struct config;
/* Print "tagpurge: msg: arg" and the usage text on stderr; returns EXIT_USAGE. */
int usage_error(const char *msg, const char *arg);
/* Load the configuration, or print its error on stderr and return NULL. */
struct config *load_or_complain(const char *path);

#endif
