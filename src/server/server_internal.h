/* Server internals shared by server.c (the loop, WebSockets) and http_api.c
 * (the HTTP API). Not for other modules. */
#ifndef PARLEY_SERVER_INTERNAL_H
#define PARLEY_SERVER_INTERNAL_H
#include <libwebsockets.h>
#include <signal.h>
#include <stdatomic.h>
#include <cjson/cJSON.h>

#include "auth/auth.h"
#include "core/metrics.h"
#include "memory/memory.h"
#include "protocol/outq.h"
#include "realtime/realtime.h"
#include "server/server.h"
#include "session/session.h"
#include "tools/mcp.h"
#include "tools/tools_builtin.h"
#include "vad/vad.h"

struct http_req;
struct wy_conn;

/* server.c: the speech detector vad.engine asks for, opened once to prove it
 * works. */
struct vad_choice {
    const struct vad_engine *engine;
    char model[700]; /* Silero's weights (whether or not Silero was chosen) */
    char why[800];   /* under auto: why not Silero */
};

enum close_state { OPEN, CLOSE_AFTER_FLUSH, DROPPED /* not reading: nothing more is queued */ };

struct conn {
    struct lws *wsi;
    server *srv;
    session *sess;
    realtime *rt; /* /v1/realtime: the adapter the session speaks through */
    outq *q;
    unsigned char *rx;
    size_t rx_len, rx_cap, rx_max; /* rx holds rx_cap bytes, grown up to rx_max */
    int rx_oversized;
    enum close_state close_requested;
    lws_sorted_usec_list_t timer;
    char peer[64];                    /* the client's address, for the auth brake */
    char bearer[AUTH_TOKEN_MAX + 2];  /* the upgrade's Authorization: Bearer token, if any */
    int bearer_given;                 /* an Authorization header came (valid or not) */
    struct conn *next;
    struct conn *id_next; /* in the server's by_id bucket */
};

#define CONN_BUCKETS 1024

/* load.c: what the loop samples. */
#define ADMISSION_RATE_MAX 64 /* limits.max_new_sessions_per_s's ceiling */
struct load_state {
    int cores;          /* online when the server started */
    int64_t at, cpu_us; /* the last sample */
    double cpu;         /* smoothed share of all cores, 0..1 */
    double per_session; /* smoothed CPU share per started session */
    int64_t admitted_at[ADMISSION_RATE_MAX]; /* the last admissions, a ring: their rate */
    int admitted_next;
};

struct server_load {
    int sessions, talking, asr_waiting, queued;
    double queue_wait_ms, cpu;
    double asr_lag_ms; /* recent endpoint → final transcript */
    int accepting;
    char why[200]; /* when not accepting */
};

struct server {
    const struct parley_config *cfg;
    struct lws_context *ctx;
    struct session_env env;
    struct conn *conns;
    int nconns;
    uint64_t next_session_id;
    volatile sig_atomic_t stop_requested;
    int stopping;
    int64_t stop_deadline;
    struct memory_params mem;
    struct vad_choice vad;
    builtins *builtin_tools;
    mcp_client *mcp[CONFIG_MAX_MCP];
    struct lws_http_mount mount, api_mounts[3];
    struct lws_protocols protocols[3];
    struct http_req *http_reqs; /* HTTP requests in progress */
    struct wy_conn *wy_conns;   /* Wyoming connections (wyoming.c) */
    int nwy_conns;
    struct lws_protocols wy_protocols[2];
    int nhttp_sessions;
    metrics *metrics;
    struct audio_cache *audio; /* replies of /v1/voice/upload, for GET */
    atomic_int llm_changed;    /* the LLM watch has news for the sessions */
    lws_sorted_usec_list_t load_timer;
    struct load_state load;
    struct conn *by_id[CONN_BUCKETS]; /* sessions by id, for mail */
    /* auth_gate.c: who may use parley */
    int auth_on;
    auth_users *users;     /* a copy of the store's, re-read every second */
    auth_limiter *limiter; /* failed sign-ins by address */
    lws_sorted_usec_list_t users_timer;
    atomic_int users_reading;
};

/* auth_gate.c */
/* Decides auth.mode, reads the users, checks the TLS files; -1 with err. */
int server_auth_start(server *srv, char *err, size_t errlen);
void server_auth_stop(server *srv); /* after the workers are gone */
/* The start-up lines: what is exposed, and to whom. */
void server_auth_log(server *srv);
/* An HTTP request's user, from its Authorization header. */
enum session_auth server_auth_request(server *srv, struct lws *wsi, struct session_user *user, char *why,
                                      size_t whylen, int *retry_after_s);
/* session_env hooks (ud: the server; io_ud: the conn). */
enum session_auth server_authenticate(void *ud, void *io_ud, const char *token, struct session_user *user, char *why,
                                      size_t whylen);
int server_authorized(void *ud, const struct session_user *user);
/* At a WebSocket's upgrade: keep what auth needs (headers go after it). */
void server_auth_capture(struct conn *c);

/* load.c */
void server_load_start(server *srv);
void server_load_stop(server *srv);
void server_load_get(server *srv, struct server_load *out);
/* The session_env admit hook for conversations (ud: the server). */
int server_admit(void *ud, char *why, size_t whylen, int *retry_after_ms);
/* The same for one HTTP turn: no rate limit on arrivals. */
int server_admit_turn(server *srv, char *why, size_t whylen, int *retry_after_ms);
/* /health's "load" object. */
cJSON *server_load_json(server *srv);


int server_vad_choice(const struct parley_config *cfg, struct vad_choice *out, char *err, size_t errlen);
/* doctor.c: logs the engines in use and what would make each better. */
void server_log_engines(const struct parley_config *cfg, const struct asr_choice *asr, const struct vad_choice *vc);

/* server.c: 1 unless the request names a host parley does not answer to
 * (DNS rebinding; allowed_hosts). */
int server_host_allowed(struct lws *wsi, const struct parley_config *cfg);
/* server.c: 1 unless a browser page from a foreign origin sent the request. */
int server_origin_allowed(struct lws *wsi, const struct parley_config *cfg);

/* http_api.c */
/* The lws callback of the "parley-http" protocol (mounted at /v1, /health,
 * /metrics). */
int http_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
/* Mail for a request (its headless session, or a finished job). Returns 0 if
 * some request took it. */
int http_api_deliver(server *srv, struct session_mail *m);
struct audio_cache *audio_cache_new(void);
void audio_cache_free(struct audio_cache *c);
/* wyoming.c: the Wyoming server, when wyoming.listen is set (0: started or
 * off; -1 with err). */
#define WY_MAX_CONNS 64
int wyoming_start(server *srv, char *err, size_t errlen);
/* Mail for a Wyoming connection or its session. Returns 0 if one took it. */
int wyoming_deliver(server *srv, struct session_mail *m);

/* Per-request data lws allocates for the protocol. */
struct http_pss {
    struct http_req *req;
};

#endif
