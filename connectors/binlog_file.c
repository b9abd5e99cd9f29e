/* Binlog files on disk (binlog_file.h): checks the magic and feeds each event to a decoder. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "../broker/lib/log.h"
#include "../broker/lib/obj.h"
#include "binlog.h"
#include "binlog_file.h"

int
bl_feed_file(struct bl_decoder *d, const char *path)
{
    unsigned char hdr[BL_HEADER_LEN], *ev = NULL;
    size_t cap = 0, size;
    char *copy = tp_strdup(path);
    FILE *f = fopen(path, "rb");
    int rv = 0;

    if (f == NULL || fread(hdr, 1, 4, f) != 4 ||
        memcmp(hdr,
               "\xfe"
               "bin",
               4) != 0) {
        log_err("replay: %s: %s", path, f ? "not a binlog file (bad magic)" : strerror(errno));
        rv = -1;
        goto out;
    }
    bl_set_position(d, basename(copy), 4);
    while (fread(hdr, 1, BL_HEADER_LEN, f) == BL_HEADER_LEN) {
        size =
            (size_t)hdr[9] | (size_t)hdr[10] << 8 | (size_t)hdr[11] << 16 | (size_t)hdr[12] << 24;
        if (size < BL_HEADER_LEN || size > (1u << 30)) {
            log_err("replay: %s: bad event size %zu: stopping here", path, size);
            break;
        }
        if (size > cap)
            ev = tp_realloc(ev, cap = size);
        memcpy(ev, hdr, BL_HEADER_LEN);
        if (fread(ev + BL_HEADER_LEN, 1, size - BL_HEADER_LEN, f) != size - BL_HEADER_LEN) {
            log_warn("replay: %s: file ends inside an event", path);
            break;
        }
        (void)bl_feed(d, ev, size); /* errors are logged and broaden the transaction */
    }
out:
    if (f != NULL)
        fclose(f);
    free(ev);
    free(copy);
    return (rv);
}
