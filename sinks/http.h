/*
 * HTTP engine: libcurl's multi interface driven by the libuv loop (the shape
 * of curl's docs/examples/multi-uv.c, with every return code checked).  One
 * engine per process; the multi handle's connection cache keeps connections
 * to each node alive between requests.
 *
 * A transfer (struct http_xfer) is owned by its caller and carries at most
 * one request at a time; done() runs exactly once per started request, on the
 * loop thread, after the transfer is idle again (it may start the next one).
 */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include <uv.h>

struct http;
struct http_xfer;
struct http_req;

/*
 * status: the HTTP status, or 0 with err set (refused, timeout, ...).
 * retry_after_s: the answer's Retry-After in seconds (either form), or 0.
 */
typedef void http_done_f(void *arg, long status, long retry_after_s, const char *err,
                         const char *body);

/* Per-request settings; strings are borrowed for the call only. */
struct http_opts {
    long timeout_ms;
    const char *ca_file; /* NULL: the system store */
    const char *client_cert, *client_key;
    int tls_verify;
};

int http_new(struct http **, uv_loop_t *);
/* Close the engine once every transfer is destroyed; done(arg) after handles close. */
void http_close(struct http *, void (*done)(void *), void *arg);

struct http_xfer *http_xfer_new(struct http *);
/* Cancels a running request without calling its done(). */
void http_xfer_destroy(struct http_xfer **);
/* Send r to url (r->url wins when set); r's body is copied. */
int http_xfer_start(struct http_xfer *, const char *url, const struct http_req *,
                    const struct http_opts *, http_done_f *, void *arg);

/*
 * One blocking request, off the loop (for `check --online`): 0 with *status
 * set and the first line of the answer's body in err, or -1 with the reason
 * in err.
 */
int http_request_sync(const char *url, const struct http_req *, const struct http_opts *,
                      long *status, char *err, size_t errlen);

#endif
