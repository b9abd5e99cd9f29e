/*
 * Shared pieces of the libFuzzer targets in tests/fuzz/: the entry points,
 * a bounded reader that splits one fuzz input into parts, and the checks
 * every target applies to what the decoders hand on (row changes, tags).
 *
 * The same sources build two ways: with clang -fsanitize=fuzzer as fuzzers
 * (CMake option TAGPURGE_FUZZ), and with any compiler plus replay_main.c as
 * the ctest fuzz.replay.<target>, which runs every file of the corpus.
 */
#ifndef TP_FUZZ_H
#define TP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "../../broker/change.h"

struct tagmap;
struct tagset;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Consumes the input front to back; reads past the end give zeros / nothing. */
struct fz_in {
    const uint8_t *p;
    size_t n;
};

uint8_t fz_u8(struct fz_in *);
uint16_t fz_u16(struct fz_in *); /* little-endian */
/* Up to n bytes (fewer at the end); *len says how many. */
const uint8_t *fz_take(struct fz_in *, size_t n, size_t *len);
/* A part prefixed by its 16-bit length, copied to an exact-size heap buffer: free() it. */
uint8_t *fz_chunk(struct fz_in *, size_t *len);
/* A copy in an exact-size heap buffer, so ASan sees any read past its end. */
uint8_t *fz_dup(const uint8_t *p, size_t n);

/* Read every byte: ASan reports a pointer or length that lies.  The sum lands in fz_sink. */
extern volatile unsigned fz_sink;
void fz_touch(const void *p, size_t n);
/* A change as connectors promise it (change.h): names, states, borrowed values. */
void fz_check_change(const struct change *);
/*
 * A tag the mapping may emit: non-empty, at most max bytes, only unreserved
 * bytes, "%XX" escapes (upper-case hex) and literal bytes tag_literal_ok()
 * allows; so never NUL, CR, LF, space, comma or a quote.
 */
void fz_check_tag(const char *tag, size_t max);
void fz_check_tagset(struct tagset *, size_t max);

/* A small mapping for the connector targets: entry "fuzz.t" reads id, name, @1, @2. */
struct tagmap *fz_test_map(size_t max_tag_bytes);

#endif
