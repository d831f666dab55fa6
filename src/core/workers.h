/* A fixed pool of threads for CPU-heavy work (ASR decoding, synthesis), so the
 * network thread never blocks. Jobs report back through a mailbox, not here. */
#ifndef PARLEY_WORKERS_H
#define PARLEY_WORKERS_H
#include <stdint.h>

typedef struct workers workers;
typedef void (*job_fn)(void *arg);

struct workers_params {
    /* Worker threads. 0: a synchronous pool (for deterministic tests): no
     * thread, jobs wait until workers_run_pending runs them. */
    int threads;
    int max_queued;  /* jobs waiting beyond this are refused */
};
struct workers_params workers_default_params(void);

workers *workers_new(const struct workers_params *params);
/* Queues fn(arg). Returns -1 when the queue is full or the pool is stopping;
 * the caller still owns arg then. */
int workers_submit(workers *w, job_fn fn, void *arg);
/* The same, ahead of every job queued by workers_submit (after those queued
 * first before it): short work someone waits for, such as the synthesis of
 * a reply's phrase, does not queue behind recognition catching up. */
int workers_submit_first(workers *w, job_fn fn, void *arg);
/* How loaded the pool is: jobs waiting for a thread now, and how long the
 * jobs started lately waited (a moving average, in microseconds). */
struct workers_load {
    int queued;
    int64_t wait_us;
};
struct workers_load workers_get_load(workers *w);
/* A synchronous pool: runs the jobs queued now (and those they queue), in
 * order, on the caller's thread; returns how many ran. */
int workers_run_pending(workers *w);
/* Runs every queued job to completion, then joins the threads. */
void workers_free(workers *w);

#endif
