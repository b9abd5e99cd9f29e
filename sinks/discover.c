/* Node discovery helpers (discover.h): parsing dns:// specs, hosts-file lookups and
 * addrinfo results turned into node URLs the caller owns. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../broker/lib/obj.h"
#include "../broker/lib/strv.h"
#include "discover.h"

int
discover_is_dns(const char *s)
{
    return (strncmp(s, "dns://", 6) == 0);
}

#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"

int
discover_parse(const char *spec, struct dns_spec *out)
{
    const char *p, *colon;
    size_t hl, pl;

    memset(out, 0, sizeof *out);
    if (!discover_is_dns(spec))
        return (-1);
    p = spec + 6;
    colon = strchr(p, ':');
    if (colon == NULL)
        return (-1);
    hl = (size_t)(colon - p);
    pl = strspn(colon + 1, "0123456789");
    /* A host name (letters, digits, . - _), and a port of at most 5 digits. */
    if (hl == 0 || hl >= sizeof out->host || strspn(p, HOST_CHARS) != hl || pl == 0 || pl > 5)
        return (-1);
    memcpy(out->host, p, hl);
    memcpy(out->port, colon + 1, pl);
    p = colon + 1 + pl;
    if (*p != '\0' && *p != '/')
        return (-1);
    if (strlen(p) >= sizeof out->path)
        return (-1);
    strcpy(out->path, p);
    return (0);
}

static int
cmp_str(const void *a, const void *b)
{
    return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Sort and drop duplicates in place. */
static void
uniq(char **urls, size_t *n)
{
    size_t i, j = 0;

    if (*n == 0)
        return; /* urls may be NULL: not for qsort */
    qsort(urls, *n, sizeof *urls, cmp_str);
    for (i = 0; i < *n; i++) {
        if (j > 0 && strcmp(urls[j - 1], urls[i]) == 0) {
            free(urls[i]);
            continue;
        }
        urls[j++] = urls[i];
    }
    *n = j;
}

static void
add_url(char ***urls, size_t *n, const char *addr, int v6, const struct dns_spec *d)
{
    char buf[1024];

    snprintf(buf, sizeof buf, v6 ? "http://[%s]:%s%s" : "http://%s:%s%s", addr, d->port,
             d->path[0] != '\0' ? d->path : "/");
    strv_push(urls, n, buf);
}

/* One hosts-file line: an address, then names; '#' starts a comment. */
static void
hosts_line(char *line, const struct dns_spec *d, char ***urls, size_t *n)
{
    unsigned char bin[16];
    char *save = NULL, *addr, *name;
    int v6;

    line[strcspn(line, "#\r\n")] = '\0';
    addr = strtok_r(line, " \t", &save);
    if (addr == NULL)
        return;
    v6 = strchr(addr, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
        return;
    while ((name = strtok_r(NULL, " \t", &save)) != NULL)
        if (strcasecmp(name, d->host) == 0) {
            add_url(urls, n, addr, v6, d);
            return;
        }
}

int
discover_hosts_file(const char *file, const struct dns_spec *d, char ***urls, size_t *n)
{
    char line[4096];
    FILE *f;

    *urls = NULL;
    *n = 0;
    f = fopen(file, "r");
    if (f == NULL)
        return (-1);
    while (fgets(line, sizeof line, f) != NULL)
        hosts_line(line, d, urls, n);
    if (ferror(f)) { /* e.g. a directory, EIO: not "the name has no addresses" */
        fclose(f);
        discover_free(*urls, *n);
        *urls = NULL;
        *n = 0;
        return (-1);
    }
    fclose(f);
    uniq(*urls, n);
    return (0);
}

void
discover_from_addrinfo(const struct addrinfo *ai, const struct dns_spec *d, char ***urls, size_t *n)
{
    char addr[INET6_ADDRSTRLEN];

    *urls = NULL;
    *n = 0;
    for (; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *sin = (const void *)ai->ai_addr;
            if (inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr) != NULL)
                add_url(urls, n, addr, 0, d);
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;
            if (inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof addr) != NULL)
                add_url(urls, n, addr, 1, d);
        }
    }
    uniq(*urls, n);
}

void
discover_free(char **urls, size_t n)
{
    strv_free(urls, n);
}
