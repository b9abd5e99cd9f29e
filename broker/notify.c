/* sd_notify(3) spoken directly (notify.h): owns the datagram socket to $NOTIFY_SOCKET and the
 * watchdog timer. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/obj.h"
#include "notify.h"

/* STATUS= is refreshed at least this often, watchdog or not. */
#define STATUS_PERIOD_MS 5000

struct notify {
    unsigned magic;
#define NOTIFY_MAGIC 0x5d70e1f3
    int fd; /* -1: disabled, or closed */
    struct sockaddr_un addr;
    socklen_t addrlen;
    uint64_t wd_usec; /* 0: no watchdog */
    uv_timer_t timer;
    int timer_open; /* until the timer's close callback ran */
    int warned;     /* a failed send was logged; reset by a good one */
    notify_status_f *status;
    void *status_arg;
    char last_status[256];
};

static void
notify_send(struct notify *n, const char *msg)
{
    ssize_t r;

    if (n->fd < 0)
        return;
    do
        r = sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
                   n->addrlen);
    while (r < 0 && errno == EINTR);
    if (r < 0 && !n->warned) {
        log_warn("could not notify the service manager: %s", strerror(errno));
        n->warned = 1;
    } else if (r >= 0) {
        n->warned = 0;
    }
}

/* NOTIFY_SOCKET: "/path" or "@abstract".  0, or -1 (logged). */
static int
parse_socket(struct notify *n, const char *e)
{
    size_t len = strlen(e);

    if (e[0] != '/' && e[0] != '@') {
        log_warn("NOTIFY_SOCKET=%s: only path and abstract (@) sockets are supported: "
                 "not notifying the service manager",
                 e);
        return (-1);
    }
    if (len < 2 || len >= sizeof n->addr.sun_path) {
        log_warn("NOTIFY_SOCKET: bad length %zu: not notifying the service manager", len);
        return (-1);
    }
    n->addr.sun_family = AF_UNIX;
    memcpy(n->addr.sun_path, e, len);
    if (e[0] == '@')
        n->addr.sun_path[0] = '\0'; /* abstract: the name is the len bytes, no NUL */
    else
        len++; /* a path: include its NUL */
    n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    return (0);
}

/* WATCHDOG_USEC, unless WATCHDOG_PID names another process (sd_watchdog_enabled(3)). */
static uint64_t
parse_watchdog(void)
{
    const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    unsigned long long v, p;
    char *end;

    if (usec == NULL || *usec == '\0')
        return (0);
    errno = 0;
    v = strtoull(usec, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0) {
        log_warn("WATCHDOG_USEC=%s: not a positive number: no watchdog pings", usec);
        return (0);
    }
    if (pid != NULL && *pid != '\0') {
        errno = 0;
        p = strtoull(pid, &end, 10);
        if (errno != 0 || *end != '\0' || p != (unsigned long long)getpid()) {
            log_debug("WATCHDOG_PID=%s is not this process: no watchdog pings", pid);
            return (0);
        }
    }
    return ((uint64_t)v);
}

static void
tick_cb(uv_timer_t *t)
{
    struct notify *n;

    CAST_OBJ_NOTNULL(n, t->data, NOTIFY_MAGIC);
    if (n->wd_usec > 0)
        notify_send(n, "WATCHDOG=1");
    notify_status(n);
}

int
notify_new(struct notify **np, uv_loop_t *loop, notify_status_f *status, void *arg)
{
    struct notify *n;
    const char *e;
    uint64_t period_ms = STATUS_PERIOD_MS;
    int rv = 0;

    ALLOC_OBJ(n, NOTIFY_MAGIC);
    n->fd = -1;
    n->status = status;
    n->status_arg = arg;
    *np = n;
    e = getenv("NOTIFY_SOCKET");
    if (e == NULL || *e == '\0')
        goto out;
    if (parse_socket(n, e) != 0) {
        rv = -1;
        goto out;
    }
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (n->fd < 0) {
        log_warn("could not create the notification socket: %s", strerror(errno));
        rv = -1;
        goto out;
    }
    n->wd_usec = parse_watchdog();
    if (n->wd_usec > 0 && n->wd_usec / 2000 < period_ms)
        period_ms = n->wd_usec / 2000 > 0 ? n->wd_usec / 2000 : 1;
    AZ(uv_timer_init(loop, &n->timer));
    n->timer.data = n;
    n->timer_open = 1;
    AZ(uv_timer_start(&n->timer, tick_cb, period_ms, period_ms));
    log_debug("notifying the service manager at %s%s; watchdog %" PRIu64 " us, pinged every "
              "%" PRIu64 " ms",
              e, e[0] == '@' ? " (abstract)" : "", n->wd_usec, n->wd_usec > 0 ? period_ms : 0);
out:
    /* As sd_notify(unset_environment = 1): no child inherits them. */
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return (rv);
}

int
notify_enabled(const struct notify *n)
{
    CHECK_OBJ_NOTNULL(n, NOTIFY_MAGIC);
    return (n->fd >= 0);
}

uint64_t
notify_watchdog_usec(const struct notify *n)
{
    CHECK_OBJ_NOTNULL(n, NOTIFY_MAGIC);
    return (n->wd_usec);
}

/* The current status line; 1 when it differs from the last one sent. */
static int
status_changed(struct notify *n, char *buf, size_t len)
{
    buf[0] = '\0';
    if (n->status != NULL)
        n->status(n->status_arg, buf, len);
    return (strcmp(buf, n->last_status) != 0);
}

void
notify_status(struct notify *n)
{
    char st[sizeof n->last_status], msg[sizeof st + 16];

    CHECK_OBJ_NOTNULL(n, NOTIFY_MAGIC);
    if (n->fd < 0 || !status_changed(n, st, sizeof st))
        return;
    snprintf(msg, sizeof msg, "STATUS=%s", st);
    notify_send(n, msg);
    memcpy(n->last_status, st, sizeof st);
}

void
notify_ready(struct notify *n)
{
    char st[sizeof n->last_status], msg[sizeof st + 32];

    CHECK_OBJ_NOTNULL(n, NOTIFY_MAGIC);
    if (n->fd < 0)
        return;
    status_changed(n, st, sizeof st);
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", st);
    notify_send(n, msg);
    memcpy(n->last_status, st, sizeof st);
}

void
notify_reloading(struct notify *n)
{
    char msg[64];

    CHECK_OBJ_NOTNULL(n, NOTIFY_MAGIC);
    if (n->fd < 0)
        return;
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, clock_mono_us());
    notify_send(n, msg);
}

void
notify_stopping(struct notify *n)
{
    CHECK_OBJ_NOTNULL(n, NOTIFY_MAGIC);
    notify_send(n, "STOPPING=1");
}

static void
timer_closed(uv_handle_t *h)
{
    struct notify *n;

    CAST_OBJ_NOTNULL(n, h->data, NOTIFY_MAGIC);
    n->timer_open = 0;
}

void
notify_close(struct notify *n)
{
    CHECK_OBJ_NOTNULL(n, NOTIFY_MAGIC);
    if (n->timer_open && !uv_is_closing((uv_handle_t *)&n->timer))
        uv_close((uv_handle_t *)&n->timer, timer_closed);
    if (n->fd >= 0)
        AZ(close(n->fd));
    n->fd = -1;
}

void
notify_destroy(struct notify **np)
{
    struct notify *n = *np;

    if (n == NULL)
        return;
    CHECK_OBJ_NOTNULL(n, NOTIFY_MAGIC);
    AZ(n->timer_open); /* notify_close(), then the loop ran the close callback */
    if (n->fd >= 0)
        AZ(close(n->fd));
    FREE_OBJ(n);
    *np = NULL;
}
