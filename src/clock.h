/* The one clock: monotonic seconds, for timing epochs and reports. */
#ifndef CLMLP_CLOCK_H
#define CLMLP_CLOCK_H

#include <time.h>

static inline double clmlp_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#endif
