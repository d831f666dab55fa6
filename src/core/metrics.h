/* Process-wide counters and latency histograms for GET /metrics. Updated
 * from the network thread and workers with atomics; read without locks. */
#ifndef PARLEY_METRICS_H
#define PARLEY_METRICS_H
#include <stddef.h>
#include <stdint.h>

enum metric_latency {
    LAT_FIRST_AUDIO, /* end of the user's speech (or a typed turn) → first reply audio */
    LAT_FIRST_TOKEN, /* → first LLM token */
    LAT_TURN,        /* → the reply fully sent */
    LAT_BARGE_IN,    /* speech onset over the assistant → agent_interrupted */
    LAT_ASR_FINAL,   /* the endpoint → the final transcript (recognition's lag) */
    LAT_COUNT
};

typedef struct metrics metrics;
metrics *metrics_new(void);
void metrics_free(metrics *m);

/* input: "speech" | "text" */
void metrics_turn(metrics *m, const char *input, int interrupted);
void metrics_error(metrics *m, const char *code);
void metrics_tool_call(metrics *m, int is_error);
/* A speculative start (an LLM request sent before the endpoint): shown, or
 * dropped because the user spoke on (wasted). */
void metrics_speculation(metrics *m, int shown);
void metrics_observe_ms(metrics *m, enum metric_latency which, double ms);
/* A moving average of the last few observations, or 0 when none came within
 * max_age_us (what the server feels now, not since it started). */
double metrics_recent_ms(metrics *m, enum metric_latency which, long long max_age_us);
void metrics_http_request(metrics *m, int status);

/* The Prometheus text exposition; gauges are given by the caller. Returns a
 * malloc'd string. */
char *metrics_render(metrics *m, int active_sessions, int ws_sessions);

#endif
