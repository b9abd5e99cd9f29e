/* The HTTP engine (http.h): owns the curl multi handle, its libuv timer and one uv_poll per
 * socket curl opens, and each transfer until its callback returns. */
#include <curl/curl.h>
#include <string.h>

#include "../broker/lib/list.h"
#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "http.h"
#include "sink.h"

#ifndef TAGPURGE_VERSION
#define TAGPURGE_VERSION "0"
#endif

struct http {
    unsigned magic;
#define HTTP_MAGIC 0x4c7b1d02
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    unsigned nsocks; /* open uv_poll handles */
    struct list_head socks;
    int closing;
    int in_timer; /* inside timer_cb */
    void (*closed)(void *);
    void *closed_arg;
};

/* One per socket curl tells us about; freed in the uv_close callback. */
struct http_sock {
    unsigned magic;
#define HTTP_SOCK_MAGIC 0x2f0a94c3
    uv_poll_t poll;
    curl_socket_t fd;
    struct http *h;
    struct list_link link; /* every open one, for http_close() */
};

struct http_xfer {
    unsigned magic;
#define HTTP_XFER_MAGIC 0x7d31e6b5
    struct http *h;
    CURL *easy;
    struct curl_slist *hdrs;
    int busy;
    http_done_f *done;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    char body[256]; /* start of the response body, for error messages */
    size_t bodylen;
};

static void check_done(struct http *);
static void maybe_closed(struct http *);

static void
sock_closed(uv_handle_t *hd)
{
    struct http_sock *hs;
    struct http *h;

    CAST_OBJ_NOTNULL(hs, hd->data, HTTP_SOCK_MAGIC);
    h = hs->h;
    list_remove(&hs->link);
    FREE_OBJ(hs);
    h->nsocks--;
    maybe_closed(h);
}

static void
poll_cb(uv_poll_t *p, int status, int events)
{
    struct http_sock *hs;
    int flags = 0, running;

    CAST_OBJ_NOTNULL(hs, p->data, HTTP_SOCK_MAGIC);
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    /* hs may be freed inside socket_action (CURL_POLL_REMOVE): keep h. */
    struct http *h = hs->h;
    (void)curl_multi_socket_action(h->multi, hs->fd, flags, &running);
    check_done(h);
}

static int
sock_cb(CURL *e, curl_socket_t fd, int action, void *userp, void *socketp)
{
    struct http *h = userp;
    struct http_sock *hs = socketp;
    int events = 0;

    (void)e;
    CHECK_OBJ_NOTNULL(h, HTTP_MAGIC);
    if (action == CURL_POLL_REMOVE) {
        if (hs != NULL && !uv_is_closing((uv_handle_t *)&hs->poll)) {
            uv_poll_stop(&hs->poll);
            uv_close((uv_handle_t *)&hs->poll, sock_closed);
            if (!h->closing)
                (void)curl_multi_assign(h->multi, fd, NULL);
        }
        return (0);
    }
    if (h->closing)
        return (0);
    if (hs == NULL) {
        ALLOC_OBJ(hs, HTTP_SOCK_MAGIC);
        hs->fd = fd;
        hs->h = h;
        AZ(uv_poll_init_socket(h->loop, &hs->poll, fd));
        hs->poll.data = hs;
        list_insert_head(&h->socks, &hs->link);
        h->nsocks++;
        if (curl_multi_assign(h->multi, fd, hs) != CURLM_OK)
            log_err("http: curl_multi_assign failed");
    }
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    AZ(uv_poll_start(&hs->poll, events, poll_cb));
    return (0);
}

static void
timer_cb(uv_timer_t *t)
{
    struct http *h;
    int running;

    CAST_OBJ_NOTNULL(h, t->data, HTTP_MAGIC);
    h->in_timer = 1;
    (void)curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
    h->in_timer = 0;
}

static int
timer_fn(CURLM *m, long timeout_ms, void *userp)
{
    struct http *h = userp;

    (void)m;
    CHECK_OBJ_NOTNULL(h, HTTP_MAGIC);
    if (timeout_ms < 0) {
        uv_timer_stop(&h->timer);
    } else {
        /*
         * 0 means "as soon as possible", never from inside this callback: a
         * 0 ms timer runs at the next loop iteration. A new request (curl asks
         * 0 when a handle is added) then goes out at once instead of up to
         * 1-2 ms later. Inside timer_cb it stays 1 ms: libuv 1.44 would run a
         * 0 ms timer started there again in the same pass, without polling.
         */
        uint64_t ms = timeout_ms > 0 ? (uint64_t)timeout_ms : h->in_timer ? 1 : 0;
        AZ(uv_timer_start(&h->timer, timer_cb, ms, 0));
    }
    return (0);
}

static void
check_done(struct http *h)
{
    struct http_xfer *x;
    CURLMsg *msg;
    long status = 0;
    char *priv;
    int left;

    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        AZ(curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv));
        CAST_OBJ_NOTNULL(x, (struct http_xfer *)(void *)priv, HTTP_XFER_MAGIC);
        CURLcode res = msg->data.result;
        curl_off_t ra = 0;
        if (res == CURLE_OK &&
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
            status = 0;
        if (res != CURLE_OK || curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK ||
            ra < 0)
            ra = 0;
        if (curl_multi_remove_handle(h->multi, x->easy) != CURLM_OK)
            log_err("http: curl_multi_remove_handle failed");
        x->busy = 0;
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
        x->body[x->bodylen] = '\0';
        x->done(x->arg, res == CURLE_OK ? status : 0, (long)ra,
                res == CURLE_OK ? NULL : (x->errbuf[0] ? x->errbuf : curl_easy_strerror(res)),
                x->body);
    }
}

int
http_new(struct http **hp, uv_loop_t *loop)
{
    struct http *h;

    ALLOC_OBJ(h, HTTP_MAGIC);
    h->loop = loop;
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        FREE_OBJ(h);
        return (-1);
    }
    /* Options before the timer: a failure has only the multi handle to undo. */
    if (curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) != CURLM_OK ||
        curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) != CURLM_OK ||
        curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_fn) != CURLM_OK ||
        curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h) != CURLM_OK) {
        log_err("http: curl_multi_setopt failed");
        (void)curl_multi_cleanup(h->multi);
        FREE_OBJ(h);
        return (-1);
    }
    AZ(uv_timer_init(loop, &h->timer));
    h->timer.data = h;
    *hp = h;
    return (0);
}

static void
timer_closed(uv_handle_t *hd)
{
    struct http *h;

    CAST_OBJ_NOTNULL(h, hd->data, HTTP_MAGIC);
    h->timer.data = NULL;
    maybe_closed(h);
}

static void
maybe_closed(struct http *h)
{
    void (*done)(void *);
    void *arg;

    if (!h->closing || h->nsocks > 0 || h->timer.data != NULL)
        return;
    done = h->closed;
    arg = h->closed_arg;
    FREE_OBJ(h);
    if (done != NULL)
        done(arg);
}

void
http_close(struct http *h, void (*done)(void *), void *arg)
{
    struct http_sock *hs;

    CHECK_OBJ_NOTNULL(h, HTTP_MAGIC);
    h->closing = 1;
    h->closed = done;
    h->closed_arg = arg;
    /* Cleanup closes curl's cached connections; close any poll it left. */
    (void)curl_multi_cleanup(h->multi);
    h->multi = NULL;
    LIST_FOREACH (hs, &h->socks, struct http_sock, link)
        if (!uv_is_closing((uv_handle_t *)&hs->poll)) {
            uv_poll_stop(&hs->poll);
            uv_close((uv_handle_t *)&hs->poll, sock_closed);
        }
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, timer_closed);
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_xfer *x = userdata;
    size_t n = size * nmemb, room = sizeof x->body - 1 - x->bodylen;

    memcpy(x->body + x->bodylen, ptr, n < room ? n : room);
    x->bodylen += n < room ? n : room;
    return (n);
}

struct http_xfer *
http_xfer_new(struct http *h)
{
    struct http_xfer *x;

    CHECK_OBJ_NOTNULL(h, HTTP_MAGIC);
    ALLOC_OBJ(x, HTTP_XFER_MAGIC);
    x->h = h;
    x->easy = curl_easy_init();
    AN(x->easy);
    return (x);
}

void
http_xfer_destroy(struct http_xfer **xp)
{
    struct http_xfer *x = *xp;

    if (x == NULL)
        return;
    CHECK_OBJ_NOTNULL(x, HTTP_XFER_MAGIC);
    if (x->busy && x->h->multi != NULL)
        (void)curl_multi_remove_handle(x->h->multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    FREE_OBJ(x);
    *xp = NULL;
}

static int
set_headers(struct http_xfer *x, const struct http_req *r)
{
    struct curl_slist *l;
    size_t i;

    l = curl_slist_append(NULL, "User-Agent: tagpurge/" TAGPURGE_VERSION);
    /* No Accept; no Expect: 100-continue round trip before a body. */
    l = l ? curl_slist_append(l, "Accept:") : NULL;
    l = l ? curl_slist_append(l, "Expect:") : NULL;
    for (i = 0; l != NULL && i < r->nheaders; i++)
        l = curl_slist_append(l, r->headers[i]);
    if (l == NULL)
        return (-1);
    x->hdrs = l;
    return (0);
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (curl_easy_setopt(x->easy, opt, val) != CURLE_OK) {                                     \
            log_err("http: curl_easy_setopt(%s) failed", #opt);                                    \
            return (-1);                                                                           \
        }                                                                                          \
    } while (0)

static int
set_body(struct http_xfer *x, const struct http_req *r)
{
    if (r->body == NULL) {
        /* Back to a bodyless request on a reused handle; the custom method stays. */
        SETOPT(CURLOPT_HTTPGET, 1L);
        return (0);
    }
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->bodylen);
    SETOPT(CURLOPT_COPYPOSTFIELDS, r->body);
    return (0);
}

static int
set_tls(struct http_xfer *x, const struct http_opts *o)
{
    SETOPT(CURLOPT_SSL_VERIFYPEER, o->tls_verify ? 1L : 0L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, o->tls_verify ? 2L : 0L);
    /* Only ever set: NULL would drop curl's built-in CA store.  (A sink whose TLS files
     * change on reload gets a new transfer.) */
    if (o->ca_file != NULL)
        SETOPT(CURLOPT_CAINFO, o->ca_file);
    if (o->client_cert != NULL)
        SETOPT(CURLOPT_SSLCERT, o->client_cert);
    if (o->client_key != NULL)
        SETOPT(CURLOPT_SSLKEY, o->client_key);
    return (0);
}

/* Everything a request needs on x's easy handle; shared by the loop and the blocking path. */
static int
prepare(struct http_xfer *x, const char *url, const struct http_req *r, const struct http_opts *o)
{
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    if (set_headers(x, r) != 0)
        return (-1);
    x->errbuf[0] = '\0';
    x->bodylen = 0;
    if (set_body(x, r) != 0 || set_tls(x, o) != 0)
        return (-1);
    SETOPT(CURLOPT_URL, r->url != NULL ? r->url : url);
    SETOPT(CURLOPT_CUSTOMREQUEST, r->method);
    SETOPT(CURLOPT_HTTPHEADER, x->hdrs);
    SETOPT(CURLOPT_TIMEOUT_MS, o->timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
    SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(CURLOPT_WRITEDATA, x);
    SETOPT(CURLOPT_PRIVATE, (char *)x);
    return (0);
}

int
http_xfer_start(struct http_xfer *x, const char *url, const struct http_req *r,
                const struct http_opts *o, http_done_f *done, void *arg)
{
    CHECK_OBJ_NOTNULL(x, HTTP_XFER_MAGIC);
    AZ(x->busy);
    if (prepare(x, url, r, o) != 0)
        return (-1);
    x->done = done;
    x->arg = arg;
    if (curl_multi_add_handle(x->h->multi, x->easy) != CURLM_OK) {
        log_err("http: curl_multi_add_handle failed");
        return (-1);
    }
    x->busy = 1;
    return (0);
}

/* For `check --online`, off the loop: the same request set-up, performed at once. */
int
http_request_sync(const char *url, const struct http_req *r, const struct http_opts *o,
                  long *status, char *err, size_t errlen)
{
    struct http_xfer x;
    CURLcode res;
    int rv = -1;

    memset(&x, 0, sizeof x);
    x.magic = HTTP_XFER_MAGIC;
    x.easy = curl_easy_init();
    if (x.easy == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        return (-1);
    }
    if (prepare(&x, url, r, o) != 0) {
        snprintf(err, errlen, "could not set up the request");
        goto out;
    }
    res = curl_easy_perform(x.easy);
    if (res != CURLE_OK) {
        snprintf(err, errlen, "%s", x.errbuf[0] ? x.errbuf : curl_easy_strerror(res));
        goto out;
    }
    if (curl_easy_getinfo(x.easy, CURLINFO_RESPONSE_CODE, status) != CURLE_OK)
        *status = 0;
    x.body[x.bodylen] = '\0';
    snprintf(err, errlen, "%.*s", (int)strcspn(x.body, "\r\n"), x.body);
    rv = 0;
out:
    curl_slist_free_all(x.hdrs);
    curl_easy_cleanup(x.easy);
    return (rv);
}
