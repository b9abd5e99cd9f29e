/*
 * Corpus replay without libFuzzer: `fuzz_replay_X DIR|FILE...` calls the
 * target's LLVMFuzzerTestOneInput once per file (a folder's files in name
 * order), each input in an exact-size heap buffer as libFuzzer gives it.
 * Built by any compiler, it runs as the ctest fuzz.replay.<target> in every
 * build (the ASan+UBSan CI pass included), so the committed corpus, with its
 * regression inputs, stays crash-free.  Exit 1 on no input at all.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../broker/lib/obj.h"
#include "fuzz.h"

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "fuzz replay: cannot read %s\n", path);
        if (f != NULL)
            fclose(f);
        return (-1);
    }
    buf = tp_malloc(len > 0 ? (size_t)len : 1);
    AN(fread(buf, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return (0);
}

static int
cmp_name(const void *a, const void *b)
{
    return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Every regular file of dir, in name order; returns how many ran, -1 on error. */
static int
run_dir(const char *dir)
{
    char **names = NULL, path[4096];
    size_t n = 0, i;
    struct dirent *e;
    struct stat st;
    int ran = 0;
    DIR *d = opendir(dir);

    if (d == NULL)
        return (-1);
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        names = tp_realloc(names, (n + 1) * sizeof *names);
        names[n++] = tp_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_name);
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (ran >= 0 && run_file(path) == 0)
            ran++;
        else
            ran = -1;
        free(names[i]);
    }
    free(names);
    return (ran);
}

int
main(int argc, char **argv)
{
    char **paths = tp_calloc((size_t)argc + 1, sizeof *paths);
    struct stat st;
    int i, n, total = 0;

    /* Absolute paths first: a target may change its working directory (fuzz_config). */
    for (i = 1; i < argc; i++)
        if ((paths[i] = realpath(argv[i], NULL)) == NULL) {
            fprintf(stderr, "fuzz replay: %s: not found\n", argv[i]);
            return (1);
        }
    LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc; i++) {
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
            n = run_dir(paths[i]);
        else
            n = run_file(paths[i]) == 0 ? 1 : -1;
        if (n < 0) {
            fprintf(stderr, "fuzz replay: %s: unreadable\n", argv[i]);
            return (1);
        }
        total += n;
        free(paths[i]);
    }
    free(paths);
    printf("fuzz replay: %d inputs ran\n", total);
    return (total > 0 ? 0 : 1);
}
