/*
 * The MySQL / MariaDB connector's private structs, shared by its three files
 * (the model is Varnish's cache_ban.h):
 *   conn_mysql.c  the loop side: configuration, start/confirm/stop, the queue
 *                 drain and the checkpoint file;
 *   my_reader.c   the reader thread: session, dump, decoder callbacks and the
 *                 queue's push side;
 *   my_server.c   the server queries and checks (settings, grants, server_id
 *                 clash, binlog listing, end position, check --online), run by
 *                 the reader thread or by `check --online` (main thread, no loop).
 *
 * Threads: the client library's dump fetch blocks, so one reader thread per
 * source owns the connection, the binlog decoder (binlog.c) and the
 * transaction being read (broker/txn.c, with a reference to the tagmap,
 * replaced at a transaction start after a reload).  It hands
 * each committed transaction to the loop through a bounded queue and
 * uv_async; when the queue is full the thread waits (back-pressure reaches
 * the server through TCP).  Nothing else crosses the thread boundary: the
 * queue, the stop flag and the socket to shut down are guarded by mu.
 *
 * struct my below marks each field's owner.
 */
#ifndef TP_MY_INT_H
#define TP_MY_INT_H

#include <mysql.h>
#include <stdint.h>
#include <uv.h>

#include "connector.h"

struct bl_decoder;
struct my_cascade;
struct tagmap;
struct txn;

#define QUEUE_CAP 256

struct my_item {
    struct src_pos pos;
    int64_t commit_us;
    struct txn *txn; /* NULL: a state change (streaming on/off) */
    int streaming;
    char identity[128]; /* the server it came from, for the checkpoint */
};

struct my_names {
    char *table;
    char **cols;
    size_t n;
};

struct my_host {
    char *host; /* a name or an address, IPv6 without brackets */
    unsigned port;
};

struct my {
    unsigned magic;
#define MY_MAGIC 0x4d79c0aa
    /* configuration (read-only once started) */
    struct my_host *hosts; /* "hosts", or the one "host"/"port" */
    size_t nhosts;
    char *name, *user, *password_env, *password_file, *socket, *ssl_ca, *ssl_mode;
    char *state_path;
    uint32_t server_id;
    char *start_file, *start_gtid;
    char **gap_tags; /* literal tags a gap purges too (e.g. one every page carries) */
    size_t ngap_tags;
    uint64_t start_pos;
    unsigned heartbeat_ms;
    size_t max_txn_tags;
    /*
     * Set by start() before the thread exists, never changed: the loop calls
     * its callbacks, the reader thread only core->mapping() (any-thread).
     */
    const struct conn_core *core;
    /* shared with the reader thread, under mu */
    uv_mutex_t mu;
    uv_cond_t cond;
    struct my_item queue[QUEUE_CAP];
    size_t qhead, qlen;
    int stop;
    MYSQL *live; /* the dump connection, to shut down on stop */
    /* reader thread only (my_reader.c, and my_server.c's queries it calls) */
    uv_thread_t thread;
    int thread_started;
    struct tagmap *map; /* a reference; the loop thread sets it only before the thread runs */
    char *password;
    struct txn *txn;
    struct bl_decoder *dec;
    int64_t txn_us;
    struct my_names *names;
    size_t nnames;
    MYSQL *meta;           /* a second connection for information_schema */
    size_t cur;            /* the host tried (and, once connected, read) now */
    int mariadb;           /* the connected server is MariaDB: GTID resume works */
    struct my_cascade *fk; /* foreign-key edges; read again when fk_stale */
    int fk_stale, fk_failing;
    int in_ddl;         /* between cb_ddl and the end of that statement's group */
    char identity[128]; /* the server's server_uuid or server_id */
    char ckpt_identity[128];
    int refused; /* this session's server cannot serve our position (1236) */
    int lost;    /* no host could in a full pass: the next session is a gap */
    char lost_why[640];
    int misconfigured; /* the last session ended on a configuration error: keep backing off */
    /* loop thread only (conn_mysql.c) */
    uv_loop_t *loop;
    uv_async_t async;
    uv_timer_t flush;
    struct src_pos confirmed;
    char loop_identity[128];
    int dirty;
    void (*stopped)(void *);
    void *stopped_arg;
};

/* conn_mysql.c */
int my_state_write(const struct my *, const struct src_pos *, const char *identity);
int my_state_read(struct my *, struct src_pos *);
int my_load_password(struct my *);

/* my_reader.c (reader thread) */
void my_reader_main(void *arg);
void my_names_drop(struct my *, const char *table);

/* my_server.c: the reader thread's, or check --online's, connection */
void my_host_name(const struct my_host *, char *buf, size_t len);
MYSQL *my_connect(struct my *, char *err, size_t errlen);
char *my_query_value(MYSQL *, const char *q, int col);
int my_setting_is(MYSQL *, const char *var, const char *want, char **got);
int my_check_server(struct my *, MYSQL *, int *nwarn);
int my_binlog_listed(MYSQL *, const char *file, char *oldest, size_t len);
int my_end_position(struct my *, MYSQL *, struct src_pos *);
int my_check_online(void *priv, const struct tagmap *, const struct conn_env *);

#endif
