/* Monotonic time for latency marks and deadlines; wall time never enters the pipeline. */
#ifndef PARLEY_CLOCK_H
#define PARLEY_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline int64_t clock_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t clock_now_ms(void) { return clock_now_us() / 1000; }

#endif
