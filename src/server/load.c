/* How loaded the server is, sampled on the loop twice a second: sessions,
 * talkers, utterances waiting for a decoder, how long work waits for a worker
 * thread, and the process's share of the CPU. From it, admission: a new
 * session is refused with BUSY when taking it would slow the turns already
 * running, never cut one of them off. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "server/server_internal.h"

#define SAMPLE_US 500000
#define MEASURED_FROM_SESSIONS 4 /* the load rules apply once this many are open */

static int64_t process_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sample(lws_sorted_usec_list_t *sul)
{
    server *srv = lws_container_of(sul, server, load_timer);
    struct load_state *l = &srv->load;
    int64_t now = clock_now_us(), cpu = process_cpu_us();
    if (l->at) {
        double share = (double)(cpu - l->cpu_us) / ((double)(now - l->at) * (double)l->cores);
        /* Smoothed over about two seconds: a burst is not a trend. */
        l->cpu = l->cpu ? l->cpu + (share - l->cpu) / 4 : share;
        /* What a session costs, on average over talking and listening:
         * smoothed over ~10 s, since a session's demand comes in turns. */
        struct server_load now_load;
        server_load_get(srv, &now_load);
        if (now_load.sessions > 0) {
            double each = share / now_load.sessions;
            l->per_session = l->per_session ? l->per_session + (each - l->per_session) / 20 : each;
        }
    }
    l->at = now;
    l->cpu_us = cpu;
    lws_sul_schedule(srv->ctx, 0, &srv->load_timer, sample, SAMPLE_US);
}

void server_load_start(server *srv)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    srv->load.cores = cores > 0 ? (int)cores : 1;
    lws_sul_schedule(srv->ctx, 0, &srv->load_timer, sample, SAMPLE_US);
}

void server_load_stop(server *srv)
{
    lws_sul_cancel(&srv->load_timer);
}

static int admissions_last_second(server *srv)
{
    int n = 0;
    int64_t since = clock_now_us() - 1000000;
    for (int i = 0; i < ADMISSION_RATE_MAX; i++)
        n += srv->load.admitted_at[i] > since;
    return n;
}

/* limits.max_new_sessions_per_s, 0 meaning one a second per core: what
 * the recognition of a burst of first utterances can absorb. */
static int admission_rate(const server *srv)
{
    int set = srv->cfg->limits_max_new_sessions_per_s, rate = set > 0 ? set : srv->load.cores;
    return rate < ADMISSION_RATE_MAX ? rate : ADMISSION_RATE_MAX;
}

void server_load_get(server *srv, struct server_load *out)
{
    const struct parley_config *cfg = srv->cfg;
    memset(out, 0, sizeof *out);
    for (struct conn *c = srv->conns; c; c = c->next)
        if (c->sess && session_started(c->sess)) {
            out->sessions++;
            out->talking += session_active(c->sess);
        }
    out->sessions += srv->nhttp_sessions;
    out->asr_waiting = asr_model_waiting(srv->env.asr);
    struct workers_load wl = workers_get_load(srv->env.pool);
    out->queued = wl.queued;
    out->queue_wait_ms = wl.queued ? (double)wl.wait_us / 1000.0 : 0;
    out->cpu = srv->load.cpu;
    out->asr_lag_ms = metrics_recent_ms(srv->metrics, LAT_ASR_FINAL, 10 * 1000000LL);
    /* Each rule keeps the turns already running whole. The measured ones
     * judge sessions against each other: with a few open, a slow machine or
     * a heavy engine is no reason to turn the next one away. */
    int measured = !strcmp(cfg->limits_admission, "measured") && out->sessions >= MEASURED_FROM_SESSIONS;
    if (srv->stopping)
        snprintf(out->why, sizeof out->why, "the server is shutting down");
    else if (out->sessions >= cfg->max_sessions)
        snprintf(out->why, sizeof out->why, "%d sessions are open, the most this server takes (max_sessions)",
                 out->sessions);
    else if (!measured)
        ;
    else if (out->asr_lag_ms > cfg->limits_max_asr_lag_ms)
        snprintf(out->why, sizeof out->why,
                 "final transcripts come %.0f ms after speech ends (limits.max_asr_lag_ms %d): the server is at capacity",
                 out->asr_lag_ms, cfg->limits_max_asr_lag_ms);
    else if (out->queue_wait_ms > cfg->limits_max_queue_wait_ms)
        snprintf(out->why, sizeof out->why,
                 "speech work waits %.0f ms for a thread (limits.max_queue_wait_ms %d): the server is at capacity",
                 out->queue_wait_ms, cfg->limits_max_queue_wait_ms);
    else if (out->cpu * 100 > cfg->limits_max_cpu_percent)
        snprintf(out->why, sizeof out->why, "the CPU is %.0f%% busy (limits.max_cpu_percent %d): the server is at capacity",
                 out->cpu * 100, cfg->limits_max_cpu_percent);
    else if (srv->load.per_session * (out->sessions + 1) * 100 > cfg->limits_max_cpu_percent)
        snprintf(out->why, sizeof out->why,
                 "with one more session parley would use ~%.0f%% of the CPU (limits.max_cpu_percent %d): the server "
                 "is at capacity",
                 srv->load.per_session * (out->sessions + 1) * 100, cfg->limits_max_cpu_percent);

    out->accepting = !out->why[0];
}

/* One admission decision; conversation: a WebSocket session, which also
 * counts against the arrival rate. */
static int admit(server *srv, int conversation, char *why, size_t whylen, int *retry_after_ms)
{
    struct server_load l;
    server_load_get(srv, &l);
    /* Conversations also come at a bounded rate once a few are open: what a
     * new one costs shows only once it talks, and people tend to talk as
     * soon as they connect, so a burst is let in a few at a time. */
    int rate = admission_rate(srv), conversations = l.sessions - srv->nhttp_sessions;
    if (conversation && l.accepting && conversations >= MEASURED_FROM_SESSIONS && admissions_last_second(srv) >= rate) {
        snprintf(l.why, sizeof l.why,
                 "%d conversations started in the last second (limits.max_new_sessions_per_s): their load is "
                 "not known yet",
                 rate);
        l.accepting = 0;
    }
    if (l.accepting) {
        if (conversation)
            srv->load.admitted_at[srv->load.admitted_next++ % ADMISSION_RATE_MAX] = clock_now_us();
        return 0;
    }
    snprintf(why, whylen, "%s; try again in %d ms", l.why, srv->cfg->limits_busy_retry_ms);
    *retry_after_ms = srv->cfg->limits_busy_retry_ms;
    return -1;
}

int server_admit(void *ud, char *why, size_t whylen, int *retry_after_ms)
{
    return admit(ud, 1, why, whylen, retry_after_ms);
}

int server_admit_turn(server *srv, char *why, size_t whylen, int *retry_after_ms)
{
    return admit(srv, 0, why, whylen, retry_after_ms);
}

cJSON *server_load_json(server *srv)
{
    struct server_load l;
    server_load_get(srv, &l);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "sessions", l.sessions);
    cJSON_AddNumberToObject(o, "talking", l.talking);
    cJSON_AddNumberToObject(o, "asr_waiting", l.asr_waiting);
    cJSON_AddNumberToObject(o, "worker_queue", l.queued);
    cJSON_AddNumberToObject(o, "queue_wait_ms", (double)(int)(l.queue_wait_ms * 10) / 10);
    cJSON_AddNumberToObject(o, "cpu", (double)(int)(l.cpu * 1000) / 1000);
    cJSON_AddNumberToObject(o, "asr_lag_ms", (double)(int)(l.asr_lag_ms * 10) / 10);
    cJSON_AddBoolToObject(o, "accepting", l.accepting);
    if (!l.accepting)
        cJSON_AddStringToObject(o, "why", l.why);
    return o;
}
