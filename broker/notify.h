/*
 * Service manager notifications: the sd_notify(3) datagram protocol, spoken
 * directly (one "KEY=value\n..." datagram to $NOTIFY_SOCKET per message), so
 * the daemon links no libsystemd.  Everything is a no-op when NOTIFY_SOCKET
 * was unset at notify_new().
 *
 * With WATCHDOG_USEC set (and WATCHDOG_PID unset or ours, as
 * sd_watchdog_enabled(3) reads them), a loop timer sends WATCHDOG=1 every half
 * period: a loop that blocks misses its pings and systemd restarts the daemon.
 * The same timer (at least every 5 s) refreshes STATUS= from the status
 * callback whenever its text changed.
 *
 * notify_new() reads and then unsets NOTIFY_SOCKET, WATCHDOG_USEC and
 * WATCHDOG_PID, so that no child inherits them.  The notifier owns its socket
 * and timer; notify_close() closes both (the loop must run once more), then
 * notify_destroy() frees it.  Loop thread only.
 */
#ifndef TP_NOTIFY_H
#define TP_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct notify;

/* Writes a short human status line into buf (NUL-terminated, at most len). */
typedef void notify_status_f(void *arg, char *buf, size_t len);

/*
 * 0, or -1 when NOTIFY_SOCKET is set but unusable (logged; the notifier is
 * then a no-op, never fatal).  status and arg are borrowed until
 * notify_close().
 */
int notify_new(struct notify **, uv_loop_t *, notify_status_f *status, void *arg);
/* 1 when messages go somewhere (NOTIFY_SOCKET was set and usable). */
int notify_enabled(const struct notify *);
/* The watchdog period in µs (WATCHDOG_USEC), 0 when there is none. */
uint64_t notify_watchdog_usec(const struct notify *);

/* READY=1 with the current STATUS=: start-up, or the end of a reload. */
void notify_ready(struct notify *);
/* RELOADING=1 (with MONOTONIC_USEC=, which Type=notify-reload requires). */
void notify_reloading(struct notify *);
/* STOPPING=1: a stop began. */
void notify_stopping(struct notify *);
/* STATUS= now, if its text changed since the last one sent. */
void notify_status(struct notify *);

/* Stop the timer and close the socket; nothing is sent afterwards. */
void notify_close(struct notify *);
/* After notify_close() and one more loop run; NULLs the pointer. */
void notify_destroy(struct notify **);

#endif
