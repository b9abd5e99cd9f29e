/* broker/notify.c against a unix datagram socket standing in for systemd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../broker/notify.h"
#include "test.h"

struct mgr {
    int fd;
    char path[108];
};

/* Bind a receiving socket; abstract: NOTIFY_SOCKET gets "@name". */
static void
mgr_open(struct mgr *m, int abstract)
{
    struct sockaddr_un a;
    socklen_t alen;
    char env[sizeof m->path];

    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    ASSERT(m->fd >= 0);
    if (abstract) {
        snprintf(env, sizeof env, "@tp-test-notify-%d", (int)getpid());
        memcpy(a.sun_path + 1, env + 1, strlen(env) - 1);
        alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(env));
        m->path[0] = '\0';
    } else {
        snprintf(m->path, sizeof m->path, "/tmp/tp-test-notify-%d.sock", (int)getpid());
        unlink(m->path);
        snprintf(a.sun_path, sizeof a.sun_path, "%s", m->path);
        snprintf(env, sizeof env, "%s", m->path);
        alen = sizeof a;
    }
    ASSERT_EQ(0, bind(m->fd, (struct sockaddr *)&a, alen));
    ASSERT_EQ(0, setenv("NOTIFY_SOCKET", env, 1));
}

/* The next datagram ("" when none is queued). */
static const char *
mgr_recv(struct mgr *m)
{
    static char buf[512];
    ssize_t n = recv(m->fd, buf, sizeof buf - 1, 0);

    buf[n > 0 ? n : 0] = '\0';
    return (buf);
}

static void
mgr_close(struct mgr *m)
{
    close(m->fd);
    if (m->path[0] != '\0')
        unlink(m->path);
}

static void
status_fn(void *arg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", (const char *)arg);
}

static void
finish(struct notify **n, uv_loop_t *loop)
{
    notify_close(*n);
    ASSERT_EQ(0, uv_run(loop, UV_RUN_DEFAULT));
    notify_destroy(n);
    ASSERT(*n == NULL);
    ASSERT_EQ(0, uv_loop_close(loop));
}

TEST(unset_is_noop)
{
    struct notify *n;
    uv_loop_t loop;

    unsetenv("NOTIFY_SOCKET");
    ASSERT_EQ(0, setenv("WATCHDOG_USEC", "1000", 1));
    ASSERT_EQ(0, uv_loop_init(&loop));
    ASSERT_EQ(0, notify_new(&n, &loop, status_fn, "x"));
    ASSERT_EQ(0, notify_enabled(n));
    notify_ready(n);
    notify_reloading(n);
    notify_stopping(n);
    notify_status(n);
    /* No timer either: the loop has nothing to run. */
    ASSERT_EQ(0, uv_run(&loop, UV_RUN_NOWAIT));
    ASSERT(getenv("WATCHDOG_USEC") == NULL);
    finish(&n, &loop);
}

static void
messages(int abstract)
{
    struct notify *n;
    struct mgr m;
    uv_loop_t loop;
    char status[32] = "streaming 0/1";

    mgr_open(&m, abstract);
    ASSERT_EQ(0, uv_loop_init(&loop));
    ASSERT_EQ(0, notify_new(&n, &loop, status_fn, status));
    ASSERT_EQ(1, notify_enabled(n));
    ASSERT_EQ(0, notify_watchdog_usec(n));
    ASSERT(getenv("NOTIFY_SOCKET") == NULL);
    notify_status(n);
    ASSERT_STR_EQ(mgr_recv(&m), "STATUS=streaming 0/1");
    notify_status(n); /* unchanged: not sent again */
    ASSERT_STR_EQ(mgr_recv(&m), "");
    snprintf(status, sizeof status, "streaming 1/1");
    notify_ready(n);
    ASSERT_STR_EQ(mgr_recv(&m), "READY=1\nSTATUS=streaming 1/1");
    notify_reloading(n);
    ASSERT(strncmp(mgr_recv(&m), "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
    notify_stopping(n);
    ASSERT_STR_EQ(mgr_recv(&m), "STOPPING=1");
    finish(&n, &loop);
    mgr_close(&m);
}

TEST(path_socket)
{
    messages(0);
}

TEST(abstract_socket)
{
    messages(1);
}

static void
stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Pings for about 100 ms; how many WATCHDOG=1 arrived. */
static int
pings(const char *pid)
{
    struct notify *n;
    struct mgr m;
    uv_loop_t loop;
    uv_timer_t t;
    const char *msg;
    int count = 0;

    mgr_open(&m, 0);
    ASSERT_EQ(0, setenv("WATCHDOG_USEC", "20000", 1)); /* ping every 10 ms */
    if (pid != NULL)
        ASSERT_EQ(0, setenv("WATCHDOG_PID", pid, 1));
    else
        unsetenv("WATCHDOG_PID");
    ASSERT_EQ(0, uv_loop_init(&loop));
    ASSERT_EQ(0, notify_new(&n, &loop, status_fn, "s"));
    ASSERT(getenv("WATCHDOG_USEC") == NULL && getenv("WATCHDOG_PID") == NULL);
    ASSERT_EQ(0, uv_timer_init(&loop, &t));
    ASSERT_EQ(0, uv_timer_start(&t, stop_loop, 100, 0));
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    for (msg = mgr_recv(&m); *msg != '\0'; msg = mgr_recv(&m))
        if (strcmp(msg, "WATCHDOG=1") == 0)
            count++;
        else
            ASSERT_STR_EQ(msg, "STATUS=s");
    finish(&n, &loop);
    mgr_close(&m);
    return (count);
}

TEST(watchdog)
{
    char pid[32];
    int n = pings(NULL);

    ASSERT(n >= 5 && n <= 11);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    n = pings(pid);
    ASSERT(n >= 5 && n <= 11);
}

TEST(watchdog_other_pid)
{
    ASSERT_EQ(0, pings("1"));
}

TEST(unsupported_socket)
{
    struct notify *n;
    uv_loop_t loop;

    ASSERT_EQ(0, setenv("NOTIFY_SOCKET", "vsock:2:1234", 1));
    ASSERT_EQ(0, uv_loop_init(&loop));
    ASSERT_EQ(-1, notify_new(&n, &loop, status_fn, "x"));
    ASSERT_EQ(0, notify_enabled(n));
    notify_ready(n);
    finish(&n, &loop);
}

/* clang-format off */
TEST_MAIN(
    TEST_ENTRY(unset_is_noop)
    TEST_ENTRY(path_socket)
    TEST_ENTRY(abstract_socket)
    TEST_ENTRY(watchdog)
    TEST_ENTRY(watchdog_other_pid)
    TEST_ENTRY(unsupported_socket)
)
/* clang-format on */
