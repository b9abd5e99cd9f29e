/*
 * Doubling backoff: the delay before retry number `attempt` (1 is the first
 * retry) is initial_ms doubled attempt-1 times, capped at max_ms.  The
 * caller owns the attempt counter (reset it on success).  Pure, any thread.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 */
#ifndef TP_BACKOFF_H
#define TP_BACKOFF_H

long backoff_delay(long initial_ms, long max_ms, unsigned attempt);
/* d jittered over its upper half, [d/2, d]: spreads many retriers apart (random()). */
long backoff_jitter(long d);

#endif
