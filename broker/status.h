/*
 * The status server: a small HTTP/1.1 server on the loop (README
 * "Operations").  GET /metrics (Prometheus text), /healthz (the loop turns),
 * /readyz (every source streams, no node failing), /v1/wait?source=&position=
 * &timeout_ms= (200 once the position is purged everywhere, 408 on timeout).
 * One request per connection; anything else is 404/405.
 *
 * Borrows the pipeline, which must outlive it; owns its handles.
 */
#ifndef TP_STATUS_H
#define TP_STATUS_H

#include <uv.h>

struct pipeline;
struct status;

/* listen: "ADDR:PORT" (IPv6 as "[::1]:9187"); 0, or -1 with the reason logged. */
int status_start(struct status **, uv_loop_t *, const char *listen, struct pipeline *);
/* The port actually bound (listen with port 0 picks one). */
int status_port(const struct status *);
/* Close the listener and every connection; done(arg) once all handles are closed. */
void status_close(struct status *, void (*done)(void *), void *arg);

#endif
