/* Worker pool: one mutex-protected FIFO, whose front holds the jobs queued
 * first (in their own order), and N threads. Jobs are expected to poll their
 * own cancellation, so the pool itself never kills work. */
#include "core/workers.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/clock.h"

struct job {
    struct job *next;
    job_fn fn;
    void *arg;
    int64_t queued_at;
};

struct workers {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail;
    struct job *first_last; /* the last of the jobs queued first (a prefix), or NULL */
    int queued, max_queued;
    int64_t wait_us; /* moving average of the wait of jobs started */
    int stopping;
    int nthreads;
    pthread_t *threads;
};

struct workers_params workers_default_params(void)
{
    return (struct workers_params){.threads = 2, .max_queued = 4096};
}

static void *worker_main(void *p)
{
    workers *w = p;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        struct job *j = w->head;
        if (!j)
            break;
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        if (j == w->first_last)
            w->first_last = NULL;
        w->queued--;
        /* An average over roughly the last 16 jobs. */
        w->wait_us += (clock_now_us() - j->queued_at - w->wait_us) / 16;
        pthread_mutex_unlock(&w->lock);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

workers *workers_new(const struct workers_params *params)
{
    struct workers_params p = params ? *params : workers_default_params();
    if (p.threads < 0)
        p.threads = 1;
    workers *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->threads = calloc((size_t)p.threads + 1, sizeof *w->threads);
    if (!w->threads) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->max_queued = p.max_queued;
    for (int i = 0; i < p.threads; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w))
            break;
        w->nthreads++;
    }
    if (!w->nthreads && p.threads) {
        workers_free(w);
        return NULL;
    }
    return w;
}

int workers_run_pending(workers *w)
{
    int ran = 0;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        struct job *j = w->nthreads ? NULL : w->head;
        if (j) {
            w->head = j->next;
            if (!w->head)
                w->tail = NULL;
            if (j == w->first_last)
                w->first_last = NULL;
            w->queued--;
        }
        pthread_mutex_unlock(&w->lock);
        if (!j)
            return ran;
        j->fn(j->arg);
        free(j);
        ran++;
    }
}

static int submit(workers *w, job_fn fn, void *arg, int first)
{
    struct job *j = malloc(sizeof *j);
    if (!j)
        return -1;
    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    j->queued_at = clock_now_us();
    pthread_mutex_lock(&w->lock);
    if (w->stopping || w->queued >= w->max_queued) {
        pthread_mutex_unlock(&w->lock);
        free(j);
        return -1;
    }
    struct job **at = first ? (w->first_last ? &w->first_last->next : &w->head) : (w->tail ? &w->tail->next : &w->head);
    j->next = *at;
    *at = j;
    if (!j->next)
        w->tail = j;
    if (first)
        w->first_last = j;
    w->queued++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

struct workers_load workers_get_load(workers *w)
{
    pthread_mutex_lock(&w->lock);
    struct workers_load l = {w->queued, w->wait_us};
    pthread_mutex_unlock(&w->lock);
    return l;
}

void workers_free(workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    if (!w->nthreads) { /* a synchronous pool: its jobs still run, here */
        w->stopping = 0;
        workers_run_pending(w);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w->threads);
    free(w);
}

int workers_submit(workers *w, job_fn fn, void *arg) { return submit(w, fn, arg, 0); }

int workers_submit_first(workers *w, job_fn fn, void *arg) { return submit(w, fn, arg, 1); }
