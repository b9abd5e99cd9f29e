/*
 * libFuzzer target for the configuration loader (broker/config.h):
 * config_load() of a fuzzed config file and, beside it, a fuzzed mapping
 * file, down through the sinks', sources' and mapping's own checks.
 *
 * Input: an options byte (bit 0: write map.json), the config text's 16-bit
 * little-endian length, the config text, then the mapping text.  Both go to
 * files in a private temporary folder, which is also the working directory
 * (a relative secret {"file": "secret.txt"} finds the one written there;
 * {"env": "TAGPURGE_FUZZ_TOKEN"} is set).
 *
 * While config_load() runs, fopen() (linked with -Wl,--wrap=fopen) opens
 * only files inside that folder: a fuzzed absolute path such as /dev/zero or
 * /dev/stdin must not hang or depend on the machine.  Refused paths fail as
 * unreadable ones do.
 *
 * Invariants: an error is "FILE:LINE:COL: message" naming config.json or
 * map.json (README: configuration errors name the file, line and column),
 * so is every warning of a loaded config; the loader never crashes or leaks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../broker/config.h"
#include "../../broker/lib/obj.h"
#include "fuzz.h"

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);

static char dir[256], cfg_path[300], map_path[300];
static int confine; /* fopen() limited to dir */

FILE *
__wrap_fopen(const char *path, const char *mode)
{
    size_t n = strlen(dir);
    int in_dir = path[0] != '/' || (strncmp(path, dir, n) == 0 && path[n] == '/');

    if (confine && (!in_dir || strstr(path, "..") != NULL)) {
        errno = EACCES;
        return (NULL);
    }
    return (__real_fopen(path, mode));
}

static void
cleanup(void)
{
    static const char *const names[] = {"config.json", "map.json", "secret.txt"};
    char p[320];
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        (void)unlink(p);
    }
    (void)rmdir(dir);
}

static void
write_file(const char *path, const void *p, size_t n)
{
    FILE *f = __real_fopen(path, "wb");

    AN(f != NULL);
    AN(fwrite(p, 1, n, f) == n);
    AZ(fclose(f));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");

    (void)argc;
    (void)argv;
    /* run.sh points TMPDIR at its own folder: what a crash leaves goes with it. */
    snprintf(dir, sizeof dir, "%s/tp-fuzz-config-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    AN(mkdtemp(dir) != NULL);
    AZ(chdir(dir));
    atexit(cleanup);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(map_path, sizeof map_path, "%s/map.json", dir);
    write_file("secret.txt", "s3cr3t\n", 7);
    AZ(setenv("TAGPURGE_FUZZ_TOKEN", "t0ken", 1));
    return (0);
}

/* "FILE:LINE:COL: ..." with FILE one of ours. */
static void
check_position(const char *msg)
{
    size_t n = strncmp(msg, cfg_path, strlen(cfg_path)) == 0   ? strlen(cfg_path)
               : strncmp(msg, map_path, strlen(map_path)) == 0 ? strlen(map_path)
                                                               : 0;
    char *end;
    int k;

    if (n == 0 || msg[n] != ':') {
        fprintf(stderr, "fuzz_config: message without its file: %s\n", msg);
        abort();
    }
    msg += n + 1;
    for (k = 0; k < 2; k++) {
        (void)strtoul(msg, &end, 10);
        if (end == msg || *end != ':' || *msg == '-' || *msg == '+') {
            fprintf(stderr, "fuzz_config: message without line:col: %s\n", msg);
            abort();
        }
        msg = end + 1;
    }
    AN(*msg == ' ');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    struct config *c = NULL;
    uint8_t opts = fz_u8(&in);
    const uint8_t *text;
    char err[2048];
    size_t n, i;
    int rv;

    text = fz_take(&in, fz_u16(&in), &n);
    write_file(cfg_path, text, n);
    if (opts & 1)
        write_file(map_path, in.p, in.n);
    else
        (void)unlink(map_path);
    err[0] = '\0';
    confine = 1;
    rv = config_load(&c, cfg_path, err, sizeof err);
    confine = 0;
    if (rv != 0) {
        AN(c == NULL);
        check_position(err);
        return (0);
    }
    AN(c != NULL && c->map != NULL);
    for (i = 0; i < c->nwarnings; i++)
        check_position(c->warnings[i]);
    config_destroy(&c);
    return (0);
}
