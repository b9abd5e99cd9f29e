/* dns:// node discovery: spec parsing, hosts files, getaddrinfo() answers. */
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../sinks/discover.h"
#include "test.h"

TEST(parse_valid)
{
    struct dns_spec d;

    ASSERT(discover_is_dns("dns://x:1"));
    ASSERT(!discover_is_dns("http://x:1"));
    ASSERT_EQ(discover_parse("dns://cache.test:6081", &d), 0);
    ASSERT_STR_EQ(d.host, "cache.test");
    ASSERT_STR_EQ(d.port, "6081");
    ASSERT_STR_EQ(d.path, "");
    ASSERT_EQ(discover_parse("dns://Cache.Test:80/purge/x", &d), 0);
    ASSERT_STR_EQ(d.host, "Cache.Test");
    ASSERT_STR_EQ(d.port, "80");
    ASSERT_STR_EQ(d.path, "/purge/x");
    ASSERT_EQ(discover_parse("dns://h:1/", &d), 0);
    ASSERT_STR_EQ(d.path, "/");
}

TEST(parse_invalid)
{
    static const char *const bad[] = {
        "dns://cache.test",            /* no port */
        "dns://cache.test:",           /* empty port */
        "dns://cache.test:http",       /* non-digit port */
        "dns://cache.test:80x",        /* junk after the port */
        "dns://cache.test:80?q",       /* junk after the port */
        "dns://cache.test:123456789/", /* port too long */
        "http://cache.test:80",        /* not dns:// */
        "DNS://cache.test:80",         /* scheme is case-sensitive */
        "cache.test:80",               /* no scheme */
        "dns://:80",                   /* empty host */
        "dns://:80/p",                 /* empty host */
        "",
    };
    struct dns_spec d;
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (discover_parse(bad[i], &d) != -1)
            FAILF("discover_parse(\"%s\") accepted", bad[i]);
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ASSERT(f != NULL);
    ASSERT(fputs(text, f) >= 0);
    ASSERT_EQ(fclose(f), 0);
}

static const char HOSTS[] = "# hosts for the test\n"
                            "\n"
                            "   \n"
                            "127.0.0.1\tlocalhost\n"
                            "127.0.0.2 other.test CACHE.test # a comment\n"
                            "::1 ip6-localhost cache.test\n"
                            "127.0.0.3 other.test\n"
                            "# 127.0.0.9 cache.test\n"
                            "127.0.0.2   a b\tc Cache.Test\n" /* duplicate, 4th alias */
                            "::1 cache.test\n"                /* duplicate */
                            "not-an-address cache.test\n"
                            "127.0.0.4 cache.testx xcache.test\n"
                            "127.0.0.5 cache.test\r\n";

TEST(hosts_file)
{
    char path[] = "/tmp/tp-test-hosts-XXXXXX";
    struct dns_spec d;
    char **urls;
    size_t n;
    int fd = mkstemp(path);

    ASSERT(fd >= 0);
    close(fd);
    write_file(path, HOSTS);

    ASSERT_EQ(discover_parse("dns://cache.test:6081/path", &d), 0);
    ASSERT_EQ(discover_hosts_file(path, &d, &urls, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_STR_EQ(urls[0], "http://127.0.0.2:6081/path");
    ASSERT_STR_EQ(urls[1], "http://127.0.0.5:6081/path");
    ASSERT_STR_EQ(urls[2], "http://[::1]:6081/path");
    discover_free(urls, n);

    /* No path: "/". */
    ASSERT_EQ(discover_parse("dns://other.test:6081", &d), 0);
    ASSERT_EQ(discover_hosts_file(path, &d, &urls, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(urls[0], "http://127.0.0.2:6081/");
    ASSERT_STR_EQ(urls[1], "http://127.0.0.3:6081/");
    discover_free(urls, n);

    /* A name that is not there: no URLs, not an error. */
    ASSERT_EQ(discover_parse("dns://missing.test:6081", &d), 0);
    n = 7;
    ASSERT_EQ(discover_hosts_file(path, &d, &urls, &n), 0);
    ASSERT_EQ(n, 0);
    ASSERT(urls == NULL);
    discover_free(urls, n);

    ASSERT_EQ(unlink(path), 0);
}

TEST(hosts_file_spec_example)
{
    char path[] = "/tmp/tp-test-hosts-XXXXXX";
    struct dns_spec d;
    char **urls;
    size_t n;
    int fd = mkstemp(path);

    ASSERT(fd >= 0);
    close(fd);
    write_file(path, "127.0.0.2 cache.test\n::1 a cache.test\n127.0.0.2 x CACHE.TEST\n");
    ASSERT_EQ(discover_parse("dns://cache.test:6081", &d), 0);
    ASSERT_EQ(discover_hosts_file(path, &d, &urls, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(urls[0], "http://127.0.0.2:6081/");
    ASSERT_STR_EQ(urls[1], "http://[::1]:6081/");
    discover_free(urls, n);
    ASSERT_EQ(discover_parse("dns://cache.test:6081/path", &d), 0);
    ASSERT_EQ(discover_hosts_file(path, &d, &urls, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(urls[0], "http://127.0.0.2:6081/path");
    ASSERT_STR_EQ(urls[1], "http://[::1]:6081/path");
    discover_free(urls, n);
    ASSERT_EQ(unlink(path), 0);
}

TEST(hosts_file_unreadable)
{
    char dir[] = "/tmp/tp-test-hosts-XXXXXX";
    char path[64];
    struct dns_spec d;
    char **urls;
    size_t n = 7;

    ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/none", dir);
    ASSERT_EQ(discover_parse("dns://cache.test:6081", &d), 0);
    ASSERT_EQ(discover_hosts_file(path, &d, &urls, &n), -1);
    ASSERT_EQ(n, 0);
    ASSERT(urls == NULL);
    /* A directory opens but fails to read (as root too, unlike a mode 000 file): an error,
     * not "no addresses", or the caller would drop every node of the name. */
    n = 7;
    ASSERT_EQ(discover_hosts_file(dir, &d, &urls, &n), -1);
    ASSERT_EQ(n, 0);
    ASSERT(urls == NULL);
    if (geteuid() != 0) { /* root reads a mode 000 file */
        FILE *f;
        snprintf(path, sizeof path, "%s/locked", dir);
        f = fopen(path, "w");
        ASSERT(f != NULL);
        fputs("127.0.0.2 cache.test\n", f);
        fclose(f);
        ASSERT_EQ(chmod(path, 0), 0);
        ASSERT_EQ(discover_hosts_file(path, &d, &urls, &n), -1);
        ASSERT_EQ(unlink(path), 0);
    }
    ASSERT_EQ(rmdir(dir), 0);
}

static struct addrinfo *
numeric(const char *host, int family)
{
    struct addrinfo hints, *ai = NULL;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_flags = AI_NUMERICHOST;
    rc = getaddrinfo(host, "6081", &hints, &ai);
    if (rc != 0)
        FAILF("getaddrinfo(%s): %s", host, gai_strerror(rc));
    return (ai);
}

TEST(from_addrinfo)
{
    struct addrinfo *a4 = numeric("127.0.0.1", AF_UNSPEC), *a6 = numeric("::1", AF_INET6);
    struct addrinfo *last;
    struct dns_spec d;
    char **urls;
    size_t n;

    ASSERT_EQ(discover_parse("dns://cache.test:6081", &d), 0);
    discover_from_addrinfo(a4, &d, &urls, &n);
    ASSERT(n >= 1);
    for (size_t i = 0; i < n; i++) /* one per socket type, all the same address */
        ASSERT_STR_EQ(urls[i], "http://127.0.0.1:6081/");
    ASSERT_EQ(n, 1);
    discover_free(urls, n);

    ASSERT_EQ(discover_parse("dns://cache.test:6081/path", &d), 0);
    discover_from_addrinfo(a6, &d, &urls, &n);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(urls[0], "http://[::1]:6081/path");
    discover_free(urls, n);

    /* Both answers chained (as a name with A and AAAA records): sorted, distinct. */
    for (last = a6; last->ai_next != NULL; last = last->ai_next)
        ;
    last->ai_next = a4;
    discover_from_addrinfo(a6, &d, &urls, &n);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(urls[0], "http://127.0.0.1:6081/path");
    ASSERT_STR_EQ(urls[1], "http://[::1]:6081/path");
    discover_free(urls, n);
    last->ai_next = NULL;

    /* Nothing: no URLs. */
    discover_from_addrinfo(NULL, &d, &urls, &n);
    ASSERT_EQ(n, 0);
    ASSERT(urls == NULL);

    freeaddrinfo(a4);
    freeaddrinfo(a6);
}

TEST_MAIN(TEST_ENTRY(parse_valid) TEST_ENTRY(parse_invalid) TEST_ENTRY(hosts_file)
              TEST_ENTRY(hosts_file_spec_example) TEST_ENTRY(hosts_file_unreadable)
                  TEST_ENTRY(from_addrinfo))
