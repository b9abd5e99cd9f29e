/*
 * Binlog ROW-image values to SELECT text (see binlog_value.h).
 *
 * Every decoder claims its bytes through take(), which checks them against
 * what is available first, so arbitrary input can only produce -1 or
 * BL_UNKNOWN.  Text goes through a sink that can also just count (out ==
 * NULL) and that caps JSON output, because a hostile JSON document can point
 * many entries at one shared subtree and print exponentially much.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../broker/lib/obj.h"
#include "binlog_value.h"

struct sink {
    struct bl_out *out; /* NULL: measure only */
    size_t n;           /* bytes emitted for this value */
    size_t limit;       /* emitting past it sets over */
    int over;
};

struct dec {
    const struct bl_coldef *c;
    const unsigned char *p;
    size_t avail, used;
    enum bl_vstate state;
    struct sink s;
};

/*--------------------------------------------------------------------
 * Output
 */

void
bl_out_reset(struct bl_out *o)
{
    AN(o);
    o->len = 0;
    if (o->buf != NULL)
        o->buf[0] = '\0';
}

void
bl_out_free(struct bl_out *o)
{
    AN(o);
    free(o->buf);
    o->buf = NULL;
    o->len = o->cap = 0;
}

static void
out_append(struct bl_out *o, const void *p, size_t n)
{
    size_t cap = o->cap != 0 ? o->cap : 64;

    while (cap - o->len <= n)
        cap *= 2;
    if (cap != o->cap) {
        o->buf = tp_realloc(o->buf, cap);
        o->cap = cap;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void
emit(struct sink *s, const void *p, size_t n)
{
    if (s->over || n > s->limit - s->n) {
        s->over = 1;
        return;
    }
    s->n += n;
    if (s->out != NULL && n > 0)
        out_append(s->out, p, n);
}

static void
emit_str(struct sink *s, const char *str)
{
    emit(s, str, strlen(str));
}

static void emitf(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
emitf(struct sink *s, const char *fmt, ...)
{
    char buf[96];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    AN(n >= 0 && (size_t)n < sizeof buf);
    emit(s, buf, (size_t)n);
}

static void
emit_fill(struct sink *s, char c, size_t n)
{
    char buf[256];
    size_t k;

    memset(buf, c, sizeof buf);
    for (; n > 0 && !s->over; n -= k) {
        k = n < sizeof buf ? n : sizeof buf;
        emit(s, buf, k);
    }
}

/*--------------------------------------------------------------------
 * Input
 */

/* Claims the next n bytes of the value; -1 when fewer are available. */
static int
take(struct dec *d, size_t n, const unsigned char **q)
{
    if (n > d->avail - d->used)
        return (-1);
    *q = d->p + d->used;
    d->used += n;
    return (0);
}

static uint64_t
le(const unsigned char *q, size_t n)
{
    uint64_t v = 0;

    while (n-- > 0)
        v = v << 8 | q[n];
    return (v);
}

static uint64_t
be(const unsigned char *q, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = v << 8 | q[i];
    return (v);
}

static int64_t
sign_extend(uint64_t v, unsigned bits)
{
    uint64_t m = (uint64_t)1 << (bits - 1);

    v &= bits == 64 ? UINT64_MAX : (m << 1) - 1;
    return ((int64_t)((v ^ m) - m));
}

/* A length of nlen little-endian bytes, then that many bytes. */
static int
take_lp(struct dec *d, size_t nlen, const unsigned char **q, size_t *n)
{
    const unsigned char *h;
    uint64_t len;

    if (take(d, nlen, &h) != 0)
        return (-1);
    len = le(h, nlen);
    if (len > SIZE_MAX)
        return (-1);
    *n = (size_t)len;
    return (take(d, *n, q));
}

/*--------------------------------------------------------------------
 * Integers
 */

static size_t
int_width(uint8_t type)
{
    switch (type) {
    case BL_T_TINY:
        return (1);
    case BL_T_SHORT:
        return (2);
    case BL_T_INT24:
        return (3);
    case BL_T_LONG:
        return (4);
    default:
        return (8);
    }
}

static int
dec_int(struct dec *d)
{
    size_t w = int_width(d->c->type);
    const unsigned char *q;
    uint64_t u;

    if (take(d, w, &q) != 0)
        return (-1);
    u = le(q, w);
    if (d->c->is_unsigned)
        emitf(&d->s, "%" PRIu64, u);
    else
        emitf(&d->s, "%" PRId64, sign_extend(u, (unsigned)w * 8));
    return (0);
}

static int
dec_year(struct dec *d)
{
    const unsigned char *q;

    if (take(d, 1, &q) != 0)
        return (-1);
    /* Field_year stores years since 1900; 0 is the zero year, printed "0000". */
    emitf(&d->s, "%04u", q[0] == 0 ? 0u : 1900u + q[0]);
    return (0);
}

/*--------------------------------------------------------------------
 * FLOAT and DOUBLE: MySQL's my_gcvt() over dtoa().
 */

/* The digits of x > 0 rounded to prec significant digits, and the decimal point position. */
static int
sci_digits(double x, int prec, char *dig, int *decpt)
{
    char buf[64];
    int i, n = 0;

    /* Only digits and the exponent are read, so LC_NUMERIC cannot matter. */
    snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
    for (i = 0; buf[i] != '\0' && buf[i] != 'e'; i++)
        if (buf[i] >= '0' && buf[i] <= '9')
            dig[n++] = buf[i];
    *decpt = (int)strtol(buf + i + 1, NULL, 10) + 1;
    return (n);
}

static int
round_trips(const char *dig, int n, int decpt, double x)
{
    char buf[64];

    snprintf(buf, sizeof buf, "%.*se%d", n, dig, decpt - n);
    return (strtod(buf, NULL) == x);
}

/*
 * dtoa mode 0: the fewest digits that read back as x.  The correctly rounded
 * candidate of each length is the nearest one, so the first that reads back
 * is dtoa's answer.  (Just above a power of two the gap below is half the
 * gap above, which could favour a farther candidate; checking every power of
 * two against Python's repr() showed it never does.)
 */
static int
shortest_digits(double x, char *dig, int *decpt)
{
    int n = 0, p;

    for (p = 1; p <= 17; p++) {
        n = sci_digits(x, p, dig, decpt);
        if (round_trips(dig, n, *decpt, x))
            break;
    }
    while (n > 1 && dig[n - 1] == '0')
        n--;
    return (n);
}

static size_t
fixed_text(char *buf, const char *dig, int n, int decpt)
{
    size_t o = 0;
    int i;

    if (decpt <= 0) {
        buf[o++] = '0';
        buf[o++] = '.';
        for (i = decpt; i < 0; i++)
            buf[o++] = '0';
    }
    for (i = 0; i < n; i++) {
        buf[o++] = dig[i];
        if (i + 1 == decpt && i + 1 < n)
            buf[o++] = '.';
    }
    for (i = n; i < decpt; i++)
        buf[o++] = '0';
    return (o);
}

static size_t
exp_text(char *buf, const char *dig, int n, int decpt)
{
    size_t o = 0;

    buf[o++] = dig[0];
    if (n > 1) {
        buf[o++] = '.';
        memcpy(buf + o, dig + 1, (size_t)n - 1);
        o += (size_t)n - 1;
    }
    /* my_gcvt() drops the exponent's '+' and leading zeros to save width. */
    o += (size_t)snprintf(buf + o, 8, "e%d", decpt - 1);
    return (o);
}

/*
 * x as MySQL prints it: FLOAT keeps FLT_DIG (6) significant digits, DOUBLE
 * the shortest round-trip ones.  Plain notation while the decimal point
 * position is in [-14, 15] or the digits reach past it: my_gcvt()'s choice
 * with MAX_DECPT_FOR_F_FORMAT 15 whenever the field is wide enough, and every
 * width MySQL passes for columns and JSON is.  buf has room for 40 bytes.
 */
static size_t
real_text(char *buf, double x, int is_float)
{
    char dig[24];
    size_t o = 0;
    int n, decpt;

    if (signbit(x)) {
        buf[o++] = '-';
        x = -x;
    }
    if (x == 0) {
        buf[o++] = '0';
        return (o);
    }
    if (is_float) {
        n = sci_digits(x, 6, dig, &decpt);
        while (n > 1 && dig[n - 1] == '0')
            n--;
    } else {
        n = shortest_digits(x, dig, &decpt);
    }
    if (decpt >= -14 && (decpt <= 15 || n > decpt))
        return (o + fixed_text(buf + o, dig, n, decpt));
    return (o + exp_text(buf + o, dig, n, decpt));
}

static int
dec_real(struct dec *d)
{
    int is_float = d->c->type == BL_T_FLOAT;
    const unsigned char *q;
    uint64_t bits;
    uint32_t b32;
    double x;
    float f;
    char buf[48];

    if (take(d, is_float ? 4 : 8, &q) != 0)
        return (-1);
    if (is_float) {
        b32 = (uint32_t)le(q, 4);
        memcpy(&f, &b32, sizeof f);
        x = f;
    } else {
        bits = le(q, 8);
        memcpy(&x, &bits, sizeof x);
    }
    /* MySQL never stores NaN or infinity; such bytes are not a value it could print. */
    if (!isfinite(x)) {
        d->state = BL_UNKNOWN;
        return (0);
    }
    emit(&d->s, buf, real_text(buf, x, is_float));
    return (0);
}

/*--------------------------------------------------------------------
 * DECIMAL: big-endian groups of 9 digits in 4 bytes, the leftover digits
 * of the integer part first and of the fraction last.
 */

static const unsigned char dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
static const uint32_t pow10_u32[10] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};

static int
decimal_valid(unsigned prec, unsigned scale)
{
    return (prec >= 1 && prec <= 65 && scale <= 30 && scale <= prec);
}

static size_t
decimal_size(unsigned prec, unsigned scale)
{
    unsigned intg = prec - scale;

    return (intg / 9 * 4 + dig2bytes[intg % 9] + scale / 9 * 4 + dig2bytes[scale % 9]);
}

/* Appends the ndig digits of the next group; -1 when it is not a valid group. */
static int
decimal_group(const unsigned char *b, size_t *off, unsigned ndig, char *dst, size_t *nd)
{
    uint32_t v;
    unsigned i;

    if (ndig == 0)
        return (0);
    v = (uint32_t)be(b + *off, dig2bytes[ndig]);
    *off += dig2bytes[ndig];
    if (v >= pow10_u32[ndig])
        return (-1);
    for (i = ndig; i > 0; i--, v /= 10)
        dst[*nd + i - 1] = (char)('0' + v % 10);
    *nd += ndig;
    return (0);
}

/* All digits of the value at q, integer part first; *nint of them are the integer part. */
static int
decimal_digits(const unsigned char *q, unsigned prec, unsigned scale, char *dig, size_t *nd,
               size_t *nint)
{
    unsigned char b[32];
    unsigned intg = prec - scale, g;
    size_t n = decimal_size(prec, scale), i, off = 0;
    int neg = !(q[0] & 0x80);

    /* The sign bit is stored flipped and a negative value inverted, so bytes sort as values. */
    memcpy(b, q, n);
    b[0] ^= 0x80;
    for (i = 0; neg && i < n; i++)
        b[i] ^= 0xff;
    *nd = 0;
    if (decimal_group(b, &off, intg % 9, dig, nd) != 0)
        return (-1);
    for (g = 0; g < intg / 9; g++)
        if (decimal_group(b, &off, 9, dig, nd) != 0)
            return (-1);
    *nint = *nd;
    for (g = 0; g < scale / 9; g++)
        if (decimal_group(b, &off, 9, dig, nd) != 0)
            return (-1);
    return (decimal_group(b, &off, scale % 9, dig, nd));
}

/* The decimal2string() form of the decimal_size() bytes at q. */
static int
decimal_text(struct sink *s, const unsigned char *q, unsigned prec, unsigned scale)
{
    char dig[96];
    size_t nd, nint, i0 = 0, i;
    int zero = 1;

    if (decimal_digits(q, prec, scale, dig, &nd, &nint) != 0)
        return (-1);
    for (i = 0; i < nd; i++)
        zero &= dig[i] == '0';
    while (i0 < nint && dig[i0] == '0')
        i0++;
    /* bin2decimal() keeps the sign of a negative zero unless it has no digits at all. */
    if (!(q[0] & 0x80) && !(zero && scale == 0))
        emit(s, "-", 1);
    if (i0 == nint)
        emit(s, "0", 1);
    emit(s, dig + i0, nint - i0);
    if (scale > 0) {
        emit(s, ".", 1);
        emit(s, dig + nint, nd - nint);
    }
    return (0);
}

static int
dec_newdecimal(struct dec *d)
{
    unsigned prec = d->c->meta & 0xff, scale = d->c->meta >> 8;
    const unsigned char *q;

    if (!decimal_valid(prec, scale) || take(d, decimal_size(prec, scale), &q) != 0)
        return (-1);
    return (decimal_text(&d->s, q, prec, scale));
}

/*--------------------------------------------------------------------
 * Temporal types
 */

struct mtime {
    unsigned year, month, day, hour, minute, second;
    uint32_t usec;
    int neg;
};

static void
put_date(struct sink *s, const struct mtime *t)
{
    emitf(s, "%04u-%02u-%02u", t->year, t->month, t->day);
}

static void
put_clock(struct sink *s, const struct mtime *t, unsigned fsp)
{
    emitf(s, "%02u:%02u:%02u", t->hour, t->minute, t->second);
    if (fsp > 0)
        emitf(s, ".%0*u", (int)fsp, (unsigned)(t->usec / pow10_u32[6 - fsp]));
}

static void
put_datetime(struct sink *s, const struct mtime *t, unsigned fsp)
{
    put_date(s, t);
    emit(s, " ", 1);
    put_clock(s, t, fsp);
}

static void
put_time(struct sink *s, const struct mtime *t, unsigned fsp)
{
    if (t->neg)
        emit(s, "-", 1);
    put_clock(s, t, fsp);
}

static uint64_t
packed_abs(int64_t v, struct mtime *t)
{
    memset(t, 0, sizeof *t);
    t->neg = v < 0;
    return (v < 0 ? -(uint64_t)v : (uint64_t)v);
}

/* MySQL's packed DATETIME: (ymd << 17 | hms) << 24 | microseconds. */
static void
datetime_from_packed(int64_t v, struct mtime *t)
{
    uint64_t a = packed_abs(v, t), ymdhms = a >> 24, ymd = ymdhms >> 17, ym = ymd >> 5;
    uint64_t hms = ymdhms & 0x1ffff;

    t->usec = (uint32_t)(a & 0xffffff);
    t->day = (unsigned)(ymd & 31);
    t->month = (unsigned)(ym % 13);
    t->year = (unsigned)(ym / 13);
    t->second = (unsigned)(hms & 63);
    t->minute = (unsigned)(hms >> 6 & 63);
    t->hour = (unsigned)(hms >> 12);
}

/* MySQL's packed TIME: (hour << 12 | minute << 6 | second) << 24 | microseconds, signed. */
static void
time_from_packed(int64_t v, struct mtime *t)
{
    uint64_t a = packed_abs(v, t), hms = a >> 24;

    t->usec = (uint32_t)(a & 0xffffff);
    t->hour = (unsigned)(hms >> 12 & 1023);
    t->minute = (unsigned)(hms >> 6 & 63);
    t->second = (unsigned)(hms & 63);
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void
civil_from_days(uint64_t days, struct mtime *t)
{
    uint64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;

    t->day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    t->month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    t->year = (unsigned)(yoe + era * 400 + (t->month <= 2));
}

static void
put_epoch(struct sink *s, uint32_t sec, uint32_t usec, unsigned fsp)
{
    struct mtime t;

    memset(&t, 0, sizeof t);
    /* Second 0 is the zero TIMESTAMP, which SELECT shows as the zero date. */
    if (sec != 0) {
        civil_from_days(sec / 86400, &t);
        t.hour = sec % 86400 / 3600;
        t.minute = sec % 3600 / 60;
        t.second = sec % 60;
        t.usec = usec;
    }
    put_datetime(s, &t, fsp);
}

/* The fraction of a temporal2 type: (fsp + 1) / 2 big-endian bytes, signed, in microseconds. */
static int64_t
frac_usec(const unsigned char *q, unsigned fsp)
{
    switch ((fsp + 1) / 2) {
    case 1:
        return (sign_extend(q[0], 8) * 10000);
    case 2:
        return (sign_extend(be(q, 2), 16) * 100);
    case 3:
        return (sign_extend(be(q, 3), 24));
    default:
        return (0);
    }
}

static int
dec_date(struct dec *d)
{
    const unsigned char *q;
    struct mtime t;
    uint32_t v;

    if (take(d, 3, &q) != 0)
        return (-1);
    v = (uint32_t)le(q, 3);
    memset(&t, 0, sizeof t);
    t.day = v & 31;
    t.month = v >> 5 & 15;
    t.year = v >> 9;
    put_date(&d->s, &t);
    return (0);
}

static int
dec_datetime2(struct dec *d)
{
    unsigned fsp = d->c->meta;
    const unsigned char *q;
    int64_t packed;
    struct mtime t;

    if (fsp > 6 || take(d, 5 + (fsp + 1) / 2, &q) != 0)
        return (-1);
    /*
     * my_datetime_packed_from_binary(): the integer part is stored offset by
     * 2^39, so a first byte below 0x80 would be a negative DATETIME, which
     * MySQL cannot hold.
     */
    if (q[0] < 0x80)
        return (-1);
    packed = ((int64_t)be(q, 5) - 0x8000000000LL) * 16777216 + frac_usec(q + 5, fsp);
    datetime_from_packed(packed, &t);
    if (t.usec > 999999)
        return (-1);
    put_datetime(&d->s, &t, fsp);
    return (0);
}

static int
dec_timestamp2(struct dec *d)
{
    unsigned fsp = d->c->meta;
    const unsigned char *q;
    int64_t usec;

    if (fsp > 6 || take(d, 4 + (fsp + 1) / 2, &q) != 0)
        return (-1);
    usec = frac_usec(q + 4, fsp);
    if (usec < 0 || usec > 999999)
        return (-1);
    put_epoch(&d->s, (uint32_t)be(q, 4), (uint32_t)usec, fsp);
    return (0);
}

/*
 * my_time_packed_from_binary(): the integer part is offset by 2^23.  With a
 * 1- or 2-byte fraction a negative time keeps the floor of its seconds and
 * the negative remainder in two's complement: -1.25 s at fsp 2 is stored as
 * -2 and 0x100 - 25.  Read at face value that prints -00:00:02.xx.
 */
static int64_t
time2_packed(const unsigned char *q, unsigned fsp)
{
    int64_t ip = (int64_t)be(q, 3) - 0x800000, fr;
    unsigned nb = (fsp + 1) / 2;

    if (nb == 3)
        return ((int64_t)be(q, 6) - 0x800000000000LL);
    if (nb == 0)
        return (ip * 16777216);
    fr = (int64_t)be(q + 3, nb);
    if (ip < 0 && fr != 0) {
        ip++;
        fr -= (int64_t)1 << (8 * nb);
    }
    return (ip * 16777216 + fr * (nb == 1 ? 10000 : 100));
}

static int
dec_time2(struct dec *d)
{
    unsigned fsp = d->c->meta;
    const unsigned char *q;
    struct mtime t;

    if (fsp > 6 || take(d, 3 + (fsp + 1) / 2, &q) != 0)
        return (-1);
    time_from_packed(time2_packed(q, fsp), &t);
    if (t.usec > 999999)
        return (-1);
    put_time(&d->s, &t, fsp);
    return (0);
}

/* Pre-5.6.4 TIMESTAMP: 4 bytes of seconds, little-endian. */
static int
dec_timestamp(struct dec *d)
{
    const unsigned char *q;

    if (take(d, 4, &q) != 0)
        return (-1);
    put_epoch(&d->s, (uint32_t)le(q, 4), 0, 0);
    return (0);
}

/* Pre-5.6.4 DATETIME: the decimal number YYYYMMDDhhmmss in 8 bytes. */
static int
dec_datetime(struct dec *d)
{
    const unsigned char *q;
    uint64_t v, ymd, hms;
    struct mtime t;

    if (take(d, 8, &q) != 0)
        return (-1);
    v = le(q, 8);
    memset(&t, 0, sizeof t);
    ymd = v / 1000000;
    hms = v % 1000000;
    t.year = (unsigned)(ymd / 10000);
    t.month = (unsigned)(ymd / 100 % 100);
    t.day = (unsigned)(ymd % 100);
    t.hour = (unsigned)(hms / 10000);
    t.minute = (unsigned)(hms / 100 % 100);
    t.second = (unsigned)(hms % 100);
    put_datetime(&d->s, &t, 0);
    return (0);
}

/* Pre-5.6.4 TIME: the signed decimal number hhmmss in 3 bytes. */
static int
dec_time(struct dec *d)
{
    const unsigned char *q;
    int64_t v;
    struct mtime t;

    if (take(d, 3, &q) != 0)
        return (-1);
    v = sign_extend(le(q, 3), 24);
    memset(&t, 0, sizeof t);
    t.neg = v < 0;
    v = v < 0 ? -v : v;
    t.hour = (unsigned)(v / 10000);
    t.minute = (unsigned)(v / 100 % 100);
    t.second = (unsigned)(v % 100);
    put_time(&d->s, &t, 0);
    return (0);
}

/*--------------------------------------------------------------------
 * Strings, ENUM, SET, BIT, BLOB
 */

static int
dec_varchar(struct dec *d)
{
    const unsigned char *q;
    size_t n;

    if (take_lp(d, d->c->meta < 256 ? 1 : 2, &q, &n) != 0)
        return (-1);
    emit(&d->s, q, n);
    return (0);
}

/* BLOB, TEXT, GEOMETRY, VECTOR: meta is the size of the length prefix. */
static int
dec_blob(struct dec *d)
{
    const unsigned char *q;
    size_t n;

    if (d->c->meta < 1 || d->c->meta > 4 || take_lp(d, d->c->meta, &q, &n) != 0)
        return (-1);
    emit(&d->s, q, n);
    return (0);
}

/* BIT(m0 + 8 * m1): the bytes big-endian, as SELECT returns them. */
static int
dec_bit(struct dec *d)
{
    unsigned m0 = d->c->meta & 0xff, m1 = d->c->meta >> 8, n = m1 + (m0 != 0);
    const unsigned char *q;

    if (m0 > 7 || n < 1 || n > 8 || take(d, n, &q) != 0)
        return (-1);
    emit(&d->s, q, n);
    return (0);
}

/*
 * CHAR and BINARY: the binlog drops a CHAR's trailing spaces, and MariaDB a
 * BINARY's trailing zero bytes.  SELECT drops the spaces too, but returns
 * BINARY(n) padded to n bytes; with the charset unknown a short value could
 * be either.
 */
static int
dec_char(struct dec *d, unsigned maxlen)
{
    const unsigned char *q;
    size_t n;

    if (take_lp(d, maxlen > 255 ? 2 : 1, &q, &n) != 0)
        return (-1);
    if (d->c->charset == BL_CHARSET_BINARY) {
        if (n > maxlen)
            return (-1);
        emit(&d->s, q, n);
        emit_fill(&d->s, '\0', maxlen - n);
    } else if (d->c->charset < 0 && n < maxlen) {
        d->state = BL_UNKNOWN;
    } else {
        emit(&d->s, q, n);
    }
    return (0);
}

static int
dec_enum(struct dec *d, unsigned pack)
{
    const unsigned char *q;
    uint64_t idx;

    if ((pack != 1 && pack != 2) || take(d, pack, &q) != 0)
        return (-1);
    idx = le(q, pack);
    /* Index 0 is the '' that MySQL stores for an invalid value: no name needed. */
    if (idx == 0)
        return (0);
    if (d->c->names == NULL || idx > d->c->nnames)
        d->state = BL_UNKNOWN;
    else
        emit_str(&d->s, d->c->names[idx - 1]);
    return (0);
}

static int
dec_set(struct dec *d, unsigned pack)
{
    const unsigned char *q;
    uint64_t bits;
    unsigned i, first = 1;

    if ((pack < 1 || pack > 4) && pack != 8)
        return (-1);
    if (take(d, pack, &q) != 0)
        return (-1);
    bits = le(q, pack);
    if (bits != 0 && (d->c->names == NULL || (d->c->nnames < 64 && bits >> d->c->nnames != 0))) {
        d->state = BL_UNKNOWN;
        return (0);
    }
    for (i = 0; i < 64; i++) {
        if (!(bits >> i & 1))
            continue;
        if (!first)
            emit(&d->s, ",", 1);
        emit_str(&d->s, d->c->names[i]);
        first = 0;
    }
    return (0);
}

/*
 * STRING (254) packs the real type and the byte length in two bytes.  The
 * real type always has bits 4-5 set, so a CHAR longer than 255 bytes keeps
 * length bits 8-9 there, inverted (Field_string::do_save_field_metadata()).
 */
static int
dec_string(struct dec *d)
{
    unsigned m0 = d->c->meta & 0xff, m1 = d->c->meta >> 8, real = m0, maxlen = m1;

    if ((m0 & 0x30) != 0x30) {
        maxlen = m1 | (((m0 & 0x30) ^ 0x30) << 4);
        real = m0 | 0x30;
    }
    switch (real) {
    case BL_T_ENUM:
        return (dec_enum(d, m1));
    case BL_T_SET:
        return (dec_set(d, m1));
    case BL_T_STRING:
        return (dec_char(d, maxlen));
    default:
        return (-1);
    }
}

/*--------------------------------------------------------------------
 * JSON: MySQL's binary format (sql-common/json_binary.cc), printed as
 * Json_wrapper::to_string() does.  A -1 here means MySQL could not print it
 * either; bl_value() turns that into BL_UNKNOWN.
 */

#define JSON_MAX_DEPTH 100 /* MySQL's JSON_DOCUMENT_MAX_DEPTH */
/*
 * A valid document prints in under 6 bytes per input byte (a control
 * character becomes \u00XX); more output means entries share subtrees.
 */
#define JSON_OUT_FACTOR 8

enum {
    J_SMALL_OBJ = 0,
    J_LARGE_OBJ = 1,
    J_SMALL_ARR = 2,
    J_LARGE_ARR = 3,
    J_LITERAL = 4,
    J_INT16 = 5,
    J_UINT16 = 6,
    J_INT32 = 7,
    J_UINT32 = 8,
    J_INT64 = 9,
    J_UINT64 = 10,
    J_DOUBLE = 11,
    J_STRING = 12,
    J_OPAQUE = 15,
};

static int json_value(struct sink *, unsigned type, const unsigned char *, size_t, int depth);

/* The 7-bits-per-byte length of strings and opaque values; at most 5 bytes. */
static int
json_varlen(const unsigned char *p, size_t len, size_t *val, size_t *hl)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < len && i < 5; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (v > UINT32_MAX || v > len - i - 1)
                return (-1);
            *val = (size_t)v;
            *hl = i + 1;
            return (0);
        }
    }
    return (-1);
}

/* MySQL's double_quote(): escapes '"', '\' and bytes below 0x20 only. */
static void
json_quote(struct sink *s, const unsigned char *p, size_t n)
{
    static const char short_esc[32] = {
        ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r'};
    size_t i, run = 0;

    emit(s, "\"", 1);
    for (i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
            continue;
        emit(s, p + run, i - run);
        run = i + 1;
        if (p[i] >= 0x20)
            emitf(s, "\\%c", p[i]);
        else if (short_esc[p[i]] != 0)
            emitf(s, "\\%c", short_esc[p[i]]);
        else
            emitf(s, "\\u00%02x", p[i]);
    }
    emit(s, p + run, n - run);
    emit(s, "\"", 1);
}

static int
json_int(struct sink *s, unsigned type, const unsigned char *p, size_t len)
{
    size_t w = type <= J_UINT16 ? 2 : type <= J_UINT32 ? 4 : 8;
    uint64_t u;

    if (len < w)
        return (-1);
    u = le(p, w);
    if (type == J_INT16 || type == J_INT32 || type == J_INT64)
        emitf(s, "%" PRId64, sign_extend(u, (unsigned)w * 8));
    else
        emitf(s, "%" PRIu64, u);
    return (0);
}

static int
json_double(struct sink *s, const unsigned char *p, size_t len)
{
    uint64_t bits;
    double x;
    char buf[48];
    size_t n;

    if (len < 8)
        return (-1);
    bits = le(p, 8);
    memcpy(&x, &bits, sizeof x);
    if (!isfinite(x))
        return (-1);
    n = real_text(buf, x, 0);
    emit(s, buf, n);
    /* MySQL appends ".0" so that a double never reads back as an integer. */
    if (memchr(buf, '.', n) == NULL && memchr(buf, 'e', n) == NULL)
        emit(s, ".0", 2);
    return (0);
}

static int
json_literal(struct sink *s, const unsigned char *p, size_t len)
{
    static const char *const lit[] = {"null", "true", "false"};

    if (len < 1 || p[0] > 2)
        return (-1);
    emit_str(s, lit[p[0]]);
    return (0);
}

static int
json_string(struct sink *s, const unsigned char *p, size_t len)
{
    size_t n, hl;

    if (json_varlen(p, len, &n, &hl) != 0)
        return (-1);
    json_quote(s, p + hl, n);
    return (0);
}

/* DATE, TIME, DATETIME, TIMESTAMP: an 8-byte packed value, printed quoted with 6 digits. */
static int
json_temporal(struct sink *s, unsigned ftype, const unsigned char *p, size_t n)
{
    int64_t v;
    struct mtime t;

    if (n != 8)
        return (-1);
    v = (int64_t)le(p, 8);
    if (ftype == BL_T_TIME)
        time_from_packed(v, &t);
    else
        datetime_from_packed(v, &t);
    if (t.usec > 999999)
        return (-1);
    emit(s, "\"", 1);
    if (ftype == BL_T_TIME)
        put_time(s, &t, 6);
    else if (ftype == BL_T_DATE)
        put_date(s, &t);
    else
        put_datetime(s, &t, 6);
    emit(s, "\"", 1);
    return (0);
}

/* DECIMAL: precision and scale bytes, then the column format; printed unquoted. */
static int
json_decimal(struct sink *s, const unsigned char *p, size_t n)
{
    if (n < 2 || !decimal_valid(p[0], p[1]) || decimal_size(p[0], p[1]) != n - 2)
        return (-1);
    return (decimal_text(s, p + 2, p[0], p[1]));
}

/* Any other opaque value: "base64:typeNN:..." with MySQL's newline every 76 characters. */
static void
json_base64(struct sink *s, unsigned ftype, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char quad[4];
    size_t i, col = 0;
    uint32_t c;

    emitf(s, "\"base64:type%u:", ftype);
    for (i = 0; i < n && !s->over; i += 3, col += 4) {
        if (col == 76) {
            emit(s, "\\n", 2); /* the newline, JSON-escaped */
            col = 0;
        }
        c = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
            (i + 2 < n ? p[i + 2] : 0);
        quad[0] = tab[c >> 18 & 63];
        quad[1] = tab[c >> 12 & 63];
        quad[2] = i + 1 < n ? tab[c >> 6 & 63] : '=';
        quad[3] = i + 2 < n ? tab[c & 63] : '=';
        emit(s, quad, 4);
    }
    emit(s, "\"", 1);
}

static int
json_opaque(struct sink *s, const unsigned char *p, size_t len)
{
    size_t n, hl;
    unsigned ftype;

    if (len < 1 || json_varlen(p + 1, len - 1, &n, &hl) != 0)
        return (-1);
    ftype = p[0];
    p += 1 + hl;
    switch (ftype) {
    case BL_T_VAR_STRING: /* MySQL prints strings kept as opaque as plain strings */
        json_quote(s, p, n);
        return (0);
    case BL_T_NEWDECIMAL:
        return (json_decimal(s, p, n));
    case BL_T_DATE:
    case BL_T_TIME:
    case BL_T_DATETIME:
    case BL_T_TIMESTAMP:
        return (json_temporal(s, ftype, p, n));
    default:
        json_base64(s, ftype, p, n);
        return (0);
    }
}

static int
json_scalar(struct sink *s, unsigned type, const unsigned char *p, size_t len)
{
    switch (type) {
    case J_LITERAL:
        return (json_literal(s, p, len));
    case J_INT16:
    case J_UINT16:
    case J_INT32:
    case J_UINT32:
    case J_INT64:
    case J_UINT64:
        return (json_int(s, type, p, len));
    case J_DOUBLE:
        return (json_double(s, p, len));
    case J_STRING:
        return (json_string(s, p, len));
    case J_OPAQUE:
        return (json_opaque(s, p, len));
    default:
        return (-1);
    }
}

/* An array or object header; offsets inside are relative to its start. */
struct jcont {
    const unsigned char *p;
    size_t bytes, count;
    size_t osz, ksz, vsz; /* offset, key entry and value entry sizes */
    int is_obj, large;
};

static int
json_inline(unsigned type, int large)
{
    return (type == J_LITERAL || type == J_INT16 || type == J_UINT16 ||
            (large && (type == J_INT32 || type == J_UINT32)));
}

static int
json_entry(struct sink *s, const struct jcont *j, size_t i, int depth)
{
    size_t eo = 2 * j->osz + (j->is_obj ? j->count * j->ksz : 0) + i * j->vsz;
    unsigned type = j->p[eo];
    size_t off;

    if (json_inline(type, j->large))
        return (json_scalar(s, type, j->p + eo + 1, j->vsz - 1));
    off = (size_t)le(j->p + eo + 1, j->osz);
    if (off > j->bytes || off < eo + j->vsz)
        return (-1);
    return (json_value(s, type, j->p + off, j->bytes - off, depth));
}

static int
json_key(struct sink *s, const struct jcont *j, size_t i)
{
    size_t eo = 2 * j->osz + i * j->ksz;
    size_t koff = (size_t)le(j->p + eo, j->osz), klen = (size_t)le(j->p + eo + j->osz, 2);

    /* As Value::key(): the key lies after the header and inside the object. */
    if (koff < eo + (j->count - i) * j->ksz + j->count * j->vsz || klen > j->bytes ||
        koff > j->bytes - klen)
        return (-1);
    json_quote(s, j->p + koff, klen);
    emit(s, ": ", 2);
    return (0);
}

/*
 * MySQL rejects a container whose size field exceeds the bytes left; this
 * decoder reads it within what is there instead (vitess' captured
 * ["here"] vector needs that), every offset still checked against it.
 */
static int
json_container(struct sink *s, const unsigned char *p, size_t len, int is_obj, int large, int depth)
{
    struct jcont j = {p, 0, 0, large ? 4 : 2, large ? 6 : 4, large ? 5 : 3, is_obj, large};
    uint64_t hdr;
    size_t i;

    if (depth > JSON_MAX_DEPTH || len < 2 * j.osz)
        return (-1);
    j.count = (size_t)le(p, j.osz);
    j.bytes = (size_t)le(p + j.osz, j.osz);
    if (j.bytes > len)
        j.bytes = len;
    hdr = 2 * j.osz + (uint64_t)j.count * ((is_obj ? j.ksz : 0) + j.vsz);
    if (hdr > j.bytes)
        return (-1);
    emit(s, is_obj ? "{" : "[", 1);
    for (i = 0; i < j.count && !s->over; i++) {
        if (i > 0)
            emit(s, ", ", 2);
        if ((is_obj && json_key(s, &j, i) != 0) || json_entry(s, &j, i, depth) != 0)
            return (-1);
    }
    emit(s, is_obj ? "}" : "]", 1);
    return (0);
}

static int
json_value(struct sink *s, unsigned type, const unsigned char *p, size_t len, int depth)
{
    switch (type) {
    case J_SMALL_OBJ:
    case J_LARGE_OBJ:
        return (json_container(s, p, len, 1, type == J_LARGE_OBJ, depth + 1));
    case J_SMALL_ARR:
    case J_LARGE_ARR:
        return (json_container(s, p, len, 0, type == J_LARGE_ARR, depth + 1));
    default:
        return (json_scalar(s, type, p, len));
    }
}

static int
dec_json(struct dec *d)
{
    const unsigned char *q;
    size_t n;

    if (d->c->meta < 1 || d->c->meta > 4 || take_lp(d, d->c->meta, &q, &n) != 0)
        return (-1);
    /* An empty value (INSERT IGNORE of NULL into NOT NULL) reads as the JSON null literal. */
    if (n == 0) {
        emit(&d->s, "null", 4);
        return (0);
    }
    d->s.limit = d->s.n + JSON_OUT_FACTOR * n + 64;
    if (json_value(&d->s, q[0], q + 1, n - 1, 0) != 0 || d->s.over)
        d->state = BL_UNKNOWN;
    return (0);
}

/*--------------------------------------------------------------------
 * Type table and entry points
 */

typedef int dec_f(struct dec *);

static const struct {
    unsigned char known;
    unsigned char meta_len;
    dec_f *decode; /* NULL: the value's size cannot be known */
} types[256] = {
    [BL_T_DECIMAL] = {1, 0, NULL},
    [BL_T_TINY] = {1, 0, dec_int},
    [BL_T_SHORT] = {1, 0, dec_int},
    [BL_T_LONG] = {1, 0, dec_int},
    [BL_T_FLOAT] = {1, 1, dec_real},
    [BL_T_DOUBLE] = {1, 1, dec_real},
    [BL_T_NULL] = {1, 0, NULL},
    [BL_T_TIMESTAMP] = {1, 0, dec_timestamp},
    [BL_T_LONGLONG] = {1, 0, dec_int},
    [BL_T_INT24] = {1, 0, dec_int},
    [BL_T_DATE] = {1, 0, dec_date},
    [BL_T_TIME] = {1, 0, dec_time},
    [BL_T_DATETIME] = {1, 0, dec_datetime},
    [BL_T_YEAR] = {1, 0, dec_year},
    [BL_T_NEWDATE] = {1, 0, dec_date},
    [BL_T_VARCHAR] = {1, 2, dec_varchar},
    [BL_T_BIT] = {1, 2, dec_bit},
    [BL_T_TIMESTAMP2] = {1, 1, dec_timestamp2},
    [BL_T_DATETIME2] = {1, 1, dec_datetime2},
    [BL_T_TIME2] = {1, 1, dec_time2},
    [BL_T_VECTOR] = {1, 1, dec_blob},
    [BL_T_JSON] = {1, 1, dec_json},
    [BL_T_NEWDECIMAL] = {1, 2, dec_newdecimal},
    [BL_T_ENUM] = {1, 2, dec_string},
    [BL_T_SET] = {1, 2, dec_string},
    [BL_T_TINY_BLOB] = {1, 1, dec_blob},
    [BL_T_MEDIUM_BLOB] = {1, 1, dec_blob},
    [BL_T_LONG_BLOB] = {1, 1, dec_blob},
    [BL_T_BLOB] = {1, 1, dec_blob},
    [BL_T_VAR_STRING] = {1, 2, dec_varchar},
    [BL_T_STRING] = {1, 2, dec_string},
    [BL_T_GEOMETRY] = {1, 1, dec_blob},
};

int
bl_meta_len(uint8_t type)
{
    return (types[type].known ? types[type].meta_len : -1);
}

uint16_t
bl_meta_read(uint8_t type, const unsigned char *p)
{
    switch (bl_meta_len(type)) {
    case 1:
        return (p[0]);
    case 2:
        return ((uint16_t)(p[0] | p[1] << 8));
    default:
        return (0);
    }
}

int
bl_value(const struct bl_coldef *c, const unsigned char *p, size_t avail, size_t *used,
         enum bl_vstate *state, struct bl_out *out)
{
    size_t mark = out != NULL ? out->len : 0;
    struct dec d;
    int rv = -1;

    AN(c);
    AN(used);
    AN(state);
    AN(p != NULL || avail == 0);
    memset(&d, 0, sizeof d);
    d.c = c;
    d.p = p;
    d.avail = avail;
    d.state = BL_VALUE;
    d.s.out = out;
    d.s.limit = SIZE_MAX;
    if (types[c->type].decode != NULL)
        rv = types[c->type].decode(&d);
    if ((rv != 0 || d.state != BL_VALUE) && out != NULL && out->len != mark) {
        out->len = mark;
        out->buf[mark] = '\0';
    }
    if (rv != 0)
        return (-1);
    AN(d.used <= avail);
    *used = d.used;
    *state = d.state;
    return (0);
}
