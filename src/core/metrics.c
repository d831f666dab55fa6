/* Fixed buckets (ms) and a small fixed table of error codes keep every update
 * an atomic add: no allocation, no lock, on the hot path. */
#include "core/metrics.h"

#include "core/clock.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_ms[] = {25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000};
#define NBUCKETS (sizeof bucket_ms / sizeof bucket_ms[0])

static const char *const latency_names[LAT_COUNT] = {
    "parley_first_audio_latency_ms", "parley_first_token_latency_ms", "parley_turn_duration_ms",
    "parley_barge_in_latency_ms", "parley_asr_final_lag_ms"};
static const char *const latency_help[LAT_COUNT] = {
    "End of user speech (or a typed turn) to the first reply audio sent",
    "End of user speech (or a typed turn) to the first LLM token", "End of user speech to the reply fully sent",
    "Speech onset over the assistant to agent_interrupted",
    "End of user speech (the endpoint) to the final transcript"};

static const char *const error_codes[] = {"ASR_TIMEOUT", "ASR_FAIL",           "LLM_TIMEOUT",
                                          "LLM_FAIL",    "TTS_FAIL",           "PROTOCOL_VIOLATION",
                                          "MAX_DURATION_EXCEEDED", "INTERNAL", "NOT_FOUND",
                                          "TOOL_FAIL",   "STORE_FAIL",         "BUSY", "UNAUTHORIZED",
                                          "RATE_LIMITED", "OTHER"};
#define NCODES (sizeof error_codes / sizeof error_codes[0])

struct histogram {
    atomic_ullong buckets[NBUCKETS + 1]; /* the last is +Inf */
    atomic_ullong count;
    atomic_ullong sum_us; /* µs, so the sum stays an integer */
    atomic_llong recent_us, recent_at_us;
};

struct metrics {
    atomic_ullong turns_speech, turns_text, turns_interrupted;
    atomic_ullong errors[NCODES];
    atomic_ullong tool_calls, tool_errors;
    atomic_ullong speculations_shown, speculations_wasted;
    atomic_ullong http_2xx, http_4xx, http_5xx;
    struct histogram lat[LAT_COUNT];
};

metrics *metrics_new(void) { return calloc(1, sizeof(metrics)); }
void metrics_free(metrics *m) { free(m); }

void metrics_turn(metrics *m, const char *input, int interrupted)
{
    if (!m)
        return;
    atomic_fetch_add(strcmp(input, "speech") ? &m->turns_text : &m->turns_speech, 1);
    if (interrupted)
        atomic_fetch_add(&m->turns_interrupted, 1);
}

void metrics_error(metrics *m, const char *code)
{
    if (!m)
        return;
    size_t i = 0;
    while (i < NCODES - 1 && strcmp(error_codes[i], code))
        i++;
    atomic_fetch_add(&m->errors[i], 1);
}

void metrics_tool_call(metrics *m, int is_error)
{
    if (!m)
        return;
    atomic_fetch_add(&m->tool_calls, 1);
    if (is_error)
        atomic_fetch_add(&m->tool_errors, 1);
}

void metrics_speculation(metrics *m, int shown)
{
    if (m)
        atomic_fetch_add(shown ? &m->speculations_shown : &m->speculations_wasted, 1);
}

void metrics_http_request(metrics *m, int status)
{
    if (!m)
        return;
    atomic_fetch_add(status >= 500 ? &m->http_5xx : status >= 400 ? &m->http_4xx : &m->http_2xx, 1);
}

void metrics_observe_ms(metrics *m, enum metric_latency which, double ms)
{
    if (!m || ms < 0)
        return;
    struct histogram *h = &m->lat[which];
    size_t b = 0;
    while (b < NBUCKETS && ms > bucket_ms[b])
        b++;
    atomic_fetch_add(&h->buckets[b], 1);
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_us, (unsigned long long)(ms * 1000));
    /* Racing writers may lose an update: an average needs no more. */
    long long v = (long long)(ms * 1000), prev = atomic_load(&h->recent_us);
    atomic_store(&h->recent_us, prev && atomic_load(&h->recent_at_us) ? prev + (v - prev) / 4 : v);
    atomic_store(&h->recent_at_us, (long long)clock_now_us());
}

double metrics_recent_ms(metrics *m, enum metric_latency which, long long max_age_us)
{
    if (!m)
        return 0;
    struct histogram *h = &m->lat[which];
    long long at = atomic_load(&h->recent_at_us);
    if (!at || (long long)clock_now_us() - at > max_age_us)
        return 0;
    return (double)atomic_load(&h->recent_us) / 1000.0;
}

struct out {
    char *buf;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        char *grown = realloc(o->buf, o->cap * 2 + (size_t)n);
        if (!grown)
            return;
        o->buf = grown;
        o->cap = o->cap * 2 + (size_t)n;
    }
}

char *metrics_render(metrics *m, int active_sessions, int ws_sessions)
{
    struct out o = {malloc(4096), 0, 4096};
    if (!o.buf)
        return NULL;
    o.buf[0] = 0;
    put(&o, "# HELP parley_turns_total Turns answered, by input\n# TYPE parley_turns_total counter\n");
    put(&o, "parley_turns_total{input=\"speech\"} %llu\n", (unsigned long long)atomic_load(&m->turns_speech));
    put(&o, "parley_turns_total{input=\"text\"} %llu\n", (unsigned long long)atomic_load(&m->turns_text));
    put(&o, "# HELP parley_turns_interrupted_total Replies cut short by a barge-in or cancel\n"
            "# TYPE parley_turns_interrupted_total counter\nparley_turns_interrupted_total %llu\n",
        (unsigned long long)atomic_load(&m->turns_interrupted));
    put(&o, "# HELP parley_errors_total Structured errors sent to clients, by code\n"
            "# TYPE parley_errors_total counter\n");
    for (size_t i = 0; i < NCODES; i++)
        put(&o, "parley_errors_total{code=\"%s\"} %llu\n", error_codes[i], (unsigned long long)atomic_load(&m->errors[i]));
    put(&o, "# HELP parley_tool_calls_total Tool calls run, and how many failed\n"
            "# TYPE parley_tool_calls_total counter\nparley_tool_calls_total %llu\n"
            "# TYPE parley_tool_errors_total counter\nparley_tool_errors_total %llu\n",
        (unsigned long long)atomic_load(&m->tool_calls), (unsigned long long)atomic_load(&m->tool_errors));
    put(&o, "# HELP parley_speculative_starts_total LLM requests sent before the endpoint: shown, or wasted (the user spoke on)\n"
            "# TYPE parley_speculative_starts_total counter\n"
            "parley_speculative_starts_total{outcome=\"shown\"} %llu\n"
            "parley_speculative_starts_total{outcome=\"wasted\"} %llu\n",
        (unsigned long long)atomic_load(&m->speculations_shown),
        (unsigned long long)atomic_load(&m->speculations_wasted));
    put(&o, "# HELP parley_http_requests_total HTTP API requests by status class\n"
            "# TYPE parley_http_requests_total counter\n"
            "parley_http_requests_total{class=\"2xx\"} %llu\nparley_http_requests_total{class=\"4xx\"} %llu\n"
            "parley_http_requests_total{class=\"5xx\"} %llu\n",
        (unsigned long long)atomic_load(&m->http_2xx), (unsigned long long)atomic_load(&m->http_4xx),
        (unsigned long long)atomic_load(&m->http_5xx));
    put(&o, "# HELP parley_active_sessions Sessions open now (WebSocket and HTTP)\n"
            "# TYPE parley_active_sessions gauge\nparley_active_sessions %d\n"
            "# HELP parley_websocket_sessions WebSocket sessions open now\n"
            "# TYPE parley_websocket_sessions gauge\nparley_websocket_sessions %d\n",
        active_sessions, ws_sessions);
    for (int l = 0; l < LAT_COUNT; l++) {
        struct histogram *h = &m->lat[l];
        put(&o, "# HELP %s %s\n# TYPE %s histogram\n", latency_names[l], latency_help[l], latency_names[l]);
        unsigned long long cum = 0;
        for (size_t b = 0; b <= NBUCKETS; b++) {
            cum += atomic_load(&h->buckets[b]);
            if (b < NBUCKETS)
                put(&o, "%s_bucket{le=\"%g\"} %llu\n", latency_names[l], bucket_ms[b], cum);
            else
                put(&o, "%s_bucket{le=\"+Inf\"} %llu\n", latency_names[l], cum);
        }
        put(&o, "%s_sum %.3f\n%s_count %llu\n", latency_names[l], (double)atomic_load(&h->sum_us) / 1000.0,
            latency_names[l], (unsigned long long)atomic_load(&h->count));
    }
    return o.buf;
}
