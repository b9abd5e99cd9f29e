/*
 * binlog_fetch.h over MariaDB Connector/C 3.3's mariadb_rpl_* API.  Only the
 * framing is taken from the library: its row extraction and ROTATE parsing
 * are broken (see ../shared notes), so events go out raw to binlog.c.
 */
/* mariadb_rpl.h needs mysql.h (and size_t) first. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <mysql.h>
#include <mariadb_rpl.h>

#include "../broker/lib/obj.h"
#include "binlog_fetch.h"

/* <mariadb_rpl.h> defines FL_ALLOW_PARALLEL with a trailing ';'; we need neither. */
#define BL_FETCH_SEND_ANNOTATE 2

struct bl_fetch {
    unsigned magic;
#define BL_FETCH_MAGIC 0x6fe7c401
    MYSQL *m;
    MARIADB_RPL *rpl;
    MARIADB_RPL_EVENT *ev;
};

static int
fail(MYSQL *m, unsigned *errnum, char *err, size_t errlen)
{
    *errnum = mysql_errno(m);
    snprintf(err, errlen, "%s", mysql_error(m));
    return (-1);
}

/* Session variables the server reads when the dump starts (order matters). */
static int
session_setup(MYSQL *m, const struct bl_fetch_params *p, unsigned *errnum, char *err, size_t errlen)
{
    char q[640];

    if (mysql_query(m, "SET @master_binlog_checksum = @@global.binlog_checksum") != 0 ||
        mysql_query(m, "SET @mariadb_slave_capability = 4") != 0)
        return (fail(m, errnum, err, errlen));
    snprintf(q, sizeof q, "SET @master_heartbeat_period = %llu",
             (unsigned long long)p->heartbeat_ms * 1000000ULL);
    if (mysql_query(m, q) != 0)
        return (fail(m, errnum, err, errlen));
    if (p->gtid != NULL) {
        char esc[2 * 256 + 1];
        if (strlen(p->gtid) > 256)
            return (-1);
        mysql_real_escape_string(m, esc, p->gtid, (unsigned long)strlen(p->gtid));
        snprintf(q, sizeof q, "SET @slave_connect_state = '%s'", esc);
        /*
         * As a MariaDB replica connecting with master_use_gtid: not strict
         * (a promoted replica may hold extra GTIDs of its own), duplicates
         * not ignored (one stream, one state).
         */
        if (mysql_query(m, q) != 0 || mysql_query(m, "SET @slave_gtid_strict_mode = 0") != 0 ||
            mysql_query(m, "SET @slave_gtid_ignore_duplicates = 0") != 0)
            return (fail(m, errnum, err, errlen));
    }
    return (0);
}

int
bl_fetch_open(struct bl_fetch **fp, MYSQL *m, const struct bl_fetch_params *p, unsigned *errnum,
              char *err, size_t errlen)
{
    struct bl_fetch *f;
    const char *file = p->gtid != NULL ? "" : p->file;

    *fp = NULL;
    *errnum = 0;
    if (session_setup(m, p, errnum, err, errlen) != 0)
        return (-1);
    ALLOC_OBJ(f, BL_FETCH_MAGIC);
    f->m = m;
    f->rpl = mariadb_rpl_init(m);
    if (f->rpl == NULL ||
        mariadb_rpl_optionsv(f->rpl, MARIADB_RPL_SERVER_ID, (uint32_t)p->server_id) != 0 ||
        mariadb_rpl_optionsv(f->rpl, MARIADB_RPL_FILENAME, file, strlen(file)) != 0 ||
        mariadb_rpl_optionsv(f->rpl, MARIADB_RPL_START, (unsigned long)p->pos) != 0 ||
        mariadb_rpl_optionsv(f->rpl, MARIADB_RPL_FLAGS, BL_FETCH_SEND_ANNOTATE) != 0 ||
        mariadb_rpl_open(f->rpl) != 0) {
        fail(m, errnum, err, errlen);
        if (*errnum == 0 && f->rpl != NULL) {
            *errnum = mariadb_rpl_errno(f->rpl);
            snprintf(err, errlen, "%s", mariadb_rpl_error(f->rpl));
        }
        bl_fetch_close(&f);
        return (-1);
    }
    *fp = f;
    return (0);
}

int
bl_fetch_next(struct bl_fetch *f, const unsigned char **ev, size_t *len, unsigned *errnum,
              char *err, size_t errlen)
{
    CHECK_OBJ_NOTNULL(f, BL_FETCH_MAGIC);
    if (f->ev != NULL)
        mariadb_free_rpl_event(f->ev);
    /* NULL: a fresh event each time (reusing one frees its memroot under us). */
    f->ev = mariadb_rpl_fetch(f->rpl, NULL);
    if (f->ev == NULL) {
        /* EOF and error look alike and errno is sticky: any NULL means "reconnect". */
        *errnum = mariadb_rpl_errno(f->rpl) ? mariadb_rpl_errno(f->rpl) : mysql_errno(f->m);
        snprintf(err, errlen, "%s",
                 mariadb_rpl_errno(f->rpl) ? mariadb_rpl_error(f->rpl) : mysql_error(f->m));
        if (err[0] == '\0')
            snprintf(err, errlen, "the binlog dump ended");
        return (-1);
    }
    if (f->ev->raw_data == NULL || f->ev->raw_data_size < f->ev->raw_data_ofs + 19 ||
        f->ev->event_length > f->ev->raw_data_size - f->ev->raw_data_ofs) {
        *errnum = 0;
        snprintf(err, errlen, "short event packet");
        return (-1);
    }
    *ev = f->ev->raw_data + f->ev->raw_data_ofs;
    *len = f->ev->event_length;
    return (1);
}

void
bl_fetch_close(struct bl_fetch **fp)
{
    struct bl_fetch *f = *fp;

    if (f == NULL)
        return;
    CHECK_OBJ_NOTNULL(f, BL_FETCH_MAGIC);
    if (f->ev != NULL)
        mariadb_free_rpl_event(f->ev);
    if (f->rpl != NULL)
        mariadb_rpl_close(f->rpl);
    FREE_OBJ(f);
    *fp = NULL;
}
