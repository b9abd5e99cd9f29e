/* Doubling backoff with optional jitter (backoff.h): the one formula every retry loop uses. */
#include <stdlib.h>

#include "backoff.h"

long
backoff_delay(long initial_ms, long max_ms, unsigned attempt)
{
    long d = initial_ms;
    unsigned i;

    for (i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    return (d);
}

long
backoff_jitter(long d)
{
    return (d / 2 + (long)(random() % (d / 2 + 1)));
}
