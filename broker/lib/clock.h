/*
 * Clocks of the process: monotonic for durations, wall for commit ages and
 * protocol timestamps.  Pure functions, any thread.  Loop-driven timing uses
 * uv_now() instead (the loop's cached time), not these.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 */
#ifndef TP_CLOCK_H
#define TP_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ns(void); /* CLOCK_MONOTONIC in ns */
uint64_t clock_mono_us(void); /* CLOCK_MONOTONIC in µs (systemd's MONOTONIC_USEC) */
uint64_t clock_mono_ms(void); /* CLOCK_MONOTONIC in ms */
int64_t clock_wall_us(void);  /* CLOCK_REALTIME in µs since the Unix epoch */

#endif
