/* The status HTTP server (status.h): owns the listener and each open connection on the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/list.h"
#include "lib/log.h"
#include "lib/obj.h"
#include "lib/sbuf.h"
#include "metrics.h"
#include "pipeline.h"
#include "status.h"

#define REQ_MAX 8192 /* request head limit: a status client sends a line and a few headers */

struct status {
    unsigned magic;
#define STATUS_MAGIC 0x57a7c5e1
    uv_loop_t *loop;
    struct pipeline *p;
    uv_tcp_t listener;
    int port;
    struct list_head conns;
    unsigned open; /* handles not yet closed */
    int closing;
    void (*done)(void *);
    void *done_arg;
};

/* One handle closed: the last one after status_close() frees st. */
static void
closed_one(struct status *st)
{
    void (*done)(void *);
    void *arg;

    AN(st->open > 0);
    if (--st->open > 0 || !st->closing)
        return;
    done = st->done;
    arg = st->done_arg;
    FREE_OBJ(st);
    if (done != NULL)
        done(arg);
}

/* One client connection; freed when its handle closes. */
struct sconn {
    unsigned magic;
#define SCONN_MAGIC 0x5c0ae17d
    struct status *st;
    uv_tcp_t tcp;
    char buf[REQ_MAX];
    size_t len;
    int answered, closing;
    struct waiter *wait;
    uv_write_t wr;
    struct sbuf out;
    struct list_link link; /* the status server's open connections */
};

static void
sconn_closed(uv_handle_t *h)
{
    struct sconn *c;
    struct status *st;

    CAST_OBJ_NOTNULL(c, h->data, SCONN_MAGIC);
    st = c->st;
    sbuf_free(&c->out);
    FREE_OBJ(c);
    closed_one(st);
}

static void
sconn_close(struct sconn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->wait != NULL) {
        pipeline_wait_cancel(c->wait);
        c->wait = NULL;
    }
    list_remove(&c->link);
    uv_close((uv_handle_t *)&c->tcp, sconn_closed);
}

static void
written(uv_write_t *wr, int status)
{
    struct sconn *c;

    (void)status;
    CAST_OBJ_NOTNULL(c, wr->data, SCONN_MAGIC);
    sconn_close(c);
}

static const char *
reason(int status)
{
    switch (status) {
    case 200:
        return ("OK");
    case 400:
        return ("Bad Request");
    case 404:
        return ("Not Found");
    case 405:
        return ("Method Not Allowed");
    case 408:
        return ("Request Timeout");
    case 431:
        return ("Request Header Fields Too Large");
    default:
        return ("Service Unavailable");
    }
}

static void
respond(struct sconn *c, int status, const char *ctype, const char *body, size_t len)
{
    uv_buf_t b;

    if (c->answered || c->closing)
        return;
    c->answered = 1;
    sbuf_printf(&c->out,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                "Connection: close\r\nCache-Control: no-store\r\n\r\n",
                status, reason(status), ctype, len);
    sbuf_printf(&c->out, "%.*s", (int)len, body);
    b = uv_buf_init(c->out.p, (unsigned)c->out.len);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, written) != 0)
        sconn_close(c);
}

static void
respond_json(struct sconn *c, int status, const char *json)
{
    respond(c, status, "application/json", json, strlen(json));
}

/* The answer to a /v1/wait, from the pipeline (maybe later). */
static void
wait_answer(void *arg, int status, const char *json)
{
    struct sconn *c;

    CAST_OBJ_NOTNULL(c, arg, SCONN_MAGIC);
    c->wait = NULL;
    respond_json(c, status, json);
}

static int
hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return (ch - '0');
    if (ch >= 'a' && ch <= 'f')
        return (ch - 'a' + 10);
    if (ch >= 'A' && ch <= 'F')
        return (ch - 'A' + 10);
    return (-1);
}

/* The percent-decoded value of key in query "a=b&c=d" into out; 0 when absent. */
static int
query_get(const char *query, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key), o = 0;
    const char *p = query;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            for (p += kl + 1; *p != '\0' && *p != '&' && o + 1 < outlen; p++) {
                if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
                    out[o++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
                    p += 2;
                } else {
                    out[o++] = *p == '+' ? ' ' : *p;
                }
            }
            out[o] = '\0';
            return (1);
        }
        p = strchr(p, '&');
        if (p != NULL)
            p++;
    }
    return (0);
}

static void
route_wait(struct sconn *c, const char *query)
{
    char source[256], pos[512], tmo[32];
    long timeout_ms = 10000;
    char *end;

    if (!query_get(query, "source", source, sizeof source) ||
        !query_get(query, "position", pos, sizeof pos)) {
        respond_json(c, 400, "{\"error\": \"source and position are required\"}\n");
        return;
    }
    if (query_get(query, "timeout_ms", tmo, sizeof tmo)) {
        timeout_ms = strtol(tmo, &end, 10);
        if (*end != '\0' || timeout_ms < 0 || timeout_ms > 3600000) {
            respond_json(c, 400, "{\"error\": \"timeout_ms: 0 to 3600000\"}\n");
            return;
        }
    }
    c->wait = pipeline_wait(c->st->p, source, pos, timeout_ms, wait_answer, c);
}

static void
route(struct sconn *c, const char *method, const char *target)
{
    char path[256];
    const char *q = strchr(target, '?');
    struct sbuf b = {0};
    size_t pl = q != NULL ? (size_t)(q - target) : strlen(target);

    snprintf(path, sizeof path, "%.*s", (int)pl, target);
    if (strcmp(method, "GET") != 0) {
        respond_json(c, 405, "{\"error\": \"GET only\"}\n");
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        metrics_render(c->st->p, &b);
        respond(c, 200, "text/plain; version=0.0.4", b.p, b.len);
    } else if (strcmp(path, "/healthz") == 0) {
        respond_json(c, 200, "{\"status\": \"alive\"}\n");
    } else if (strcmp(path, "/readyz") == 0) {
        struct sbuf why = {0};
        if (metrics_ready(c->st->p, &why)) {
            respond_json(c, 200, "{\"ready\": true}\n");
        } else {
            sbuf_printf(&b, "{\"ready\": false, \"reasons\": [%s]}\n", why.p);
            respond_json(c, 503, b.p);
        }
        sbuf_free(&why);
    } else if (strcmp(path, "/v1/wait") == 0) {
        route_wait(c, q != NULL ? q + 1 : "");
    } else {
        respond_json(c, 404, "{\"error\": \"not found\"}\n");
    }
    sbuf_free(&b);
}

/* "METHOD TARGET HTTP/1.x\r\n..." once the head is complete. */
static void
parse_request(struct sconn *c)
{
    char method[16], target[4096];

    if (sscanf(c->buf, "%15s %4095s HTTP/1.%*c", method, target) != 2) {
        respond_json(c, 400, "{\"error\": \"bad request line\"}\n");
        return;
    }
    route(c, method, target);
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct sconn *c;

    (void)suggested;
    CAST_OBJ_NOTNULL(c, h->data, SCONN_MAGIC);
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - 1 - c->len));
}

static void
read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct sconn *c;

    (void)b;
    CAST_OBJ_NOTNULL(c, s->data, SCONN_MAGIC);
    if (n < 0) {
        sconn_close(c); /* the client went away: a pending wait is cancelled */
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    if (c->answered || c->wait != NULL)
        return;
    if (strstr(c->buf, "\r\n\r\n") != NULL || strstr(c->buf, "\n\n") != NULL)
        parse_request(c);
    else if (c->len >= sizeof c->buf - 1)
        respond_json(c, 431, "{\"error\": \"request head too large\"}\n");
}

static void
accept_cb(uv_stream_t *server, int status)
{
    struct status *st;
    struct sconn *c;

    CAST_OBJ_NOTNULL(st, server->data, STATUS_MAGIC);
    if (status < 0)
        return;
    ALLOC_OBJ(c, SCONN_MAGIC);
    c->st = st;
    AZ(uv_tcp_init(st->loop, &c->tcp));
    c->tcp.data = c;
    st->open++;
    list_insert_head(&st->conns, &c->link);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        sconn_close(c);
}

/* "127.0.0.1:9187", "[::1]:9187", ":9187" (all IPv4 addresses). */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    const char *h = listen;
    size_t hl;
    long port;
    char *end;

    if (colon == NULL)
        return (-1);
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
        return (-1);
    hl = (size_t)(colon - listen);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return (-1);
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (hl == 0)
        strcpy(host, "0.0.0.0");
    if (strchr(host, ':') != NULL)
        return (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -1);
    return (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0 ? 0 : -1);
}

int
status_start(struct status **sp, uv_loop_t *loop, const char *listen, struct pipeline *p)
{
    struct sockaddr_storage ss;
    struct sockaddr_storage bound;
    struct status *st;
    int len = sizeof bound, r;

    *sp = NULL;
    memset(&ss, 0, sizeof ss);
    if (parse_listen(listen, &ss) != 0) {
        log_err("status: listen \"%s\": expected ADDR:PORT", listen);
        return (-1);
    }
    ALLOC_OBJ(st, STATUS_MAGIC);
    st->loop = loop;
    st->p = p;
    AZ(uv_tcp_init(loop, &st->listener));
    st->listener.data = st;
    st->open = 1;
    r = uv_tcp_bind(&st->listener, (const struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&st->listener, 64, accept_cb);
    if (r != 0) {
        log_err("status: cannot listen on %s: %s (set \"listen\" to a free address, or \"\" to "
                "turn the status server off)",
                listen, uv_strerror(r));
        *sp = st;
        return (-1);
    }
    if (uv_tcp_getsockname(&st->listener, (struct sockaddr *)&bound, &len) == 0)
        st->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
    log_info("status: listening on %s (port %d): /metrics /healthz /readyz /v1/wait", listen,
             st->port);
    *sp = st;
    return (0);
}

int
status_port(const struct status *st)
{
    CHECK_OBJ_NOTNULL(st, STATUS_MAGIC);
    return (st->port);
}

static void
listener_closed(uv_handle_t *h)
{
    struct status *st;

    CAST_OBJ_NOTNULL(st, h->data, STATUS_MAGIC);
    closed_one(st);
}

void
status_close(struct status *st, void (*done)(void *), void *arg)
{
    CHECK_OBJ_NOTNULL(st, STATUS_MAGIC);
    st->closing = 1;
    st->done = done;
    st->done_arg = arg;
    struct sconn *c;

    while ((c = LIST_FIRST(&st->conns, struct sconn, link)) != NULL)
        sconn_close(c);
    uv_close((uv_handle_t *)&st->listener, listener_closed);
}
