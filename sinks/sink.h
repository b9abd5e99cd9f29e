/*
 * The sink interface: how a purge target turns a tag list into HTTP requests.
 *
 * A sink type is a const table of function pointers registered by name in
 * sinks/sink.c (xkey, ban, http, ...).  A configured sink (struct sink, opaque) is
 * one "sinks" entry: its type, its nodes and the keys common to every type.
 * Delivery (queues, retries, connections) lives in sinks/fanout.c and is the
 * same for every type; adding a type never touches it or the pipeline.
 *
 * Header values in "headers" (and in "flush") are strings, or
 * {"env": NAME} / {"file": PATH} with an optional "prefix": secrets are read
 * once at load and never logged.
 *
 * Ownership: struct reqlist owns its requests and their strings.
 */
#ifndef TP_SINK_H
#define TP_SINK_H

#include <jansson.h>
#include <stddef.h>

struct cfg_ctx;

#define SINK_MAX_NODES 4096 /* listed nodes per sink; dns:// discovery is not bounded by it */

struct http_req {
    char *method;
    char *url;      /* NULL: the node's URL */
    char **headers; /* "Name: value" lines */
    size_t nheaders;
    char *body; /* NULL: no body */
    size_t bodylen;
};

struct reqlist {
    struct http_req *v;
    size_t n;
};

struct http_req *reqlist_add(struct reqlist *, const char *method);
void req_add_header(struct http_req *, const char *name, const char *value);
void req_add_line(struct http_req *, const char *line); /* "Name: value", copied */
void req_set_url(struct http_req *, const char *url);
void req_set_body(struct http_req *, const char *body, size_t len);
void reqlist_free(struct reqlist *);

/* Keys every sink has; the type supplies defaults for method and header. */
struct sink_common {
    const char *name;
    const char *method;
    const char *header;
    size_t max_header_bytes;
    size_t max_tag_bytes; /* the longest tag the mapping can produce */
    char **extra;         /* the "headers" lines "Name: value" (secrets resolved) */
    size_t nextra;
};

/*
 * Delivery options every sink has (README "Delivery"); the fan-out reads
 * them, sink types never do.
 */
struct sink_opts {
    const char *after;     /* NULL, or the sink whose acknowledgement comes first */
    long after_delay_ms;   /* and how long after it */
    double rate_per_s;     /* token bucket shared by the sink's nodes; 0: none */
    double rate_burst;     /* bucket size */
    long max_pending_tags; /* -1: the delivery default */
    const char *ca_file;   /* NULL: the system's CA store */
    const char *client_cert, *client_key;
    int tls_verify; /* 1 unless "tls_verify": false */
    int has_flush;  /* a "flush" request is configured */
};

struct sink; /* a configured sink (sink.c) */

struct sink_impl {
    const char *name;
    const char *default_method;
    const char *default_header;
    const char *const *keys; /* type-specific keys, NULL-terminated */
    /* Bytes the header value needs beyond the tags themselves. */
    size_t overhead;
    /*
     * 1: the type expands "headers" itself (templates), and c->extra is set
     * before configure runs; else configure runs first and the lines are
     * appended to every request verbatim.
     */
    int own_headers;
    int (*configure)(void **priv, const json_t *obj, struct sink_common *, struct cfg_ctx *);
    /* Worst-case encoded size of one tag (for config validation). */
    size_t (*tag_cost)(const char *tag);
    /*
     * Append the requests that purge tags[0..n) (sorted, distinct) on the node
     * at node_url to out.
     */
    void (*render)(const void *priv, const struct sink_common *, const char *node_url,
                   const char *const *tags, size_t n, struct reqlist *out);
    void (*destroy)(void *priv);
    /*
     * `tagpurge check --online` (NULL: none for the type): try the sink's
     * listed nodes with a purge of tag, which no page carries; print one line
     * per node and return the number of nodes to fix.  Synchronous, no loop.
     */
    int (*check_online)(const struct sink *, long timeout_ms, const char *tag);
};

int sink_configure(struct sink **, const json_t *obj, size_t max_tag_bytes, struct cfg_ctx *);
void sink_destroy(struct sink **);
const char *sink_name(const struct sink *);
size_t sink_nnodes(const struct sink *);
const char *sink_node(const struct sink *, size_t i);
const struct sink_opts *sink_opts(const struct sink *);
/* The request settings (TLS files, verification) of the sink's nodes. */
struct http_opts;
void sink_http_opts(const struct sink *, long timeout_ms, struct http_opts *out);
void sink_render(const struct sink *, const char *node_url, const char *const *tags, size_t n,
                 struct reqlist *out);
/* Append the configured "flush" request (purge everything) for node_url; needs has_flush. */
void sink_render_flush(const struct sink *, const char *node_url, struct reqlist *out);

/*
 * The type's check_online for the sink (a line on stderr and 0 when the type
 * has none).  The default for HTTP-purging types, sink_check_nodes_2xx: every
 * listed node must answer 2xx to the rendered purge of tag (timeout_ms each,
 * the sink's TLS settings); dns:// nodes are resolved at run time, skipped.
 */
int sink_check_online(const struct sink *, long timeout_ms, const char *tag);
int sink_check_nodes_2xx(const struct sink *, long timeout_ms, const char *tag);

/*
 * Split helper for impls: the end of the longest run of tags starting at
 * start whose costs plus one separator between each fit in budget.  Always
 * takes at least one tag.
 */
size_t sink_chunk_end(const char *const *tags, size_t n, size_t start, size_t budget,
                      size_t (*cost)(const char *));

#endif
