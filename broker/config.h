/*
 * The loaded configuration: a plain record, read-only once config_load()
 * returned.  It owns the mapping, the sinks and each source's
 * connector-private state; config_destroy() frees them all.
 */
#ifndef TP_CONFIG_H
#define TP_CONFIG_H

#include <stddef.h>

#include "../sinks/fanout.h"

struct tagmap;
struct sink;
struct connector_impl;

struct source_cfg {
    char *name;
    const struct connector_impl *impl;
    void *priv; /* owned; impl->destroy() frees it */
};

struct config {
    char *path;
    char *state_dir;
    char listen[128];      /* status server "ADDR:PORT"; "": none */
    long drain_timeout_ms; /* SIGTERM: how long in-flight purges may take */
    int log_json;          /* "log_format": "json" */
    struct tagmap *map;    /* one reference, dropped by config_destroy() */
    char *map_sig;         /* canonical mapping text: a reload swaps the map only when it differs */
    char *restart_sig;     /* canonical text of sources, state_dir, max_txn_tags and listen */
    struct source_cfg *sources;
    size_t nsources;
    struct sink **sinks;
    size_t nsinks;
    struct delivery_cfg delivery;
    size_t max_txn_tags;
    size_t max_tag_bytes;
    char **warnings; /* "file:line:col: ..." for `check` */
    size_t nwarnings;
};

/* 0, or -1 with a "file:line:col: what" message in err. */
int config_load(struct config **, const char *path, char *err, size_t errlen);
void config_destroy(struct config **);

#endif
