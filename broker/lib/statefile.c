/* State files: atomic replace of small JSON documents (see statefile.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "obj.h"
#include "statefile.h"

static int
fsync_dir(const char *path)
{
    char *copy = tp_strdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY), rv = -1;

    if (fd >= 0) {
        rv = fsync(fd);
        close(fd);
    }
    free(copy);
    return (rv);
}

static int
write_all(int fd, const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return (-1);
        p += w;
        n -= (size_t)w;
    }
    return (0);
}

int
statefile_write(const char *path, const json_t *o)
{
    char *text = json_dumps(o, JSON_SORT_KEYS), *tmp;
    size_t len = strlen(path) + 5;
    int fd, rv = -1, saved;

    if (text == NULL) {
        errno = ENOMEM;
        return (-1);
    }
    tmp = tp_malloc(len);
    snprintf(tmp, len, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        if (write_all(fd, text, strlen(text)) == 0 && write_all(fd, "\n", 1) == 0 && fsync(fd) == 0)
            rv = 0;
        saved = errno;
        close(fd);
        errno = saved;
    }
    if (rv == 0 && (rename(tmp, path) != 0 || fsync_dir(path) != 0))
        rv = -1;
    saved = errno;
    if (rv != 0)
        (void)unlink(tmp);
    free(tmp);
    free(text);
    errno = saved;
    return (rv);
}

int
statefile_read(const char *path, json_t **o)
{
    json_error_t jerr;

    *o = json_load_file(path, 0, &jerr);
    if (*o != NULL)
        return (1);
    return (access(path, F_OK) == 0 ? -1 : 0);
}

int
statefile_dir(const char *state_dir)
{
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
        return (-1);
    return (0);
}

char *
statefile_path(const char *state_dir, const char *name, const char *suffix)
{
    size_t n = strlen(state_dir) + strlen(name) + strlen(suffix) + 2;
    char *p = tp_malloc(n);

    snprintf(p, n, "%s/%s%s", state_dir, name, suffix);
    return (p);
}
