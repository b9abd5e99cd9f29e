/*
 * tagpurge: purge HTTP caches from the database's own change stream.  This file
 * parses the command line and dispatches to the commands (cmd.h, cmd_*.c).
 *
 *   tagpurge run    -c FILE [-v]            run the broker in the foreground
 *   tagpurge check  -c FILE [--online]      validate config and mapping (and the servers)
 *   tagpurge tags   -c FILE --table T [--new JSON] [--old JSON]
 *   tagpurge replay -c FILE [--send] [--all] [--positional] --binlog FILE...
 *   tagpurge --version | --help
 *
 * Exit status: 0 success, 1 runtime failure, 2 bad usage or configuration.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "lib/obj.h"

#ifndef TAGPURGE_VERSION
#define TAGPURGE_VERSION "0"
#endif

static const char usage_text[] =
    "usage: tagpurge run   -c FILE [-v]\n"
    "       tagpurge check -c FILE [--online]\n"
    "       tagpurge tags  -c FILE --table SCHEMA.TABLE [--new JSON] [--old JSON]\n"
    "       tagpurge replay -c FILE [--send] [--all] [--positional] --binlog FILE...\n"
    "       tagpurge --version | --help\n"
    "\n"
    "  run    read every source, purge every sink node; logs to stderr\n"
    "  check  validate the config and its mapping without connecting (exit 0 when valid);\n"
    "         --online also connects to each source and reports every setting to fix\n"
    "         (exit 1 when there is one)\n"
    "  tags   print the tags one row change produces, one per line:\n"
    "         --new only = INSERT, --old only = DELETE, both = UPDATE.  Values are JSON\n"
    "         strings as the database prints them, integers, or null.\n"
    "  replay decode MySQL/MariaDB binlog files offline; print each transaction's end\n"
    "         position, GTID and tags (--all: also those without tags); --send purges\n"
    "         them through the configured sinks.  Sources may be empty.  --positional:\n"
    "         columns of tables logged without names (binlog_row_metadata below FULL)\n"
    "         are @1..@n, as mysqlbinlog shows them, instead of falling back.\n"
    "\n"
    "  -c, --config FILE   configuration file (JSON)\n"
    "  -v, --verbose       debug logging\n";

int
usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "tagpurge: %s%s%s\n\n%s", msg, arg ? ": " : "", arg ? arg : "", usage_text);
    return (EXIT_USAGE);
}

/* Options after the command word.  0, or EXIT_USAGE. */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},
        {"table", required_argument, NULL, 't'},
        {"new", required_argument, NULL, 'n'},
        {"old", required_argument, NULL, 'o'},
        {"binlog", required_argument, NULL, 'b'},
        {"send", no_argument, NULL, 's'},
        {"all", no_argument, NULL, 'a'},
        {"online", no_argument, NULL, 'O'},
        {"positional", no_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(o, 0, sizeof *o);
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":c:v", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 't':
            o->table = optarg;
            break;
        case 'n':
            o->newrow = optarg;
            break;
        case 'o':
            o->oldrow = optarg;
            break;
        case 'b':
            o->binlogs = tp_grow(o->binlogs, o->nbinlogs, sizeof *o->binlogs);
            o->binlogs[o->nbinlogs++] = optarg;
            break;
        case 's':
            o->send = 1;
            break;
        case 'a':
            o->all = 1;
            break;
        case 'O':
            o->online = 1;
            break;
        case 'p':
            o->positional = 1;
            break;
        case ':':
            return (usage_error("option needs a value", argv[optind - 1]));
        default:
            return (usage_error("unknown option", argv[optind - 1]));
        }
    }
    /* getopt moved the other file names after --binlog here, to the end. */
    while (o->binlogs != NULL && optind < argc) {
        o->binlogs = tp_grow(o->binlogs, o->nbinlogs, sizeof *o->binlogs);
        o->binlogs[o->nbinlogs++] = argv[optind++];
    }
    if (optind < argc)
        return (usage_error("unexpected argument", argv[optind]));
    if (o->config == NULL)
        return (usage_error("-c FILE is required", NULL));
    return (0);
}

struct config *
load_or_complain(const char *path)
{
    struct config *c;
    char err[2048];

    if (config_load(&c, path, err, sizeof err) != 0) {
        fprintf(stderr, "tagpurge: error: %s\n", err);
        return (NULL);
    }
    return (c);
}

int
main(int argc, char **argv)
{
    struct opts o;
    const char *cmd;
    int rv;

    if (argc < 2)
        return (usage_error("a command is required", NULL));
    cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return (0);
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("tagpurge %s\n", TAGPURGE_VERSION);
        return (0);
    }
    if (strcmp(cmd, "run") != 0 && strcmp(cmd, "check") != 0 && strcmp(cmd, "tags") != 0 &&
        strcmp(cmd, "replay") != 0)
        return (usage_error("unknown command", cmd));
    rv = parse_opts(argc - 1, argv + 1, &o);
    if (rv != 0) {
        free(o.binlogs);
        return (rv);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "tagpurge: curl_global_init failed\n");
        return (1);
    }
    if (strcmp(cmd, "check") == 0)
        rv = cmd_check(&o);
    else if (strcmp(cmd, "tags") == 0)
        rv = cmd_tags(&o);
    else if (strcmp(cmd, "replay") == 0)
        rv = cmd_replay(&o);
    else
        rv = cmd_run(&o);
    curl_global_cleanup();
    free(o.binlogs);
    return (rv);
}
