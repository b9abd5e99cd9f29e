/*
 * Node discovery: a "dns://NAME:PORT[/PATH]" node stands for every A/AAAA
 * address of NAME, as "http://ADDR:PORT/PATH".  Names are looked up in a
 * hosts file (delivery "hosts_file", /etc/hosts format) when one is
 * configured, else through the system resolver (uv_getaddrinfo, run by the
 * fan-out).  Pure helpers: no loop, no globals.
 *
 * Ownership: returned URL arrays and their strings belong to the caller
 * (discover_free).
 */
#ifndef TP_DISCOVER_H
#define TP_DISCOVER_H

#include <stddef.h>

struct addrinfo;

struct dns_spec {
    char host[256];
    char port[8];
    char path[512]; /* "" or "/..." */
};

/* 1 when s starts with "dns://". */
int discover_is_dns(const char *s);
/* 0, or -1 when spec is not dns://NAME:PORT[/PATH]. */
int discover_parse(const char *spec, struct dns_spec *out);
/*
 * Every address of spec->host in the hosts file, as node URLs, sorted and
 * distinct.  0 (possibly none found), or -1 when the file cannot be read.
 */
int discover_hosts_file(const char *file, const struct dns_spec *, char ***urls, size_t *n);
/* The node URLs of a getaddrinfo() answer, sorted and distinct. */
void discover_from_addrinfo(const struct addrinfo *, const struct dns_spec *, char ***urls,
                            size_t *n);
void discover_free(char **urls, size_t n);

#endif
