/*
 * libFuzzer target for bl_value().  The first five bytes choose the column:
 * type, metadata (two bytes, as bl_meta_read() gives it), signedness and
 * charset, and how many ENUM/SET names are known (0xff: none); the rest is
 * the value.  It checks the contract rather than the text: the value never
 * extends past the input (ASan sees any read beyond it, libFuzzer's buffer
 * being exactly the input), measuring agrees with decoding, and only
 * BL_VALUE touches the output.  Built by -DTAGPURGE_FUZZ=ON (tests/fuzz/run.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../broker/lib/obj.h"
#include "../../connectors/binlog_value.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return (0);
}

static const char *const *
member_names(void)
{
    static char store[64][8];
    static const char *names[64];
    int i;

    if (names[0] == NULL) {
        for (i = 0; i < 64; i++) {
            snprintf(store[i], sizeof store[i], "m%d", i);
            names[i] = store[i];
        }
    }
    return (names);
}

static struct bl_coldef
fuzz_column(const uint8_t *h)
{
    static const int charsets[4] = {-1, 63, 8, 255};
    struct bl_coldef c;

    memset(&c, 0, sizeof c);
    c.type = h[0];
    c.meta = (uint16_t)(h[1] | h[2] << 8);
    c.is_unsigned = h[3] & 1;
    c.charset = charsets[h[3] >> 1 & 3];
    c.names = h[4] == 0xff ? NULL : member_names();
    c.nnames = h[4] % 65;
    return (c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char seven = 7;
    static struct bl_out out;
    struct bl_coldef c, tiny = {BL_T_TINY, 0, 0, -1, NULL, 0};
    size_t used, used2, mark;
    enum bl_vstate st, st2;
    int rv, rv2;

    if (size < 5)
        return (0);
    c = fuzz_column(data);
    /* Something already in out, to see that a failed decode leaves it alone. */
    bl_out_reset(&out);
    AZ(bl_value(&tiny, &seven, 1, &used, &st, &out));
    mark = out.len;
    rv = bl_value(&c, data + 5, size - 5, &used, &st, &out);
    rv2 = bl_value(&c, data + 5, size - 5, &used2, &st2, NULL);
    AN(rv == rv2);
    if (rv != 0 || st != BL_VALUE) {
        AN(out.len == mark);
        AZ(strcmp(out.buf, "7"));
    }
    if (rv == 0) {
        AN(used <= size - 5);
        AN(used == used2);
        AN(st == st2);
    }
    return (0);
}
