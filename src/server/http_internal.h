/* HTTP API internals shared by http_api.c (routing, responses, the lws
 * side), http_jobs.c (work on the I/O pools) and http_turn.c (turns through
 * a headless session, and the reply audio they leave). Not for other
 * modules. */
#ifndef PARLEY_HTTP_INTERNAL_H
#define PARLEY_HTTP_INTERNAL_H
#include "server/server_internal.h"

#define CHAT_BODY_MAX (64 * 1024)
#define UPLOAD_BODY_MAX (16 * 1024 * 1024) /* ~8 min of 16 kHz PCM */
#define UPLOAD_MAX_S 300                   /* decoded in one go: a bound on its CPU */
#define SSE_BUFFER_MAX (1 << 20)
#define REPLY_AUDIO_MAX_S 600
#define AUDIO_CACHE_SLOTS 16
#define AUDIO_CACHE_BYTES (64 << 20)
#define LIST_LIMIT_MAX 200
#define HEALTH_LLM_TIMEOUT_MS 2000

enum route { R_NONE, R_CHAT, R_UPLOAD, R_AUDIO, R_CONVERSATIONS, R_CONVERSATION, R_MEMORIES, R_MEMORY, R_HEALTH, R_READY,
             R_METRICS };

struct http_req {
    struct lws *wsi;
    server *srv;
    uint64_t id;
    enum route route;
    int method_ok;
    const char *method, *allow; /* the request's method; the route's */
    int close_after;            /* close once answered (an unread body) */
    char cors_origin[256];      /* an allowed foreign origin: named in the answer */
    struct session_user user; /* who the request acts for */
    int authed;               /* user came from a valid token (or auth is off) */
    char arg[128]; /* the {id} of /v1/conversations/{id}, /v1/memories/{id}, /v1/audio/{id} */
    int sse;

    unsigned char *body;
    size_t body_len, body_max;
    int body_too_large;
    int upload_rate; /* raw PCM uploads: ?sample_rate= */

    /* The response: status, type, and bytes not yet written. */
    int status;
    char ctype[64];
    char *out;
    size_t out_len, out_off;
    int headers_sent, complete, streaming;
    int retry_after_s; /* a 503 BUSY says when to come back */

    /* A turn through a headless session. */
    session *sess;
    lws_sorted_usec_list_t timer;
    int ready, text_sent;
    char *text, *transcript;
    char conversation_id[64];
    cJSON *answer; /* text, tool_calls, errors, metrics: the JSON reply */
    struct pcm_buf audio;
    int not_found;
    struct http_req *next;
};

/* ---- work on the I/O pools (http_jobs.c) ---- */

/* One request's work off the network thread; its answer comes back as mail. */
struct http_job {
    server *srv;
    int64_t user_id;
    uint64_t req_id;
    enum route route;
    char arg[128];
    char query[512];
    int limit, offset;
    unsigned char *body;
    size_t body_len;
    int rate;
};

/* Takes j (calloc'd by the caller, with route-specific fields set): runs it
 * on the I/O pool (conversation reads on the writer's queue, behind turns
 * still being stored), or answers 503 BUSY when the pool refuses. */
void http_job_submit(struct http_req *r, struct http_job *j);

/* ---- responses (http_api.c) ---- */
void http_respond_raw(struct http_req *r, int status, const char *ctype, const void *body, size_t len);
void http_respond_json(struct http_req *r, int status, cJSON *body);
/* {"error":{"code","message"}}: every 4xx and 5xx carries one. */
cJSON *http_error_json(const char *code, const char *message);
void http_respond_error(struct http_req *r, int status, const char *code, const char *message);
/* Appends to a streaming (SSE) response; -1 past the bound. */
int http_stream_append(struct http_req *r, const char *data, size_t len);

/* ---- turns (http_turn.c) ---- */
/* Starts the turn: a headless session, 'start' (resuming a conversation if
 * asked), and the text once 'ready' arrives. */
void http_start_turn(struct http_req *r, const char *conversation_id, int text_only);
/* Called from the writable callback: feed the text, or finish the answer. */
void http_advance_turn(struct http_req *r);
/* Keeps wav (taking it); the oldest entries go past the slot or byte bound. */
void audio_cache_put(struct audio_cache *c, int64_t user_id, const char *id, unsigned char *wav, size_t len);
/* 0 with the reply, or -1: no such id, or another user's. */
int audio_cache_get(struct audio_cache *c, int64_t user_id, const char *id, const unsigned char **wav, size_t *len);

#endif
